"""The optional CloudWatch dashboard of ``StatusMonitoring``: the alarms and the service's metrics by part."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from transflow_runtime import schema

if TYPE_CHECKING:
    from .monitoring import StatusMonitoring


def build_dashboard(monitoring: StatusMonitoring, name: str | None) -> cloudwatch.Dashboard:
    """The dashboard of one ``StatusMonitoring``: its alarms, then the service's metrics by part."""
    period = monitoring.thresholds.period
    api = monitoring.http_api
    height = 6

    def graph(title: str, left: Sequence[cloudwatch.IMetric], **kwargs: object) -> cloudwatch.GraphWidget:
        return cloudwatch.GraphWidget(title=title, left=list(left), width=8, height=height, period=period, **kwargs)

    sum_, p50, p99 = cloudwatch.Stats.SUM, cloudwatch.Stats.p(50), cloudwatch.Stats.p(99)
    dashboard = cloudwatch.Dashboard(
        monitoring, "Dashboard", dashboard_name=name, default_interval=cdk.Duration.hours(3)
    )
    dashboard.add_widgets(
        cloudwatch.AlarmStatusWidget(
            title="Transflow alarms", alarms=list(monitoring.alarms.values()), width=24, height=4
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
            [monitoring.search(schema.METRIC_STATUS_CHECKS, schema.METRIC_STATUS_CHECKS_DIMENSION, "")],
        ),
    )
    dashboard.add_widgets(
        graph(
            "Webhook deliveries by outcome",
            [monitoring.webhook_deliveries(outcome) for outcome in schema.WEBHOOK_OUTCOMES],
        ),
        graph(
            "Webhook delivery latency (ms)",
            [
                monitoring.webhook_latency(schema.WEBHOOK_OUTCOME_DELIVERED, p50),
                monitoring.webhook_latency(schema.WEBHOOK_OUTCOME_DELIVERED, p99),
                monitoring.webhook_latency(schema.WEBHOOK_OUTCOME_RETRYING, p99),
            ],
        ),
        graph(
            "Webhook queue",
            [
                monitoring.webhook_queue.metric_approximate_age_of_oldest_message(
                    statistic=cloudwatch.Stats.MAXIMUM, label="oldest message age (s)"
                )
            ],
            right=[
                monitoring.webhook_queue.metric_approximate_number_of_messages_visible(
                    statistic=cloudwatch.Stats.MAXIMUM, label="visible"
                ),
                monitoring.webhook_queue.metric_approximate_number_of_messages_not_visible(
                    statistic=cloudwatch.Stats.MAXIMUM, label="in flight / waiting for retry"
                ),
            ],
        ),
    )
    dashboard.add_widgets(
        graph(
            "Dead letters",
            [
                monitoring.dead_letter_queue.metric_approximate_number_of_messages_visible(
                    statistic=cloudwatch.Stats.MAXIMUM, label="webhook DLQ"
                ),
                monitoring.stream_failure_queue.metric_approximate_number_of_messages_visible(
                    statistic=cloudwatch.Stats.MAXIMUM, label="stream-failure queue"
                ),
            ],
        ),
        graph(
            "Table consumed capacity",
            [
                monitoring.table_metric("ConsumedReadCapacityUnits").with_(label="read units"),
                monitoring.table_metric("ConsumedWriteCapacityUnits").with_(label="write units"),
            ],
            right=[
                monitoring.table_metric("ReadThrottleEvents").with_(label="read throttles"),
                monitoring.table_metric("WriteThrottleEvents").with_(label="write throttles"),
            ],
        ),
        graph(
            "Stream dispatcher",
            [monitoring.handler_metric(schema.METRIC_WEBHOOK_EVENTS_QUEUED, "events queued")],
            right=[
                monitoring.handler_metric(schema.METRIC_WEBHOOK_ENQUEUE_FAILURES, "enqueue failures"),
                monitoring.functions["dispatcher"].metric(
                    "IteratorAge", statistic=cloudwatch.Stats.MAXIMUM, label="iterator age (ms)"
                ),
            ],
        ),
    )
    functions = monitoring.functions.items()
    lambda_row: list[cloudwatch.IWidget] = [
        graph("Lambda errors", [f.metric_errors(statistic=sum_, label=role) for role, f in functions]),
        graph("Lambda duration p99 (ms)", [f.metric_duration(statistic=p99, label=role) for role, f in functions]),
        graph("Lambda throttles", [f.metric_throttles(statistic=sum_, label=role) for role, f in functions]),
    ]
    dashboard.add_widgets(*lambda_row)
    if "authorizer" in monitoring.functions:
        dashboard.add_widgets(
            graph(
                "Authorizer decisions by result",
                [
                    monitoring.search(
                        schema.METRIC_AUTHORIZER_DECISIONS, schema.METRIC_AUTHORIZER_DECISIONS_DIMENSION, ""
                    )
                ],
            )
        )
    return dashboard
