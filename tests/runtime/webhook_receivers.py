"""Real HTTP(S) webhook receivers on 127.0.0.1 for the webhook tests (not a test module).

A ``Receiver`` answers each POST with whatever its ``behaviour`` returns for that request:
a status code, optional headers, a delay before answering, or one of the special actions
``"reset"`` (close with a TCP RST), ``"close"`` (close without answering) and ``"drip"``
(send the status line one byte at a time, slower than any timeout).
"""

from __future__ import annotations

import datetime
import json
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    action: str | None = None  # "reset" | "close" | "drip"
    #: Answer only once this is set (bounded by ``HOLD_LIMIT_SECONDS``): a receiver that is
    #: certainly still silent when the sender's timeout fires, however loaded the machine is.
    hold: threading.Event | None = None


HOLD_LIMIT_SECONDS = 60.0


@dataclass
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    server_name: str | None = None


Behaviour = Callable[[int, ReceivedRequest], Reply]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # resets and timeouts are what these receivers are for


class Receiver:
    """Start with ``with Receiver(behaviour) as r:``; ``r.url`` is where to POST."""

    def __init__(
        self,
        behaviour: Behaviour | None = None,
        *,
        tls: ssl.SSLContext | None = None,
        host_for_url: str = "127.0.0.1",
    ) -> None:
        self.behaviour = behaviour or (lambda _i, _r: Reply(200))
        self.requests: list[ReceivedRequest] = []
        self.server_names: list[str | None] = []
        self._lock = threading.Lock()
        self._tls = tls
        self._host_for_url = host_for_url
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                request = ReceivedRequest(self.path, {k: v for k, v in self.headers.items()}, body, time.monotonic())
                with receiver._lock:
                    index = len(receiver.requests)
                    receiver.requests.append(request)
                reply = receiver.behaviour(index, request)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.hold is not None:
                    reply.hold.wait(HOLD_LIMIT_SECONDS)
                if reply.action == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    self.close_connection = True
                    return
                if reply.action == "close":
                    # FIN without a status line; the request was read in full, so closing sends
                    # no RST (unread bytes would make the kernel reset instead).
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_WR)
                    return
                if reply.action == "drip":
                    try:
                        for byte in b"HTTP/1.1 200 OK\r\n":
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(0.2)
                    except OSError:
                        pass
                    self.close_connection = True
                    return
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self._server = _Server(("127.0.0.1", 0), Handler)
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://{self._host_for_url}:{self.port}/hooks/transflow"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def self_signed(tmp_path: Path, hostname: str) -> tuple[ssl.SSLContext, ssl.SSLContext, list[str | None]]:
    """(server context recording SNI names, client context trusting only this cert, SNI list)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = tmp_path / "cert.pem"
    key_path = tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_path, key_path)
    names: list[str | None] = []

    def remember(_sock: ssl.SSLSocket, server_name: str | None, _ctx: ssl.SSLContext) -> None:
        names.append(server_name)

    server.sni_callback = remember
    client = ssl.create_default_context(cafile=str(cert_path))
    return server, client, names


def fake_dns(monkeypatch: Any, table: dict[str, list[str]] | Callable[[str], list[str]]) -> list[str]:
    """Route ``socket.getaddrinfo`` for the names in ``table`` to fixed addresses; returns the
    list of names looked up (so tests can count resolutions)."""
    real = socket.getaddrinfo
    calls: list[str] = []

    def getaddrinfo(host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0):
        name = host.decode() if isinstance(host, bytes) else str(host)
        answer = table(name) if callable(table) else table.get(name)
        if answer is None:
            return real(host, port, family, type, proto, flags)
        calls.append(name)
        infos = []
        for address in answer:
            if ":" in address:
                infos.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, int(port or 0), 0, 0)))
            else:
                infos.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port or 0))))
        return infos

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return calls


def stream_records(dynamodb: Any, table_name: str, after: str | None = None) -> list[dict[str, Any]]:
    """Every record of the table's DynamoDB stream (moto), in order, as Lambda would receive them;
    only those with a sequence number greater than ``after`` when given."""
    import boto3

    endpoint = dynamodb.meta.endpoint_url
    streams = boto3.client(
        "dynamodbstreams",
        region_name=dynamodb.meta.region_name,
        endpoint_url=None if "amazonaws.com" in endpoint else endpoint,  # a moto server, or in-process moto
    )
    arn = dynamodb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            records.extend(page["Records"])
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
    if after is not None:
        records = [r for r in records if int(r["dynamodb"]["SequenceNumber"]) > int(after)]
    return records


# ---------------------------------------------------------------------------------- SQS harness
class WebhookHarness:
    """A fresh table, webhook queue and DLQ on the (serial, thread-safe) moto server, and the
    in-process equivalent of Lambda's SQS poller: receive, call the sender, delete successes."""

    def __init__(self, endpoint: str, region: str = "us-east-1") -> None:
        import uuid

        import boto3
        from transflow_runtime import StatusStore
        from transflow_runtime.resources import create_table

        suffix = uuid.uuid4().hex[:8]
        self.endpoint = endpoint
        self.dynamodb = boto3.client("dynamodb", region_name=region, endpoint_url=endpoint)
        self.sqs = boto3.client("sqs", region_name=region, endpoint_url=endpoint)
        self.secrets = boto3.client("secretsmanager", region_name=region, endpoint_url=endpoint)
        self.table_name = f"transflow-status-{suffix}"
        create_table(self.dynamodb, self.table_name)
        self.dlq_url = self.sqs.create_queue(QueueName=f"webhooks-dlq-{suffix}")["QueueUrl"]
        self.queue_url = self.sqs.create_queue(QueueName=f"webhooks-{suffix}")["QueueUrl"]
        self.queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.store = StatusStore(self.table_name, client=self.dynamodb)
        self.last_records: list[dict[str, Any]] = []

    def settings(self, config: dict[str, Any], *, delays: str = "0,0,0", timeout: float = 5, **extra: Any):
        from transflow_runtime.handlers.webhook import WebhookConfig, WebhookSettings, parse_retry_delays

        return WebhookSettings(
            table_name=self.table_name,
            config=WebhookConfig.parse(json.dumps(config)),
            retry_delays=parse_retry_delays(delays),
            timeout=timeout,
            dlq_url=extra.pop("dlq_url", self.dlq_url),
            queue_url=extra.pop("queue_url", self.queue_url),
            allow_private=extra.pop("allow_private", ("127.0.0.1/32",)),
            allow_http=extra.pop("allow_http", True),
            **extra,
        )

    def sender(
        self,
        config: dict[str, Any],
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        **kwargs: Any,
    ):
        from transflow_runtime.handlers.webhook import WebhookSender

        return WebhookSender(
            self.settings(config, **kwargs), dynamodb=self.dynamodb, sqs=self.sqs, secretsmanager=self.secrets,
            clock=clock, monotonic=monotonic,
        )

    def env(self, config: dict[str, Any], delays: str = "0,0,0") -> dict[str, str]:
        from transflow_runtime import schema

        return {
            schema.ENV_TABLE_NAME: self.table_name,
            schema.ENV_WEBHOOK_CONFIG: json.dumps(config),
            schema.ENV_WEBHOOK_RETRY_DELAYS: delays,
            schema.ENV_WEBHOOK_TIMEOUT: "5",
            schema.ENV_WEBHOOK_DLQ_URL: self.dlq_url,
            schema.ENV_WEBHOOK_QUEUE_URL: self.queue_url,
            schema.ENV_WEBHOOK_ALLOW_PRIVATE: "127.0.0.1/32",
            schema.ENV_WEBHOOK_ALLOW_HTTP: "1",
            "AWS_ENDPOINT_URL": self.endpoint,
        }

    def enqueue(self, assembly_id: str, event: str = "completed", event_id: str | None = None) -> str:
        from transflow_runtime.events import make_message, parse_message

        body = make_message(assembly_id, event, event_id)
        self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=body)
        return parse_message(body)["event_id"]

    def receive(self, *, visibility: int = 60, wait: int = 0) -> list[dict[str, Any]]:
        """One batch as Lambda's SQS event source hands it to the function."""
        got = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=visibility,
            AttributeNames=["All"], MessageAttributeNames=["All"], WaitTimeSeconds=wait,
        ).get("Messages", [])
        return [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": self.queue_arn,
                "awsRegion": "us-east-1",
            }
            for m in got
        ]

    def run_batch(self, process: Callable[[list[dict[str, Any]]], dict[str, Any]], **kw: Any) -> tuple[int, dict]:
        """Receive one batch, process it, delete what succeeded (as Lambda does)."""
        records = self.receive(**kw)
        self.last_records = records
        if not records:
            return 0, {"batchItemFailures": []}
        response = process(records)
        failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        done = [r for r in records if r["messageId"] not in failed]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            entries = [{"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(chunk)]
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
        return len(records), response

    def fast_forward(self) -> None:
        """Make the last batch's messages visible now, as SQS would once their delay has passed."""
        for record in self.last_records:
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0
            )

    def queue_depth(self) -> int:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])

    def dead_letters(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Every DLQ message as (JSON envelope, message attributes)."""
        out: list[tuple[dict[str, Any], dict[str, Any]]] = []
        while True:
            got = self.sqs.receive_message(
                QueueUrl=self.dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=3600, MessageAttributeNames=["All"]
            ).get("Messages", [])
            if not got:
                return out
            out += [(json.loads(m["Body"]), m.get("MessageAttributes", {})) for m in got]
