"""Per-instance telemetry (issue 11 point 5, CONTRACTS.md C): two instances never share alarms or widgets.

Amazon CloudWatch User Guide, "CloudWatch concepts" (Dimensions): "CloudWatch treats each unique
combination of dimensions as a separate metric" and an alarm or a metric query only sees data
points with exactly the dimensions it names. The handlers put every metric under an ``Instance``
dimension (the function's ``TRANSFLOW_INSTANCE_ID``); every alarm and dashboard query on the
handlers' namespace names that dimension with its own instance's value.
"""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
from aws_cdk import assertions
from constructs import Construct
from transflow_runtime import schema

from transflow_constructs import TransflowStatus

from .cdk_helpers import SKIP_BUNDLING, of_type, oidc_auth

ENV = cdk.Environment(account="123456789012", region="us-east-1")


def _render(value: Any, stack_name: str) -> Any:
    """A template value with ``AWS::StackName`` filled in (what CloudFormation writes at deploy time)."""
    if isinstance(value, dict):
        if value == {"Ref": "AWS::StackName"}:
            return stack_name
        if set(value) == {"Fn::Join"}:
            separator, parts = value["Fn::Join"]
            return separator.join(str(_render(p, stack_name)) for p in parts)
        return {k: _render(v, stack_name) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v, stack_name) for v in value]
    return value


def _functions(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in of_type(template, "AWS::Lambda::Function").values()]


def _handler_metrics(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``MetricStat.Metric`` (or plain metric) of an alarm in the handlers' namespace."""
    props = alarm["Properties"]
    found = []
    if props.get("Namespace") == schema.DEFAULT_METRICS_NAMESPACE:
        found.append({"Namespace": props["Namespace"], "Dimensions": props.get("Dimensions", [])})
    for query in props.get("Metrics", []):
        metric = (query.get("MetricStat") or {}).get("Metric")
        if metric and metric["Namespace"] == schema.DEFAULT_METRICS_NAMESPACE:
            found.append(metric)
    return found


def _instance_of_each_resource(template: dict[str, Any]) -> dict[str, str]:
    return {k: r["Metadata"]["transflow:instance"] for k, r in template["Resources"].items() if "Metadata" in r}


def test_two_instances_in_one_stack_each_alarm_on_their_own_metrics() -> None:
    app = cdk.App(context=SKIP_BUNDLING)
    stack = cdk.Stack(app, "Shared", env=ENV)
    dev = TransflowStatus(stack, "Dev", auth=oidc_auth(), dashboard=True)
    prod = TransflowStatus(stack, "Prod", auth=oidc_auth(), dashboard=True)
    template = assertions.Template.from_stack(stack).to_json()
    owner = _instance_of_each_resource(template)
    ids = {s.node.addr: _render(stack.resolve(s.instance_id), "shared") for s in (dev, prod)}
    assert ids[dev.node.addr] == "shared/Dev" and ids[prod.node.addr] == "shared/Prod"

    for logical_id, function in of_type(template, "AWS::Lambda::Function").items():
        variables = _render(function["Properties"]["Environment"]["Variables"], "shared")
        assert variables[schema.INSTANCE_ID_ENV] == ids[owner[logical_id]]

    handler_alarms = 0
    for logical_id, alarm in of_type(template, "AWS::CloudWatch::Alarm").items():
        for metric in _handler_metrics(alarm):
            handler_alarms += 1
            dimensions = {d["Name"]: _render(d["Value"], "shared") for d in metric["Dimensions"]}
            assert dimensions[schema.METRIC_INSTANCE_DIMENSION] == ids[owner[logical_id]], logical_id
    assert handler_alarms >= 2 * 2  # retrying + failed deliveries of each instance

    for logical_id, dashboard in of_type(template, "AWS::CloudWatch::Dashboard").items():
        body = _render(dashboard["Properties"]["DashboardBody"], "shared")
        own, other = ids[owner[logical_id]], next(v for k, v in ids.items() if k != owner[logical_id])
        assert other not in body
        searches = 0
        for widget in json.loads(body)["widgets"]:
            for metric in widget["properties"].get("metrics", []):
                if metric and metric[0] == schema.DEFAULT_METRICS_NAMESPACE:
                    assert metric[2:4] == [schema.METRIC_INSTANCE_DIMENSION, own], metric
                expression = metric[0].get("expression", "") if metric and isinstance(metric[0], dict) else ""
                if "SEARCH(" in expression:
                    searches += 1
                    assert f'Instance="{own}"' in expression, expression
        assert searches >= 1


def test_the_same_app_in_two_stacks_gets_two_instance_ids() -> None:
    """``AWS::StackName`` makes the id unique per account and Region, even for the template deployed
    under another name with the AWS CLI or StackSets."""
    app = cdk.App(context=SKIP_BUNDLING)
    rendered = []
    for name in ("transflow-dev", "transflow-prod"):
        stack = cdk.Stack(app, name, env=ENV)
        status = TransflowStatus(stack, "Status", auth=oidc_auth())
        value = stack.resolve(status.instance_id)
        assert value == {"Fn::Join": ["", [{"Ref": "AWS::StackName"}, "/Status"]]}
        rendered.append(_render(value, name))
    assert rendered == ["transflow-dev/Status", "transflow-prod/Status"]


def test_a_deeply_nested_instance_keeps_a_bounded_id() -> None:
    """Amazon CloudWatch API Reference, ``Dimension``: a value is 1 to 1,024 characters (a stack name
    is at most 128)."""
    app = cdk.App(context=SKIP_BUNDLING)
    stack = cdk.Stack(app, "S", env=ENV)
    scope: Any = stack
    for i in range(30):
        scope = Construct(scope, f"Nested-level-{i:02d}")
    status = TransflowStatus(scope, "Status", auth=oidc_auth())
    rendered = _render(stack.resolve(status.instance_id), "s" * 128)
    assert len(rendered) <= 1024

