"""Every value the construct writes into a property lies inside AWS's documented range.

Table-driven: for each option, the values at both ends of its range synthesize and reach the
property they set; one step beyond either end is refused at synth time with a ValueError naming
the option (cfn-lint does not look inside every property: ``RedrivePolicy`` is a JSON string to
it, so ``maxReceiveCount: 1003`` passed it). Each row names the AWS document the range comes from.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest

from transflow_constructs import AlarmThresholds, StatusAuth, TransflowStatus

from .cdk_helpers import Synth, new_stack, of_type, oidc_auth, plain_secret, synth


@dataclass(frozen=True)
class Range:
    option: str
    low: Any
    high: Any
    below: Any
    above: Any
    #: Reads the value the option produced from the template.
    read: Callable[[dict[str, Any]], Any]
    #: What ``read`` returns for an option value (identity unless the option is a Duration etc.).
    expect: Callable[[Any], Any]
    doc: str
    wrap: Callable[[Any], Any] = lambda v: v

    def options(self, value: Any) -> dict[str, Any]:
        return {self.option: self.wrap(value)}


def _one(template: dict[str, Any], resource_type: str, where: Callable[[dict[str, Any]], bool] = lambda p: True):
    (props,) = [r["Properties"] for r in of_type(template, resource_type).values() if where(r["Properties"])]
    return props


def _function(template: dict[str, Any], handler_module: str) -> dict[str, Any]:
    return _one(template, "AWS::Lambda::Function", lambda p: handler_module in p["Handler"])


def _stream_mapping(template: dict[str, Any]) -> dict[str, Any]:
    return _one(template, "AWS::Lambda::EventSourceMapping", lambda p: "StartingPosition" in p)


def _queue_mapping(template: dict[str, Any]) -> dict[str, Any]:
    return _one(template, "AWS::Lambda::EventSourceMapping", lambda p: "StartingPosition" not in p)


def _stage(template: dict[str, Any]) -> dict[str, Any]:
    return _one(template, "AWS::ApiGatewayV2::Stage")["DefaultRouteSettings"]


def _webhook_queue(template: dict[str, Any]) -> dict[str, Any]:
    return _one(template, "AWS::SQS::Queue", lambda p: "RedrivePolicy" in p)


def _seconds(value: int) -> cdk.Duration:
    return cdk.Duration.seconds(value)


same = lambda value: value  # noqa: E731


RANGES = [
    Range(
        "memory_size",
        128,
        10240,
        127,
        10241,
        lambda t: _function(t, "handlers.status")["MemorySize"],
        same,
        "AWS Lambda Developer Guide, 'Lambda quotas': function memory 128 MB to 10,240 MB",
    ),
    Range(
        "status_timeout",
        1,
        29,
        0,
        30,
        lambda t: _function(t, "handlers.status")["Timeout"],
        same,
        "Amazon API Gateway Developer Guide, 'Quotas for configuring and running an HTTP API': integration "
        "timeout 30 seconds (the function must give up first); Lambda timeouts are whole seconds >= 1",
        wrap=_seconds,
    ),
    Range(
        "webhook_max_concurrency",
        2,
        1000,
        1,
        1001,
        lambda t: _queue_mapping(t)["ScalingConfig"]["MaximumConcurrency"],
        same,
        "AWS Lambda API Reference, ScalingConfig MaximumConcurrency: minimum 2, maximum 1000",
    ),
    Range(
        "stream_batch_size",
        1,
        10000,
        0,
        10001,
        lambda t: _stream_mapping(t)["BatchSize"],
        same,
        "AWS Lambda API Reference, CreateEventSourceMapping BatchSize: DynamoDB Streams default 100, max 10,000",
    ),
    Range(
        "stream_retry_attempts",
        0,
        10000,
        -1,
        10001,
        lambda t: _stream_mapping(t)["MaximumRetryAttempts"],
        same,
        "AWS Lambda API Reference, CreateEventSourceMapping MaximumRetryAttempts: -1 (infinite) to 10,000; "
        "-1 is refused on purpose (an expired record is a lost webhook)",
    ),
    Range(
        "stream_parallelization_factor",
        1,
        10,
        0,
        11,
        lambda t: _stream_mapping(t).get("ParallelizationFactor", 1),
        same,
        "AWS Lambda API Reference, CreateEventSourceMapping ParallelizationFactor: minimum 1, maximum 10",
    ),
    Range(
        "stream_max_record_age",
        60,
        604800,
        59,
        604801,
        lambda t: _stream_mapping(t)["MaximumRecordAgeInSeconds"],
        same,
        "AWS Lambda API Reference, CreateEventSourceMapping MaximumRecordAgeInSeconds: -1 or 60 to 604,800",
        wrap=_seconds,
    ),
    Range(
        "throttling_burst_limit",
        1,
        5000,
        0,
        None,
        lambda t: _stage(t)["ThrottlingBurstLimit"],
        same,
        "Amazon API Gateway Developer Guide, 'Throttle requests to your HTTP APIs': a route's burst is the "
        "token bucket's size; 0 refuses every request (no upper bound: above the account's it only warns)",
    ),
    Range(
        "throttling_rate_limit",
        0.5,
        10000,
        0,
        None,
        lambda t: _stage(t)["ThrottlingRateLimit"],
        same,
        "Amazon API Gateway Developer Guide, 'Throttle requests to your HTTP APIs': steady-state requests per "
        "second of each route, a positive number (0 refuses every request)",
    ),
    Range(
        # attempts = len(delays) + 1; maxReceiveCount = attempts + 3 (the safety margin)
        "webhook_retry_delays",
        0,
        996,
        None,
        997,
        lambda t: _webhook_queue(t)["RedrivePolicy"]["maxReceiveCount"],
        lambda delays: delays + 1 + 3,
        "Amazon SQS Developer Guide, 'Using dead-letter queues in Amazon SQS' (RedrivePolicy): maxReceiveCount "
        "1 to 1,000",
        wrap=lambda n: [1] * n,
    ),
]


def _build(**options: Any) -> Synth:
    # Short delivery timeouts keep the longest schedules inside SQS's 14-day retention.
    if "webhook_retry_delays" in options:
        options = {
            "webhook_timeout": cdk.Duration.seconds(1),
            "webhook_function_timeout": cdk.Duration.seconds(11),
            **options,
        }
    return synth(lambda stack: TransflowStatus(stack, "Status", auth=oidc_auth(), **options))


@pytest.mark.parametrize("row", RANGES, ids=lambda r: r.option)
@pytest.mark.parametrize("end", ["low", "high"])
def test_both_ends_of_each_range_reach_the_template(row: Range, end: str) -> None:
    value = getattr(row, end)
    template = _build(**row.options(value)).template
    assert row.read(template) == row.expect(value), row.doc


#: Ends beyond which a value is invalid (``None``: that side has no bound, e.g. a route may be
#: throttled above the account quota, which only warns; zero retry delays are one attempt).
BEYOND = [
    pytest.param(row, end, id=f"{row.option}-{end}")
    for row in RANGES
    for end in ("below", "above")
    if getattr(row, end) is not None
]


@pytest.mark.parametrize(("row", "end"), BEYOND)
def test_one_step_beyond_each_end_is_refused_naming_the_option(row: Range, end: str) -> None:
    value = getattr(row, end)
    with pytest.raises(ValueError, match=re.escape(row.option)):
        TransflowStatus(new_stack(), "Status", auth=oidc_auth(), **row.options(value))


def test_the_issue_example_of_999_one_minute_delays_is_refused() -> None:
    """``webhook_retry_delays=[60]*999`` synthesized ``maxReceiveCount: 1003`` (SQS allows 1-1000)."""
    with pytest.raises(ValueError, match=r"maxReceiveCount 1003 .* SQS's maximum of 1000"):
        TransflowStatus(new_stack(), "Status", auth=oidc_auth(), webhook_retry_delays=[60] * 999)


def test_the_longest_function_timeout_keeps_the_visibility_timeout_in_range() -> None:
    """Amazon SQS API Reference, SetQueueAttributes ``VisibilityTimeout``: 0 to 43,200 seconds.
    ``MessageRetentionPeriod``: 60 to 1,209,600 seconds. The construct sets 6 x the function timeout
    (AWS's advice for SQS event sources) and the 14-day maximum retention."""
    template = _build(webhook_function_timeout=cdk.Duration.seconds(900)).template
    for queue in of_type(template, "AWS::SQS::Queue").values():
        props = queue["Properties"]
        assert 60 <= props["MessageRetentionPeriod"] <= 1_209_600
        assert 0 <= props.get("VisibilityTimeout", 30) <= 43_200
    assert _webhook_queue(template)["VisibilityTimeout"] == 5400
    with pytest.raises(ValueError, match="webhook_function_timeout"):
        _build(webhook_function_timeout=cdk.Duration.seconds(901))


@pytest.mark.parametrize(("seconds", "ok"), [(0, True), (3600, True), (3601, False)])
def test_authorizer_cache_ttl_range(seconds: int, ok: bool) -> None:
    """AWS CloudFormation User Guide, ``AWS::ApiGatewayV2::Authorizer`` ``AuthorizerResultTtlInSeconds``:
    0 (caching off) to 3600."""
    stack = new_stack()
    secret = plain_secret(stack, "Jwt")
    if not ok:
        with pytest.raises(ValueError, match="cache_ttl"):
            StatusAuth.shared_secret(secret, cache_ttl=cdk.Duration.seconds(seconds))
        return
    TransflowStatus(stack, "Status", auth=StatusAuth.shared_secret(secret, cache_ttl=cdk.Duration.seconds(seconds)))


# ---- CloudWatch alarm periods ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "ok"),
    [(60, True), (604800, True), (59, False), (90, False), (604860, False)],
)
def test_alarm_period_range(period: int, ok: bool) -> None:
    """Amazon CloudWatch API Reference, PutMetricAlarm ``Period``: 10, 20, 30 (high-resolution
    metrics only; every metric here has one-minute resolution) or any multiple of 60; Period x
    EvaluationPeriods at most 604,800 seconds (7 days)."""
    options = {"period": cdk.Duration.seconds(period), "api_latency_evaluation_periods": 1}
    if not ok:
        with pytest.raises(ValueError, match=r"alarm_thresholds\.period"):
            AlarmThresholds(**options)
        return
    result = synth(
        lambda stack: TransflowStatus(stack, "Status", auth=oidc_auth(), alarm_thresholds=AlarmThresholds(**options))
    )
    periods = {
        a["Properties"]["Period"]
        for a in of_type(result.template, "AWS::CloudWatch::Alarm").values()
        if "Period" in a["Properties"]
    }
    assert periods == {period}


@pytest.mark.parametrize(
    ("period", "evaluations", "ok"),
    [(300, 288, True), (300, 289, False), (3600, 168, True), (3600, 169, False)],
)
def test_alarm_evaluation_range(period: int, evaluations: int, ok: bool) -> None:
    """Amazon CloudWatch API Reference, PutMetricAlarm ``Period``: "For alarms with a period of less
    than one hour (3,600 seconds), the total evaluation period can't be longer than one day (86,400
    seconds)"; otherwise Period x EvaluationPeriods can't be more than 604,800 seconds."""
    options = {"period": cdk.Duration.seconds(period), "api_latency_evaluation_periods": evaluations}
    if not ok:
        with pytest.raises(ValueError, match="api_latency_evaluation_periods"):
            AlarmThresholds(**options)
        return
    result = synth(
        lambda stack: TransflowStatus(stack, "Status", auth=oidc_auth(), alarm_thresholds=AlarmThresholds(**options))
    )
    latency = [
        a["Properties"]
        for a in of_type(result.template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("ExtendedStatistic") == "p99"
    ]
    assert [a["EvaluationPeriods"] for a in latency] == [evaluations]
    assert latency[0]["Period"] * evaluations <= (86400 if period < 3600 else 604800)


@pytest.mark.parametrize(
    ("namespace", "ok"),
    [("T", True), ("N" * 255, True), ("", False), ("N" * 256, False), ("AWS/Lambda", False), (":x", False)],
)
def test_metrics_namespace_range(namespace: str, ok: bool) -> None:
    """Amazon CloudWatch API Reference, PutMetricData ``Namespace``: 1 to 255 characters, pattern
    ``[^:].*``; namespaces beginning with ``AWS/`` are AWS's."""
    if not ok:
        with pytest.raises(ValueError, match="metrics_namespace"):
            TransflowStatus(new_stack(), "Status", auth=oidc_auth(), metrics_namespace=namespace)
        return
    TransflowStatus(new_stack(), "Status", auth=oidc_auth(), metrics_namespace=namespace)


@pytest.mark.parametrize(("count", "ok"), [(1, True), (50, True), (51, False)])
def test_oidc_audience_count_range(count: int, ok: bool) -> None:
    """Amazon API Gateway Developer Guide, "Quotas for configuring and running an HTTP API":
    audiences per authorizer, 50 (cannot be increased); creating the JWT authorizer with more fails."""
    audiences = [f"client-{i}" for i in range(count)]
    if ok:
        assert len(StatusAuth.oidc(issuer="https://issuer.example.com/", audience=audiences).audience) == count
    else:
        with pytest.raises(ValueError, match=r"at most 50 audiences"):
            StatusAuth.oidc(issuer="https://issuer.example.com/", audience=audiences)


def test_the_access_log_format_fits_api_gateway_s_template_size() -> None:
    """Amazon API Gateway Developer Guide, "Quotas for configuring and running an HTTP API": access log
    template size, 3 KB."""
    from transflow_constructs.api import ACCESS_LOG_FORMAT

    assert len(ACCESS_LOG_FORMAT.encode()) <= 3 * 1024


def test_the_stream_filters_fit_lambda_s_filter_quotas(oidc: Synth) -> None:
    """AWS Lambda Developer Guide, "Control which events Lambda sends to your function": by default at
    most five filters per event source mapping (more only by quota increase); Lambda API Reference,
    ``Filter``: ``Pattern`` at most 4,096 characters."""
    mappings = [
        p["Properties"]
        for p in of_type(oidc.template, "AWS::Lambda::EventSourceMapping").values()
        if "FilterCriteria" in p["Properties"]
    ]
    assert mappings
    for mapping in mappings:
        filters = mapping["FilterCriteria"]["Filters"]
        assert 1 <= len(filters) <= 5
        assert all(len(f["Pattern"]) <= 4096 for f in filters)
