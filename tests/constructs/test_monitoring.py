"""Monitoring: every alarm (metric, threshold, comparison, period, missing data, actions), the
optional dashboard, the threshold options and the combinations ``TransflowStatus`` refuses."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import assertions
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from transflow_runtime import schema

from transflow_constructs import AlarmThresholds, StatusAuth, StatusMonitoring, TransflowStatus, WebhookTarget
from transflow_constructs.monitoring import default_webhook_queue_age

from .cdk_helpers import Synth, cfn_lint_errors, nag_findings, new_stack, of_type, oidc_auth, plain_secret, synth

ROLES_OIDC = ("status", "dispatcher", "webhook")
ROLES_SHARED = ("status", "authorizer", "dispatcher", "webhook")
COMMON_ALARMS = {
    "dead_letter_queue",
    "stream_failure_queue",
    "webhook_delivery_failures",
    "webhook_queue_age",
    "stream_iterator_age",
    "api_5xx_rate",
    "api_latency_p99",
    "table_throttles",
}


def function_alarms(roles: tuple[str, ...]) -> set[str]:
    return {f"{role}_function_{kind}" for role in roles for kind in ("errors", "throttles")}


def alarm_props(result: Synth, key: str) -> dict[str, Any]:
    """The CloudFormation properties of ``status.alarms[key]``."""
    alarm = result.status.alarms[key]
    return result.template["Resources"][result.stack.get_logical_id(alarm.node.default_child)]["Properties"]


def ref_of(result: Synth, construct: Any) -> str:
    return result.stack.get_logical_id(construct.node.default_child)


def topic_stack(stack: cdk.Stack) -> sns.Topic:
    """An alarm topic as cdk-nag wants one: KMS-encrypted, TLS-only."""
    key = kms.Key(stack, "AlarmKey", enable_key_rotation=True)
    return sns.Topic(stack, "AlarmTopic", master_key=key, enforce_ssl=True)


@pytest.fixture(scope="module")
def full() -> Synth:
    """Shared-secret auth, an alarm topic and a named dashboard."""

    def build(stack: cdk.Stack) -> TransflowStatus:
        jwt_secret = plain_secret(stack, "JwtSecret")
        hook_secret = plain_secret(stack, "HookSecret")
        return TransflowStatus(
            stack,
            "Status",
            auth=StatusAuth.shared_secret(jwt_secret),
            webhooks={"tpl": WebhookTarget(url="https://hooks.example.com/t", secret=hook_secret)},
            alarm_topic=topic_stack(stack),
            dashboard="transflow-ops",
        )

    return synth(build)


# ---- which alarms exist -----------------------------------------------------------------------------


def test_alarms_exist_by_default_for_every_part(oidc: Synth) -> None:
    assert set(oidc.status.alarms) == COMMON_ALARMS | function_alarms(ROLES_OIDC)
    assert len(of_type(oidc.template, "AWS::CloudWatch::Alarm")) == len(oidc.status.alarms)
    assert all(isinstance(a, cloudwatch.Alarm) for a in oidc.status.alarms.values())
    assert isinstance(oidc.status.monitoring, StatusMonitoring)
    assert oidc.status.alarms == oidc.status.monitoring.alarms


def test_the_shared_secret_authorizer_gets_its_own_alarms(shared: Synth) -> None:
    assert set(shared.status.alarms) == COMMON_ALARMS | function_alarms(ROLES_SHARED)


def test_alarm_construct_ids_are_stable(oidc: Synth) -> None:
    paths = {key: alarm.node.path for key, alarm in oidc.status.alarms.items()}
    assert paths["dead_letter_queue"] == "TestStack/Status/Monitoring/DeadLetterQueueAlarm"
    assert paths["webhook_function_errors"] == "TestStack/Status/Monitoring/WebhookFunctionErrorsAlarm"
    assert paths["api_5xx_rate"] == "TestStack/Status/Monitoring/Api5xxRateAlarm"
    assert paths["table_throttles"] == "TestStack/Status/Monitoring/TableThrottlesAlarm"


def test_alarms_mapping_is_a_copy(oidc: Synth) -> None:
    alarms = oidc.status.alarms
    alarms.clear()
    assert oidc.status.alarms


# ---- each alarm ---------------------------------------------------------------------------------------


def assert_common(props: dict[str, Any], *, evaluation_periods: int = 1) -> None:
    assert props["ComparisonOperator"] == "GreaterThanThreshold"
    assert props["TreatMissingData"] == "notBreaching"
    assert props["EvaluationPeriods"] == evaluation_periods == props["DatapointsToAlarm"]
    assert "README.md, section 'Operations'" in props["AlarmDescription"]


@pytest.mark.parametrize(
    ("key", "queue_attr", "metric", "threshold"),
    [
        ("dead_letter_queue", "dead_letter_queue", "ApproximateNumberOfMessagesVisible", 0),
        ("stream_failure_queue", "stream_failure_queue", "ApproximateNumberOfMessagesVisible", 0),
        ("webhook_queue_age", "webhook_queue", "ApproximateAgeOfOldestMessage", 900),
    ],
)
def test_queue_alarms(oidc: Synth, key: str, queue_attr: str, metric: str, threshold: int) -> None:
    props = alarm_props(oidc, key)
    assert_common(props)
    assert (props["Namespace"], props["MetricName"], props["Statistic"], props["Period"]) == (
        "AWS/SQS",
        metric,
        "Maximum",
        300,
    )
    assert props["Threshold"] == threshold
    queue = getattr(oidc.status, queue_attr)
    assert props["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [ref_of(oidc, queue), "QueueName"]}}]


@pytest.mark.parametrize("role", ROLES_SHARED)
@pytest.mark.parametrize(("kind", "metric"), [("errors", "Errors"), ("throttles", "Throttles")])
def test_function_alarms(shared: Synth, role: str, kind: str, metric: str) -> None:
    props = alarm_props(shared, f"{role}_function_{kind}")
    assert_common(props)
    function = getattr(shared.status, f"{role}_function")
    assert (props["Namespace"], props["MetricName"], props["Statistic"], props["Period"]) == (
        "AWS/Lambda",
        metric,
        "Sum",
        300,
    )
    assert props["Threshold"] == 0
    assert props["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": ref_of(shared, function)}}]


def test_stream_iterator_age_alarm_watches_the_dispatcher(oidc: Synth) -> None:
    props = alarm_props(oidc, "stream_iterator_age")
    assert_common(props)
    assert (props["Namespace"], props["MetricName"], props["Statistic"], props["Period"]) == (
        "AWS/Lambda",
        "IteratorAge",
        "Maximum",
        300,
    )
    assert props["Threshold"] == 15 * 60 * 1000  # milliseconds
    dispatcher = ref_of(oidc, oidc.status.dispatcher_function)
    assert props["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": dispatcher}}]


def math(props: dict[str, Any]) -> tuple[str, dict[str, dict[str, Any]]]:
    """(expression, {id: MetricStat}) of a metric-math alarm; exactly one returned expression."""
    returned = [m for m in props["Metrics"] if m.get("ReturnData", True)]
    assert len(returned) == 1 and "Expression" in returned[0]
    stats = {m["Id"]: m["MetricStat"] for m in props["Metrics"] if "MetricStat" in m}
    assert all(m.get("ReturnData") is False for m in props["Metrics"] if "MetricStat" in m)
    return returned[0]["Expression"], stats


def test_webhook_delivery_failure_alarm_counts_retrying_and_failed_outcomes(oidc: Synth) -> None:
    props = alarm_props(oidc, "webhook_delivery_failures")
    assert_common(props)
    expression, stats = math(props)
    assert expression == "FILL(retrying, 0) + FILL(failed, 0)"
    assert props["Threshold"] == 10
    for outcome in ("retrying", "failed"):
        stat = stats[outcome]
        assert stat["Metric"] == {
            "Namespace": schema.DEFAULT_METRICS_NAMESPACE,
            "MetricName": schema.METRIC_WEBHOOK_DELIVERIES,
            "Dimensions": [
                {"Name": schema.METRIC_INSTANCE_DIMENSION, "Value": oidc.resolve(oidc.status.instance_id)},
                {"Name": schema.METRIC_WEBHOOK_DIMENSION, "Value": outcome},
            ],
        }
        assert (stat["Stat"], stat["Period"]) == ("Sum", 900)


def test_api_5xx_rate_alarm_is_a_percentage_with_a_minimum_of_requests(oidc: Synth) -> None:
    props = alarm_props(oidc, "api_5xx_rate")
    assert_common(props)
    expression, stats = math(props)
    assert expression == "IF(requests >= 20, 100 * FILL(errors, 0) / requests, 0)"
    assert props["Threshold"] == 1
    api = {"Name": "ApiId", "Value": {"Ref": ref_of(oidc, oidc.status.http_api)}}
    assert stats["errors"]["Metric"] == {"Namespace": "AWS/ApiGateway", "MetricName": "5xx", "Dimensions": [api]}
    assert stats["requests"]["Metric"] == {"Namespace": "AWS/ApiGateway", "MetricName": "Count", "Dimensions": [api]}
    assert all((s["Stat"], s["Period"]) == ("Sum", 300) for s in stats.values())


def test_api_latency_alarm_is_p99_over_three_periods(oidc: Synth) -> None:
    props = alarm_props(oidc, "api_latency_p99")
    assert_common(props, evaluation_periods=3)
    assert (props["Namespace"], props["MetricName"], props["ExtendedStatistic"], props["Period"]) == (
        "AWS/ApiGateway",
        "Latency",
        "p99",
        300,
    )
    assert props["Threshold"] == 1000
    assert props["Dimensions"] == [{"Name": "ApiId", "Value": {"Ref": ref_of(oidc, oidc.status.http_api)}}]


def test_table_throttle_alarm_covers_table_and_index_reads_and_writes(oidc: Synth) -> None:
    props = alarm_props(oidc, "table_throttles")
    assert_common(props)
    expression, stats = math(props)
    assert props["Threshold"] == 0
    assert set(stats) == {"readtable", "writetable", "readindex", "writeindex"}
    assert all(f"FILL({name}, 0)" in expression for name in stats)
    table = {"Name": "TableName", "Value": {"Ref": ref_of(oidc, oidc.status.table)}}
    index = {"Name": "GlobalSecondaryIndexName", "Value": schema.USER_INDEX_NAME}
    for name, stat in stats.items():
        metric = stat["Metric"]
        assert metric["Namespace"] == "AWS/DynamoDB" and stat["Stat"] == "Sum" and stat["Period"] == 300
        assert metric["MetricName"] == ("ReadThrottleEvents" if name.startswith("read") else "WriteThrottleEvents")
        expected = [table] if name.endswith("table") else [table, index]
        assert sorted(metric["Dimensions"], key=lambda d: d["Name"]) == sorted(expected, key=lambda d: d["Name"])


# ---- actions ------------------------------------------------------------------------------------------


def test_without_a_topic_alarms_notify_nobody(oidc: Synth) -> None:
    for key in oidc.status.alarms:
        props = alarm_props(oidc, key)
        assert "AlarmActions" not in props and "OKActions" not in props, key


def test_with_a_topic_every_alarm_and_recovery_is_published_to_it(full: Synth) -> None:
    topic = next(iter(of_type(full.template, "AWS::SNS::Topic")))
    assert len(full.status.alarms) == len(COMMON_ALARMS | function_alarms(ROLES_SHARED))
    for key in full.status.alarms:
        props = alarm_props(full, key)
        assert props["AlarmActions"] == [{"Ref": topic}], key
        assert props["OKActions"] == [{"Ref": topic}], key
        assert "InsufficientDataActions" not in props


# ---- dashboard ------------------------------------------------------------------------------------------


def test_no_dashboard_unless_asked(oidc: Synth, shared: Synth) -> None:
    for result in (oidc, shared):
        assert of_type(result.template, "AWS::CloudWatch::Dashboard") == {}
        assert result.status.dashboard is None


def dashboard_body(result: Synth) -> tuple[dict[str, Any], dict[str, Any]]:
    """(dashboard properties, body with every token replaced by a placeholder)."""
    [props] = [r["Properties"] for r in of_type(result.template, "AWS::CloudWatch::Dashboard").values()]
    parts = props["DashboardBody"]["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else "TOKEN" for p in parts)
    return props, json.loads(text)


def test_named_dashboard_shows_the_service_metrics_and_every_alarm(full: Synth) -> None:
    props, body = dashboard_body(full)
    assert props["DashboardName"] == "transflow-ops"
    assert full.status.dashboard is full.status.monitoring.dashboard
    widgets = {w["properties"].get("title"): w for w in body["widgets"]}
    alarm_widget = widgets["Transflow alarms"]
    assert len(alarm_widget["properties"]["alarms"]) == len(full.status.alarms)
    assert {
        "API requests",
        "API latency (ms)",
        "Status checks by result",
        "Webhook deliveries by outcome",
        "Webhook delivery latency (ms)",
        "Webhook queue",
        "Dead letters",
        "Table consumed capacity",
        "Stream dispatcher",
        "Lambda errors",
        "Lambda duration p99 (ms)",
        "Lambda throttles",
        "Authorizer decisions by result",
    } <= set(widgets)

    def metrics(title: str) -> list[list[Any]]:
        return widgets[title]["properties"]["metrics"]

    [[search]] = metrics("Status checks by result")
    assert search["expression"] == (
        f'SEARCH(\'{{"{schema.DEFAULT_METRICS_NAMESPACE}",Instance,Result}} Instance="TOKEN/Status" '
        f'MetricName="{schema.METRIC_STATUS_CHECKS}"\', '
        "'Sum', 300)"
    )
    # Dashboard metric arrays: [namespace, name, dimension, value, dimension, value, ...]
    outcomes = [m[5] for m in metrics("Webhook deliveries by outcome")]
    assert outcomes == list(schema.WEBHOOK_OUTCOMES)
    assert all(
        m[:5] == ["Transflow", schema.METRIC_WEBHOOK_DELIVERIES, "Instance", "TOKEN/Status", "Outcome"]
        for m in metrics("Webhook deliveries by outcome")
    )
    assert {m[1] for m in metrics("Table consumed capacity")} >= {
        "ConsumedReadCapacityUnits",
        "ConsumedWriteCapacityUnits",
    }
    assert {m[1] for m in metrics("Webhook queue")} >= {"ApproximateAgeOfOldestMessage"}
    assert [m[1] for m in metrics("Dead letters")] == ["ApproximateNumberOfMessagesVisible"] * 2
    assert {m[1] for m in metrics("Webhook delivery latency (ms)")} == {schema.METRIC_WEBHOOK_LATENCY}
    assert len(metrics("Lambda errors")) == len(ROLES_SHARED)
    assert {m[1] for m in metrics("Stream dispatcher")} == {
        schema.METRIC_WEBHOOK_EVENTS_QUEUED,
        schema.METRIC_WEBHOOK_ENQUEUE_FAILURES,
        "IteratorAge",
    }


def test_dashboard_true_gets_a_generated_name_and_no_authorizer_widget_with_oidc() -> None:
    result = synth(lambda stack: TransflowStatus(stack, "Status", auth=oidc_auth(), dashboard=True))
    props, body = dashboard_body(result)
    assert "DashboardName" not in props
    titles = {w["properties"].get("title") for w in body["widgets"]}
    assert "Authorizer decisions by result" not in titles and "Status checks by result" in titles


@pytest.mark.parametrize("bad", ["has space", "", "x" * 256, "slash/name", 3])
def test_invalid_dashboard_names_are_refused(bad: Any) -> None:
    with pytest.raises(ValueError, match="dashboard must be True, False or a dashboard name"):
        TransflowStatus(new_stack(), "Status", auth=oidc_auth(), dashboard=bad)


# ---- options --------------------------------------------------------------------------------------------


def test_monitoring_can_be_turned_off() -> None:
    result = synth(lambda stack: TransflowStatus(stack, "Status", auth=oidc_auth(), monitoring=False))
    assert of_type(result.template, "AWS::CloudWatch::Alarm") == {}
    assert result.status.alarms == {} and result.status.monitoring is None and result.status.dashboard is None


@pytest.mark.parametrize(
    ("option", "value"),
    [("alarm_topic", "topic"), ("alarm_thresholds", AlarmThresholds()), ("dashboard", True), ("dashboard", "ops")],
)
def test_monitoring_options_conflict_with_monitoring_off(option: str, value: Any) -> None:
    stack = new_stack()
    if value == "topic":
        value = sns.Topic(stack, "T")
    with pytest.raises(ValueError, match=f"monitoring=False and {option}= conflict"):
        TransflowStatus(stack, "Status", auth=oidc_auth(), monitoring=False, **{option: value})


def test_thresholds_change_what_each_alarm_fires_on() -> None:
    thresholds = AlarmThresholds(
        period=cdk.Duration.minutes(1),
        dead_letter_messages=5,
        stream_failure_messages=2,
        webhook_failures=50,
        webhook_failures_period=cdk.Duration.hours(1),
        webhook_queue_age=cdk.Duration.minutes(30),
        stream_iterator_age=cdk.Duration.minutes(5),
        lambda_errors=3,
        lambda_throttles=4,
        api_5xx_rate_percent=2.5,
        api_5xx_min_requests=100,
        api_latency_p99=cdk.Duration.millis(750),
        api_latency_evaluation_periods=5,
        table_throttles=7,
    )
    result = synth(
        lambda stack: TransflowStatus(
            stack, "Status", auth=oidc_auth(), alarm_thresholds=thresholds, metrics_namespace="MyApp/Status"
        )
    )
    threshold = {key: alarm_props(result, key)["Threshold"] for key in result.status.alarms}
    assert threshold == {
        "dead_letter_queue": 5,
        "stream_failure_queue": 2,
        "webhook_delivery_failures": 50,
        "webhook_queue_age": 1800,
        "stream_iterator_age": 300_000,
        **{f"{role}_function_errors": 3 for role in ROLES_OIDC},
        **{f"{role}_function_throttles": 4 for role in ROLES_OIDC},
        "api_5xx_rate": 2.5,
        "api_latency_p99": 750,
        "table_throttles": 7,
    }
    assert alarm_props(result, "dead_letter_queue")["Period"] == 60
    latency = alarm_props(result, "api_latency_p99")
    assert (latency["Period"], latency["EvaluationPeriods"], latency["DatapointsToAlarm"]) == (60, 5, 5)
    expression, stats = math(alarm_props(result, "api_5xx_rate"))
    assert expression.startswith("IF(requests >= 100,") and stats["requests"]["Period"] == 60
    _, failures = math(alarm_props(result, "webhook_delivery_failures"))
    assert {s["Period"] for s in failures.values()} == {3600}
    assert {s["Metric"]["Namespace"] for s in failures.values()} == {"MyApp/Status"}


def test_webhook_queue_age_default_follows_a_long_retry_schedule() -> None:
    assert default_webhook_queue_age(schema.DEFAULT_WEBHOOK_RETRY_DELAYS, cdk.Duration.seconds(60)).to_seconds() == 900
    result = synth(
        lambda stack: TransflowStatus(stack, "Status", auth=oidc_auth(), webhook_retry_delays=[600, 1800, 3600])
    )
    # A retried message counts until its third receive: 600 + 1800 s of waiting + 3 x 60 s runs + 5 min margin.
    assert alarm_props(result, "webhook_queue_age")["Threshold"] == 600 + 1800 + 180 + 300


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"period": cdk.Duration.seconds(90)}, "period must be whole minutes"),
        ({"period": cdk.Duration.days(8)}, "period must be whole minutes"),
        ({"webhook_failures_period": cdk.Duration.seconds(30)}, "webhook_failures_period must be whole minutes"),
        ({"dead_letter_messages": -1}, "dead_letter_messages must be a whole number"),
        ({"lambda_errors": 1.5}, "lambda_errors must be a whole number"),
        ({"table_throttles": True}, "table_throttles must be a whole number"),
        ({"webhook_queue_age": cdk.Duration.seconds(30)}, "webhook_queue_age must be at least 1 minute"),
        ({"stream_iterator_age": cdk.Duration.seconds(10)}, "stream_iterator_age must be at least 1 minute"),
        ({"api_5xx_rate_percent": 0}, "api_5xx_rate_percent must be between 0 and 100"),
        ({"api_5xx_rate_percent": 100}, "api_5xx_rate_percent must be between 0 and 100"),
        ({"api_5xx_min_requests": 0}, "api_5xx_min_requests must be at least 1"),
        ({"api_latency_p99": cdk.Duration.millis(0)}, "api_latency_p99 must be a positive Duration"),
        ({"api_latency_evaluation_periods": 0}, "api_latency_evaluation_periods must be at least 1"),
        ({"api_latency_evaluation_periods": 300}, "api_latency_evaluation_periods .* at most one day"),
        (
            {"period": cdk.Duration.hours(1), "api_latency_evaluation_periods": 169},
            "api_latency_evaluation_periods .* 7 days",
        ),
        ({"period": 300}, "period must be a Duration"),
    ],
)
def test_invalid_thresholds_are_refused_naming_the_field(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=f"alarm_thresholds.{message}"):
        AlarmThresholds(**options)


def test_thresholds_must_be_an_alarm_thresholds() -> None:
    with pytest.raises(ValueError, match="alarm_thresholds must be an AlarmThresholds"):
        TransflowStatus(new_stack(), "Status", auth=oidc_auth(), alarm_thresholds={"lambda_errors": 1})


def test_alarms_watch_an_existing_table_by_its_name() -> None:
    def build(stack: cdk.Stack) -> TransflowStatus:
        table = dynamodb.Table.from_table_attributes(
            stack,
            "Existing",
            table_name="existing-status",
            table_stream_arn="arn:aws:dynamodb:us-east-1:123456789012:table/existing-status/stream/2024-01-01T00:00:00.000",
        )
        return TransflowStatus(stack, "Status", auth=oidc_auth(), table=table)

    result = synth(build)
    _, stats = math(alarm_props(result, "table_throttles"))
    assert {d["Value"] for s in stats.values() for d in s["Metric"]["Dimensions"] if d["Name"] == "TableName"} == {
        "existing-status"
    }


# ---- linters ----------------------------------------------------------------------------------------------


def test_monitoring_with_topic_and_dashboard_has_no_unacknowledged_nag_findings(full: Synth) -> None:
    assert nag_findings(full.stack) == []


def test_cfn_lint_finds_no_errors_with_topic_and_dashboard(full: Synth) -> None:
    assert cfn_lint_errors(full.template) == []


def test_alarm_templates_validate_with_assertions(full: Synth) -> None:
    """A last cross-check through CDK's own matcher: every alarm is wired to the topic."""
    template = assertions.Template.from_json(full.template)
    template.resource_count_is("AWS::CloudWatch::Alarm", len(full.status.alarms))
    template.all_resources_properties(
        "AWS::CloudWatch::Alarm",
        {"TreatMissingData": "notBreaching", "ComparisonOperator": "GreaterThanThreshold"},
    )


def test_the_readme_explains_every_alarm(shared: Synth) -> None:
    """The operations section has a row for each alarm name (``<role>`` rows cover every role)."""
    import re

    from .cdk_helpers import REPO

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("<!-- section:operations -->", 1)[1].split("<!-- /section:operations -->", 1)[0]
    documented = set(re.findall(r"^\| `([a-z0-9_<>]+)` \|", section, flags=re.MULTILINE))
    expanded = set()
    for name in documented:
        expanded |= {name.replace("<role>", role) for role in ROLES_SHARED} if "<role>" in name else {name}
    assert expanded == set(shared.status.alarms)


def test_status_monitoring_documents_every_keyword() -> None:
    """``StatusMonitoring`` is exported: each keyword is documented, with its default unless required."""
    import inspect

    doc = StatusMonitoring.__doc__ or ""
    keywords = {
        name: parameter
        for name, parameter in inspect.signature(StatusMonitoring.__init__).parameters.items()
        if name not in ("self", "scope", "construct_id")
    }
    entries = {
        name: doc.split(f":param {name}:", 1)[1].split(":param ", 1)[0] for name in keywords if f":param {name}:" in doc
    }
    assert set(entries) == set(keywords), (
        f"undocumented StatusMonitoring keywords: {sorted(set(keywords) - set(entries))}"
    )
    for name, parameter in keywords.items():
        expected = "Required." if parameter.default is inspect.Parameter.empty else "Default:"
        assert expected in entries[name], f"StatusMonitoring keyword {name!r} does not say {expected!r}"
