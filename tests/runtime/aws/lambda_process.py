"""Run a handler in a fresh interpreter with a Lambda-like environment, as Lambda would.

The child imports the handler module (its cold start), calls the handler for each event, and
reports the responses, the log lines the handler wrote and which of boto3/botocore ended up in
``sys.modules``. With ``block_boto3`` those cannot even be imported (as in an asset without them).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]

_CHILD = r"""
import io, json, sys
spec = json.loads(sys.stdin.read())
if spec["block_boto3"]:
    for name in ("boto3", "botocore"):
        sys.modules[name] = None  # any import of them raises ImportError
import importlib
from transflow_runtime import telemetry
log = io.StringIO()
telemetry.configure(stream=log)
module = importlib.import_module(spec["module"])
after_import = sorted(m for m in sys.modules if m.split(".")[0] in ("boto3", "botocore") and sys.modules[m])
import time
class Context:  # Lambda's context: the time left counts down from the invocation's start
    aws_request_id = "lambda-request-1"
    def __init__(self, millis):
        self._end = time.monotonic() + millis / 1000.0
    def get_remaining_time_in_millis(self):
        return max(0, int((self._end - time.monotonic()) * 1000))
responses, elapsed = [], []
for event in spec["events"]:
    context = Context(spec["remaining_ms"]) if spec["remaining_ms"] is not None else None
    started = time.monotonic()
    try:
        responses.append(module.handler(event, context))
    except Exception as exc:
        responses.append({"raised": type(exc).__name__, "message": str(exc)})
    elapsed.append(time.monotonic() - started)
clients = {name: type(getattr(module, name)).__module__ + "." + type(getattr(module, name)).__name__
           for name in ("_dynamodb", "_sqs", "_secrets") if hasattr(module, name)}
print(json.dumps({
    "after_import": after_import,
    "after_requests": sorted(m for m in sys.modules if m.split(".")[0] in ("boto3", "botocore") and sys.modules[m]),
    "responses": responses,
    "elapsed": elapsed,
    "logs": [json.loads(line) for line in log.getvalue().splitlines() if line.strip()],
    "clients": clients,
}))
"""


def lambda_environment(**values: str) -> dict[str, str]:
    """This process's environment minus anything AWS, plus what Lambda sets, plus ``values``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "TRANSFLOW_", "PYTEST")) and k not in ("HTTPS_PROXY", "HTTP_PROXY")}
    env.update({
        "AWS_LAMBDA_FUNCTION_NAME": "transflow-status",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_ACCESS_KEY_ID": "ASIAEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_SESSION_TOKEN": "token",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "TRANSFLOW_TABLE_NAME": "transflow-status",
        "TRANSFLOW_JWT_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:jwt",
    })
    env.update(values)
    return env


def run_handler(module: str, events: list[Any], env: dict[str, str], *, block_boto3: bool = False,
                remaining_ms: int | None = None) -> dict[str, Any]:
    """``remaining_ms``: each event gets a Lambda-like context with that much time left (else None)."""
    spec = json.dumps({"module": module, "events": events, "block_boto3": block_boto3, "remaining_ms": remaining_ms})
    result = subprocess.run([sys.executable, "-c", _CHILD], input=spec, capture_output=True, text=True, env=env,
                            cwd=REPO, timeout=120, check=False)
    if result.returncode != 0:
        raise AssertionError(f"the handler process failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])
