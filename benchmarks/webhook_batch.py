"""Webhook batch concurrency: a batch of 10 deliveries vs one, to an endpoint that answers in 300 ms.

Quality bar (DESIGN.md): the batch finishes in under 1.5x one delivery's time. Everything is
local: a ``SerialMotoServer`` in its own process for DynamoDB/SQS, a threaded HTTP receiver on
127.0.0.1, and the real webhook Lambda entry point (``transflow_runtime.handlers.webhook.handler``)
configured through its environment as the construct configures it (private/plain-HTTP targets
allowed for 127.0.0.1 only), bookkeeping writes to DynamoDB included. Batches of 1 and 10 are
timed alternately after one untimed warm-up batch.

    .venv/bin/python benchmarks/webhook_batch.py [--delay 0.3] [--runs 5]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from _common import fake_aws_environ, moto_process, ratio, summary

GOAL = 1.5
BATCH = 10


class _Receiver(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64
    received = 0


def receiver(delay: float) -> _Receiver:
    """A webhook endpoint on 127.0.0.1 that answers 200 after ``delay`` seconds."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: object) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            time.sleep(delay)
            server.received += 1
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = _Receiver(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


def measure(runs: int = 5, delay: float = 0.3) -> dict[str, Any]:
    fake_aws_environ()
    with moto_process() as endpoint:
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        import boto3
        from transflow_runtime import StatusStore, assembly_id
        from transflow_runtime.events import make_message
        from transflow_runtime.resources import create_table

        ddb = boto3.client("dynamodb")
        sqs = boto3.client("sqs")
        create_table(ddb, "bench")
        store = StatusStore("bench", client=ddb)
        queue = sqs.create_queue(QueueName="bench-webhooks")["QueueUrl"]
        dlq = sqs.create_queue(QueueName="bench-webhooks-dlq")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        server = receiver(delay)
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        os.environ.update({
            "TRANSFLOW_TABLE_NAME": "bench",
            "TRANSFLOW_WEBHOOK_CONFIG": json.dumps({"targets": {"tpl": {"url": url, "secret": "whsec_YmVuY2g="}}}),
            "TRANSFLOW_WEBHOOK_RETRY_DELAYS": "0",
            "TRANSFLOW_WEBHOOK_TIMEOUT_SECONDS": "15",
            "TRANSFLOW_WEBHOOK_DLQ_URL": dlq,
            "TRANSFLOW_WEBHOOK_QUEUE_URL": queue,
            "TRANSFLOW_WEBHOOK_ALLOW_PRIVATE": "127.0.0.1/32",
            "TRANSFLOW_WEBHOOK_ALLOW_HTTP": "true",
        })
        from transflow_runtime.handlers import webhook

        ids = []
        for n in range(BATCH):
            a = assembly_id(f"{n:032x}", "tpl", "bench")
            store.create(a, user_id="bench", template_id="tpl")
            store.complete(a)
            ids.append(a)
        serial = 0

        def batch(size: int) -> float:
            nonlocal serial
            records = []
            for a in ids[:size]:
                serial += 1
                records.append({
                    "messageId": f"m{serial}", "receiptHandle": f"r{serial}", "body": make_message(a, "completed"),
                    "attributes": {"ApproximateReceiveCount": "1"}, "eventSource": "aws:sqs",
                    "eventSourceARN": queue_arn, "awsRegion": "us-east-1",
                })
            before = server.received
            started = time.perf_counter()
            response = webhook.handler({"Records": records}, None)
            elapsed = time.perf_counter() - started
            if response != {"batchItemFailures": []} or server.received - before != size:
                raise RuntimeError(f"webhook batch of {size} did not deliver every message: {response}")
            return elapsed

        singles: list[float] = []
        tens: list[float] = []
        with contextlib.redirect_stdout(io.StringIO()):  # the handler's JSON log lines
            batch(1)  # warm up clients, secrets cache, connections
            for i in range(runs):
                pair = ((1, singles), (BATCH, tens)) if i % 2 == 0 else ((BATCH, tens), (1, singles))
                for size, out in pair:
                    out.append(batch(size))
        server.shutdown()
        server.server_close()
    r = ratio(tens, singles)
    return {
        "runs": runs,
        "endpoint_delay_ms": delay * 1000,
        "goal": GOAL,
        "webhook_batch_ratio": r["ratio_of_medians"],
        "met": r["ratio_of_medians"] < GOAL,
        "ratio": r,
        "one_delivery_ms": summary(singles, 1000, 1),
        "batch_of_10_ms": summary(tens, 1000, 1),
        "sequential_would_be_ratio": BATCH,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.3, help="receiver answer time in seconds")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.runs, args.delay)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    one, ten = result["one_delivery_ms"], result["batch_of_10_ms"]
    print(f"endpoint answers in {result['endpoint_delay_ms']:.0f} ms; median of {args.runs} runs")
    print(f"  1 delivery : {one['median']:7.1f} ms  (IQR {one['iqr']:.1f})")
    print(f"  10 in batch: {ten['median']:7.1f} ms  (IQR {ten['iqr']:.1f})")
    print(f"  ratio batch/one = {result['webhook_batch_ratio']:.2f}  (bar: < {GOAL}; sequential would be ~10)")


if __name__ == "__main__":
    main()
