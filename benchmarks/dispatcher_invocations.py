"""Dispatcher invocations per assembly, without and with the stream mapping's FilterCriteria.

Quality bar (DESIGN.md): cost grows with assemblies, not with writes; the dispatcher runs at most
1.2 times per assembly. A typical worker writes each assembly 11 times (create; three steps, each
started, given a result and finished; complete) and the webhook sender records its delivery once
more. Each write is pumped through local mode's ``StreamPump`` on its own, as records arrive
when a worker's writes are further apart than Lambda's stream polling (a batch per write, the
worst case; batching only lowers the "before" figure), into the real dispatcher handler:

* before: the mapping's old filter (``eventName`` INSERT or MODIFY): every write invokes it;
* after: ``terminal.STREAM_FILTER_PATTERNS``, evaluated by moto's EventBridge matcher as Lambda
  evaluates FilterCriteria.

Both sides must queue exactly one webhook per assembly (the filter may drop nothing the dispatcher
would send). A seed-style writer (the TypeScript original's writes: no ``state``, ``ok``/``error``
at the end) is measured the same way.

    .venv/bin/python benchmarks/dispatcher_invocations.py [--assemblies 20] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import uuid
from collections.abc import Callable
from typing import Any

from _common import fake_aws_environ, moto_process

GOAL = 1.2
OLD_FILTER = [{"eventName": ["INSERT", "MODIFY"]}]
STEPS = ("import", "encode", "thumbnail")


def _project_worker(store: Any, aid: str) -> list[Callable[[], Any]]:
    """The writes of one assembly by this project's StatusStore, then the delivery record."""
    writes: list[Callable[[], Any]] = [lambda: store.create(aid, user_id="bench", template_id="tpl")]
    for n, step in enumerate(STEPS):
        writes += [
            lambda step=step: store.start_step(aid, step),
            lambda step=step, n=n: store.add_result(aid, step, {"id": f"r{n}", "name": f"{step}.out", "size": 10}),
            lambda step=step: store.finish_step(aid, step),
        ]
    writes += [lambda: store.complete(aid),
               lambda: store.record_notification(aid, {"notify_status": "delivered", "notify_response_code": 200})]
    return writes


def _seed_worker(store: Any, aid: str) -> list[Callable[[], Any]]:
    """The TypeScript original's writes (PutCommand of the seed's fields, UpdateCommands)."""
    client, table = store.client, store.table_name

    def update(expression: str, values: dict[str, Any]) -> Any:
        return client.update_item(TableName=table, Key={"assembly_id": {"S": aid}}, UpdateExpression=expression,
                                  ExpressionAttributeValues=values)

    def put() -> Any:
        return client.put_item(TableName=table, Item={
            "assembly_id": {"S": aid}, "user": {"M": {"userId": {"S": "bench"}}}, "template_id": {"S": "tpl"},
            "message": {"S": "Upload received"}, "created_at": {"S": "2026-01-01T00:00:00.000Z"},
        })

    writes: list[Callable[[], Any]] = [put, lambda: update("SET message = :m", {":m": {"S": "Processing started"}})]
    for n in range(len(STEPS)):
        writes += [
            lambda n=n: update("SET current_step_name = :s, steps_completed = :d",
                               {":s": {"S": STEPS[n]}, ":d": {"N": str(n)}}),
            lambda n=n: update("SET steps_completed = :d", {":d": {"N": str(n + 1)}}),
        ]
    writes += [lambda: update("SET ok = :ok, message = :m", {":ok": {"S": "ASSEMBLY_COMPLETED"},
                                                             ":m": {"S": "Processing completed"}}),
               lambda: store.record_notification(aid, {"notify_status": "delivered"})]
    return writes


def _run(endpoint: str, worker: Callable[[Any, str], list[Callable[[], Any]]], patterns: list[dict[str, Any]],
         assemblies: int) -> dict[str, Any]:
    import boto3
    from transflow_runtime import StatusStore, schema
    from transflow_runtime.handlers import dispatcher
    from transflow_runtime.local.pumps import StreamPump
    from transflow_runtime.resources import create_table

    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint)
    sqs = boto3.client("sqs", endpoint_url=endpoint)
    table = f"bench-{uuid.uuid4().hex[:8]}"
    create_table(dynamodb, table)
    queue_url = sqs.create_queue(QueueName=f"bench-hooks-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    os.environ[schema.ENV_WEBHOOK_QUEUE_URL] = queue_url
    dispatcher._sqs_client = sqs
    stream_arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    pump = StreamPump(boto3.client("dynamodbstreams", endpoint_url=endpoint), stream_arn,
                      lambda event, context: dispatcher.handler(event, context),
                      filters=[json.dumps(p) for p in patterns])
    store = StatusStore(table, client=dynamodb)
    writes = 0
    for n in range(assemblies):
        for write in worker(store, f"{n:064x}"):
            write()
            writes += 1
            pump.tick()  # this write's record, on its own
    queued = int(sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])[
        "Attributes"]["ApproximateNumberOfMessages"])
    return {
        "assemblies": assemblies,
        "writes": writes,
        "invocations": pump.invocations,
        "invocations_per_assembly": round(pump.invocations / assemblies, 3),
        "records_filtered_out": pump.filtered_records,
        "webhooks_queued": queued,
    }


def measure(assemblies: int = 20) -> dict[str, Any]:
    fake_aws_environ()
    from transflow_runtime.terminal import STREAM_FILTER_PATTERNS

    out: dict[str, Any] = {"assemblies": assemblies, "goal": f"<= {GOAL}"}
    # The dispatcher logs a JSON line per batch on stdout: keep stdout for the result.
    with moto_process() as endpoint, contextlib.redirect_stdout(io.StringIO()):
        for name, worker in (("project_worker", _project_worker), ("seed_worker", _seed_worker)):
            before = _run(endpoint, worker, OLD_FILTER, assemblies)
            after = _run(endpoint, worker, STREAM_FILTER_PATTERNS, assemblies)
            out[name] = {"before": before, "after": after,
                         "reduction": round(before["invocations"] / max(1, after["invocations"]), 2)}
    after = out["project_worker"]["after"]
    out["dispatcher_invocations_per_assembly"] = after["invocations_per_assembly"]
    out["met"] = after["invocations_per_assembly"] <= GOAL
    # The filter may drop nothing the dispatcher sends: one webhook per assembly on both sides.
    out["webhooks_per_assembly_ok"] = all(
        out[w][side]["webhooks_queued"] == assemblies
        for w in ("project_worker", "seed_worker") for side in ("before", "after")
    )
    return out


def table(result: dict[str, Any]) -> str:
    rows = [("writer", "filter", "writes", "invocations", "per assembly", "webhooks")]
    for writer in ("project_worker", "seed_worker"):
        for side in ("before", "after"):
            r = result[writer][side]
            rows.append((writer, "eventName only" if side == "before" else "terminal (FilterCriteria)",
                         str(r["writes"]), str(r["invocations"]), str(r["invocations_per_assembly"]),
                         str(r["webhooks_queued"])))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "-" * (sum(widths) + 2 * (len(widths) - 1)))
    lines.append(f"dispatcher invocations per assembly (project worker, with the filter): "
                 f"{result['dispatcher_invocations_per_assembly']} (goal {result['goal']}: "
                 f"{'met' if result['met'] else 'NOT met'}); one webhook per assembly on every row: "
                 f"{result['webhooks_per_assembly_ok']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assemblies", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.assemblies)
    print(json.dumps(result, indent=2) if args.json else table(result))
    sys.exit(0 if result["webhooks_per_assembly_ok"] else 1)


if __name__ == "__main__":
    main()
