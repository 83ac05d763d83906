"""Local mode refuses a status-function response exactly where Lambda would, on both paths.

AWS Lambda quotas (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html):
"Invocation payload (request and response): 6 MB each for synchronous" - 6,291,556 bytes of the
return value as the Python runtime serializes it. Over it, Invoke answers a function error
(``X-Amz-Function-Error: Unhandled``, ``Function.ResponseSizeTooLarge``) and the HTTP API, whose
integration then fails, answers ``500 {"message":"Internal Server Error"}``. The sizes here are
computed with Lambda's own marshaller (awslambdaric), not with the code under test.
"""

from __future__ import annotations

import copy
import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from awslambdaric.lambda_runtime_marshaller import to_json
from botocore.exceptions import ClientError
from transflow_runtime.limits import LAMBDA_RESPONSE_LIMIT_BYTES
from transflow_runtime.local.runner import LocalStack
from transflow_runtime.local.settings import LocalSettings

REPO = Path(__file__).resolve().parents[3]


def runtime_size(response: dict, runtime: str, monkeypatch) -> int:
    """The response's size as Lambda's marshaller serializes it on ``runtime``."""
    with monkeypatch.context() as patch:
        patch.setenv("AWS_EXECUTION_ENV", f"AWS_Lambda_{runtime}")
        return len(to_json(response).encode())


def sized(size: int) -> tuple[dict[str, int], dict]:
    """(handler parameters, the response it returns) for an invocation response of ``size`` bytes:
    a body of quotes (2 bytes each once serialized), then a space when the gap is odd."""
    empty = {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "", "isBase64Encoded": False}
    gap = size - len(to_json(empty).encode())
    params = {"quotes": gap // 2, "spaces": gap % 2}
    response = {**empty, "body": '"' * params["quotes"] + " " * params["spaces"]}
    assert len(to_json(response).encode()) == size
    return params, response


@pytest.fixture(scope="module")
def local(default_template):
    """The default stack with the status function (python3.13) and the dispatcher (python3.11,
    which escapes non-ASCII) both answering with ``sized``."""
    stack, instance = copy.deepcopy(default_template)
    runtimes = {"status-function": "python3.13", "dispatcher-function": "python3.11"}
    for resource in stack.template["Resources"].values():
        part = (resource.get("Metadata") or {}).get("transflow:part")
        if part in runtimes:
            resource["Properties"]["Handler"] = "tests.runtime.local.fault_handlers.sized"
            resource["Properties"]["Runtime"] = runtimes[part]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", str(REPO))
        with LocalStack(LocalSettings(port=0), template=(stack, instance)) as running:
            yield running


def test_each_function_runs_with_the_execution_env_of_its_runtime_and_is_measured_by_it(local, monkeypatch):
    """Lambda sets ``AWS_EXECUTION_ENV`` to ``AWS_Lambda_<runtime>`` ("Defined runtime environment
    variables"); the Python runtime writes raw UTF-8 on python3.12+ and ``\\uXXXX`` escapes before,
    so one response fits on python3.13 and is too large on python3.11."""
    lam = local.client("lambda")
    names = local.info["functions"]
    assert local.functions[names["status-function"]].environment["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.13"
    assert local.functions[names["dispatcher-function"]].environment["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"
    params = {"quotes": 0, "spaces": 0, "accents": 2_000_000}
    response = {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "é" * 2_000_000,
                "isBase64Encoded": False}
    assert runtime_size(response, "python3.13", monkeypatch) <= LAMBDA_RESPONSE_LIMIT_BYTES
    assert runtime_size(response, "python3.11", monkeypatch) > LAMBDA_RESPONSE_LIMIT_BYTES
    fine = lam.invoke(FunctionName=names["status-function"], Payload=json.dumps(params).encode())
    assert "FunctionError" not in fine and json.loads(fine["Payload"].read()) == response
    refused = lam.invoke(FunctionName=names["dispatcher-function"], Payload=json.dumps(params).encode())
    assert refused["FunctionError"] == "Unhandled"
    assert json.loads(refused["Payload"].read())["errorType"] == "Function.ResponseSizeTooLarge"


def test_an_invoke_request_over_6_mb_is_refused_with_413(local):
    """Lambda quotas: the synchronous invocation request is at most 6 MB; over it Invoke answers
    413 ``RequestEntityTooLargeException`` ("Request must be smaller than 6291456 bytes for the
    InvokeFunction operation") and runs nothing."""
    lam = local.client("lambda")
    name = local.info["status_function_name"]
    runtime = local.functions[name]
    before = runtime.invocations
    payload = json.dumps({"quotes": 0, "spaces": 0, "pad": "x" * 6_291_456}).encode()
    with pytest.raises(ClientError) as refused:
        lam.invoke(FunctionName=name, Payload=payload)
    error = refused.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert error["Error"]["Code"] == "RequestEntityTooLargeException"
    assert "6291456 bytes" in error["Error"]["Message"] and runtime.invocations == before


def test_invoke_and_the_http_api_serve_exactly_the_limit_and_refuse_one_byte_more(local):
    lam = local.client("lambda")
    name = local.info["status_function_name"]
    token = local.mint("limits-user")

    def get(params: dict[str, int]) -> tuple[int, bytes]:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        request = urllib.request.Request(f"{local.info['api_url']}/status?{query}",
                                         headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    params, response = sized(LAMBDA_RESPONSE_LIMIT_BYTES)
    fine = lam.invoke(FunctionName=name, Payload=json.dumps(params).encode())
    assert "FunctionError" not in fine and json.loads(fine["Payload"].read()) == response
    assert get(params) == (200, response["body"].encode())

    over, _ = sized(LAMBDA_RESPONSE_LIMIT_BYTES + 1)
    refused = lam.invoke(FunctionName=name, Payload=json.dumps(over).encode())
    assert refused["StatusCode"] == 200 and refused["FunctionError"] == "Unhandled"
    error = json.loads(refused["Payload"].read())
    assert error["errorType"] == "Function.ResponseSizeTooLarge"
    assert "exceeded maximum allowed payload size (6291556 bytes)" in error["errorMessage"]
    status, body = get(over)
    assert status == 500 and json.loads(body) == {"message": "Internal Server Error"}
