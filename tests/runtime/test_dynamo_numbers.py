"""Numbers DynamoDB stores are read back, whatever their spelling: never a 500.

DynamoDB numbers have "up to 38 digits of precision" and magnitudes from 1E-130 to about 1E+126
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html#HowItWorks.DataTypes.Number);
DynamoDB accepts ``1234567895171680000000000000000000000000`` (16 significant digits, 40
characters), which is how the AWS SDK for JavaScript v3 sends a ``BigInt`` of that value. boto3's
``TypeDeserializer`` builds numbers in a 38-digit context that traps ``Rounded``, so before the fix
every read of such an item raised (boto3 issue #2500) and the API answered 500.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from transflow_runtime.dynamo import deserialize_item

from tests.runtime.status_support import (
    aid,
    body_of,
    call,
    http_event,
    status_env_fixture,  # noqa: F401 - the ``status_env`` fixture
)
from tests.runtime.webhook_receivers import Receiver, WebhookHarness

#: Valid DynamoDB numbers that do not fit boto3's decimal context as written.
WIDE_NUMBERS = [
    "1234567895171680000000000000000000000000",
    "-12345678900000000000000000000000000000000",
    "1.0000000000000000000000000000000000000000",
]


def foreign_item(ident: str, number: str, **more) -> dict:
    return {
        "assembly_id": {"S": ident}, "user": {"M": {"userId": {"S": "alice"}}}, "user_id": {"S": "alice"},
        "created_at": {"S": "2026-01-01T00:00:00.000Z"}, "updated_at": {"S": "2026-01-01T00:00:00.000Z"},
        "template_id": {"S": "tpl"}, "ok": {"S": "ASSEMBLY_COMPLETED"},
        "results": {"M": {"encode": {"L": [{"M": {"id": {"S": "r1"}, "name": {"S": "a.mp3"}, "size": {"N": "1"},
                                                  "meta": {"M": {"sample_id": {"N": number}}}}}]}}},
        "counts": {"NS": [number, "2"]}, **more,
    }


@pytest.mark.parametrize("number", WIDE_NUMBERS)
def test_deserializing_a_number_wider_than_38_digits_is_exact(number):
    item = deserialize_item(foreign_item("x", number))
    assert item["results"]["encode"][0]["meta"]["sample_id"] == Decimal(number)
    assert Decimal(number) in item["counts"]


@pytest.mark.parametrize("number", WIDE_NUMBERS)
def test_every_read_route_answers_an_item_with_a_wide_number(status_env, dynamodb, number):
    ident = aid(60)
    dynamodb.put_item(TableName=status_env.table_name, Item=foreign_item(ident, number))
    single = call(http_event("GET", "/status", query={"assemblyId": ident}))
    assert single["statusCode"] == 200, single
    # JSON.parse in the receiver makes it a double; the body is what JSON.stringify would write.
    expected = json.loads(json.dumps(float(Decimal(number))))
    assert body_of(single)["results"]["encode"][0]["meta"]["sample_id"] == expected
    batch = call(http_event("POST", "/status/batch", body=json.dumps({"assemblyIds": [ident]})))
    assert batch["statusCode"] == 200 and body_of(batch)["assemblies"][ident]["assembly_id"] == ident
    listed = call(http_event("GET", "/assemblies"))
    assert listed["statusCode"] == 200 and [a["assembly_id"] for a in body_of(listed)["assemblies"]] == [ident]


def test_typed_reads_of_an_item_with_a_wide_number(store, dynamodb, table_name):
    ident = aid(61)
    dynamodb.put_item(TableName=table_name, Item=foreign_item(ident, WIDE_NUMBERS[0]))
    assert store.get(ident).assembly_id == ident
    assert store.get_many([ident])[ident].ok == "ASSEMBLY_COMPLETED"


def test_the_webhook_of_an_item_with_a_wide_number_is_delivered_not_retried(moto_endpoint):
    h = WebhookHarness(moto_endpoint)
    ident = aid(62)
    h.dynamodb.put_item(TableName=h.table_name, Item=foreign_item(ident, WIDE_NUMBERS[0]))
    with Receiver() as receiver:
        h.enqueue(ident)
        _count, response = h.run_batch(h.sender({"targets": {"tpl": {"url": receiver.url, "secret": "s3cret"}}})
                                       .process_batch)
    assert response == {"batchItemFailures": []} and h.dead_letters() == []
    [request] = receiver.requests
    assert json.loads(request.body)["assembly_id"] == ident
