"""The light client's HTTP: connection reuse across calls, stale connections, TLS verification.

A Lambda execution environment serves invocation after invocation: the TLS connection the first
request opened must serve the next ones (keep-alive), one the server closed while the
environment was idle must be replaced without failing (or even retrying) a request, and TLS must
verify the certificate and the host name (a self-signed certificate is refused unless
``AWS_CA_BUNDLE`` names it, as botocore does).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from transflow_runtime.aws import transport as transport_module
from transflow_runtime.aws.dynamodb import DynamoDBClient
from transflow_runtime.aws.errors import SSLError
from transflow_runtime.aws.transport import Transport

from .conftest import light_environment
from .fault_server import FaultServer, ok, self_signed_certificate

GET = {"TableName": "t", "Key": {"assembly_id": {"S": "a"}}}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_calls_reuse_one_connection() -> None:
    with FaultServer([ok()]) as server:
        client = DynamoDBClient(light_environment(server.url))
        for _ in range(5):
            client.get_item(**GET)
    assert server.connections == 1 and len(server.requests) == 5
    assert client.transport.connections_opened == 1


def test_a_connection_the_server_closed_is_replaced_without_a_failed_attempt() -> None:
    with FaultServer([ok()]) as server:
        client = DynamoDBClient(light_environment(server.url))
        client.get_item(**GET)
        server.close_idle_connections()
        time.sleep(0.05)
        client.get_item(**GET)
    assert server.connections == 2
    assert [r.headers["amz-sdk-request"] for r in server.requests] == ["attempt=1; max=4"] * 2
    assert client.retry_quota.available == 500


def test_a_connection_idle_too_long_is_not_reused() -> None:
    clock = Clock()
    with FaultServer([ok()]) as server:
        client = DynamoDBClient(light_environment(server.url), transport=Transport(clock=clock))
        client.get_item(**GET)
        clock.now += transport_module.MAX_IDLE_SECONDS - 1
        client.get_item(**GET)
        assert server.connections == 1
        clock.now += transport_module.MAX_IDLE_SECONDS + 1
        client.get_item(**GET)
    assert server.connections == 2


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path)


def test_tls_refuses_a_certificate_it_cannot_verify(certificate: tuple[Path, Path]) -> None:
    with FaultServer([ok()], tls=certificate) as server:
        client = DynamoDBClient(light_environment(server.url), sleep=lambda _s: None)
        with pytest.raises(SSLError, match=r"SSL validation failed for https://127\.0\.0\.1"):
            client.get_item(**GET)


def test_tls_verifies_against_aws_ca_bundle(certificate: tuple[Path, Path]) -> None:
    with FaultServer([ok({"Item": {"k": {"S": "v"}}})], tls=certificate) as server:
        client = DynamoDBClient(light_environment(server.url, AWS_CA_BUNDLE=str(certificate[0])))
        assert client.get_item(**GET)["Item"] == {"k": {"S": "v"}}
        client.get_item(**GET)
    assert server.connections == 1  # the TLS session is kept alive too


def test_tls_checks_the_host_name(tmp_path: Path) -> None:
    """A trusted certificate for another name is refused: reached as 127.0.0.1, it names only
    elsewhere.example."""
    cert = self_signed_certificate(tmp_path, host=None, dns="elsewhere.example")
    with FaultServer([ok()], tls=cert) as server:
        client = DynamoDBClient(light_environment(server.url, AWS_CA_BUNDLE=str(cert[0])), sleep=lambda _s: None)
        with pytest.raises(SSLError, match=r"match|mismatch"):
            client.get_item(**GET)
