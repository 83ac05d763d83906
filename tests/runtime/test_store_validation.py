"""Every StatusStore write checks what it sends: a refused call names the field and writes nothing.

DynamoDB's number type (38 digits, 1E-130 to 9.9999999999999999999999999999999999999E+125) and its
nesting limit (32 levels) come from
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html;
JSON (RFC 8259) has no binary values and no sets.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from boto3.dynamodb.types import Binary
from transflow_runtime import StatusStore, StatusValueError, assembly_id

AID = assembly_id("0123456789abcdef0123456789abcdef", "tpl", "alice")


@pytest.fixture
def created(store: StatusStore) -> str:
    store.create(AID, user_id="alice", template_id="tpl", steps_total=3)
    return AID


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"fields": {"steps_total": "three", "progress_pct": 250}}, "steps_total"),
        ({"fields": {"progress_pct": 250}}, "progress_pct"),
        ({"progress_pct": 100.5}, "progress_pct"),
        ({"progress_pct": -1}, "progress_pct"),
        ({"progress_pct": float("nan")}, "progress_pct"),
        ({"progress_pct": True}, "progress_pct"),
        ({"progress_pct": "50"}, "progress_pct"),
        ({"steps_total": -1}, "steps_total"),
        ({"steps_total": 2.5}, "steps_total"),
        ({"steps_completed": "1"}, "steps_completed"),
        ({"bytes_received": -5}, "bytes_received"),
        ({"add_bytes_received": -5}, "add_bytes_received"),
        ({"add_bytes_received": 1.5}, "add_bytes_received"),
        ({"message": 42}, "message"),
        ({"current_step_name": ["encode"]}, "current_step_name"),
        ({"warning": ""}, "warning"),
        ({"fields": {"meta": {"raw": b"\x00\x01"}}}, "meta['raw']"),
        ({"fields": {"meta": bytearray(b"x")}}, "meta"),
        ({"fields": {"meta": Binary(b"x")}}, "meta"),
        ({"fields": {"tags": {"a", "b"}}}, "tags"),
        ({"fields": {"when": object()}}, "when"),
        ({"fields": {"big": 10**40}}, "big"),
        ({"fields": {"tiny": Decimal("1E-131")}}, "tiny"),
        ({"fields": {"inf": float("inf")}}, "inf"),
        ({"fields": {"nested": {1: "x"}}}, "nested"),
        ({"fields": {"warnings": ["ok", 3]}}, "warnings"),
    ],
)
def test_progress_refuses_bad_values_naming_the_field_and_writes_nothing(store, created, kwargs, field):
    before = store.get_item(created)
    with pytest.raises(StatusValueError, match=r"nothing was written") as refused:
        store.progress(created, **kwargs)
    assert refused.value.field == field and str(refused.value).startswith(field)
    assert store.get_item(created) == before
    assert store.get(created).version == before["version"], "the item still reads as a status"


def test_deep_nesting_past_dynamodbs_32_levels_is_refused(store, created):
    value: object = "leaf"
    for _ in range(40):
        value = [value]
    with pytest.raises(StatusValueError, match="nests deeper than DynamoDB's 32 levels"):
        store.progress(created, fields={"deep": value})


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda s, a: s.add_result(a, "encode", {"id": "r", "name": "x", "meta": {"thumb": b"\x89PNG"}}),
         "result['meta']['thumb']"),
        (lambda s, a: s.add_result(a, "encode", {"id": "r", "name": "x", "extra_bytes": b"x"}),
         "result['extra_bytes']"),
        (lambda s, a: s.add_result(a, "", {"id": "r", "name": "x"}), "step_name"),
        (lambda s, a: s.start_step(a, 5), "step_name"),
        (lambda s, a: s.finish_step(a, "encode", message=b"done"), "message"),
        (lambda s, a: s.complete(a, message=None), "message"),
        (lambda s, a: s.fail(a, ""), "error"),
        (lambda s, a: s.fail(a, "E", message=7), "message"),
        (lambda s, a: s.cancel(a, message=["x"]), "message"),
        (lambda s, a: s.record_notification(a, {"notify_error": b"x"}), "notify_error"),
    ],
)
def test_every_other_write_validates_too(store, created, call, field):
    before = store.get_item(created)
    with pytest.raises(StatusValueError) as refused:
        call(store, created)
    assert refused.value.field == field
    assert store.get_item(created) == before


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"uploads": [{"id": "u", "name": "a.wav", "meta": {"raw": b"\x00"}}]}, "uploads[0]['meta']['raw']"),
        ({"uploads": [{"id": "u", "name": "a.wav", "blob": b"\x00"}]}, "uploads[0]['blob']"),
        ({"extra": {"meta": {"sig": b"\x01"}}}, "meta['sig']"),
        ({"extra": {"progress_pct": 101}}, "progress_pct"),
        ({"steps_total": -3}, "steps_total"),
        ({"bytes_expected": "1 MB"}, "bytes_expected"),
        ({"notify_url": 5}, "notify_url"),
        ({"message": None}, "message"),
        ({"branch": b"main"}, "branch"),
    ],
)
def test_create_refuses_binary_and_bad_values_and_writes_nothing(store, kwargs, field):
    with pytest.raises(StatusValueError) as refused:
        store.create(AID, user_id="alice", template_id="tpl", **kwargs)
    assert refused.value.field == field
    assert store.get_item(AID) is None


def test_plain_data_of_every_json_kind_is_accepted(store, created):
    fields = {"meta": {"s": "x", "i": 3, "f": 0.25, "d": Decimal("1.5"), "b": True, "n": None, "l": [1, "a", [2]],
                       "empty": {}}}
    status = store.progress(created, progress_pct=Decimal("99.5"), steps_completed=0, fields=fields)
    assert status.model_dump()["meta"]["l"] == [1, "a", [2]] and status.progress_pct == 99.5
