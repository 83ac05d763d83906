"""The webhook function's eventbridge channel: webhook-queue messages that become EventBridge events.

A message ``{"assembly_id", "event", "event_id", "channel": "eventbridge"}`` is queued beside each
webhook message (same event id) when the deployment has an event bus. The webhook function reads
the item, puts one event per message, all of a batch's in as few PutEvents requests as fit
(``eventbridge.put_batches``), and concludes each message as it concludes a delivery, with the
same retry schedule and dead-letter queue:

* put: the message is deleted (``published``);
* a retryable failure before the last attempt (the whole request, or its entry: PutEvents can
  succeed with ``FailedEntryCount`` > 0): the message waits the schedule's delay (``retrying``);
* a non-retryable failure, or the last attempt: the message goes to the DLQ with the reason
  (``failed``); only once the DLQ accepted it is it deleted;
* no item, or no bus configured: ``skipped`` with the reason, not retried.

Nothing is recorded on the item (the webhook's ``notify_*`` fields are the webhook's): the DLQ
record, the log line and the ``EventBridgeEvents`` metric by ``Outcome`` say what happened.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import telemetry
from ..delivery import STOP, DeliveryResult
from ..eventbridge import PutResult, put_entry, put_events
from ..events import channel_of, parse_message
from ..schema import (
    CHANNEL_EVENTBRIDGE,
    EVENTBRIDGE_OUTCOME_PUBLISHED,
    METRIC_EVENTBRIDGE_EVENTS,
    METRIC_WEBHOOK_DIMENSION,
    WEBHOOK_OUTCOME_FAILED,
    WEBHOOK_OUTCOME_RETRYING,
    WEBHOOK_OUTCOME_SKIPPED,
)

if TYPE_CHECKING:
    from .webhook import WebhookSender


@dataclass
class _Pending:
    record: Mapping[str, Any]
    message: dict[str, str]
    attempt: int
    ctx: dict[str, Any]
    entry: dict[str, Any]


class EventChannel:
    """Publishes a batch's eventbridge-channel messages for ``sender`` (its clients, schedule, DLQ)."""

    def __init__(self, sender: WebhookSender) -> None:
        self.sender = sender

    @staticmethod
    def handles(record: Any) -> bool:
        """Whether ``record`` is a well-formed eventbridge-channel message (anything else, malformed
        messages included, takes the webhook path, which dead-letters what it cannot read)."""
        from .webhook import _record_problem

        if _record_problem(record) is not None:
            return False
        try:
            return channel_of(parse_message(record["body"])) == CHANNEL_EVENTBRIDGE
        except ValueError:
            return False

    def process(self, records: Sequence[Mapping[str, Any]]) -> dict[int, bool]:
        """``{id(record): True when SQS may delete it}`` for every record."""
        from .webhook import _attempt, _log, _text

        done: dict[int, bool] = {}
        pending: list[_Pending] = []
        for record in records:
            try:
                outcome = self._prepare(record, _attempt(record))
            except Exception as exc:  # one message's bug or a failed read must not fail the others
                _log("error", "event message processing failed; SQS will redeliver it",
                     message_id=record.get("messageId"), error=f"{type(exc).__name__}: {_text(exc, 300)}")
                outcome = False
            if isinstance(outcome, _Pending):
                pending.append(outcome)
            else:
                done[id(record)] = outcome
        if pending:
            try:
                results = put_events(self.sender._client("events"), [p.entry for p in pending])
            except Exception as exc:  # e.g. no client could be made: every message is retried
                error = f"could not call PutEvents: {type(exc).__name__}: {_text(exc, 300)}"
                results = [PutResult(error=error) for _ in pending]
            for p, result in zip(pending, results, strict=True):
                try:
                    done[id(p.record)] = self._conclude(p, result)
                except Exception as exc:
                    _log("error", "event message processing failed; SQS will redeliver it", **p.ctx,
                         error=f"{type(exc).__name__}: {_text(exc, 300)}")
                    done[id(p.record)] = False
        return done

    def _prepare(self, record: Mapping[str, Any], attempt: int) -> _Pending | bool:
        message = parse_message(record["body"])
        aid, event, event_id = message["assembly_id"], message["event"], message["event_id"]
        ctx = {"assembly_id": aid, "event": event, "event_id": event_id, "attempt": attempt,
               "message_id": record.get("messageId"), "channel": CHANNEL_EVENTBRIDGE}
        bus = self.sender.settings.event_bus
        if not bus:
            self._metric(WEBHOOK_OUTCOME_SKIPPED, ctx, reason="no event bus is configured (TRANSFLOW_EVENT_BUS_ARN)")
            return True
        try:
            item = self.sender.store.get_item(aid, consistent=True)
        except ValueError as exc:  # an id the store rejects cannot exist
            self._metric(WEBHOOK_OUTCOME_SKIPPED, ctx, reason=str(exc))
            return True
        if item is None:
            self._metric(WEBHOOK_OUTCOME_SKIPPED, ctx, reason="assembly not found (deleted or never created)")
            return True
        return _Pending(record, message, attempt, {**ctx, "event_bus": bus}, put_entry(bus, item, event, event_id))

    def _conclude(self, p: _Pending, result: PutResult) -> bool:
        sender = self.sender
        if result.ok:
            self._metric(EVENTBRIDGE_OUTCOME_PUBLISHED, p.ctx, eventbridge_event_id=result.event_id)
            return True
        if result.retry and p.attempt < sender.settings.max_attempts:
            delay = sender.retry_delay(p.attempt, None)
            sender._set_visibility(p.record, delay, p.ctx)
            self._metric(WEBHOOK_OUTCOME_RETRYING, p.ctx, error=result.error, error_code=result.code,
                         retry_in_seconds=delay)
            return False
        if result.retry:
            reason = f"gave up after {p.attempt} attempt{'s' if p.attempt != 1 else ''}: {result.error}"
        else:
            reason = f"stopped: {result.error}"
        last = DeliveryResult(STOP, error=result.error, target=p.ctx["event_bus"])
        if not sender._dead_letter(p.record, p.message, p.attempt, reason, last):
            return False
        self._metric(WEBHOOK_OUTCOME_FAILED, p.ctx, error=reason, error_code=result.code)
        return True

    def _metric(self, outcome: str, ctx: Mapping[str, Any], **fields: Any) -> None:
        """One structured log line that is also an EMF document: ``EventBridgeEvents`` by ``Outcome``."""
        telemetry.write(
            telemetry.metric_record(
                self.sender.settings.metrics_namespace,
                {METRIC_EVENTBRIDGE_EVENTS: 1},
                dimensions={METRIC_WEBHOOK_DIMENSION: outcome},
                level="info" if outcome != WEBHOOK_OUTCOME_FAILED else "error",
                message=f"event {outcome}",
                component="webhook",
                **ctx,
                **{k: v for k, v in fields.items() if v is not None},
            )
        )
