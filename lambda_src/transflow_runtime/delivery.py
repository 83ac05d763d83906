"""One webhook delivery attempt: build the signed request, send it, classify what happened.

The outcome is one of three:

* ``success`` — any 2xx within the timeout.
* ``stop`` — retrying cannot help or the receiver asked us to stop: ``410 Gone``, a URL the SSRF
  guard refuses, or a target without a signing secret. The message goes to the DLQ at once.
* ``retry`` — everything else: network errors, timeouts, resets, DNS failures, TLS errors, 5xx,
  408, 429 and the other 3xx/4xx. Most 4xx from a webhook receiver are deployment or
  configuration faults a person fixes within the retry window (404 while a route is deployed,
  401/403 during a secret rotation or from a WAF, 413 until a body limit is raised), and the
  schedule bounds the cost, so, as Stripe and Svix do, they are retried rather than dropped.
  ``Retry-After`` (seconds or an HTTP date) is reported so the caller can wait at least that long.

Redirects are never followed (a 3xx is a failed attempt): a redirect could point anywhere, and
the SSRF guard checked only the original host. Stdlib only.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from . import __version__
from .netguard import NetGuard, Target, UnsafeTargetError
from .serialize import status_to_wire
from .webhooks import Secret, sign_webhook

SUCCESS = "success"
RETRY = "retry"
STOP = "stop"

USER_AGENT = f"transflow-webhooks/{__version__}"
EVENT_HEADER = "X-Transflow-Event"
#: Status codes after which retrying is pointless: the receiver says the endpoint is gone for good.
STOP_STATUS_CODES = frozenset({410})
#: The receiver's answer body is not used; at most this much is read before closing.
MAX_RESPONSE_BYTES = 64 * 1024


@dataclass(frozen=True)
class DeliveryResult:
    """What one attempt produced. ``duration`` is in seconds; ``retry_after`` too, when sent."""

    outcome: str
    status_code: int | None = None
    error: str | None = None
    duration: float = 0.0
    retry_after: float | None = None
    address: str | None = None
    target: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == SUCCESS


def build_request(
    item: Mapping[str, Any] | Any,
    secret: Secret,
    *,
    event_id: str,
    event: str,
    timestamp: int | None = None,
) -> tuple[bytes, dict[str, str]]:
    """The body (``status_to_wire`` of the item, exactly) and every header of one delivery."""
    body = status_to_wire(item)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: event,
        **sign_webhook(body, secret, event_id=event_id, timestamp=timestamp),
    }
    return body, headers


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), else ``None``."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(int(value))
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None or moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


def classify_status(status: int, reason: str, retry_after: str | None) -> tuple[str, str | None, float | None]:
    """(outcome, error, retry-after seconds) for an HTTP response status."""
    if 200 <= status < 300:
        return SUCCESS, None, None
    if status in STOP_STATUS_CODES:
        return STOP, f"HTTP {status} {reason}: the receiver says this endpoint is gone".strip(), None
    wait = parse_retry_after(retry_after)
    if 300 <= status < 400:
        return RETRY, f"HTTP {status} {reason}: redirects are not followed".strip(), wait
    return RETRY, f"HTTP {status} {reason}".strip(), wait


def _network_error(exc: BaseException, timed_out: bool, timeout: float) -> str:
    if timed_out or isinstance(exc, (TimeoutError, socket.timeout)):
        return f"timed out after {timeout:g} s"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate verification failed: {exc.verify_message or exc}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    # RemoteDisconnected (EOF before a status line) subclasses ConnectionResetError: test it first.
    if isinstance(exc, http.client.RemoteDisconnected):
        return "connection closed without a response"
    if isinstance(exc, ConnectionResetError):
        return "connection reset by peer"
    if isinstance(exc, http.client.HTTPException):
        return f"invalid HTTP response: {type(exc).__name__}"
    return f"network error: {type(exc).__name__}: {exc}"


def _auth_headers(target: Target, headers: Mapping[str, str]) -> dict[str, str]:
    out = dict(headers)
    if target.username is not None and not any(k.lower() == "authorization" for k in out):
        token = f"{target.username}:{target.password or ''}".encode()
        out["Authorization"] = "Basic " + base64.b64encode(token).decode("ascii")
    return out


def deliver(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    guard: NetGuard,
    timeout: float,
    ssl_context: ssl.SSLContext | None = None,
) -> DeliveryResult:
    """POST ``body`` to ``url`` once, within ``timeout`` seconds overall; never raises for the
    receiver's or the network's faults (they become a ``DeliveryResult``)."""
    start = time.monotonic()

    def result(outcome: str, **fields: Any) -> DeliveryResult:
        return DeliveryResult(outcome, duration=round(time.monotonic() - start, 4), **fields)

    try:
        target = guard.parse(url)
    except UnsafeTargetError as exc:
        return result(STOP, error=str(exc))
    try:
        addresses = guard.resolve(target)
    except UnsafeTargetError as exc:
        return result(STOP, error=str(exc), target=target.display)
    except (OSError, UnicodeError) as exc:
        return result(RETRY, error=f"DNS resolution of {target.host} failed: {exc}", target=target.display)

    request_headers = _auth_headers(target, headers)
    last_error = "no address to connect to"
    for address in addresses:
        remaining = timeout - (time.monotonic() - start)
        if remaining <= 0:
            return result(RETRY, error=f"timed out after {timeout:g} s", target=target.display)
        conn = guard.connection(target, address, timeout=remaining, ssl_context=ssl_context)
        timed_out = threading.Event()

        def abort(conn: http.client.HTTPConnection = conn, flag: threading.Event = timed_out) -> None:
            # Per-socket-operation timeouts would let a slow-dripping receiver run forever.
            flag.set()
            sock = conn.sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

        watchdog = threading.Timer(remaining, abort)
        watchdog.daemon = True
        watchdog.start()
        try:
            try:
                conn.connect()
            except OSError as exc:
                # Connection-level failure: another checked address of the same host may work.
                last_error = _network_error(exc, timed_out.is_set(), timeout)
                continue
            try:
                conn.request("POST", target.path, body=body, headers=request_headers)
                response = conn.getresponse()
                status, reason = response.status, response.reason or ""
                retry_after = response.getheader("Retry-After")
                # Read a bounded amount of the answer so the connection closes cleanly (closing
                # with unread data makes the kernel reset it); the status already decided.
                with contextlib.suppress(OSError, http.client.HTTPException):
                    response.read(MAX_RESPONSE_BYTES)
            except (OSError, http.client.HTTPException) as exc:
                return result(
                    RETRY,
                    error=_network_error(exc, timed_out.is_set(), timeout),
                    address=str(address),
                    target=target.display,
                )
        finally:
            watchdog.cancel()
            conn.close()
        outcome, error, wait = classify_status(status, reason, retry_after)
        return result(
            outcome, status_code=status, error=error, retry_after=wait, address=str(address), target=target.display
        )
    return result(RETRY, error=last_error, target=target.display)
