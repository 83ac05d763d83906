"""Standard-mode retries against a server that throttles, answers 5xx, drops and hangs.

The rules are the AWS SDKs and Tools Reference Guide's ("Retry behavior"). By default its 2026
revision applies, as in botocore 1.44 and later (AWS Developer Tools Blog, "Updated default retry
behavior for AWS SDKs and tools": the updated behavior is the default from November 10, 2026,
botocore 1.44.0, with no opt-in): botocore itself is the oracle there, on the same misbehaving
server, with no variable set. ``AWS_NEW_RETRIES_2026=false`` keeps the numbers from before:
at most 3 attempts, ``rand x 2^i`` seconds of backoff capped at 20 s, a 500-token retry quota
(5 per retry, 10 after a timeout, refunded on success, +1 for a success without retries),
throttling and transient errors retried, nothing else.
"""

from __future__ import annotations

import random
import socket
import time
from typing import Any

import boto3
import botocore.endpoint
import pytest
from botocore import configprovider
from botocore.config import Config
from botocore.retries import quota as boto_quota
from botocore.retries import standard as boto_standard
from transflow_runtime.aws import retry
from transflow_runtime.aws.dynamodb import DynamoDBClient
from transflow_runtime.aws.errors import (
    ChecksumError,
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    InvalidMaxRetryAttemptsError,
    ReadTimeoutError,
)
from transflow_runtime.aws.transport import Transport

from .conftest import REGION, light_environment
from .fault_server import Action, FaultServer, drop, error, hang, ok, raw

GET = {"TableName": "t", "Key": {"assembly_id": {"S": "a"}}}
ITEM = {"Item": {"assembly_id": {"S": "a"}, "n": {"N": "1"}}}


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def light(server: FaultServer, sleeps: Sleeps | None = None, rand: float = 0.5, **env: str) -> DynamoDBClient:
    return DynamoDBClient(light_environment(server.url, **env), sleep=sleeps if sleeps is not None else Sleeps(),
                          rand=lambda: rand, transport=Transport(read_timeout=0.5, connect_timeout=0.5))


#: The guide's numbers before its 2026 revision (botocore before 1.44), now an explicit opt-out.
LEGACY = {"AWS_NEW_RETRIES_2026": "false"}


def legacy(server: FaultServer, sleeps: Sleeps | None = None, rand: float = 0.5, **env: str) -> DynamoDBClient:
    return light(server, sleeps, rand, **{**LEGACY, **env})


def attempts(server: FaultServer) -> list[str]:
    return [r.headers.get("amz-sdk-request", "") for r in server.requests]


# --- the guide's standard mode before 2026 (AWS_NEW_RETRIES_2026=false) ---------------------------------
def test_throttling_is_retried_with_jittered_exponential_backoff_and_the_quota_refunded() -> None:
    sleeps = Sleeps()
    with FaultServer([error(400, "ThrottlingException"), error(400, "ProvisionedThroughputExceededException"),
                      ok(ITEM)]) as server:
        client = legacy(server, sleeps, rand=0.5)
        out = client.get_item(**GET)
    assert out["Item"] == ITEM["Item"] and out["ResponseMetadata"]["RetryAttempts"] == 2
    assert attempts(server) == ["attempt=1; max=3", "attempt=2; max=3", "attempt=3; max=3"]
    assert len({r.headers["amz-sdk-invocation-id"] for r in server.requests}) == 1
    assert len({r.headers["authorization"] for r in server.requests}) == 3  # each attempt signed afresh
    assert sleeps == [0.5 * 2**0, 0.5 * 2**1]  # rand x 2^i
    assert client.retry_quota.available == 500 - 5 - 5 + 5  # the last retry's cost comes back


def test_after_three_attempts_the_error_is_raised_as_botocore_words_it() -> None:
    throttled = error(400, "ThrottlingException", "Rate of requests exceeds the allowed throughput.")
    with FaultServer([throttled]) as server, pytest.raises(ClientError) as caught:
        legacy(server).get_item(**GET)
    assert len(server.requests) == 3
    assert type(caught.value).__name__ == "ThrottlingException"  # a modeled DynamoDB error
    assert str(caught.value) == ("An error occurred (ThrottlingException) when calling the GetItem operation "
                                 "(reached max retries: 2): Rate of requests exceeds the allowed throughput.")
    metadata = caught.value.response["ResponseMetadata"]
    assert metadata["MaxAttemptsReached"] is True and metadata["RetryAttempts"] == 2


@pytest.mark.parametrize("action", [error(500, "InternalServerError"), raw(502, b""), raw(503, b"<html>down</html>"),
                                    raw(504, b""), error(400, "RequestTimeoutException")],
                         ids=["500", "502", "503-html", "504", "RequestTimeoutException"])
def test_transient_errors_are_retried(action: Action) -> None:
    with FaultServer([action, ok(ITEM)]) as server:
        assert legacy(server).get_item(**GET)["Item"] == ITEM["Item"]
    assert len(server.requests) == 2


def test_an_html_5xx_reads_as_botocore_reads_it() -> None:
    with FaultServer([raw(503, b"<html><body>Service Unavailable</body></html>")]) as server, \
            pytest.raises(ClientError) as caught:
        legacy(server).get_item(**GET)
    assert str(caught.value) == ("An error occurred (503) when calling the GetItem operation (reached max retries: 2): "
                                 "Service Unavailable")


@pytest.mark.parametrize("action", [error(400, "ValidationException", "bad key"),
                                    error(400, "ResourceNotFoundException"), error(400, "AccessDeniedException"),
                                    error(403, "UnrecognizedClientException"),
                                    error(400, "ConditionalCheckFailedException")])
def test_other_errors_fail_at_once(action: Action) -> None:
    with FaultServer([action, ok(ITEM)]) as server:
        client = legacy(server)
        with pytest.raises(ClientError) as caught:
            client.get_item(**GET)
    assert len(server.requests) == 1 and client.retry_quota.available == 500
    assert "reached max retries" not in str(caught.value)


def test_a_dropped_connection_is_retried_on_a_new_connection() -> None:
    with FaultServer([drop(), ok(ITEM)]) as server:
        assert legacy(server).get_item(**GET)["Item"] == ITEM["Item"]
    assert server.connections == 2 and len(server.requests) == 2


def test_connections_dropped_every_time_end_in_botocores_error() -> None:
    with FaultServer([drop()]) as server, pytest.raises(ConnectionClosedError) as caught:
        legacy(server).get_item(**GET)
    assert len(server.requests) == 3
    assert str(caught.value) == ("Connection was closed before we received a valid response from endpoint URL: "
                                 f'"{server.url}/".')


def test_a_hung_response_times_out_costs_ten_tokens_and_is_retried() -> None:
    sleeps = Sleeps()
    with FaultServer([hang(1.0), ok(ITEM)]) as server:
        client = legacy(server, sleeps)
        started = time.monotonic()
        assert client.get_item(**GET)["Item"] == ITEM["Item"]
    assert time.monotonic() - started < 1.0 + 0.5 * 2  # the 0.5 s read timeout, not the server's hang
    assert client.retry_quota.available == 500 - 10 + 10  # the timeout's retry cost 10, refunded


def test_timeouts_every_time_end_in_read_timeout_error() -> None:
    with FaultServer([hang(1.0)]) as server:
        client = legacy(server)
        with pytest.raises(ReadTimeoutError, match="Read timeout on endpoint URL"):
            client.get_item(**GET)
    assert client.retry_quota.available == 500 - 2 * 10


def test_nothing_listening_is_an_endpoint_connection_error_after_the_retries() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps = Sleeps()
    client = DynamoDBClient(light_environment(f"http://127.0.0.1:{port}", **LEGACY), sleep=sleeps, rand=lambda: 0.1)
    with pytest.raises(EndpointConnectionError) as caught:
        client.get_item(**GET)
    assert str(caught.value) == f'Could not connect to the endpoint URL: "http://127.0.0.1:{port}/"'
    assert len(sleeps) == 2


def test_a_crc32_mismatch_is_retried_and_in_the_end_refused() -> None:
    """DynamoDB signs each response body with x-amz-crc32 (DynamoDB API Reference, "Error handling")."""
    bad = ok(ITEM)
    bad.crc = "bad"
    with FaultServer([bad, ok(ITEM)]) as server:
        assert legacy(server).get_item(**GET)["Item"] == ITEM["Item"]
    assert len(server.requests) == 2
    with FaultServer([bad]) as server, pytest.raises(ChecksumError, match="Checksum crc32 failed"):
        legacy(server).get_item(**GET)
    assert len(server.requests) == 3


def test_an_exhausted_quota_stops_retrying() -> None:
    with FaultServer([error(400, "ThrottlingException"), ok(ITEM)]) as server:
        client = legacy(server)
        client.retry_quota.available = 4  # less than one retry's cost
        with pytest.raises(ClientError) as caught:
            client.get_item(**GET)
    assert len(server.requests) == 1
    assert caught.value.response["ResponseMetadata"]["RetryQuotaReached"] is True
    assert "reached max retries" not in str(caught.value)


def test_a_success_without_retries_adds_one_token_up_to_the_initial_500() -> None:
    with FaultServer([ok(ITEM)]) as server:
        client = legacy(server)
        client.retry_quota.available = 490
        client.get_item(**GET)
        assert client.retry_quota.available == 491
        client.retry_quota.available = 500
        client.get_item(**GET)
        assert client.retry_quota.available == 500


def test_max_attempts_comes_from_aws_max_attempts() -> None:
    with FaultServer([error(500, "InternalServerError")]) as server, pytest.raises(ClientError):
        light(server, AWS_MAX_ATTEMPTS="5").get_item(**GET)
    assert attempts(server)[-1] == "attempt=5; max=5" and len(server.requests) == 5
    with pytest.raises(InvalidMaxRetryAttemptsError, match='"max_attempts": 0 must be an integer'):
        retry.policy_for("dynamodb", {"AWS_MAX_ATTEMPTS": "0"})


@pytest.mark.parametrize("attempt", range(1, 9))
def test_backoff_is_capped_at_twenty_seconds(attempt: int) -> None:
    policy = retry.policy_for("dynamodb", LEGACY)
    assert policy.delay(retry.THROTTLING, attempt, 0.999) == min(0.999 * 2 ** (attempt - 1), 20.0)
    assert 0 <= policy.delay(retry.TRANSIENT, attempt, 0.0) <= policy.delay(retry.TRANSIENT, attempt, 0.999) <= 20


# --- the 2026 revision, with botocore 1.44 as the oracle -----------------------------------------
NEW = {"AWS_NEW_RETRIES_2026": "true"}
#: botocore before 1.44 implements the pre-2026 numbers, so it is an oracle for the 2026 ones only after.
needs_2026_botocore = pytest.mark.skipif(not getattr(configprovider, "NEW_RETRIES_ENABLED", False),
                                         reason="this botocore predates the 2026 retry revision")


def _context(attempt: int, status: int, code: str | None, retry_after: str | None = None) -> Any:
    class _Response:
        status_code = status
        headers = {"x-amz-retry-after": retry_after} if retry_after else {}

    operation = boto3.client("dynamodb", region_name=REGION).meta.service_model.operation_model("GetItem")
    parsed = {"Error": {"Code": code}} if code else {}
    return boto_standard.RetryContext(attempt, operation_model=operation, parsed_response=parsed,
                                      http_response=_Response())


@needs_2026_botocore
@pytest.mark.parametrize("code,status", [("ThrottlingException", 400), ("ProvisionedThroughputExceededException", 400),
                                         ("InternalServerError", 500), (None, 503), (None, 429),
                                         ("ResourceNotFoundException", 429), ("ValidationException", 400)])
@pytest.mark.parametrize("retry_after", [None, "3000", "-5", "soon"])
def test_2026_classification_backoff_and_cost_are_botocores(code: str | None, status: int,
                                                            retry_after: str | None) -> None:
    policy = retry.policy_for("dynamodb", NEW)
    modeled = code in DynamoDBClient.PROTOCOL.modeled_errors
    kind = policy.classify(status, code, modeled)
    adapter = boto_standard.RetryEventAdapter()
    detector = boto_standard.ThrottlingErrorDetector(adapter)
    for attempt in range(1, 6):
        rand = random.Random(attempt).random()
        context = _context(attempt, status, code, retry_after)
        retryable = boto_standard.StandardRetryConditions(max_attempts=99).is_retryable(context)
        assert (kind is not None) == retryable
        if not retryable:
            continue
        backoff = boto_standard.ExponentialBackoff(random=lambda r=rand: r, service_name="dynamodb",
                                                   throttling_detector=detector)
        assert policy.delay(kind, attempt, rand, retry_after) == pytest.approx(backoff.delay_amount(context))
        checker = boto_standard.RetryQuotaChecker(boto_quota.RetryQuota(), detector)
        checker.acquire_retry_quota(context)
        assert policy.cost(kind) == context.request_context["retry_quota_capacity"]


def _boto3_attempts(url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, tuple[str, str]]:
    monkeypatch.setattr(botocore.endpoint.time, "sleep", lambda _s: None)
    client = boto3.client("dynamodb", region_name=REGION, endpoint_url=url,
                          config=Config(connect_timeout=0.5, read_timeout=0.5))
    try:
        client.get_item(**GET)
    except Exception as exc:
        return 0, (type(exc).__name__, str(exc).replace(url, "<endpoint>"))
    return 1, ("", "")


def test_the_default_is_the_2026_revision() -> None:
    """With no variable set the numbers are the 2026 ones (DynamoDB: 4 attempts, 25 ms base)."""
    for service in ("dynamodb", "sqs", "secretsmanager"):
        assert retry.policy_for(service, {}) == retry.policy_for(service, NEW)
    assert retry.policy_for("dynamodb", {}).max_attempts == 4


SCRIPTS = [
    [error(400, "ThrottlingException", "slow down")],
    [error(500, "InternalServerError", "oops")],
    [raw(503, b"")],
    [raw(429, b"")],
    [drop()],
    [error(400, "ValidationException", "no")],
    [error(400, "ThrottlingException"), error(500, "InternalServerError"), ok(ITEM)],
]
SCRIPT_IDS = ["throttled", "500", "503-empty", "429-empty", "dropped", "validation", "recovers"]


def _light_outcome(script: list[Action], **env: str) -> tuple[tuple[int, tuple[str, str]], int]:
    with FaultServer(list(script)) as server:
        client = light(server, **env)
        try:
            client.get_item(**GET)
            ours = (1, ("", ""))
        except Exception as exc:
            ours = (0, (type(exc).__name__, str(exc).replace(server.url, "<endpoint>")))
        return ours, len(server.requests)


@needs_2026_botocore
@pytest.mark.parametrize("script", SCRIPTS, ids=SCRIPT_IDS)
def test_by_default_retries_end_like_the_installed_botocores(script: list[Action], monkeypatch) -> None:
    """No opt-in variable on either side: same attempts, same exception and message (the log line)."""
    monkeypatch.delenv("AWS_NEW_RETRIES_2026", raising=False)
    with FaultServer(list(script)) as server:
        theirs = _boto3_attempts(server.url, monkeypatch)
        boto_requests = len(server.requests)
    assert _light_outcome(script) == (theirs, boto_requests)


@needs_2026_botocore
@pytest.mark.parametrize("script", SCRIPTS, ids=SCRIPT_IDS)
def test_2026_retries_end_like_botocores_on_the_same_server(script: list[Action], monkeypatch) -> None:
    monkeypatch.setenv("AWS_NEW_RETRIES_2026", "true")  # the variable botocore 1.44 no longer needs
    with FaultServer(list(script)) as server:
        theirs = _boto3_attempts(server.url, monkeypatch)
        boto_requests = len(server.requests)
    assert _light_outcome(script, **NEW) == (theirs, boto_requests)


def test_2026_honours_x_amz_retry_after() -> None:
    sleeps = Sleeps()
    with FaultServer([error(400, "ThrottlingException", **{"x-amz-retry-after": "2500"}), ok(ITEM)]) as server:
        light(server, sleeps, rand=0.1, **NEW).get_item(**GET)
    assert sleeps == [pytest.approx(2.5)]
