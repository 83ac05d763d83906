"""The local gateway behaves as API Gateway (payload 2.0), Lambda's Invoke API and AWS's own
SigV4 front would: cookies, chunked and oversized bodies, invocation types, IPv6; and it is safe
from a hostile web page: only its own Host names are served (DNS rebinding), and nothing reaches
moto or a function through Invoke without a signature made with credentials local mode issued.
Only loopback is used; every server binds port 0.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from transflow_runtime import schema
from transflow_runtime.local import iam
from transflow_runtime.local.functions import Invocation
from transflow_runtime.local.gateway import PROXY_TOKEN_HEADER, LocalGateway, Services
from transflow_runtime.local.http_api import Throttle, compile_routes
from transflow_runtime.local.providers import ApiSpec, FunctionSpec, RouteSpec


# ------------------------------------------------------------------------------------- helpers
@pytest.fixture
def clean_moto():
    """moto's backends are process-global: start and end each moto-using test with empty ones."""
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()
    yield
    moto_api_backend.reset()


class _Capture:
    """A function runtime that records the events it is given."""

    def __init__(self, name: str = "fn-under-test") -> None:
        self.events: list[Any] = []
        self.spec = FunctionSpec(
            logical_id="Fn",
            name=name,
            arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
            handler="x.handler",
            timeout=3,
            memory_size=128,
            environment={},
            role_arn="",
            policies=[],
        )

    def invoke(self, event: Any) -> Invocation:
        self.events.append(event)
        return Invocation({"statusCode": 200, "headers": {"content-type": "application/json"}, "body": "{}"})


def _start(
    host: str = "127.0.0.1",
    *,
    backend_url: str = "http://127.0.0.1:9",
    token: str = "t",  # noqa: S107 - a test value
    cors: dict | None = None,
    rate: float | None = None,
    burst: int | None = None,
) -> LocalGateway:
    capture = _Capture()
    routes = [RouteSpec(route_key=f"{m} {p}", function=capture.spec) for m, p in schema.ROUTES]
    api = ApiSpec(api_id="abc123", routes=routes, cors=cors)
    credentials = iam.Credentials()
    admin = credentials.add(
        iam.new_identity("developer", "arn:aws:iam::123456789012:user/dev", session=False, policies=None)
    )
    gw = LocalGateway(host=host, port=0)
    gw.services = Services(
        api_id="abc123",
        account_id="123456789012",
        region="us-east-1",
        stage="$default",
        routes=compile_routes(api),
        cors=cors,
        throttle=Throttle(rate, burst),
        functions={capture.spec.name: capture},
        authorizers={},
        credentials=credentials,
        names=iam.ResourceNames("us-east-1", "123456789012"),
        backend_url=backend_url,
        backend_token=token,
    )
    gw.start()
    gw.capture = capture  # type: ignore[attr-defined]
    gw.admin = admin  # type: ignore[attr-defined]
    return gw


@pytest.fixture
def gateway():
    gw = _start()
    yield gw
    gw.stop()


def _raw_exchange(port: int, payload: bytes, wait: float = 1.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(payload)
        chunks = []
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def _client(gw: LocalGateway, service: str, identity: iam.Identity | None = None, **overrides: str) -> Any:
    identity = identity or gw.admin  # type: ignore[attr-defined]
    keys = {
        "aws_access_key_id": identity.access_key_id,
        "aws_secret_access_key": identity.secret_access_key,
        "aws_session_token": identity.session_token,
        **overrides,
    }
    return boto3.client(service, endpoint_url=gw.url, region_name="us-east-1", **keys)


# ------------------------------------------------------------------------------ HTTP API front
def test_gateway_serves_on_an_ipv6_loopback_host():
    try:
        probe = socket.socket(socket.AF_INET6)
        probe.bind(("::1", 0))
        probe.close()
    except OSError:
        pytest.fail("no IPv6 loopback here: the finding cannot be checked on this machine")
    gw = _start("::1")
    try:
        assert gw.url.startswith("http://[::1]:")
        connection = http.client.HTTPConnection("::1", gw.port, timeout=5)
        connection.request("GET", "/")
        assert connection.getresponse().status == 200
    finally:
        gw.stop()


def test_payload_v2_moves_the_cookie_header_into_cookies(gateway):
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=5)
    connection.request("GET", "/status?assemblyId=x", headers={"Cookie": "a=1; b=2"})
    connection.getresponse().read()
    event = gateway.capture.events[-1]
    assert event["cookies"] == ["a=1", "b=2"]
    assert "cookie" not in event["headers"]


def test_payload_v2_lists_cookies_from_repeated_cookie_headers(gateway):
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=5)
    connection.putrequest("GET", "/status?assemblyId=x")
    connection.putheader("Cookie", "a=1")
    connection.putheader("Cookie", "b=2")
    connection.endheaders()
    connection.getresponse().read()
    assert gateway.capture.events[-1]["cookies"] == ["a=1", "b=2"]


def test_route_keys_and_path_parameters_are_those_of_the_template(gateway):
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=5)
    connection.request("GET", "/assemblies/abc%2Fdef")
    connection.getresponse().read()
    event = gateway.capture.events[-1]
    assert event["routeKey"] == "GET /assemblies/{assemblyId}"
    assert event["pathParameters"] == {"assemblyId": "abc/def"}
    connection.request("DELETE", "/assemblies")
    response = connection.getresponse()
    assert response.status == 404 and json.loads(response.read()) == {"message": "Not Found"}


def test_chunked_request_body_reaches_the_handler(gateway):
    body = b'{"assemblyIds": ["x"]}'
    payload = (
        b"POST /status/batch HTTP/1.1\r\nHost: 127.0.0.1:"
        + str(gateway.port).encode()
        + b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        + f"{len(body):x}\r\n".encode()
        + body
        + b"\r\n0\r\n\r\n"
    )
    answer = _raw_exchange(gateway.port, payload)
    assert answer.count(b"HTTP/1.1 ") == 1, answer
    assert gateway.capture.events and gateway.capture.events[-1].get("body") == body.decode()


def test_oversized_body_is_refused_without_serving_its_bytes_as_a_request(gateway):
    smuggled = b"GET /nothing-here HTTP/1.1\r\nHost: localhost\r\n\r\n"
    payload = (
        b"POST /status/batch HTTP/1.1\r\nHost: localhost\r\nContent-Length: "
        + str(11 * 1024 * 1024).encode()
        + b"\r\n\r\n"
        + smuggled
    )
    answer = _raw_exchange(gateway.port, payload)
    assert answer.startswith(b"HTTP/1.1 413")
    assert answer.count(b"HTTP/1.1 ") == 1, answer


def test_stage_throttling_answers_429_as_api_gateway_does():
    """API Gateway: "Throttle requests to your HTTP APIs" (token bucket: rate per second, burst)."""
    gw = _start(rate=1, burst=2)
    try:
        statuses = []
        for _ in range(4):
            connection = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=5)
            connection.request("GET", "/status?assemblyId=x")
            response = connection.getresponse()
            statuses.append((response.status, response.read()))
        assert [s for s, _ in statuses[:2]] == [200, 200]
        assert statuses[2] == (429, b'{"message": "Too Many Requests"}')
    finally:
        gw.stop()


def test_cors_preflight_and_response_headers_follow_the_template():
    """API Gateway answers CORS preflights of an HTTP API with CORS configured itself ("Configuring
    CORS for an HTTP API"), and adds the allow-origin header to responses for allowed origins."""
    cors = {
        "AllowOrigins": ["https://app.example.com"],
        "AllowMethods": ["GET", "POST"],
        "AllowHeaders": ["authorization"],
        "ExposeHeaders": ["etag"],
        "MaxAge": 3600,
    }
    gw = _start(cors=cors)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=5)
        connection.request(
            "OPTIONS", "/status", headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"}
        )
        response = connection.getresponse()
        response.read()
        assert response.status == 204
        assert response.headers["access-control-allow-origin"] == "https://app.example.com"
        assert response.headers["access-control-allow-methods"] == "GET,POST"
        assert gw.capture.events == []  # the preflight never reaches the function
        connection.request("GET", "/status?assemblyId=x", headers={"Origin": "https://evil.example"})
        response = connection.getresponse()
        response.read()
        assert "access-control-allow-origin" not in response.headers
        connection.request("GET", "/status?assemblyId=x", headers={"Origin": "https://app.example.com"})
        response = connection.getresponse()
        response.read()
        assert response.headers["access-control-allow-origin"] == "https://app.example.com"
        assert response.headers["access-control-expose-headers"] == "etag"
    finally:
        gw.stop()


# ------------------------------------------------------------------------------ DNS rebinding
@pytest.mark.parametrize(
    "host",
    ["evil.example", "evil.example:{port}", "127.0.0.1.nip.io:{port}", "localhost.evil.example:{port}", "127.0.0.1:1"],
)
def test_a_host_that_is_not_local_mode_itself_is_refused_everywhere(gateway, host):
    """A page that rebinds its own name to 127.0.0.1 sends its own name in Host: 403 for the page,
    the API, Invoke and the AWS endpoint alike, before anything runs."""
    host = host.format(port=gateway.port)
    for method, path, headers in [
        ("GET", "/", {}),
        ("GET", "/status?assemblyId=x", {}),
        ("POST", "/2015-03-31/functions/fn-under-test/invocations", {}),
        ("POST", "/", {"Authorization": "AWS4-HMAC-SHA256 Credential=x"}),
    ]:
        connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=5)
        connection.putrequest(method, path, skip_host=True)
        connection.putheader("Host", host)
        for key, value in headers.items():
            connection.putheader(key, value)
        connection.putheader("Content-Length", "0")
        connection.endheaders()
        response = connection.getresponse()
        body = json.loads(response.read())
        assert response.status == 403, (method, path)
        assert "DNS rebinding" in body["message"] and "\n" not in body["message"]
    assert gateway.capture.events == []


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}", "127.0.0.1"])
def test_own_addresses_are_served(gateway, host):
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=5)
    connection.putrequest("GET", "/", skip_host=True)
    connection.putheader("Host", host.format(port=gateway.port))
    connection.endheaders()
    assert connection.getresponse().status == 200


# ---------------------------------------------------------------------------- Lambda Invoke API
def test_invoke_dry_run_is_204_and_does_not_run_the_function(gateway):
    response = _client(gateway, "lambda").invoke(FunctionName="fn-under-test", InvocationType="DryRun", Payload=b"{}")
    assert response["StatusCode"] == 204
    assert gateway.capture.events == []


def test_invoke_event_is_202_with_an_empty_payload(gateway):
    response = _client(gateway, "lambda").invoke(FunctionName="fn-under-test", InvocationType="Event", Payload=b"{}")
    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""


def test_an_unsigned_invoke_runs_nothing(gateway):
    """Before, an unsigned Invoke without userId was trusted as an IAM caller; now it is not an
    Invoke at all (no route of the API either)."""
    request = urllib.request.Request(
        f"{gateway.url}/2015-03-31/functions/fn-under-test/invocations",
        method="POST",
        data=json.dumps({"assemblyId": "a" * 64}).encode(),
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 404
    assert gateway.capture.events == []


@pytest.mark.parametrize("what", ["unknown key", "wrong secret"])
def test_invoke_signed_with_other_credentials_is_refused(gateway, what):
    wrong = (
        {"aws_access_key_id": "AKIAEXAMPLEEXAMPLE00"} if what == "unknown key" else {"aws_secret_access_key": "x" * 40}
    )
    with pytest.raises(ClientError) as refused:
        _client(gateway, "lambda", **wrong).invoke(FunctionName="fn-under-test", Payload=b"{}")
    code = refused.value.response["Error"]["Code"]
    assert code == ("UnrecognizedClientException" if what == "unknown key" else "InvalidSignatureException")
    assert gateway.capture.events == []


# -------------------------------------------------------------------------- SigV4 pass-through
@pytest.fixture
def moto_behind_gateway(clean_moto):
    from transflow_runtime.local.moto_server import SerialMotoServer

    with SerialMotoServer(token="proxy-secret", header=PROXY_TOKEN_HEADER) as moto:
        gw = _start(backend_url=moto.endpoint_url, token="proxy-secret")
        try:
            yield gw, moto
        finally:
            gw.stop()


def test_a_signed_call_with_local_modes_credentials_reaches_moto(moto_behind_gateway):
    gw, _ = moto_behind_gateway
    assert _client(gw, "s3").list_buckets()["Buckets"] == []


def test_a_header_that_merely_looks_like_sigv4_no_longer_reaches_moto(moto_behind_gateway):
    """The old pass-through forwarded any request whose Authorization started with AWS4-HMAC-SHA256."""
    gw, _ = moto_behind_gateway
    request = urllib.request.Request(
        f"{gw.url}/",
        method="POST",
        data=b"Action=ListQueues",
        headers={
            "Authorization": "AWS4-HMAC-SHA256 Credential=local/20250101/us-east-1/sqs/aws4_request, "
            "SignedHeaders=host, Signature=" + "0" * 64,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code in (400, 403)


def test_any_credentials_that_local_mode_did_not_issue_are_refused(moto_behind_gateway):
    gw, _ = moto_behind_gateway
    with pytest.raises(ClientError) as refused:
        boto3.client(
            "dynamodb",
            endpoint_url=gw.url,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        ).list_tables()
    assert refused.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_moto_itself_answers_only_the_gateway(moto_behind_gateway):
    """A page that finds moto's own port gets nothing from it: only the gateway holds its token."""
    _, moto = moto_behind_gateway
    with pytest.raises(ClientError) as refused:
        boto3.client(
            "sqs",
            endpoint_url=moto.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="y",
        ).list_queues()
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
