"""The time an invocation has left, so no AWS call outlives the Lambda function's timeout.

Per-operation socket timeouts and a retry count do not bound a call: three attempts of a read
timeout each, plus backoff, outlast a 10 s function, and a server that trickles its answer never
trips a per-read timeout. Lambda then kills the function: the client gets API Gateway's bare 500
and none of the handler's log lines or metrics are written. So the status and authorizer handlers
run under ``for_invocation(context)``: the light client's attempts, backoff sleeps and each whole
response end before ``context.get_remaining_time_in_millis()`` minus a reserve in which the
handler still answers and logs its own failure. Outside an invocation there is no deadline (each
attempt is still bounded by the transport's timeouts).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

#: Share of the remaining time kept for the handler's own failure answer, within these bounds (s).
RESERVE_SHARE = 0.1
MIN_RESERVE_SECONDS = 0.1
MAX_RESERVE_SECONDS = 1.0

_deadline: ContextVar[float | None] = ContextVar("transflow_aws_deadline", default=None)


def current() -> float | None:
    """The ``time.monotonic()`` instant AWS calls must be done by, or None."""
    return _deadline.get()


def reserve(remaining: float) -> float:
    return min(MAX_RESERVE_SECONDS, max(MIN_RESERVE_SECONDS, remaining * RESERVE_SHARE))


@contextmanager
def within(seconds: float | None, *, clock: Any = time.monotonic) -> Iterator[None]:
    """AWS calls made inside end within ``seconds`` from now (None: no deadline).

    A deadline already in force is never extended."""
    deadline = None if seconds is None else clock() + seconds
    outer = _deadline.get()
    if outer is not None and (deadline is None or outer < deadline):
        deadline = outer
    token = _deadline.set(deadline)
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining_seconds(context: Any) -> float | None:
    """What Lambda's context says is left, or None for a context without it (tests, tools)."""
    method = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(method):
        return None
    millis = method()
    if isinstance(millis, bool) or not isinstance(millis, (int, float)):
        return None  # a stand-in context (a mock) says nothing about time
    return millis / 1000.0


def for_invocation(context: Any) -> Any:
    """``within`` the invocation's remaining time minus the handler's reserve."""
    remaining = remaining_seconds(context)
    if remaining is None:
        return within(None)
    return within(max(0.0, remaining - reserve(remaining)))
