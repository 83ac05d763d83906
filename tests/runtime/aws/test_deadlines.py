"""No AWS call of the read path outlives the invocation (review15 finding 1).

AWS Lambda Developer Guide, "Configure Lambda function timeout": when the timeout is reached
Lambda stops the invocation; "Using the Lambda context object to retrieve Python function
information": ``get_remaining_time_in_millis()`` is the time left before it does. The status and
authorizer functions (10 s) must answer a slow store with their own 500 and log line, not be
killed mid-call: every attempt, each whole response (a server trickling it byte by byte, which no
per-read timeout notices) and each backoff sleep end before the time left, minus a reserve. Each
test would take several times its bound without the deadline (noted per test); bounds are loose.
"""

from __future__ import annotations

import json
import time

import pytest
from transflow_runtime.aws import deadlines
from transflow_runtime.aws.dynamodb import DynamoDBClient
from transflow_runtime.aws.errors import ClientError, ReadTimeoutError
from transflow_runtime.aws.transport import Transport

from .conftest import light_environment
from .fault_server import FaultServer, drip, error, hang
from .lambda_process import lambda_environment, run_handler

GET = {"TableName": "t", "Key": {"assembly_id": {"S": "a"}}}


@pytest.mark.parametrize("part", ["body", "head"])
def test_a_trickled_response_is_cut_off_at_the_read_timeout(part: str) -> None:
    """One byte every 0.1 s never trips a per-read timeout (the answer would take ~4 s or more)."""
    with FaultServer([drip(0.1, part=part)]) as server:
        client = DynamoDBClient(light_environment(server.url, AWS_MAX_ATTEMPTS="1"),
                                transport=Transport(read_timeout=0.8))
        started = time.monotonic()
        with pytest.raises(ReadTimeoutError):
            client.get_item(**GET)
        assert time.monotonic() - started < 2.0


def test_a_hanging_endpoint_costs_no_more_than_the_deadline() -> None:
    """4 attempts x 5 s read timeout = 20 s without the deadline."""
    with FaultServer([hang(30)]) as server:
        client = DynamoDBClient(light_environment(server.url), sleep=lambda _s: None)
        started = time.monotonic()
        with deadlines.within(1.0), pytest.raises(ReadTimeoutError):
            client.get_item(**GET)
        assert time.monotonic() - started < 2.0


def test_no_retry_is_made_whose_backoff_ends_past_the_deadline() -> None:
    """Throttled every time, backoff 1 s then 2 s (rand = 1): with 2.5 s left only the first retry fits."""
    slept: list[float] = []
    clock = lambda: time.monotonic() + sum(slept)  # noqa: E731 - a clock that the fake sleeps advance
    with FaultServer([error(400, "ThrottlingException", "slow down")]) as server:
        client = DynamoDBClient(light_environment(server.url), sleep=slept.append, rand=lambda: 1.0, clock=clock)
        with deadlines.within(2.5, clock=clock), pytest.raises(ClientError, match="ThrottlingException"):
            client.get_item(**GET)
        assert slept == [1.0] and len(server.requests) == 2


def test_a_deadline_is_never_extended_by_an_inner_one() -> None:
    with deadlines.within(1.0):
        outer = deadlines.current()
        with deadlines.within(60.0):
            assert deadlines.current() == outer
        with deadlines.within(None):
            assert deadlines.current() == outer
    assert deadlines.current() is None


def test_the_invocation_keeps_a_reserve_to_answer_in() -> None:
    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 10_000

    with deadlines.for_invocation(Context()):
        left = deadlines.current() - time.monotonic()
    assert 8.5 < left <= 9.0
    with deadlines.for_invocation(None):
        assert deadlines.current() is None


def test_the_status_function_answers_its_own_500_before_lambdas_timeout() -> None:
    """3 s left and a store that never answers: the handler's JSON 500 and ``status_error`` line
    come in time (20 s of attempts without the deadline, and Lambda's bare error instead)."""
    with FaultServer([hang(60)]) as server:
        out = run_handler("transflow_runtime.handlers.status", [{"assemblyId": "a" * 64}],
                          lambda_environment(AWS_ENDPOINT_URL=server.url), block_boto3=True, remaining_ms=3000)
    assert out["elapsed"][0] < 3.0
    assert out["responses"][0]["statusCode"] == 500
    assert json.loads(out["responses"][0]["body"]) == {"error": "the status store is unavailable; try again"}
    (failure,) = [line for line in out["logs"] if line.get("event") == "status_error"]
    assert failure["error_type"] == "ReadTimeoutError"


def test_the_authorizer_fails_on_its_own_before_lambdas_timeout() -> None:
    event = {"headers": {"authorization": "Bearer a.b.c"}, "requestContext": {"requestId": "r"}}
    with FaultServer([hang(60)]) as server:
        out = run_handler("transflow_runtime.handlers.authorizer", [event],
                          lambda_environment(AWS_ENDPOINT_URL=server.url), block_boto3=True, remaining_ms=3000)
    assert out["elapsed"][0] < 3.0
    assert out["responses"][0] == {"raised": "AuthorizerConfigError",
                                   "message": "cannot read the JWT secret: ReadTimeoutError"}
