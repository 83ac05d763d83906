"""The light clients against boto3's, on the same moto server, for the calls the handlers make.

Same JSON sent (DynamoDB JSON with base64 binaries, as botocore serializes it), same answers
(DynamoDB items with ``bytes`` binaries, SQS message ids, secret values, ``CreatedDate`` as a
datetime) and the same errors: the same exception class name, message and ``response["Error"]``.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest
from transflow_runtime.aws.dynamodb import DynamoDBClient
from transflow_runtime.aws.secretsmanager import SecretsManagerClient
from transflow_runtime.aws.sqs import SQSClient

from .conftest import REGION, BotoRecorder, RecordingTransport, light_environment

MODELED_KEYS = {
    "get_item": ("Item", "ConsumedCapacity"),
    "batch_get_item": ("Responses", "UnprocessedKeys", "ConsumedCapacity"),
    "query": ("Items", "Count", "ScannedCount", "LastEvaluatedKey", "ConsumedCapacity"),
}


@pytest.fixture
def tables(moto_endpoint: str) -> dict[str, str]:
    """A status-like table (string key, user index) and one keyed by a binary attribute."""
    from transflow_runtime.resources import create_table

    ddb = boto3.client("dynamodb", region_name=REGION, endpoint_url=moto_endpoint)
    status = f"status-{uuid.uuid4().hex[:8]}"
    create_table(ddb, status)
    binary = f"binary-{uuid.uuid4().hex[:8]}"
    ddb.create_table(TableName=binary, KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "B"}],
                     BillingMode="PAY_PER_REQUEST")
    for i in range(5):
        ddb.put_item(TableName=status, Item={
            "assembly_id": {"S": f"a{i}"}, "user_id": {"S": "alice"}, "created_at": {"S": f"2026-01-0{i + 1}"},
            "state": {"S": "ASSEMBLY_COMPLETED" if i % 2 else "ASSEMBLY_EXECUTING"}, "n": {"N": "12.50"},
            "blob": {"B": bytes([i, 255])}, "tags": {"SS": ["x", "y"]}, "nums": {"NS": ["1", "2.5"]},
            "bins": {"BS": [b"\x00", b"\x01"]}, "user": {"M": {"userId": {"S": "alice"}}},
            "results": {"L": [{"M": {"size": {"N": "1000000"}, "ok": {"BOOL": True}, "none": {"NULL": True}}}]},
        })
    ddb.put_item(TableName=binary, Item={"k": {"B": b"\x00key\xff"}, "v": {"S": "binary keyed"}})
    return {"status": status, "binary": binary}


def _modeled(out: dict[str, Any], operation: str) -> dict[str, Any]:
    return {k: out[k] for k in MODELED_KEYS[operation] if k in out}


def _calls(tables: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    status, binary = tables["status"], tables["binary"]
    return [
        ("get_item", {"TableName": status, "Key": {"assembly_id": {"S": "a1"}}}),
        ("get_item", {"TableName": status, "Key": {"assembly_id": {"S": "missing"}}, "ConsistentRead": True}),
        ("get_item", {"TableName": binary, "Key": {"k": {"B": b"\x00key\xff"}}}),
        ("get_item", {"TableName": status, "Key": {"assembly_id": {"S": "a2"}},
                      "ProjectionExpression": "#s, #b", "ExpressionAttributeNames": {"#s": "state", "#b": "blob"}}),
        ("batch_get_item", {"RequestItems": {status: {"Keys": [{"assembly_id": {"S": f"a{i}"}} for i in range(4)]},
                                             binary: {"Keys": [{"k": {"B": b"\x00key\xff"}}]}}}),
        ("query", {"TableName": status, "IndexName": "by-user-created", "KeyConditionExpression": "#u = :u",
                   "ExpressionAttributeNames": {"#u": "user_id"}, "ExpressionAttributeValues": {":u": {"S": "alice"}},
                   "ScanIndexForward": False, "Limit": 2}),
        ("query", {"TableName": status, "IndexName": "by-user-created", "KeyConditionExpression": "#u = :u",
                   "FilterExpression": "NOT (#s IN (:t0))",
                   "ExpressionAttributeNames": {"#u": "user_id", "#s": "state"},
                   "ExpressionAttributeValues": {":u": {"S": "alice"}, ":t0": {"S": "ASSEMBLY_COMPLETED"}},
                   "ExclusiveStartKey": {"assembly_id": {"S": "a4"}, "user_id": {"S": "alice"},
                                         "created_at": {"S": "2026-01-05"}}}),
    ]


def test_dynamodb_reads_send_and_answer_what_boto3_sends_and_answers(
    moto_endpoint: str, tables: dict[str, str], recording_transport: RecordingTransport
) -> None:
    boto = BotoRecorder("dynamodb", moto_endpoint)
    light = DynamoDBClient(light_environment(moto_endpoint), transport=recording_transport)
    for operation, params in _calls(tables):
        theirs = getattr(boto.client, operation)(**params)
        ours = getattr(light, operation)(**params)
        assert json.loads(recording_transport.sent[-1][2]) == json.loads(boto.bodies[-1]), operation
        assert _modeled(ours, operation) == _modeled(theirs, operation), operation
        assert ours["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert ours["ResponseMetadata"]["RetryAttempts"] == theirs["ResponseMetadata"]["RetryAttempts"] == 0


def test_binary_values_come_back_as_bytes(moto_endpoint: str, tables: dict[str, str]) -> None:
    light = DynamoDBClient(light_environment(moto_endpoint))
    item = light.get_item(TableName=tables["status"], Key={"assembly_id": {"S": "a3"}})["Item"]
    assert item["blob"] == {"B": bytes([3, 255])} and item["bins"] == {"BS": [b"\x00", b"\x01"]}


def _error(fn: Any) -> tuple[str, str, dict[str, Any]]:
    with pytest.raises(Exception) as caught:
        fn()
    exc = caught.value
    return type(exc).__name__, str(exc), exc.response["Error"]  # type: ignore[attr-defined]


def test_dynamodb_errors_are_boto3s(moto_endpoint: str, tables: dict[str, str]) -> None:
    boto = boto3.client("dynamodb", region_name=REGION, endpoint_url=moto_endpoint)
    light = DynamoDBClient(light_environment(moto_endpoint))
    for operation, params in [
        ("get_item", {"TableName": "no-such-table", "Key": {"assembly_id": {"S": "a"}}}),  # modeled
        ("get_item", {"TableName": tables["status"], "Key": {"wrong": {"S": "a"}}}),  # ValidationException
        ("query", {"TableName": tables["status"], "IndexName": "no-such-index", "KeyConditionExpression": "#u = :u",
                   "ExpressionAttributeNames": {"#u": "user_id"}, "ExpressionAttributeValues": {":u": {"S": "x"}}}),
    ]:
        theirs = _error(lambda op=operation, p=params: getattr(boto, op)(**p))
        ours = _error(lambda op=operation, p=params: getattr(light, op)(**p))
        assert ours == theirs


def test_sqs_send_message_is_boto3s(moto_endpoint: str, recording_transport: RecordingTransport) -> None:
    boto = BotoRecorder("sqs", moto_endpoint)
    url = boto.client.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    light = SQSClient(light_environment(moto_endpoint), transport=recording_transport)
    params = {"QueueUrl": url, "MessageBody": '{"assembly_id": "a", "event": "replay", "é": "☃"}',
              "MessageAttributes": {"kind": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}}}
    theirs = boto.client.send_message(**params)
    ours = light.send_message(**dict(params))
    assert json.loads(recording_transport.sent[-1][2]) == json.loads(boto.bodies[-1])
    assert ours["MD5OfMessageBody"] == theirs["MD5OfMessageBody"]
    assert ours["MD5OfMessageAttributes"] == theirs["MD5OfMessageAttributes"]
    got = boto.client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])["Messages"]
    assert [m["MessageId"] for m in got] == [theirs["MessageId"], ours["MessageId"]]
    assert {m["Body"] for m in got} == {params["MessageBody"]}


def test_sqs_errors_are_boto3s(moto_endpoint: str) -> None:
    """A missing queue: the class is QueueDoesNotExist, the code the query-protocol one."""
    boto = boto3.client("sqs", region_name=REGION, endpoint_url=moto_endpoint)
    light = SQSClient(light_environment(moto_endpoint))
    params = {"QueueUrl": f"{moto_endpoint}/123456789012/no-such-queue", "MessageBody": "x"}
    theirs = _error(lambda: boto.send_message(**params))
    assert _error(lambda: light.send_message(**params)) == theirs
    assert theirs[0] == "QueueDoesNotExist" and theirs[2]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"


def test_secrets_manager_get_secret_value_is_boto3s(moto_endpoint: str) -> None:
    boto = boto3.client("secretsmanager", region_name=REGION, endpoint_url=moto_endpoint)
    light = SecretsManagerClient(light_environment(moto_endpoint))
    text = boto.create_secret(Name=f"s-{uuid.uuid4().hex[:8]}", SecretString="sëcret")["ARN"]
    binary = boto.create_secret(Name=f"b-{uuid.uuid4().hex[:8]}", SecretBinary=b"\x00\xffkey")["ARN"]
    keys = ("ARN", "Name", "VersionId", "SecretString", "SecretBinary", "VersionStages", "CreatedDate")
    for arn in (text, binary):
        theirs, ours = boto.get_secret_value(SecretId=arn), light.get_secret_value(SecretId=arn)
        assert {k: ours.get(k) for k in keys} == {k: theirs.get(k) for k in keys}
    assert _error(lambda: light.get_secret_value(SecretId="no-such")) == _error(
        lambda: boto.get_secret_value(SecretId="no-such"))
