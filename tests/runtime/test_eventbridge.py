"""Assembly events on EventBridge: the detail stays within EventBridge's size limits, the webhook
function puts each event with the webhook's event id, retries what PutEvents refused (per entry
or whole call) on the webhook schedule, and dead-letters the rest with the ErrorCode; nothing
that was put is put again by our own retries.

Limits and rules from the Amazon EventBridge documentation:

* API Reference, "PutEvents": 1 to 10 entries per request; the response's ``Entries`` are in the
  request's order, each with an ``EventId`` or an ``ErrorCode``/``ErrorMessage``, and
  ``FailedEntryCount`` counts the failed ones (a 200 response can hold failures).
* User Guide, "Calculating PutEvents event entry size" (in "Sending events with PutEvents"): the
  total entry size of one PutEvents request must be less than 256 KB; an entry's size is 14 bytes
  for ``Time`` plus the UTF-8 bytes of ``Source``, ``DetailType``, ``Detail`` and ``Resources``.
* DynamoDB Developer Guide, "Quotas": an item holds at most 400 KB — larger than one event.

Faults are injected into real moto calls with botocore's event hooks: the entry is really refused
by moto's EventBridge (a ``Detail`` that is no JSON), and the code the client sees is the retryable one the
API reference lists (``ThrottlingException``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import boto3
import pytest
from botocore.config import Config
from transflow_runtime import assembly_id, eventbridge, schema
from transflow_runtime.eventbridge import (
    DETAIL_TYPES,
    MAX_DETAIL_BYTES,
    MAX_ENTRIES_PER_PUT,
    MAX_PUT_BYTES,
    SOURCE,
    entry_size,
    put_batches,
    put_entry,
)
from transflow_runtime.events import make_message, parse_message

from tests.runtime.webhook_receivers import WebhookHarness

REGION = "us-east-1"
DYNAMODB_ITEM_LIMIT = 400 * 1024
EVENTBRIDGE_EVENT_LIMIT = 256 * 1024


def aid(n: int, user: str = "alice") -> str:
    return assembly_id(f"{n:032x}", "tpl", user)


# ---------------------------------------------------------------------------------------- size
def _huge_item(n: int) -> dict[str, Any]:
    """An item near DynamoDB's 400 KB with every text field at its largest and characters JSON escapes."""
    filler = '"\\\u2028é' * 4000
    return {
        "assembly_id": aid(n),
        "template_id": "t" * 1024,
        "user": {"userId": "ü" * 1024},
        "user_id": "ü" * 1024,
        "state": "failed",
        "error": filler * 3,
        "message": filler * 3,
        "execution_duration": 12.5,
        "uploads": [{"name": "x" * 100}] * 500,
        "results": {f"step-{i:03d}-" + "s" * 300: [{"id": "r"}] * 3 for i in range(200)},
        "created_at": "2026-12-02T00:00:00.000Z",
        "updated_at": "2026-12-02T00:00:01.000Z",
    }


def test_the_detail_of_an_item_at_dynamodbs_limit_fits_one_event_and_ten_fit_one_request():
    item = _huge_item(1)
    assert len(json.dumps(item, ensure_ascii=False).encode()) > EVENTBRIDGE_EVENT_LIMIT  # the whole item would not
    entries = [put_entry("bus", _huge_item(n), "failed", f"evt_{n:032x}") for n in range(MAX_ENTRIES_PER_PUT)]
    for entry in entries:
        assert len(entry["Detail"].encode()) <= MAX_DETAIL_BYTES
        assert entry_size(entry) < EVENTBRIDGE_EVENT_LIMIT
        detail = json.loads(entry["Detail"])
        assert detail["results_count"] == 600 and detail["uploads_count"] == 500
        assert detail["results_steps_omitted"] == 200 - eventbridge.MAX_STEPS_LISTED
        assert {"error", "message"} <= set(detail["truncated"])
        assert "results" not in detail and "uploads" not in detail
    assert put_batches(entries) == [list(range(MAX_ENTRIES_PER_PUT))]
    assert sum(entry_size(e) for e in entries) < MAX_PUT_BYTES


def test_entry_size_is_counted_as_the_user_guide_says():
    entry = {"Source": "s", "DetailType": "dé", "Detail": '{"a":"ü"}', "Resources": ["r1", "r22"],
             "Time": "2026-12-02T00:00:00Z"}
    assert entry_size(entry) == 14 + 1 + 3 + len('{"a":"ü"}'.encode()) + 2 + 3


def test_batches_split_at_ten_entries_and_before_the_request_limit():
    small = [{"Source": "s", "DetailType": "d", "Detail": "{}"}] * 23
    assert [len(b) for b in put_batches(small)] == [10, 10, 3]
    big = [{"Source": "s", "DetailType": "d", "Detail": "x" * (100 * 1024)}] * 3
    assert put_batches(big) == [[0, 1], [2]]  # 200 KB + 100 KB would reach 256 KB


# ---------------------------------------------------------------------------------------- delivery
class Bus:
    """A bus on the moto server with a rule sending every ``transflow.status`` event to a queue."""

    def __init__(self, h: WebhookHarness, name: str) -> None:
        self.name = name
        self.events = boto3.client("events", region_name=REGION, endpoint_url=h.endpoint)
        self.arn = self.events.create_event_bus(Name=name)["EventBusArn"]
        self.sqs = h.sqs
        self.sink = h.sqs.create_queue(QueueName=f"sink-{name}")["QueueUrl"]
        sink_arn = h.sqs.get_queue_attributes(QueueUrl=self.sink, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.events.put_rule(Name="all", EventBusName=name, EventPattern=json.dumps({"source": [SOURCE]}))
        self.events.put_targets(Rule="all", EventBusName=name, Targets=[{"Id": "sink", "Arn": sink_arn}])
        self.calls = 0

    def received(self) -> list[dict[str, Any]]:
        out = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.sink, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                return out
            for m in got:
                out.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=self.sink, ReceiptHandle=m["ReceiptHandle"])

    def refuse(self, should_refuse, code: str | None = "ThrottlingException", times: int = 10**6) -> None:
        """PutEvents entries for which ``should_refuse(entry)`` are really refused by moto (empty
        Detail that is no JSON), and reported to the client with ``code`` (``None``: moto's own code)."""
        state = {"left": times, "refused": []}

        def before(params: dict[str, Any], **_: Any) -> None:
            self.calls += 1
            state["refused"] = []
            for index, entry in enumerate(params.get("Entries") or []):
                if state["left"] > 0 and should_refuse(entry):
                    state["left"] -= 1
                    entry["Detail"] = " "
                    state["refused"].append(index)

        def after(parsed: dict[str, Any], **_: Any) -> None:
            for index in state["refused"]:
                entry = parsed["Entries"][index]
                assert "ErrorCode" in entry, entry  # moto really refused it
                if code is not None:
                    parsed["Entries"][index] = {"ErrorCode": code, "ErrorMessage": "Rate exceeded (injected)"}

        self.events.meta.events.register("before-parameter-build.events.PutEvents", before)
        self.events.meta.events.register("after-call.events.PutEvents", after)


@pytest.fixture
def h(moto_endpoint) -> WebhookHarness:
    return WebhookHarness(moto_endpoint)


def _bus(h: WebhookHarness) -> Bus:
    return Bus(h, f"bus-{h.table_name[-8:]}")


def _sender(h: WebhookHarness, bus: Bus, delays: str = "0,0,0"):
    from transflow_runtime.handlers.webhook import WebhookSender

    return WebhookSender(
        h.settings({}, delays=delays, event_bus=bus.arn),
        dynamodb=h.dynamodb, sqs=h.sqs, secretsmanager=h.secrets, events=bus.events,
    )


def _finish(h: WebhookHarness, n: int, how: str = "complete") -> str:
    a = aid(n)
    h.store.create(a, user_id="alice", template_id="tpl")
    h.store.add_result(a, "encode", {"id": "r1", "name": "a.mp3"})
    getattr(h.store, how)(*([a, "BOOM"] if how == "fail" else [a]))
    return a


def _enqueue_event(h: WebhookHarness, a: str, event: str = "completed", event_id: str | None = None) -> str:
    body = make_message(a, event, event_id, schema.CHANNEL_EVENTBRIDGE)
    h.sqs.send_message(QueueUrl=h.queue_url, MessageBody=body)
    return parse_message(body)["event_id"]


def test_each_event_message_becomes_one_event_with_the_messages_event_id(h):
    bus = _bus(h)
    sent = {_finish(h, 1): "completed", _finish(h, 2, "fail"): "failed", _finish(h, 3, "cancel"): "canceled"}
    ids = {a: _enqueue_event(h, a, e) for a, e in sent.items()}
    count, response = h.run_batch(_sender(h, bus).process_batch)
    assert count == 3 and response == {"batchItemFailures": []}
    events = bus.received()
    assert sorted(e["detail"]["assembly_id"] for e in events) == sorted(sent)
    for event in events:
        a = event["detail"]["assembly_id"]
        assert event["source"] == SOURCE and event["detail-type"] == DETAIL_TYPES[sent[a]]
        assert event["detail"]["event_id"] == ids[a] and event["detail"]["results_count"] == 1
    assert h.queue_depth() == 0 and h.dead_letters() == []


def test_a_refused_entry_is_retried_alone_and_nothing_put_is_put_again(h):
    """PutEvents succeeds for one entry and refuses the other (FailedEntryCount 1): the put one is
    done, only the refused message goes back to the queue, and its retry puts it with the same id."""
    bus = _bus(h)
    kept, refused = _finish(h, 1), _finish(h, 2)
    kept_id, refused_id = _enqueue_event(h, kept), _enqueue_event(h, refused)
    bus.refuse(lambda entry: refused in entry["Detail"], times=1)
    sender = _sender(h, bus)
    count, response = h.run_batch(sender.process_batch)
    assert count == 2
    [failure] = response["batchItemFailures"]
    assert json.loads(next(r for r in h.last_records if r["messageId"] == failure["itemIdentifier"])["body"])[
        "assembly_id"] == refused
    assert [(e["detail"]["assembly_id"], e["detail"]["event_id"]) for e in bus.received()] == [(kept, kept_id)]
    count, response = h.run_batch(sender.process_batch)
    assert count == 1 and response == {"batchItemFailures": []}
    assert [(e["detail"]["assembly_id"], e["detail"]["event_id"]) for e in bus.received()] == [(refused, refused_id)]
    assert h.queue_depth() == 0 and h.dead_letters() == []


def test_a_failed_put_request_is_retried(h):
    """The whole call fails (the endpoint is unreachable): every message is retried, then put."""
    bus = _bus(h)
    a = _finish(h, 1)
    event_id = _enqueue_event(h, a)
    broken = boto3.client("events", region_name=REGION, endpoint_url="http://127.0.0.1:9",
                          config=Config(retries={"max_attempts": 1}))
    from transflow_runtime.handlers.webhook import WebhookSender

    failing = WebhookSender(h.settings({}, event_bus=bus.arn), dynamodb=h.dynamodb, sqs=h.sqs,
                            secretsmanager=h.secrets, events=broken)
    _, response = h.run_batch(failing.process_batch)
    assert len(response["batchItemFailures"]) == 1 and bus.received() == []
    _, response = h.run_batch(_sender(h, bus).process_batch)
    assert response == {"batchItemFailures": []}
    assert [e["detail"]["event_id"] for e in bus.received()] == [event_id]


def test_retries_exhausted_the_message_is_dead_lettered_with_the_error_code(h):
    bus = _bus(h)
    a = _finish(h, 1)
    event_id = _enqueue_event(h, a)
    bus.refuse(lambda entry: True)
    sender = _sender(h, bus, delays="0")  # two attempts
    _, first = h.run_batch(sender.process_batch)
    assert len(first["batchItemFailures"]) == 1
    _, second = h.run_batch(sender.process_batch)
    assert second == {"batchItemFailures": []}
    [(letter, _attrs)] = h.dead_letters()
    text = json.dumps(letter)
    assert "ThrottlingException" in text and "gave up after 2 attempts" in text and event_id in text
    assert bus.received() == [] and h.queue_depth() == 0


def test_a_non_retryable_refusal_is_dead_lettered_at_once(h):
    """moto's own per-entry error (MalformedDetail: the Detail is no JSON object) is not retryable
    by the API reference."""
    bus = _bus(h)
    a = _finish(h, 1)
    _enqueue_event(h, a)
    bus.refuse(lambda entry: True, code=None)
    _, response = h.run_batch(_sender(h, bus).process_batch)
    assert response == {"batchItemFailures": []}
    [(letter, _attrs)] = h.dead_letters()
    assert "MalformedDetail" in json.dumps(letter) and "stopped" in json.dumps(letter)


def test_event_and_webhook_messages_of_one_batch_are_both_handled(h):
    """A batch mixing channels: the webhook message is delivered (here: skipped, no target), the
    event message put; neither takes the other's path."""
    bus = _bus(h)
    a = _finish(h, 1)
    event_id = h.enqueue(a)
    _enqueue_event(h, a, event_id=event_id)
    _, response = h.run_batch(_sender(h, bus).process_batch)
    assert response == {"batchItemFailures": []}
    assert [e["detail"]["event_id"] for e in bus.received()] == [event_id]
    assert h.store.get_item(a)["notify_status"] == "skipped"


# ---------------------------------------------------------------------------------------- producers
def test_the_dispatcher_queues_one_message_per_channel_with_one_event_id(store, dynamodb, table_name, sqs, monkeypatch):
    from transflow_runtime.handlers import dispatcher

    from tests.runtime.webhook_receivers import stream_records

    queue_url = sqs.create_queue(QueueName="webhooks")["QueueUrl"]
    monkeypatch.setenv(schema.ENV_WEBHOOK_QUEUE_URL, queue_url)
    monkeypatch.setenv(schema.ENV_EVENT_BUS_ARN, "arn:aws:events:us-east-1:123456789012:event-bus/b")
    monkeypatch.setattr(dispatcher, "_sqs_client", boto3.client("sqs", region_name=REGION))
    ids = [aid(n) for n in range(7)]  # 14 messages: more than one SendMessageBatch
    for a in ids:
        store.create(a, user_id="alice", template_id="tpl")
        store.complete(a)
    records = stream_records(dynamodb, table_name)
    assert dispatcher.handler({"Records": records}) == {"batchItemFailures": []}
    bodies = []
    while got := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for m in got:
            bodies.append(parse_message(m["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
    by_assembly: dict[str, list[dict[str, str]]] = {}
    for body in bodies:
        by_assembly.setdefault(body["assembly_id"], []).append(body)
    assert sorted(by_assembly) == sorted(ids)
    for messages in by_assembly.values():
        assert sorted(m.get("channel", "webhook") for m in messages) == ["eventbridge", "webhook"]
        assert len({m["event_id"] for m in messages}) == 1
    monkeypatch.delenv(schema.ENV_EVENT_BUS_ARN)
    assert dispatcher.handler({"Records": records}) == {"batchItemFailures": []}
    again = []
    while got := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for m in got:
            again.append(parse_message(m["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
    assert len(again) == len(ids) and all("channel" not in m for m in again)
    assert {m["event_id"] for m in again} == {m["event_id"] for m in bodies}  # a re-driven batch: same ids


@pytest.mark.parametrize("module", ["transflow_runtime.handlers.status", "transflow_runtime.handlers.authorizer"])
def test_the_read_path_does_not_import_the_eventbridge_code(module):
    """Cold start: the status and authorizer handlers never load the event-publishing modules."""
    code = (
        f"import sys, {module}\n"
        "print(','.join(sorted(m for m in sys.modules if m in ('transflow_runtime.eventbridge', "
        "'transflow_runtime.handlers.eventbridge_channel', 'transflow_runtime.handlers.webhook'))))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env["AWS_DEFAULT_REGION"] = REGION
    env[schema.ENV_EVENT_BUS_ARN] = "arn:aws:events:us-east-1:123456789012:event-bus/b"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_failed_puts_are_counted_under_the_dimensions_the_alarm_selects(h, capsys, monkeypatch):
    """The construct's ``event_bus_put_failures`` alarm reads ``EventBridgeEvents`` with exactly the
    dimensions ``Instance`` and ``Outcome`` (retrying, failed): the handler must emit those."""
    monkeypatch.setenv(schema.INSTANCE_ID_ENV, "Stack/Status")
    bus = _bus(h)
    _enqueue_event(h, _finish(h, 1))
    bus.refuse(lambda entry: True)
    sender = _sender(h, bus, delays="0")
    h.run_batch(sender.process_batch)
    h.run_batch(sender.process_batch)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    counted = [doc for doc in lines if schema.METRIC_EVENTBRIDGE_EVENTS in doc]
    assert [doc["Outcome"] for doc in counted] == ["retrying", "failed"]
    for doc in counted:
        [metrics] = doc["_aws"]["CloudWatchMetrics"]
        assert metrics["Dimensions"] == [[schema.METRIC_INSTANCE_DIMENSION, schema.METRIC_WEBHOOK_DIMENSION]]
        assert doc[schema.METRIC_INSTANCE_DIMENSION] == "Stack/Status"
        assert metrics["Metrics"] == [{"Name": schema.METRIC_EVENTBRIDGE_EVENTS, "Unit": "Count"}]
