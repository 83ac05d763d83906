"""Local mode refuses a status-function response exactly where Lambda would, on both paths.

AWS Lambda quotas (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html):
"Invocation payload (request and response): 6 MB each for synchronous" - 6,291,556 bytes of the
return value as the Python runtime serializes it. Over it, Invoke answers a function error
(``X-Amz-Function-Error: Unhandled``, ``Function.ResponseSizeTooLarge``) and the HTTP API, whose
integration then fails, answers ``500 {"message":"Internal Server Error"}``. The sizes here are
computed with Lambda's own marshaller (awslambdaric), not with the code under test.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

from awslambdaric.lambda_runtime_marshaller import to_json
from transflow_runtime.limits import LAMBDA_RESPONSE_LIMIT_BYTES
from transflow_runtime.local.runner import LocalStack
from transflow_runtime.local.settings import LocalSettings

REPO = Path(__file__).resolve().parents[3]


def sized(size: int) -> tuple[dict[str, int], dict]:
    """(handler parameters, the response it returns) for an invocation response of ``size`` bytes:
    a body of quotes (2 bytes each once serialized), then a space when the gap is odd."""
    empty = {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "", "isBase64Encoded": False}
    gap = size - len(to_json(empty).encode())
    params = {"quotes": gap // 2, "spaces": gap % 2}
    response = {**empty, "body": '"' * params["quotes"] + " " * params["spaces"]}
    assert len(to_json(response).encode()) == size
    return params, response


def test_invoke_and_the_http_api_serve_exactly_the_limit_and_refuse_one_byte_more(template_copy, monkeypatch):
    stack, instance = template_copy
    for resource in stack.template["Resources"].values():
        if (resource.get("Metadata") or {}).get("transflow:part") == "status-function":
            resource["Properties"]["Handler"] = "tests.runtime.local.fault_handlers.sized"
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    with LocalStack(LocalSettings(port=0), template=(stack, instance)) as local:
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
