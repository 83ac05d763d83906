"""Local mode in a subprocess, as a user runs it, driven by the template of the project's own
``app.py`` (synthesized once per session), plus a real webhook receiver."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from .receiver import Receiver

REPO = Path(__file__).resolve().parents[2]
WEBHOOK_SECRET = "whsec_ZTJlLXdlYmhvb2stc2VjcmV0LWZvci10ZXN0cw=="  # base64("e2e-webhook-secret-for-tests")
#: app.py's one webhook target (cdk.json's transflow:webhookTemplate default).
TEMPLATE = "tpl_basic_audio"


@pytest.fixture(scope="session", autouse=True)
def _default_stack_cache(tmp_path_factory) -> None:
    """The built-in default stack is synthesized once per session, into a cache of the session's own."""
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))


@pytest.fixture(scope="session")
def default_stack_cached(_default_stack_cache) -> None:
    """The default stack (no ``--app``, no ``--webhook``) synthesized into the session's cache before
    a test starts local mode on it: its first synthesis costs a minute or more on a loaded 2-core
    machine, which is local mode's documented first-run cost, not what those tests time-limit."""
    code = "from transflow_runtime.local.default_app import synthesize; synthesize([])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900,
                          env={**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"})
    assert done.returncode == 0, done.stderr[-3000:]


def synth_app(app: Path, outdir: Path, context: dict | None = None) -> Path:
    """``app`` synthesized as ``cdk synth`` runs it (cdk.json's context passed the CLI's way),
    asset bundling skipped: local mode runs the installed package, not the asset."""
    merged = {
        **json.loads((REPO / "cdk.json").read_text())["context"],
        **(context or {}),
        "aws:cdk:bundling-stacks": [],
    }
    env = {**os.environ, "CDK_OUTDIR": str(outdir), "CDK_CONTEXT_JSON": json.dumps(merged)}
    done = subprocess.run([sys.executable, str(app)], env=env, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    return outdir


@pytest.fixture(scope="session")
def example_assembly(tmp_path_factory) -> Path:
    return synth_app(REPO / "app.py", tmp_path_factory.mktemp("example-cdk.out"))


def start_local(
    args: list[str], ready_file: Path, timeout: float = 120.0, env: dict | None = None, log: Path | None = None
) -> tuple[subprocess.Popen, dict]:
    """``log``: write local mode's output there instead of a pipe nobody reads while it runs (a
    long run can fill a pipe's buffer, and then every thread of local mode blocks on its next line)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        env.pop(key, None)
    output = subprocess.PIPE if log is None else log.open("w")
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "transflow_runtime.cli", "local", "--port", "0", "--ready-file", str(ready_file),
             *args],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
            text=True,
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
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(scope="session")
def local(receiver, example_assembly, tmp_path_factory) -> Iterator[dict]:
    """app.py's template as synthesized, its one target pointed at the receiver, a fast schedule."""
    ready = tmp_path_factory.mktemp("local") / "ready.json"
    process, info = start_local(
        [
            "--app",
            str(example_assembly),
            "--webhook-secret",
            WEBHOOK_SECRET,
            "--webhook",
            f"{TEMPLATE}={receiver.url('/hooks/ok')}",
            "--webhook-retry-delays",
            "1,1",
            "--allow-private-webhooks",
        ],
        ready,
    )
    info["process"] = process
    info["ready_file"] = ready
    yield info
    code, output = stop_local(process)
    assert code == 0, output


def aws_client(info: dict, service: str):
    """A boto3 client with the credentials local mode printed (only signed requests get through)."""
    return boto3.client(
        service,
        endpoint_url=info["aws_endpoint_url"],
        region_name=info["region"],
        aws_access_key_id=info["aws_access_key_id"],
        aws_secret_access_key=info["aws_secret_access_key"],
    )


@pytest.fixture(scope="session")
def local_store(local):
    from transflow_runtime import StatusStore

    return StatusStore(local["table_name"], client=aws_client(local, "dynamodb"))


def mint_from(info: dict, user: str, ttl: int = 600) -> str:
    """A token from the running local mode (its development issuer, or its shared secret)."""
    request = urllib.request.Request(
        info["api_url"] + "/_local/token",
        method="POST",
        headers={"Content-Type": "application/json"},
        data=json.dumps({"user": user, "ttl": ttl}).encode(),
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["token"]
