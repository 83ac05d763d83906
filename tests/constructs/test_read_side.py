"""The read side: the HTTP API's access logs, name, throttling warnings, outputs."""

from __future__ import annotations

import re
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import assertions
from constructs import Construct

from transflow_constructs import TransflowStatus

from .cdk_helpers import SKIP_BUNDLING, Synth, new_stack, of_type, oidc_auth, synth

STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/{name}/{uuid}"


def _render(value: Any, *, stack_name: str, uuid: str) -> Any:
    """A template value as CloudFormation evaluates it for a stack of that name and id."""
    pseudo = {"AWS::StackName": stack_name, "AWS::StackId": STACK_ID.format(name=stack_name, uuid=uuid)}
    if isinstance(value, dict):
        if set(value) == {"Ref"} and value["Ref"] in pseudo:
            return pseudo[value["Ref"]]
        if set(value) == {"Fn::Join"}:
            separator, parts = value["Fn::Join"]
            return separator.join(_render(p, stack_name=stack_name, uuid=uuid) for p in parts)
        if set(value) == {"Fn::Split"}:
            separator, text = value["Fn::Split"]
            return _render(text, stack_name=stack_name, uuid=uuid).split(separator)
        if set(value) == {"Fn::Select"}:
            index, items = value["Fn::Select"]
            return _render(items, stack_name=stack_name, uuid=uuid)[int(index)]
    return value


def _access_log_names(template: dict[str, Any]) -> list[Any]:
    (stage,) = of_type(template, "AWS::ApiGatewayV2::Stage").values()
    group_id = stage["Properties"]["AccessLogSettings"]["DestinationArn"]["Fn::GetAtt"][0]
    return [template["Resources"][group_id]["Properties"]["LogGroupName"]]


def test_the_access_log_group_is_a_vended_logs_group(oidc: Synth) -> None:
    """Amazon CloudWatch Logs User Guide, "Enabling logging from AWS services" (Logs sent to
    CloudWatch Logs): the account's CloudWatch Logs resource policy is limited to 5,120 characters;
    for a log group whose name starts with ``/aws/vendedlogs/`` the service adds no entry. Every
    retained access-log group with another name adds one, until stage creation fails with "Policy
    document length breaking Cloudwatch Logs Constraints"."""
    [name] = _access_log_names(oidc.template)
    rendered = _render(name, stack_name="transflow-prod", uuid="1c2fa620-982a-11e3-aff7-50e2416294e0")
    assert rendered == "/aws/vendedlogs/transflow/transflow-prod/Status/access-1c2fa620-982a-11e3-aff7-50e2416294e0"


def test_the_name_is_unique_per_instance_and_per_stack_incarnation() -> None:
    """A retained group of a deleted stack never collides with the group of the stack created again
    under the same name (``AWS::StackId``'s UUID is new per stack), nor two instances with each other."""
    app = cdk.App(context=SKIP_BUNDLING)
    stack = cdk.Stack(app, "S")
    TransflowStatus(stack, "Dev", auth=oidc_auth())
    TransflowStatus(stack, "Prod", auth=oidc_auth())
    template = assertions.Template.from_stack(stack).to_json()
    names = [
        r["Properties"]["LogGroupName"]
        for r in of_type(template, "AWS::Logs::LogGroup").values()
        if "LogGroupName" in r["Properties"]
    ]
    assert len(names) == 2
    rendered = {
        _render(n, stack_name="s", uuid=u) for n in names for u in ("11111111-aaaa", "22222222-bbbb")
    }
    assert len(rendered) == 4


def test_the_name_is_a_valid_log_group_name_even_for_odd_construct_ids() -> None:
    """Amazon CloudWatch Logs API Reference, CreateLogGroup ``logGroupName``: 1-512 characters of
    ``[\\.\\-_/#A-Za-z0-9]``. Construct ids may hold other characters and be long."""
    app = cdk.App(context=SKIP_BUNDLING)
    stack = cdk.Stack(app, "S")
    scope: Any = stack
    for i in range(12):
        scope = Construct(scope, f"Team {i} (ünïcode)+extra")
    TransflowStatus(scope, "Status: v2", auth=oidc_auth())
    [name] = [
        r["Properties"]["LogGroupName"]
        for r in of_type(assertions.Template.from_stack(stack).to_json(), "AWS::Logs::LogGroup").values()
        if "LogGroupName" in r["Properties"]
    ]
    rendered = _render(name, stack_name="s" * 128, uuid="1c2fa620-982a-11e3-aff7-50e2416294e0")
    assert re.fullmatch(r"[\.\-_/#A-Za-z0-9]{1,512}", rendered), rendered


def test_the_http_api_is_named_after_its_instance() -> None:
    app = cdk.App(context=SKIP_BUNDLING)
    stack = cdk.Stack(app, "S")
    TransflowStatus(stack, "Dev", auth=oidc_auth())
    TransflowStatus(stack, "Prod", auth=oidc_auth())
    apis = of_type(assertions.Template.from_stack(stack).to_json(), "AWS::ApiGatewayV2::Api").values()
    names = sorted(_render(a["Properties"]["Name"], stack_name="transflow", uuid="u") for a in apis)
    assert names == ["transflow-Dev", "transflow-Prod"]


# ---- throttling ------------------------------------------------------------------------------------


def _warnings(**options: Any) -> list[str]:
    stack = new_stack()
    TransflowStatus(stack, "Status", auth=oidc_auth(), **options)
    found = assertions.Annotations.from_stack(stack).find_warning("*", assertions.Match.any_value())
    return [str(w.entry.data) for w in found]


@pytest.mark.parametrize(
    ("options", "warned"),
    [
        ({"throttling_rate_limit": 10_000}, False),
        ({"throttling_rate_limit": 10_001}, True),
        ({"throttling_burst_limit": 5_000}, False),
        ({"throttling_burst_limit": 5_001}, True),
    ],
)
def test_limits_above_the_account_quota_warn(options: dict[str, Any], warned: bool) -> None:
    """Amazon API Gateway Developer Guide, "Amazon API Gateway quotas": throttle quota per account
    and Region across HTTP, REST and WebSocket APIs, 10,000 requests per second with a burst of
    5,000; a route limit above it cannot take effect."""
    warnings = [w for w in _warnings(**options) if "account" in w]
    assert bool(warnings) is warned, warnings
    if warned:
        assert next(iter(options)) in warnings[0]


def test_a_throttling_parameter_does_not_warn() -> None:
    stack = new_stack()
    rate = cdk.CfnParameter(stack, "Rate", type="Number").value_as_number
    TransflowStatus(stack, "Status", auth=oidc_auth(), throttling_rate_limit=rate)
    assert not assertions.Annotations.from_stack(stack).find_warning("*", assertions.Match.string_like_regexp("quota"))


# ---- outputs --------------------------------------------------------------------------------------


def test_outputs_can_be_turned_off() -> None:
    """Stack outputs are limited (AWS CloudFormation quotas: 200 outputs per template) and some apps
    name their own; ``outputs=False`` writes none."""
    with_outputs = synth(lambda stack: TransflowStatus(stack, "Status", auth=oidc_auth()))
    without = synth(lambda stack: TransflowStatus(stack, "Status", auth=oidc_auth(), outputs=False))
    assert len(with_outputs.template["Outputs"]) == 5
    assert "Outputs" not in without.template or not without.template["Outputs"]
