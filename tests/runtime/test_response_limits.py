"""Lambda's 6 MB synchronous response limit, measured as Lambda's Python runtime measures it.

AWS Lambda quotas (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html):
"Invocation payload (request and response): 6 MB each for synchronous"; Lambda's error for a
larger response names the figure, 6,291,556 bytes (``Function.ResponseSizeTooLarge``). The Python
runtime serializes the handler's whole return value (Lambda's Python handler guide: the result
is "serialized into JSON"); the oracle here is that runtime's own marshaller,
``awslambdaric.lambda_runtime_marshaller.to_json`` (simplejson; raw UTF-8 on python3.12+, ``\\uXXXX``
escapes on older runtimes and without ``AWS_EXECUTION_ENV``), never this project's code.
"""

from __future__ import annotations

import json
import random

import pytest
from awslambdaric.lambda_runtime_marshaller import to_json
from transflow_runtime.limits import LAMBDA_RESPONSE_LIMIT_BYTES, invocation_response_bytes, json_string_bytes

from tests.runtime.status_support import (
    aid,
    body_of,
    call,
    http_event,
    status_env_fixture,  # noqa: F401 - the ``status_env`` fixture
)

# Each case: an AWS_EXECUTION_ENV value (None: unset, as in container images and local mode).
EXECUTION_ENVS = [None, "AWS_Lambda_python3.11", "AWS_Lambda_python3.12", "AWS_Lambda_python3.13",
                  "AWS_Lambda_python3.14"]
#: Characters whose serialized size differs most from their stored size.
NASTY = ['"', "\\", "\x00", "\x01", "\x1f", "\n", "\t", "\x7f", "é", "€", "\u2028", "\u2029", "\ufeff",
         "😀", "𝄞", "a", "/", "<", " "]


def set_env(monkeypatch, env: str | None) -> None:
    if env is None:
        monkeypatch.delenv("AWS_EXECUTION_ENV", raising=False)
    else:
        monkeypatch.setenv("AWS_EXECUTION_ENV", env)


def lambda_bytes(response: dict, monkeypatch, env: str | None) -> int:
    """What Lambda's Python runtime sends back for ``response``, in bytes."""
    set_env(monkeypatch, env)
    return len(to_json(response).encode("utf-8"))


@pytest.mark.parametrize("env", EXECUTION_ENVS)
def test_the_measure_is_the_python_runtimes_serialized_size(monkeypatch, env):
    rng = random.Random(f"limits-{env}")
    for _ in range(300):
        body = "".join(rng.choice(NASTY) for _ in range(rng.randrange(0, 200)))
        response = {
            "statusCode": rng.choice([200, 304, 413]),
            "headers": {"Content-Type": "application/json", "ETag": '"' + rng.choice(NASTY) * 3 + '"'},
            "body": json.dumps({"k": body}, ensure_ascii=False) if rng.random() < 0.5 else body,
            "isBase64Encoded": rng.random() < 0.5,
        }
        set_env(monkeypatch, env)
        measured = invocation_response_bytes(response)
        assert measured == lambda_bytes(response, monkeypatch, env), repr(response)
        assert invocation_response_bytes(response, execution_env=env or "") == measured


@pytest.mark.parametrize("env", EXECUTION_ENVS)
def test_a_body_sized_from_its_pieces_is_the_runtimes_size_of_the_whole(monkeypatch, env):
    """The list route sizes a page from its statuses' sizes: escaping is per character."""
    rng = random.Random(f"pieces-{env}")
    set_env(monkeypatch, env)
    for _ in range(100):
        pieces = ["".join(rng.choice(NASTY) for _ in range(rng.randrange(0, 50))) for _ in range(rng.randrange(1, 8))]
        response = {"statusCode": 200, "body": ""}
        expected = invocation_response_bytes(response) + sum(json_string_bytes(p) for p in pieces)
        assert lambda_bytes({**response, "body": "".join(pieces)}, monkeypatch, env) == expected


def test_quotes_in_the_body_count_twice_and_non_ascii_depends_on_the_runtime():
    body = '{"a":"\\""}'  # 10 characters; JSON-quoting it again escapes its 5 quotes and 1 backslash
    assert len(body) == 10
    assert invocation_response_bytes({"body": body}) == len('{"body": ""}') + 10 + 6
    assert invocation_response_bytes({"body": "é"}, execution_env="AWS_Lambda_python3.13") == 12 + 2
    assert invocation_response_bytes({"body": "é"}, execution_env="AWS_Lambda_python3.11") == 12 + 6


# --- the handler at the boundary ----------------------------------------------------------------------
#: One unit of stored text: quote, backslash, control characters, non-ASCII (2 and 4 bytes).
UNIT = '"\\\x01\x1fé😀'
PAD_ID = aid(398)


def put(status_env, ident: str, blob: str, created: int) -> None:
    status_env.dynamodb.put_item(TableName=status_env.table_name, Item={
        "assembly_id": {"S": ident}, "user_id": {"S": "alice"}, "user": {"M": {"userId": {"S": "alice"}}},
        "created_at": {"S": f"2026-01-01T00:{created // 60:02d}:{created % 60:02d}.000Z"},
        "message": {"S": 'a "quoted" \\ message'}, "blob": {"S": blob},
    })


def fill_to(status_env, monkeypatch, env, respond, target: int) -> tuple[list[str], int]:
    """Nasty items plus one padding item (ASCII, 1 byte per character) such that ``respond(ids)``
    is exactly ``target`` bytes as Lambda serializes it; returns (ids, padding length)."""
    put(status_env, PAD_ID, "", created=0)
    empty = lambda_bytes(respond([PAD_ID]), monkeypatch, env)
    ids = [aid(200)]
    put(status_env, ids[0], UNIT * 6_000, created=1)
    per_item = lambda_bytes(respond([PAD_ID, *ids]), monkeypatch, env) - empty
    assert 100_000 < per_item < 380_000, "each nasty item must be smaller than the padding can absorb"
    count = (target - empty) // per_item
    for n in range(1, count):
        ids.append(aid(200 + n))
        put(status_env, ids[-1], UNIT * 6_000, created=1 + n)
    pad = target - empty - count * per_item
    put(status_env, PAD_ID, "a" * pad, created=0)
    return ids, pad


@pytest.mark.parametrize("env", [None, "AWS_Lambda_python3.13"])
def test_batch_at_the_limit_is_200_and_one_byte_over_is_413(status_env, monkeypatch, env):
    def respond(ids):
        set_env(monkeypatch, env)
        return call(http_event("POST", "/status/batch", body=json.dumps({"assemblyIds": ids})))

    ids, pad = fill_to(status_env, monkeypatch, env, respond, LAMBDA_RESPONSE_LIMIT_BYTES)
    exact = respond([PAD_ID, *ids])
    assert exact["statusCode"] == 200
    assert lambda_bytes(exact, monkeypatch, env) == LAMBDA_RESPONSE_LIMIT_BYTES
    assert len(exact["body"].encode()) < 5_500_000, "the body alone looks harmless"
    assert set(body_of(exact)["assemblies"]) == {PAD_ID, *ids}

    put(status_env, PAD_ID, "a" * (pad + 1), created=0)
    over = respond([PAD_ID, *ids])
    assert over["statusCode"] == 413
    assert body_of(over) == {"error": "these statuses are too large for one response; request fewer ids at a time"}
    assert lambda_bytes(over, monkeypatch, env) < 1000


@pytest.mark.parametrize("env", [None, "AWS_Lambda_python3.13"])
def test_list_at_the_limit_is_one_page_and_one_byte_over_is_a_shorter_page_that_continues(
    status_env, monkeypatch, env
):
    def respond(ids):
        set_env(monkeypatch, env)
        return call(http_event("GET", "/assemblies", query={"limit": str(len(ids))}))

    ids, pad = fill_to(status_env, monkeypatch, env, respond, LAMBDA_RESPONSE_LIMIT_BYTES)
    newest_first = [*reversed(ids), PAD_ID]
    exact = respond(newest_first)
    assert exact["statusCode"] == 200 and lambda_bytes(exact, monkeypatch, env) == LAMBDA_RESPONSE_LIMIT_BYTES
    page = body_of(exact)
    assert [a["assembly_id"] for a in page["assemblies"]] == newest_first and page["next_cursor"] is None

    put(status_env, PAD_ID, "a" * (pad + 1), created=0)
    first = respond(newest_first)
    assert first["statusCode"] == 200 and lambda_bytes(first, monkeypatch, env) <= LAMBDA_RESPONSE_LIMIT_BYTES
    first_page = body_of(first)
    assert [a["assembly_id"] for a in first_page["assemblies"]] == newest_first[:-1]
    assert first_page["next_cursor"]
    rest = call(http_event("GET", "/assemblies", query={"limit": "100", "cursor": first_page["next_cursor"]}))
    assert [a["assembly_id"] for a in body_of(rest)["assemblies"]] == [PAD_ID]
    assert body_of(rest)["next_cursor"] is None
