"""A scripted HTTP/1.1 server that misbehaves on purpose: throttles, 5xx, drops, hangs, bad CRCs.

Each request takes the next action of the script (the last one repeats). It speaks keep-alive
HTTP/1.1 (as AWS endpoints do) and records, per request, the connection it came on, its headers
and body, so tests can check retries, signing per attempt and connection reuse. Optionally TLS,
with a throwaway self-signed certificate for 127.0.0.1 / localhost.
"""

from __future__ import annotations

import binascii
import contextlib
import datetime
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Action:
    kind: str  # "json" | "raw" | "drop" | "hang" | "drip-head" | "drip-body" | "truncated"
    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    crc: str | None = "good"  # "good" | "bad" | None (no header)


def ok(payload: dict[str, Any] | None = None, **headers: str) -> Action:
    return Action("json", 200, json.dumps(payload or {}).encode(), headers)


def error(status: int, code: str, message: str = "", **headers: str) -> Action:
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message}).encode()
    return Action("json", status, body, headers)


def raw(status: int, body: bytes, **headers: str) -> Action:
    return Action("raw", status, body, headers, crc=None)


def drop() -> Action:
    """Read the request, then close the connection without answering."""
    return Action("drop")


def hang(seconds: float) -> Action:
    return Action("hang", seconds=seconds)


def truncated(payload: dict[str, Any], cut: int = 20) -> Action:
    """A 200 whose ``Content-Length`` is the whole body but only ``cut`` bytes come, then close."""
    return Action("truncated", 200, json.dumps(payload).encode(), seconds=cut, crc=None)


def drip(seconds: float, *, part: str = "body") -> Action:
    """Answer 200 one byte every ``seconds``: the headers (``part="head"``) or the body, so no
    single read ever waits long enough to time out."""
    return Action(f"drip-{part}", body=b'{"Item": {"assembly_id": {"S": "a"}}}', seconds=seconds, crc=None)


@dataclass
class Seen:
    connection: int
    headers: dict[str, str]
    body: bytes


class FaultServer:
    def __init__(self, script: list[Action], *, tls: tuple[Path, Path] | None = None,
                 close_idle_after: float | None = None) -> None:
        self.script = list(script)
        self.requests: list[Seen] = []
        self.connections = 0
        self._tls = tls
        self._close_idle_after = close_idle_after
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._open: list[socket.socket] = []

    @property
    def url(self) -> str:
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{self.port}"

    def __enter__(self) -> FaultServer:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._sock.close()
        for conn in self._open:
            with contextlib.suppress(OSError):
                conn.close()

    def close_idle_connections(self) -> None:
        """What a server does to an idle keep-alive connection: close it (FIN)."""
        for conn in self._open:
            try:
                conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            except OSError:
                pass

    def _next(self) -> Action:
        return self.script.pop(0) if len(self.script) > 1 else self.script[0]

    def _accept(self) -> None:
        context = None
        if self._tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(self._tls[0]), str(self._tls[1]))
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            if context is not None:
                try:
                    conn = context.wrap_socket(conn, server_side=True)
                except (ssl.SSLError, OSError):
                    conn.close()
                    continue
            self.connections += 1
            self._open.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn, self.connections), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, conn: socket.socket, number: int) -> None:
        reader = conn.makefile("rb")
        try:
            while not self._stop.is_set():
                line = reader.readline()
                if not line:
                    return
                headers: dict[str, str] = {}
                while True:
                    header = reader.readline()
                    if header in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = header.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = reader.read(int(headers.get("content-length", "0")))
                self.requests.append(Seen(number, headers, body))
                action = self._next()
                if action.kind == "drop":
                    conn.shutdown(socket.SHUT_RDWR)
                    conn.close()
                    return
                if action.kind == "hang":
                    time.sleep(action.seconds)
                    conn.close()
                    return
                out_headers = {"Content-Type": "application/x-amz-json-1.0",
                               "x-amzn-RequestId": f"req-{len(self.requests)}",
                               "Content-Length": str(len(action.body)), **action.headers}
                if action.crc is not None:
                    crc = binascii.crc32(action.body) & 0xFFFFFFFF
                    out_headers["x-amz-crc32"] = str(crc if action.crc == "good" else (crc + 1) % 2**32)
                head = f"HTTP/1.1 {action.status} X\r\n" + "".join(f"{k}: {v}\r\n" for k, v in out_headers.items())
                message = head.encode() + b"\r\n" + action.body
                if action.kind == "truncated":
                    conn.sendall(message[:len(message) - len(action.body) + int(action.seconds)])
                    conn.shutdown(socket.SHUT_RDWR)
                    conn.close()
                    return
                if action.kind.startswith("drip-"):
                    start = 0 if action.kind == "drip-head" else len(message) - len(action.body)
                    conn.sendall(message[:start])
                    for i in range(start, len(message)):
                        if self._stop.wait(action.seconds):
                            return
                        conn.sendall(message[i:i + 1])
                    continue
                conn.sendall(message)
        except OSError:
            return
        finally:
            with contextlib.suppress(OSError):
                conn.close()


def self_signed_certificate(
    directory: Path, host: str | None = "127.0.0.1", dns: str = "localhost"
) -> tuple[Path, Path]:
    """(certificate, key) files naming the IP ``host`` (if any) and the DNS name ``dns``, valid a day."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "transflow test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            ([x509.IPAddress(ipaddress.ip_address(host))] if host else []) + [x509.DNSName(dns)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path
