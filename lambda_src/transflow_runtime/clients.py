"""Python clients for the status service: ``StatusClient`` (HTTP API) and ``StatusLambdaClient``.

``StatusClient`` uses only the standard library (urllib), so a front-end server or a script
needs no HTTP dependency. It polls the way the seed recommends (2 s while active, 5 s while
queued, x1.2 backoff up to 10 s while the assembly does not exist yet, stop when terminal),
honours ``Retry-After``, revalidates with ``ETag``/``If-None-Match``, retries transient failures
with exponential backoff and raises typed errors for 401 and 403.

``StatusLambdaClient`` invokes the status Lambda directly (``lambda:InvokeFunction``), as the
seed's client of the same name does, and returns a ``StatusResult``.
"""

from __future__ import annotations

import contextlib
import email.utils
import http.client
import json
import math
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .models import AssemblyStatus
from .schema import STATE_QUEUED

MAX_BATCH_IDS = 100
_TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Statuses that mean the request was not processed, so even a POST may be sent again.
_NOT_PROCESSED_STATUSES = frozenset({429, 503})


# --- errors ----------------------------------------------------------------------------------------
class StatusClientError(Exception):
    """The status service refused or failed a request. ``status_code`` is None without a response."""

    def __init__(self, message: str, *, status_code: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body


class AuthenticationError(StatusClientError):
    """No valid token: 401, or API Gateway's ``403 {"message": "Forbidden"}`` for a token the
    shared-secret authorizer refused (expired, wrong signature...). Get a fresh token."""


class AccessDeniedError(StatusClientError):
    """The token is valid but the assembly belongs to another user (403)."""


class _DeadlineReached(Exception):
    """Internal: ``wait``'s deadline comes before the next request could be answered; the
    message says what the last attempt ran into, if anything."""


class StatusTimeoutError(StatusClientError, TimeoutError):
    """``wait`` gave up before the assembly reached a terminal state."""

    def __init__(self, message: str, last_status: AssemblyStatus | None) -> None:
        super().__init__(message)
        self.last_status = last_status


# --- results ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StatusPage:
    """One page of ``StatusClient.list``: newest first, ``next_cursor`` None on the last page."""

    assemblies: list[AssemblyStatus]
    next_cursor: str | None


@dataclass(frozen=True)
class StatusResult:
    """What ``StatusLambdaClient`` returns, as the seed's client does.

    ``status_code`` is the status the function answered (None if it could not be invoked or
    failed without answering); ``event_id`` is the replay's webhook event id when one was sent.
    """

    success: bool
    status: AssemblyStatus | None = None
    error: str | None = None
    status_code: int | None = None
    event_id: str | None = None
    headers: dict[str, str] = field(default_factory=dict, repr=False)


class _Response(NamedTuple):
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Never follow redirects: urllib would forward the bearer token to wherever they point."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _retry_after(headers: dict[str, str]) -> float | None:
    """``Retry-After`` in seconds (RFC 9110 10.2.3: delay-seconds or an HTTP-date), else None.

    Long values are kept: callers bound the pause (``max_retry_delay``, ``wait``'s deadline)."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        return max(0.0, seconds)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _error_text(body: bytes) -> tuple[str | None, Any]:
    try:
        data = json.loads(body.decode("utf-8")) if body else None
    except (UnicodeDecodeError, ValueError):
        return None, None
    if isinstance(data, dict):
        for key in ("error", "message"):
            if isinstance(data.get(key), str):
                return data[key][:500], data
    return None, data


# --- HTTP client -------------------------------------------------------------------------------------
class StatusClient:
    """Client of the HTTP status API.

    :param base_url: the API's URL (``TransflowStatus.api_url`` or local mode's ``api_url``).
    :param token: a bearer token, or a callable returning one (called for every request, so it
        can refresh tokens); None sends no ``Authorization`` header.
    :param timeout: seconds per HTTP request.
    :param session: an ``urllib.request.OpenerDirector`` to send requests with (default: one
        that uses the environment's proxies and never follows redirects).
    :param max_retries: retries of a transient failure (5xx, 429, connection errors) per call.
    :param max_retry_delay: the longest pause before a retry outside ``wait``: a ``Retry-After``
        beyond it is not slept through, the call fails at once (``wait`` instead honours it up to
        its own deadline).
    :param sleep: the function used to wait (tests pass a recorder instead of ``time.sleep``).
    :param clock: monotonic clock used for ``wait`` timeouts.

    Not thread-safe: use one client per thread.
    """

    def __init__(
        self,
        base_url: str,
        token: str | Callable[[], str] | None = None,
        *,
        timeout: float = 10.0,
        session: urllib.request.OpenerDirector | None = None,
        max_retries: int = 4,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        user_agent: str = "transflow-runtime StatusClient",
        cache_size: int = 256,
        max_retry_delay: float = 60.0,
    ) -> None:
        parsed = urllib.parse.urlsplit(base_url or "")
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if max_retry_delay < 0:
            raise ValueError("max_retry_delay must be >= 0")
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.timeout = timeout
        self._opener = session or urllib.request.build_opener(_NoRedirect)
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._sleep = sleep
        self._clock = clock
        self._user_agent = user_agent
        self._cache: OrderedDict[str, tuple[str, AssemblyStatus]] = OrderedDict()
        self._cache_size = cache_size
        self.max_retry_delay = max_retry_delay

    # ------------------------------------------------------------------ transport
    def _auth_header(self) -> dict[str, str]:
        token = self._token() if callable(self._token) else self._token
        if not token:
            return {}
        if not isinstance(token, str):
            raise ValueError("token must be a string or a callable returning one")
        if token[:7].lower() == "bearer ":
            return {"Authorization": token}
        return {"Authorization": f"Bearer {token}"}

    def _backoff(self, attempt: int) -> float:
        return min(self.backoff_max, self.backoff_base * 2**attempt)

    def _send(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        payload: Any = None,
        headers: dict[str, str] | None = None,
        idempotent: bool = True,
        deadline: float | None = None,
    ) -> _Response:
        """One call, retried on transient failures. With a ``deadline`` (``wait``), no request
        outlives it (each socket timeout is capped by the time left) and no retry is scheduled
        past it: ``_DeadlineReached`` is raised instead."""
        url = self.base_url + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None if payload is None else json.dumps(payload, separators=(",", ":")).encode("utf-8")
        attempt = 0
        while True:
            timeout = self.timeout
            if deadline is not None:
                remaining = deadline - self._clock()
                if remaining <= 0:
                    raise _DeadlineReached()
                timeout = min(timeout, remaining)
            request_headers = {"Accept": "application/json", "User-Agent": self._user_agent}
            request_headers.update(self._auth_header())
            if data is not None:
                request_headers["Content-Type"] = "application/json"
            request_headers.update(headers or {})
            # base_url is checked to be http(s) in __init__.
            request = urllib.request.Request(url, data=data, method=method, headers=request_headers)  # noqa: S310
            try:
                with self._opener.open(request, timeout=timeout) as raw:
                    response = _Response(raw.status, {k.lower(): v for k, v in raw.headers.items()},
                                         self._read_body(raw, deadline))
            except urllib.error.HTTPError as exc:
                try:
                    body = self._read_body(exc, deadline)
                except (OSError, http.client.HTTPException):
                    body = b""
                hdrs = {k.lower(): v for k, v in (exc.headers or {}).items()}
                response = _Response(exc.code, hdrs, body)
            except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:  # incl. timeouts
                reason = getattr(exc, "reason", exc)
                unreachable = f"cannot reach the status API ({reason})"
                if attempt < self.max_retries and (idempotent or isinstance(reason, ConnectionRefusedError)):
                    self._pause(self._backoff(attempt), deadline, unreachable)
                    attempt += 1
                    continue
                if deadline is not None and deadline - self._clock() <= 0:
                    raise _DeadlineReached(unreachable) from exc
                raise StatusClientError(f"{method} {path}: {unreachable}") from exc
            retryable = response.status in (_TRANSIENT_STATUSES if idempotent else _NOT_PROCESSED_STATUSES)
            if retryable and attempt < self.max_retries:
                delay = max(self._backoff(attempt), _retry_after(response.headers) or 0)
                if deadline is None and delay > self.max_retry_delay:
                    return response  # the server asks for a longer pause than a call may take
                self._pause(delay, deadline, f"the status API answered {response.status}")
                attempt += 1
                continue
            return response

    def _pause(self, delay: float, deadline: float | None, why: str) -> None:
        """Sleep before a retry; when the retry would come too late, sleep to the deadline and
        raise ``_DeadlineReached`` saying ``why`` a retry was needed."""
        if deadline is not None:
            remaining = deadline - self._clock()
            if delay >= remaining:
                self._sleep(max(0.0, remaining))
                raise _DeadlineReached(why)
        self._sleep(delay)

    def _read_body(self, raw: Any, deadline: float | None) -> bytes:
        """The response body, read in pieces so that a server that trickles it cannot hold a
        ``wait`` past its deadline (each piece is also bound by the socket timeout)."""
        if deadline is None:
            return raw.read()
        read1 = getattr(raw, "read1", raw.read)  # at most one socket read per call
        chunks = []
        while True:
            chunk = read1(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            if self._clock() >= deadline:
                raise TimeoutError("the response did not arrive before the deadline")

    def _raise_for(self, response: _Response, what: str) -> None:
        message, data = _error_text(response.body)
        text = f"{what}: {response.status} {message or 'error'}"
        if response.status == 401:
            raise AuthenticationError(text, status_code=401, body=data)
        if response.status == 403:
            if isinstance(data, dict) and "error" not in data:
                # API Gateway's own answer when the Lambda authorizer denies the token.
                raise AuthenticationError(f"{what}: 403 the token was rejected", status_code=403, body=data)
            raise AccessDeniedError(text, status_code=403, body=data)
        raise StatusClientError(text, status_code=response.status, body=data)

    @staticmethod
    def _json(response: _Response, what: str) -> Any:
        try:
            return json.loads(response.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise StatusClientError(f"{what}: the response is not JSON", status_code=response.status) from None

    @staticmethod
    def _check_id(assembly_id: Any) -> str:
        if not isinstance(assembly_id, str) or not assembly_id:
            raise ValueError("assembly_id must be a non-empty string")
        return assembly_id

    def _remember(self, assembly_id: str, etag: str | None, status: AssemblyStatus) -> None:
        if not etag or self._cache_size <= 0:
            return
        self._cache[assembly_id] = (etag, status)
        self._cache.move_to_end(assembly_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _fetch(
        self, assembly_id: str, deadline: float | None = None
    ) -> tuple[int, AssemblyStatus | None, float | None]:
        """(HTTP status 200/304/404, status or None, Retry-After); revalidates with the cached ETag."""
        cached = self._cache.get(assembly_id)
        headers = {"If-None-Match": cached[0]} if cached else None
        what = f"GET assembly {assembly_id}"
        response = self._send("GET", "/assemblies/" + urllib.parse.quote(assembly_id, safe=""), headers=headers,
                              deadline=deadline)
        retry_after = _retry_after(response.headers)
        if response.status == 404:
            self._cache.pop(assembly_id, None)
            return 404, None, retry_after
        if response.status == 304 and cached:
            return 304, cached[1], retry_after
        if response.status != 200:
            self._raise_for(response, what)
        try:
            status = AssemblyStatus.from_item(self._json(response, what))
        except ValueError as exc:
            raise StatusClientError(f"{what}: the response is not an AssemblyStatus ({exc})", status_code=200) from None
        self._remember(assembly_id, response.headers.get("etag"), status)
        return 200, status, retry_after

    # ------------------------------------------------------------------ API
    def get(self, assembly_id: str) -> AssemblyStatus | None:
        """The assembly's status, or None while it does not exist (404)."""
        return self._fetch(self._check_id(assembly_id))[1]

    def get_many(self, assembly_ids: Iterable[str]) -> dict[str, AssemblyStatus | None]:
        """Statuses of several assemblies (batches of 100); unknown or foreign ids map to None."""
        ids = list(dict.fromkeys(self._check_id(i) for i in assembly_ids))
        out: dict[str, AssemblyStatus | None] = {}
        for start in range(0, len(ids), MAX_BATCH_IDS):
            out.update(self._batch(ids[start : start + MAX_BATCH_IDS]))
        return {i: out.get(i) for i in ids}

    def _batch(self, ids: list[str]) -> dict[str, AssemblyStatus | None]:
        response = self._send("POST", "/status/batch", payload={"assemblyIds": ids})
        if response.status == 413 and len(ids) > 1:
            # Large statuses: the service cannot return them all at once; split the batch.
            half = len(ids) // 2
            return {**self._batch(ids[:half]), **self._batch(ids[half:])}
        if response.status != 200:
            self._raise_for(response, "POST /status/batch")
        data = self._json(response, "POST /status/batch")
        found = data.get("assemblies") if isinstance(data, dict) else None
        if not isinstance(found, dict):
            raise StatusClientError("POST /status/batch: unexpected response", status_code=200)
        return {i: (AssemblyStatus.from_item(found[i]) if found.get(i) else None) for i in ids}

    def list(self, *, limit: int = 25, cursor: str | None = None, active: bool = False) -> StatusPage:
        """One page of the caller's assemblies, newest first."""
        if not 1 <= limit <= 100:
            raise ValueError("limit must be between 1 and 100")
        query = {"limit": str(limit)}
        if cursor:
            query["cursor"] = cursor
        if active:
            query["active"] = "true"
        response = self._send("GET", "/assemblies", query=query)
        if response.status != 200:
            self._raise_for(response, "GET /assemblies")
        data = self._json(response, "GET /assemblies")
        if not isinstance(data, dict) or not isinstance(data.get("assemblies"), list):
            raise StatusClientError("GET /assemblies: unexpected response", status_code=200)
        return StatusPage(
            [AssemblyStatus.from_item(a) for a in data["assemblies"]],
            data.get("next_cursor") if isinstance(data.get("next_cursor"), str) else None,
        )

    def iter_assemblies(self, *, active: bool = False, page_size: int = 100) -> Iterator[AssemblyStatus]:
        """Every assembly of the caller, newest first, following cursors."""
        cursor: str | None = None
        while True:
            page = self.list(limit=page_size, cursor=cursor, active=active)
            yield from page.assemblies
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def notify(self, assembly_id: str) -> str:
        """Re-send the assembly's webhook (owner only); returns the new event id."""
        assembly_id = self._check_id(assembly_id)
        path = "/assemblies/" + urllib.parse.quote(assembly_id, safe="") + "/notify"
        response = self._send("POST", path, idempotent=False)
        if response.status != 202:
            self._raise_for(response, f"POST notify {assembly_id}")
        data = self._json(response, f"POST notify {assembly_id}")
        return str(data.get("event_id", "")) if isinstance(data, dict) else ""

    def wait(
        self,
        assembly_id: str,
        on_update: Callable[[AssemblyStatus], None] | None = None,
        timeout: float | None = None,
        *,
        active_interval: float = 2.0,
        queued_interval: float = 5.0,
        not_found_backoff: float = 1.2,
        not_found_max_interval: float = 10.0,
    ) -> AssemblyStatus:
        """Poll until the assembly is terminal and return its final status.

        Intervals follow the seed: ``active_interval`` while uploading/executing,
        ``queued_interval`` while queued, and while the assembly does not exist yet the interval
        grows by ``not_found_backoff`` up to ``not_found_max_interval``; a larger
        ``Retry-After`` from the server wins. ``on_update`` is called with every new status
        (not for 304 revalidations). Raises ``StatusTimeoutError`` once ``timeout`` seconds have
        passed: the deadline holds across retries, ``Retry-After`` (a pause ending past it is cut
        short) and hung connections (every request's socket timeout is capped by the time left),
        so it comes at the deadline, or at most one socket timeout later from a server that
        trickles its answer.
        """
        assembly_id = self._check_id(assembly_id)
        # No timeout: no deadline, and a long Retry-After is honoured (not capped by max_retry_delay).
        deadline = math.inf if timeout is None else self._clock() + timeout
        not_found_interval = active_interval
        last: AssemblyStatus | None = None
        while True:
            try:
                code, status, retry_after = self._fetch(assembly_id, deadline)
            except _DeadlineReached as exc:
                cause = f"; the last attempt: {exc}" if str(exc) else ""
                message = f"assembly {assembly_id} did not finish within {timeout} s{cause}"
                raise StatusTimeoutError(message, last) from None
            if code == 404:
                not_found_interval = min(not_found_interval * not_found_backoff, not_found_max_interval)
                delay = not_found_interval
            else:
                not_found_interval = active_interval
                assert status is not None
                fresh = code == 200 and status is not last
                stale = (
                    last is not None and last.version is not None and status.version is not None
                    and status.version < last.version
                )
                if fresh and not stale:
                    last = status
                    if on_update is not None:
                        on_update(status)
                elif last is None:
                    last = status
                if last.is_terminal:  # terminal.py: by state, or by the seed's ok/error
                    return last
                delay = queued_interval if last.state == STATE_QUEUED else active_interval
            delay = max(delay, retry_after or 0)
            if deadline is not None:
                remaining = deadline - self._clock()
                if remaining <= 0:
                    raise StatusTimeoutError(
                        f"assembly {assembly_id} did not finish within {timeout} s", last
                    )
                delay = min(delay, remaining)
            self._sleep(delay)


# --- Lambda client -----------------------------------------------------------------------------------
class StatusLambdaClient:
    """Invokes the status Lambda directly, as the seed's ``StatusLambdaClient`` does.

    :param function_name: name or ARN (``TransflowStatus.status_function.function_name``).
    :param client: a boto3 Lambda client; default ``boto3.client("lambda", region_name=region)``.

    With ``user_id`` the function checks ownership (403 for another user's assembly); without
    it the caller is trusted (its IAM permission to invoke is the access control).
    """

    def __init__(
        self, function_name: str, client: Any = None, region: str | None = None, *, qualifier: str | None = None
    ) -> None:
        if not isinstance(function_name, str) or not function_name:
            raise ValueError("function_name must be a non-empty string")
        if client is None:
            import boto3

            client = boto3.client("lambda", region_name=region)
        self.function_name = function_name
        self.client = client
        self.qualifier = qualifier

    def get_status(self, assembly_id: str, user_id: str | None = None) -> StatusResult:
        """The assembly's status; ``success`` is False with ``status_code``/``error`` otherwise."""
        return self._invoke(assembly_id, user_id, trigger_webhook=False)

    def get_status_with_webhook(self, assembly_id: str, user_id: str | None = None) -> StatusResult:
        """The status, and a re-sent webhook (``event_id``) when the read succeeded."""
        return self._invoke(assembly_id, user_id, trigger_webhook=True)

    def _invoke(self, assembly_id: str, user_id: str | None, *, trigger_webhook: bool) -> StatusResult:
        if not isinstance(assembly_id, str) or not assembly_id:
            raise ValueError("assembly_id must be a non-empty string")
        if user_id is not None and (not isinstance(user_id, str) or not user_id):
            raise ValueError("user_id must be a non-empty string or None")
        event: dict[str, Any] = {"assemblyId": assembly_id}
        if user_id is not None:
            event["userId"] = user_id
        if trigger_webhook:
            event["triggerWebhook"] = True
        kwargs: dict[str, Any] = {
            "FunctionName": self.function_name,
            "InvocationType": "RequestResponse",
            "Payload": json.dumps(event, separators=(",", ":")).encode("utf-8"),
        }
        if self.qualifier:
            kwargs["Qualifier"] = self.qualifier
        try:
            response = self.client.invoke(**kwargs)
            raw = response["Payload"].read()
        except Exception as exc:  # botocore errors: permissions, throttling, network
            return StatusResult(False, error=f"invoking {self.function_name} failed: {exc}")
        if response.get("FunctionError"):
            message = None
            with contextlib.suppress(ValueError, AttributeError):
                message = json.loads(raw).get("errorMessage")
            return StatusResult(False, error=f"the status function failed: {message or response['FunctionError']}")
        try:
            answer = json.loads(raw)
            status_code = int(answer["statusCode"])
            headers = {str(k): str(v) for k, v in (answer.get("headers") or {}).items()}
            body = json.loads(answer.get("body") or "null")
        except (ValueError, TypeError, KeyError, AttributeError):
            return StatusResult(False, error="the status function returned an unexpected response")
        lowered = {k.lower(): v for k, v in headers.items()}
        if status_code == 200 and isinstance(body, dict):
            try:
                status = AssemblyStatus.from_item(body)
            except ValueError as exc:
                return StatusResult(False, error=f"unexpected status document: {exc}", status_code=status_code)
            return StatusResult(
                True, status=status, status_code=200, event_id=lowered.get("x-transflow-event-id"), headers=headers
            )
        error = body.get("error") if isinstance(body, dict) else None
        return StatusResult(False, error=error or f"status {status_code}", status_code=status_code, headers=headers)
