"""status_to_wire must produce what JSON.stringify(JSON.parse(x)) produces in Node."""

from __future__ import annotations

import json
import subprocess
from decimal import Decimal

import pytest
from transflow_runtime.serialize import js_dumps, js_number, public_view, status_to_wire

from tests import tooling


def node_roundtrip(text: str) -> str:
    """What Node prints for JSON.stringify(JSON.parse(text)), byte for byte."""
    script = (
        "let s='';process.stdin.setEncoding('utf8');process.stdin.on('data',d=>s+=d);"
        "process.stdin.on('end',()=>process.stdout.write(JSON.stringify(JSON.parse(s))));"
    )
    done = subprocess.run([tooling.node(), "-e", script], input=text.encode("utf-8"), capture_output=True, check=True)
    return done.stdout.decode("utf-8")


CASES = {
    "non_ascii_names": {"name": "Café Ünïcødé — 東京.mp3", "ext": "mp3"},
    "emoji": {"message": "done 🎉🔥", "meta": {"flag": "🇫🇷"}},
    "control_and_quotes": {"s": 'line\nbreak\ttab "quoted" back\\slash \x01\x1f \u2028 \x7f'},
    "floats": {"a": 0.1, "b": 1.0, "c": 0.30000000000000004, "d": -2.5, "e": 123456.789},
    "exponents": {"big": 1e21, "small": 1e-7, "edge_small": 1e-6, "edge_big": 1e20, "neg": -1.5e-10},
    "large_integers": {"i53": 2**53, "i60": 2**60, "i64": 2**64 - 1, "neg": -(2**63), "safe": 2**53 - 1},
    "decimals": {"size": Decimal("12"), "pct": Decimal("12.50"), "tiny": Decimal("1E-7"), "z": Decimal("-0")},
    "negative_zero": {"z": -0.0},
    "integer_like_keys_reorder": {"b": 1, "10": 2, "2": 3, "a": 4, "01": 5, "4294967295": 6, "4294967294": 7},
    "nesting": {"results": {"encode": [{"id": "r1", "size": Decimal("1024"), "meta": {"duration": Decimal("3.5")}}]}},
    "empty": {"list": [], "obj": {}, "null": None, "t": True, "f": False},
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_node_json_stringify_after_parse(name):
    ours = js_dumps(CASES[name])
    # Feed Node our own output: the receiver parses exactly what we sent and re-stringifies it.
    assert node_roundtrip(ours) == ours


def test_number_formatting_matches_node_for_many_doubles():
    values = [0.1, 1.0, 1e21, 1e-7, 5e-324, 1.7976931348623157e308, 123e-20, 1 / 3, 2**53 + 2.0, 9007199254740993,
              100.0, 1e16, 1.5e16, 12345678901234567890, 0.000001, 0.0000015, 1e300, -1e-300]
    ours = "[" + ",".join(js_number(v) for v in values) + "]"
    assert node_roundtrip(ours) == ours
    # and the numbers are the ones we meant (Node parsed them to the same doubles)
    assert json.loads(ours)[0] == 0.1


def test_lone_surrogate_is_escaped_like_node():
    ours = js_dumps({"s": "a\ud800b"})
    assert ours == '{"s":"a\\ud800b"}'
    assert node_roundtrip(ours) == ours


def test_integral_values_have_no_trailing_point_zero():
    assert js_dumps({"a": 12.0, "b": Decimal("12.000"), "c": 12}) == '{"a":12,"b":12,"c":12}'


def test_compact_separators_and_raw_utf8():
    assert js_dumps({"a": [1, "é"]}) == '{"a":[1,"é"]}'
    assert status_to_wire({"assembly_id": "x", "name": "é"}) == '{"assembly_id":"x","name":"é"}'.encode()


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), Decimal("NaN"), Decimal("Infinity")])
def test_nan_and_infinity_are_refused(bad):
    with pytest.raises(ValueError, match="JSON has no"):
        js_dumps({"x": bad})


def test_numbers_beyond_double_range_are_refused():
    with pytest.raises(ValueError, match="too large"):
        js_number(10**400)


def test_unsupported_types_and_keys_are_named():
    with pytest.raises(ValueError, match="bytes"):
        js_dumps({"x": b"raw"})
    with pytest.raises(ValueError, match="keys must be strings"):
        js_dumps({1: "x"})


def test_sets_from_dynamodb_become_sorted_arrays():
    assert js_dumps({"tags": {"b", "a"}}) == '{"tags":["a","b"]}'


def test_wire_form_drops_the_store_bookkeeping_attributes():
    item = {"assembly_id": "x", "user_id": "u", "execution_start_epoch": Decimal("1.5"), "version": 3}
    assert public_view(item) == {"assembly_id": "x", "version": 3}
    assert b"user_id" not in status_to_wire(item)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://app:s3cret@hooks.example.com/x?y=1", "https://hooks.example.com/x?y=1"),
        ("https://token@hooks.example.com", "https://hooks.example.com"),
        ("https://a:b@[2001:db8::1]:8443/p", "https://[2001:db8::1]:8443/p"),
        ("https://hooks.example.com/path@with-at", "https://hooks.example.com/path@with-at"),
        ("https://hooks.example.com/x", "https://hooks.example.com/x"),
    ],
)
def test_notify_url_credentials_never_reach_the_wire(url, shown):
    item = {"assembly_id": "x", "notify_url": url}
    assert public_view(item)["notify_url"] == shown
    assert item["notify_url"] == url  # the stored item keeps them for the sender
