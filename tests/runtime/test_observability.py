"""Log and metric hygiene of every handler (status, authorizer, webhook, dispatcher), run for real
on moto: every output line is one JSON object, embedded metrics are well-formed and named as the
construct's alarms and dashboard expect (``schema.METRIC_*``), each line carries its correlation
ids, and no token, Authorization header, JWT secret, webhook secret or signature appears in any
output (stdout, stderr, ``logging``), on the success paths and on every error path."""

from __future__ import annotations

import base64
import json
import logging
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import boto3
import jwt
import pytest
from transflow_runtime import assembly_id, schema
from transflow_runtime.auth import mint_token
from transflow_runtime.handlers import authorizer, dispatcher, webhook
from transflow_runtime.handlers import status as status_handler

from tests.runtime.status_support import aid, http_event, status_env_fixture  # noqa: F401 - fixture
from tests.runtime.webhook_receivers import Receiver, Reply, WebhookHarness, stream_records

#: A namespace with every character class CloudWatch allows, so each handler must really use it.
NAMESPACE = "Acme/Transflow-Obs_1"
#: Values that must never be written anywhere (unique, so a hit cannot be a coincidence).
JWT_SECRET = "obs-jwt-secret-" + secrets.token_hex(16)
HOOK_SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
URL_PASSWORD = "urlpass-" + secrets.token_hex(8)
URL_QUERY_TOKEN = "querytoken-" + secrets.token_hex(8)
EMF_UNITS = {"Count", "Milliseconds", "Seconds", "Bytes", "None"}


class Context:
    """The attributes of Lambda's context object the handlers read."""

    def __init__(self, request_id: str) -> None:
        self.aws_request_id = request_id
        self.function_name = "transflow-test"


# ---- reading what the handlers wrote -------------------------------------------------------------
@dataclass
class Output:
    lines: list[dict[str, Any]]
    text: str  # everything written anywhere: stdout, stderr and logging records
    extra: list[str] = field(default_factory=list)

    def metric_lines(self) -> list[dict[str, Any]]:
        return [line for line in self.lines if "_aws" in line]

    def assert_never_contains(self, *values: str) -> None:
        haystack = self.text + "\n".join(self.extra)
        for value in values:
            assert value, "an empty needle proves nothing"
            assert value not in haystack, f"{value[:12]}... leaked into the output"


@pytest.fixture
def output(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> Callable[[], Output]:
    """Collects what was written since the last call; fails unless every stdout line is a JSON object."""
    caplog.set_level(logging.INFO)  # stricter than Lambda's default (WARNING)

    def collect() -> Output:
        out, err = capsys.readouterr()
        lines = []
        for raw in out.splitlines():
            assert raw.strip(), "blank line in the log output"
            document = json.loads(raw)  # raises on anything that is not JSON
            assert isinstance(document, dict), f"log line is not a JSON object: {raw[:200]}"
            lines.append(document)
        records = [f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records]
        caplog.clear()
        return Output(lines, "\n".join([out, err, *records]))

    collect()
    return collect


def check_emf(line: dict[str, Any], metrics: dict[str, set[str]]) -> None:
    """A well-formed EMF document in ``NAMESPACE`` whose metrics/dimensions are among ``metrics``
    (metric name -> allowed dimension names), values at the top level as CloudWatch requires."""
    meta = line["_aws"]
    assert isinstance(meta["Timestamp"], int) and abs(meta["Timestamp"] - time.time() * 1000) < 600_000
    directives = meta["CloudWatchMetrics"]
    assert isinstance(directives, list) and directives
    for directive in directives:
        assert set(directive) == {"Namespace", "Dimensions", "Metrics"}
        assert directive["Namespace"] == NAMESPACE
        assert isinstance(directive["Dimensions"], list) and directive["Dimensions"]
        for dimension_set in directive["Dimensions"]:
            assert isinstance(dimension_set, list) and len(dimension_set) <= 30
            for name in dimension_set:
                value = line[name]
                assert isinstance(value, str) and value, f"dimension {name} needs a string value at the top level"
        assert directive["Metrics"]
        for metric in directive["Metrics"]:
            name = metric["Name"]
            assert name in metrics, f"unexpected metric {name}"
            assert metric.get("Unit", "None") in EMF_UNITS
            value = line[name]
            assert isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
            for dimension_set in directive["Dimensions"]:
                assert set(dimension_set) <= metrics[name]


def jwt_parts(token: str) -> list[str]:
    """A token's payload and signature segments (the header is common to every HS256 token)."""
    parts = token.split(".")
    return [p for p in parts[1:] if len(p) >= 8] if len(parts) == 3 else [token]


# ---- status handler ------------------------------------------------------------------------------
STATUS_METRICS = {schema.METRIC_STATUS_CHECKS: {schema.METRIC_STATUS_CHECKS_DIMENSION}}


@pytest.fixture
def status_setup(status_env, store, monkeypatch) -> dict[str, Any]:
    monkeypatch.setenv(schema.ENV_METRICS_NAMESPACE, NAMESPACE)
    status_handler.reset_for_tests()
    mine, theirs = aid(1), aid(2, user="bob")
    store.create(mine, user_id="alice", template_id="tpl")
    store.create(theirs, user_id="bob", template_id="tpl")
    token = mint_token(JWT_SECRET, "alice")
    return {"env": status_env, "mine": mine, "theirs": theirs, "token": token}


def api_event(token: str, request_id: str, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    """An API event as API Gateway passes it on: the caller's Authorization header is still in it."""
    event = http_event(method, path, headers={"authorization": f"Bearer {token}"}, **kwargs)
    event["requestContext"]["requestId"] = request_id
    return event


def test_status_lines_are_json_with_well_formed_metrics_and_request_and_assembly_ids(status_setup, output):
    mine, theirs, token = status_setup["mine"], status_setup["theirs"], status_setup["token"]
    calls = [
        ("api-1", "GET", "/status", {"query": {"assemblyId": mine}}, mine, "found"),
        ("api-2", "GET", f"/assemblies/{theirs}", {}, theirs, "forbidden"),
        ("api-3", "GET", "/status", {"query": {"assemblyId": aid(3)}}, aid(3), "not_found"),
        ("api-4", "POST", f"/assemblies/{mine}/notify", {}, mine, "replayed"),
        ("api-5", "GET", "/assemblies", {}, None, "listed"),
    ]
    responses = []
    for request_id, method, path, kwargs, _aid, _result in calls:
        responses.append(status_handler.handler(api_event(token, request_id, method, path, **kwargs), None))
    responses.append(status_handler.handler({"assemblyId": mine, "userId": "alice"}, Context("lambda-req-6")))
    got = output()
    assert len(got.lines) == len(calls) + 1
    for line, (request_id, *_rest, expected_id, result) in zip(got.lines, calls, strict=False):
        check_emf(line, STATUS_METRICS)
        assert line["request_id"] == request_id
        assert line["assembly_id"] == expected_id and line["result"] == result == line["Result"]
        assert line["user_id"] == "alice" and line[schema.METRIC_STATUS_CHECKS] == 1
    direct = got.lines[-1]
    check_emf(direct, STATUS_METRICS)
    assert (direct["request_id"], direct["assembly_id"], direct["result"]) == ("lambda-req-6", mine, "found")
    got.extra = [json.dumps(r) for r in responses]
    got.assert_never_contains(token, *jwt_parts(token), JWT_SECRET)


def test_status_error_paths_log_the_cause_with_correlation_ids_and_never_the_token(
    status_setup, output, monkeypatch
):
    mine, token = status_setup["mine"], status_setup["token"]
    bad_requests = [
        api_event(token, "api-bad-1", "POST", "/status/batch", body="{not json"),
        api_event(token, "api-bad-2", "GET", "/nowhere"),
        api_event(token, "api-bad-3", "GET", "/status", query={"assemblyId": "x" * 70}),
        api_event(token, "api-bad-4", "GET", "/status", query={"assemblyId": mine}, user=None),
    ]
    responses = [status_handler.handler(event, None) for event in bad_requests]
    assert [r["statusCode"] for r in responses] == [400, 404, 400, 401]
    got = output()
    assert [line["request_id"] for line in got.lines] == ["api-bad-1", "api-bad-2", "api-bad-3", "api-bad-4"]
    for line in got.lines:
        check_emf(line, STATUS_METRICS)

    # A store failure (the table is gone) and a bug: the cause is logged in full, with both ids.
    status_setup["env"].dynamodb.delete_table(TableName=status_setup["env"].table_name)
    store_failure = status_handler.handler(api_event(token, "api-err-1", "GET", "/status", query={"assemblyId": mine}))
    direct_failure = status_handler.handler({"assemblyId": mine}, Context("lambda-err-2"))

    def explode(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(status_handler, "_handle_http", explode)
    bug = status_handler.handler(api_event(token, "api-err-3", "GET", "/status", query={"assemblyId": mine}),
                                 Context("lambda-err-3"))
    assert [r["statusCode"] for r in (store_failure, direct_failure, bug)] == [500, 500, 500]
    got_errors = output()
    errors = [line for line in got_errors.lines if line.get("event") == "status_error"]
    checks = [line for line in got_errors.lines if line.get("event") == "status_check"]
    assert [(e["kind"], e["request_id"], e["assembly_id"]) for e in errors] == [
        ("store", "api-err-1", mine),
        ("store", "lambda-err-2", mine),
        ("unexpected", "lambda-err-3", None),
    ]
    assert "ResourceNotFoundException" in errors[0]["error_type"] + errors[0]["detail"]
    assert "simulated bug" in errors[2]["detail"] and "Traceback" in errors[2]["traceback"]
    assert [(c["request_id"], c["assembly_id"], c["result"]) for c in checks] == [
        ("api-err-1", mine, "error"),
        ("lambda-err-2", mine, "error"),
    ]
    for line in checks:
        check_emf(line, STATUS_METRICS)
    for out in (got, got_errors):
        out.extra = [json.dumps(r) for r in (*responses, store_failure, direct_failure, bug)]
        out.assert_never_contains(token, *jwt_parts(token), f"Bearer {token}", JWT_SECRET)


# ---- authorizer ----------------------------------------------------------------------------------
AUTHORIZER_METRICS = {schema.METRIC_AUTHORIZER_DECISIONS: {schema.METRIC_AUTHORIZER_DECISIONS_DIMENSION}}


@pytest.fixture
def jwt_secret_arn(aws, monkeypatch) -> Any:
    client = boto3.client("secretsmanager", region_name="us-east-1")

    def configure(value: str = JWT_SECRET) -> str:
        arn = client.create_secret(Name=f"jwt-{secrets.token_hex(4)}", SecretString=value)["ARN"]
        monkeypatch.setenv(schema.ENV_JWT_SECRET_ARN, arn)
        monkeypatch.setenv(schema.ENV_METRICS_NAMESPACE, NAMESPACE)
        for name in (schema.ENV_JWT_ISSUER, schema.ENV_JWT_AUDIENCE, schema.ENV_USER_ID_CLAIM):
            monkeypatch.delenv(name, raising=False)
        authorizer.reset_for_tests()
        return arn

    yield configure
    authorizer.reset_for_tests()


def authorizer_event(header: str, api_request_id: str) -> dict[str, Any]:
    return {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": "arn:aws:execute-api:us-east-1:123456789012:api/$default/GET/status",
        "identitySource": [header],
        "routeKey": "GET /status",
        "rawPath": "/status",
        "headers": {"authorization": header},
        "requestContext": {"requestId": api_request_id, "http": {"method": "GET", "path": "/status"}},
    }


def bad_tokens() -> dict[str, str]:
    now = int(time.time())
    return {
        "expired": jwt.encode({"sub": "alice", "exp": now - 3600}, JWT_SECRET, algorithm="HS256"),
        "bad_signature": jwt.encode({"sub": "alice", "exp": now + 600}, "another-key-" + "k" * 32, algorithm="HS256"),
        "bad_algorithm": jwt.encode({"sub": "alice", "exp": now + 600}, JWT_SECRET * 2, algorithm="HS512"),
        "missing_claim": jwt.encode({"exp": now + 600}, JWT_SECRET, algorithm="HS256"),
        "malformed": "garbage-token-" + secrets.token_hex(12),
        "oversized": "A" * 20_000 + secrets.token_hex(8),
    }


def test_authorizer_decisions_are_emf_lines_with_both_request_ids_and_no_token(jwt_secret_arn, output):
    jwt_secret_arn()
    good = mint_token(JWT_SECRET, "alice")
    tokens = {"allowed": good, **bad_tokens()}
    decisions = {}
    for n, (expected, token) in enumerate(tokens.items()):
        decisions[expected] = authorizer.handler(authorizer_event(f"Bearer {token}", f"api-{n}"), Context(f"lam-{n}"))
    assert decisions["allowed"]["isAuthorized"] is True
    assert all(d == {"isAuthorized": False} for k, d in decisions.items() if k != "allowed")
    got = output()
    assert len(got.lines) == len(tokens)
    for n, (line, expected) in enumerate(zip(got.lines, tokens, strict=True)):
        check_emf(line, AUTHORIZER_METRICS)
        assert line["event"] == "authorizer_decision"
        assert (line["request_id"], line["api_request_id"]) == (f"lam-{n}", f"api-{n}")
        assert line["result"] == line["Result"]
        assert line["result"] == expected
    assert got.lines[0]["user_id"] == "alice" and all(line["user_id"] is None for line in got.lines[1:])
    got.extra = [json.dumps(d) for d in decisions.values()]
    needles = [JWT_SECRET]
    for token in tokens.values():
        needles += [token, *jwt_parts(token)] if len(token) < 10_000 else [token[-40:]]
    got.assert_never_contains(*needles)


def test_an_unusable_jwt_secret_fails_loudly_without_echoing_the_secret_or_the_token(jwt_secret_arn, output):
    leaked_value = "do-not-echo-" + secrets.token_hex(16)
    jwt_secret_arn(json.dumps({"password": leaked_value}))
    token = mint_token(leaked_value, "alice")
    with pytest.raises(authorizer.AuthorizerConfigError) as info:
        authorizer.handler(authorizer_event(f"Bearer {token}", "api-x"), Context("lam-x"))
    got = output()
    got.extra = [str(info.value), repr(info.value)]
    got.assert_never_contains(leaked_value, token, *jwt_parts(token))


def test_an_unreadable_jwt_secret_fails_loudly_without_echoing_the_token(jwt_secret_arn, output, monkeypatch):
    jwt_secret_arn()
    monkeypatch.setenv(schema.ENV_JWT_SECRET_ARN, "arn:aws:secretsmanager:us-east-1:123456789012:secret:gone-AbCdEf")
    authorizer.reset_for_tests()
    token = mint_token(JWT_SECRET, "alice")
    with pytest.raises(authorizer.AuthorizerConfigError, match="cannot read the JWT secret") as info:
        authorizer.handler(authorizer_event(f"Bearer {token}", "api-y"), Context("lam-y"))
    got = output()
    got.extra = [str(info.value)]
    got.assert_never_contains(token, *jwt_parts(token), JWT_SECRET)


# ---- webhook handler -----------------------------------------------------------------------------
WEBHOOK_METRICS = {
    schema.METRIC_WEBHOOK_DELIVERIES: {schema.METRIC_WEBHOOK_DIMENSION},
    schema.METRIC_WEBHOOK_LATENCY: {schema.METRIC_WEBHOOK_DIMENSION},
}


@pytest.fixture
def hooks(moto_endpoint, monkeypatch) -> Any:
    """A webhook harness whose handler entry point runs from the environment, as in Lambda."""
    harness = WebhookHarness(moto_endpoint)
    arn = harness.secrets.create_secret(Name=f"hook-{harness.table_name}", SecretString=HOOK_SECRET)["ARN"]
    monkeypatch.setattr(webhook, "_cached", None)

    def configure(url: str, *, delays: str = "0", secret_arn: str = arn) -> None:
        env = harness.env({"targets": {"tpl": {"url": url, "secret_arn": secret_arn}}}, delays=delays)
        for key, value in {**env, schema.ENV_METRICS_NAMESPACE: NAMESPACE}.items():
            monkeypatch.setenv(key, value)

    harness.configure = configure
    return harness


def finished(h: WebhookHarness, n: int) -> str:
    ident = assembly_id(f"{n:032x}", "tpl", "alice")
    h.store.create(ident, user_id="alice", template_id="tpl")
    h.store.complete(ident)
    return ident


def run(h: WebhookHarness, request_id: str = "lam-hook") -> dict[str, Any]:
    return h.run_batch(lambda records: webhook.handler({"Records": records}, Context(request_id)))[1]


def check_webhook_lines(got: Output, expected: Iterable[tuple[str, str]]) -> None:
    """Every outcome line is EMF with assembly id, event id and SQS message id, in this order."""
    outcome_lines = got.metric_lines()
    assert [(line[schema.METRIC_WEBHOOK_DIMENSION], line.get("assembly_id")) for line in outcome_lines] == list(
        expected
    )
    for line in outcome_lines:
        check_emf(line, WEBHOOK_METRICS)
        assert line[schema.METRIC_WEBHOOK_DIMENSION] in schema.WEBHOOK_OUTCOMES
        assert line["component"] == "webhook" and line[schema.METRIC_WEBHOOK_DELIVERIES] == 1
        assert line["event_id"].startswith("evt_") and line["message_id"]


def signature_values(receiver: Receiver) -> list[str]:
    values = []
    for request in receiver.requests:
        headers = {k.lower(): v for k, v in request.headers.items()}
        values += [headers[schema.SIGNATURE_HEADER.lower()], headers["webhook-signature"].split(",", 1)[1]]
    return values


def test_a_delivery_logs_one_emf_line_with_its_ids_and_never_the_secret_or_signatures(hooks, output):
    a = finished(hooks, 1)
    with Receiver() as receiver:
        hooks.configure(receiver.url)
        event_id = hooks.enqueue(a)
        assert run(hooks) == {"batchItemFailures": []}
    got = output()
    check_webhook_lines(got, [(schema.WEBHOOK_OUTCOME_DELIVERED, a)])
    [line] = got.metric_lines()
    assert line["event_id"] == event_id and line["target"].startswith("http://127.0.0.1:")
    assert isinstance(line[schema.METRIC_WEBHOOK_LATENCY], int | float)
    got.assert_never_contains(HOOK_SECRET, HOOK_SECRET.removeprefix("whsec_"), *signature_values(receiver))


def test_failing_deliveries_retry_then_dead_letter_without_leaking_the_secret(hooks, output):
    a = finished(hooks, 2)
    with Receiver(lambda _i, _r: Reply(500)) as receiver:
        hooks.configure(receiver.url, delays="0")
        hooks.enqueue(a)
        assert len(run(hooks)["batchItemFailures"]) == 1
        hooks.fast_forward()
        assert run(hooks) == {"batchItemFailures": []}
    got = output()
    check_webhook_lines(got, [(schema.WEBHOOK_OUTCOME_RETRYING, a), (schema.WEBHOOK_OUTCOME_FAILED, a)])
    retrying, failed = got.metric_lines()
    assert (retrying["attempt"], failed["attempt"]) == (1, 2) and retrying["event_id"] == failed["event_id"]
    assert "HTTP 500" in failed["error"]
    dead_letters = hooks.dead_letters()
    assert len(dead_letters) == 1
    got.extra = [json.dumps(d) for d in dead_letters]
    got.assert_never_contains(HOOK_SECRET, HOOK_SECRET.removeprefix("whsec_"), *signature_values(receiver))


def test_url_credentials_and_query_tokens_stay_out_of_logs_and_dead_letters(hooks, output):
    a, b = finished(hooks, 3), finished(hooks, 4)
    with Receiver(lambda i, _r: Reply(200 if i == 0 else 410)) as receiver:
        port = receiver.port
        hooks.configure(f"http://hook-user:{URL_PASSWORD}@127.0.0.1:{port}/hooks?token={URL_QUERY_TOKEN}")
        hooks.enqueue(a)
        assert run(hooks) == {"batchItemFailures": []}
        hooks.enqueue(b)
        assert run(hooks) == {"batchItemFailures": []}  # 410: stop, straight to the DLQ
    assert receiver.requests[0].path.endswith(URL_QUERY_TOKEN)  # the receiver did get them
    got = output()
    check_webhook_lines(got, [(schema.WEBHOOK_OUTCOME_DELIVERED, a), (schema.WEBHOOK_OUTCOME_FAILED, b)])
    assert {line["target"] for line in got.metric_lines()} == {f"http://127.0.0.1:{port}"}
    got.extra = [json.dumps(d) for d in hooks.dead_letters()]
    assert len(got.extra) == 1
    auth_header = {k.lower(): v for k, v in receiver.requests[0].headers.items()}["authorization"]
    got.assert_never_contains(URL_PASSWORD, URL_QUERY_TOKEN, auth_header, HOOK_SECRET)


def test_an_unreadable_signing_secret_is_retried_and_logged_by_error_type_only(hooks, output):
    a = finished(hooks, 5)
    missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf"
    with Receiver() as receiver:
        hooks.configure(receiver.url, delays="0", secret_arn=missing)
        hooks.enqueue(a)
        assert len(run(hooks)["batchItemFailures"]) == 1
    assert receiver.requests == []
    got = output()
    check_webhook_lines(got, [(schema.WEBHOOK_OUTCOME_RETRYING, a)])
    assert got.metric_lines()[0]["error"] == "could not read the signing secret: ResourceNotFoundException"
    got.assert_never_contains(HOOK_SECRET)


def test_processing_bugs_and_malformed_messages_are_logged_as_json_with_the_message_id(hooks, output):
    a = finished(hooks, 6)
    with Receiver() as receiver:
        hooks.configure(receiver.url)
        sender = webhook.sender_from_env()

        def explode(*_args: Any, **_kwargs: Any) -> None:
            raise RuntimeError(f"simulated bug near {a}")

        sender.resolve_target = explode  # type: ignore[method-assign]
        try:
            hooks.enqueue(a)
            assert len(run(hooks)["batchItemFailures"]) == 1
        finally:
            del sender.resolve_target
        hooks.sqs.send_message(QueueUrl=hooks.queue_url, MessageBody='{"not": "a webhook message"}')
        hooks.fast_forward()
        run(hooks)
    got = output()
    bug = [line for line in got.lines if line.get("message", "").startswith("webhook message processing failed")]
    assert len(bug) == 1 and bug[0]["level"] == "error" and bug[0]["message_id"]
    assert "RuntimeError: simulated bug" in bug[0]["error"]
    malformed = [line for line in got.metric_lines() if "assembly_id" not in line]
    assert len(malformed) == 1 and malformed[0]["message_id"] and "malformed" in malformed[0]["error"]
    check_emf(malformed[0], WEBHOOK_METRICS)
    got.assert_never_contains(HOOK_SECRET)


# ---- stream dispatcher ---------------------------------------------------------------------------
DISPATCHER_METRICS = {schema.METRIC_WEBHOOK_EVENTS_QUEUED: set(), schema.METRIC_WEBHOOK_ENQUEUE_FAILURES: set()}


@pytest.fixture
def stream(store, dynamodb, table_name, sqs, monkeypatch) -> Any:
    monkeypatch.setattr(dispatcher, "_sqs_client", None)
    monkeypatch.setenv(schema.ENV_METRICS_NAMESPACE, NAMESPACE)
    queue_url = sqs.create_queue(QueueName="obs-webhooks")["QueueUrl"]
    monkeypatch.setenv(schema.ENV_WEBHOOK_QUEUE_URL, queue_url)
    ident = assembly_id("ab" * 16, "tpl", "alice")
    store.create(ident, user_id="alice", template_id="tpl")
    store.complete(ident)
    return {"assembly_id": ident, "records": stream_records(dynamodb, table_name), "queue_url": queue_url}


def test_dispatcher_logs_each_queued_event_and_one_emf_line_per_batch(stream, output):
    response = dispatcher.handler({"Records": stream["records"]}, Context("lam-stream-1"))
    assert response == {"batchItemFailures": []}
    got = output()
    queued = [line for line in got.lines if line["message"] == "webhook event queued"]
    assert [(q["assembly_id"], q["event"]) for q in queued] == [(stream["assembly_id"], "completed")]
    assert queued[0]["event_id"].startswith("evt_")
    [batch] = got.metric_lines()
    check_emf(batch, DISPATCHER_METRICS)
    assert batch["request_id"] == "lam-stream-1" and batch["records"] == len(stream["records"])
    assert (batch[schema.METRIC_WEBHOOK_EVENTS_QUEUED], batch[schema.METRIC_WEBHOOK_ENQUEUE_FAILURES]) == (1, 0)
    assert batch["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [[]]


def test_dispatcher_enqueue_failures_are_json_errors_and_counted(stream, output, monkeypatch):
    monkeypatch.setenv(schema.ENV_WEBHOOK_QUEUE_URL, stream["queue_url"] + "-gone")
    response = dispatcher.handler({"Records": stream["records"]}, Context("lam-stream-2"))
    assert len(response["batchItemFailures"]) == 1
    got = output()
    errors = [line for line in got.lines if line["level"] == "error" and "_aws" not in line]
    assert errors and all("SendMessageBatch" in line["message"] for line in errors)
    [batch] = got.metric_lines()
    check_emf(batch, DISPATCHER_METRICS)
    assert batch["level"] == "error" and batch["request_id"] == "lam-stream-2"
    assert (batch[schema.METRIC_WEBHOOK_EVENTS_QUEUED], batch[schema.METRIC_WEBHOOK_ENQUEUE_FAILURES]) == (0, 1)


# ---- the helpers themselves --------------------------------------------------------------------------
def test_the_line_checker_rejects_non_json_and_the_leak_check_finds_leaks(output, capsys):
    print('{"ok": true}')
    got = output()
    assert got.lines == [{"ok": True}]
    got.assert_never_contains("absent-value")
    print("plain text line")
    with pytest.raises(json.JSONDecodeError):
        output()
    print(json.dumps({"token": "leaky-123"}))
    with pytest.raises(AssertionError, match="leaked"):
        output().assert_never_contains("leaky-123")
    logging.getLogger("transflow_runtime.test").warning("secret %s", "in-a-log-record")
    with pytest.raises(AssertionError, match="leaked"):
        output().assert_never_contains("in-a-log-record")


def test_the_emf_checker_rejects_malformed_documents():
    good = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": [["Result"]], "Metrics": [{"Name": "M"}]}],
        },
        "Result": "found",
        "M": 1,
    }
    check_emf(good, {"M": {"Result"}})
    for broken in (
        {**good, "M": "1"},  # value not a number
        {k: v for k, v in good.items() if k != "Result"},  # dimension value missing
        {**good, "_aws": {**good["_aws"], "CloudWatchMetrics": [{**good["_aws"]["CloudWatchMetrics"][0],
                                                                 "Namespace": "Other"}]}},
    ):
        with pytest.raises((AssertionError, KeyError)):
            check_emf(broken, {"M": {"Result"}})
