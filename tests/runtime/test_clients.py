"""StatusClient against real local HTTP servers (scripted, and one bridging to the real authorizer
and status handler on moto), and StatusLambdaClient with botocore's Stubber fed by the handler."""

from __future__ import annotations

import io
import itertools
import json
import socket
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from pytest_httpserver import HTTPServer
from transflow_runtime import (
    AccessDeniedError,
    AssemblyStatus,
    AuthenticationError,
    StatusClient,
    StatusClientError,
    StatusLambdaClient,
    StatusResult,
    schema,
)
from transflow_runtime.auth import mint_token
from transflow_runtime.clients import StatusTimeoutError
from transflow_runtime.handlers import authorizer
from transflow_runtime.handlers import status as status_handler
from werkzeug import Request, Response

from tests.runtime.status_support import (
    aid,
    status_env_fixture,  # noqa: F401 - the ``status_env`` fixture
)

SECRET = "client-tests-secret-0123456789abcdef0123456789"
ID = aid(1)


def status_doc(state: str = schema.STATE_EXECUTING, version: int = 1, **extra: Any) -> dict[str, Any]:
    doc = {
        "assembly_id": ID, "state": state, "message": state.lower(), "template_id": "tpl",
        "user": {"userId": "alice"}, "created_at": "2026-01-01T00:00:00.000Z",
        "updated_at": "2026-01-01T00:00:00.000Z", "version": version,
    }
    if state == schema.STATE_COMPLETED:
        doc["ok"] = schema.OK_COMPLETED
    if state == schema.STATE_FAILED:
        doc["error"] = "boom"
    doc.update(extra)
    return doc


def reply(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Response:
    text = "" if body is None else (body if isinstance(body, str) else json.dumps(body))
    return Response(text, status=status, headers={"Content-Type": "application/json", **(headers or {})})


class Script:
    """Serves scripted responses in order and records every request it saw."""

    def __init__(self, *responses: Response | Callable[[Request], Response]) -> None:
        self.responses = list(responses)
        self.requests: list[dict[str, Any]] = []

    def __call__(self, request: Request) -> Response:
        self.requests.append({
            "method": request.method, "path": request.path, "args": dict(request.args),
            "headers": {k.lower(): v for k, v in request.headers.items()}, "body": request.get_data(),
        })
        if not self.responses:
            return reply(599, {"error": "script exhausted"})
        nxt = self.responses.pop(0)
        return nxt(request) if callable(nxt) and not isinstance(nxt, Response) else nxt


class Sleeps(list):
    """An injectable sleep that records instead of sleeping; optionally runs a callback."""

    def __init__(self, clock: list[float] | None = None, on_sleep: Callable[[int], None] | None = None) -> None:
        super().__init__()
        self.clock = clock
        self.on_sleep = on_sleep

    def __call__(self, seconds: float) -> None:
        self.append(round(seconds, 4))
        if self.clock is not None:
            self.clock[0] += seconds
        if self.on_sleep is not None:
            self.on_sleep(len(self))


def serve(httpserver: HTTPServer, script: Script) -> None:
    httpserver.expect_request("").respond_with_handler(script)


def client_for(httpserver: HTTPServer, **kwargs: Any) -> StatusClient:
    kwargs.setdefault("sleep", Sleeps())
    kwargs.setdefault("token", "tok")
    return StatusClient(httpserver.url_for("/api"), **kwargs)


# --- scripted server: transport behaviour --------------------------------------------------------------
def test_get_returns_the_status_and_sends_the_bearer_token(httpserver):
    script = Script(reply(200, status_doc(), {"ETag": '"e1"'}))
    serve(httpserver, script)
    status = client_for(httpserver, token="abc").get(ID)
    assert isinstance(status, AssemblyStatus) and status.assembly_id == ID and status.state == schema.STATE_EXECUTING
    request = script.requests[0]
    assert request["path"] == f"/api/assemblies/{ID}" and request["headers"]["authorization"] == "Bearer abc"


def test_a_token_callable_is_called_for_every_request(httpserver):
    serve(httpserver, Script(reply(404, {"error": "assembly not found"}), reply(404, {"error": "x"})))
    tokens = iter(["t1", "t2"])
    client = client_for(httpserver, token=lambda: next(tokens))
    assert client.get(ID) is None and client.get(ID) is None
    assert [r.headers["Authorization"] for r, _ in httpserver.log] == ["Bearer t1", "Bearer t2"]


def test_get_returns_none_on_404(httpserver):
    serve(httpserver, Script(reply(404, {"error": "assembly not found"}, {"Retry-After": "5"})))
    assert client_for(httpserver).get(ID) is None


def test_get_revalidates_with_the_etag_and_reuses_the_cached_status_on_304(httpserver):
    script = Script(reply(200, status_doc(), {"ETag": '"e1"'}), reply(304, None, {"ETag": '"e1"'}))
    serve(httpserver, script)
    client = client_for(httpserver)
    first = client.get(ID)
    second = client.get(ID)
    assert second is first
    assert "if-none-match" not in script.requests[0]["headers"]
    assert script.requests[1]["headers"]["if-none-match"] == '"e1"'


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (401, {"error": "authentication required"}, AuthenticationError),
        (401, {"message": "Unauthorized"}, AuthenticationError),
        (403, {"message": "Forbidden"}, AuthenticationError),  # API Gateway: the authorizer denied the token
        (403, {"error": "access denied: you do not own this assembly"}, AccessDeniedError),
        (400, {"error": "assemblyId is not a valid assembly id"}, StatusClientError),
    ],
)
def test_error_statuses_raise_typed_errors(httpserver, status, body, error):
    serve(httpserver, Script(reply(status, body)))
    with pytest.raises(error) as info:
        client_for(httpserver).get(ID)
    assert info.value.status_code == status
    if error is StatusClientError:
        assert type(info.value) is StatusClientError and "not a valid assembly id" in str(info.value)


def test_access_denied_and_authentication_errors_are_status_client_errors():
    assert issubclass(AuthenticationError, StatusClientError) and issubclass(AccessDeniedError, StatusClientError)


def test_transient_failures_are_retried_with_exponential_backoff(httpserver):
    serve(httpserver, Script(reply(500, {"error": "x"}), reply(502, "bad gateway"), reply(504, ""),
                             reply(200, status_doc())))
    sleeps = Sleeps()
    assert client_for(httpserver, sleep=sleeps).get(ID).assembly_id == ID
    assert sleeps == [0.5, 1.0, 2.0]


def test_retry_after_on_429_and_503_is_honoured(httpserver):
    serve(httpserver, Script(reply(429, {"message": "Too Many Requests"}, {"Retry-After": "7"}),
                             reply(503, "", {"Retry-After": "0"}), reply(200, status_doc())))
    sleeps = Sleeps()
    client_for(httpserver, sleep=sleeps).get(ID)
    assert sleeps == [7.0, 1.0]


def test_retries_are_bounded_and_then_the_error_is_raised(httpserver):
    serve(httpserver, Script(*[reply(503, {"error": "down"}) for _ in range(10)]))
    sleeps = Sleeps()
    with pytest.raises(StatusClientError) as info:
        client_for(httpserver, sleep=sleeps, max_retries=2).get(ID)
    assert info.value.status_code == 503 and len(sleeps) == 2 and len(httpserver.log) == 3


def test_connection_failures_are_retried_then_reported():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    sleeps = Sleeps()
    client = StatusClient(f"http://127.0.0.1:{port}", "tok", sleep=sleeps, max_retries=3, timeout=2)
    with pytest.raises(StatusClientError) as info:
        client.get(ID)
    assert info.value.status_code is None and "cannot reach" in str(info.value)
    assert sleeps == [0.5, 1.0, 2.0]


def test_redirects_are_not_followed_so_the_token_stays_put(httpserver):
    serve(httpserver, Script(reply(302, "", {"Location": "http://127.0.0.2:1/steal"})))
    with pytest.raises(StatusClientError) as info:
        client_for(httpserver).get(ID)
    assert info.value.status_code == 302 and len(httpserver.log) == 1


def test_a_non_json_success_body_is_a_clear_error(httpserver):
    serve(httpserver, Script(reply(200, "<html>")))
    with pytest.raises(StatusClientError, match="not JSON"):
        client_for(httpserver).get(ID)


@pytest.mark.parametrize("url", ["", "ftp://x", "file:///etc/passwd", "localhost:8080", "http://"])
def test_base_url_must_be_http(url):
    with pytest.raises(ValueError, match="base_url must be an http"):
        StatusClient(url)


# --- scripted server: API methods --------------------------------------------------------------------
def test_get_many_chunks_by_100_and_maps_nulls(httpserver):
    ids = [aid(n) for n in range(150)]

    def answer(request: Request) -> Response:
        asked = json.loads(request.get_data())["assemblyIds"]
        return reply(200, {"assemblies": {i: (status_doc(assembly_id=i) if i == ids[0] else None) for i in asked}})

    script = Script(answer, answer)
    serve(httpserver, script)
    result = client_for(httpserver).get_many(ids + ids[:3])
    assert list(result) == ids and result[ids[0]].assembly_id == ids[0] and result[ids[1]] is None
    assert [len(json.loads(r["body"])["assemblyIds"]) for r in script.requests] == [100, 50]


def test_get_many_splits_a_batch_the_service_finds_too_large(httpserver):
    ids = [aid(n) for n in range(4)]

    def answer(request: Request) -> Response:
        asked = json.loads(request.get_data())["assemblyIds"]
        if len(asked) > 1:
            return reply(413, {"error": "too large; request fewer ids at a time"})
        return reply(200, {"assemblies": {asked[0]: status_doc(assembly_id=asked[0])}})

    script = Script(*[answer] * 7)
    serve(httpserver, script)
    result = client_for(httpserver).get_many(ids)
    assert [s.assembly_id for s in result.values()] == ids and len(script.requests) == 7


def test_list_and_iter_assemblies_follow_the_cursor(httpserver):
    page1 = {"assemblies": [status_doc(assembly_id=aid(1))], "next_cursor": "c1"}
    page2 = {"assemblies": [status_doc(assembly_id=aid(2))], "next_cursor": None}
    script = Script(reply(200, page1), reply(200, page2))
    serve(httpserver, script)
    listed = [s.assembly_id for s in client_for(httpserver).iter_assemblies(active=True, page_size=1)]
    assert listed == [aid(1), aid(2)]
    assert script.requests[0]["args"] == {"limit": "1", "active": "true"}
    assert script.requests[1]["args"] == {"limit": "1", "active": "true", "cursor": "c1"}


def test_notify_returns_the_event_id_and_does_not_retry_a_500(httpserver):
    serve(httpserver, Script(reply(202, {"assembly_id": ID, "event_id": "evt_1"}), reply(500, {"error": "x"})))
    client = client_for(httpserver)
    assert client.notify(ID) == "evt_1"
    with pytest.raises(StatusClientError):
        client.notify(ID)
    assert len(httpserver.log) == 2  # a POST that may have been processed is not sent again


def test_notify_retries_when_the_service_says_it_did_not_process_the_request(httpserver):
    serve(httpserver, Script(reply(503, {"error": "x"}), reply(202, {"assembly_id": ID, "event_id": "evt_2"})))
    assert client_for(httpserver).notify(ID) == "evt_2"


# --- wait --------------------------------------------------------------------------------------------
def test_wait_polls_with_the_seeds_intervals_and_stops_on_terminal(httpserver):
    script = Script(
        reply(404, {"error": "assembly not found"}),
        reply(404, {"error": "assembly not found"}),
        reply(200, status_doc(schema.STATE_QUEUED, 1), {"ETag": '"v1"', "Retry-After": "5"}),
        reply(200, status_doc(schema.STATE_EXECUTING, 2), {"ETag": '"v2"', "Retry-After": "2"}),
        reply(304, None, {"ETag": '"v2"', "Retry-After": "2"}),
        reply(200, status_doc(schema.STATE_COMPLETED, 3), {"ETag": '"v3"'}),
    )
    serve(httpserver, script)
    sleeps, updates = Sleeps(), []
    final = client_for(httpserver, sleep=sleeps).wait(ID, on_update=updates.append)
    assert final.ok == schema.OK_COMPLETED
    assert [u.state for u in updates] == [schema.STATE_QUEUED, schema.STATE_EXECUTING, schema.STATE_COMPLETED]
    assert sleeps == [2.4, 2.88, 5.0, 2.0, 2.0]
    assert script.requests[4]["headers"]["if-none-match"] == '"v2"'


def seed_doc(**fields: Any) -> dict[str, Any]:
    """An item as the seed's worker writes it: no state, no version."""
    doc = status_doc(**fields)
    del doc["state"], doc["version"]
    return doc


@pytest.mark.parametrize(
    ("finish", "event"),
    [({"ok": schema.OK_COMPLETED}, "completed"), ({"error": "PROCESSING_ERROR"}, "failed"),
     ({"ok": schema.OK_CANCELED}, "canceled"), ({"error": schema.OK_CANCELED}, "canceled")],
)
def test_wait_follows_a_seed_style_item_at_the_active_interval_until_ok_or_error(httpserver, finish, event):
    """No ``state``: the item is active (2 s, not the queued 5 s) until ok or error says it ended."""
    serve(httpserver, Script(reply(200, seed_doc(message="working")), reply(200, seed_doc(message="almost")),
                             reply(200, seed_doc(message="done", **finish))))
    sleeps = Sleeps()
    final = client_for(httpserver, sleep=sleeps).wait(ID)
    assert final.state is None and final.terminal_event == event and final.message == "done"
    assert sleeps == [2.0, 2.0]


def test_wait_does_not_stop_on_an_empty_error(httpserver):
    serve(httpserver, Script(reply(200, seed_doc(error="")), reply(200, seed_doc(ok=schema.OK_COMPLETED))))
    assert client_for(httpserver).wait(ID).ok == schema.OK_COMPLETED


def test_wait_not_found_backoff_grows_by_1_2_to_10_s_and_honours_retry_after(httpserver):
    serve(httpserver, Script(*[reply(404, {"error": "x"}) for _ in range(14)],
                             reply(404, {"error": "x"}, {"Retry-After": "5"}),
                             reply(200, status_doc(schema.STATE_FAILED))))
    sleeps = Sleeps()
    assert client_for(httpserver, sleep=sleeps).wait(ID).error == "boom"
    assert sleeps[:3] == [2.4, 2.88, 3.456] and max(sleeps) == 10.0 and sleeps[-1] == 10.0
    assert all(b >= a for a, b in itertools.pairwise(sleeps))


def test_wait_times_out_with_the_last_status(httpserver):
    serve(httpserver, Script(*[reply(200, status_doc(schema.STATE_QUEUED)) for _ in range(10)]))
    clock = [0.0]
    client = client_for(httpserver, sleep=Sleeps(clock), clock=lambda: clock[0])
    with pytest.raises(StatusTimeoutError) as info:
        client.wait(ID, timeout=12)
    assert info.value.last_status.state == schema.STATE_QUEUED
    assert isinstance(info.value, TimeoutError) and clock[0] == 12


def test_wait_ignores_a_stale_older_version(httpserver):
    serve(httpserver, Script(
        reply(200, status_doc(schema.STATE_EXECUTING, 5)),
        reply(200, status_doc(schema.STATE_QUEUED, 4)),  # an eventually consistent read lagging behind
        reply(200, status_doc(schema.STATE_COMPLETED, 6)),
    ))
    updates: list[AssemblyStatus] = []
    client_for(httpserver).wait(ID, on_update=updates.append)
    assert [u.version for u in updates] == [5, 6]


def test_wait_retries_transient_failures_while_polling(httpserver):
    serve(httpserver, Script(reply(200, status_doc()), reply(503, "", {"Retry-After": "1"}),
                             reply(200, status_doc(schema.STATE_COMPLETED, 2))))
    sleeps = Sleeps()
    assert client_for(httpserver, sleep=sleeps).wait(ID).ok == schema.OK_COMPLETED
    assert sleeps == [2.0, 1.0]


def test_wait_raises_at_once_when_access_is_denied(httpserver):
    serve(httpserver, Script(reply(403, {"error": "access denied: you do not own this assembly"})))
    with pytest.raises(AccessDeniedError):
        client_for(httpserver).wait(ID)


# --- end to end: the real authorizer and status handler behind a local HTTP server ------------------------
@pytest.fixture
def api(httpserver, status_env, monkeypatch, aws):
    """A local HTTP API: requests become payload-2.0 events for the real authorizer and handler."""
    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    arn = secrets.create_secret(Name="jwt", SecretString=json.dumps({"secret": SECRET}))["ARN"]
    monkeypatch.setenv(schema.ENV_JWT_SECRET_ARN, arn)
    authorizer.reset_for_tests()

    def bridge(request: Request) -> Response:
        headers = {k.lower(): v for k, v in request.headers.items()}
        if not headers.get("authorization"):
            return reply(401, {"message": "Unauthorized"})
        decision = authorizer.handler({"headers": headers, "identitySource": [headers["authorization"]]}, None)
        if not decision["isAuthorized"]:
            return reply(403, {"message": "Forbidden"})
        query: dict[str, str] = {}
        for key, value in request.args.items(multi=True):
            query[key] = f"{query[key]},{value}" if key in query else value
        path = request.path.removeprefix("/api")
        event = {
            "version": "2.0", "routeKey": "$default", "rawPath": path, "headers": headers,
            "queryStringParameters": query or None,
            "requestContext": {"http": {"method": request.method, "path": path}, "stage": "$default",
                               "authorizer": {"lambda": decision["context"]}},
            "body": request.get_data(as_text=True) or None, "isBase64Encoded": False,
        }
        result = status_handler.handler(event, None)
        return Response(result["body"], status=result["statusCode"], headers=result["headers"])

    httpserver.expect_request("").respond_with_handler(bridge)
    yield httpserver.url_for("/api")
    authorizer.reset_for_tests()


def token(user: str) -> str:
    return mint_token(SECRET, user)


def test_end_to_end_get_batch_list_and_ownership(api, store):
    store.create(ID, user_id="alice", template_id="tpl")
    bobs = aid(2, user="bob")
    store.create(bobs, user_id="bob", template_id="tpl")
    alice = StatusClient(api, token("alice"), sleep=Sleeps())
    assert alice.get(ID).user.userId == "alice"
    assert alice.get(aid(3)) is None
    with pytest.raises(AccessDeniedError):
        alice.get(bobs)
    assert {k: v is not None for k, v in alice.get_many([ID, bobs, aid(3)]).items()} == {
        ID: True, bobs: False, aid(3): False}
    page = alice.list(limit=10)
    assert [s.assembly_id for s in page.assemblies] == [ID] and page.next_cursor is None
    assert alice.get(ID).assembly_id == ID  # second read revalidated with the ETag


def test_end_to_end_bad_tokens_raise_authentication_error(api, store):
    store.create(ID, user_id="alice", template_id="tpl")
    for bad in (None, "garbage", mint_token("wrong-secret-0123456789abcdef0123456789ab", "alice")):
        with pytest.raises(AuthenticationError):
            StatusClient(api, bad, sleep=Sleeps()).get(ID)


def test_end_to_end_wait_follows_an_assembly_to_completion(api, store):
    def progress(n: int) -> None:
        if n == 2:
            store.create(ID, user_id="alice", template_id="tpl")
        elif n == 3:
            store.start_step(ID, "encode")
        elif n == 4:
            store.add_result(ID, "encode", {"id": "r1", "name": "a.mp3", "size": 3})
        elif n == 5:
            store.complete(ID)

    sleeps = Sleeps(on_sleep=progress)
    updates: list[AssemblyStatus] = []
    final = StatusClient(api, token("alice"), sleep=sleeps).wait(ID, on_update=updates.append, timeout=600)
    assert final.ok == schema.OK_COMPLETED and final.results["encode"][0].name == "a.mp3"
    assert [u.state for u in updates] == [
        schema.STATE_QUEUED, schema.STATE_EXECUTING, schema.STATE_EXECUTING, schema.STATE_COMPLETED]
    # not found twice (backoff, at least Retry-After 5), then queued (5 s), then executing (2 s)
    assert sleeps == [5.0, 5.0, 5.0, 2.0, 2.0]


def test_end_to_end_notify_enqueues_a_replay(api, store, status_env):
    store.create(ID, user_id="alice", template_id="tpl")
    event_id = StatusClient(api, token("alice"), sleep=Sleeps()).notify(ID)
    assert status_env.queued_messages() == [{"assembly_id": ID, "event": "replay", "event_id": event_id}]
    with pytest.raises(AccessDeniedError):
        StatusClient(api, token("bob"), sleep=Sleeps()).notify(ID)


# --- StatusLambdaClient --------------------------------------------------------------------------------
def stubbed_lambda(*events_and_answers: tuple[dict[str, Any], dict[str, Any] | None]) -> tuple[Any, Stubber]:
    """A Lambda client whose Invoke answers are the real handler's output for the expected event."""
    client = boto3.client("lambda", region_name="us-east-1")
    stubber = Stubber(client)
    for event, answer in events_and_answers:
        payload = json.dumps(answer if answer is not None else status_handler.handler(event, None)).encode()
        stubber.add_response(
            "invoke",
            {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(payload), len(payload))},
            {"FunctionName": "status-fn", "InvocationType": "RequestResponse",
             "Payload": json.dumps(event, separators=(",", ":")).encode()},
        )
    stubber.activate()
    return client, stubber


def test_lambda_client_get_status_with_and_without_user_id(status_env, store):
    store.create(ID, user_id="alice", template_id="tpl")
    client, stubber = stubbed_lambda(
        ({"assemblyId": ID, "userId": "alice"}, None),
        ({"assemblyId": ID, "userId": "bob"}, None),
        ({"assemblyId": ID}, None),
        ({"assemblyId": aid(9)}, None),
    )
    lam = StatusLambdaClient("status-fn", client=client)
    ok = lam.get_status(ID, "alice")
    assert ok.success and ok.status_code == 200 and ok.status.assembly_id == ID and ok.error is None
    denied = lam.get_status(ID, "bob")
    assert denied == StatusResult(False, None, "access denied: you do not own this assembly", 403,
                                  headers=denied.headers)
    assert lam.get_status(ID).success
    missing = lam.get_status(aid(9))
    assert not missing.success and missing.status_code == 404 and missing.error == "assembly not found"
    stubber.assert_no_pending_responses()


def test_lambda_client_get_status_with_webhook_returns_the_event_id(status_env, store):
    store.complete(store.create(ID, user_id="alice", template_id="tpl").assembly_id)
    client, stubber = stubbed_lambda(({"assemblyId": ID, "userId": "alice", "triggerWebhook": True}, None))
    result = StatusLambdaClient("status-fn", client=client).get_status_with_webhook(ID, "alice")
    assert result.success and result.status.ok == schema.OK_COMPLETED
    assert status_env.queued_messages() == [{"assembly_id": ID, "event": "replay", "event_id": result.event_id}]
    stubber.assert_no_pending_responses()


def test_lambda_client_reports_function_errors_and_invoke_failures(status_env):
    client = boto3.client("lambda", region_name="us-east-1")
    stubber = Stubber(client)
    crash = json.dumps({"errorMessage": "boom", "errorType": "RuntimeError"}).encode()
    stubber.add_response("invoke", {"StatusCode": 200, "FunctionError": "Unhandled",
                                    "Payload": StreamingBody(io.BytesIO(crash), len(crash))})
    stubber.add_client_error("invoke", "AccessDeniedException", "not allowed", 403)
    garbage = b"not json"
    stubber.add_response("invoke", {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(garbage), len(garbage))})
    stubber.activate()
    lam = StatusLambdaClient("status-fn", client=client)
    failed = lam.get_status(ID)
    assert not failed.success and failed.status_code is None and "boom" in failed.error
    denied = lam.get_status(ID)
    assert not denied.success and "not allowed" in denied.error
    odd = lam.get_status(ID)
    assert not odd.success and "unexpected response" in odd.error


@pytest.mark.parametrize(
    ("assembly", "user", "message"),
    [("", None, "assembly_id must be"), (None, None, "assembly_id must be"),
     (ID, "", "user_id must be a non-empty string or None"), (ID, 5, "user_id must be a non-empty string or None")],
)
def test_lambda_client_refuses_bad_arguments(assembly, user, message):
    lam = StatusLambdaClient("status-fn", client=object())
    with pytest.raises(ValueError, match=message):
        lam.get_status(assembly, user)
