"""Local mode's event sources behave as the construct's Lambda event source mappings do on AWS:
the stream mapping (filter, bisect on error, retries, on-failure queue) and the SQS mapping
(partial batch responses). AWS is the session's moto server; the handlers are plain functions.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from transflow_runtime import schema
from transflow_runtime.local.pumps import QueuePoller, StreamPump
from transflow_runtime.resources import create_table

REGION = "us-east-1"


def _client(service: str, endpoint: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION)


def _key(record: dict[str, Any]) -> str:
    return record["dynamodb"]["Keys"][schema.PARTITION_KEY]["S"]


@pytest.fixture
def stream(moto_endpoint: str) -> tuple[Callable[[str], Any], str]:
    """A fresh table with its stream: (a function putting an item with the given key, stream ARN)."""
    dynamodb = _client("dynamodb", moto_endpoint)
    name = f"pump-{uuid.uuid4().hex[:8]}"
    create_table(dynamodb, name)
    arn = dynamodb.describe_table(TableName=name)["Table"]["LatestStreamArn"]

    def put(key: str, **attributes: Any) -> Any:
        item = {schema.PARTITION_KEY: {"S": key}, **attributes}
        return dynamodb.put_item(TableName=name, Item=item)

    return put, arn


@pytest.fixture
def failure_queue(moto_endpoint: str) -> str:
    return _client("sqs", moto_endpoint).create_queue(QueueName=f"stream-failures-{uuid.uuid4().hex[:8]}")["QueueUrl"]


def _failure_messages(moto_endpoint: str, queue_url: str) -> list[dict[str, Any]]:
    response = _client("sqs", moto_endpoint).receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in response.get("Messages", [])]


def _run(pump: StreamPump, until: Any, ticks: int = 60) -> None:
    for _ in range(ticks):
        pump.tick()
        if until():
            return


class _Dispatcher:
    """Raises (or reports a batch item failure) for any batch holding a poison record."""

    def __init__(self, *, report: bool = False) -> None:
        self.report = report
        self.delivered: list[str] = []
        self.poison_invocations = 0

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        keys = [_key(r) for r in event["Records"]]
        if "poison" not in keys:
            self.delivered.extend(keys)
            return {"batchItemFailures": []}
        if keys == ["poison"]:
            self.poison_invocations += 1
        if not self.report:
            raise RuntimeError("cannot dispatch the poison record")
        index = keys.index("poison")
        self.delivered.extend(keys[:index])
        return {"batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]}
                                      for r in event["Records"][index:]]}


@pytest.mark.parametrize("report", [False, True], ids=["dispatcher-raises", "dispatcher-reports-failures"])
def test_stream_pump_bisects_so_good_records_batched_with_a_poison_one_are_delivered(
    moto_endpoint, stream, failure_queue, report
):
    put, arn = stream
    for key in ("good-1", "poison", "good-2"):
        put(key)
    dispatcher = _Dispatcher(report=report)
    pump = StreamPump(_client("dynamodbstreams", moto_endpoint), arn, dispatcher, max_retries=2, retry_backoff=0,
                      failure_sqs_client=_client("sqs", moto_endpoint), failure_queue_url=failure_queue)
    _run(pump, lambda: len(dispatcher.delivered) == 2 and pump.dropped_records == 1)

    assert dispatcher.delivered == ["good-1", "good-2"]
    assert pump.dropped_records == 1
    # The poison record alone: the first invocation plus max_retries retries, then it is given up.
    assert dispatcher.poison_invocations == 3


def test_stream_pump_sends_a_dropped_record_to_the_failure_queue_as_lambdas_on_failure_destination(
    moto_endpoint, stream, failure_queue
):
    put, arn = stream
    put("poison")
    streams = _client("dynamodbstreams", moto_endpoint)
    shard_id = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    dispatcher = _Dispatcher()
    pump = StreamPump(streams, arn, dispatcher, max_retries=1, retry_backoff=0, function_name="dispatcher-fn",
                      failure_sqs_client=_client("sqs", moto_endpoint), failure_queue_url=failure_queue)
    _run(pump, lambda: pump.dropped_records == 1)

    messages = _failure_messages(moto_endpoint, failure_queue)
    assert len(messages) == 1
    record = messages[0]
    assert set(record) == {"requestContext", "responseContext", "version", "timestamp", "DDBStreamBatchInfo"}
    assert record["version"] == "1.0"
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["requestContext"]["functionArn"].endswith(":function:dispatcher-fn")
    assert record["responseContext"]["functionError"] == "Unhandled"
    info = record["DDBStreamBatchInfo"]
    sequence_number = streams.get_records(
        ShardIterator=streams.get_shard_iterator(StreamArn=arn, ShardId=shard_id,
                                                 ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    )["Records"][0]["dynamodb"]["SequenceNumber"]
    assert info["shardId"] == shard_id
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == sequence_number
    assert info["batchSize"] == 1
    assert info["streamArn"] == arn
    for field in ("approximateArrivalOfFirstRecord", "approximateArrivalOfLastRecord"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", info[field]), info[field]


def test_stream_pump_applies_the_constructs_terminal_filter_criteria(moto_endpoint, stream):
    """With terminal.STREAM_FILTER_PATTERNS (the construct's FilterCriteria) only terminal records
    by either convention invoke the dispatcher; the others are dropped before it, as Lambda drops them."""
    from transflow_runtime.terminal import STREAM_FILTER_PATTERNS

    put, arn = stream
    put("done", ok={"S": schema.OK_COMPLETED})
    put("active", ok={"NULL": True}, state={"S": schema.STATE_EXECUTING})
    put("seed-failed", ok={"NULL": True}, error={"S": "PROCESSING_ERROR"})
    seen: list[str] = []

    def dispatcher(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        seen.extend(_key(r) for r in event["Records"])
        return {"batchItemFailures": []}

    pump = StreamPump(_client("dynamodbstreams", moto_endpoint), arn, dispatcher, retry_backoff=0,
                      filters=[json.dumps(p) for p in STREAM_FILTER_PATTERNS])
    _run(pump, lambda: pump.filtered_records + len(seen) >= 3)
    assert seen == ["done", "seed-failed"] and pump.filtered_records == 1 and pump.invocations == 1


def test_stream_pump_retries_as_often_as_the_construct(moto_endpoint):
    from transflow_constructs import status
    pump = StreamPump(_client("dynamodbstreams", moto_endpoint), "arn:stream", lambda e, c: {})
    assert pump.max_retries == status.DEFAULT_STREAM_RETRY_ATTEMPTS == schema.DEFAULT_STREAM_RETRY_ATTEMPTS


# ------------------------------------------------------------------------------ SQS event source
@pytest.fixture
def webhook_queue(moto_endpoint: str) -> tuple[Any, str]:
    """A queue whose received messages are visible again at once, holding three messages."""
    sqs = _client("sqs", moto_endpoint)
    url = sqs.create_queue(QueueName=f"hooks-{uuid.uuid4().hex[:8]}", Attributes={"VisibilityTimeout": "0"})["QueueUrl"]
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": i}))
    return sqs, url


def _messages_left(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


@pytest.mark.parametrize("identifier", ["not-a-message-id", "", None], ids=["unknown", "empty", "null"])
def test_sqs_event_source_treats_an_invalid_item_identifier_as_a_whole_batch_failure(webhook_queue, identifier):
    sqs, url = webhook_queue
    seen: list[int] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append(len(event["Records"]))
        return {"batchItemFailures": [{"itemIdentifier": identifier}]}

    QueuePoller(sqs, url, "arn:aws:sqs:us-east-1:123456789012:q", handler).tick()
    assert seen == [3]
    assert _messages_left(sqs, url) == 3


def test_sqs_event_source_deletes_all_but_the_reported_failures(webhook_queue):
    sqs, url = webhook_queue

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}

    QueuePoller(sqs, url, "arn:aws:sqs:us-east-1:123456789012:q", handler).tick()
    assert _messages_left(sqs, url) == 1


# ------------------------------------------------------------------------------ FilterCriteria
def test_stream_pump_applies_the_mappings_filter_criteria_as_lambda_does(moto_endpoint, stream, failure_queue):
    """Lambda "event filtering": a record reaches the function when it matches any filter
    (EventBridge pattern syntax, here on the new image as in DynamoDB JSON); others are dropped."""
    put, arn = stream
    put("plain")
    put("plain")  # MODIFY of the same item (no state)
    seen: list[tuple[str, str]] = []

    def dispatcher(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.extend((r["eventName"], _key(r)) for r in event["Records"])
        return {"batchItemFailures": []}

    patterns = [json.dumps({"eventName": ["INSERT"]}),
                json.dumps({"dynamodb": {"NewImage": {"state": {"S": ["ASSEMBLY_COMPLETED"]}}}})]
    pump = StreamPump(_client("dynamodbstreams", moto_endpoint), arn, dispatcher, filters=patterns,
                      failure_sqs_client=_client("sqs", moto_endpoint), failure_queue_url=failure_queue)
    _run(pump, lambda: pump.filtered_records >= 1, ticks=20)
    assert seen == [("INSERT", "plain")]
    assert pump.filtered_records == 1


def test_stopping_the_sqs_poller_waits_for_batches_in_flight(webhook_queue):
    """Local mode stops the pollers before the gateway and moto: a batch still running in a
    concurrent worker must finish first, or its delete/visibility calls hit a stopped endpoint
    (found as a Traceback in local mode's log when schemathesis' replays were being delivered)."""
    import threading
    import time

    sqs, url = webhook_queue
    entered, finished = threading.Event(), threading.Event()

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        entered.set()
        time.sleep(0.5)
        finished.set()
        return {"batchItemFailures": []}

    poller = QueuePoller(sqs, url, "arn:aws:sqs:us-east-1:123456789012:q", handler, max_concurrency=2)
    poller.start()
    assert entered.wait(10)
    poller.stop()
    assert finished.is_set(), "stop() returned while a batch was still being handled"


# ------------------------------------------------------------------------------ failures and filters
class _Failing:
    """A streams client whose every call fails (a stream that is not there)."""

    calls = 0

    def describe_stream(self, **_: Any) -> Any:
        from botocore.exceptions import ClientError

        self.calls += 1
        raise ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "no stream"}}, "DescribeStream")


class _Waits:
    """Stands in for the pump's stop event: records each pause, stops after ``limit`` of them."""

    def __init__(self, limit: int) -> None:
        self.pauses: list[float] = []
        self.limit = limit

    def is_set(self) -> bool:
        return len(self.pauses) >= self.limit

    def wait(self, seconds: float) -> bool:
        self.pauses.append(seconds)
        return self.is_set()


def test_a_pump_that_keeps_failing_logs_once_and_backs_off(caplog):
    """Before: a traceback every 0.1 s for as long as the failure lasted (842 lines in 8 s)."""
    client = _Failing()
    pump = StreamPump(client, "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x", lambda e, c: {},
                      interval=0.1)
    pump._stop = _Waits(limit=8)  # type: ignore[assignment]
    with caplog.at_level("DEBUG", logger="transflow.local"):
        pump._run()
    assert client.calls == 8 and pump.errors == 8
    assert pump._stop.pauses == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0]  # type: ignore[attr-defined]
    records = [r for r in caplog.records if r.name == "transflow.local"]
    assert len(records) == 1 and records[0].exc_info is None
    assert "ResourceNotFoundException" in records[0].getMessage() and "\n" not in records[0].getMessage()


def test_sqs_filter_criteria_match_a_json_body_as_lambda_does(moto_endpoint):
    """"Filtering events from an Amazon SQS event source": when the body is valid JSON, Lambda
    filters on its content; a body that is not JSON is matched as a plain string. A message that
    matches no filter is deleted without invoking the function, and the function gets the body
    as it was sent (a string)."""
    sqs = _client("sqs", moto_endpoint)
    url = sqs.create_queue(QueueName=f"filtered-{uuid.uuid4().hex[:8]}", Attributes={"VisibilityTimeout": "0"})[
        "QueueUrl"]
    for body in ('{"event": "completed"}', '{"event": "failed"}', "hello", "goodbye"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    bodies: list[str] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        bodies.extend(record["body"] for record in event["Records"])
        return {}

    poller = QueuePoller(sqs, url, "arn:aws:sqs:us-east-1:123456789012:q", handler, batch_size=10,
                         filters=['{"body": {"event": ["completed"]}}', '{"body": ["hello"]}'])
    for _ in range(5):
        if _messages_left(sqs, url) == 0:
            break
        poller.tick()
    assert sorted(bodies) == sorted(['{"event": "completed"}', "hello"])
    assert _messages_left(sqs, url) == 0
