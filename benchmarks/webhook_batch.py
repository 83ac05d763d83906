"""Webhook batch concurrency: a batch of 10 deliveries vs one, to an endpoint that answers in 300 ms.

Quality bar (DESIGN.md): the batch finishes in under 1.5x one delivery's time. Everything is
local: a serial moto server for DynamoDB/SQS, a threaded HTTP receiver on 127.0.0.1, and the
real webhook handler code (``WebhookSender.process_batch``), bookkeeping writes included.

    .venv/bin/python benchmarks/webhook_batch.py [--delay 0.3] [--runs 5]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import statistics
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")

import boto3
from transflow_runtime import StatusStore, assembly_id
from transflow_runtime.events import make_message
from transflow_runtime.handlers.webhook import WebhookConfig, WebhookSender, WebhookSettings
from transflow_runtime.local.moto_server import SerialMotoServer
from transflow_runtime.resources import create_table


def receiver(delay: float) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: object) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            time.sleep(delay)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.request_queue_size = 64
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto server's access log
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.3, help="receiver answer time in seconds")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with SerialMotoServer() as moto:
        ddb = boto3.client("dynamodb", endpoint_url=moto.endpoint_url)
        sqs = boto3.client("sqs", endpoint_url=moto.endpoint_url)
        create_table(ddb, "bench")
        store = StatusStore("bench", client=ddb)
        queue = sqs.create_queue(QueueName="bench-webhooks")["QueueUrl"]
        dlq = sqs.create_queue(QueueName="bench-webhooks-dlq")["QueueUrl"]
        server = receiver(args.delay)
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        settings = WebhookSettings(
            table_name="bench",
            config=WebhookConfig.parse(json.dumps({"targets": {"tpl": {"url": url, "secret": "whsec_YmVuY2g="}}})),
            retry_delays=(0,), timeout=15, dlq_url=dlq, queue_url=queue,
            allow_private=("127.0.0.1/32",), allow_http=True,
        )
        sender = WebhookSender(settings, dynamodb=ddb, sqs=sqs)
        ids = []
        for n in range(10):
            a = assembly_id(f"{n:032x}", "tpl", "bench")
            store.create(a, user_id="bench", template_id="tpl")
            store.complete(a)
            ids.append(a)

        def batch(size: int) -> float:
            records = [
                {"messageId": f"m{i}", "receiptHandle": f"r{i}", "body": make_message(a, "completed"),
                 "attributes": {"ApproximateReceiveCount": "1"}}
                for i, a in enumerate(ids[:size])
            ]
            started = time.perf_counter()
            response = sender.process_batch(records)
            elapsed = time.perf_counter() - started
            assert response == {"batchItemFailures": []}, response
            return elapsed

        with contextlib.redirect_stdout(io.StringIO()):  # the handler's JSON log lines
            batch(1)  # warm up clients and connections
            singles = [batch(1) for _ in range(args.runs)]
            tens = [batch(10) for _ in range(args.runs)]
        server.shutdown()
    one, ten = statistics.median(singles), statistics.median(tens)
    print(f"endpoint answers in {args.delay * 1000:.0f} ms; median of {args.runs} runs")
    print(f"  1 delivery : {one * 1000:7.1f} ms  (runs: {', '.join(f'{s * 1000:.0f}' for s in singles)})")
    print(f"  10 in batch: {ten * 1000:7.1f} ms  (runs: {', '.join(f'{s * 1000:.0f}' for s in tens)})")
    print(f"  ratio batch/one = {ten / one:.2f}  (bar: < 1.5; sequential would be ~10)")


if __name__ == "__main__":
    main()
