"""End to end through the real pieces: table -> stream -> dispatcher -> SQS -> webhook handler ->
flaky receivers, driven in-process like Lambda's pollers. Nothing may be lost."""

from __future__ import annotations

import base64
import json
import random
import threading
from collections import Counter

import pytest
from transflow_runtime import assembly_id, verify_webhook
from transflow_runtime.handlers.dispatcher import dispatch, events_from_records

from tests.runtime.webhook_receivers import Receiver, Reply, WebhookHarness, stream_records

SECRET = "whsec_" + base64.b64encode(b"pipeline-test-key-0123456789abc!").decode()
TERMINAL = {"tpl_flaky": 240, "tpl_dead": 30, "tpl_gone": 30}
ACTIVE = 40


@pytest.fixture
def h(moto_endpoint) -> WebhookHarness:
    return WebhookHarness(moto_endpoint)


def test_every_terminal_assembly_ends_delivered_or_dead_lettered_none_lost(h):
    rng = random.Random(20250101)
    lock = threading.Lock()
    delivered: list[str] = []
    seen_ids: dict[str, str] = {}

    def flaky(_i, request):
        body = json.loads(request.body)
        with lock:
            roll = rng.random()
        if roll < 0.35:
            return Reply(500)
        if roll < 0.45:
            return Reply(action="reset")
        if roll < 0.55:
            return Reply(429, {"Retry-After": "0"})
        status = verify_webhook(request.body, request.headers, SECRET)  # raises if the signature is bad
        with lock:
            delivered.append(status.assembly_id)
            seen_ids[body["assembly_id"]] = request.headers["webhook-id"]
        return Reply(200)

    terminal: dict[str, str] = {}
    n = 0
    for template, count in TERMINAL.items():
        for _ in range(count):
            n += 1
            a = assembly_id(f"{n:032x}", template, "alice")
            h.store.create(a, user_id="alice", template_id=template)
            h.store.start_step(a, "encode")
            [h.store.complete, lambda x: h.store.fail(x, "encoder crashed"), h.store.cancel][n % 3](a)
            terminal[a] = template
    for m in range(ACTIVE):  # never terminal: must produce no webhook
        a = assembly_id(f"{10_000 + m:032x}", "tpl_flaky", "bob")
        h.store.create(a, user_id="bob", template_id="tpl_flaky")
        h.store.progress(a, message="still working", progress_pct=50)

    records = stream_records(h.dynamodb, h.table_name)
    expected_ids = {aid: event_id for aid, _event, event_id in events_from_records(records)}
    assert set(expected_ids) == set(terminal)
    for start in range(0, len(records), 100):  # stream batches of 100, as Lambda would hand them
        assert dispatch(records[start : start + 100], h.sqs, h.queue_url) == {"batchItemFailures": []}

    with Receiver(flaky) as flaky_rx, Receiver(lambda _i, _r: Reply(500)) as dead_rx, \
            Receiver(lambda _i, _r: Reply(410)) as gone_rx:
        config = {"targets": {
            "tpl_flaky": {"url": flaky_rx.url, "secret": SECRET},
            "tpl_dead": {"url": dead_rx.url, "secret": SECRET},
            "tpl_gone": {"url": gone_rx.url, "secret": SECRET},
        }}
        # Zero delays keep the run short; ChangeMessageVisibility(0) is what makes a failed
        # message visible again (it was received with a 60 s visibility timeout).
        sender = h.sender(config, delays="0,0,0")
        rounds = 0
        while h.queue_depth() > 0:
            rounds += 1
            assert rounds < 500, "the queue did not drain: a message is stuck or looping"
            h.run_batch(sender.process_batch, visibility=60)
        dead_requests, gone_requests = len(dead_rx.requests), len(gone_rx.requests)

    dead_letters = h.dead_letters()
    dead = [envelope["assembly_id"] for envelope, _ in dead_letters]
    reasons = Counter(envelope["dead_letter"]["reason"].split(":")[0] for envelope, _ in dead_letters)

    # None lost, none duplicated: delivered + dead-lettered == terminal assemblies.
    assert len(delivered) + len(dead) == len(terminal)
    assert set(delivered) | set(dead) == set(terminal) and not set(delivered) & set(dead)
    assert len(set(delivered)) == len(delivered) and len(set(dead)) == len(dead)
    # Where each group ended, and why.
    assert {a for a in dead if terminal[a] != "tpl_flaky"} == {a for a, t in terminal.items() if t != "tpl_flaky"}
    assert dead_requests == 4 * TERMINAL["tpl_dead"] and gone_requests == TERMINAL["tpl_gone"]
    assert reasons["stopped"] == TERMINAL["tpl_gone"]
    assert reasons["gave up after 4 attempts"] == len(dead) - TERMINAL["tpl_gone"]
    assert len(delivered) > 150, "most flaky deliveries should succeed within four attempts"
    # Receivers saw the stable event id of each transition.
    assert all(seen_ids[a] == expected_ids[a] for a in delivered)
    # And the items say the same.
    items = h.store.get_many(list(terminal))
    assert Counter(s.notify_status for s in items.values()) == {"delivered": len(delivered), "failed": len(dead)}
    print(f"\n[pipeline] {len(terminal)} terminal: {len(delivered)} delivered, {len(dead)} dead-lettered "
          f"({dict(reasons)}), {rounds} SQS batches")
