"""A fault-injecting TCP proxy for AWS calls (not a test module).

It sits between a boto3 client and a moto server, reads each HTTP request, forwards it upstream,
reads the whole response and then either passes it back or **drops it**: the client's connection
is closed without a byte of the answer, after the service has applied the request. That is the
failure botocore retries ("connection closed before a response"), and the one that makes a
non-idempotent write land twice.

    with DroppingProxy(moto_endpoint) as proxy:
        proxy.drop("UpdateItem", times=1)          # the next UpdateItem's response is lost
        proxy.drop_every("UpdateItem", 3)          # or every third one
        client = boto3.client("dynamodb", endpoint_url=proxy.url)
"""

from __future__ import annotations

import http.client
import socket
import socketserver
import threading
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection"}


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


class DroppingProxy:
    """``url`` forwards to ``upstream``; counters say what was forwarded and dropped, per operation."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.forwarded: Counter[str] = Counter()
        self.dropped: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._drop_next: Counter[str] = Counter()
        self._drop_every: dict[str, int] = {}
        self._first_attempts: Counter[str] = Counter()
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                proxy._serve(self.request)

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    # ------------------------------------------------------------------ rules
    def drop(self, operation: str, times: int = 1) -> None:
        """Lose the responses of the next ``times`` requests for ``operation`` (e.g. ``UpdateItem``)."""
        with self._lock:
            self._drop_next[operation] += times

    def drop_every(self, operation: str, n: int) -> None:
        """Lose the response of every ``n``-th first attempt of ``operation`` from now on.

        Retries (botocore's ``amz-sdk-request: attempt=2; ...``) always get their answer, so a
        request is lost at most once, as when one connection breaks."""
        with self._lock:
            self._drop_every[operation] = n

    def _should_drop(self, operation: str, attempt: int) -> bool:
        with self._lock:
            self.forwarded[operation] += 1
            if self._drop_next[operation] > 0:
                self._drop_next[operation] -= 1
                drop = True
            else:
                every = self._drop_every.get(operation)
                if every and attempt == 1:
                    self._first_attempts[operation] += 1
                drop = bool(every) and attempt == 1 and self._first_attempts[operation] % every == 0
            if drop:
                self.dropped[operation] += 1
            return drop

    # ------------------------------------------------------------------ forwarding
    def _serve(self, client: socket.socket) -> None:
        reader = client.makefile("rb")
        try:
            while True:
                request = _read_request(reader)
                if request is None:
                    return
                method, target, headers, body = request
                amz_target = next((v for k, v in headers if k.lower() == "x-amz-target"), "")
                operation = amz_target.rpartition(".")[2] or method
                sdk_request = next((v for k, v in headers if k.lower() == "amz-sdk-request"), "")
                attempt = int(sdk_request.partition("attempt=")[2].partition(";")[0] or 1)
                status, reason, response_headers, response_body = self._forward(method, target, headers, body)
                if self._should_drop(operation, attempt):
                    # Applied upstream, answer lost: close without sending anything.
                    client.shutdown(socket.SHUT_RDWR)
                    return
                head = [f"HTTP/1.1 {status} {reason}"]
                head += [f"{k}: {v}" for k, v in response_headers if k.lower() not in _HOP_BY_HOP]
                head += [f"Content-Length: {len(response_body)}", "", ""]
                client.sendall("\r\n".join(head).encode("latin-1") + response_body)
        except OSError:
            return
        finally:
            reader.close()

    def _forward(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> tuple[Any, ...]:
        conn = http.client.HTTPConnection(*self.upstream, timeout=60)
        try:
            conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            for key, value in headers:
                if key.lower() not in _HOP_BY_HOP:
                    conn.putheader(key, value)
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            response = conn.getresponse()
            return response.status, response.reason, response.getheaders(), response.read()
        finally:
            conn.close()

    def __enter__(self) -> DroppingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _read_request(reader: Any) -> tuple[str, str, list[tuple[str, str]], bytes] | None:
    line = reader.readline()
    if not line:
        return None
    method, target, _version = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    headers: list[tuple[str, str]] = []
    while True:
        raw = reader.readline()
        if raw in (b"\r\n", b"\n", b""):
            break
        key, _, value = raw.decode("latin-1").partition(":")
        headers.append((key.strip(), value.strip()))
    length = int(next((v for k, v in headers if k.lower() == "content-length"), "0") or 0)
    return method, target, headers, reader.read(length) if length else b""
