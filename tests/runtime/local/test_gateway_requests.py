"""Requests the gateway must refuse or answer as AWS would, not pass on: SigV4 scoped to another
region or service, a body that is not the one signed, presigned URLs, Invoke of a qualifier or an
account local mode does not run, malformed HTTP framing, and forged inbox deliveries.

AWS references: "Elements of an AWS API request signature" (the credential scope names region and
service; the last line of the canonical request is the hash of the body as received), "Invoke"
(``FunctionName``: name, ``name:qualifier``, partial or full ARN; an unknown one is 404
``ResourceNotFoundException``), RFC 9112 section 6.3 (an invalid ``Content-Length`` or chunk size is
unrecoverable: answer 400 and close the connection).
"""

from __future__ import annotations

import hashlib
import http.client
import json

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from .test_gateway import _client, _raw_exchange, _start, clean_moto, gateway  # noqa: F401 - fixtures


@pytest.fixture
def moto_gateway(clean_moto):  # noqa: F811 - the fixture imported above
    from transflow_runtime.local.gateway import PROXY_TOKEN_HEADER
    from transflow_runtime.local.moto_server import SerialMotoServer

    with SerialMotoServer(token="proxy-secret", header=PROXY_TOKEN_HEADER) as moto:
        gw = _start(backend_url=moto.endpoint_url, token="proxy-secret")
        try:
            yield gw
        finally:
            gw.stop()


def _signed(gw, body: bytes, *, region: str = "us-east-1", service: str = "dynamodb", sha: str | None = None):
    admin = gw.admin
    request = AWSRequest(
        method="POST",
        url=gw.url + "/",
        data=body,
        headers={"X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0"},
    )
    if sha is not None:
        request.headers["X-Amz-Content-SHA256"] = sha
    SigV4Auth(Credentials(admin.access_key_id, admin.secret_access_key), service, region).add_auth(request)
    return dict(request.headers.items())


def _post(gw, headers: dict, body: bytes) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=10)
    connection.request("POST", "/", body=body, headers=headers)
    response = connection.getresponse()
    return response.status, json.loads(response.read() or b"{}")


# ------------------------------------------------------------------------------ SigV4 scope and body
def test_a_signature_scoped_to_another_region_is_refused_as_aws_refuses_it(moto_gateway):
    status, body = _post(moto_gateway, _signed(moto_gateway, b"{}", region="ap-south-1"), b"{}")
    assert status in (400, 403)
    assert body["__type"].endswith("InvalidSignatureException")
    assert "Credential should be scoped to a valid region, not 'ap-south-1'" in body["message"]
    elsewhere = boto3.client(
        "dynamodb",
        endpoint_url=moto_gateway.url,
        region_name="eu-west-3",
        aws_access_key_id=moto_gateway.admin.access_key_id,
        aws_secret_access_key=moto_gateway.admin.secret_access_key,
    )
    with pytest.raises(ClientError) as refused:  # before: served from an empty eu-west-3 backend
        elsewhere.list_tables()
    assert refused.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert _client(moto_gateway, "dynamodb").list_tables()["TableNames"] == []


def test_a_signature_for_another_service_than_the_request_addresses_is_refused(moto_gateway):
    status, body = _post(moto_gateway, _signed(moto_gateway, b"{}", service="sqs"), b"{}")
    assert status in (400, 403)
    assert "Credential should be scoped to correct service: 'dynamodb'" in body["message"]


@pytest.mark.parametrize("declared", ["original", "UNSIGNED-PAYLOAD"])
def test_a_body_other_than_the_signed_one_is_refused(moto_gateway, declared):
    """The body hash is the received body's, whatever ``X-Amz-Content-SHA256`` claims: a captured
    request cannot be replayed with another body."""
    signed_body = json.dumps({"Limit": 1}).encode()
    swapped = json.dumps({"Limit": 2}).encode()
    sha = hashlib.sha256(signed_body).hexdigest() if declared == "original" else declared
    headers = _signed(moto_gateway, signed_body, sha=sha)
    status, body = _post(moto_gateway, headers, swapped)
    assert status in (400, 403) and body["__type"].endswith("InvalidSignatureException")
    assert _post(moto_gateway, headers, signed_body)[0] == 200 or declared != "original"


def test_get_caller_identity_answers_who_signed(moto_gateway):
    identity = boto3.client(
        "sts",
        endpoint_url=moto_gateway.url,
        region_name="us-east-1",
        aws_access_key_id=moto_gateway.admin.access_key_id,
        aws_secret_access_key=moto_gateway.admin.secret_access_key,
    ).get_caller_identity()
    assert identity["Arn"] == moto_gateway.admin.arn and identity["Account"] == "123456789012"


def test_a_presigned_url_is_not_served_as_the_status_page(gateway):  # noqa: F811
    """Query-string SigV4 (``X-Amz-Signature``) is an AWS call, never the page or the API."""
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=5)
    connection.request(
        "GET", "/?Action=GetQueueAttributes&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=x&X-Amz-Signature=00"
    )
    response = connection.getresponse()
    body = response.read()
    assert response.status == 403 and b"<html" not in body.lower()
    assert gateway.capture.events == []


# ------------------------------------------------------------------------------ Invoke's FunctionName
@pytest.mark.parametrize(
    "name",
    [
        "fn-under-test",
        "fn-under-test:$LATEST",
        "arn:aws:lambda:us-east-1:123456789012:function:fn-under-test",
        "123456789012:function:fn-under-test",
    ],
)
def test_invoke_accepts_the_names_lambda_accepts_for_latest(gateway, name):  # noqa: F811
    assert _client(gateway, "lambda").invoke(FunctionName=name, Payload=b"{}")["StatusCode"] == 200


@pytest.mark.parametrize(
    "name",
    [
        "fn-under-test:no-such-alias",
        "fn-under-test:7",
        "arn:aws:lambda:us-east-1:999999999999:function:fn-under-test",
        "arn:aws:lambda:eu-west-1:123456789012:function:fn-under-test",
    ],
)
def test_invoke_of_a_qualifier_or_account_local_mode_does_not_run_is_404(gateway, name):  # noqa: F811
    with pytest.raises(ClientError) as refused:
        _client(gateway, "lambda").invoke(FunctionName=name, Payload=b"{}")
    assert refused.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert gateway.capture.events == []


# ------------------------------------------------------------------------------ HTTP framing
@pytest.mark.parametrize(
    "framing",
    [b"Content-Length: abc\r\n\r\n", b"Content-Length: -5\r\n\r\n", b"Transfer-Encoding: chunked\r\n\r\nzz\r\n"],
)
def test_malformed_framing_is_400_and_the_connection_closes_unread(gateway, framing):  # noqa: F811
    smuggled = f"GET /_local/config HTTP/1.1\r\nHost: 127.0.0.1:{gateway.port}\r\n\r\n".encode()
    request = f"POST /status/batch HTTP/1.1\r\nHost: 127.0.0.1:{gateway.port}\r\n".encode() + framing + smuggled
    answer = _raw_exchange(gateway.port, request)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert answer.count(b"HTTP/1.1 ") == 1, answer  # the unread bytes were never served as a request
    assert b"connection: close" in answer.lower()
    assert gateway.capture.events == []


# ------------------------------------------------------------------------------ the /_local endpoints
def _lan_address() -> str:
    """This machine's address on its network (not loopback)."""
    import socket

    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # no packet is sent: this picks the outgoing interface
        address = probe.getsockname()[0]
    except OSError:
        address = "127.0.0.1"
    finally:
        probe.close()
    if address.startswith("127."):
        pytest.fail("this machine has no non-loopback IPv4 address: the exposure cannot be checked here")
    return address


def _mint_from(host: str, port: int) -> tuple[int, dict]:
    connection = http.client.HTTPConnection(host, port, timeout=5)
    connection.request("POST", "/_local/token", body=b'{"user": "alice"}', headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    return response.status, json.loads(response.read())


def _config_from(host: str, port: int) -> dict:
    connection = http.client.HTTPConnection(host, port, timeout=5)
    connection.request("GET", "/_local/config")
    return json.loads(connection.getresponse().read())


@pytest.mark.parametrize("remote_tokens", [False, True])
def test_on_a_non_loopback_bind_only_this_machine_mints_tokens_unless_asked(remote_tokens):
    """--host 0.0.0.0 exposes local mode to the network: minting a token needs no credentials, so
    by default only this machine may do it (--allow-remote-tokens lets others)."""
    lan = _lan_address()
    gw = _start("0.0.0.0")  # noqa: S104 - the exposure under test
    try:
        gw.services.mint = lambda user, ttl: f"token-for-{user}"
        gw.services.remote_tokens = remote_tokens
        assert gw.exposed and gw.url == f"http://127.0.0.1:{gw.port}"  # a URL that works here
        assert _mint_from("127.0.0.1", gw.port) == (200, {"token": "token-for-alice"})
        assert _config_from("127.0.0.1", gw.port)["can_mint"] is True
        status, body = _mint_from(lan, gw.port)
        if remote_tokens:
            assert (status, body) == (200, {"token": "token-for-alice"})
        else:
            assert status == 403 and "this machine only" in body["error"]
            assert _config_from(lan, gw.port)["can_mint"] is False
    finally:
        gw.stop()


def test_the_inbox_takes_webhook_deliveries_not_requests_from_web_pages(gateway):  # noqa: F811
    """A page on any site may POST a "simple" cross-origin request (text/plain, an Origin header)
    without a CORS preflight: such requests must not add rows to the inbox."""
    from transflow_runtime.local.inbox import Inbox

    gateway.services.inbox = Inbox(gateway.url, lambda name: "whsec_dGVzdA==")

    def post(headers: dict) -> int:
        connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=5)
        connection.request("POST", "/_local/inbox/tpl_a", body=b'{"assembly_id": "forged"}', headers=headers)
        return connection.getresponse().status

    assert post({"Origin": "https://evil.example", "Content-Type": "text/plain"}) == 403
    assert post({"Origin": "https://evil.example", "Content-Type": "application/json"}) == 403
    assert post({"Content-Type": "text/plain"}) == 415
    assert gateway.services.inbox.deliveries() == []
    assert post({"Content-Type": "application/json"}) == 204  # a delivery (unsigned: shown as not verified)
    assert [d["verified"] for d in gateway.services.inbox.deliveries()] == [False]


def test_a_scope_naming_no_aws_service_is_refused_and_a_request_moto_cannot_serve_is_an_aws_error(moto_gateway):
    """Before: both reached moto, which answered its own HTML 500 page."""
    def signed(service: str, target: str, body: bytes) -> tuple[int, str, bytes]:
        request = AWSRequest(method="POST", url=moto_gateway.url + "/", data=body,
                             headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.0"})
        admin = moto_gateway.admin
        SigV4Auth(Credentials(admin.access_key_id, admin.secret_access_key), service, "us-east-1").add_auth(request)
        connection = http.client.HTTPConnection("127.0.0.1", moto_gateway.port, timeout=10)
        connection.request("POST", "/", body=body, headers=dict(request.headers.items()))
        response = connection.getresponse()
        return response.status, response.getheader("content-type", ""), response.read()

    status, kind, body = signed("no-such-service", "NoSuch_20200101.Op", b"{}")
    assert status in (400, 403) and b"scoped to a valid service" in body
    status, kind, body = signed("dynamodb", "DynamoDB_20120810.NoSuchOperation", b"{}")
    assert status == 500 and "html" not in kind and json.loads(body)["__type"].endswith("InternalFailure")
