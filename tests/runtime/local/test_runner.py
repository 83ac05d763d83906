"""``LocalStack`` runs a template's functions as Lambda runs them (own environment, own
credentials, the template's timeout), leaves nothing behind when it stops or fails to start, and
keeps the user's own AWS settings away from the functions."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import boto3
import pytest
from transflow_runtime.local.runner import LocalStack
from transflow_runtime.local.settings import LocalSettings

REPO = Path(__file__).resolve().parents[3]


def _function(stack, part: str) -> dict:
    template = stack.template
    for resource in template["Resources"].values():
        if (resource.get("Metadata") or {}).get("transflow:part") == part:
            return resource
    raise AssertionError(part)


def _lambda(local: LocalStack):
    return local.client("lambda")


def test_ready_file_names_every_part_and_the_startup_time(default_template, tmp_path):
    ready = tmp_path / "ready.json"
    with LocalStack(LocalSettings(port=0, ready_file=str(ready)), template=default_template) as local:
        info = json.loads(ready.read_text())
        assert (
            info["stream_failure_queue_url"]
            and info["stream_failure_queue_url"] == local.info["stream_failure_queue_url"]
        )
        assert {
            "api_url",
            "aws_endpoint_url",
            "region",
            "table_name",
            "webhook_queue_url",
            "dlq_url",
            "status_function_name",
        } <= set(info)
        assert info["startup_seconds"] > 0  # measured by benchmarks/local_startup.py, never asserted
        # notify_url deliveries are signed with their own secret: surfaced so they can be verified
        from transflow_runtime.handlers.webhook import signing_secret_from_value

        secrets = local.client("secretsmanager")
        values = [secrets.get_secret_value(SecretId=s["ARN"])["SecretString"]
                  for s in secrets.list_secrets()["SecretList"] if "NotifyUrlSecret" in s["Name"]]
        assert len(values) == 1 and info["notify_url_secret"] == signing_secret_from_value(values[0])
        assert info["notify_url_secret"] not in info["webhook_secrets"].values()
        # the webhook mapping's MaximumConcurrency (5) is more than local mode runs at once: named
        assert any("MaximumConcurrency 5" in phrase and "at most 4" in phrase for phrase in info["unsupported"])
        assert oct(ready.stat().st_mode & 0o777) == "0o600"  # it holds the developer's credentials
    assert not ready.exists()


def test_an_oidc_issuer_for_a_template_without_a_jwt_authorizer_is_refused(default_template):
    """--oidc-issuer replaces the JWT authorizer's issuer; the default stack has a shared-secret
    authorizer, so the option would be silently ignored: refused instead, naming both."""
    from transflow_runtime.local.settings import OptionError

    with pytest.raises(OptionError, match=r"--oidc-issuer.*no JWT authorizer.*--jwt-secret"):
        LocalStack(LocalSettings(port=0, oidc_issuer="http://127.0.0.1:1/issuer"), template=default_template).start()


def test_a_ready_file_that_cannot_be_written_leaves_nothing_running(default_template, tmp_path):
    path = tmp_path / "missing-dir" / "ready.json"
    local = LocalStack(LocalSettings(port=0, ready_file=str(path)), template=default_template)
    before = set(threading.enumerate())
    with pytest.raises(OSError) as raised:
        local.start()
    assert raised.value.filename == str(path)
    leftovers = [
        t
        for t in set(threading.enumerate()) - before
        if t.is_alive() and t.name in ("gateway", "moto-server", "stream-pump", "queue-poller")
    ]
    assert not leftovers
    assert local.functions == {}


def test_a_function_past_its_timeout_fails_as_lambda_fails_it_and_the_next_call_gets_a_fresh_environment(
    template_copy, tmp_path, monkeypatch
):
    """Lambda: "Configure Lambda function timeout" - a function running past its timeout is
    stopped and the invocation fails with "Task timed out after N seconds"; the environment is
    reset, so the next invocation starts a new one."""
    stack, instance = template_copy
    function = _function(stack, "status-function")
    function["Properties"]["Handler"] = "tests.runtime.local.fault_handlers.sleeps"
    function["Properties"]["Timeout"] = 2
    function["Properties"]["Environment"]["Variables"]["FAULT_MARKER_FILE"] = str(tmp_path / "slept")
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    with LocalStack(LocalSettings(port=0), template=(stack, instance)) as local:
        name = local.info["status_function_name"]
        started = time.monotonic()
        first = _lambda(local).invoke(FunctionName=name, Payload=b"{}")
        elapsed = time.monotonic() - started
        error = json.loads(first["Payload"].read())
        assert first["FunctionError"] == "Unhandled"
        assert error["errorType"] == "Sandbox.Timedout"
        assert "Task timed out after 2.00 seconds" in error["errorMessage"]
        assert 1.9 < elapsed < 10
        second = _lambda(local).invoke(FunctionName=name, Payload=b"{}")
        assert "FunctionError" not in second
        result = json.loads(second["Payload"].read())
        assert 0 < result["remaining_ms"] <= 2000


def test_each_function_has_its_own_environment_and_credentials_and_none_of_the_users_aws_settings(
    template_copy, monkeypatch
):
    stack, instance = template_copy
    for part in ("status-function", "dispatcher-function"):
        _function(stack, part)["Properties"]["Handler"] = "tests.runtime.local.fault_handlers.environment"
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_PROFILE", "someone-elses")
    with LocalStack(LocalSettings(port=0), template=(stack, instance)) as local:
        names = local.info["functions"]
        seen = {}
        for part in ("status-function", "dispatcher-function"):
            response = _lambda(local).invoke(FunctionName=names[part], Payload=b"{}")
            seen[part] = json.loads(response["Payload"].read())
        status, dispatcher = seen["status-function"], seen["dispatcher-function"]
        assert status["AWS_ENDPOINT_URL"] == local.info["aws_endpoint_url"]
        assert "AWS_ENDPOINT_URL_DYNAMODB" not in status and "AWS_PROFILE" not in status
        assert status["AWS_LAMBDA_FUNCTION_NAME"] == names["status-function"]
        assert status["AWS_ACCESS_KEY_ID"] != dispatcher["AWS_ACCESS_KEY_ID"]  # one role each
        assert status["AWS_SESSION_TOKEN"] and status["AWS_ACCESS_KEY_ID"].startswith("ASIA")
        assert "TRANSFLOW_TABLE_NAME" in status and "TRANSFLOW_TABLE_NAME" not in dispatcher  # as the template says
    assert os.environ["AWS_ENDPOINT_URL_DYNAMODB"] == "http://127.0.0.1:9"


def test_the_lambda_authorizer_result_is_cached_for_the_templates_ttl(default_template):
    """API Gateway caches a Lambda authorizer's result per identity source for
    AuthorizerResultTtlInSeconds ("Control access to HTTP APIs with AWS Lambda authorizers")."""
    import urllib.error
    import urllib.request

    with LocalStack(LocalSettings(port=0), template=default_template) as local:
        token = local.mint("cache-user")
        authorizer = local.functions[local.info["functions"]["authorizer-function"]]
        for _ in range(3):
            request = urllib.request.Request(
                f"{local.info['api_url']}/assemblies", headers={"Authorization": f"Bearer {token}"}
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 200
        assert authorizer.invocations == 1
        missing = urllib.request.Request(f"{local.info['api_url']}/assemblies")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(missing, timeout=10)
        assert refused.value.code == 401 and authorizer.invocations == 1  # answered without the function


def test_local_stack_can_be_started_again_in_the_same_process(default_template):
    with LocalStack(LocalSettings(port=0), template=default_template):
        pass
    with LocalStack(LocalSettings(port=0), template=default_template) as again:
        ddb = boto3.client(
            "dynamodb",
            endpoint_url=again.info["aws_endpoint_url"],
            region_name="us-east-1",
            aws_access_key_id=again.info["aws_access_key_id"],
            aws_secret_access_key=again.info["aws_secret_access_key"],
        )
        assert ddb.list_tables()["TableNames"] == [again.info["table_name"]]
