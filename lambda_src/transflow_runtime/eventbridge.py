"""Assembly events on EventBridge: what one event holds, how large it may grow, which failures to retry.

Every terminal transition and every replay is, besides its webhook, one EventBridge event, put by
the webhook function from an ``eventbridge``-channel message on the webhook queue (the dispatcher
and the status function queue it beside the webhook message, with the same event id):

* ``Source`` ``"transflow.status"``, ``DetailType`` from ``DETAIL_TYPES``;
* ``Detail`` a summary of the item (``event_detail``): ids, ``event_id`` (the webhook's
  ``webhook-id``), ``state``/``ok``/``error``/``message``, ``execution_duration`` and counts of
  uploads and results, never the whole item: an item may hold 400 KB, an event 256 KB, and ten
  events share one PutEvents request. Every text is clipped so the detail stays within
  ``MAX_DETAIL_BYTES`` (clipped fields are named in ``truncated``).

Failures follow the PutEvents API reference (``PutEventsResultEntry.ErrorCode``): the codes it
lists as non-retryable stop at once (the message is dead-lettered with the reason); anything else,
throttling and internal failures among them, is retried on the webhook schedule.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .dynamo import item_owner
from .schema import (
    EVENT_CANCELED,
    EVENT_COMPLETED,
    EVENT_FAILED,
    EVENT_REPLAY,
    INSTANCE_ID_ENV,
    PARTITION_KEY,
    STATE_CANCELED,
    STATE_COMPLETED,
    STATE_FAILED,
)
from .terminal import terminal_event

SOURCE = "transflow.status"
DETAIL_TYPES = {
    EVENT_COMPLETED: "Assembly Completed",
    EVENT_FAILED: "Assembly Failed",
    EVENT_CANCELED: "Assembly Canceled",
    EVENT_REPLAY: "Assembly Notification Replayed",
}
_STATE_FOR_EVENT = {EVENT_COMPLETED: STATE_COMPLETED, EVENT_FAILED: STATE_FAILED, EVENT_CANCELED: STATE_CANCELED}

#: Amazon EventBridge API Reference, PutEvents: ``Entries`` holds 1 to 10 entries.
MAX_ENTRIES_PER_PUT = 10
#: Amazon EventBridge User Guide, "Calculating PutEvents event entry size": the total entry size
#: of one request must be less than 256 KB.
MAX_PUT_BYTES = 256 * 1024
#: One event's ``Detail`` at most (UTF-8 bytes): ten of them, with source and detail type, stay
#: under ``MAX_PUT_BYTES``.
MAX_DETAIL_BYTES = 24 * 1024
#: Each text field's share of that (bytes of its JSON form, quotes and escapes included). An id
#: or a user id at DynamoDB's and the API's own limits fits unclipped unless it is full of
#: characters JSON must escape.
_FIELD_BYTES = {
    PARTITION_KEY: 2_100,
    "template_id": 1_100,
    "user_id": 1_100,
    "event_id": 130,
    "state": 130,
    "ok": 130,
    "message": 2_048,
    "error": 4_096,
    "instance": 600,
    "created_at": 64,
    "updated_at": 64,
}
#: Steps listed in ``results_by_step`` (the rest are counted in ``results_count`` only) and the
#: longest step name shown.
MAX_STEPS_LISTED = 64
_STEP_NAME_BYTES = 130

#: PutEventsResultEntry.ErrorCode, "Non-retryable errors include", plus the whole-call errors no
#: retry fixes (the request itself or the bus is wrong). Everything else is retried.
NON_RETRYABLE_CODES = frozenset({
    "AccessDeniedException",
    "InvalidAccountIdException",
    "InvalidArgument",
    "MalformedDetail",
    "RedactionFailure",
    "NotAuthorizedForSourceException",
    "NotAuthorizedForDetailTypeException",
    "ValidationException",
    "ResourceNotFoundException",
})


def _json_bytes(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass"))


def clip(text: str, limit: int) -> tuple[str, bool]:
    """``text``, or its longest prefix plus ``…`` whose JSON form takes at most ``limit`` bytes."""
    if _json_bytes(text) <= limit:
        return text, False
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits
        middle = (low + high + 1) // 2
        if _json_bytes(text[:middle] + "…") <= limit:
            low = middle
        else:
            high = middle - 1
    return text[:low] + "…", True


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str, ensure_ascii=False)


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _count(value: Any) -> int:
    return len(value) if isinstance(value, list) else 0


def event_detail(item: Mapping[str, Any], event: str, event_id: str) -> dict[str, Any]:
    """The ``Detail`` of the event for ``event`` about ``item`` (a plain item, either writer's convention)."""
    truncated: list[str] = []

    def text(name: str, value: Any) -> str | None:
        raw = _text(value)
        if raw is None:
            return None
        clipped, was_clipped = clip(raw, _FIELD_BYTES[name])
        if was_clipped:
            truncated.append(name)
        return clipped

    state = item.get("state") if isinstance(item.get("state"), str) else None
    if state is None:  # a seed-style item: its state follows from ok/error
        state = _STATE_FOR_EVENT.get(terminal_event(item) or "")
    results = item.get("results") if isinstance(item.get("results"), Mapping) else {}
    counts = {str(step): _count(entries) for step, entries in results.items()}
    by_step: dict[str, int] = {}
    for step in sorted(counts)[:MAX_STEPS_LISTED]:
        name, was_clipped = clip(step, _STEP_NAME_BYTES)
        if was_clipped and "results_by_step" not in truncated:
            truncated.append("results_by_step")
        by_step[name] = by_step.get(name, 0) + counts[step]
    detail: dict[str, Any] = {
        PARTITION_KEY: text(PARTITION_KEY, item.get(PARTITION_KEY)),
        "event": event,
        "event_id": text("event_id", event_id),
        "template_id": text("template_id", item.get("template_id")),
        "user_id": text("user_id", item_owner(item)),
        "state": text("state", state),
        "ok": text("ok", item.get("ok")),
        "error": text("error", item.get("error")),
        "message": text("message", item.get("message")),
        "execution_duration": _number(item.get("execution_duration")),
        "uploads_count": _count(item.get("uploads")),
        "results_count": sum(counts.values()),
        "results_by_step": by_step,
        "created_at": text("created_at", item.get("created_at")),
        "updated_at": text("updated_at", item.get("updated_at")),
    }
    if len(counts) > MAX_STEPS_LISTED:
        detail["results_steps_omitted"] = len(counts) - MAX_STEPS_LISTED
    instance = os.environ.get(INSTANCE_ID_ENV)
    if instance:
        detail["instance"] = text("instance", instance)
    if truncated:
        detail["truncated"] = truncated
    return detail


def detail_json(detail: Mapping[str, Any]) -> str:
    return json.dumps(detail, ensure_ascii=False, separators=(",", ":"))


def put_entry(bus: str, item: Mapping[str, Any], event: str, event_id: str) -> dict[str, Any]:
    """One ``PutEventsRequestEntry`` for ``event`` about ``item`` on ``bus`` (name or ARN)."""
    return {
        "Source": SOURCE,
        "DetailType": DETAIL_TYPES[event],
        "Detail": detail_json(event_detail(item, event, event_id)),
        "EventBusName": bus,
    }


def entry_size(entry: Mapping[str, Any]) -> int:
    """The entry's size as EventBridge counts it (User Guide, "Calculating PutEvents event entry
    size"): 14 bytes for ``Time`` when set, the UTF-8 bytes of ``Source``, ``DetailType``,
    ``Detail`` and of each ``Resources`` entry."""
    size = 14 if entry.get("Time") is not None else 0
    for name in ("Source", "DetailType", "Detail"):
        if entry.get(name) is not None:
            size += len(str(entry[name]).encode("utf-8", "surrogatepass"))
    size += sum(len(str(r).encode("utf-8", "surrogatepass")) for r in entry.get("Resources") or [] if r is not None)
    return size


def put_batches(entries: Sequence[Mapping[str, Any]]) -> list[list[int]]:
    """Indexes of ``entries`` grouped into PutEvents requests: at most ten each, under the size limit."""
    batches: list[list[int]] = []
    current: list[int] = []
    size = 0
    for index, entry in enumerate(entries):
        this = entry_size(entry)
        if current and (len(current) == MAX_ENTRIES_PER_PUT or size + this >= MAX_PUT_BYTES):
            batches.append(current)
            current, size = [], 0
        current.append(index)
        size += this
    if current:
        batches.append(current)
    return batches


def retryable(code: str | None) -> bool:
    """Whether a failed entry (or call) with this error code may succeed when tried again."""
    return code not in NON_RETRYABLE_CODES


@dataclass(frozen=True)
class PutResult:
    """What became of one entry: EventBridge's id for the event, or the error code and why."""

    event_id: str | None = None
    code: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.event_id is not None and self.code is None and self.error is None

    @property
    def retry(self) -> bool:
        return retryable(self.code)


def _error_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    error = response.get("Error") if isinstance(response, Mapping) else None
    code = error.get("Code") if isinstance(error, Mapping) else None
    return code if isinstance(code, str) and code else None


def put_events(client: Any, entries: Sequence[Mapping[str, Any]]) -> list[PutResult]:
    """Put ``entries`` (in requests ``put_batches`` forms); one ``PutResult`` per entry, in order.

    A request can succeed while some of its entries fail (``FailedEntryCount`` > 0): the response's
    ``Entries`` are in the order of the request's, each with an ``EventId`` or an ``ErrorCode``
    (API Reference, PutEvents). An entry the response does not account for counts as failed.
    """
    results: list[PutResult] = [PutResult() for _ in entries]
    for batch in put_batches(entries):
        try:
            response = client.put_events(Entries=[dict(entries[i]) for i in batch])
        except Exception as exc:  # the whole request: refused, throttled, or the connection failed
            code = _error_code(exc)
            error = f"PutEvents failed: {code or type(exc).__name__}: {str(exc)[:300]}"
            for index in batch:
                results[index] = PutResult(code=code, error=error)
            continue
        answered = response.get("Entries") if isinstance(response.get("Entries"), list) else []
        for position, index in enumerate(batch):
            entry = answered[position] if position < len(answered) and isinstance(answered[position], Mapping) else {}
            code, event_id = entry.get("ErrorCode"), entry.get("EventId")
            if code:
                message = str(entry.get("ErrorMessage") or "")[:300]
                results[index] = PutResult(code=str(code), error=f"PutEvents entry failed: {code}: {message}")
            elif isinstance(event_id, str) and event_id:
                results[index] = PutResult(event_id=event_id)
            else:
                results[index] = PutResult(error="PutEvents returned no result for this entry")
    return results
