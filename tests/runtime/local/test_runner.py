"""``LocalStack`` provisions what the construct provisions, leaves nothing behind when it stops or
fails to start, and keeps the user's AWS endpoint settings away from the embedded moto server."""

from __future__ import annotations

import hashlib
import http.client
import importlib
import json
import os
import socket
import subprocess
import sys
import threading
import uuid

import boto3
import pytest
from transflow_runtime import schema


def _reset_moto() -> None:
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()


@pytest.fixture
def clean_moto():
    """moto's backends are process-global: start each test with empty ones; afterwards rebuild the
    handler modules (LocalStack binds their clients to its own, stopped, moto) under the restored
    environment so later tests in this process are unaffected."""
    _reset_moto()
    yield
    for path in (schema.HANDLER_STATUS, schema.HANDLER_AUTHORIZER, schema.HANDLER_DISPATCHER, schema.HANDLER_WEBHOOK):
        module = sys.modules.get(path.rpartition(".")[0])
        if module is not None:
            importlib.reload(module)


def _free_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("AWS_ENDPOINT_URL") or key in ("AWS_PROFILE", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"):
            monkeypatch.delenv(key, raising=False)


def test_local_mode_has_the_stream_failure_queue_of_the_construct(clean_moto):
    from transflow_runtime.local.environment import LocalSettings, provision
    from transflow_runtime.local.moto_server import SerialMotoServer

    with SerialMotoServer() as moto:
        settings = LocalSettings(port=0, table_name=f"t-{uuid.uuid4().hex[:8]}")
        resources = provision(settings, moto.endpoint_url)
        sqs = boto3.client("sqs", endpoint_url=moto.endpoint_url, region_name="us-east-1",
                           aws_access_key_id="local", aws_secret_access_key="local")
        urls = sqs.list_queues().get("QueueUrls", [])
    assert sorted(urls) == sorted([resources.queue_url, resources.dlq_url, resources.stream_failure_queue_url])
    assert resources.stream_failure_queue_url.endswith("/" + settings.stream_failure_queue_name)


def test_ready_file_names_the_stream_failure_queue(clean_moto, monkeypatch, tmp_path):
    from transflow_runtime.local.environment import LocalSettings
    from transflow_runtime.local.runner import LocalStack

    _free_env(monkeypatch)
    ready = tmp_path / "ready.json"
    with LocalStack(LocalSettings(port=0, ready_file=str(ready))) as stack:
        info = json.loads(ready.read_text())
        assert info["stream_failure_queue_url"] == stack.resources.stream_failure_queue_url
        assert stack.stream_pump.failure_queue_url == stack.resources.stream_failure_queue_url


def test_a_ready_file_that_cannot_be_written_leaves_nothing_running(clean_moto, monkeypatch, tmp_path):
    from transflow_runtime.local.environment import LocalSettings
    from transflow_runtime.local.runner import LocalStack

    _free_env(monkeypatch)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://sentinel.invalid")
    path = tmp_path / "missing-dir" / "ready.json"
    stack = LocalStack(LocalSettings(port=0, ready_file=str(path)))
    before = set(threading.enumerate())  # e.g. the session's own moto server
    try:
        with pytest.raises(OSError) as raised:
            stack.start()
        assert raised.value.filename == str(path)
        assert os.environ.get("AWS_ENDPOINT_URL") == "http://sentinel.invalid"
        assert not [t for t in set(threading.enumerate()) - before
                    if t.name in ("gateway", "moto-server", "stream-pump", "queue-poller") and t.is_alive()]
    finally:
        stack.stop()


def test_cli_names_the_ready_file_it_cannot_write(tmp_path):
    path = tmp_path / "missing-dir" / "ready.json"
    result = subprocess.run(
        [sys.executable, "-m", "transflow_runtime.cli", "local", "--port", "0", "--ready-file", str(path)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("transflow-status local: error: cannot write the ready file"), result.stderr
    assert str(path) in lines[-1]


def test_service_specific_endpoint_variables_do_not_leak_into_local_mode(clean_moto, monkeypatch):
    from transflow_runtime import assembly_id
    from transflow_runtime.auth import mint_token
    from transflow_runtime.local.environment import LocalSettings
    from transflow_runtime.local.runner import LocalStack

    _free_env(monkeypatch)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead_port = closed.getsockname()[1]
    dead = f"http://127.0.0.1:{dead_port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dead)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    settings = LocalSettings(port=0)
    with LocalStack(settings) as stack:
        assert "AWS_ENDPOINT_URL_DYNAMODB" not in os.environ
        aid = assembly_id(hashlib.md5(b"x").hexdigest(), "tpl", "u1")
        token = mint_token(settings.jwt_secret, "u1", ttl=600)
        connection = http.client.HTTPConnection("127.0.0.1", stack.gateway.port, timeout=30)
        connection.request("GET", f"/status?assemblyId={aid}", headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        body = response.read()
    assert response.status == 404, body
    assert os.environ["AWS_ENDPOINT_URL_DYNAMODB"] == dead


def test_ignore_configured_endpoint_urls_is_cleared_while_local_mode_runs_and_restored_after(clean_moto, monkeypatch):
    from transflow_runtime.local.environment import LocalSettings
    from transflow_runtime.local.runner import LocalStack

    _free_env(monkeypatch)
    monkeypatch.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
    with LocalStack(LocalSettings(port=0)):
        assert "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS" not in os.environ
    assert os.environ["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"] == "true"


def test_local_stack_can_be_started_again_in_the_same_process(clean_moto, monkeypatch):
    from transflow_runtime.local.environment import LocalSettings
    from transflow_runtime.local.runner import LocalStack

    _free_env(monkeypatch)
    with LocalStack(LocalSettings(port=0)):
        pass
    with LocalStack(LocalSettings(port=0)) as again:
        assert again.info["table_name"]
