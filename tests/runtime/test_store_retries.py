"""Every StatusStore write is applied exactly once when botocore retries it after a lost response.

botocore retries a request whose connection closed before the answer ("Connection was closed
before we received a valid response"), although DynamoDB may already have applied it
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html#Programming.Errors.RetryAndBackoff:
"make sure that the operation is idempotent"). ``DroppingProxy`` forwards each request to the moto
server and drops the response, so the retry meets an already-applied write.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from transflow_runtime import StatusStore, assembly_id, schema
from transflow_runtime.resources import create_table

from tests.runtime.fault_proxy import DroppingProxy

T0 = 1_900_000_000.0


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def proxy(moto_endpoint):
    with DroppingProxy(moto_endpoint) as p:
        yield p


def _store(proxy: DroppingProxy, table: str | None = None, clock: Callable[[], float] | None = None) -> StatusStore:
    # The SDK's default retry behaviour (what a worker gets), many pooled connections for the threads.
    client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=proxy.url,
                          config=Config(max_pool_connections=32))
    if table is None:
        table = f"retries-{uuid.uuid4().hex[:8]}"
        create_table(client, table)
    return StatusStore(table, client=client, clock=clock or Clock())


def _aid(n: int) -> str:
    return assembly_id(f"{n:032x}", "tpl", "alice")


RESULT = {"id": "r1", "name": "out.mp3", "size": 512}


def _created(store: StatusStore, n: int = 1) -> str:
    aid = _aid(n)
    store.create(aid, user_id="alice", template_id="tpl", steps_total=3)
    return aid


#: (name, the call, how its one effect shows in the item, the DynamoDB operation it makes)
WRITES: list[tuple[str, Callable[[StatusStore, str], Any], Callable[[dict], Any], str]] = [
    ("add_result", lambda s, a: s.add_result(a, "encode", RESULT),
     lambda i: ([r["id"] for r in i["results"]["encode"]], i["bytes_usage"]), "UpdateItem"),
    ("finish_step", lambda s, a: s.finish_step(a, "encode"), lambda i: i["steps_completed"], "UpdateItem"),
    ("add_bytes_received", lambda s, a: s.progress(a, add_bytes_received=1000),
     lambda i: i["bytes_received"], "UpdateItem"),
    ("warning", lambda s, a: s.progress(a, warning="slow input"), lambda i: i["warnings"], "UpdateItem"),
    ("start_step", lambda s, a: s.start_step(a, "encode"), lambda i: (i["state"], i["current_step_name"]),
     "UpdateItem"),
    ("complete", lambda s, a: s.complete(a), lambda i: (i["state"], i["ok"]), "UpdateItem"),
    ("fail", lambda s, a: s.fail(a, "ENCODE_FAILED"), lambda i: (i["state"], i["error"]), "UpdateItem"),
    ("cancel", lambda s, a: s.cancel(a), lambda i: (i["state"], i["ok"]), "UpdateItem"),
    ("record_notification", lambda s, a: s.record_notification(a, {"notify_status": "delivered"}),
     lambda i: i["notify_status"], "UpdateItem"),
]


@pytest.mark.parametrize(("name", "call", "effect", "operation"), WRITES, ids=[w[0] for w in WRITES])
def test_a_write_whose_response_is_lost_is_applied_exactly_once(proxy, name, call, effect, operation):
    store = _store(proxy)
    reference = _created(store, 1)
    call(store, reference)  # the same call without a fault: what one application looks like
    expected = effect(store.get_item(reference))

    aid = _created(store, 2)
    before = store.get_item(aid)
    proxy.drop(operation, times=1)
    forwarded = proxy.forwarded[operation]
    returned = call(store, aid)  # must not raise: the retry's conditional failure is "already applied"
    assert proxy.dropped[operation] == 1 and proxy.forwarded[operation] == forwarded + 2, "lost, then retried"
    item = store.get_item(aid)
    assert effect(item) == expected
    if name != "record_notification":  # bookkeeping does not count as a status change
        assert item[schema.VERSION_ATTRIBUTE] == before[schema.VERSION_ATTRIBUTE] + 1
        assert returned.version == item[schema.VERSION_ATTRIBUTE]


def test_a_create_whose_response_is_lost_returns_the_created_status(proxy):
    store = _store(proxy)
    proxy.drop("PutItem", times=1)
    created = store.create(_aid(3), user_id="alice", template_id="tpl")
    assert proxy.dropped["PutItem"] == 1
    assert created.version == 1 and store.get_item(_aid(3))[schema.VERSION_ATTRIBUTE] == 1


def test_twenty_concurrent_writers_lose_nothing_and_double_nothing_while_every_third_response_is_lost(proxy):
    store = _store(proxy)
    aid = _created(store, 4)
    proxy.drop_every("UpdateItem", 3)
    errors: list[BaseException] = []
    start = threading.Barrier(20)

    def worker(n: int) -> None:
        try:
            mine = _store(proxy, store.table_name)
            start.wait(timeout=30)
            mine.add_result(aid, f"step{n % 4}", {"id": f"r{n}", "name": f"{n}.mp3", "size": 10})
            mine.progress(aid, add_bytes_received=100)
            mine.finish_step(aid, f"step{n % 4}")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert proxy.dropped["UpdateItem"] >= 15, "the faults really happened"
    item = store.get_item(aid)
    ids = sorted(r["id"] for results in item["results"].values() for r in results)
    assert ids == sorted(f"r{n}" for n in range(20)), "every result exactly once"
    assert item["bytes_usage"] == 200 and item["bytes_received"] == 2000 and item["steps_completed"] == 20
    assert item[schema.VERSION_ATTRIBUTE] == 1 + 60


def test_write_tokens_are_internal_and_bounded_in_time(proxy):
    """Tokens live in rotating per-window attributes: a retry within the window is recognised, and
    a window's tokens are removed two windows later, so they do not grow with the item's age."""
    from transflow_runtime.writes import WRITE_TOKEN_WINDOW_SECONDS

    clock = Clock()
    store = _store(proxy, clock=clock)
    aid = _created(store, 5)
    for _ in range(3):
        store.progress(aid, message="tick")
    tokens = {k: v for k, v in store.get_item(aid).items() if k in schema.WRITE_TOKEN_ATTRIBUTES}
    assert sum(len(v) for v in tokens.values()) == 3
    for hours in range(1, 40):
        clock.now = T0 + hours * WRITE_TOKEN_WINDOW_SECONDS / 2
        store.progress(aid, message=f"tick {hours}")
    item = store.get_item(aid)
    live = sum(len(v) for k, v in item.items() if k in schema.WRITE_TOKEN_ATTRIBUTES)
    assert live <= 8, "only the last two or three windows keep their tokens"
    assert store.get(aid).model_dump().keys().isdisjoint(schema.INTERNAL_ATTRIBUTES)
