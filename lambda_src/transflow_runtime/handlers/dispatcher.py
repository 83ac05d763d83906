"""DynamoDB stream -> webhook queue: one message per terminal transition (the transactional outbox).

A webhook fires exactly when an assembly *enters* a terminal state (``terminal.py``: by ``state``,
or by the seed's ``ok``/``error`` for items other writers wrote): an INSERT of an item that is
already terminal, or a MODIFY whose old image is not terminal and whose new image is. Later
modifications of a terminal item (the webhook sender's own ``notify_*`` bookkeeping among them)
and REMOVEs fire nothing. Because the stream, not the writer, produces the message, a worker
that dies right after its DynamoDB write still gets its webhook.

The event id is derived from the item's ``version`` in the new image, so a re-driven stream batch
yields the same ``webhook-id`` and receivers can de-duplicate. ``events_from_records`` and
``enqueue`` are pure enough for local mode to run the same logic against moto's stream.
Stdlib + boto3 only.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .. import telemetry
from ..events import make_message, stable_event_id
from ..schema import (
    CREATED_AT_ATTRIBUTE,
    DEFAULT_METRICS_NAMESPACE,
    ENV_METRICS_NAMESPACE,
    ENV_WEBHOOK_QUEUE_URL,
    METRIC_WEBHOOK_ENQUEUE_FAILURES,
    METRIC_WEBHOOK_EVENTS_QUEUED,
    PARTITION_KEY,
    VERSION_ATTRIBUTE,
)
from ..terminal import is_terminal, terminal_event

SQS_BATCH_LIMIT = 10


@dataclass(frozen=True)
class Transition:
    """One terminal transition found in a stream record."""

    assembly_id: str
    event: str
    event_id: str
    sequence_number: str

    def as_tuple(self) -> tuple[str, str, str]:
        return self.assembly_id, self.event, self.event_id


def _log(level: str, message: str, **fields: Any) -> None:
    telemetry.write({"level": level, "message": message, "component": "dispatcher", **fields})


def _scalar(image: Mapping[str, Any], name: str) -> str | None:
    """A string or number attribute of a low-level (typed) stream image."""
    value = image.get(name)
    if not isinstance(value, Mapping):
        return None
    for kind in ("S", "N"):
        if isinstance(value.get(kind), str):
            return value[kind]
    return None


def transition_of(record: Mapping[str, Any]) -> Transition | None:
    """The terminal transition in one stream record, or ``None`` when the record is not one."""
    name = record.get("eventName")
    change = record.get("dynamodb") or {}
    new = change.get("NewImage")
    if name not in ("INSERT", "MODIFY") or not isinstance(new, Mapping):
        return None
    event = terminal_event(new)
    if event is None:
        return None
    if name == "MODIFY":
        old = change.get("OldImage")
        if not isinstance(old, Mapping):
            # Without the old image a transition cannot be told from later bookkeeping writes,
            # and firing on those would loop (each delivery writes notify_* fields).
            _log("error", "stream record lacks OldImage; the stream must use NEW_AND_OLD_IMAGES",
                 sequence_number=change.get("SequenceNumber"))
            return None
        if is_terminal(old):
            return None
    assembly_id = _scalar(new, PARTITION_KEY) or _scalar(change.get("Keys") or {}, PARTITION_KEY)
    if not assembly_id:
        _log("error", "stream record has no assembly_id", sequence_number=change.get("SequenceNumber"))
        return None
    sequence = str(change.get("SequenceNumber") or record.get("eventID") or "")
    version = _scalar(new, VERSION_ATTRIBUTE)
    event_id = stable_event_id(
        assembly_id, event, version if version is not None else f"seq:{sequence}", _scalar(new, CREATED_AT_ATTRIBUTE)
    )
    return Transition(assembly_id, event, event_id, sequence)


def transitions_from_records(records: Iterable[Mapping[str, Any]]) -> list[Transition]:
    return [t for t in (transition_of(r) for r in records) if t is not None]


def events_from_records(records: Iterable[Mapping[str, Any]]) -> list[tuple[str, str, str]]:
    """``(assembly_id, event, event_id)`` for every terminal transition in ``records``, in order."""
    return [t.as_tuple() for t in transitions_from_records(records)]


def enqueue(sqs: Any, queue_url: str, events: Sequence[tuple[str, str, str]]) -> list[int]:
    """Send one queue message per event with SendMessageBatch; returns the indexes that failed."""
    failed: list[int] = []
    for start in range(0, len(events), SQS_BATCH_LIMIT):
        chunk = events[start : start + SQS_BATCH_LIMIT]
        entries = [
            {
                "Id": str(start + i),
                "MessageBody": make_message(aid, event, event_id),
                "MessageAttributes": {"event_id": {"DataType": "String", "StringValue": event_id}},
            }
            for i, (aid, event, event_id) in enumerate(chunk)
        ]
        try:
            response = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        except Exception as exc:
            _log("error", "SendMessageBatch failed", error=f"{type(exc).__name__}: {exc}", count=len(entries))
            failed.extend(range(start, start + len(chunk)))
            continue
        for entry in response.get("Failed") or []:
            _log("error", "SendMessageBatch entry failed", code=entry.get("Code"), detail=entry.get("Message"))
            failed.append(int(entry["Id"]))
    return sorted(failed)


_sqs_client: Any = None


def _sqs() -> Any:
    global _sqs_client
    if _sqs_client is None:
        import boto3

        _sqs_client = boto3.client("sqs")
    return _sqs_client


def dispatch(records: Sequence[Mapping[str, Any]], sqs: Any, queue_url: str) -> dict[str, list[dict[str, str]]]:
    """Queue every transition in ``records``; the stream partial-batch response for the failures."""
    return _dispatch(records, sqs, queue_url)[0]


def _dispatch(
    records: Sequence[Mapping[str, Any]], sqs: Any, queue_url: str
) -> tuple[dict[str, list[dict[str, str]]], int]:
    """``dispatch``'s response, and how many events were queued (for the batch's metrics)."""
    transitions = transitions_from_records(records)
    failed = enqueue(sqs, queue_url, [t.as_tuple() for t in transitions]) if transitions else []
    failed_set = set(failed)
    for index, t in enumerate(transitions):
        if index not in failed_set:
            _log("info", "webhook event queued", assembly_id=t.assembly_id, event=t.event, event_id=t.event_id)
    # Lambda resumes the shard from the lowest failed sequence number (later records are re-sent
    # too; their event ids are stable, so receivers see duplicates they can recognise, not gaps).
    response = {"batchItemFailures": [{"itemIdentifier": transitions[i].sequence_number} for i in failed]}
    return response, len(transitions) - len(failed_set)


def handler(event: Mapping[str, Any], context: Any = None) -> dict[str, list[dict[str, str]]]:
    """Lambda entry point for the table's stream (``ReportBatchItemFailures`` enabled)."""
    started = time.monotonic()
    queue_url = os.environ.get(ENV_WEBHOOK_QUEUE_URL)
    if not queue_url:
        raise RuntimeError(f"{ENV_WEBHOOK_QUEUE_URL} is not set")
    records = event.get("Records") or []
    response, queued = _dispatch(records, _sqs(), queue_url)
    failures = len(response["batchItemFailures"])
    request_id = getattr(context, "aws_request_id", None)
    # One line per batch, also an embedded metric document (events queued, enqueue failures).
    telemetry.write(
        telemetry.metric_record(
            os.environ.get(ENV_METRICS_NAMESPACE) or DEFAULT_METRICS_NAMESPACE,
            {METRIC_WEBHOOK_EVENTS_QUEUED: queued, METRIC_WEBHOOK_ENQUEUE_FAILURES: failures},
            level="info" if not failures else "error",
            message="stream batch dispatched",
            component="dispatcher",
            records=len(records),
            failures=failures,
            duration_ms=round((time.monotonic() - started) * 1000, 1),
            request_id=request_id if isinstance(request_id, str) else None,
        )
    )
    return response
