"""Fixtures for the light AWS client: its environment pointed at a moto server, and a recorder."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from transflow_runtime.aws.transport import Response, Transport

REGION = "us-east-1"


class RecordingTransport(Transport):
    """The real transport, keeping every request it sent and every response it got."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sent: list[tuple[str, list[tuple[str, str]], bytes]] = []
        self.received: list[Response] = []

    def send(self, method: str, url: str, headers: list[tuple[str, str]], body: bytes, **kwargs: Any) -> Response:
        self.sent.append((url, headers, body))
        response = super().send(method, url, headers, body, **kwargs)
        self.received.append(response)
        return response


def light_environment(endpoint: str, **extra: str) -> dict[str, str]:
    """What Lambda (or local mode) gives a function: endpoint, static credentials, region."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        **extra,
    }


class BotoRecorder:
    """A boto3 client whose request bodies are kept (the oracle for what we send)."""

    def __init__(self, service: str, endpoint: str) -> None:
        self.client = boto3.client(service, region_name=REGION, endpoint_url=endpoint)
        self.bodies: list[bytes] = []
        self.client.meta.events.register("before-send", self._record)

    def _record(self, request: Any, **_kwargs: Any) -> None:
        self.bodies.append(request.body or b"")


@pytest.fixture
def recording_transport() -> RecordingTransport:
    transport = RecordingTransport()
    yield transport
    transport.close()
