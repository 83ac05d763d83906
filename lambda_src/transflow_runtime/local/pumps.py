"""The two event sources AWS runs for the construct, emulated against moto:

* ``StreamPump``: DynamoDB stream -> dispatcher function (event filter, batches, partial batch
  failures: the batch is retried from the first failed record, as Lambda checkpoints it);
* ``QueuePoller``: webhook queue -> webhook function (batches of 10, ``ReportBatchItemFailures``:
  only the failed messages stay on the queue, their visibility set by the handler; the queue's
  redrive policy moves them to the DLQ as on AWS).

No long polling: the embedded moto server handles one request at a time, so a blocking receive
would stall every other caller.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from .lambda_context import LocalLambdaContext

log = logging.getLogger("transflow.local")

Handler = Callable[[dict[str, Any], Any], Any]
STREAM_FILTER_EVENTS = frozenset({"INSERT", "MODIFY"})


class _Loop:
    name = "loop"

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.tick()
            except Exception:
                self.errors += 1
                log.exception("%s failed; retrying", self.name)
                busy = False
            if not busy:
                self._stop.wait(self.interval)

    def tick(self) -> bool:  # pragma: no cover - overridden
        raise NotImplementedError


class StreamPump(_Loop):
    """Reads every shard of the table's stream and feeds the dispatcher handler."""

    name = "stream-pump"

    def __init__(
        self,
        streams_client: Any,
        stream_arn: str,
        handler: Handler,
        *,
        function_name: str = "transflow-local-dispatcher",
        region: str = "us-east-1",
        batch_size: int = 100,
        max_retries: int = 3,
        interval: float = 0.1,
    ) -> None:
        super().__init__(interval)
        self.client = streams_client
        self.stream_arn = stream_arn
        self.handler = handler
        self.function_name = function_name
        self.region = region
        self.batch_size = batch_size
        self.max_retries = max_retries
        self._iterators: dict[str, str | None] = {}
        self._pending: dict[str, list[dict[str, Any]]] = {}
        self._attempts: dict[str, int] = {}
        self.delivered_records = 0
        self.dropped_records = 0

    def _refresh_shards(self) -> None:
        shards = self.client.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                self._iterators[shard_id] = self.client.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
                self._pending[shard_id] = []

    def tick(self) -> bool:
        self._refresh_shards()
        busy = False
        for shard_id, iterator in list(self._iterators.items()):
            pending = self._pending[shard_id]
            if len(pending) < self.batch_size and iterator:
                response = self.client.get_records(ShardIterator=iterator, Limit=self.batch_size)
                self._iterators[shard_id] = response.get("NextShardIterator")
                for record in response.get("Records", []):
                    record = dict(record)
                    record["eventSourceARN"] = self.stream_arn
                    record.setdefault("awsRegion", self.region)
                    # The construct's event filter: only INSERT and MODIFY reach the function.
                    if record.get("eventName") in STREAM_FILTER_EVENTS:
                        pending.append(_jsonable(record))
            if pending:
                busy = True
                self._invoke(shard_id, pending[: self.batch_size])
        return busy

    def _invoke(self, shard_id: str, batch: list[dict[str, Any]]) -> None:
        pending = self._pending[shard_id]
        context = LocalLambdaContext(self.function_name, region=self.region)
        try:
            result = self.handler({"Records": batch}, context) or {}
            failures = [f.get("itemIdentifier") for f in result.get("batchItemFailures", [])]
        except Exception:
            log.exception("dispatcher raised; the whole batch will be retried")
            failures = [batch[0]["dynamodb"]["SequenceNumber"]]
        if not failures:
            del pending[: len(batch)]
            self.delivered_records += len(batch)
            self._attempts.pop(shard_id, None)
            return
        # Lambda checkpoints before the lowest failed sequence number and retries from there.
        sequence_numbers = [r["dynamodb"]["SequenceNumber"] for r in batch]
        first_failed = min((sequence_numbers.index(f) for f in failures if f in sequence_numbers), default=0)
        del pending[:first_failed]
        self.delivered_records += first_failed
        attempts = self._attempts.get(shard_id, 0) + 1
        if attempts > self.max_retries:
            log.error("dropping stream record %s after %d retries", sequence_numbers[first_failed], attempts - 1)
            del pending[:1]
            self.dropped_records += 1
            attempts = 0
        self._attempts[shard_id] = attempts
        self._stop.wait(min(0.2 * 2**attempts, 2.0))  # back off before the retry


class QueuePoller(_Loop):
    """Receives from the webhook queue and runs the webhook handler as Lambda's SQS poller does."""

    name = "queue-poller"

    def __init__(
        self,
        sqs_client: Any,
        queue_url: str,
        queue_arn: str,
        handler: Handler,
        *,
        function_name: str = "transflow-local-webhook",
        region: str = "us-east-1",
        batch_size: int = 10,
        interval: float = 0.2,
    ) -> None:
        super().__init__(interval)
        self.client = sqs_client
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.handler = handler
        self.function_name = function_name
        self.region = region
        self.batch_size = batch_size
        self.invocations = 0

    def tick(self) -> bool:
        response = self.client.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        )
        messages = response.get("Messages", [])
        if not messages:
            return False
        records = [self._record(m) for m in messages]
        self.invocations += 1
        context = LocalLambdaContext(self.function_name, region=self.region)
        try:
            result = self.handler({"Records": records}, context) or {}
            failed = {f.get("itemIdentifier") for f in result.get("batchItemFailures", [])}
        except Exception:
            log.exception("webhook handler raised; every message of the batch stays on the queue")
            return True
        done = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
            for i, m in enumerate(messages)
            if m["MessageId"] not in failed
        ]
        if done:
            self.client.delete_message_batch(QueueUrl=self.queue_url, Entries=done)
        return True

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        attributes = {
            k: v
            for k, v in message.get("Attributes", {}).items()
            if k in {"ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp",
                     "MessageGroupId", "MessageDeduplicationId"}
        }
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": attributes,
            "messageAttributes": {
                name: {
                    "stringValue": value.get("StringValue"),
                    "dataType": value.get("DataType"),
                    "stringListValues": [],
                    "binaryListValues": [],
                }
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self.region,
        }


def _jsonable(record: dict[str, Any]) -> dict[str, Any]:
    """Lambda hands the function JSON: datetimes become epoch seconds, as in the real event."""
    return json.loads(json.dumps(record, default=lambda v: v.timestamp() if hasattr(v, "timestamp") else str(v)))


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
