"""The status Lambda against moto: routes, status codes, ownership, ETag/304, batch, list, replay,
direct invoke, analytics, and the import-cost rule."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from transflow_runtime import assembly_id, schema
from transflow_runtime.dynamo import batch_get_items, decode_cursor, encode_cursor
from transflow_runtime.handlers import status as status_handler
from transflow_runtime.serialize import status_to_wire

from tests.runtime.status_support import (
    aid,
    body_of,
    call,
    headers_of,
    http_event,
    status_env_fixture,  # noqa: F401 - the ``status_env`` fixture
)

REPO = Path(__file__).resolve().parents[2]

MD5 = "d41d8cd98f00b204e9800998ecf8427e"  # md5 of the empty file


class Clock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def alice_id(store, status_env) -> str:
    ident = aid(1)
    store.create(ident, user_id="alice", template_id="tpl", uploads=[{"id": "u1", "name": "a.wav", "size": 12}])
    return ident


@pytest.fixture
def bob_id(store, status_env) -> str:
    ident = aid(2, user="bob")
    store.create(ident, user_id="bob", template_id="tpl")
    return ident


def get_status(ident: str, **kwargs) -> dict:
    return call(http_event("GET", "/status", query={"assemblyId": ident}, **kwargs))


# --- single reads: the status-code matrix ------------------------------------------------------------
def test_owner_reads_the_status_as_the_wire_bytes_without_internal_attributes(alice_id, store):
    response = get_status(alice_id)
    assert response["statusCode"] == 200
    assert response["body"].encode() == status_to_wire(store.get_item(alice_id))
    data = body_of(response)
    assert data["assembly_id"] == alice_id and data["user"] == {"userId": "alice"}
    assert "user_id" not in data and schema.START_EPOCH_ATTRIBUTE not in data
    assert data["bytes_expected"] == 12 and '"bytes_expected":12' in response["body"]
    assert headers_of(response)["content-type"] == "application/json"


def test_snake_case_query_parameter_and_path_form_read_the_same_status(alice_id):
    by_camel = get_status(alice_id)
    by_snake = call(http_event("GET", "/status", query={"assembly_id": alice_id}))
    by_path = call(http_event("GET", f"/assemblies/{alice_id}"))
    by_route = call(
        http_event(
            "GET", f"/assemblies/{alice_id}", route_key="GET /assemblies/{assemblyId}",
            path_parameters={"assemblyId": alice_id},
        )
    )
    assert {r["statusCode"] for r in (by_camel, by_snake, by_path, by_route)} == {200}
    assert by_camel["body"] == by_snake["body"] == by_path["body"] == by_route["body"]


def test_a_non_default_stage_prefix_is_stripped_from_the_raw_path(alice_id):
    response = call(http_event("GET", f"/prod/assemblies/{alice_id}", stage="prod"))
    assert response["statusCode"] == 200


def test_another_users_assembly_is_forbidden_without_revealing_it(bob_id):
    response = get_status(bob_id)
    assert response["statusCode"] == 403
    assert body_of(response) == {"error": "access denied: you do not own this assembly"}
    assert "bob" not in response["body"] and "etag" not in headers_of(response)


def test_unknown_assembly_is_404_with_retry_after_5(status_env):
    response = get_status(aid(3))
    assert response["statusCode"] == 404
    assert body_of(response) == {"error": "assembly not found"}
    assert headers_of(response)["retry-after"] == "5"


@pytest.mark.parametrize(
    "authorizer",
    [
        None,
        {},
        {"lambda": {}},
        {"lambda": {"userId": ""}},
        {"lambda": {"userId": "   "}},
        {"lambda": {"userId": ["alice"]}},
        {"jwt": {"claims": {}}},
        {"jwt": {"claims": {"email": "alice"}}},
        {"jwt": "nonsense"},
    ],
)
def test_requests_without_a_usable_identity_are_401(alice_id, authorizer):
    response = call(http_event("GET", "/status", query={"assemblyId": alice_id}, user=None, authorizer=authorizer))
    assert response["statusCode"] == 401
    assert body_of(response) == {"error": "authentication required"}


def test_a_user_id_over_1024_bytes_is_401_not_acceptable(alice_id):
    response = call(http_event("GET", "/status", query={"assemblyId": alice_id}, user="x" * 2000))
    assert response["statusCode"] == 401
    assert body_of(response) == {"error": "the token's user id is not acceptable"}


def test_identity_from_the_oidc_authorizers_jwt_claims(alice_id):
    response = call(
        http_event("GET", "/status", query={"assemblyId": alice_id}, user=None,
                   authorizer={"jwt": {"claims": {"sub": "alice"}, "scopes": None}})
    )
    assert response["statusCode"] == 200


def test_user_id_claim_is_configurable(alice_id, monkeypatch):
    monkeypatch.setenv(schema.ENV_USER_ID_CLAIM, "email")
    status_handler.reset_for_tests()
    claims = {"sub": "someone-else", "email": "alice"}
    ok = call(http_event("GET", "/status", query={"assemblyId": alice_id}, user=None,
                         authorizer={"jwt": {"claims": claims}}))
    assert ok["statusCode"] == 200
    wrong = call(http_event("GET", "/status", query={"assemblyId": alice_id}, user=None,
                            authorizer={"jwt": {"claims": {"sub": "alice"}}}))
    assert wrong["statusCode"] == 401


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({}, "assemblyId is required"),
        ({"assemblyId": ""}, "assemblyId is required"),
        ({"assemblyId": "A" * 64}, "assemblyId is not a valid assembly id"),
        ({"assemblyId": "a" * 63}, "assemblyId is not a valid assembly id"),
        ({"assemblyId": "a" * 65}, "assemblyId is not a valid assembly id"),
        ({"assemblyId": "g" * 64}, "assemblyId is not a valid assembly id"),
        ({"assemblyId": "a" * 64 + "\n"}, "assemblyId is not a valid assembly id"),
        ({"assemblyId": "a" * 5000}, "assemblyId is too long"),
        ({"assemblyId": "a" * 64, "assembly_id": "b" * 64}, "assemblyId and assembly_id disagree"),
        ({"assemblyId": f"{'a' * 64},{'b' * 64}"}, "assemblyId is not a valid assembly id"),
    ],
)
def test_missing_or_malformed_ids_are_400_naming_the_problem(status_env, query, message):
    response = call(http_event("GET", "/status", query=query))
    assert response["statusCode"] == 400
    assert body_of(response) == {"error": message}


def test_the_id_pattern_is_configurable(status_env, store, monkeypatch):
    store.create("job-42", user_id="alice", template_id="tpl")
    assert get_status("job-42")["statusCode"] == 400
    monkeypatch.setenv(schema.ENV_ASSEMBLY_ID_PATTERN, r"job-[0-9]+")
    status_handler.reset_for_tests()
    assert get_status("job-42")["statusCode"] == 200
    assert get_status("job-x")["statusCode"] == 400


def test_an_invalid_configured_pattern_is_a_generic_500_not_a_crash(status_env, monkeypatch, capsys):
    monkeypatch.setenv(schema.ENV_ASSEMBLY_ID_PATTERN, "([unclosed")
    status_handler.reset_for_tests()
    response = get_status(aid(1))
    assert response["statusCode"] == 500
    assert body_of(response) == {"error": "the status service is misconfigured"}
    assert schema.ENV_ASSEMBLY_ID_PATTERN in capsys.readouterr().out


def test_a_missing_table_is_a_500_without_internal_detail(status_env, monkeypatch, capsys):
    monkeypatch.setenv(schema.ENV_TABLE_NAME, "no-such-table")
    status_handler.reset_for_tests()
    response = get_status(aid(1))
    assert response["statusCode"] == 500
    assert body_of(response) == {"error": "the status store is unavailable; try again"}
    assert "no-such-table" not in response["body"]
    assert "ResourceNotFoundException" in capsys.readouterr().out  # the detail goes to the log


def test_an_unreachable_dynamodb_endpoint_is_a_500(status_env):
    unreachable = boto3.client(
        "dynamodb", endpoint_url="http://127.0.0.1:9", region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=1),
    )
    status_handler.reset_for_tests(dynamodb=unreachable)
    for event in (
        http_event("GET", "/status", query={"assemblyId": aid(1)}),
        http_event("POST", "/status/batch", body=json.dumps({"assemblyIds": [aid(1)]})),
        http_event("GET", "/assemblies"),
        {"assemblyId": aid(1)},
    ):
        response = call(event)
        assert response["statusCode"] == 500
        assert body_of(response) == {"error": "the status store is unavailable; try again"}


def test_unknown_routes_are_404_and_wrong_methods_405_with_allow(status_env):
    assert call(http_event("GET", "/nope"))["statusCode"] == 404
    assert call(http_event("GET", "/assemblies/a/b/c"))["statusCode"] == 404
    response = call(http_event("DELETE", f"/assemblies/{aid(1)}"))
    assert response["statusCode"] == 405
    assert headers_of(response)["allow"] == "GET"
    assert body_of(response)["error"].startswith("method DELETE")
    assert headers_of(call(http_event("GET", "/status/batch")))["allow"] == "POST"


# --- polling headers ---------------------------------------------------------------------------------
def test_queued_assemblies_say_retry_after_5_and_no_store(alice_id):
    headers = headers_of(get_status(alice_id))
    assert headers["retry-after"] == "5"
    assert headers["cache-control"] == "no-store"
    assert headers["vary"] == "Authorization"


@pytest.mark.parametrize("state", [schema.STATE_UPLOADING, schema.STATE_EXECUTING])
def test_active_assemblies_say_retry_after_2(alice_id, store, state):
    store.progress(alice_id, state=state)
    headers = headers_of(get_status(alice_id))
    assert headers["retry-after"] == "2" and headers["cache-control"] == "no-store"


@pytest.mark.parametrize("finish", ["complete", "fail", "cancel"])
def test_terminal_assemblies_are_privately_cacheable_without_retry_after(alice_id, store, finish):
    if finish == "fail":
        store.fail(alice_id, "boom")
    else:
        getattr(store, finish)(alice_id)
    headers = headers_of(get_status(alice_id))
    assert headers["cache-control"] == f"private, max-age={status_handler.TERMINAL_MAX_AGE}"
    assert "retry-after" not in headers


@pytest.mark.parametrize("ok", ["ASSEMBLY_COMPLETED", "ASSEMBLY_CANCELED"])
def test_an_item_without_state_is_terminal_through_ok_alone(status_env, dynamodb, ok):
    """The seed's schema has no ``state``: ``ok`` set means finished, so stop polling."""
    ident = aid(6)
    dynamodb.put_item(TableName=status_env.table_name, Item={
        "assembly_id": {"S": ident}, "user": {"M": {"userId": {"S": "alice"}}},
        "created_at": {"S": "2026-01-01T00:00:00.000Z"}, "ok": {"S": ok},
    })
    response = get_status(ident)
    assert response["statusCode"] == 200 and body_of(response)["ok"] == ok
    assert headers_of(response)["cache-control"] == f"private, max-age={status_handler.TERMINAL_MAX_AGE}"
    assert "retry-after" not in headers_of(response)


def test_items_without_a_state_are_terminal_when_ok_or_error_is_set(status_env, dynamodb):
    ident = aid(5)
    dynamodb.put_item(TableName=status_env.table_name, Item={
        "assembly_id": {"S": ident}, "user": {"M": {"userId": {"S": "alice"}}},
        "created_at": {"S": "2026-01-01T00:00:00.000Z"}, "error": {"S": "legacy failure"},
    })
    response = get_status(ident)
    assert response["statusCode"] == 200
    assert headers_of(response)["cache-control"] == f"private, max-age={status_handler.TERMINAL_MAX_AGE}"
    assert "retry-after" not in headers_of(response)
    assert headers_of(response)["etag"].startswith('"')  # no version: content hash


@pytest.mark.parametrize(
    "owner_fields",
    [
        {"user_id": {"S": "alice"}},  # the index's copy alone is no owner
        {"user": {"M": {}}, "user_id": {"S": "alice"}},
        {"user": {"M": {"userId": {"S": ""}}}},
        {"user": {"M": {"userId": {"N": "7"}}}},
        {"user": {"S": "alice"}},
        {"user": {"M": {"userId": {"S": "bob"}}}, "user_id": {"S": "alice"}},  # copies disagree
    ],
)
def test_an_item_without_a_consistent_user_userid_belongs_to_no_one(status_env, dynamodb, owner_fields):
    """Fail closed: whoever wrote the item, no caller is its owner unless ``user.userId`` says so."""
    ident = aid(7)
    dynamodb.put_item(TableName=status_env.table_name, Item={
        "assembly_id": {"S": ident}, "created_at": {"S": "2026-01-01T00:00:00.000Z"}, **owner_fields,
    })
    for user in ("alice", "bob", "7"):
        response = get_status(ident, user=user)
        assert response["statusCode"] == 403, (user, body_of(response))
        batch = call(http_event("POST", "/status/batch", user=user, body=json.dumps({"assemblyIds": [ident]})))
        assert body_of(batch) == {"assemblies": {ident: None}}
        listed = call(http_event("GET", "/assemblies", user=user))
        assert body_of(listed)["assemblies"] == []


# --- ETag / If-None-Match ----------------------------------------------------------------------------
def test_etag_is_strong_and_stable_until_the_next_write(alice_id, store):
    first = headers_of(get_status(alice_id))["etag"]
    assert first.startswith('"') and first.endswith('"') and not first.startswith("W/")
    assert headers_of(get_status(alice_id))["etag"] == first
    store.progress(alice_id, message="working")
    assert headers_of(get_status(alice_id))["etag"] != first


@pytest.mark.parametrize(
    "header_for",
    [
        lambda tag: tag,
        lambda tag: f"W/{tag}",
        lambda tag: f'"other", {tag}',
        lambda tag: f'  W/"x" ,W/{tag} ',
        lambda tag: "*",
    ],
)
def test_if_none_match_gives_304_without_a_body(alice_id, header_for):
    etag = headers_of(get_status(alice_id))["etag"]
    response = get_status(alice_id, headers={"If-None-Match": header_for(etag)})
    assert response["statusCode"] == 304
    assert response["body"] == ""
    headers = headers_of(response)
    assert headers["etag"] == etag and "content-type" not in headers
    assert headers["retry-after"] == "5"


@pytest.mark.parametrize("value", ['"stale"', "W/stale", "", ",,,", '"' * 5000, "garbage"])
def test_a_non_matching_if_none_match_gives_the_full_status(alice_id, value):
    response = get_status(alice_id, headers={"if-none-match": value})
    assert response["statusCode"] == 200 and body_of(response)["assembly_id"] == alice_id


def test_if_none_match_after_a_change_gives_200_with_the_new_etag(alice_id, store):
    old = headers_of(get_status(alice_id))["etag"]
    store.start_step(alice_id, "encode")
    response = get_status(alice_id, headers={"if-none-match": old})
    assert response["statusCode"] == 200 and headers_of(response)["etag"] != old
    assert body_of(response)["current_step_name"] == "encode"


def test_recording_a_webhook_delivery_changes_the_etag(alice_id, store):
    store.complete(alice_id)
    before = headers_of(get_status(alice_id))["etag"]
    store.record_notification(alice_id, {"notify_status": "delivered", "notify_attempts": 1})
    response = get_status(alice_id, headers={"if-none-match": before})
    assert response["statusCode"] == 200 and body_of(response)["notify_status"] == "delivered"


def test_if_none_match_does_not_bypass_ownership(bob_id, alice_id):
    assert get_status(bob_id, headers={"if-none-match": "*"})["statusCode"] == 403


# --- batch -------------------------------------------------------------------------------------------
def batch(ids, **kwargs) -> dict:
    return call(http_event("POST", "/status/batch", body=json.dumps({"assemblyIds": ids}), **kwargs))


def test_batch_returns_own_statuses_and_null_for_foreign_and_unknown_ids(alice_id, bob_id, store):
    unknown = aid(9)
    response = batch([alice_id, bob_id, unknown])
    assert response["statusCode"] == 200
    assemblies = body_of(response)["assemblies"]
    assert list(assemblies) == [alice_id, bob_id, unknown]
    assert assemblies[bob_id] is None and assemblies[unknown] is None
    assert assemblies[alice_id] == json.loads(status_to_wire(store.get_item(alice_id)))
    assert "bob" not in response["body"]


def test_batch_deduplicates_ids(alice_id):
    response = batch([alice_id, alice_id, alice_id])
    assert response["statusCode"] == 200 and list(body_of(response)["assemblies"]) == [alice_id]


def test_batch_accepts_a_base64_encoded_body_and_snake_case_key(alice_id):
    event = http_event("POST", "/status/batch", body=json.dumps({"assembly_ids": [alice_id]}), base64_body=True)
    response = call(event)
    assert response["statusCode"] == 200 and body_of(response)["assemblies"][alice_id] is not None


def test_batch_of_exactly_100_ids_is_served(alice_id):
    ids = [alice_id] + [aid(n) for n in range(10, 109)]
    assert len(set(ids)) == 100
    response = batch(ids)
    assert response["statusCode"] == 200
    assemblies = body_of(response)["assemblies"]
    assert len(assemblies) == 100 and assemblies[alice_id] is not None


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"assemblyIds": [aid(n) for n in range(101)]}, "assemblyIds holds 101 ids; at most 100 are allowed"),
        ({"assemblyIds": []}, "assemblyIds must hold between 1 and 100 ids"),
        ({}, "assemblyIds is required"),
        ({"assemblyIds": "abc"}, "assemblyIds must be a list of assembly ids"),
        ({"assemblyIds": [aid(1), 5]}, "assemblyIds[1] must be a string"),
        ({"assemblyIds": [aid(1), "nope"]}, "assemblyIds[1] is not a valid assembly id"),
    ],
)
def test_bad_batch_requests_are_400_naming_the_problem(status_env, payload, message):
    response = call(http_event("POST", "/status/batch", body=json.dumps(payload)))
    assert response["statusCode"] == 400 and body_of(response) == {"error": message}


def test_batch_too_large_for_one_response_is_413(status_env, dynamodb):
    """17 statuses of 390 KB are a 6.6 MB invocation response: over Lambda's 6,291,556 bytes
    (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html); 15 are 5.85 MB and fit."""
    ids = [aid(n) for n in range(200, 217)]
    for ident in ids:
        dynamodb.put_item(TableName=status_env.table_name, Item={
            "assembly_id": {"S": ident}, "user_id": {"S": "alice"}, "user": {"M": {"userId": {"S": "alice"}}},
            "created_at": {"S": "2026-01-01T00:00:00.000Z"}, "blob": {"S": "x" * 390_000},
        })
    response = batch(ids)
    assert response["statusCode"] == 413
    assert "request fewer ids" in body_of(response)["error"]
    assert batch(ids[:15])["statusCode"] == 200


def test_batch_get_retries_unprocessed_keys_until_all_are_read(status_env, dynamodb):
    # 45 items of ~390 KB exceed BatchGetItem's 16 MB response limit, so DynamoDB (moto) hands
    # part of them back as UnprocessedKeys; every one must still be returned.
    ids = [aid(n) for n in range(300, 345)]
    for ident in ids:
        dynamodb.put_item(TableName=status_env.table_name, Item={
            "assembly_id": {"S": ident}, "blob": {"S": "y" * 390_000},
        })
    first = dynamodb.batch_get_item(RequestItems={status_env.table_name: {"Keys": [
        {"assembly_id": {"S": i}} for i in ids]}})
    assert first["UnprocessedKeys"], "precondition: the first call leaves keys unprocessed"
    sleeps: list[float] = []
    found = batch_get_items(dynamodb, status_env.table_name, ids, sleep=sleeps.append)
    assert set(found) == set(ids)
    assert sleeps == [0.05]


# --- list --------------------------------------------------------------------------------------------
@pytest.fixture
def many(status_env, dynamodb, table_name):
    """Seven assemblies of alice's created one second apart (newest last), and two of bob's."""
    from transflow_runtime import StatusStore

    clock = Clock()
    store = StatusStore(table_name, client=dynamodb, clock=clock)
    ids = []
    for n in range(20, 27):
        clock.now += 1
        ids.append(aid(n))
        store.create(ids[-1], user_id="alice", template_id="tpl")
    store.complete(ids[1])
    store.fail(ids[3], "boom")
    for n in range(40, 42):
        clock.now += 1
        store.create(aid(n, user="bob"), user_id="bob", template_id="tpl")
    return ids


def list_page(**query) -> dict:
    return call(http_event("GET", "/assemblies", query={k: str(v) for k, v in query.items()}))


def test_list_pages_through_own_assemblies_newest_first(many):
    seen, cursor, pages = [], None, 0
    while True:
        response = list_page(limit=3, **({"cursor": cursor} if cursor else {}))
        assert response["statusCode"] == 200
        data = body_of(response)
        assert len(data["assemblies"]) <= 3
        seen += [a["assembly_id"] for a in data["assemblies"]]
        pages += 1
        cursor = data["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(many)) and pages == 3
    assert all(a["user"]["userId"] == "alice" for a in body_of(list_page())["assemblies"])


def test_list_without_parameters_uses_the_default_limit(many):
    data = body_of(call(http_event("GET", "/assemblies")))
    assert len(data["assemblies"]) == 7 and data["next_cursor"] is None
    assert "user_id" not in data["assemblies"][0]


def test_list_active_skips_terminal_assemblies(many):
    data = body_of(list_page(active="true", limit=10))
    listed = [a["assembly_id"] for a in data["assemblies"]]
    assert listed == [i for i in reversed(many) if i not in (many[1], many[3])]


def test_a_cursor_from_another_user_is_refused(many):
    bobs_page = body_of(call(http_event("GET", "/assemblies", user="bob", query={"limit": "1"})))
    assert bobs_page["next_cursor"]
    response = list_page(cursor=bobs_page["next_cursor"])
    assert response["statusCode"] == 400 and body_of(response) == {"error": "cursor is invalid"}


def test_a_cursor_rewritten_to_point_into_another_users_list_is_refused(many):
    cursor = body_of(list_page(limit=1))["next_cursor"]
    key = decode_cursor(cursor, "alice")
    forged = encode_cursor({**key, schema.USER_ID_ATTRIBUTE: {"S": "bob"}}, "alice")
    assert list_page(cursor=forged)["statusCode"] == 400
    raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw["u"] = "bob"
    relabelled = base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")
    assert list_page(cursor=relabelled)["statusCode"] == 400


@pytest.mark.parametrize(
    "cursor",
    ["garbage", "%%%", "e30", "W10", "x" * 5000, base64.urlsafe_b64encode(b'{"u":"alice","k":{}}').decode(),
     encode_cursor({"assembly_id": {"S": ""}, "user_id": {"S": "alice"}, "created_at": {"S": "x"}}, "alice"),
     encode_cursor({"assembly_id": {"S": "a" * 3000}, "user_id": {"S": "alice"}, "created_at": {"S": "x"}},
                   "alice"),
     encode_cursor({"assembly_id": {"N": "1"}, "user_id": {"S": "alice"}, "created_at": {"S": "x"}}, "alice")],
)
def test_garbage_cursors_are_400(many, cursor):
    response = list_page(cursor=cursor)
    assert response["statusCode"] == 400 and body_of(response) == {"error": "cursor is invalid"}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"limit": "0"}, "limit must be an integer between 1 and 100"),
        ({"limit": "101"}, "limit must be an integer between 1 and 100"),
        ({"limit": "-1"}, "limit must be an integer between 1 and 100"),
        ({"limit": "ten"}, "limit must be an integer between 1 and 100"),
        ({"limit": "1e2"}, "limit must be an integer between 1 and 100"),
        ({"limit": "\uff15"}, "limit must be an integer between 1 and 100"),
        ({"active": "maybe"}, "active must be true or false"),
    ],
)
def test_bad_list_parameters_are_400(many, query, message):
    response = list_page(**query)
    assert response["statusCode"] == 400 and body_of(response) == {"error": message}


def test_a_page_too_large_for_one_response_is_shortened_and_continues(status_env, dynamodb):
    # 17 x 390 KB: over Lambda's 6,291,556-byte response limit (16 would still fit).
    ids = [aid(n) for n in range(220, 237)]
    for i, ident in enumerate(ids):
        dynamodb.put_item(TableName=status_env.table_name, Item={
            "assembly_id": {"S": ident}, "user_id": {"S": "alice"}, "user": {"M": {"userId": {"S": "alice"}}},
            "created_at": {"S": f"2026-01-01T00:00:{i:02d}.000Z"}, "blob": {"S": "z" * 390_000},
        })
    first = body_of(list_page(limit=17))
    assert len(first["assemblies"]) == 16 and first["next_cursor"]
    second = body_of(list_page(limit=17, cursor=first["next_cursor"]))
    listed = [a["assembly_id"] for a in first["assemblies"] + second["assemblies"]]
    assert listed == list(reversed(ids))


# --- replay ------------------------------------------------------------------------------------------
def test_notify_enqueues_a_replay_event_for_the_owner(alice_id, status_env):
    response = call(http_event("POST", f"/assemblies/{alice_id}/notify"))
    assert response["statusCode"] == 202
    data = body_of(response)
    assert data["assembly_id"] == alice_id and data["event_id"].startswith("evt_")
    assert status_env.queued_messages() == [
        {"assembly_id": alice_id, "event": schema.EVENT_REPLAY, "event_id": data["event_id"]}
    ]


def test_each_replay_is_a_new_event(alice_id, status_env, store):
    store.complete(alice_id)
    first = body_of(call(http_event("POST", f"/assemblies/{alice_id}/notify")))["event_id"]
    second = body_of(call(http_event("POST", f"/assemblies/{alice_id}/notify")))["event_id"]
    assert first != second and len(status_env.queued_messages()) == 2


def test_notify_on_a_foreign_or_unknown_assembly_sends_nothing(bob_id, status_env):
    assert call(http_event("POST", f"/assemblies/{bob_id}/notify"))["statusCode"] == 403
    assert call(http_event("POST", f"/assemblies/{aid(7)}/notify"))["statusCode"] == 404
    assert status_env.queued_messages() == []


def test_notify_without_a_configured_queue_is_501(alice_id, monkeypatch):
    monkeypatch.delenv(schema.ENV_WEBHOOK_QUEUE_URL)
    status_handler.reset_for_tests()
    response = call(http_event("POST", f"/assemblies/{alice_id}/notify"))
    assert response["statusCode"] == 501 and "not configured" in body_of(response)["error"]


def test_notify_with_an_unusable_queue_is_a_500(alice_id, monkeypatch, status_env):
    monkeypatch.setenv(schema.ENV_WEBHOOK_QUEUE_URL, status_env.queue_url + "-missing")
    status_handler.reset_for_tests()
    response = call(http_event("POST", f"/assemblies/{alice_id}/notify"))
    assert response["statusCode"] == 500 and body_of(response) == {
        "error": "the status store is unavailable; try again"}


# --- direct invoke -----------------------------------------------------------------------------------
def test_direct_invoke_with_user_id_enforces_ownership(alice_id, bob_id):
    ok = call({"assemblyId": alice_id, "userId": "alice"})
    assert ok["statusCode"] == 200 and body_of(ok)["assembly_id"] == alice_id
    assert set(ok) >= {"statusCode", "body", "headers"}
    denied = call({"assemblyId": bob_id, "userId": "alice"})
    assert denied["statusCode"] == 403 and body_of(denied) == {"error": "access denied: you do not own this assembly"}


def test_direct_invoke_without_user_id_trusts_the_iam_caller(bob_id):
    response = call({"assemblyId": bob_id})
    assert response["statusCode"] == 200 and body_of(response)["user"]["userId"] == "bob"


def test_direct_invoke_unknown_id_is_404(status_env):
    assert call({"assemblyId": aid(8)})["statusCode"] == 404


def test_direct_invoke_trigger_webhook_reads_then_enqueues_a_replay(alice_id, status_env):
    response = call({"assemblyId": alice_id, "userId": "alice", "triggerWebhook": True})
    assert response["statusCode"] == 200
    event_id = headers_of(response)["x-transflow-event-id"]
    assert status_env.queued_messages() == [
        {"assembly_id": alice_id, "event": schema.EVENT_REPLAY, "event_id": event_id}]


def test_direct_invoke_trigger_webhook_sends_nothing_when_the_read_fails(bob_id, status_env):
    assert call({"assemblyId": bob_id, "userId": "alice", "triggerWebhook": True})["statusCode"] == 403
    assert call({"assemblyId": aid(8), "triggerWebhook": True})["statusCode"] == 404
    assert status_env.queued_messages() == []


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (None, "the event must be a JSON object with assemblyId"),
        ([], "the event must be a JSON object with assemblyId"),
        ("abc", "the event must be a JSON object with assemblyId"),
        ({}, "assemblyId is required"),
        ({"assemblyId": 5}, "assemblyId must be a string"),
        ({"assemblyId": "zz"}, "assemblyId is not a valid assembly id"),
        ({"assemblyId": aid(1), "userId": ""}, "userId must be a non-empty string when given"),
        ({"assemblyId": aid(1), "userId": {"a": 1}}, "userId must be a non-empty string when given"),
        ({"assemblyId": aid(1), "triggerWebhook": "yes"}, "triggerWebhook must be true or false"),
        ({"assemblyId": aid(1), "ifNoneMatch": 5}, "ifNoneMatch must be a string"),
    ],
)
def test_malformed_direct_invokes_are_400(status_env, event, message):
    response = call(event)
    assert response["statusCode"] == 400 and body_of(response) == {"error": message}


def test_direct_invoke_supports_if_none_match(alice_id):
    etag = headers_of(call({"assemblyId": alice_id}))["etag"]
    assert call({"assemblyId": alice_id, "ifNoneMatch": etag})["statusCode"] == 304


# --- analytics ---------------------------------------------------------------------------------------
def records(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_each_check_logs_one_status_check_line_with_an_embedded_metric(alice_id, bob_id, capsys, monkeypatch):
    monkeypatch.setenv(schema.ENV_METRICS_NAMESPACE, "MyApp")
    status_handler.reset_for_tests()
    capsys.readouterr()
    get_status(alice_id)
    get_status(bob_id)
    get_status(aid(9))
    lines = records(capsys.readouterr().out)
    assert [(r["assembly_id"], r["user_id"], r["result"]) for r in lines] == [
        (alice_id, "alice", "found"), (bob_id, "alice", "forbidden"), (aid(9), "alice", "not_found")]
    for r in lines:
        assert r["event"] == "status_check" and r["timestamp"].endswith("Z")
        metric = r["_aws"]["CloudWatchMetrics"][0]
        assert metric["Namespace"] == "MyApp" and metric["Dimensions"] == [["Result"]]
        assert metric["Metrics"] == [{"Name": "StatusChecks", "Unit": "Count"}]
        assert r["StatusChecks"] == 1 and r["Result"] == r["result"]


def test_batch_logs_one_line_per_id(alice_id, bob_id, capsys):
    capsys.readouterr()
    batch([alice_id, bob_id, aid(9)])
    assert [r["result"] for r in records(capsys.readouterr().out)] == ["found", "forbidden", "not_found"]


def test_tokens_never_reach_the_logs(alice_id, bob_id, capsys):
    capsys.readouterr()
    for event in (
        http_event("GET", "/status", query={"assemblyId": alice_id}),
        http_event("GET", "/status", query={"assemblyId": "bad"}),
        http_event("GET", "/status", query={"assemblyId": alice_id}, user=None),
        http_event("POST", "/status/batch", body="{"),
    ):
        call(event)
    out = capsys.readouterr().out
    assert out and "secret-token-value" not in out


# --- import cost -------------------------------------------------------------------------------------
def test_importing_the_status_handler_does_not_import_pydantic_or_jwt_and_freezes_import_objects():
    code = textwrap.dedent(
        """
        import sys
        import transflow_runtime.handlers.status as h
        assert h._dynamodb is not None, "the DynamoDB client is created at import"
        import gc
        assert gc.get_freeze_count() > 10_000, "import-time objects are frozen out of the cyclic GC"
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("pydantic", "jwt", "cryptography"))
        print(",".join(heavy))
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_importing_the_status_handler_without_a_region_still_works():
    code = "import transflow_runtime.handlers.status as h; print(h._dynamodb is None)"
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_REGION", "AWS_DEFAULT_REGION")}
    env["AWS_CONFIG_FILE"] = os.devnull
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_direct_invoke_with_an_explicit_null_user_fails_closed(bob_id):
    response = call({"assemblyId": bob_id, "userId": None})
    assert response["statusCode"] == 400
    assert "omit it" in body_of(response)["error"]


def test_status_api_does_not_hand_notify_url_credentials_to_the_end_user(store, dynamodb, table_name, monkeypatch):
    from transflow_runtime.handlers import status as status_handler

    aid = assembly_id(MD5, "tpl", "alice")
    store.create(
        aid, user_id="alice", template_id="tpl", notify_url="https://app:s3cret-pass@hooks.example.com/transflow"
    )
    monkeypatch.setenv("TRANSFLOW_TABLE_NAME", table_name)
    status_handler.reset_for_tests(dynamodb=dynamodb)
    try:
        event = {
            "version": "2.0",
            "routeKey": "GET /status",
            "rawPath": "/status",
            "queryStringParameters": {"assemblyId": aid},
            "requestContext": {
                "http": {"method": "GET", "path": "/status"},
                "requestId": "r1",
                "authorizer": {"jwt": {"claims": {"sub": "alice"}}},
            },
        }
        response = status_handler.handler(event, None)
    finally:
        monkeypatch.delenv("TRANSFLOW_TABLE_NAME")
        status_handler.reset_for_tests()
    assert response["statusCode"] == 200
    assert "s3cret-pass" not in response["body"]
