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
from datetime import UTC, datetime
from typing import Any

from .. import telemetry
from ..events import dead_letter_body, make_message, stable_event_id
from ..schema import (
    CREATED_AT_ATTRIBUTE,
    DEFAULT_METRICS_NAMESPACE,
    ENV_METRICS_NAMESPACE,
    ENV_STREAM_FAILURE_QUEUE_URL,
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


#: DynamoDB JSON's type descriptors and what each holds in a stream record's JSON: every
#: attribute of an image is ``{TYPE: value}``.
_TYPES: dict[str, type | tuple[type, ...]] = {
    "S": str, "N": str, "B": (str, bytes), "SS": list, "NS": list, "BS": list,
    "M": Mapping, "L": list, "NULL": bool, "BOOL": bool,
}


def _image_problem(image: Any, name: str) -> str | None:
    if not isinstance(image, Mapping):
        return f"dynamodb.{name} is not an object"
    for attribute, value in image.items():
        kind = next(iter(value)) if isinstance(value, Mapping) and len(value) == 1 else None
        if kind not in _TYPES or not isinstance(value[kind], _TYPES[kind]):
            return f"dynamodb.{name}[{str(attribute)[:64]!r}] is not a DynamoDB attribute value"
    return None


def _read(record: Any) -> Transition | str | None:
    """The record's terminal transition, ``None`` when it is not one, or why it cannot be understood."""
    if not isinstance(record, Mapping):
        return f"the stream record is a {type(record).__name__}, not an object"
    name, change = record.get("eventName"), record.get("dynamodb")
    if name not in ("INSERT", "MODIFY", "REMOVE"):
        return f"eventName is {str(name)[:64]!r}, not INSERT, MODIFY or REMOVE"
    if not isinstance(change, Mapping):
        return "dynamodb is missing or not an object"
    if name == "REMOVE":
        return None
    new, old = change.get("NewImage"), change.get("OldImage")
    problem = _image_problem(new, "NewImage") or (old is not None and _image_problem(old, "OldImage")) or None
    if problem:
        return problem
    event = terminal_event(new)
    if event is None:
        return None
    if name == "MODIFY":
        if old is None:
            # Without the old image a transition cannot be told from later bookkeeping writes,
            # and firing on those would loop (each delivery writes notify_* fields).
            return "a MODIFY without OldImage: the table's stream must use NEW_AND_OLD_IMAGES"
        if is_terminal(old):
            return None
    keys = change.get("Keys")
    assembly_id = _scalar(new, PARTITION_KEY) or (_scalar(keys, PARTITION_KEY) if isinstance(keys, Mapping) else None)
    if not assembly_id:
        return "the record has no assembly_id"
    sequence = change.get("SequenceNumber")
    if not isinstance(sequence, str) or not sequence:
        return "dynamodb.SequenceNumber is missing or not a string"
    version = _scalar(new, VERSION_ATTRIBUTE)
    event_id = stable_event_id(
        assembly_id, event, version if version is not None else f"seq:{sequence}", _scalar(new, CREATED_AT_ATTRIBUTE)
    )
    return Transition(assembly_id, event, event_id, sequence)


def transition_of(record: Any) -> Transition | None:
    """The terminal transition in one stream record, or ``None`` when it is not one (or cannot be
    understood: ``dispatch`` dead-letters those, this only logs)."""
    outcome = _read(record)
    if isinstance(outcome, str):
        _log("error", "malformed stream record", reason=outcome, sequence_number=_sequence_number(record))
        return None
    return outcome


def _sequence_number(record: Any) -> str | None:
    change = record.get("dynamodb") if isinstance(record, Mapping) else None
    sequence = change.get("SequenceNumber") if isinstance(change, Mapping) else None
    return sequence if isinstance(sequence, str) and sequence else None


def transitions_from_records(records: Iterable[Any]) -> list[Transition]:
    return [t for t in (transition_of(r) for r in records) if t is not None]


def events_from_records(records: Iterable[Any]) -> list[tuple[str, str, str]]:
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


def dispatch(
    records: Sequence[Any], sqs: Any, queue_url: str, failure_queue_url: str | None = None
) -> dict[str, list[dict[str, str]]]:
    """Queue every transition in ``records``; the stream partial-batch response for the failures."""
    return _dispatch(records, sqs, queue_url, failure_queue_url)[0]


def _dead_letter(sqs: Any, queue_url: str | None, record: Any, reason: str) -> bool:
    """Send a record that can never succeed to the stream-failure queue with its reason."""
    if not queue_url:
        return False
    envelope = {
        "dead_letter": {"reason": reason, "source": "dispatcher",
                        "failed_at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                        "sequence_number": _sequence_number(record)},
        "record": record,
    }
    try:
        sqs.send_message(
            QueueUrl=queue_url,
            MessageBody=dead_letter_body(envelope, "record"),
            MessageAttributes={"reason": {"DataType": "String", "StringValue": reason[:256]}},
        )
    except Exception as exc:
        _log("error", "could not dead-letter a malformed stream record", reason=reason,
             error=f"{type(exc).__name__}: {str(exc)[:300]}")
        return False
    return True


def _dispatch(
    records: Sequence[Any], sqs: Any, queue_url: str, failure_queue_url: str | None = None
) -> tuple[dict[str, list[dict[str, str]]], int, int]:
    """``dispatch``'s response, how many events were queued and how many records were malformed.

    A record that cannot be understood can never succeed: it is logged and dead-lettered with its
    reason; if that is not possible, it is reported as a batch item failure (Lambda retries it, then
    hands the batch to the mapping's on-failure destination), or, without a sequence number to
    report, logged as lost to the batch.
    """
    transitions: list[Transition] = []
    where: list[int] = []  # each transition's position in the batch
    failures: list[tuple[int, str]] = []  # (position in the batch, sequence number)
    malformed = 0
    for position, record in enumerate(records):
        outcome = _read(record)
        if isinstance(outcome, Transition):
            transitions.append(outcome)
            where.append(position)
            continue
        if outcome is None:
            continue
        malformed += 1
        sequence = _sequence_number(record)
        _log("error", "malformed stream record", reason=outcome, sequence_number=sequence, position=position)
        if _dead_letter(sqs, failure_queue_url, record, outcome):
            continue
        if sequence is not None:
            failures.append((position, sequence))
        else:
            _log("error", "a malformed stream record without a sequence number cannot be reported",
                 reason=outcome, position=position)
    failed = enqueue(sqs, queue_url, [t.as_tuple() for t in transitions]) if transitions else []
    failed_set = set(failed)
    for index, t in enumerate(transitions):
        if index in failed_set:
            failures.append((where[index], t.sequence_number))
        else:
            _log("info", "webhook event queued", assembly_id=t.assembly_id, event=t.event, event_id=t.event_id)
    # Lambda resumes the shard from the lowest failed sequence number (later records are re-sent
    # too; their event ids are stable, so receivers see duplicates they can recognise, not gaps).
    ordered = dict.fromkeys(sequence for _position, sequence in sorted(failures))
    response = {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in ordered]}
    return response, len(transitions) - len(failed_set), malformed


def handler(event: Mapping[str, Any], context: Any = None) -> dict[str, list[dict[str, str]]]:
    """Lambda entry point for the table's stream (``ReportBatchItemFailures`` enabled)."""
    started = time.monotonic()
    queue_url = os.environ.get(ENV_WEBHOOK_QUEUE_URL)
    if not queue_url:
        raise RuntimeError(f"{ENV_WEBHOOK_QUEUE_URL} is not set")
    records = event.get("Records") if isinstance(event, Mapping) else None
    if not isinstance(records, list):
        if records is not None or not isinstance(event, Mapping):
            _log("error", "the event is not a stream batch ({'Records': [...]}); nothing to dispatch",
                 event_type=type(event).__name__)
        records = []
    response, queued, malformed = _dispatch(
        records, _sqs(), queue_url, os.environ.get(ENV_STREAM_FAILURE_QUEUE_URL) or None
    )
    failures = len(response["batchItemFailures"])
    request_id = getattr(context, "aws_request_id", None)
    # One line per batch, also an embedded metric document (events queued, enqueue failures).
    telemetry.write(
        telemetry.metric_record(
            os.environ.get(ENV_METRICS_NAMESPACE) or DEFAULT_METRICS_NAMESPACE,
            {METRIC_WEBHOOK_EVENTS_QUEUED: queued, METRIC_WEBHOOK_ENQUEUE_FAILURES: failures},
            level="info" if not (failures or malformed) else "error",
            message="stream batch dispatched",
            component="dispatcher",
            records=len(records),
            failures=failures,
            malformed=malformed,
            duration_ms=round((time.monotonic() - started) * 1000, 1),
            request_id=request_id if isinstance(request_id, str) else None,
        )
    )
    return response
