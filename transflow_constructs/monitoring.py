"""Alarms (and an optional dashboard) for one ``TransflowStatus``: it says when something is wrong.

Every alarm watches one failure an operator can act on; the README's operations section says
what each one means and what to do. Count alarms treat missing data as not breaching: no
datapoint means nothing happened (SQS, Lambda and API Gateway publish nothing while idle).
Alarms always exist; with ``alarm_topic`` their ALARM and OK transitions are published to it.

The handlers' own metrics (CloudWatch embedded metric format, namespace ``metrics_namespace``)
are named in ``transflow_runtime.schema``: ``WebhookDeliveries``/``WebhookDeliveryLatency`` by
``Outcome``, ``StatusChecks`` and ``AuthorizerDecisions`` by ``Result``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from transflow_runtime import schema

#: Where the README explains every alarm (alarm descriptions point there).
RUNBOOK = "README.md, section 'Operations'"
#: The webhook queue's oldest message may legitimately be this old before the alarm fires (the
#: default, raised automatically when the first retry delays need more; see ``default_webhook_queue_age``).
MIN_WEBHOOK_QUEUE_AGE = cdk.Duration.minutes(15)
#: SQS stops counting a message in ``ApproximateAgeOfOldestMessage`` after this many receives.
SQS_AGE_RECEIVES = 3
#: Longest an alarm may look back (CloudWatch: evaluation periods x period <= one day here).
MAX_EVALUATION_SECONDS = 24 * 60 * 60
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
    seconds = value.to_seconds(integral=False)
    if seconds != int(seconds):
        raise ValueError(f"alarm_thresholds.{name} must be whole seconds, got {seconds}")
    return int(seconds)


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
            if seconds < 60 or seconds % 60 or seconds > MAX_EVALUATION_SECONDS:
                raise ValueError(f"alarm_thresholds.{name} must be whole minutes between 1 minute and 1 day")
        for name in (
            "dead_letter_messages",
            "stream_failure_messages",
            "webhook_failures",
            "lambda_errors",
            "lambda_throttles",
            "table_throttles",
        ):
            _count(getattr(self, name), name)
        if self.webhook_queue_age is not None and _whole_seconds(self.webhook_queue_age, "webhook_queue_age") < 60:
            raise ValueError("alarm_thresholds.webhook_queue_age must be at least 1 minute")
        if _whole_seconds(self.stream_iterator_age, "stream_iterator_age") < 60:
            raise ValueError("alarm_thresholds.stream_iterator_age must be at least 1 minute")
        rate = self.api_5xx_rate_percent
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate < 100:
            raise ValueError(f"alarm_thresholds.api_5xx_rate_percent must be between 0 and 100, got {rate!r}")
        if _count(self.api_5xx_min_requests, "api_5xx_min_requests") < 1:
            raise ValueError("alarm_thresholds.api_5xx_min_requests must be at least 1")
        if not isinstance(self.api_latency_p99, cdk.Duration) or self.api_latency_p99.to_milliseconds() <= 0:
            raise ValueError("alarm_thresholds.api_latency_p99 must be a positive Duration")
        periods = _count(self.api_latency_evaluation_periods, "api_latency_evaluation_periods")
        if periods < 1 or periods * self.period.to_seconds() > MAX_EVALUATION_SECONDS:
            raise ValueError(
                "alarm_thresholds.api_latency_evaluation_periods must be at least 1, and "
                "api_latency_evaluation_periods x period at most one day"
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
    if not isinstance(dashboard, str) or not _DASHBOARD_NAME.match(dashboard):
        raise ValueError(
            f"dashboard must be True, False or a dashboard name (1-255 of A-Z a-z 0-9 - _), got {dashboard!r}"
        )
    return dashboard


class StatusMonitoring(Construct):
    """The alarms of one ``TransflowStatus`` (``alarms``: name -> Alarm) and, if asked, a dashboard.

    Alarm names (keys of ``alarms``) and construct ids are a stable contract:

    ======================================  ===================================================
    key                                     fires when
    ======================================  ===================================================
    ``dead_letter_queue``                   the webhook DLQ holds visible messages
    ``stream_failure_queue``                the stream-failure queue holds visible messages
    ``webhook_delivery_failures``           failed delivery attempts exceed the threshold
    ``webhook_queue_age``                   the webhook queue's oldest message is too old
    ``stream_iterator_age``                 the dispatcher lags behind the table's stream
    ``<role>_function_errors``              a function (status, authorizer, dispatcher,
    ``<role>_function_throttles``           webhook) has errors / is throttled
    ``api_5xx_rate``                        too many API responses are 5xx
    ``api_latency_p99``                     the API's p99 latency stays too high
    ``table_throttles``                     DynamoDB throttles reads or writes
    ======================================  ===================================================

    ``TransflowStatus`` creates one (``monitoring=True``, the default) from its own parts; build
    one directly only to watch parts you assembled yourself.

    :param table: the status table; ``table_throttles`` watches it and its ``by-user-created``
        index by table name. Required.
    :param http_api: the status API; ``api_5xx_rate`` and ``api_latency_p99`` watch its default
        stage. Required.
    :param functions: ``{role: function}`` for the roles ``status``, ``dispatcher``, ``webhook``
        (required) and ``authorizer`` (optional; only with shared-secret auth); each gets an
        errors and a throttles alarm, and ``dispatcher`` the ``stream_iterator_age`` alarm.
        Required.
    :param webhook_queue: the webhook event queue (``webhook_queue_age``). Required.
    :param dead_letter_queue: the webhook DLQ (``dead_letter_queue``). Required.
    :param stream_failure_queue: the stream event source's on-failure queue
        (``stream_failure_queue``). Required.
    :param metrics_namespace: CloudWatch namespace of the handlers' own metrics (webhook delivery
        outcomes, dashboard widgets); must match the functions' ``TRANSFLOW_METRICS_NAMESPACE``.
        Default: ``"Transflow"``.
    :param thresholds: ``AlarmThresholds(...)``, when each alarm fires. Default:
        ``AlarmThresholds()`` (see its fields).
    :param alarm_topic: SNS topic that receives every alarm's ALARM and OK transitions. Default:
        none (the alarms exist but notify nobody).
    :param dashboard: ``True`` for a CloudWatch dashboard with a generated name, a string for its
        name (1-255 of ``A-Z a-z 0-9 - _``), ``False`` for none. Default: ``False``.
    :param webhook_retry_delays: seconds between webhook attempts, as the webhook function uses
        them; the automatic ``webhook_queue_age`` threshold allows the first two. Default:
        ``schema.DEFAULT_WEBHOOK_RETRY_DELAYS``.
    :param webhook_function_timeout: the webhook function's timeout, also part of the automatic
        ``webhook_queue_age`` threshold. Default: 60 seconds.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table: dynamodb.ITable,
        http_api: apigwv2.IHttpApi,
        functions: Mapping[str, lambda_.IFunction],
        webhook_queue: sqs.IQueue,
        dead_letter_queue: sqs.IQueue,
        stream_failure_queue: sqs.IQueue,
        metrics_namespace: str = schema.DEFAULT_METRICS_NAMESPACE,
        thresholds: AlarmThresholds | None = None,
        alarm_topic: sns.ITopic | None = None,
        dashboard: bool | str = False,
        webhook_retry_delays: Sequence[int] = schema.DEFAULT_WEBHOOK_RETRY_DELAYS,
        webhook_function_timeout: cdk.Duration = DEFAULT_WEBHOOK_FUNCTION_TIMEOUT,
    ) -> None:
        super().__init__(scope, construct_id)
        if thresholds is not None and not isinstance(thresholds, AlarmThresholds):
            raise ValueError("alarm_thresholds must be an AlarmThresholds")
        unknown = sorted(set(functions) - set(FUNCTION_ROLES))
        if unknown or not {"status", "dispatcher", "webhook"} <= set(functions):
            raise ValueError(
                f"functions must map roles {FUNCTION_ROLES} to functions (status, dispatcher, webhook "
                f"required), got {sorted(functions)}"
            )
        dashboard_name = check_dashboard(dashboard)
        self.thresholds = thresholds or AlarmThresholds()
        self.alarm_topic = alarm_topic
        self.metrics_namespace = metrics_namespace
        self._table = table
        self._http_api = http_api
        self._functions = {role: functions[role] for role in FUNCTION_ROLES if role in functions}
        self._webhook_queue = webhook_queue
        self._dead_letter_queue = dead_letter_queue
        self._stream_failure_queue = stream_failure_queue
        self.webhook_queue_age_threshold = self.thresholds.webhook_queue_age or default_webhook_queue_age(
            webhook_retry_delays, webhook_function_timeout
        )
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        self._create_alarms()
        self.dashboard: cloudwatch.Dashboard | None = None
        if dashboard is not False:
            self.dashboard = self._create_dashboard(dashboard_name)

    # ---- alarms ----------------------------------------------------------------------------------
    def _alarm(
        self,
        key: str,
        construct_id: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        description: str,
        *,
        evaluation_periods: int = 1,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=evaluation_periods,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"Transflow: {description} What to do: {RUNBOOK}, alarm '{key}'.",
        )
        if self.alarm_topic is not None:
            action = cloudwatch_actions.SnsAction(self.alarm_topic)
            alarm.add_alarm_action(action)
            alarm.add_ok_action(action)
        self.alarms[key] = alarm
        return alarm

    def _create_alarms(self) -> None:
        t = self.thresholds
        period = t.period
        maximum = cloudwatch.Stats.MAXIMUM
        self._alarm(
            "dead_letter_queue",
            "DeadLetterQueueAlarm",
            self._dead_letter_queue.metric_approximate_number_of_messages_visible(period=period, statistic=maximum),
            t.dead_letter_messages,
            "webhooks gave up (retries exhausted or a stop outcome) and wait in the dead-letter queue.",
        )
        self._alarm(
            "stream_failure_queue",
            "StreamFailureQueueAlarm",
            self._stream_failure_queue.metric_approximate_number_of_messages_visible(period=period, statistic=maximum),
            t.stream_failure_messages,
            "table-stream batches could not be turned into webhook events; their webhooks were not queued.",
        )
        self._alarm(
            "webhook_delivery_failures",
            "WebhookDeliveryFailuresAlarm",
            cloudwatch.MathExpression(
                expression="FILL(retrying, 0) + FILL(failed, 0)",
                using_metrics={
                    "retrying": self.webhook_deliveries(schema.WEBHOOK_OUTCOME_RETRYING),
                    "failed": self.webhook_deliveries(schema.WEBHOOK_OUTCOME_FAILED),
                },
                period=t.webhook_failures_period,
                label="Failed webhook delivery attempts",
            ),
            t.webhook_failures,
            "webhook endpoints are failing deliveries (attempts with outcome retrying or failed).",
        )
        self._alarm(
            "webhook_queue_age",
            "WebhookQueueAgeAlarm",
            self._webhook_queue.metric_approximate_age_of_oldest_message(period=period, statistic=maximum),
            self.webhook_queue_age_threshold.to_seconds(),
            "webhook events wait in the queue longer than normal: deliveries are not keeping up or not running.",
        )
        self._alarm(
            "stream_iterator_age",
            "StreamIteratorAgeAlarm",
            self._functions["dispatcher"].metric("IteratorAge", period=period, statistic=maximum),
            t.stream_iterator_age.to_milliseconds(),
            "the dispatcher lags behind the table's stream; webhooks are delayed and are lost if records expire.",
        )
        for role, function in self._functions.items():
            title = role.capitalize()
            self._alarm(
                f"{role}_function_errors",
                f"{title}FunctionErrorsAlarm",
                function.metric_errors(period=period, statistic=cloudwatch.Stats.SUM),
                t.lambda_errors,
                f"the {role} function fails invocations (unhandled errors or timeouts).",
            )
            self._alarm(
                f"{role}_function_throttles",
                f"{title}FunctionThrottlesAlarm",
                function.metric_throttles(period=period, statistic=cloudwatch.Stats.SUM),
                t.lambda_throttles,
                f"the {role} function is throttled (account or reserved concurrency exhausted).",
            )
        self._alarm(
            "api_5xx_rate",
            "Api5xxRateAlarm",
            cloudwatch.MathExpression(
                expression=f"IF(requests >= {t.api_5xx_min_requests}, 100 * FILL(errors, 0) / requests, 0)",
                using_metrics={
                    "errors": self._http_api.metric_server_error(statistic=cloudwatch.Stats.SUM),
                    "requests": self._http_api.metric_count(statistic=cloudwatch.Stats.SUM),
                },
                period=period,
                label="API 5xx responses (%)",
            ),
            t.api_5xx_rate_percent,
            "the status API answers with server errors (5xx, in percent of requests).",
        )
        self._alarm(
            "api_latency_p99",
            "ApiLatencyP99Alarm",
            self._http_api.metric_latency(period=period, statistic=cloudwatch.Stats.p(99)),
            t.api_latency_p99.to_milliseconds(),
            "the status API's p99 latency (milliseconds) stays high.",
            evaluation_periods=t.api_latency_evaluation_periods,
        )
        throttles = {
            f"{kind}{scope}": metric
            for scope, dims in (("table", {}), ("index", {"GlobalSecondaryIndexName": schema.USER_INDEX_NAME}))
            for kind, metric in (
                ("read", self.table_metric("ReadThrottleEvents", dims)),
                ("write", self.table_metric("WriteThrottleEvents", dims)),
            )
        }
        self._alarm(
            "table_throttles",
            "TableThrottlesAlarm",
            cloudwatch.MathExpression(
                expression=" + ".join(f"FILL({name}, 0)" for name in throttles),
                using_metrics=throttles,
                period=period,
                label="Throttled table and index reads and writes",
            ),
            t.table_throttles,
            "DynamoDB throttles reads or writes of the status table or its user index.",
        )

    # ---- metrics ---------------------------------------------------------------------------------
    def webhook_deliveries(self, outcome: str, *, statistic: str = cloudwatch.Stats.SUM) -> cloudwatch.Metric:
        """The webhook handler's ``WebhookDeliveries`` count for one outcome."""
        return cloudwatch.Metric(
            namespace=self.metrics_namespace,
            metric_name=schema.METRIC_WEBHOOK_DELIVERIES,
            dimensions_map={schema.METRIC_WEBHOOK_DIMENSION: outcome},
            statistic=statistic,
            period=self.thresholds.period,
            label=outcome,
        )

    def webhook_latency(self, outcome: str, statistic: str) -> cloudwatch.Metric:
        """The webhook handler's ``WebhookDeliveryLatency`` (ms) for one outcome."""
        return cloudwatch.Metric(
            namespace=self.metrics_namespace,
            metric_name=schema.METRIC_WEBHOOK_LATENCY,
            dimensions_map={schema.METRIC_WEBHOOK_DIMENSION: outcome},
            statistic=statistic,
            period=self.thresholds.period,
            label=f"{outcome} {statistic}",
        )

    def handler_metric(self, name: str, label: str) -> cloudwatch.Metric:
        """A dimensionless count the handlers emit (the dispatcher's per-batch metrics)."""
        return cloudwatch.Metric(
            namespace=self.metrics_namespace,
            metric_name=name,
            statistic=cloudwatch.Stats.SUM,
            period=self.thresholds.period,
            label=label,
        )

    def table_metric(self, name: str, extra_dimensions: Mapping[str, str] | None = None) -> cloudwatch.Metric:
        """An ``AWS/DynamoDB`` metric of the status table (or, with its dimension, its index)."""
        return cloudwatch.Metric(
            namespace="AWS/DynamoDB",
            metric_name=name,
            dimensions_map={"TableName": self._table.table_name, **(extra_dimensions or {})},
            statistic=cloudwatch.Stats.SUM,
            period=self.thresholds.period,
        )

    def _search(self, metric_name: str, dimension: str, label: str) -> cloudwatch.MathExpression:
        """Every value of ``dimension`` of one of the handlers' metrics (results appear as they occur)."""
        seconds = int(self.thresholds.period.to_seconds())
        return cloudwatch.MathExpression(
            expression=(
                f"SEARCH('{{\"{self.metrics_namespace}\",{dimension}}} MetricName=\"{metric_name}\"', 'Sum', {seconds})"
            ),
            using_metrics={},
            period=self.thresholds.period,
            label=label,
        )

    # ---- dashboard -------------------------------------------------------------------------------
    def _create_dashboard(self, name: str | None) -> cloudwatch.Dashboard:
        period = self.thresholds.period
        api = self._http_api
        height = 6

        def graph(title: str, left: Sequence[cloudwatch.IMetric], **kwargs: object) -> cloudwatch.GraphWidget:
            return cloudwatch.GraphWidget(title=title, left=list(left), width=8, height=height, period=period, **kwargs)

        sum_, p50, p99 = cloudwatch.Stats.SUM, cloudwatch.Stats.p(50), cloudwatch.Stats.p(99)
        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=name, default_interval=cdk.Duration.hours(3))
        dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(
                title="Transflow alarms", alarms=list(self.alarms.values()), width=24, height=4
            )
        )
        dashboard.add_widgets(
            graph(
                "API requests",
                [
                    api.metric_count(statistic=sum_, label="requests"),
                    api.metric_client_error(statistic=sum_, label="4xx"),
                    api.metric_server_error(statistic=sum_, label="5xx"),
                ],
            ),
            graph(
                "API latency (ms)",
                [
                    api.metric_latency(statistic=p50, label="latency p50"),
                    api.metric_latency(statistic=p99, label="latency p99"),
                    api.metric_integration_latency(statistic=p99, label="integration p99"),
                ],
            ),
            graph(
                "Status checks by result",
                [self._search(schema.METRIC_STATUS_CHECKS, schema.METRIC_STATUS_CHECKS_DIMENSION, "")],
            ),
        )
        dashboard.add_widgets(
            graph(
                "Webhook deliveries by outcome",
                [self.webhook_deliveries(outcome) for outcome in schema.WEBHOOK_OUTCOMES],
            ),
            graph(
                "Webhook delivery latency (ms)",
                [
                    self.webhook_latency(schema.WEBHOOK_OUTCOME_DELIVERED, p50),
                    self.webhook_latency(schema.WEBHOOK_OUTCOME_DELIVERED, p99),
                    self.webhook_latency(schema.WEBHOOK_OUTCOME_RETRYING, p99),
                ],
            ),
            graph(
                "Webhook queue",
                [
                    self._webhook_queue.metric_approximate_age_of_oldest_message(
                        statistic=cloudwatch.Stats.MAXIMUM, label="oldest message age (s)"
                    )
                ],
                right=[
                    self._webhook_queue.metric_approximate_number_of_messages_visible(
                        statistic=cloudwatch.Stats.MAXIMUM, label="visible"
                    ),
                    self._webhook_queue.metric_approximate_number_of_messages_not_visible(
                        statistic=cloudwatch.Stats.MAXIMUM, label="in flight / waiting for retry"
                    ),
                ],
            ),
        )
        dashboard.add_widgets(
            graph(
                "Dead letters",
                [
                    self._dead_letter_queue.metric_approximate_number_of_messages_visible(
                        statistic=cloudwatch.Stats.MAXIMUM, label="webhook DLQ"
                    ),
                    self._stream_failure_queue.metric_approximate_number_of_messages_visible(
                        statistic=cloudwatch.Stats.MAXIMUM, label="stream-failure queue"
                    ),
                ],
            ),
            graph(
                "Table consumed capacity",
                [
                    self.table_metric("ConsumedReadCapacityUnits").with_(label="read units"),
                    self.table_metric("ConsumedWriteCapacityUnits").with_(label="write units"),
                ],
                right=[
                    self.table_metric("ReadThrottleEvents").with_(label="read throttles"),
                    self.table_metric("WriteThrottleEvents").with_(label="write throttles"),
                ],
            ),
            graph(
                "Stream dispatcher",
                [self.handler_metric(schema.METRIC_WEBHOOK_EVENTS_QUEUED, "events queued")],
                right=[
                    self.handler_metric(schema.METRIC_WEBHOOK_ENQUEUE_FAILURES, "enqueue failures"),
                    self._functions["dispatcher"].metric(
                        "IteratorAge", statistic=cloudwatch.Stats.MAXIMUM, label="iterator age (ms)"
                    ),
                ],
            ),
        )
        functions = self._functions.items()
        lambda_row: list[cloudwatch.IWidget] = [
            graph("Lambda errors", [f.metric_errors(statistic=sum_, label=role) for role, f in functions]),
            graph("Lambda duration p99 (ms)", [f.metric_duration(statistic=p99, label=role) for role, f in functions]),
            graph("Lambda throttles", [f.metric_throttles(statistic=sum_, label=role) for role, f in functions]),
        ]
        dashboard.add_widgets(*lambda_row)
        if "authorizer" in self._functions:
            dashboard.add_widgets(
                graph(
                    "Authorizer decisions by result",
                    [
                        self._search(
                            schema.METRIC_AUTHORIZER_DECISIONS, schema.METRIC_AUTHORIZER_DECISIONS_DIMENSION, ""
                        )
                    ],
                )
            )
        return dashboard
