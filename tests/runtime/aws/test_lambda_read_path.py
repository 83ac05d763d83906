"""On Lambda, the status and authorizer functions run without boto3; elsewhere, and on request, with it.

A fresh interpreter in a Lambda-like environment (``AWS_LAMBDA_FUNCTION_NAME``, credentials and
region in the environment, as Lambda sets them) imports each handler with boto3 and botocore made
unimportable: the import must succeed, build the light clients, and leave no boto3 module loaded
(the cold-start guarantee, as the pydantic one in test_status_handler.py). The escape hatch
(``TRANSFLOW_AWS_CLIENT=boto3``, contract D) and the fallbacks bring boto3 back.
"""

from __future__ import annotations

import pytest
from transflow_runtime import aws, schema

from .lambda_process import lambda_environment, run_handler

STATUS = "transflow_runtime.handlers.status"
AUTHORIZER = "transflow_runtime.handlers.authorizer"


@pytest.mark.parametrize("module,client,light_type", [
    (STATUS, "_dynamodb", "transflow_runtime.aws.dynamodb.DynamoDBClient"),
    (AUTHORIZER, "_secrets", "transflow_runtime.aws.secretsmanager.SecretsManagerClient"),
])
def test_on_lambda_the_read_path_imports_no_boto3(module: str, client: str, light_type: str) -> None:
    out = run_handler(module, [], lambda_environment(), block_boto3=True)
    assert out["after_import"] == []
    assert out["clients"][client] == light_type


def test_the_status_handler_answers_without_boto3_importable() -> None:
    """A request whose store is unreachable still goes through the light client, never boto3."""
    event = {"assemblyId": "0" * 64}
    out = run_handler(STATUS, [event], lambda_environment(AWS_ENDPOINT_URL="http://127.0.0.1:9", AWS_MAX_ATTEMPTS="1"),
                      block_boto3=True)
    assert out["responses"][0]["statusCode"] == 500
    assert out["after_requests"] == []
    (failure,) = [line for line in out["logs"] if line.get("event") == "status_error"]
    assert failure["kind"] == "store" and failure["error_type"] == "EndpointConnectionError"


@pytest.mark.parametrize("module,client", [(STATUS, "_dynamodb"), (AUTHORIZER, "_secrets")])
def test_the_escape_hatch_brings_boto3_back(module: str, client: str) -> None:
    out = run_handler(module, [], lambda_environment(**{schema.AWS_CLIENT_ENV: "boto3"}))
    assert out["clients"][client].startswith("botocore.client.")
    assert "boto3" in out["after_import"]


def test_off_lambda_the_handlers_keep_boto3() -> None:
    env = lambda_environment()
    del env["AWS_LAMBDA_FUNCTION_NAME"]
    assert run_handler(STATUS, [], env)["clients"]["_dynamodb"].startswith("botocore.client.")


LAMBDA = {"AWS_LAMBDA_FUNCTION_NAME": "f", "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s",
          "AWS_REGION": "us-east-1"}


@pytest.mark.parametrize("extra,kind", [
    ({}, "light"),
    ({"TRANSFLOW_AWS_CLIENT": "light"}, "light"),
    ({"TRANSFLOW_AWS_CLIENT": " Boto3 "}, "boto3"),
    ({"AWS_LAMBDA_FUNCTION_NAME": ""}, "boto3"),
    ({"AWS_ACCESS_KEY_ID": ""}, "boto3"),  # SnapStart: credentials come from a container endpoint
    ({"AWS_PROFILE": "dev"}, "boto3"),
    ({"AWS_CONFIG_FILE": __file__}, "boto3"),  # a file with settings in it
    ({"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/no/such/file"}, "light"),  # none
    ({"HTTPS_PROXY": "http://proxy:3128"}, "boto3"),
    ({"AWS_RETRY_MODE": "adaptive"}, "boto3"),
    ({"AWS_RETRY_MODE": "standard"}, "light"),
    ({"AWS_DEFAULTS_MODE": "in-region"}, "boto3"),
    ({"AWS_ENDPOINT_URL": "http://localhost:4566", "AWS_USE_FIPS_ENDPOINT": "true"}, "light"),
])
def test_which_client_is_chosen(extra: dict[str, str], kind: str) -> None:
    assert aws.choose("dynamodb", {**LAMBDA, **extra}).kind == kind


def test_an_explicit_light_setting_works_off_lambda_too() -> None:
    assert aws.choose("sqs", {"TRANSFLOW_AWS_CLIENT": "light"}).kind == "light"


def test_other_services_always_get_boto3() -> None:
    assert aws.choose("lambda", {**LAMBDA, "TRANSFLOW_AWS_CLIENT": "light"}).kind == "boto3"


def test_a_misspelt_setting_is_an_error_naming_it() -> None:
    with pytest.raises(ValueError, match="TRANSFLOW_AWS_CLIENT must be 'light' or 'boto3', got 'lite'"):
        aws.choose("dynamodb", {**LAMBDA, "TRANSFLOW_AWS_CLIENT": "lite"})


def test_a_misspelt_setting_makes_the_status_function_answer_500_and_say_why() -> None:
    out = run_handler(STATUS, [{"assemblyId": "a" * 64}], lambda_environment(**{schema.AWS_CLIENT_ENV: "lite"}),
                      block_boto3=True)
    assert out["responses"][0]["statusCode"] == 500
    (failure,) = [line for line in out["logs"] if line.get("event") == "status_error"]
    assert "TRANSFLOW_AWS_CLIENT must be 'light' or 'boto3', got 'lite'" in failure["detail"]


def test_local_modes_function_environment_selects_the_light_client_as_lambda_does() -> None:
    """Local mode runs each function with Lambda's variables and its role's credentials, so the
    status and authorizer functions use the light client there too (signed, checked by its gateway)."""
    from transflow_runtime.local.functions import lambda_environment as local_environment
    from transflow_runtime.local.providers import FunctionSpec

    spec = FunctionSpec(logical_id="Status", name="status", arn="arn:aws:lambda:us-east-1:123456789012:function:s",
                        handler=schema.HANDLER_STATUS, timeout=10, memory_size=256, environment={},
                        role_arn="arn:aws:iam::123456789012:role/r", policies=[])
    credentials = {"AWS_ACCESS_KEY_ID": "ASIALOCAL", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "t"}
    env = local_environment(spec, credentials=credentials, endpoint_url="http://127.0.0.1:1", region="us-east-1",
                            quiet=True)
    assert aws.choose("dynamodb", env) == aws.Choice("light", "on Lambda with credentials in the environment")


def test_the_writers_keep_boto3_even_when_the_light_client_is_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 15: writers, the webhook and dispatcher functions keep boto3 (``TRANSFLOW_AWS_CLIENT``
    is the read side's setting; the construct never sets it on them, and it changes nothing there)."""
    env = lambda_environment(**{schema.AWS_CLIENT_ENV: "light"})
    assert "boto3" in run_handler("transflow_runtime.handlers.webhook", [], env)["after_import"]
    from transflow_runtime.handlers import dispatcher

    for name, value in env.items():
        if name.startswith(("AWS_", "TRANSFLOW_")):
            monkeypatch.setenv(name, value)
    monkeypatch.setattr(dispatcher, "_sqs_client", None)
    assert type(dispatcher._sqs()).__module__ == "botocore.client"
