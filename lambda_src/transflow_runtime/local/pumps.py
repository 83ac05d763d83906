"""The event source mappings of the template, emulated against moto as Lambda's pollers run them:

* ``StreamPump``: DynamoDB stream -> function, with the mapping's settings: ``FilterCriteria``
  evaluated as Lambda does (EventBridge pattern syntax, moto's ``EventPattern``; a record that
  matches no filter is dropped), batch size, partial batch responses (Lambda checkpoints before the
  first failed record), ``BisectBatchOnFunctionError`` (a failing batch is split until the failing
  record is alone), ``MaximumRetryAttempts`` retries of that record, then its metadata goes to the
  ``OnFailure`` destination and the shard moves on;
* ``QueuePoller``: SQS queue -> function (batch size, ``ReportBatchItemFailures``: only the failed
  messages stay on the queue, their visibility as the handler set it; the queue's redrive policy
  moves them to the DLQ as on AWS), up to the mapping's maximum concurrency at once.

The pollers read with the function's own credentials (on AWS the execution role needs the read
permissions); no long polling: the embedded moto server handles one request at a time.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .. import schema
from .lambda_context import LocalLambdaContext

log = logging.getLogger("transflow.local")

Handler = Callable[[dict[str, Any], Any], Any]


class _Failed(Exception):
    """The function failed (raised, timed out, or Lambda refused its response)."""


def _call(handler: Any, event: dict[str, Any], function_name: str, region: str) -> Any:
    """Run the function: a ``FunctionRuntime`` (its own environment) or, in tests, a plain handler."""
    invoke = getattr(handler, "invoke", None)
    if invoke is not None:
        outcome = invoke(event)
        if not outcome.ok:
            raise _Failed(f"{outcome.payload.get('errorType')}: {outcome.payload.get('errorMessage')}")
        return outcome.payload
    return handler(event, LocalLambdaContext(function_name, region=region))


def compile_filters(patterns: list[str] | None) -> list[Any] | None:
    """FilterCriteria patterns as Lambda evaluates them (EventBridge syntax); ``None``: no filter."""
    if not patterns:
        return None
    from moto.events.models import EventPattern

    return [EventPattern.load(p) for p in patterns]


def passes(filters: list[Any] | None, record: dict[str, Any]) -> bool:
    """A record is processed when it matches any one of the filters."""
    return filters is None or any(f.matches_event(record) for f in filters)


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

    #: Longest pause between attempts while ticks keep failing.
    MAX_BACKOFF = 5.0

    def _run(self) -> None:
        failing = 0
        last_problem = ""
        while not self._stop.is_set():
            try:
                busy = self.tick()
            except Exception as exc:
                self.errors += 1
                failing += 1
                problem = f"{type(exc).__name__}: {exc}"
                if problem != last_problem:  # one line per distinct problem, not one traceback per tick
                    log.warning("%s failed (%s); retrying with backoff", self.name, problem[:300])
                    last_problem = problem
                self._stop.wait(min(self.interval * 2**failing, self.MAX_BACKOFF))
                continue
            if failing:
                log.warning("%s works again after %d failed attempts", self.name, failing)
                failing, last_problem = 0, ""
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
        account_id: str = "123456789012",
        batch_size: int = 100,
        max_retries: int | None = schema.DEFAULT_STREAM_RETRY_ATTEMPTS,
        failure_sqs_client: Any = None,
        failure_queue_url: str | None = None,
        retry_backoff: float = 0.2,
        interval: float = 0.1,
        filters: list[str] | None = None,
        bisect_on_error: bool = True,
        report_batch_item_failures: bool = True,
        starting_position: str = "TRIM_HORIZON",
    ) -> None:
        super().__init__(interval)
        self.client = streams_client
        self.stream_arn = stream_arn
        self.handler = handler
        self.function_name = function_name
        self.region = region
        self.function_arn = f"arn:aws:lambda:{region}:{account_id}:function:{function_name}"
        self.batch_size = batch_size
        self.max_retries = max_retries
        self.failure_sqs_client = failure_sqs_client
        self.failure_queue_url = failure_queue_url
        self.retry_backoff = retry_backoff
        self.filters = compile_filters(filters)
        self.bisect_on_error = bisect_on_error
        self.report_batch_item_failures = report_batch_item_failures
        self.starting_position = "LATEST" if starting_position == "LATEST" else "TRIM_HORIZON"
        self._iterators: dict[str, str | None] = {}
        self._pending: dict[str, list[dict[str, Any]]] = {}
        #: Retries spent on the failing record at the head of each shard.
        self._attempts: dict[str, int] = {}
        #: How many pending records the next invocation gets (smaller than a batch while bisecting).
        self._window: dict[str, int] = {}
        self.delivered_records = 0
        self.dropped_records = 0
        self.filtered_records = 0
        #: The function's invocations (benchmarks/dispatcher_invocations.py counts them).
        self.invocations = 0

    def _refresh_shards(self) -> None:
        shards = self.client.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                self._iterators[shard_id] = self.client.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType=self.starting_position
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
                    record = _jsonable(record)
                    if passes(self.filters, record):  # the mapping's FilterCriteria
                        pending.append(record)
                    else:
                        self.filtered_records += 1
            if pending:
                busy = True
                window = min(self._window.get(shard_id, self.batch_size), self.batch_size)
                self._invoke(shard_id, pending[:window])
        return busy

    def _invoke(self, shard_id: str, batch: list[dict[str, Any]]) -> None:
        pending = self._pending[shard_id]
        sequence_numbers = [r["dynamodb"]["SequenceNumber"] for r in batch]
        self.invocations += 1
        try:
            result = _call(self.handler, {"Records": batch}, self.function_name, self.region) or {}
            first_failed = _first_failed(result, sequence_numbers) if self.report_batch_item_failures else len(batch)
        except _Failed as exc:
            log.warning("%s failed (%s); the batch will be retried", self.function_name, exc)
            first_failed = 0
        except Exception:
            log.exception("%s raised; the batch will be retried", self.function_name)
            first_failed = 0
        # Lambda checkpoints before the first failed record: everything before it is done.
        del pending[:first_failed]
        self.delivered_records += first_failed
        if first_failed == len(batch):
            self._attempts.pop(shard_id, None)
            self._window.pop(shard_id, None)
            return
        failing = len(batch) - first_failed
        if failing > 1 and self.bisect_on_error:
            # bisect_batch_on_error: split the failing records; bisecting costs no retry.
            self._window[shard_id] = failing // 2
            return
        attempts = self._attempts.get(shard_id, 0) + 1
        if self.max_retries is not None and attempts > self.max_retries:
            dropped = pending[:failing] if not self.bisect_on_error else pending[:1]
            del pending[: len(dropped)]
            log.error("dropping %d stream record(s) from %s after %d retries", len(dropped),
                      dropped[0]["dynamodb"]["SequenceNumber"], self.max_retries)
            self.dropped_records += len(dropped)
            self._send_to_failure_queue(shard_id, dropped, invoke_count=attempts)
            self._attempts.pop(shard_id, None)
            self._window.pop(shard_id, None)
            return
        self._attempts[shard_id] = attempts
        self._stop.wait(min(self.retry_backoff * 2**attempts, 2.0))  # back off before the retry

    def _send_to_failure_queue(self, shard_id: str, records: list[dict[str, Any]], *, invoke_count: int) -> None:
        """Lambda's on-failure destination: metadata of the discarded batch, not the records themselves."""
        if self.failure_sqs_client is None or self.failure_queue_url is None:
            log.error("no stream-failure queue configured; the record is lost")
            return
        invocation_record = failure_invocation_record(
            records,
            shard_id=shard_id,
            stream_arn=self.stream_arn,
            function_arn=self.function_arn,
            invoke_count=invoke_count,
        )
        self.failure_sqs_client.send_message(QueueUrl=self.failure_queue_url, MessageBody=json.dumps(invocation_record))


def _first_failed(result: Any, sequence_numbers: list[str]) -> int:
    """Index of the first failed record in the batch (``len`` when none failed).

    As Lambda does: an item identifier that is empty, null or not in the batch fails the whole batch.
    """
    failures = result.get("batchItemFailures") if isinstance(result, dict) else None
    if not failures:
        return len(sequence_numbers)
    indexes = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in sequence_numbers:
            return 0
        indexes.append(sequence_numbers.index(identifier))
    return min(indexes)


def failure_invocation_record(
    records: list[dict[str, Any]], *, shard_id: str, stream_arn: str, function_arn: str, invoke_count: int
) -> dict[str, Any]:
    """The JSON document Lambda sends to a DynamoDB stream mapping's on-failure destination."""
    first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
    return {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": function_arn,
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": invoke_count,
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": first["SequenceNumber"],
            "endSequenceNumber": last["SequenceNumber"],
            "approximateArrivalOfFirstRecord": _arrival(first),
            "approximateArrivalOfLastRecord": _arrival(last),
            "batchSize": len(records),
            "streamArn": stream_arn,
        },
    }


def _arrival(stream_record: dict[str, Any]) -> str:
    """``ApproximateCreationDateTime`` (epoch seconds in the event) as Lambda writes it: whole-second UTC."""
    created = stream_record.get("ApproximateCreationDateTime")
    moment = datetime.fromtimestamp(float(created), UTC) if created is not None else datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


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
        report_batch_item_failures: bool = True,
        filters: list[str] | None = None,
        max_concurrency: int = 1,
    ) -> None:
        super().__init__(interval)
        self.client = sqs_client
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.handler = handler
        self.function_name = function_name
        self.region = region
        self.batch_size = batch_size
        self.report_batch_item_failures = report_batch_item_failures
        self.filters = compile_filters(filters)
        self.invocations = 0
        #: ScalingConfig.MaximumConcurrency: batches in flight at once (each in its own environment).
        self.max_concurrency = max(1, int(max_concurrency))
        self._slots = threading.BoundedSemaphore(self.max_concurrency)

    #: How long ``stop`` waits for batches still running in concurrent workers.
    STOP_TIMEOUT = 30.0

    def stop(self) -> None:
        """Stop polling, then let batches in flight finish (as Lambda lets a running invocation end):
        the caller stops the endpoints they delete from and record to right after this."""
        super().stop()
        deadline = time.monotonic() + self.STOP_TIMEOUT
        taken = 0
        for _ in range(self.max_concurrency if self.max_concurrency > 1 else 0):
            if not self._slots.acquire(timeout=max(0.0, deadline - time.monotonic())):
                break
            taken += 1
        for _ in range(taken):
            self._slots.release()

    def tick(self) -> bool:
        if self.max_concurrency == 1:
            return self._poll()
        if not self._slots.acquire(timeout=self.interval):
            return True  # every slot busy: wait for one

        def run() -> None:
            try:
                self._poll()
            except Exception:
                self.errors += 1
                log.exception("%s failed; retrying", self.name)
            finally:
                self._slots.release()

        # The receive happens in the worker too, so an idle queue costs one request per interval.
        worker = threading.Thread(target=run, name=f"{self.name}-batch", daemon=True)
        worker.start()
        worker.join(timeout=0.05)  # a quick empty receive keeps the loop's idle pacing
        return worker.is_alive()

    def _poll(self) -> bool:
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
        if self.filters is not None:
            # Lambda deletes a message that matches no filter without invoking the function.
            records_by_id = {m["MessageId"]: _filtered_view(self._record(m)) for m in messages}
            dropped = [m for m in messages if not passes(self.filters, records_by_id[m["MessageId"]])]
            if dropped:
                self.client.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(dropped)])
            messages = [m for m in messages if m not in dropped]
            if not messages:
                return True
        records = [self._record(m) for m in messages]
        self.invocations += 1
        try:
            result = _call(self.handler, {"Records": records}, self.function_name, self.region) or {}
        except _Failed as exc:
            log.warning("%s failed (%s); every message of the batch stays on the queue", self.function_name, exc)
            return True
        except Exception:
            log.exception("%s raised; every message of the batch stays on the queue", self.function_name)
            return True
        if not self.report_batch_item_failures:
            result = {}
        failed = _failed_message_ids(result, [m["MessageId"] for m in messages])
        if failed is None:
            log.error("webhook handler reported an item identifier not in the batch; the whole batch failed")
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


def _filtered_view(record: dict[str, Any]) -> dict[str, Any]:
    """The record as Lambda's SQS filtering sees it ("Filtering events from an Amazon SQS event
    source"): a body that is valid JSON is filtered on as JSON; any other body as a plain string."""
    try:
        body = json.loads(record["body"])
    except (TypeError, ValueError):
        return record
    return {**record, "body": body}


def _failed_message_ids(result: Any, message_ids: list[str]) -> set[str] | None:
    """The message ids reported failed, or ``None`` when the response fails the whole batch.

    Lambda treats an empty, null or unknown ``itemIdentifier`` as a complete batch failure.
    """
    failures = result.get("batchItemFailures") if isinstance(result, dict) else None
    if not failures:
        return set()
    failed: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in message_ids:
            return None
        failed.add(identifier)
    return failed


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
