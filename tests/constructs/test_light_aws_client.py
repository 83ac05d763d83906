"""``light_aws_client``: the construct's switch for the read path's AWS client (contract D).

Default ``True``: the status and authorizer functions get no ``TRANSFLOW_AWS_CLIENT``, so on Lambda
the runtime picks its stdlib client; ``False`` sets ``TRANSFLOW_AWS_CLIENT=boto3`` on both. Checked
in the template, and by running each handler in a fresh Lambda-like interpreter with the
environment the template gives its function (boto3 made unimportable for the light default).
"""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import assertions
from transflow_runtime import aws, schema

from transflow_constructs import StatusAuth, TransflowStatus

from ..runtime.aws.lambda_process import lambda_environment, run_handler
from .cdk_helpers import Synth, logical_id, oidc_auth, plain_secret, synth

READ_SIDE = {"status": "_dynamodb", "authorizer": "_secrets"}
SERVICE = {"status": "dynamodb", "authorizer": "secretsmanager"}


def _build(**options: Any) -> Synth:
    def build(stack: Any) -> TransflowStatus:
        jwt_secret = plain_secret(stack, "JwtSecret")
        return TransflowStatus(stack, "Status", auth=StatusAuth.shared_secret(jwt_secret), **options)

    return synth(build)


def _variables(result: Synth, function: Any) -> dict[str, Any]:
    props = result.template["Resources"][logical_id(result, function)]["Properties"]
    return props["Environment"]["Variables"]


def _functions(result: Synth) -> dict[str, Any]:
    s = result.status
    return {"status": s.status_function, "authorizer": s.authorizer_function,
            "webhook": s.webhook_function, "dispatcher": s.dispatcher_function}


def _deployed_environment(result: Synth, part: str) -> dict[str, str]:
    """Lambda's variables plus the function's own literal ones (tokens keep the test defaults)."""
    literal = {k: v for k, v in _variables(result, _functions(result)[part]).items() if isinstance(v, str)}
    return lambda_environment(**literal)


@pytest.fixture(scope="module")
def default() -> Synth:
    return _build()


@pytest.fixture(scope="module")
def boto3_client() -> Synth:
    return _build(light_aws_client=False)


@pytest.mark.parametrize("part", ["status", "authorizer", "webhook", "dispatcher"])
def test_by_default_no_function_sets_the_client_variable(default: Synth, part: str) -> None:
    assert schema.AWS_CLIENT_ENV not in _variables(default, _functions(default)[part])


@pytest.mark.parametrize("part", ["status", "authorizer"])
def test_by_default_the_read_side_functions_choose_the_light_client_on_lambda(default: Synth, part: str) -> None:
    env = _deployed_environment(default, part)
    assert aws.choose(SERVICE[part], env).kind == schema.AWS_CLIENT_LIGHT
    module = schema.HANDLER_STATUS if part == "status" else schema.HANDLER_AUTHORIZER
    out = run_handler(module.rsplit(".", 1)[0], [], env, block_boto3=True)
    assert out["after_import"] == []
    assert out["clients"][READ_SIDE[part]].startswith("transflow_runtime.aws.")


def test_light_aws_client_false_sets_the_variable_on_exactly_the_two_read_side_functions(
    boto3_client: Synth, default: Synth
) -> None:
    boto3_only = {"Environment": {"Variables": assertions.Match.object_like({schema.AWS_CLIENT_ENV: "boto3"})}}
    boto3_client.assertions.resource_properties_count_is("AWS::Lambda::Function", boto3_only, 2)
    default.assertions.resource_properties_count_is("AWS::Lambda::Function", boto3_only, 0)


@pytest.mark.parametrize("part", ["status", "authorizer"])
def test_light_aws_client_false_switches_both_read_side_functions_to_boto3(boto3_client: Synth, part: str) -> None:
    assert _variables(boto3_client, _functions(boto3_client)[part])[schema.AWS_CLIENT_ENV] == "boto3"
    env = _deployed_environment(boto3_client, part)
    assert aws.choose(SERVICE[part], env).kind == schema.AWS_CLIENT_BOTO3
    module = schema.HANDLER_STATUS if part == "status" else schema.HANDLER_AUTHORIZER
    out = run_handler(module.rsplit(".", 1)[0], [], env)
    assert out["clients"][READ_SIDE[part]].startswith("botocore.client.")


@pytest.mark.parametrize("part", ["webhook", "dispatcher"])
def test_the_writers_are_not_touched_by_the_option(boto3_client: Synth, part: str) -> None:
    """Writers keep boto3 whatever the option (issue 15): the variable is the read side's only."""
    assert schema.AWS_CLIENT_ENV not in _variables(boto3_client, _functions(boto3_client)[part])


def test_the_option_is_validated() -> None:
    with pytest.raises(ValueError, match="light_aws_client must be True or False, got 'no'"):
        TransflowStatus(_build().stack, "Other", auth=oidc_auth(), light_aws_client="no")  # type: ignore[arg-type]


def test_the_oidc_status_function_follows_the_option_too() -> None:
    """With OIDC auth there is no authorizer function; the status function still gets the variable."""
    result = synth(lambda stack: TransflowStatus(stack, "Status", auth=oidc_auth(), light_aws_client=False))
    assert result.status.authorizer_function is None
    assert _variables(result, result.status.status_function)[schema.AWS_CLIENT_ENV] == "boto3"
