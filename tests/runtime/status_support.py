"""Helpers for the status API tests: payload-2.0 events, the handler's environment, assemblies."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import pytest
from transflow_runtime import assembly_id, schema
from transflow_runtime.handlers import status as status_handler

MD5S = [f"{i:032x}" for i in range(1, 400)]


def aid(n: int, user: str = "alice", template: str = "tpl") -> str:
    """A real assembly id (the seed's algorithm) for test file number ``n``."""
    return assembly_id(MD5S[n], template, user)


def http_event(
    method: str,
    path: str,
    *,
    user: str | None = "alice",
    query: dict[str, str] | None = None,
    body: str | bytes | None = None,
    base64_body: bool = False,
    headers: dict[str, str] | None = None,
    route_key: str = "$default",
    path_parameters: dict[str, str] | None = None,
    authorizer: dict[str, Any] | None = None,
    stage: str = "$default",
) -> dict[str, Any]:
    """An HTTP API payload-2.0 event as API Gateway sends it after the shared-secret authorizer."""
    if authorizer is None and user is not None:
        authorizer = {"lambda": {schema.AUTHORIZER_CONTEXT_USER_KEY: user}}
    context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "api",
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
        "requestId": "req-1",
        "routeKey": route_key,
        "stage": stage,
    }
    if authorizer is not None:
        context["authorizer"] = authorizer
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "headers": {"authorization": "Bearer secret-token-value", **(headers or {})},
        "requestContext": context,
        "isBase64Encoded": False,
    }
    if query is not None:
        event["queryStringParameters"] = query
    if path_parameters is not None:
        event["pathParameters"] = path_parameters
    if body is not None:
        if base64_body:
            raw = body if isinstance(body, bytes) else body.encode()
            event["body"] = base64.b64encode(raw).decode()
            event["isBase64Encoded"] = True
        else:
            event["body"] = body
    return event


def call(event: Any) -> dict[str, Any]:
    return status_handler.handler(event, None)


def body_of(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


def headers_of(response: dict[str, Any]) -> dict[str, str]:
    return {k.lower(): v for k, v in response["headers"].items()}


@dataclass
class StatusEnv:
    table_name: str
    queue_url: str
    sqs: Any
    dynamodb: Any

    def queued_messages(self) -> list[dict[str, Any]]:
        out = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = got.get("Messages", [])
            if not messages:
                return out
            for m in messages:
                out.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])


@pytest.fixture(name="status_env")
def status_env_fixture(monkeypatch, dynamodb, table_name, sqs) -> StatusEnv:
    """The status handler configured against moto: table, webhook queue, default claim/pattern."""
    queue_url = sqs.create_queue(QueueName="transflow-webhooks")["QueueUrl"]
    monkeypatch.setenv(schema.ENV_TABLE_NAME, table_name)
    monkeypatch.setenv(schema.ENV_WEBHOOK_QUEUE_URL, queue_url)
    for name in (schema.ENV_USER_ID_CLAIM, schema.ENV_ASSEMBLY_ID_PATTERN, schema.ENV_METRICS_NAMESPACE):
        monkeypatch.delenv(name, raising=False)
    status_handler.reset_for_tests()
    yield StatusEnv(table_name, queue_url, sqs, dynamodb)
    monkeypatch.undo()
    status_handler.reset_for_tests()
