"""Local mode refuses a status-function response exactly where Lambda would.

AWS Lambda quotas (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html):
"Invocation payload (request and response): 6 MB each for synchronous" — 6,291,556 bytes of the
return value as the Python runtime serializes it. Over it, Invoke answers a function error
(``X-Amz-Function-Error: Unhandled``, ``Function.ResponseSizeTooLarge``) and the HTTP API, whose
integration then fails, answers ``500 {"message":"Internal Server Error"}``. The sizes here are
computed with Lambda's own marshaller (awslambdaric), not with the code under test.
"""

from __future__ import annotations

import http.client
import json
from typing import Any

import boto3
import pytest
from awslambdaric.lambda_runtime_marshaller import to_json
from transflow_runtime import StatusLambdaClient
from transflow_runtime.limits import LAMBDA_RESPONSE_LIMIT_BYTES
from transflow_runtime.local.gateway import LocalGateway


def response_of_size(size: int) -> dict[str, Any]:
    """A payload-2.0 response whose serialized invocation response is exactly ``size`` bytes:
    a body of quotes (2 bytes each once serialized), then a space when the gap is odd."""
    response = {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "",
                "isBase64Encoded": False}
    gap = size - len(to_json(response).encode())
    response["body"] = '"' * (gap // 2) + " " * (gap % 2)
    assert len(to_json(response).encode()) == size
    return response


class Fixed:
    def __init__(self) -> None:
        self.response: dict[str, Any] = {}

    def __call__(self, event: Any, context: Any) -> dict[str, Any]:
        return self.response


@pytest.fixture
def gateway():
    handler = Fixed()
    gw = LocalGateway(host="127.0.0.1", port=0, status_handler=handler, authorizer_handler=None,
                      status_function_name="fn-under-test")
    gw.start()
    gw.handler = handler  # type: ignore[attr-defined]
    yield gw
    gw.stop()


def http_get(gw: LocalGateway) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=30)
    connection.request("POST", "/status/batch", body=b'{"assemblyIds": ["x"]}')
    answer = connection.getresponse()
    return answer.status, answer.read()


def invoke(gw: LocalGateway) -> dict[str, Any]:
    client = boto3.client("lambda", endpoint_url=gw.url, region_name="us-east-1",
                          aws_access_key_id="local", aws_secret_access_key="local")
    response = client.invoke(FunctionName="fn-under-test", Payload=b'{"assemblyId": "x"}')
    return {**response, "Payload": json.loads(response["Payload"].read())}


def test_the_http_api_serves_a_response_of_exactly_the_limit_and_answers_500_one_byte_over(gateway):
    gateway.handler.response = response_of_size(LAMBDA_RESPONSE_LIMIT_BYTES)
    status, body = http_get(gateway)
    assert status == 200 and body == gateway.handler.response["body"].encode()
    gateway.handler.response = response_of_size(LAMBDA_RESPONSE_LIMIT_BYTES + 1)
    assert http_get(gateway) == (500, b'{"message": "Internal Server Error"}')


def test_invoke_returns_a_response_of_exactly_the_limit_and_a_function_error_one_byte_over(gateway):
    gateway.handler.response = response_of_size(LAMBDA_RESPONSE_LIMIT_BYTES)
    fine = invoke(gateway)
    assert "FunctionError" not in fine and fine["Payload"] == gateway.handler.response
    gateway.handler.response = response_of_size(LAMBDA_RESPONSE_LIMIT_BYTES + 1)
    refused = invoke(gateway)
    assert refused["StatusCode"] == 200 and refused["FunctionError"] == "Unhandled"
    assert refused["Payload"] == {
        "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
        "errorType": "Function.ResponseSizeTooLarge",
    }
    client = boto3.client("lambda", endpoint_url=gateway.url, region_name="us-east-1",
                          aws_access_key_id="local", aws_secret_access_key="local")
    result = StatusLambdaClient("fn-under-test", client=client).get_status("x")
    assert not result.success and "exceeded maximum allowed payload size" in (result.error or "")
