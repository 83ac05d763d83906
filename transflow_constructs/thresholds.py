"""When the alarms of ``StatusMonitoring`` fire (``AlarmThresholds``), and the monitoring options' checks."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_sns as sns

from ._validation import is_unresolved, literal

#: Where the README explains every alarm (alarm descriptions point there).
RUNBOOK = "README.md, section 'Operations'"
#: The webhook queue's oldest message may legitimately be this old before the alarm fires (the
#: default, raised automatically when the first retry delays need more; see ``default_webhook_queue_age``).
MIN_WEBHOOK_QUEUE_AGE = cdk.Duration.minutes(15)
#: SQS stops counting a message in ``ApproximateAgeOfOldestMessage`` after this many receives.
SQS_AGE_RECEIVES = 3
#: Amazon CloudWatch API Reference, PutMetricAlarm ``Period``: "An alarm's total current evaluation
#: period can be no longer than seven days, so Period multiplied by EvaluationPeriods can't be more
#: than 604,800 seconds. For alarms with a period of less than one hour (3,600 seconds), the total
#: evaluation period can't be longer than one day (86,400 seconds)."
MAX_EVALUATION_SECONDS = 7 * 24 * 60 * 60
MAX_SHORT_PERIOD_EVALUATION_SECONDS = 24 * 60 * 60
SHORT_PERIOD_SECONDS = 60 * 60
FUNCTION_ROLES = ("status", "authorizer", "dispatcher", "webhook")
DEFAULT_PERIOD = cdk.Duration.minutes(5)
DEFAULT_WEBHOOK_FAILURES_PERIOD = cdk.Duration.minutes(15)
DEFAULT_STREAM_ITERATOR_AGE = cdk.Duration.minutes(15)
DEFAULT_API_LATENCY_P99 = cdk.Duration.seconds(1)
DEFAULT_WEBHOOK_FUNCTION_TIMEOUT = cdk.Duration.seconds(60)
_DASHBOARD_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


def _whole_seconds(value: cdk.Duration, name: str) -> int:
    if not isinstance(value, cdk.Duration):
        raise ValueError(f"alarm_thresholds.{name} must be a Duration, got {value!r}")
    literal(value, f"alarm_thresholds.{name}", "periods and ages are checked against CloudWatch's limits and converted")
    seconds = value.to_seconds(integral=False)
    if seconds != int(seconds):
        raise ValueError(f"alarm_thresholds.{name} must be whole seconds, got {seconds}")
    return int(seconds)


def max_evaluation_seconds(period_seconds: int) -> int:
    """How far back an alarm with this period may look (CloudWatch's limit on period x evaluation periods)."""
    return MAX_SHORT_PERIOD_EVALUATION_SECONDS if period_seconds < SHORT_PERIOD_SECONDS else MAX_EVALUATION_SECONDS


def _threshold(value: object, name: str) -> None:
    """An alarm's ``Threshold``: a whole number >= 0, or a deploy-time value AWS checks itself."""
    if not is_unresolved(value):
        _count(value, name)


def _count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"alarm_thresholds.{name} must be a whole number >= 0, got {value!r}")
    return value


@dataclass(frozen=True)
class AlarmThresholds:
    """When each alarm fires. Every alarm fires when its value is *greater than* the threshold.

    :param period: length of one evaluation period of every alarm except the webhook-failure
        one (a multiple of one minute). Default: 5 minutes.
    :param dead_letter_messages: visible messages in the webhook DLQ. Default: 0 (any).
    :param stream_failure_messages: visible messages in the stream-failure queue. Default: 0 (any).
    :param webhook_failures: failed webhook delivery attempts (outcomes ``retrying`` and
        ``failed``) within ``webhook_failures_period``. Default: 10.
    :param webhook_failures_period: Default: 15 minutes.
    :param webhook_queue_age: age of the oldest message in the webhook queue. Default: ``None``,
        meaning 15 minutes or, when the first two retry delays (plus three function timeouts) are
        longer, that (a message being retried counts until its third receive).
    :param stream_iterator_age: age of the oldest stream record the dispatcher has not yet
        turned into webhook events (its ``IteratorAge``). Default: 15 minutes (stream records
        expire after 24 hours; a webhook whose record expires is lost).
    :param lambda_errors: invocation errors of one function per period. Default: 0 (any).
    :param lambda_throttles: throttled invocations of one function per period. Default: 0 (any).
    :param api_5xx_rate_percent: share of API responses that are 5xx, in percent. Default: 1.
    :param api_5xx_min_requests: requests a period needs before its 5xx rate counts (so one
        error among three requests does not page anyone). Default: 20.
    :param api_latency_p99: the API's p99 latency. Default: 1 second.
    :param api_latency_evaluation_periods: consecutive periods the p99 must exceed it. Default: 3.
    :param table_throttles: throttled read and write events of the table and its index per
        period. Default: 0 (any).
    """

    period: cdk.Duration = DEFAULT_PERIOD
    dead_letter_messages: int = 0
    stream_failure_messages: int = 0
    webhook_failures: int = 10
    webhook_failures_period: cdk.Duration = DEFAULT_WEBHOOK_FAILURES_PERIOD
    webhook_queue_age: cdk.Duration | None = None
    stream_iterator_age: cdk.Duration = DEFAULT_STREAM_ITERATOR_AGE
    lambda_errors: int = 0
    lambda_throttles: int = 0
    api_5xx_rate_percent: float = 1.0
    api_5xx_min_requests: int = 20
    api_latency_p99: cdk.Duration = DEFAULT_API_LATENCY_P99
    api_latency_evaluation_periods: int = 3
    table_throttles: int = 0

    def __post_init__(self) -> None:
        for name in ("period", "webhook_failures_period"):
            seconds = _whole_seconds(getattr(self, name), name)
            # CloudWatch also takes 10, 20 and 30 s, for high-resolution custom metrics only; every metric
            # watched here (AWS services' and the handlers' embedded metrics) has one-minute resolution.
            if seconds < 60 or seconds % 60 or seconds > MAX_EVALUATION_SECONDS:
                raise ValueError(
                    f"alarm_thresholds.{name} must be whole minutes between 1 minute and 7 days (CloudWatch alarm "
                    f"periods are multiples of 60 s and look back at most 7 days), got {seconds} s"
                )
        for name in (
            "dead_letter_messages",
            "stream_failure_messages",
            "webhook_failures",
            "lambda_errors",
            "lambda_throttles",
            "table_throttles",
        ):
            _threshold(getattr(self, name), name)
        if self.webhook_queue_age is not None and _whole_seconds(self.webhook_queue_age, "webhook_queue_age") < 60:
            raise ValueError("alarm_thresholds.webhook_queue_age must be at least 1 minute")
        if _whole_seconds(self.stream_iterator_age, "stream_iterator_age") < 60:
            raise ValueError("alarm_thresholds.stream_iterator_age must be at least 1 minute")
        rate = self.api_5xx_rate_percent
        bad_rate = isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate < 100
        if not is_unresolved(rate) and bad_rate:
            raise ValueError(f"alarm_thresholds.api_5xx_rate_percent must be between 0 and 100, got {rate!r}")
        literal(self.api_5xx_min_requests, "alarm_thresholds.api_5xx_min_requests", "it is in the 5xx alarm's math")
        literal(
            self.api_latency_evaluation_periods,
            "alarm_thresholds.api_latency_evaluation_periods",
            "period x evaluation periods is checked against CloudWatch's limit",
        )
        if _count(self.api_5xx_min_requests, "api_5xx_min_requests") < 1:
            raise ValueError("alarm_thresholds.api_5xx_min_requests must be at least 1")
        literal(self.api_latency_p99, "alarm_thresholds.api_latency_p99", "it is converted to milliseconds")
        if not isinstance(self.api_latency_p99, cdk.Duration) or self.api_latency_p99.to_milliseconds() <= 0:
            raise ValueError("alarm_thresholds.api_latency_p99 must be a positive Duration")
        periods = _count(self.api_latency_evaluation_periods, "api_latency_evaluation_periods")
        period = int(self.period.to_seconds())
        if periods < 1 or periods * period > max_evaluation_seconds(period):
            raise ValueError(
                "alarm_thresholds.api_latency_evaluation_periods must be at least 1, and "
                "api_latency_evaluation_periods x period at most one day (periods under an hour) or 7 days "
                f"(CloudWatch's PutMetricAlarm), got {periods} x {period} s"
            )


def default_webhook_queue_age(retry_delays: Sequence[int], function_timeout: cdk.Duration) -> cdk.Duration:
    """The webhook-queue age above which something is wrong, for this retry schedule.

    A message waiting for a retry keeps its age (counted from when it was sent) until SQS has
    received it three times; so the first two delays, plus the attempts' run time, are normal.
    """
    normal = sum(retry_delays[: SQS_AGE_RECEIVES - 1]) + SQS_AGE_RECEIVES * int(function_timeout.to_seconds())
    return cdk.Duration.seconds(max(int(MIN_WEBHOOK_QUEUE_AGE.to_seconds()), normal + 300))


def check_dashboard(dashboard: bool | str) -> str | None:
    """``False``/``True``/a dashboard name -> the name to use (``None``: generated or none)."""
    if isinstance(dashboard, bool):
        return None
    if is_unresolved(dashboard):
        return dashboard  # a deploy-time name: CloudWatch checks it (PutDashboard)
    if not isinstance(dashboard, str) or not _DASHBOARD_NAME.match(dashboard):
        raise ValueError(
            f"dashboard must be True, False or a dashboard name (1-255 of A-Z a-z 0-9 - _), got {dashboard!r}"
        )
    return dashboard


def check_namespace(namespace: str) -> None:
    """Amazon CloudWatch API Reference, PutMetricData ``Namespace``: 1-255 ASCII characters without
    control characters, not starting with ``:``; ``AWS/`` is reserved for AWS services."""
    if cdk.Token.is_unresolved(namespace):
        return
    if not isinstance(namespace, str) or not 1 <= len(namespace) <= 255:
        raise ValueError(f"metrics_namespace must be 1-255 characters, got {namespace!r}")
    if not namespace.isascii() or not namespace.isprintable() or namespace.startswith(":"):
        raise ValueError(
            f"metrics_namespace must be printable ASCII not starting with ':' (CloudWatch), got {namespace!r}"
        )
    if namespace.startswith("AWS/"):
        raise ValueError(f"metrics_namespace must not start with 'AWS/' (reserved for AWS services), got {namespace!r}")


def check_monitoring_options(
    monitoring: bool,
    alarm_topic: sns.ITopic | None,
    thresholds: AlarmThresholds | None,
    dashboard: bool | str,
    metrics_namespace: str,
) -> None:
    """The monitoring options of ``TransflowStatus``: refused combinations, named."""
    check_namespace(metrics_namespace)
    check_dashboard(dashboard)
    if thresholds is not None and not isinstance(thresholds, AlarmThresholds):
        raise ValueError("alarm_thresholds must be an AlarmThresholds")
    if not monitoring:
        given = {"alarm_topic": alarm_topic, "alarm_thresholds": thresholds, "dashboard": dashboard or None}
        for option, value in given.items():
            if value is not None:
                raise ValueError(f"monitoring=False and {option}= conflict: {option} only applies with monitoring")
