"""Local mode in a subprocess, as a user runs it, plus a real webhook receiver."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from .receiver import Receiver

JWT_SECRET = "e2e-jwt-secret-0123456789abcdef-long-enough"
WEBHOOK_SECRET = "whsec_ZTJlLXdlYmhvb2stc2VjcmV0LWZvci10ZXN0cw=="  # base64("e2e-webhook-secret-for-tests")
TEMPLATE_OK = "tpl_e2e"
TEMPLATE_FLAKY = "tpl_flaky"
TEMPLATE_DEAD = "tpl_dead"


def start_local(
    args: list[str], ready_file: Path, timeout: float = 60.0, log: Path | None = None
) -> tuple[subprocess.Popen, dict]:
    """``log``: write local mode's output there instead of a pipe nobody reads while it runs (a
    long run can fill a pipe's buffer, and then every thread of local mode blocks on its next line)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        env.pop(key, None)
    output = subprocess.PIPE if log is None else log.open("w")
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "transflow_runtime.cli", "local", "--port", "0", "--ready-file", str(ready_file),
             *args],
            stdout=output, stderr=subprocess.STDOUT, env=env, text=True,
        )
    finally:
        if log is not None:
            output.close()  # the child holds its own copy
    deadline = time.monotonic() + timeout
    while not ready_file.exists():
        if process.poll() is not None:
            output = process.stdout.read() if log is None else log.read_text()
            raise RuntimeError(f"local mode exited early ({process.returncode}):\n{output}")
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("local mode did not become ready")
        time.sleep(0.05)
    return process, json.loads(ready_file.read_text())


def stop_local(process: subprocess.Popen, timeout: float = 20.0) -> tuple[int, str]:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
        return -9, out
    return process.returncode, out


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    r = Receiver(plan={"/hooks/flaky": [500, 200], "/hooks/dead": [503]})
    yield r
    r.close()


@pytest.fixture(scope="session")
def local(receiver, tmp_path_factory) -> Iterator[dict]:
    ready = tmp_path_factory.mktemp("local") / "ready.json"
    process, info = start_local(
        [
            "--jwt-secret", JWT_SECRET,
            "--webhook-secret", WEBHOOK_SECRET,
            "--webhook", f"{TEMPLATE_OK}={receiver.url('/hooks/ok')}",
            "--webhook", f"{TEMPLATE_FLAKY}={receiver.url('/hooks/flaky')}",
            "--webhook", f"{TEMPLATE_DEAD}={receiver.url('/hooks/dead')}",
            "--webhook-retry-delays", "1,1",
            "--allow-private-webhooks",
        ],
        ready,
    )
    info["process"] = process
    info["ready_file"] = ready
    yield info
    code, output = stop_local(process)
    assert code == 0, output


@pytest.fixture(scope="session")
def local_store(local):
    from transflow_runtime import StatusStore

    client = boto3.client("dynamodb", endpoint_url=local["aws_endpoint_url"], region_name=local["region"])
    return StatusStore(local["table_name"], client=client)


def token_for(user: str, secret: str = JWT_SECRET, ttl: int = 600) -> str:
    from transflow_runtime.auth import mint_token

    return mint_token(secret, user, ttl=ttl)
