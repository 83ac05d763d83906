"""One function's execution environment: ``python -m transflow_runtime.local.worker HANDLER IN OUT``.

Like a Lambda execution environment it has its own process (its own ``os.environ``, set by
local mode from the template, and its own module state), imports the handler once (the init
phase), then runs one invocation at a time. Requests and results are JSON lines on the two pipe
file descriptors ``IN`` and ``OUT``; stdout and stderr stay the function's log, as on Lambda.

Messages: ``{"ready": true}`` or ``{"init_error": {...}}`` once; then per request
``{"id", "event", "deadline_ms", "request_id"}`` -> ``{"id", "result"}`` (the return value as
Lambda's Python runtime serializes it, ``json.dumps``) or ``{"id", "error": {"errorType",
"errorMessage", "stackTrace"}}``.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
import uuid
from typing import Any


class _Context:
    """The ``context`` object Lambda passes to a handler."""

    def __init__(self, request_id: str, deadline_ms: int) -> None:
        env = os.environ
        self.aws_request_id = request_id
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.invoked_function_arn = env.get("TRANSFLOW_LOCAL_FUNCTION_ARN", "")
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _error(exc: BaseException) -> dict[str, Any]:
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(exc)[-20:],
    }


def _send(out: Any, message: dict[str, Any]) -> None:
    out.write(json.dumps(message, separators=(",", ":")) + "\n")
    out.flush()


def main(argv: list[str]) -> int:
    handler_path, fd_in, fd_out = argv[0], int(argv[1]), int(argv[2])
    requests = os.fdopen(fd_in, "r", encoding="utf-8")
    out = os.fdopen(fd_out, "w", encoding="utf-8")
    if os.environ.get("TRANSFLOW_LOCAL_QUIET") == "1":
        from .. import telemetry

        telemetry.configure(enabled=False)
    module_name, _, attribute = handler_path.rpartition(".")
    try:
        handler = getattr(importlib.import_module(module_name), attribute)
    except BaseException as exc:  # Lambda reports an init failure as Runtime.ImportModuleError
        failure = _error(exc)
        failure["errorType"] = "Runtime.ImportModuleError"
        failure["errorMessage"] = f"Unable to import module '{module_name}': {exc}"
        _send(out, {"init_error": failure})
        return 1
    _send(out, {"ready": True})
    for line in requests:
        request = json.loads(line)
        context = _Context(request.get("request_id") or str(uuid.uuid4()), int(request["deadline_ms"]))
        try:
            result = handler(request["event"], context)
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            _send(out, {"id": request["id"], "error": _error(exc)})
            continue
        try:
            payload = json.dumps(result)
        except (TypeError, ValueError) as exc:
            message = f"Unable to marshal response: {exc}"
            _send(out, {"id": request["id"], "error": {"errorType": "Runtime.MarshalError", "errorMessage": message}})
            continue
        out.write('{"id":' + json.dumps(request["id"]) + ',"result":' + payload + "}\n")
        out.flush()
    return 0


if __name__ == "__main__":  # pragma: no cover - run as a subprocess
    raise SystemExit(main(sys.argv[1:]))
