"""HTTP/1.1 for the light client: verified TLS, kept-alive connections, timeouts.

A Lambda execution environment serves invocations one after the other for minutes, so the
connection to DynamoDB made by the first request is reused by the next ones (keep-alive). An
idle connection is checked before reuse: one the server has closed (the socket reads as
readable) or one idle longer than ``MAX_IDLE_SECONDS`` (its NAT or load balancer mapping may be
gone while the environment was frozen) is replaced by a new one instead of failing a request.

TLS uses the system's trust store (or ``AWS_CA_BUNDLE``, as botocore does) with hostname checks;
the context is built on the first HTTPS connection, as urllib3 loads certificates then too.
Failures become botocore's exceptions (``EndpointConnectionError``, ``ConnectTimeoutError``,
``ReadTimeoutError``, ``ConnectionClosedError``, ``SSLError``), which the retry layer treats as
transient, as botocore's standard mode does.
"""

from __future__ import annotations

import http.client
import io
import select
import ssl
import threading
import time
from contextvars import ContextVar
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from .errors import (
    BotoCoreError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    ReadTimeoutError,
    SSLError,
)

#: Seconds to open a TCP connection (and finish the TLS handshake). AWS endpoints answer a SYN in
#: milliseconds; waiting botocore's 60 s would outlive the status function's 10 s timeout.
CONNECT_TIMEOUT = 3.0
#: Seconds a whole response may take once the request is sent (not per read: a server trickling
#: its answer one byte at a time is cut off too). DynamoDB answers a GetItem in single-digit ms.
READ_TIMEOUT = 5.0
#: An idle connection older than this is not reused (typical idle timeouts are 60 to 350 s).
MAX_IDLE_SECONDS = 50.0
MAX_IDLE_CONNECTIONS = 4


class Response(NamedTuple):
    status: int
    headers: dict[str, str]  #: names lower-cased; a repeated header's values joined with ", "
    body: bytes


#: (end, clock) of the response being read: when the bounded response below must be complete.
_response_end: ContextVar[tuple[float, Any]] = ContextVar("transflow_response_end")


class _BoundedReader(io.RawIOBase):
    """The socket's bytes, each read given only the time left until the response's end.

    Reads go through the socket's own unbuffered ``SocketIO``, which keeps the socket open while
    the response is read even when the connection is closed meanwhile (``Connection: close``)."""

    def __init__(self, sock: Any, end: float, clock: Any) -> None:
        super().__init__()
        self._sock, self._end, self._clock = sock, end, clock
        self._raw = sock.makefile("rb", buffering=0)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self._end - self._clock()
        if left <= 0:
            raise TimeoutError("the response did not arrive in time")
        self._sock.settimeout(left)
        return self._raw.readinto(buffer)

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


class _BoundedSocket:
    """What ``HTTPResponse`` needs of a socket (``makefile``), reading through ``_BoundedReader``."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock

    def makefile(self, mode: str, *args: Any, **kwargs: Any) -> io.BufferedReader:
        end, clock = _response_end.get()
        return io.BufferedReader(_BoundedReader(self._sock, end, clock))


class _BoundedResponse(http.client.HTTPResponse):
    """Status line, headers and body all read before the response's end (``Transport.send``)."""

    def __init__(self, sock: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(_BoundedSocket(sock), *args, **kwargs)  # type: ignore[arg-type]


_ssl_contexts: dict[str | None, ssl.SSLContext] = {}
_ssl_lock = threading.Lock()


def ssl_context(ca_bundle: str | None = None) -> ssl.SSLContext:
    """Certificate and hostname verification against the system store, or ``ca_bundle``."""
    with _ssl_lock:
        context = _ssl_contexts.get(ca_bundle)
        if context is None:
            context = ssl.create_default_context(cafile=ca_bundle)
            _ssl_contexts[ca_bundle] = context
        return context


def _dropped(sock: Any) -> bool:
    """An idle keep-alive socket is readable only if the peer closed it (or sent garbage)."""
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class Transport:
    """Sends requests and reads whole responses, keeping connections per (scheme, host, port)."""

    def __init__(
        self,
        *,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
        ca_bundle: str | None = None,
        clock: Any = time.monotonic,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.ca_bundle = ca_bundle
        self._clock = clock
        self._idle: dict[tuple[str, str, int], list[tuple[http.client.HTTPConnection, float]]] = {}
        self._lock = threading.Lock()
        #: Connections opened so far (tests and benchmarks check reuse with it).
        self.connections_opened = 0

    def _checkout(self, key: tuple[str, str, int]) -> http.client.HTTPConnection | None:
        now = self._clock()
        with self._lock:
            idle = self._idle.get(key, [])
            while idle:
                conn, since = idle.pop()
                if now - since <= MAX_IDLE_SECONDS and not _dropped(conn.sock):
                    return conn
                conn.close()
        return None

    def _checkin(self, key: tuple[str, str, int], conn: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < MAX_IDLE_CONNECTIONS:
                idle.append((conn, self._clock()))
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            pools, self._idle = self._idle, {}
        for idle in pools.values():
            for conn, _ in idle:
                conn.close()

    def _connect(self, scheme: str, host: str, port: int, url: str, timeout: float) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = None
        try:
            if scheme == "https":
                try:
                    context = ssl_context(self.ca_bundle)
                except OSError as exc:  # an AWS_CA_BUNDLE that cannot be read: botocore's SSLError too
                    raise SSLError(endpoint_url=url, error=exc) from exc
                conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
            else:
                conn = http.client.HTTPConnection(host, port, timeout=timeout)
            conn.connect()
        except SSLError:
            raise
        except ssl.SSLError as exc:
            _close(conn)
            raise SSLError(endpoint_url=url, error=exc) from exc
        except TimeoutError as exc:
            _close(conn)
            raise ConnectTimeoutError(endpoint_url=url) from exc
        except OSError as exc:  # refused, unreachable, DNS failure
            _close(conn)
            raise EndpointConnectionError(endpoint_url=url) from exc
        except Exception as exc:  # a bad port, a control character: botocore's catch-all
            _close(conn)
            raise HTTPClientError(error=exc) from exc
        conn.response_class = _BoundedResponse
        self.connections_opened += 1
        return conn

    def send(
        self, method: str, url: str, headers: list[tuple[str, str]], body: bytes, *, deadline: float | None = None
    ) -> Response:
        """One request and its whole response, within the connect and read timeouts and before
        ``deadline`` (a ``time.monotonic()`` instant; see ``deadlines``), else a timeout error.

        Every failure is one of botocore's exceptions: what it has no name for becomes
        ``HTTPClientError``, as botocore's ``URLLib3Session.send`` does."""
        try:
            return self._send(method, url, headers, body, deadline)
        except BotoCoreError:
            raise
        except Exception as exc:
            raise HTTPClientError(error=exc) from exc

    def _send(
        self, method: str, url: str, headers: list[tuple[str, str]], body: bytes, deadline: float | None
    ) -> Response:
        parts = urlsplit(url)
        scheme = parts.scheme
        if scheme not in ("http", "https"):
            raise EndpointConnectionError(endpoint_url=url)
        host = parts.hostname or ""
        port = parts.port or (443 if scheme == "https" else 80)
        key = (scheme, host, port)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn = self._checkout(key)
        if conn is None:
            left = self.connect_timeout if deadline is None else min(self.connect_timeout, deadline - self._clock())
            if left <= 0:
                raise ConnectTimeoutError(endpoint_url=url)
            conn = self._connect(scheme, host, port, url, left)
        end = self._clock() + self.read_timeout
        if deadline is not None:
            end = min(end, deadline)
        token = _response_end.set((end, self._clock))
        try:
            left = end - self._clock()
            if left <= 0:
                raise TimeoutError("no time left for the request")
            assert conn.sock is not None
            conn.sock.settimeout(left)
            conn.request(method, target, body=body, headers=dict(headers))
            response = conn.getresponse()
            payload = response.read()
        except TimeoutError as exc:
            conn.close()
            raise ReadTimeoutError(endpoint_url=url) from exc
        except (http.client.HTTPException, OSError) as exc:  # reset, closed, truncated, garbled
            conn.close()
            raise ConnectionClosedError(endpoint_url=url) from exc
        finally:
            _response_end.reset(token)
        received: dict[str, str] = {}
        for name, value in response.getheaders():
            lname = name.lower()
            received[lname] = f"{received[lname]}, {value}" if lname in received else value
        if response.will_close:
            conn.close()
        else:
            self._checkin(key, conn)
        return Response(response.status, received, payload)


def _close(conn: http.client.HTTPConnection | None) -> None:
    if conn is not None:
        conn.close()


def is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, (ConnectTimeoutError, ReadTimeoutError))

