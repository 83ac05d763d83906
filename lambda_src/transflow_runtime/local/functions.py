"""Each function of the template as Lambda runs it: execution environments (worker processes) with
the function's own environment and credentials, one invocation at a time each, more started when
all are busy (up to the reserved concurrency, or ``DEFAULT_MAX_ENVIRONMENTS``), the template's
timeout enforced by ending the environment (the next invocation starts a fresh one, as after a
Lambda timeout) and Lambda's 6 MB limit on what a synchronous invocation returns.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .providers import FunctionSpec

log = logging.getLogger("transflow.local")

#: Environments per function when the template reserves no concurrency (2 cores here).
DEFAULT_MAX_ENVIRONMENTS = 4
#: Lambda's init phase limit for the handler's module import.
INIT_TIMEOUT_SECONDS = 10.0
#: What the environment of every function keeps from local mode's own (nothing of the user's AWS set-up).
_INHERITED = ("PATH", "PYTHONPATH", "LANG", "LC_ALL", "SYSTEMROOT", "TMPDIR", "VIRTUAL_ENV")


@dataclass
class Invocation:
    """The outcome of one invocation: ``payload`` is the returned value, or Lambda's error document
    when ``function_error`` is set (``"Unhandled"``)."""

    payload: Any
    function_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.function_error is None


def _error(error_type: str, message: str) -> Invocation:
    return Invocation({"errorType": error_type, "errorMessage": message}, "Unhandled")


class _Environment:
    """One worker process (an execution environment)."""

    def __init__(self, spec: FunctionSpec, env: dict[str, str], output: Callable[[str], None]) -> None:
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "transflow_runtime.local.worker", spec.handler, str(to_child_r), str(from_child_w)],
            env=env,
            pass_fds=(to_child_r, from_child_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._writer = os.fdopen(self._to_child, "w", encoding="utf-8")
        self._reader = os.fdopen(self._from_child, "r", encoding="utf-8")
        self._lines: list[str] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._read, name=f"{spec.name}-results", daemon=True).start()
        threading.Thread(target=self._logs, args=(output,), name=f"{spec.name}-logs", daemon=True).start()
        self.ready: dict[str, Any] | None = None

    def _read(self) -> None:
        for line in self._reader:
            with self._cond:
                self._lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._lines.append("")  # EOF: the process is gone
            self._cond.notify_all()

    def _logs(self, output: Callable[[str], None]) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            output(raw.decode("utf-8", "replace").rstrip("\n"))

    def next_message(self, timeout: float) -> dict[str, Any] | None:
        """The next message, ``None`` on timeout; ``{}`` when the process ended."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._lines:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)
            line = self._lines.pop(0)
        return json.loads(line) if line else {}

    def send(self, message: dict[str, Any]) -> None:
        self._writer.write(json.dumps(message, separators=(",", ":")) + "\n")
        self._writer.flush()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, 9)
        self.process.wait(timeout=10)
        for handle in (self._writer, self._reader):
            with contextlib.suppress(OSError):
                handle.close()


class FunctionRuntime:
    """Runs one function of the template. ``environment`` is the complete process environment."""

    def __init__(
        self,
        spec: FunctionSpec,
        environment: dict[str, str],
        *,
        verbose: bool = False,
        max_environments: int | None = None,
    ) -> None:
        self.spec = spec
        self.environment = environment
        self.verbose = verbose
        self.max_environments = max(1, spec.reserved_concurrency or max_environments or DEFAULT_MAX_ENVIRONMENTS)
        self._idle: list[_Environment] = []
        self._count = 0
        self._cond = threading.Condition()
        self._closed = False
        self.invocations = 0
        self.timeouts = 0

    # ------------------------------------------------------------------------------ environments
    def _output(self, line: str) -> None:
        if self.verbose:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def _start(self) -> _Environment | Invocation:
        env = _Environment(self.spec, self.environment, self._output)
        message = env.next_message(INIT_TIMEOUT_SECONDS)
        if message and message.get("ready"):
            return env
        env.kill()
        if message is None:
            return _error("Runtime.InitTimeout", f"init of {self.spec.handler} took over {INIT_TIMEOUT_SECONDS:.0f} s")
        error = (message or {}).get("init_error") or {"errorType": "Runtime.ExitError", "errorMessage": "exited"}
        log.error(
            "function %s failed to start: %s: %s", self.spec.name, error.get("errorType"), error.get("errorMessage")
        )
        return Invocation(error, "Unhandled")

    def warm(self) -> None:
        """Start one environment now (the first invocation then has no cold start)."""
        with self._cond:
            if self._count >= self.max_environments or self._closed:
                return
            self._count += 1
        started = self._start()
        with self._cond:
            if isinstance(started, _Environment) and not self._closed:
                self._idle.append(started)
            else:
                self._count -= 1
                if isinstance(started, _Environment):
                    started.kill()
            self._cond.notify_all()

    def _acquire(self) -> _Environment | Invocation:
        with self._cond:
            while True:
                if self._closed:
                    return _error("Runtime.Unavailable", "local mode is stopping")
                if self._idle:
                    return self._idle.pop()
                if self._count < self.max_environments:
                    self._count += 1
                    break
                self._cond.wait()
        started = self._start()
        if isinstance(started, Invocation):
            with self._cond:
                self._count -= 1
                self._cond.notify_all()
        return started

    def _release(self, env: _Environment | None) -> None:
        with self._cond:
            if env is None or self._closed:
                self._count -= 1
                if env is not None:
                    env.kill()
            else:
                self._idle.append(env)
            self._cond.notify_all()

    # ------------------------------------------------------------------------------ invoke
    def invoke(self, event: Any) -> Invocation:
        env = self._acquire()
        if isinstance(env, Invocation):
            return env
        self.invocations += 1
        request_id = str(uuid.uuid4())
        deadline = time.time() + self.spec.timeout
        try:
            env.send({"id": request_id, "event": event, "deadline_ms": int(deadline * 1000), "request_id": request_id})
        except (OSError, ValueError):
            self._release_dead(env)
            return _error("Runtime.ExitError", f"RequestId: {request_id} Error: the execution environment exited")
        message = env.next_message(self.spec.timeout)
        if message is None:
            self.timeouts += 1
            self._release_dead(env)
            log.warning("function %s timed out after %.2f seconds", self.spec.name, self.spec.timeout)
            return _error(
                "Sandbox.Timedout",
                f"RequestId: {request_id} Error: Task timed out after {self.spec.timeout:.2f} seconds",
            )
        if not message:
            self._release_dead(env)
            return _error(
                "Runtime.ExitError", f"RequestId: {request_id} Error: Runtime exited without providing a reason"
            )
        self._release(env)
        if "error" in message:
            error = message["error"]
            log.warning("function %s raised %s: %s", self.spec.name, error.get("errorType"), error.get("errorMessage"))
            return Invocation(error, "Unhandled")
        return self._limited(message.get("result"), request_id)

    def _release_dead(self, env: _Environment) -> None:
        env.kill()
        self._release(None)

    def _limited(self, result: Any, request_id: str) -> Invocation:
        """Lambda refuses to return a response larger than its synchronous invocation limit,
        measured as the function's own runtime serializes it (``AWS_EXECUTION_ENV``)."""
        from ..limits import LAMBDA_RESPONSE_LIMIT_BYTES, invocation_response_bytes

        size = invocation_response_bytes(result, execution_env=self.environment.get("AWS_EXECUTION_ENV", ""))
        if size > LAMBDA_RESPONSE_LIMIT_BYTES:
            log.warning("function %s returned %d bytes, over Lambda's limit", self.spec.name, size)
            return _error(
                "Function.ResponseSizeTooLarge",
                f"Response payload size ({size} bytes) exceeded maximum allowed payload size "
                f"({LAMBDA_RESPONSE_LIMIT_BYTES} bytes).",
            )
        return Invocation(result)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._cond.notify_all()
        for env in idle:
            env.kill()


def lambda_environment(
    spec: FunctionSpec, *, credentials: dict[str, str], endpoint_url: str, region: str, quiet: bool
) -> dict[str, str]:
    """The process environment of one function: the template's variables plus what Lambda sets."""
    env = {k: os.environ[k] for k in _INHERITED if k in os.environ}
    env.update(spec.environment)
    env.update(
        {
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "local",
            "TRANSFLOW_LOCAL_FUNCTION_ARN": spec.arn,
            # moto 5 with current botocore (DynamoDB's account-based endpoints).
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
            # Nothing from ~/.aws: the function has its role's credentials only.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    if spec.runtime:  # as Lambda sets it for a managed runtime; the response limit is measured by it
        env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{spec.runtime}"
    if quiet:
        env["TRANSFLOW_LOCAL_QUIET"] = "1"
    env.update(credentials)  # Lambda's reserved variables: the template cannot set these
    return env
