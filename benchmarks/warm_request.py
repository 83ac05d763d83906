"""Warm path: a status request through the handler vs a bare boto3 ``get_item`` of the same item.

Quality bar: at most 1.10x (issue 15; DESIGN.md's bar is 1.15x). The DynamoDB endpoint is a
``SerialMotoServer`` in its own process, so the server does not share this process's GIL (or its
CPU clock). The handler module is imported after ``AWS_ENDPOINT_URL`` and ``TRANSFLOW_TABLE_NAME``
point at it, exactly as Lambda imports it, and builds its own client at import: the light stdlib
client, as on Lambda (``TRANSFLOW_AWS_CLIENT=light``). The baseline client is
``boto3.client("dynamodb")`` built from the same environment (same configuration). Each sample is
one call; the handler with its light client, the bare get_item, and the handler with a boto3
client (the escape hatch) alternate. The handler's output (one EMF log line per request, as on
Lambda) goes to ``/dev/null``.

Also reported: the handler ÷ a bare ``get_item`` on the same light client (the handler's own overhead,
which the main ratio, against boto3's slower client, would hide), and the handler's CPU time per
request (``time.process_time``: this process only, so
the moto server's work is excluded) for a small assembly and for one with 1,000 results, next to
the CPU time of a bare ``get_item`` of the same item, so the difference is the handler's own work
(routing, auth context, ownership, deserialization, JSON, ETag, the EMF line).

    .venv/bin/python benchmarks/warm_request.py [--requests 400]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from _common import fake_aws_environ, moto_process, ratio, summary

GOAL = 1.10
TABLE = "bench-status"
USER = "user-bench"
BIG_RESULTS = 1000


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """The handler writes one EMF line per request to stdout (CloudWatch on Lambda)."""
    saved = sys.stdout
    with open(os.devnull, "w") as sink:
        sys.stdout = sink
        try:
            yield
        finally:
            sys.stdout = saved


def http_event(assembly_id: str, user_id: str = USER) -> dict[str, Any]:
    """A payload-2.0 ``GET /status?assemblyId=`` event as API Gateway sends it behind the JWT authorizer."""
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": "GET /status",
        "rawPath": "/status",
        "rawQueryString": f"assemblyId={assembly_id}",
        "headers": {
            "accept": "application/json",
            "authorization": "Bearer eyJ.redacted.sig",
            "host": "abc123.execute-api.us-east-1.amazonaws.com",
            "user-agent": "bench/1.0",
            "x-forwarded-for": "127.0.0.1",
        },
        "queryStringParameters": {"assemblyId": assembly_id},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "authorizer": {
                "jwt": {
                    "claims": {"sub": user_id, "iss": "https://issuer.example/", "aud": "bench",
                               "exp": str(int(now) + 3600), "iat": str(int(now))},
                    "scopes": None,
                }
            },
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {"method": "GET", "path": "/status", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                     "userAgent": "bench/1.0"},
            "requestId": "bench-request",
            "routeKey": "GET /status",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }


def _big_results(n: int) -> dict[str, list[dict[str, Any]]]:
    """``n`` result entries shaped like the seed's ``results[step][]`` (about 250 bytes each)."""
    results = []
    for i in range(n):
        rid = f"{i:032x}"
        results.append({
            "id": rid, "name": f"file_{i:04d}.mp3", "basename": f"file_{i:04d}", "ext": "mp3",
            "size": 1_000_000 + i, "mime": "audio/mpeg", "field": "file", "original_id": f"{i + 7:032x}",
            "ssl_url": f"https://tmp.example.com/r/{rid}/file_{i:04d}.mp3",
        })
    return {"encode": results}


def _seed(client: Any) -> tuple[str, str, int]:
    """Create the table, a small assembly and one with ``BIG_RESULTS`` results; (small id, big id, big bytes)."""
    from transflow_runtime import StatusStore, assembly_id
    from transflow_runtime.resources import create_table
    from transflow_runtime.store import serialize_value

    create_table(client, TABLE)
    store = StatusStore(TABLE, client=client)
    small = assembly_id("0" * 32, "tpl_bench", USER)
    big = assembly_id("1" * 32, "tpl_bench", USER)
    upload = {"id": "up1", "name": "song.wav", "size": 4_200_000, "mime": "audio/wav", "field": "file"}
    store.create(small, user_id=USER, template_id="tpl_bench", uploads=[upload], steps_total=3)
    store.progress(small, state="ASSEMBLY_EXECUTING", message="Encoding", current_step_name="encode",
                   progress_pct=40)
    store.add_result(small, "encode", {"id": "r1", "name": "song.mp3", "size": 3_100_000, "mime": "audio/mpeg",
                                       "ssl_url": "https://tmp.example.com/r1/song.mp3"})
    store.create(big, user_id=USER, template_id="tpl_bench", uploads=[upload], steps_total=1)
    client.update_item(
        TableName=TABLE, Key={"assembly_id": {"S": big}}, UpdateExpression="SET #r = :r",
        ExpressionAttributeNames={"#r": "results"},
        ExpressionAttributeValues={":r": serialize_value(_big_results(BIG_RESULTS))},
    )
    raw = client.get_item(TableName=TABLE, Key={"assembly_id": {"S": big}})["Item"]
    big_bytes = len(json.dumps(raw, separators=(",", ":")))
    return small, big, big_bytes


def _alternate(*fns: Callable[[], Any], n: int) -> list[list[float]]:
    """Wall times of ``n`` calls of each, interleaved (the starting side rotates each round)."""
    times: list[list[float]] = [[] for _ in fns]
    clock = time.perf_counter
    for i in range(n):
        for k in range(len(fns)):
            j = (i + k) % len(fns)
            started = clock()
            fns[j]()
            times[j].append(clock() - started)
    return times


def _cpu_per_call(fn: Callable[[], Any], n: int) -> tuple[list[float], list[float]]:
    """(CPU seconds, wall seconds) of ``n`` calls."""
    cpu_samples: list[float] = []
    wall_samples: list[float] = []
    cpu, wall = time.process_time, time.perf_counter
    for _ in range(n):
        c0, w0 = cpu(), wall()
        fn()
        cpu_samples.append(cpu() - c0)
        wall_samples.append(wall() - w0)
    return cpu_samples, wall_samples


def measure(requests: int = 400, cpu_requests: int = 200) -> dict[str, Any]:
    fake_aws_environ()
    with moto_process() as endpoint:
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        os.environ["TRANSFLOW_TABLE_NAME"] = TABLE
        os.environ["TRANSFLOW_AWS_CLIENT"] = "light"  # what the status function uses on Lambda
        import boto3

        seed_client = boto3.client("dynamodb")
        small, big, big_bytes = _seed(seed_client)

        import importlib

        status = importlib.import_module("transflow_runtime.handlers.status")
        if getattr(status, "_dynamodb", None) is None or status._config_cache is not None:
            status.reset_for_tests()  # imported earlier in this process: rebuild from this environment
        bare = boto3.client("dynamodb")  # same environment, same (default) configuration
        light_client = status._dynamodb
        assert type(light_client).__name__ == "DynamoDBClient", type(light_client)
        small_event, big_event = http_event(small), http_event(big)

        def via_handler(event: dict[str, Any] = small_event) -> Any:
            return status.handler(event, None)

        def via_handler_boto3(event: dict[str, Any] = small_event) -> Any:
            status._dynamodb = bare  # the escape hatch: the same handler on a boto3 client
            try:
                return status.handler(event, None)
            finally:
                status._dynamodb = light_client

        def bare_get(aid: str = small) -> Any:
            return bare.get_item(TableName=TABLE, Key={"assembly_id": {"S": aid}})

        def bare_light_get(aid: str = small) -> Any:
            return light_client.get_item(TableName=TABLE, Key={"assembly_id": {"S": aid}})

        # Correctness first: the handler must answer 200 with the item, else the timing is meaningless.
        captured = io.StringIO()
        with contextlib.redirect_stdout(captured):
            first = via_handler()
            big_response = via_handler(big_event)
        assert first["statusCode"] == 200 and small in first["body"], first
        assert big_response["statusCode"] == 200 and big_response["body"].count('"ssl_url"') >= BIG_RESULTS
        log_lines = [line for line in captured.getvalue().splitlines() if line.strip()]
        log_bytes = len(log_lines[0].encode()) if log_lines else 0

        with _quiet_stdout():
            for _ in range(max(20, requests // 10)):  # warm: connections, caches, code paths
                via_handler()
                bare_get()
            handler_s, bare_s, handler_boto3_s, bare_light_s = _alternate(
                via_handler, bare_get, via_handler_boto3, bare_light_get, n=requests)
            cpu_small_boto3, _ = _cpu_per_call(via_handler_boto3, cpu_requests)
            cpu_small, _ = _cpu_per_call(via_handler, cpu_requests)
            cpu_small_bare, _ = _cpu_per_call(bare_get, cpu_requests)
            # moto needs ~0.5 s to serve the 1,000-result item: few samples, alternated.
            big_n = max(3, cpu_requests // 20)
            cpu_big: list[float] = []
            cpu_big_bare: list[float] = []
            big_handler_s: list[float] = []
            big_bare_s: list[float] = []
            for _ in range(big_n):
                c, w = _cpu_per_call(lambda: via_handler(big_event), 1)
                cpu_big += c
                big_handler_s += w
                c, w = _cpu_per_call(lambda: bare_get(big), 1)
                cpu_big_bare += c
                big_bare_s += w

    r = ratio(handler_s, bare_s)
    ms = 1000.0
    result: dict[str, Any] = {
        "requests": requests,
        "goal": GOAL,
        "warm_request_ratio": r["ratio_of_medians"],
        "met": r["ratio_of_medians"] <= GOAL,
        "ratio": r,
        "handler_ms": summary(handler_s, ms),
        "bare_get_item_ms": summary(bare_s, ms),
        "handler_boto3_ms": summary(handler_boto3_s, ms),
        "handler_boto3_ratio": ratio(handler_boto3_s, bare_s),
        # The handler's own overhead on its client: handler ÷ the same light client's bare get_item.
        "bare_light_get_item_ms": summary(bare_light_s, ms),
        "handler_vs_bare_light_get_item_ratio": ratio(handler_s, bare_light_s),
        "client": type(light_client).__module__ + "." + type(light_client).__name__,
        "overhead_ms_median": round((summary(handler_s, ms)["median"] - summary(bare_s, ms)["median"]), 3),
        "cpu_ms_per_request": {
            "small_handler": summary(cpu_small, ms),
            "small_handler_boto3": summary(cpu_small_boto3, ms),
            "small_bare_get_item": summary(cpu_small_bare, ms),
            "big_handler": summary(cpu_big, ms),
            "big_bare_get_item": summary(cpu_big_bare, ms),
            "big_results": BIG_RESULTS,
            "big_item_bytes_json": big_bytes,
            "big_response_body_bytes": len(big_response["body"].encode()),
        },
        "big_wall_ms": {"handler": summary(big_handler_s, ms), "bare_get_item": summary(big_bare_s, ms),
                        "ratio": ratio(big_handler_s, big_bare_s),
                        "note": "moto's own time to serve a ~350 KB item dominates both sides"},
        "log_bytes_per_request": log_bytes,
        "small_response_body_bytes": len(first["body"].encode()),
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--cpu-requests", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.requests, args.cpu_requests)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    h, b = result["handler_ms"], result["bare_get_item_ms"]
    print(f"handler  median {h['median']:.3f} ms (IQR {h['iqr']:.3f})")
    print(f"get_item median {b['median']:.3f} ms (IQR {b['iqr']:.3f})")
    print(f"ratio {result['warm_request_ratio']:.3f}  pairs {result['ratio']}")
    hb = result["handler_boto3_ms"]
    print(f"handler ÷ bare light get_item {result['handler_vs_bare_light_get_item_ratio']['ratio_of_medians']:.3f}")
    print(f"handler on boto3 (escape hatch) median {hb['median']:.3f} ms, ratio "
          f"{result['handler_boto3_ratio']['ratio_of_medians']:.3f}")
    for k, v in result["cpu_ms_per_request"].items():
        print(f"cpu {k}: {v}")
    print(f"big wall: {result['big_wall_ms']}")


if __name__ == "__main__":
    main()
