"""A real webhook receiver: an HTTP server on 127.0.0.1 that records what it is sent.

``plan`` maps a path, or an assembly id found in the body, to the status codes to answer in turn
(the last one repeats), so a test can make an endpoint fail first and recover, or fail forever.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class Receiver:
    plan: dict[str, list[int]] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[str, int] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status = receiver._next_status(receiver._key(self.path, body))
                with receiver._lock:
                    receiver.deliveries.append(
                        Delivery(self.path, {k.lower(): v for k, v in self.headers.items()}, body, status)
                    )
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _key(self, path: str, body: bytes) -> str:
        with self._lock:
            keys = list(self.plan)
        return next((k for k in keys if k.encode() in body), path)

    def _next_status(self, path: str) -> int:
        with self._lock:
            n = self._calls.get(path, 0)
            self._calls[path] = n + 1
        statuses = self.plan.get(path, [200])
        return statuses[min(n, len(statuses) - 1)]

    def for_assembly(self, assembly_id: str) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if assembly_id.encode() in d.body]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
