"""Deploy-time values: every numeric and string option accepts a token and writes it where it belongs.

aws-cdk DESIGN_GUIDELINES ("Validation": "validate early, but allow for tokens"): a ``CfnParameter``
number is, at synth time, a number like ``-1.888e+289`` that no range check may reject. Options
from which the construct derives other settings (the retry schedule, the timeouts the queue is
sized by) cannot be derived from at synth time and are refused with "must be a literal".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import assertions
from transflow_runtime import schema

from transflow_constructs import AlarmThresholds, StatusAuth, TransflowStatus, WebhookTarget

from .cdk_helpers import new_stack, of_type, oidc_auth, plain_secret


def _number(stack: cdk.Stack, name: str) -> float:
    return cdk.CfnParameter(stack, name, type="Number").value_as_number


def _string(stack: cdk.Stack, name: str) -> str:
    return cdk.CfnParameter(stack, name, type="String").value_as_string


def _template(stack: cdk.Stack) -> dict[str, Any]:
    return assertions.Template.from_stack(stack).to_json()


def _props(template: dict[str, Any], resource_type: str, where: Callable[[dict[str, Any]], bool] = lambda p: True):
    found = [r["Properties"] for r in of_type(template, resource_type).values() if where(r["Properties"])]
    assert found, resource_type
    return found


def _function(template: dict[str, Any], module: str) -> dict[str, Any]:
    (props,) = _props(template, "AWS::Lambda::Function", lambda p: module in p["Handler"])
    return props


#: option -> (how to read the property it sets from the template)
NUMBER_OPTIONS: dict[str, Callable[[dict[str, Any]], list[Any]]] = {
    "webhook_max_concurrency": lambda t: [
        p["ScalingConfig"]["MaximumConcurrency"]
        for p in _props(t, "AWS::Lambda::EventSourceMapping", lambda p: "ScalingConfig" in p)
    ],
    "throttling_rate_limit": lambda t: [
        p["DefaultRouteSettings"]["ThrottlingRateLimit"] for p in _props(t, "AWS::ApiGatewayV2::Stage")
    ],
    "throttling_burst_limit": lambda t: [
        p["DefaultRouteSettings"]["ThrottlingBurstLimit"] for p in _props(t, "AWS::ApiGatewayV2::Stage")
    ],
    "memory_size": lambda t: [p["MemorySize"] for p in _props(t, "AWS::Lambda::Function")],
    "stream_batch_size": lambda t: [
        p["BatchSize"] for p in _props(t, "AWS::Lambda::EventSourceMapping", lambda p: "StartingPosition" in p)
    ],
    "stream_retry_attempts": lambda t: [
        p["MaximumRetryAttempts"]
        for p in _props(t, "AWS::Lambda::EventSourceMapping", lambda p: "StartingPosition" in p)
    ],
    "stream_parallelization_factor": lambda t: [
        p["ParallelizationFactor"]
        for p in _props(t, "AWS::Lambda::EventSourceMapping", lambda p: "StartingPosition" in p)
    ],
}


@pytest.mark.parametrize("option", sorted(NUMBER_OPTIONS))
def test_a_number_parameter_is_accepted_and_written_as_is(option: str) -> None:
    stack = new_stack()
    TransflowStatus(stack, "Status", auth=oidc_auth(), **{option: _number(stack, "Value")})
    values = NUMBER_OPTIONS[option](_template(stack))
    assert values and all(v == {"Ref": "Value"} for v in values), values


@pytest.mark.parametrize(
    ("option", "module", "prop"),
    [("status_timeout", "handlers.status", "Timeout")],
)
def test_a_duration_from_a_parameter_is_accepted(option: str, module: str, prop: str) -> None:
    stack = new_stack()
    TransflowStatus(stack, "Status", auth=oidc_auth(), **{option: cdk.Duration.seconds(_number(stack, "Value"))})
    assert _function(_template(stack), module)[prop] == {"Ref": "Value"}


def test_a_max_record_age_from_a_parameter_is_accepted() -> None:
    stack = new_stack()
    TransflowStatus(
        stack, "Status", auth=oidc_auth(), stream_max_record_age=cdk.Duration.seconds(_number(stack, "Value"))
    )
    (mapping,) = _props(_template(stack), "AWS::Lambda::EventSourceMapping", lambda p: "StartingPosition" in p)
    assert mapping["MaximumRecordAgeInSeconds"] == {"Ref": "Value"}


def test_a_duration_token_in_minutes_is_refused_clearly() -> None:
    """CDK cannot convert a token amount between units; the error says how to give it."""
    stack = new_stack()
    with pytest.raises(ValueError, match=r"status_timeout .*cdk\.Duration\.seconds"):
        TransflowStatus(stack, "Status", auth=oidc_auth(), status_timeout=cdk.Duration.minutes(_number(stack, "V")))


def test_a_user_id_claim_parameter_reaches_both_read_side_functions() -> None:
    stack = new_stack()
    jwt = plain_secret(stack, "Jwt")
    TransflowStatus(
        stack, "Status", auth=StatusAuth.shared_secret(jwt), user_id_claim=_string(stack, "Claim")
    )
    template = _template(stack)
    for module in ("handlers.status", "handlers.authorizer"):
        variables = _function(template, module)["Environment"]["Variables"]
        assert variables[schema.ENV_USER_ID_CLAIM] == {"Ref": "Claim"}


def test_a_shared_secret_audience_list_parameter_is_joined_at_deploy_time() -> None:
    """``",".join`` of a list token raised; the audiences now reach the authorizer as ``Fn::Join``."""
    stack = new_stack()
    audience = cdk.CfnParameter(stack, "Audience", type="CommaDelimitedList").value_as_list
    jwt = plain_secret(stack, "Jwt")
    auth = StatusAuth.shared_secret(jwt, issuer=_string(stack, "Issuer"), audience=audience)
    TransflowStatus(stack, "Status", auth=auth)
    variables = _function(_template(stack), "handlers.authorizer")["Environment"]["Variables"]
    assert variables[schema.ENV_JWT_AUDIENCE] == {"Fn::Join": [",", {"Ref": "Audience"}]}
    assert variables[schema.ENV_JWT_ISSUER] == {"Ref": "Issuer"}


def test_an_oidc_audience_list_parameter_reaches_the_jwt_authorizer() -> None:
    stack = new_stack()
    audience = cdk.CfnParameter(stack, "Audience", type="CommaDelimitedList").value_as_list
    TransflowStatus(stack, "Status", auth=StatusAuth.oidc(issuer=_string(stack, "Issuer"), audience=audience))
    (authorizer,) = _props(_template(stack), "AWS::ApiGatewayV2::Authorizer")
    assert authorizer["JwtConfiguration"] == {"Audience": {"Ref": "Audience"}, "Issuer": {"Ref": "Issuer"}}


def test_a_single_audience_string_parameter_is_accepted() -> None:
    stack = new_stack()
    auth = StatusAuth.oidc(issuer="https://i.example.com/", audience=_string(stack, "A"))
    TransflowStatus(stack, "Status", auth=auth)
    (authorizer,) = _props(_template(stack), "AWS::ApiGatewayV2::Authorizer")
    assert authorizer["JwtConfiguration"]["Audience"] == [{"Ref": "A"}]


def test_a_webhook_url_parameter_reaches_the_webhook_config() -> None:
    stack = new_stack()
    hook = plain_secret(stack, "Hook")
    TransflowStatus(
        stack,
        "Status",
        auth=oidc_auth(),
        webhooks={"tpl": WebhookTarget(url=_string(stack, "Url"), secret=hook)},
    )
    config = _function(_template(stack), "handlers.webhook")["Environment"]["Variables"][schema.ENV_WEBHOOK_CONFIG]
    assert {"Ref": "Url"} in config["Fn::Join"][1]


def test_an_authorizer_cache_ttl_parameter_is_accepted() -> None:
    stack = new_stack()
    jwt = plain_secret(stack, "Jwt")
    auth = StatusAuth.shared_secret(jwt, cache_ttl=cdk.Duration.seconds(_number(stack, "Ttl")))
    TransflowStatus(stack, "Status", auth=auth)
    (authorizer,) = _props(_template(stack), "AWS::ApiGatewayV2::Authorizer")
    assert authorizer["AuthorizerResultTtlInSeconds"] == {"Ref": "Ttl"}


# ---- options others are derived from ----------------------------------------------------------


DERIVING: dict[str, Callable[[cdk.Stack], Any]] = {
    "webhook_retry_delays": lambda s: [5, _number(s, "Delay")],
    "webhook_max_attempts": lambda s: _number(s, "Attempts"),
    "webhook_timeout": lambda s: cdk.Duration.seconds(_number(s, "Timeout")),
    "webhook_function_timeout": lambda s: cdk.Duration.seconds(_number(s, "Timeout")),
}


@pytest.mark.parametrize("option", sorted(DERIVING))
def test_an_option_others_derive_from_must_be_a_literal(option: str) -> None:
    stack = new_stack()
    with pytest.raises(ValueError, match=rf"{option} must be a literal, not a deploy-time value"):
        TransflowStatus(stack, "Status", auth=oidc_auth(), **{option: DERIVING[option](stack)})


def test_a_stack_of_parameters_passes_cfn_lint() -> None:
    """The template with every accepted option from a parameter is still valid CloudFormation."""
    from .cdk_helpers import cfn_lint_errors

    stack = new_stack()
    jwt = plain_secret(stack, "Jwt")
    TransflowStatus(
        stack,
        "Status",
        auth=StatusAuth.shared_secret(
            jwt, audience=cdk.CfnParameter(stack, "Audience", type="CommaDelimitedList").value_as_list
        ),
        user_id_claim=_string(stack, "Claim"),
        **{option: _number(stack, option.title().replace("_", "")) for option in NUMBER_OPTIONS},
        status_timeout=cdk.Duration.seconds(_number(stack, "StatusTimeout")),
    )
    assert cfn_lint_errors(_template(stack)) == []


# ---- monitoring, CORS and dashboard options ---------------------------------------------------

#: AlarmThresholds fields written as an alarm's ``Threshold`` (AWS CloudFormation User Guide,
#: ``AWS::CloudWatch::Alarm`` ``Threshold``: a Double, which a ``Number`` parameter may give).
THRESHOLD_FIELDS = (
    "dead_letter_messages",
    "stream_failure_messages",
    "webhook_failures",
    "lambda_errors",
    "lambda_throttles",
    "table_throttles",
    "api_5xx_rate_percent",
)


@pytest.mark.parametrize("field", THRESHOLD_FIELDS)
def test_an_alarm_threshold_parameter_is_written_as_the_alarm_threshold(field: str) -> None:
    """A ``Number`` parameter is ``-1.888e+289`` at synth time: it must reach ``Threshold``, not be
    refused as out of range (aws-cdk DESIGN_GUIDELINES, "validate early, but allow for tokens")."""
    stack = new_stack()
    thresholds = AlarmThresholds(**{field: _number(stack, "Value")})
    TransflowStatus(stack, "Status", auth=oidc_auth(), alarm_thresholds=thresholds)
    alarms = _props(_template(stack), "AWS::CloudWatch::Alarm", lambda p: p.get("Threshold") == {"Ref": "Value"})
    assert alarms


@pytest.mark.parametrize(
    "field",
    ["period", "webhook_failures_period", "webhook_queue_age", "stream_iterator_age", "api_latency_p99"],
)
def test_an_alarm_duration_from_a_parameter_is_refused_as_not_a_literal(field: str) -> None:
    stack = new_stack()
    with pytest.raises(ValueError, match=rf"alarm_thresholds\.{field} must be a literal, not a deploy-time value"):
        AlarmThresholds(**{field: cdk.Duration.seconds(_number(stack, "Value"))})


@pytest.mark.parametrize("field", ["api_5xx_min_requests", "api_latency_evaluation_periods"])
def test_alarm_counts_others_derive_from_are_refused_as_not_a_literal(field: str) -> None:
    stack = new_stack()
    with pytest.raises(ValueError, match=rf"alarm_thresholds\.{field} must be a literal, not a deploy-time value"):
        AlarmThresholds(**{field: _number(stack, "Value")})


def test_a_cors_origins_list_parameter_reaches_the_api() -> None:
    """AWS CloudFormation ``AWS::ApiGatewayV2::Api`` ``Cors.AllowOrigins``: a list of strings, which a
    ``CommaDelimitedList`` parameter gives whole."""
    stack = new_stack()
    origins = cdk.CfnParameter(stack, "Origins", type="CommaDelimitedList").value_as_list
    TransflowStatus(stack, "Status", auth=oidc_auth(), cors_origins=origins)
    (api,) = _props(_template(stack), "AWS::ApiGatewayV2::Api")
    assert api["CorsConfiguration"]["AllowOrigins"] == {"Ref": "Origins"}


def test_a_dashboard_name_parameter_names_the_dashboard() -> None:
    stack = new_stack()
    TransflowStatus(stack, "Status", auth=oidc_auth(), dashboard=_string(stack, "Name"))
    (dashboard,) = _props(_template(stack), "AWS::CloudWatch::Dashboard")
    assert dashboard["DashboardName"] == {"Ref": "Name"}
