"""The X-Ray trace header, sent on Lambda as botocore sends it (review15 finding 11).

botocore (``handlers.add_recursion_detection_header``) adds ``X-Amzn-Trace-Id`` with the value of
``_X_AMZN_TRACE_ID``, which the Lambda runtime sets for each invocation, whenever
``AWS_LAMBDA_FUNCTION_NAME`` is set. AWS Lambda Developer Guide, "Use Lambda recursive loop
detection to prevent infinite loops": detection relies on the tracing header the AWS SDKs add;
AWS X-Ray Developer Guide, "Tracing header": SQS keeps it as the message's ``AWSTraceHeader``, so
a replay's webhook invocation joins the poll's trace. botocore is the oracle, on the same server.
"""

from __future__ import annotations

import boto3
import pytest
from transflow_runtime.aws.dynamodb import DynamoDBClient

from .conftest import REGION, light_environment
from .fault_server import FaultServer, ok

GET = {"TableName": "t", "Key": {"assembly_id": {"S": "a"}}}
TRACE = 'Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:0 é"{}'


def _sent_trace_headers(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> tuple[list, list]:
    for name in ("AWS_LAMBDA_FUNCTION_NAME", "_X_AMZN_TRACE_ID"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with FaultServer([ok({"Item": {"assembly_id": {"S": "a"}}})]) as server:
        boto3.client("dynamodb", region_name=REGION, endpoint_url=server.url,
                     aws_access_key_id="a", aws_secret_access_key="b").get_item(**GET)
        DynamoDBClient(light_environment(server.url, **env)).get_item(**GET)
        DynamoDBClient(light_environment(server.url)).get_item(**GET)  # os.environ, read per request
    theirs, ours, ours_from_process = ([r.headers.get("x-amzn-trace-id")] for r in server.requests)
    assert ours_from_process == ours
    return theirs, ours


@pytest.mark.parametrize("env", [
    {"AWS_LAMBDA_FUNCTION_NAME": "transflow-status", "_X_AMZN_TRACE_ID": TRACE},
    {"_X_AMZN_TRACE_ID": TRACE},  # not on Lambda: botocore adds nothing
    {"AWS_LAMBDA_FUNCTION_NAME": "transflow-status"},  # tracing off: nothing to add
], ids=["lambda", "off-lambda", "no-trace"])
def test_the_trace_header_is_botocores(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    theirs, ours = _sent_trace_headers(env, monkeypatch)
    assert ours == theirs
    if len(env) == 2:
        assert ours[0] and ours[0].startswith("Root=1-67891233")


def test_each_invocation_sends_its_own_trace_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "transflow-status")
    with FaultServer([ok({})]) as server:
        client = DynamoDBClient(light_environment(server.url))
        for root in ("Root=1-a", "Root=1-b"):
            monkeypatch.setenv("_X_AMZN_TRACE_ID", root)
            client.get_item(**GET)
    assert [r.headers.get("x-amzn-trace-id") for r in server.requests] == ["Root=1-a", "Root=1-b"]
