"""``event_bus=``: every terminal transition and every replay also an event on the user's EventBridge bus.

The events follow the webhook outbox (DESIGN.md): the dispatcher (from the table's stream) and the
status function (replays) queue an ``eventbridge``-channel message beside each webhook message,
with the same event id, and the webhook function puts it with ``events:PutEvents``; failures are
retried on the webhook schedule, then dead-lettered with their reason. So this part adds no queue
or function of its own: it gives those three functions the bus's ARN (``TRANSFLOW_EVENT_BUS_ARN``),
the webhook function ``events:PutEvents`` on that bus only, and monitoring an alarm on failed puts.

Events (``transflow_runtime.eventbridge``): ``source`` ``"transflow.status"``, ``detail-type``
``"Assembly Completed"``, ``"Assembly Failed"``, ``"Assembly Canceled"`` or ``"Assembly
Notification Replayed"``.
"""

from __future__ import annotations

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from transflow_runtime import eventbridge, schema

from .functions import TransflowFunction
from .monitoring import StatusMonitoring

#: The events' ``source``, for rules: ``events.EventPattern(source=[EVENT_SOURCE])``.
EVENT_SOURCE = eventbridge.SOURCE
#: ``detail-type`` by event (``completed``, ``failed``, ``canceled``, ``replay``).
DETAIL_TYPES = dict(eventbridge.DETAIL_TYPES)
#: Key in ``TransflowStatus.alarms`` and construct id (in ``Monitoring``) of the failed-puts alarm.
ALARM_KEY = "event_bus_put_failures"
ALARM_ID = "EventBusPutFailuresAlarm"
#: Failed attempts (retrying or dead-lettered) in one period above which the alarm fires.
DEFAULT_PUT_FAILURES_THRESHOLD = 0


def check_event_bus(event_bus: object) -> events.IEventBus | None:
    """``event_bus`` when it is ``None`` or an ``events.IEventBus``; otherwise a ``ValueError``."""
    if event_bus is None:
        return None
    if isinstance(event_bus, str):
        raise ValueError(
            "event_bus must be an events.IEventBus, not a string: use events.EventBus.from_event_bus_arn(...) "
            "or events.EventBus.from_event_bus_name(...) for an existing bus"
        )
    if not hasattr(event_bus, "event_bus_arn") or not hasattr(event_bus, "event_bus_name"):
        raise ValueError(f"event_bus must be an events.IEventBus, got {type(event_bus).__name__}")
    return event_bus  # type: ignore[return-value]


class AssemblyEvents:
    """Wires ``event_bus`` into the functions that produce and put the events, and alarms on failures."""

    def __init__(
        self,
        event_bus: events.IEventBus,
        *,
        producers: list[TransflowFunction],
        publisher: TransflowFunction,
    ) -> None:
        self.event_bus = event_bus
        for function in [*producers, publisher]:
            function.function.add_environment(schema.ENV_EVENT_BUS_ARN, event_bus.event_bus_arn)
        # The publisher's own policy, one statement: PutEvents on this bus, no other (Amazon EventBridge
        # User Guide, "Using identity-based policies": PutEvents is authorized on the event-bus resource).
        publisher.policy.add_statements(
            iam.PolicyStatement(
                sid="PutAssemblyEvents", actions=["events:PutEvents"], resources=[event_bus.event_bus_arn]
            )
        )

    def add_alarm(
        self, monitoring: StatusMonitoring, threshold: float = DEFAULT_PUT_FAILURES_THRESHOLD
    ) -> cloudwatch.Alarm:
        """``event_bus_put_failures``: PutEvents attempts that failed (to be retried, or dead-lettered),
        counted by the webhook function's ``EventBridgeEvents`` metric of this instance only."""
        return monitoring.add_alarm(
            ALARM_KEY,
            ALARM_ID,
            cloudwatch.MathExpression(
                expression="FILL(retrying, 0) + FILL(failed, 0)",
                using_metrics={
                    outcome: monitoring.handler_count(
                        schema.METRIC_EVENTBRIDGE_EVENTS, {schema.METRIC_WEBHOOK_DIMENSION: outcome}, outcome
                    )
                    for outcome in ("retrying", "failed")
                },
                period=monitoring.thresholds.period,
                label="Failed EventBridge puts",
            ),
            threshold,
            "assembly events could not be put on the event bus (attempts with outcome retrying or failed; "
            "failed ones wait in the dead-letter queue with their ErrorCode).",
        )


def pattern_for(*events_: str) -> events.EventPattern:
    """A rule pattern for this construct's events of the given kinds (``"completed"``, ...); all without any."""
    kinds = events_ or tuple(DETAIL_TYPES)
    unknown = sorted(set(kinds) - set(DETAIL_TYPES))
    if unknown:
        raise ValueError(f"unknown assembly events {unknown}; expected some of {sorted(DETAIL_TYPES)}")
    return events.EventPattern(source=[EVENT_SOURCE], detail_type=[DETAIL_TYPES[k] for k in kinds])


__all__ = ["ALARM_KEY", "DETAIL_TYPES", "EVENT_SOURCE", "AssemblyEvents", "check_event_bus", "pattern_for"]
