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

from collections.abc import Mapping, Sequence

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

from .dashboard import build_dashboard
from .thresholds import (
    DEFAULT_WEBHOOK_FUNCTION_TIMEOUT,
    FUNCTION_ROLES,
    RUNBOOK,
    AlarmThresholds,
    check_dashboard,
    check_monitoring_options,
    default_webhook_queue_age,
)

__all__ = [
    "AlarmThresholds",
    "StatusMonitoring",
    "check_dashboard",
    "check_monitoring_options",
    "default_webhook_queue_age",
]


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
    :param instance_id: the value of the ``Instance`` dimension the functions' metrics carry (their
        ``TRANSFLOW_INSTANCE_ID``); every alarm and widget on the handlers' metrics selects it, so
        another instance in the same account and namespace never shows up here. Default: none (for
        functions that run without ``TRANSFLOW_INSTANCE_ID``, whose metrics carry no instance).
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
        instance_id: str | None = None,
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
        self.instance_id = instance_id
        self.table = table
        self.http_api = http_api
        self.functions = {role: functions[role] for role in FUNCTION_ROLES if role in functions}
        self.webhook_queue = webhook_queue
        self.dead_letter_queue = dead_letter_queue
        self.stream_failure_queue = stream_failure_queue
        self.webhook_queue_age_threshold = self.thresholds.webhook_queue_age or default_webhook_queue_age(
            webhook_retry_delays, webhook_function_timeout
        )
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        self._create_alarms()
        self.dashboard: cloudwatch.Dashboard | None = None
        if dashboard is not False:
            self.dashboard = build_dashboard(self, dashboard_name)

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
            self.dead_letter_queue.metric_approximate_number_of_messages_visible(period=period, statistic=maximum),
            t.dead_letter_messages,
            "webhooks gave up (retries exhausted or a stop outcome) and wait in the dead-letter queue.",
        )
        self._alarm(
            "stream_failure_queue",
            "StreamFailureQueueAlarm",
            self.stream_failure_queue.metric_approximate_number_of_messages_visible(period=period, statistic=maximum),
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
            self.webhook_queue.metric_approximate_age_of_oldest_message(period=period, statistic=maximum),
            self.webhook_queue_age_threshold.to_seconds(),
            "webhook events wait in the queue longer than normal: deliveries are not keeping up or not running.",
        )
        self._alarm(
            "stream_iterator_age",
            "StreamIteratorAgeAlarm",
            self.functions["dispatcher"].metric("IteratorAge", period=period, statistic=maximum),
            t.stream_iterator_age.to_milliseconds(),
            "the dispatcher lags behind the table's stream; webhooks are delayed and are lost if records expire.",
        )
        for role, function in self.functions.items():
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
                    "errors": self.http_api.metric_server_error(statistic=cloudwatch.Stats.SUM),
                    "requests": self.http_api.metric_count(statistic=cloudwatch.Stats.SUM),
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
            self.http_api.metric_latency(period=period, statistic=cloudwatch.Stats.p(99)),
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
    def handler_dimensions(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The dimensions of one of the handlers' metrics: this instance's, then ``extra``."""
        instance = {schema.METRIC_INSTANCE_DIMENSION: self.instance_id} if self.instance_id is not None else {}
        return {**instance, **(extra or {})}

    def webhook_deliveries(self, outcome: str, *, statistic: str = cloudwatch.Stats.SUM) -> cloudwatch.Metric:
        """The webhook handler's ``WebhookDeliveries`` count for one outcome."""
        return cloudwatch.Metric(
            namespace=self.metrics_namespace,
            metric_name=schema.METRIC_WEBHOOK_DELIVERIES,
            dimensions_map=self.handler_dimensions({schema.METRIC_WEBHOOK_DIMENSION: outcome}),
            statistic=statistic,
            period=self.thresholds.period,
            label=outcome,
        )

    def webhook_latency(self, outcome: str, statistic: str) -> cloudwatch.Metric:
        """The webhook handler's ``WebhookDeliveryLatency`` (ms) for one outcome."""
        return cloudwatch.Metric(
            namespace=self.metrics_namespace,
            metric_name=schema.METRIC_WEBHOOK_LATENCY,
            dimensions_map=self.handler_dimensions({schema.METRIC_WEBHOOK_DIMENSION: outcome}),
            statistic=statistic,
            period=self.thresholds.period,
            label=f"{outcome} {statistic}",
        )

    def handler_metric(self, name: str, label: str) -> cloudwatch.Metric:
        """A count the handlers emit with no dimension but the instance (the dispatcher's per-batch metrics)."""
        return cloudwatch.Metric(
            namespace=self.metrics_namespace,
            metric_name=name,
            dimensions_map=self.handler_dimensions() or None,
            statistic=cloudwatch.Stats.SUM,
            period=self.thresholds.period,
            label=label,
        )

    def table_metric(self, name: str, extra_dimensions: Mapping[str, str] | None = None) -> cloudwatch.Metric:
        """An ``AWS/DynamoDB`` metric of the status table (or, with its dimension, its index)."""
        return cloudwatch.Metric(
            namespace="AWS/DynamoDB",
            metric_name=name,
            dimensions_map={"TableName": self.table.table_name, **(extra_dimensions or {})},
            statistic=cloudwatch.Stats.SUM,
            period=self.thresholds.period,
        )

    def search(self, metric_name: str, dimension: str, label: str) -> cloudwatch.MathExpression:
        """Every value of ``dimension`` of one of the handlers' metrics, of this instance only (results
        appear as they occur)."""
        seconds = int(self.thresholds.period.to_seconds())
        schema_names = ",".join([*self.handler_dimensions(), dimension])
        terms = [f'MetricName="{metric_name}"']
        if self.instance_id is not None:
            terms.insert(0, f'{schema.METRIC_INSTANCE_DIMENSION}="{self.instance_id}"')
        return cloudwatch.MathExpression(
            expression=(
                f"SEARCH('{{\"{self.metrics_namespace}\",{schema_names}}} {' '.join(terms)}', 'Sum', {seconds})"
            ),
            using_metrics={},
            period=self.thresholds.period,
            label=label,
        )
