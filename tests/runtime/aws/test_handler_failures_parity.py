"""Store failures reach the client and the log exactly as they did with boto3.

The status handler answers any AWS failure with ``500 {"error": "the status store is unavailable;
try again"}`` and logs ``error_type`` / ``detail`` of the exception; the authorizer raises
``AuthorizerConfigError("cannot read the JWT secret: <type>")``. Each failure is injected by a
server that throttles, fails, drops or refuses, and the same handler runs once with the light
client and once with boto3 (``TRANSFLOW_AWS_CLIENT=boto3``) against it: responses and log lines
must be identical. ``AWS_MAX_ATTEMPTS`` pins the attempt count both use.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from transflow_runtime import schema

from .fault_server import Action, FaultServer, drop, error, raw, truncated
from .lambda_process import lambda_environment, run_handler

STATUS = "transflow_runtime.handlers.status"
AUTHORIZER = "transflow_runtime.handlers.authorizer"
EVENT = {"assemblyId": "a" * 64}


def _failures(out: dict[str, Any], endpoint: str) -> list[dict[str, Any]]:
    return [{k: (v.replace(endpoint, "<endpoint>") if isinstance(v, str) else v)
             for k, v in line.items() if k not in ("timestamp", "traceback", "_aws")}
            for line in out["logs"] if line.get("event") in ("status_error", "status_check")]


def _both(module: str, events: list[Any], endpoint: str) -> tuple[dict[str, Any], dict[str, Any]]:
    env = lambda_environment(AWS_ENDPOINT_URL=endpoint, AWS_MAX_ATTEMPTS="2")
    light = run_handler(module, events, env, block_boto3=True)
    boto = run_handler(module, events, {**env, schema.AWS_CLIENT_ENV: "boto3"})
    return light, boto


@pytest.mark.parametrize("action", [
    error(400, "ProvisionedThroughputExceededException", "The level of configured provisioned throughput was exceeded"),
    error(400, "ThrottlingException", "Throughput exceeds the current capacity"),
    error(500, "InternalServerError", "Internal server error"),
    raw(503, b"<html><body>Service Unavailable</body></html>"),
    error(400, "ResourceNotFoundException", "Requested resource not found"),
    error(400, "ValidationException", "One or more parameter values were invalid"),
    error(400, "AccessDeniedException", "User is not authorized to perform: dynamodb:GetItem"),
    drop(),
], ids=["provisioned-throughput", "throttling", "500", "503-html", "no-table", "validation", "access-denied",
        "dropped"])
def test_status_failures_answer_and_log_as_with_boto3(action: Action) -> None:
    with FaultServer([action]) as server:
        light, boto = _both(STATUS, [EVENT], server.url)
        endpoint = server.url
    assert light["responses"] == boto["responses"]
    assert light["responses"][0]["statusCode"] == 500
    assert json.loads(light["responses"][0]["body"]) == {"error": "the status store is unavailable; try again"}
    assert _failures(light, endpoint) == _failures(boto, endpoint)
    assert light["after_requests"] == []


def test_an_unreachable_store_answers_and_logs_as_with_boto3() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{probe.getsockname()[1]}"
    light, boto = _both(STATUS, [EVENT], endpoint)
    assert light["responses"] == boto["responses"]
    assert _failures(light, endpoint) == _failures(boto, endpoint)
    assert _failures(light, endpoint)[0]["error_type"] == "EndpointConnectionError"


@pytest.mark.parametrize("action", [
    error(400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret."),
    error(400, "AccessDeniedException", "not authorized"),
    error(400, "DecryptionFailure", "KMS"),
    error(500, "InternalServiceError", "oops"),
], ids=["missing", "denied", "kms", "500"])
def test_authorizer_secret_failures_raise_as_with_boto3(action: Action) -> None:
    event = {"headers": {"authorization": "Bearer a.b.c"}, "requestContext": {"requestId": "r"}}
    with FaultServer([action]) as server:
        light, boto = _both(AUTHORIZER, [event], server.url)
    assert light["responses"] == boto["responses"]
    assert light["responses"][0]["raised"] == "AuthorizerConfigError"


def _both_with(module: str, events: list[Any], endpoint: str, **extra: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Like ``_both`` with the SDKs' default attempt count, and ``extra`` settings for both."""
    env = lambda_environment(AWS_ENDPOINT_URL=endpoint, **extra)
    return run_handler(module, events, env, block_boto3=True), run_handler(
        module, events, {**env, schema.AWS_CLIENT_ENV: "boto3"})


@pytest.mark.parametrize("action", [raw(429, b""), error(500, "InternalServerError", "Internal server error")],
                         ids=["429-empty", "500"])
def test_with_the_default_attempt_count_failures_log_as_with_boto3(action: Action) -> None:
    """AWS SDKs and Tools Reference Guide, "Retry behavior" (2026): a 429 without a modeled code is
    throttling, and DynamoDB gets 4 attempts; both clients' log lines say "reached max retries: 3"."""
    with FaultServer([action]) as server:
        light, boto = _both_with(STATUS, [EVENT], server.url)
        endpoint = server.url
    assert light["responses"] == boto["responses"]
    assert _failures(light, endpoint) == _failures(boto, endpoint)
    assert "reached max retries: 3" in _failures(light, endpoint)[0]["detail"]


@pytest.mark.parametrize("extra", [{"AWS_MAX_ATTEMPTS": "0"}, {"AWS_ACCOUNT_ID_ENDPOINT_MODE": "bogus"}],
                         ids=["max-attempts-0", "account-id-mode"])
def test_settings_botocore_refuses_answer_and_log_as_with_boto3(extra: dict[str, str]) -> None:
    """botocore refuses them with a ``BotoCoreError`` (``InvalidMaxRetryAttemptsError``,
    ``InvalidConfigError``): a store failure, not an unexpected crash."""
    endpoint = "http://127.0.0.1:9"
    light, boto = _both_with(STATUS, [EVENT], endpoint, **extra)
    assert light["responses"] == boto["responses"]
    assert _failures(light, endpoint) == _failures(boto, endpoint)
    assert _failures(light, endpoint)[0]["kind"] == "store"


def test_a_missing_ca_bundle_answers_and_logs_as_with_boto3(tmp_path) -> None:
    """``AWS_CA_BUNDLE`` naming no file (a typo, a layer not attached), against an HTTPS endpoint."""
    from .fault_server import ok, self_signed_certificate

    with FaultServer([ok()], tls=self_signed_certificate(tmp_path)) as server:
        light, boto = _both_with(STATUS, [EVENT], server.url, AWS_CA_BUNDLE=str(tmp_path / "missing.pem"),
                                 AWS_MAX_ATTEMPTS="1")
        endpoint = server.url
    assert light["responses"] == boto["responses"]
    assert json.loads(light["responses"][0]["body"]) == {"error": "the status store is unavailable; try again"}
    light_failure, boto_failure = _failures(light, endpoint)[0], _failures(boto, endpoint)[0]
    assert (light_failure["kind"], light_failure["error_type"]) == (boto_failure["kind"], boto_failure["error_type"])


def test_a_misspelt_client_setting_is_a_configuration_error() -> None:
    """Like every other bad setting of the function: "the status service is misconfigured", kind config."""
    out = run_handler(STATUS, [EVENT], lambda_environment(**{schema.AWS_CLIENT_ENV: "botocore"}), block_boto3=True)
    assert out["responses"][0]["statusCode"] == 500
    assert json.loads(out["responses"][0]["body"]) == {"error": "the status service is misconfigured"}
    (failure,) = [line for line in out["logs"] if line.get("event") == "status_error"]
    assert failure["kind"] == "config"
    assert "TRANSFLOW_AWS_CLIENT must be 'light' or 'boto3', got 'botocore'" in failure["detail"]


def test_a_replay_retried_after_a_dropped_connection_carries_one_event_id(monkeypatch: pytest.MonkeyPatch) -> None:
    """SQS may have queued a SendMessage whose answer was lost; the retry then queues a second copy
    (SQS standard queues are at-least-once anyway). Both copies carry the same event id, which is
    the deliveries' ``webhook-id``, so receivers deduplicate them: the replay's body is built once,
    before the call, and the light client sends the same body on every attempt."""
    from types import SimpleNamespace

    from transflow_runtime.aws.sqs import SQSClient
    from transflow_runtime.handlers import status

    from .conftest import light_environment
    from .fault_server import ok

    queue = "https://sqs.us-east-1.amazonaws.com/123456789012/webhooks"
    with FaultServer([drop(), ok({"MessageId": "m-2"})]) as server:
        monkeypatch.setattr(status, "_sqs", SQSClient(light_environment(server.url), sleep=lambda _s: None))
        event_id = status._enqueue_replay(SimpleNamespace(queue_url=queue, event_bus=""), "a" * 64)
        bodies = [json.loads(r.body)["MessageBody"] for r in server.requests]
    assert len(bodies) == 2 and bodies[0] == bodies[1]
    assert json.loads(bodies[0])["event_id"] == event_id


ITEM = {"Item": {"assembly_id": {"S": "a" * 64}, "state": {"S": "ASSEMBLY_COMPLETED"}, "user_id": {"S": "u"}}}


@pytest.mark.parametrize("action", [truncated(ITEM), Action("json", 200, json.dumps(ITEM).encode(), crc="bad")],
                         ids=["truncated-body", "bad-crc32"])
def test_where_boto3_answers_an_unverified_body_the_light_client_answers_the_store_500(action: Action) -> None:
    """Intended differences (README, "Where it differs"): a 200 cut short (Content-Length not
    reached before the connection closed) and one whose ``x-amz-crc32`` never matches. boto3 reads
    the fragment as an item-less answer (a false ``404``, which the seed's client takes for "not
    there yet") or returns the unverified item; the light client retries and then answers the
    store 500. A later "parity" change must not make the light client answer like boto3 here."""
    with FaultServer([action]) as server:
        light, boto = _both_with(STATUS, [EVENT], server.url, AWS_MAX_ATTEMPTS="2")
    assert light["responses"][0]["statusCode"] == 500
    assert json.loads(light["responses"][0]["body"]) == {"error": "the status store is unavailable; try again"}
    (failure,) = [line for line in light["logs"] if line.get("event") == "status_error"]
    assert failure["kind"] == "store"
    assert failure["error_type"] == ("ConnectionClosedError" if action.kind == "truncated" else "ChecksumError")
    assert boto["responses"][0]["statusCode"] in (200, 404)  # what boto3 (the escape hatch) does today
