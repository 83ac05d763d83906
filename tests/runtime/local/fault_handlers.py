"""Handlers a test puts into a copy of the template (faults on purpose)."""

from __future__ import annotations

import os
import time
from typing import Any


def sleeps(event: Any, context: Any) -> dict[str, Any]:
    """Runs past any short timeout the first time in each environment; answers at once after."""
    marker = os.environ.get("FAULT_MARKER_FILE", "")
    if marker and not os.path.exists(marker):
        open(marker, "w").close()
        time.sleep(30)
    return {"statusCode": 200, "body": "{}", "remaining_ms": context.get_remaining_time_in_millis(), "pid": os.getpid()}


def environment(event: Any, context: Any) -> dict[str, Any]:
    """What the execution environment looks like from inside."""
    return {key: value for key, value in os.environ.items() if key.startswith(("AWS_", "TRANSFLOW_"))}


def sized(event: Any, context: Any) -> dict[str, Any]:
    """A response of ``quotes`` quotes and ``spaces`` spaces as its body (the test sizes it with
    Lambda's own marshaller): read from a direct invoke's event or the HTTP query string."""
    params = event.get("queryStringParameters") or event
    body = '"' * int(params["quotes"]) + " " * int(params["spaces"]) + "é" * int(params.get("accents") or 0)
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": body, "isBase64Encoded": False}
