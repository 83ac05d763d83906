"""Items another writer corrupted never break reads: the API answers what it can serialize (a value
JSON cannot hold, i.e. DynamoDB's binary ``B``/``BS``, as null) and never a 500; webhooks are
delivered, not dead-lettered; typed reads drop what does not fit the schema.

DynamoDB's attribute types: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html
"""

from __future__ import annotations

import json

import pytest
from transflow_runtime import AssemblyStatus, StatusClient, verify_webhook
from transflow_runtime.serialize import js_dumps

from tests.runtime.status_support import (
    aid,
    body_of,
    call,
    headers_of,
    http_event,
    status_env_fixture,  # noqa: F401 - the ``status_env`` fixture
)
from tests.runtime.test_clients import api, token  # noqa: F401 - the ``api`` fixture
from tests.runtime.webhook_receivers import Receiver, WebhookHarness

SECRET = "whsec_Y29ycnVwdC1pdGVtLXRlc3RzLXNlY3JldC1rZXkh"

#: Everything another writer can put in an item that JSON or the schema cannot take as is.
CORRUPT = {
    "thumbnail": {"B": b"\x89PNG\r\n"},
    "signatures": {"BS": [b"\x01", b"\x02"]},
    "meta": {"M": {"raw": {"B": b"\x00"}, "ok": {"S": "kept"}}},
    "chunks": {"L": [{"S": "a"}, {"B": b"\xff"}, {"N": "3"}]},
    "tags": {"SS": ["b", "a"]},
    "steps_total": {"S": "three"},
    "progress_pct": {"M": {"value": {"N": "50"}}},
    "uploads": {"L": [{"M": {"id": {"S": "u1"}, "name": {"S": "a.wav"}, "size": {"S": "big"}}}]},
}


def put_corrupt(dynamodb, table: str, ident: str, **more) -> None:
    dynamodb.put_item(TableName=table, Item={
        "assembly_id": {"S": ident}, "user": {"M": {"userId": {"S": "alice"}}}, "user_id": {"S": "alice"},
        "created_at": {"S": "2026-01-01T00:00:00.000Z"}, "updated_at": {"S": "2026-01-01T00:00:00.000Z"},
        "template_id": {"S": "tpl"}, "state": {"S": "ASSEMBLY_EXECUTING"}, **CORRUPT, **more,
    })


EXPECTED_VIEW = {
    "thumbnail": None,
    "signatures": None,
    "meta": {"raw": None, "ok": "kept"},
    "chunks": ["a", None, 3],
    "tags": ["a", "b"],
}
#: Fields the OpenAPI document types (AssemblyStatus) are left out when the stored value does not
#: fit, so generated clients never see a contradiction (wire_schema.conforming, review 13 finding 1).
LEFT_OUT = ("steps_total", "progress_pct", "uploads")


def test_every_read_route_answers_a_corrupted_item_instead_of_500(status_env, dynamodb):
    ident = aid(40)
    put_corrupt(dynamodb, status_env.table_name, ident)
    single = call(http_event("GET", "/status", query={"assemblyId": ident}))
    assert single["statusCode"] == 200, single
    view = body_of(single)
    assert {k: view[k] for k in EXPECTED_VIEW} == EXPECTED_VIEW
    assert not any(k in view for k in LEFT_OUT), view
    assert headers_of(single)["etag"].startswith('"')
    again = call(http_event("GET", "/status", query={"assemblyId": ident},
                            headers={"if-none-match": headers_of(single)["etag"]}))
    assert again["statusCode"] == 304
    batch = call(http_event("POST", "/status/batch", body=json.dumps({"assemblyIds": [ident]})))
    assert batch["statusCode"] == 200 and body_of(batch)["assemblies"][ident]["thumbnail"] is None
    listed = call(http_event("GET", "/assemblies"))
    assert listed["statusCode"] == 200 and [a["assembly_id"] for a in body_of(listed)["assemblies"]] == [ident]
    direct = call({"assemblyId": ident, "userId": "alice"})
    assert direct["statusCode"] == 200 and json.loads(direct["body"])["chunks"] == ["a", None, 3]


def test_a_version_less_corrupted_items_etag_is_stable(status_env, dynamodb):
    ident = aid(41)
    put_corrupt(dynamodb, status_env.table_name, ident)
    first = headers_of(call(http_event("GET", "/status", query={"assemblyId": ident})))["etag"]
    assert headers_of(call(http_event("GET", "/status", query={"assemblyId": ident})))["etag"] == first


def test_the_webhook_of_a_corrupted_item_is_delivered_and_signed_not_dead_lettered(moto_endpoint):
    h = WebhookHarness(moto_endpoint)
    ident = aid(42)
    put_corrupt(h.dynamodb, h.table_name, ident, state={"S": "ASSEMBLY_COMPLETED"}, ok={"S": "ASSEMBLY_COMPLETED"})
    with Receiver() as receiver:
        h.enqueue(ident)
        _count, response = h.run_batch(h.sender({"targets": {"tpl": {"url": receiver.url, "secret": SECRET}}})
                                       .process_batch)
    assert response == {"batchItemFailures": []} and h.dead_letters() == []
    [request] = receiver.requests
    body = json.loads(request.body)
    assert {k: body[k] for k in EXPECTED_VIEW} == EXPECTED_VIEW
    # Both signatures hold, and the seed's receiver (JSON.stringify after JSON.parse) sees the same bytes.
    assert verify_webhook(request.body, request.headers, SECRET).assembly_id == ident
    assert js_dumps(body) == request.body.decode()
    assert h.store.get_item(ident)["notify_status"] == "delivered"


def test_typed_reads_drop_what_does_not_fit_the_schema(store, dynamodb, table_name):
    ident = aid(43)
    put_corrupt(dynamodb, table_name, ident)
    status = store.get(ident)
    assert isinstance(status, AssemblyStatus) and status.assembly_id == ident
    assert status.steps_total is None and status.progress_pct is None and status.uploads == []
    assert status.model_dump()["meta"]["ok"] == "kept"
    assert store.get_item(ident)["steps_total"] == "three", "the raw value is still there"
    [listed], _ = store.list_for_user("alice")
    assert listed.assembly_id == ident


@pytest.mark.parametrize("missing", ["template_id", "created_at", "user"])
def test_a_typed_read_of_an_item_without_a_required_field_names_it(store, dynamodb, table_name, missing):
    ident = aid(44)
    put_corrupt(dynamodb, table_name, ident)
    dynamodb.update_item(TableName=table_name, Key={"assembly_id": {"S": ident}}, UpdateExpression="REMOVE #m",
                         ExpressionAttributeNames={"#m": missing})
    with pytest.raises(ValueError, match=missing):
        store.get(ident)


def test_status_client_reads_a_corrupted_item_through_the_api(api, dynamodb, status_env):  # noqa: F811
    ident = aid(45)
    put_corrupt(dynamodb, status_env.table_name, ident)
    client = StatusClient(api, token("alice"))
    status = client.get(ident)
    assert status.assembly_id == ident and status.steps_total is None
    assert client.get_many([ident])[ident].assembly_id == ident
    assert [a.assembly_id for a in client.list().assemblies] == [ident]
