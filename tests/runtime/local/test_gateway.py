"""The local gateway behaves as API Gateway (payload 2.0), Lambda's Invoke API and a SigV4
pass-through to moto would: cookies, chunked bodies, oversized bodies, invocation types, IPv6.
Only loopback is used; in-process pieces are started on port 0.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from typing import Any

import boto3
import pytest
from transflow_runtime.local.gateway import LocalGateway


# ------------------------------------------------------------------------------------- helpers
def _reset_moto() -> None:
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()


@pytest.fixture
def clean_moto():
    """moto's backends are process-global: start and end each moto-using test with empty ones."""
    _reset_moto()
    yield
    _reset_moto()
    # LocalStack.start() reloads the handler modules with clients bound to its (now stopped) moto;
    # rebuild them under the restored environment so later tests in this process are unaffected.
    import importlib
    import sys

    from transflow_runtime import schema

    for path in (schema.HANDLER_STATUS, schema.HANDLER_AUTHORIZER, schema.HANDLER_DISPATCHER, schema.HANDLER_WEBHOOK):
        module = sys.modules.get(path.rpartition(".")[0])
        if module is not None:
            importlib.reload(module)


class _Capture:
    """A status handler that records the payload-2.0 events it is given."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.events.append(event)
        return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": "{}"}


@pytest.fixture
def gateway():
    capture = _Capture()
    gw = LocalGateway(host="127.0.0.1", port=0, status_handler=capture, authorizer_handler=None,
                      status_function_name="fn-under-test")
    gw.start()
    gw.capture = capture  # type: ignore[attr-defined]
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


# ------------------------------------------------------------------------------ HTTP API front
def test_gateway_serves_on_an_ipv6_loopback_host():
    try:
        probe = socket.socket(socket.AF_INET6)
        probe.bind(("::1", 0))
        probe.close()
    except OSError:
        pytest.fail("no IPv6 loopback here: the finding cannot be checked on this machine")
    gw = LocalGateway(host="::1", port=0, status_handler=_Capture(), authorizer_handler=None,
                      status_function_name="fn")
    gw.start()
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


def test_chunked_request_body_reaches_the_handler(gateway):
    body = b'{"assemblyIds": ["x"]}'
    payload = (b"POST /status/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
               + f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n")
    answer = _raw_exchange(gateway.port, payload)
    assert answer.count(b"HTTP/1.1 ") == 1, answer
    assert gateway.capture.events and gateway.capture.events[-1].get("body") == body.decode()


def test_oversized_body_is_refused_without_serving_its_bytes_as_a_request(gateway):
    smuggled = b"GET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n"
    payload = (b"POST /status/batch HTTP/1.1\r\nHost: x\r\nContent-Length: " + str(11 * 1024 * 1024).encode()
               + b"\r\n\r\n" + smuggled)
    answer = _raw_exchange(gateway.port, payload)
    assert answer.startswith(b"HTTP/1.1 413")
    assert answer.count(b"HTTP/1.1 ") == 1, answer


# ---------------------------------------------------------------------------- Lambda Invoke API
def _lambda(gw: LocalGateway) -> Any:
    return boto3.client("lambda", endpoint_url=gw.url, region_name="us-east-1",
                        aws_access_key_id="local", aws_secret_access_key="local")


def test_invoke_dry_run_is_204_and_does_not_run_the_function(gateway):
    response = _lambda(gateway).invoke(FunctionName="fn-under-test", InvocationType="DryRun", Payload=b"{}")
    assert response["StatusCode"] == 204
    assert gateway.capture.events == []


def test_invoke_event_is_202_with_an_empty_payload(gateway):
    response = _lambda(gateway).invoke(FunctionName="fn-under-test", InvocationType="Event", Payload=b"{}")
    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""


# -------------------------------------------------------------------------- SigV4 pass-through
def test_signed_get_on_root_is_passed_to_moto(clean_moto):
    from transflow_runtime.local.moto_server import SerialMotoServer

    with SerialMotoServer() as moto:
        gw = LocalGateway(host="127.0.0.1", port=0, status_handler=_Capture(), authorizer_handler=None,
                          status_function_name="fn", aws_backend_url=moto.endpoint_url)
        gw.start()
        try:
            s3 = boto3.client("s3", endpoint_url=gw.url, region_name="us-east-1",
                              aws_access_key_id="local", aws_secret_access_key="local")
            assert s3.list_buckets()["Buckets"] == []
        finally:
            gw.stop()




# ----------------------------------------------------------------------- methods and documents
@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND"])
def test_a_method_http_server_does_not_know_gets_api_gateways_json_404(gateway, method):
    """An HTTP API answers a method no route has with ``404 {"message": "Not Found"}`` (routes match
    method and path: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html),
    not with http.server's HTML 501 (schemathesis found TRACE answering that)."""
    answer = _raw_exchange(gateway.port, f"{method} /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 404"), answer
    assert b"content-type: application/json" in head.lower()
    assert body == b'{"message": "Not Found"}'
    assert gateway.capture.events == []


def test_openapi_document_is_served_without_a_token_and_names_this_gateway(gateway):
    from openapi_spec_validator import validate

    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
    connection.request("GET", "/openapi.json")
    response = connection.getresponse()
    assert response.status == 200
    assert response.getheader("content-type") == "application/json"
    document = json.loads(response.read())
    validate(document)
    assert document["servers"] == [{"url": gateway.url}]
    assert gateway.capture.events == []  # a static document: neither authorizer nor status function
