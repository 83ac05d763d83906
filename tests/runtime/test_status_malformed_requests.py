"""A generated corpus of malformed requests: none may yield a 500, every error has a JSON body.

The corpus crosses bad ids, query strings, bodies, methods, headers and event shapes
(itertools, deterministic); each case runs through the real handler against moto, where a
well-formed request would reach DynamoDB, so a 500 here means input slipped past validation.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
from typing import Any

import boto3
import pytest
from transflow_runtime import schema

from tests.runtime.status_support import (
    aid,
    call,
    http_event,
    status_env_fixture,  # noqa: F401 - the ``status_env`` fixture
)

VALID = aid(1)
BAD_IDS = [
    "", " ", "a", "A" * 64, "g" * 64, "a" * 63, "a" * 65, VALID.upper(), VALID + "\n", VALID + " ", " " + VALID,
    "../" + VALID, VALID + "/..", "\x00" * 64, "é" * 64, "\ud800" * 3, "a" * 3000, "a" * 70_000, "null", "{}",
    "[]", "' OR 1=1 --", "*", "%00", "%ZZ", "%C3%28", "%2F" * 10, "${jndi:ldap://x}", "<script>", "🙂" * 16,
    VALID + "," + VALID, "0x" + "a" * 62, "-1", "true",
]
BAD_PATH_SEGMENTS = [s for s in BAD_IDS if s and "/" not in s] + ["%", "%2", "%E0%A4%A", "%FF" * 64]
NON_OBJECT_BODIES = ["", " ", "{", "}", "[", "null", "true", "1", '"str"', "[]", "[1,2]", "{'a': 1}", "NaN",
                     "\x00", "\ufeff{}", "{\"assemblyIds\": [}", "[" * 50_000 + "]" * 50_000, "[" * 5000]
FIELD_VALUES: list[Any] = [None, 1, 1.5, True, "x", {}, {"a": 1}, [None], [1], [[VALID]], [{}], [""],
                           [VALID, None], [VALID] * 101, [VALID, "nope"], ["a" * 5000], [VALID.upper()]]
METHODS = ["PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "CONNECT", "", "G E T", "POST\r\nX: y", "x" * 500]
PATHS = ["/status", "/status/batch", "/assemblies", f"/assemblies/{VALID}", f"/assemblies/{VALID}/notify"]
LIMITS = ["0", "-1", "101", "1000000000000000000000", "abc", "1.5", "1e2", " 5", "5 ", "\uff15", "", "0x10", "+5"]
ACTIVES = ["maybe", "2", "TRUE!", "yes please", "\x00", "on", "y"]
CURSORS = ["garbage", "=", "====", "%%", "eyJ1IjoiYWxpY2UifQ", "e30", "bnVsbA", "W10", "x" * 5000,
           base64.urlsafe_b64encode(json.dumps({"u": "alice", "k": {"assembly_id": {"S": VALID}}}).encode()).decode(),
           base64.urlsafe_b64encode(json.dumps({"u": "alice", "k": []}).encode()).decode(),
           base64.urlsafe_b64encode(b"\xff\xfe").decode()]
HEADER_SETS: list[Any] = [None, [], "text", {"if-none-match": "*" * 10_000}, {"if-none-match": '"a", W/'},
                          {"If-None-Match": "W/\"\""}, {"authorization": "Bearer " + "a" * 9000}, {1: 2},
                          {"content-type": "text/plain"}, {"if-none-match": None}]


def _cases() -> list[tuple[str, Any]]:
    cases: list[tuple[str, Any]] = []
    for bad in BAD_IDS:
        cases.append((f"query id {bad[:20]!r}", http_event("GET", "/status", query={"assemblyId": bad})))
        cases.append((f"snake id {bad[:20]!r}", http_event("GET", "/status", query={"assembly_id": bad})))
        cases.append((f"direct id {bad[:20]!r}", {"assemblyId": bad, "userId": "alice"}))
    for segment, suffix in itertools.product(BAD_PATH_SEGMENTS, ["", "/notify"]):
        method = "POST" if suffix else "GET"
        cases.append((f"path id {segment[:20]!r}{suffix}", http_event(method, f"/assemblies/{segment}{suffix}")))
        cases.append((
            f"routed id {segment[:20]!r}{suffix}",
            http_event(method, f"/assemblies/{segment}{suffix}",
                       route_key=f"{method} /assemblies/{{assemblyId}}{suffix}",
                       path_parameters={"assemblyId": segment}),
        ))
    for body, b64 in itertools.product(NON_OBJECT_BODIES, [False, True]):
        cases.append((f"batch body {body[:12]!r} b64={b64}", http_event("POST", "/status/batch", body=body,
                                                                         base64_body=b64)))
    for key, value in itertools.product(["assemblyIds", "assembly_ids", "ids"], FIELD_VALUES):
        cases.append((f"batch {key}={str(value)[:20]}", http_event("POST", "/status/batch",
                                                                   body=json.dumps({key: value}))))
    for raw in [b"\xff\xfe\xfd", b'{"assemblyIds": ["\xff"]}', b"\x00" * 10, b"x" * 40_000]:
        cases.append((f"batch raw bytes {raw[:8]!r}", http_event("POST", "/status/batch", body=raw, base64_body=True)))
    not_base64 = {**http_event("POST", "/status/batch", body="!!!"), "isBase64Encoded": True}
    cases.append(("batch body not base64", not_base64))
    cases.append(("batch body too large", http_event("POST", "/status/batch", body=" " * 200_000)))
    cases.append(("batch body is a dict", {**http_event("POST", "/status/batch"), "body": {"assemblyIds": [VALID]}}))
    for limit, active, cursor in itertools.product(LIMITS[:7], [*ACTIVES[:3], None], [*CURSORS[:4], None]):
        query = {"limit": limit, **({"active": active} if active is not None else {}),
                 **({"cursor": cursor} if cursor is not None else {})}
        cases.append((f"list {query}", http_event("GET", "/assemblies", query=query)))
    for value in LIMITS:
        cases.append((f"list limit {value!r}", http_event("GET", "/assemblies", query={"limit": value})))
    for value in ACTIVES:
        cases.append((f"list active {value!r}", http_event("GET", "/assemblies", query={"active": value})))
    for value in CURSORS:
        cases.append((f"list cursor {value[:12]!r}", http_event("GET", "/assemblies", query={"cursor": value})))
    for method, path in itertools.product(METHODS, PATHS):
        cases.append((f"{method[:10]!r} {path[:20]}", http_event(method, path)))
    for headers, path in itertools.product(HEADER_SETS, ["/status?", f"/assemblies/{VALID}"]):
        event = http_event("GET", path.rstrip("?"), query={"assemblyId": VALID} if path.endswith("?") else None)
        event["headers"] = headers
        cases.append((f"headers {str(headers)[:20]} {path[:12]}", event))
    for query in [None, [], "assemblyId=x", {"assemblyId": 5}, {"assemblyId": None}, {"assemblyId": ["x"]}, {5: 5}]:
        event = http_event("GET", "/status")
        event["queryStringParameters"] = query
        cases.append((f"query shape {str(query)[:20]}", event))
    # Event shapes an HTTP API never sends, but a misconfigured integration might.
    for mutate in [
        lambda e: e["requestContext"].__setitem__("http", None),
        lambda e: e["requestContext"].__setitem__("http", {}),
        lambda e: e["requestContext"]["http"].__setitem__("method", 5),
        lambda e: e.__setitem__("rawPath", None),
        lambda e: e.__setitem__("rawPath", 5),
        lambda e: e.__setitem__("rawPath", "/" + "a/" * 5000),
        lambda e: e.__setitem__("routeKey", None),
        lambda e: e.__setitem__("routeKey", ["GET /status"]),
        lambda e: e.__setitem__("pathParameters", "x"),
        lambda e: e["requestContext"].__setitem__("authorizer", "alice"),
        lambda e: e["requestContext"].__setitem__("authorizer", {"lambda": "alice"}),
        lambda e: e["requestContext"].__setitem__("authorizer", {"lambda": {"userId": 12}}),
        lambda e: e["requestContext"].__setitem__("authorizer", {"lambda": {"userId": True}}),
        lambda e: e["requestContext"].__setitem__("stage", 5),
        lambda e: e["requestContext"].__setitem__("requestId", {"x": 1}),
    ]:
        event = http_event("GET", "/status", query={"assemblyId": VALID})
        mutate(event)
        cases.append((f"event shape #{len(cases)}", event))
    for event in [None, 0, 1.5, "x", [], [VALID], {"requestContext": None}, {"requestContext": {"http": None}},
                  {"assemblyId": None}, {"assemblyId": [VALID]}, {"assemblyId": {"S": VALID}},
                  {"assemblyId": VALID, "userId": 0}, {"assemblyId": VALID, "userId": True},
                  {"assemblyId": VALID, "userId": "u" * 5000}, {"assemblyId": VALID, "triggerWebhook": 1},
                  {"assemblyId": VALID, "triggerWebhook": "true"}, {"assemblyId": VALID, "ifNoneMatch": []},
                  {"assembly_id": "nope"}, {"httpMethod": "GET", "path": "/status"}]:
        cases.append((f"direct {str(event)[:30]}", event))
    return cases


CASES = _cases()


def test_the_corpus_is_large():
    assert len(CASES) >= 400


def _record_keys(client: Any, sent: list[str]) -> None:
    """Record every assembly id the handler puts in a DynamoDB request (moto does not enforce
    DynamoDB's key rules, e.g. 2048 bytes at most, so the test checks what reaches the store)."""

    def hook(params: dict[str, Any], **_: Any) -> None:
        keys = [params.get("Key"), params.get("ExclusiveStartKey")]
        for table in (params.get("RequestItems") or {}).values():
            keys.extend(table.get("Keys", []))
        for key in keys:
            if key and schema.PARTITION_KEY in key:
                sent.append(key[schema.PARTITION_KEY]["S"])

    client.meta.events.register("provide-client-params.dynamodb.*", hook)


def test_no_malformed_request_yields_a_500_and_every_error_is_json(status_env, capsys):
    from transflow_runtime.handlers import status as status_handler

    sent: list[str] = []
    client = boto3.client("dynamodb", region_name="us-east-1")
    _record_keys(client, sent)
    status_handler.reset_for_tests(dynamodb=client)
    failures = []
    for name, event in CASES:
        response = call(event)
        status = response.get("statusCode")
        try:
            body = json.loads(response["body"]) if response.get("body") else None
        except ValueError:
            failures.append((name, status, "body is not JSON"))
            continue
        if not isinstance(status, int) or status >= 500:
            failures.append((name, status, body))
        elif status >= 400 and not (
            isinstance(body, dict) and set(body) == {"error"} and isinstance(body["error"], str)
        ):
            failures.append((name, status, "error body is not {'error': str}"))
        elif status >= 400 and ("Traceback" in body["error"] or "botocore" in body["error"]):
            failures.append((name, status, "internal detail leaked"))
    assert not failures, failures[:20]
    # Only well-formed ids ever reach DynamoDB; the corpus's valid neighbours do reach it.
    assert sent and {i for i in sent if not re.fullmatch(schema.DEFAULT_ASSEMBLY_ID_PATTERN, i)} == set()
    assert "status_error" not in capsys.readouterr().out  # no unexpected exception was even logged


def test_the_corpus_does_reach_the_store_with_its_valid_neighbours(status_env, store):
    """Guard against a corpus that fails only because nothing works: valid requests still succeed."""
    store.create(VALID, user_id="alice", template_id="tpl")
    assert call(http_event("GET", "/status", query={"assemblyId": VALID}))["statusCode"] == 200
    assert call(http_event("POST", "/status/batch", body=json.dumps({"assemblyIds": [VALID]})))["statusCode"] == 200
    assert call(http_event("GET", "/assemblies", query={"limit": "5", "active": "true"}))["statusCode"] == 200
    assert call({"assemblyId": VALID, "userId": "alice"})["statusCode"] == 200


@pytest.mark.parametrize("env_name", [schema.ENV_TABLE_NAME])
def test_a_missing_table_setting_is_a_generic_500_for_any_request(status_env, monkeypatch, env_name):
    from transflow_runtime.handlers import status as status_handler

    monkeypatch.delenv(env_name)
    status_handler.reset_for_tests()
    response = call(http_event("GET", "/status", query={"assemblyId": VALID}))
    assert response["statusCode"] == 500
    assert json.loads(response["body"]) == {"error": "the status service is misconfigured"}
