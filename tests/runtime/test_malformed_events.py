"""A generated corpus of malformed events for the dispatcher and webhook handlers: each record that
cannot be understood is logged and dead-lettered with its reason (or, when that is impossible,
reported for a retry), and the good records of the same batch go through. No handler raises.

Event shapes: https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html (stream records) and
https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html (SQS records); partial batch responses:
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html (an empty, null or
unknown itemIdentifier fails the whole batch, so only real message ids / sequence numbers are reported).
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import boto3
import pytest
from transflow_runtime import assembly_id, schema
from transflow_runtime.events import parse_message
from transflow_runtime.handlers import dispatcher, webhook

from tests.runtime.webhook_receivers import Receiver, WebhookHarness, stream_records

REGION = "us-east-1"
SECRET = "whsec_bWFsZm9ybWVkLWV2ZW50cy10ZXN0LXNlY3JldCEh"
TERMINAL_IMAGE = {"assembly_id": {"S": "a" * 64}, "ok": {"S": "ASSEMBLY_COMPLETED"}, "version": {"N": "2"}}
ACTIVE_IMAGE = {"assembly_id": {"S": "a" * 64}, "state": {"S": "ASSEMBLY_EXECUTING"}, "version": {"N": "1"}}


def _stream_record(**change: Any) -> dict[str, Any]:
    name = change.pop("eventName", "MODIFY")
    return {"eventName": name, "eventSource": "aws:dynamodb", "dynamodb": change}


BAD_IMAGES: list[Any] = [
    None, "x", 1, [], ["a"], {"ok": "ASSEMBLY_COMPLETED"}, {"ok": {"S": 1}}, {"ok": {"X": "y"}},
    {"ok": {"S": "ASSEMBLY_COMPLETED", "N": "1"}}, {"ok": {}}, {"state": None},
]


def dispatcher_corpus() -> list[tuple[str, Any]]:
    """(label, record) pairs, each a record the dispatcher cannot understand."""
    cases: list[tuple[str, Any]] = [(f"record {v!r}", v) for v in (None, 0, 1, "x", "", [], [1], True, 1.5)]
    cases += [
        ("empty object", {}),
        ("eventName missing", {"dynamodb": {"NewImage": TERMINAL_IMAGE}}),
        ("eventName unknown", {"eventName": "UPDATE", "dynamodb": {"NewImage": TERMINAL_IMAGE}}),
        ("eventName a number", {"eventName": 7, "dynamodb": {}}),
        ("dynamodb missing", {"eventName": "INSERT"}),
        ("dynamodb a list", {"eventName": "INSERT", "dynamodb": []}),
        ("dynamodb a string", {"eventName": "MODIFY", "dynamodb": "NewImage"}),
        ("terminal MODIFY without OldImage", _stream_record(NewImage=TERMINAL_IMAGE, SequenceNumber="901")),
        ("terminal without assembly_id", _stream_record(eventName="INSERT", SequenceNumber="902",
                                                        NewImage={"ok": {"S": "ASSEMBLY_COMPLETED"}})),
        ("terminal without SequenceNumber", _stream_record(eventName="INSERT", NewImage=TERMINAL_IMAGE)),
        ("terminal with a numeric SequenceNumber", _stream_record(eventName="INSERT", NewImage=TERMINAL_IMAGE,
                                                                  SequenceNumber=903)),
    ]
    for n, (image, where) in enumerate(itertools.product(BAD_IMAGES, ["NewImage", "OldImage"])):
        change = {"NewImage": TERMINAL_IMAGE, "OldImage": ACTIVE_IMAGE, "SequenceNumber": f"{1000 + n}"}
        change[where] = image
        if image is None and where == "OldImage":
            continue  # a MODIFY without OldImage: covered above
        cases.append((f"{where} {image!r}", _stream_record(**change)))
    return cases


@pytest.fixture
def dispatch_env(store, dynamodb, table_name, sqs, monkeypatch):
    queue_url = sqs.create_queue(QueueName="webhooks")["QueueUrl"]
    failure_url = sqs.create_queue(QueueName="stream-failures")["QueueUrl"]
    monkeypatch.setenv(schema.ENV_WEBHOOK_QUEUE_URL, queue_url)
    monkeypatch.setenv(schema.ENV_STREAM_FAILURE_QUEUE_URL, failure_url)
    monkeypatch.setattr(dispatcher, "_sqs_client", boto3.client("sqs", region_name=REGION))
    good = []
    for n in range(3):
        aid = assembly_id(f"{n:032x}", "tpl", "alice")
        store.create(aid, user_id="alice", template_id="tpl")
        store.complete(aid)
        good.append(aid)
    return {"queue": queue_url, "failures": failure_url, "good": good, "records": stream_records(dynamodb, table_name)}


def _drain(sqs, url: str) -> list[dict[str, Any]]:
    out = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get(
            "Messages", [])
        if not got:
            return out
        for m in got:
            out.append({"body": json.loads(m["Body"]), "attributes": m.get("MessageAttributes", {})})
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def _logs(capsys, component: str) -> list[dict[str, Any]]:
    return [d for d in (json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{"))
            if d.get("component") == component]


def test_the_dispatcher_dead_letters_each_malformed_record_and_queues_the_rest(dispatch_env, sqs, capsys):
    corpus = dispatcher_corpus()
    # The good records first, then every malformed one, then the good ones again (a re-drive):
    # position in the batch must not matter.
    batch = dispatch_env["records"] + [record for _label, record in corpus] + dispatch_env["records"]
    capsys.readouterr()
    response = dispatcher.handler({"Records": batch})
    assert response == {"batchItemFailures": []}
    queued = [parse_message(m["body"] if isinstance(m["body"], str) else json.dumps(m["body"]))["assembly_id"]
              for m in _drain(sqs, dispatch_env["queue"])]
    assert sorted(queued) == sorted(dispatch_env["good"] * 2)
    dead = _drain(sqs, dispatch_env["failures"])
    assert len(dead) == len(corpus)
    assert all(d["body"]["dead_letter"]["reason"] and d["body"]["dead_letter"]["source"] == "dispatcher"
               for d in dead)
    reasons = {d["body"]["dead_letter"]["reason"] for d in dead}
    assert {d["attributes"]["reason"]["StringValue"] for d in dead} == reasons
    lines = _logs(capsys, "dispatcher")
    assert sum(line["message"] == "malformed stream record" for line in lines) == len(corpus)
    [summary] = [line for line in lines if line["message"] == "stream batch dispatched"]
    assert summary["malformed"] == len(corpus) and summary["level"] == "error"


def test_without_a_failure_queue_malformed_records_are_reported_by_sequence_number(dispatch_env, sqs, monkeypatch):
    monkeypatch.delenv(schema.ENV_STREAM_FAILURE_QUEUE_URL)
    corpus = dispatcher_corpus()
    response = dispatcher.handler({"Records": dispatch_env["records"] + [r for _l, r in corpus]})
    reported = [f["itemIdentifier"] for f in response["batchItemFailures"]]
    expected = [r["dynamodb"]["SequenceNumber"] for _l, r in corpus
                if isinstance(r, dict) and isinstance(r.get("dynamodb"), dict)
                and isinstance(r["dynamodb"].get("SequenceNumber"), str)]
    assert reported == expected and all(isinstance(i, str) and i for i in reported)
    assert len(_drain(sqs, dispatch_env["queue"])) == len(dispatch_env["good"])


@pytest.mark.parametrize("event", [None, [], "x", 1, {}, {"Records": None}, {"Records": "x"}, {"Records": {}}])
def test_the_dispatcher_survives_an_event_that_is_not_a_batch(dispatch_env, event):
    assert dispatcher.handler(event) == {"batchItemFailures": []}


# --- the webhook handler ----------------------------------------------------------------------------
def webhook_corpus() -> list[tuple[str, Any]]:
    base = {"messageId": "m-base", "receiptHandle": "rh", "body": "{}", "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {}, "eventSource": "aws:sqs"}
    cases: list[tuple[str, Any]] = [(f"record {v!r}", v) for v in (None, 0, 1, "x", [], [1], True)]
    cases.append(("empty object", {}))
    variants: dict[str, list[Any]] = {
        "messageId": [None, "", 5, ["m"]],
        "body": [None, 5, {"assembly_id": "x"}, ["x"]],
        "receiptHandle": [None, "", 3],
        "attributes": ["x", [], 5],
        "messageAttributes": ["x", [1]],
    }
    for key, values in variants.items():
        for n, value in enumerate(values):
            record = {**base, "messageId": f"m-{key}-{n}", key: value}
            cases.append((f"{key}={value!r}", record))
    for n, count in enumerate(["many", "0", "-1", "", 5, None, "1.5"]):
        record = {**base, "messageId": f"m-count-{n}", "attributes": {"ApproximateReceiveCount": count}}
        cases.append((f"ApproximateReceiveCount={count!r}", record))
    return cases


def _webhook_batch(h: WebhookHarness, receiver: Receiver) -> tuple[list[Any], list[str]]:
    good = []
    for n in range(3):
        aid = assembly_id(f"{50 + n:032x}", "tpl", "alice")
        h.store.create(aid, user_id="alice", template_id="tpl")
        h.store.complete(aid)
        h.enqueue(aid)
        good.append(aid)
    records: list[Any] = []
    while len(records) < 3:
        records += h.receive()
    return records, good


def test_the_webhook_handler_dead_letters_each_malformed_record_and_delivers_the_rest(moto_endpoint, capsys):
    h = WebhookHarness(moto_endpoint)
    corpus = webhook_corpus()
    with Receiver() as receiver:
        records, good = _webhook_batch(h, receiver)
        sender = h.sender({"targets": {"tpl": {"url": receiver.url, "secret": SECRET}}})
        capsys.readouterr()
        response = sender.process_batch([*records[:1], *(r for _l, r in corpus), *records[1:]])
    assert response == {"batchItemFailures": []}, "dead-lettered records are done; nothing to retry"
    assert sorted(json.loads(r.body)["assembly_id"] for r in receiver.requests) == sorted(good)
    dead = h.dead_letters()
    assert len(dead) == len(corpus)
    reasons = [envelope["dead_letter"]["reason"] for envelope, _attributes in dead]
    assert all(reason.startswith("malformed SQS record: ") for reason in reasons)
    lines = _logs(capsys, "webhook")
    assert sum(line["message"] == "malformed SQS record" for line in lines) == len(corpus)


def test_without_a_dlq_malformed_records_with_a_message_id_are_reported_and_the_rest_logged(moto_endpoint, capsys):
    h = WebhookHarness(moto_endpoint)
    corpus = webhook_corpus()
    with Receiver() as receiver:
        records, good = _webhook_batch(h, receiver)
        sender = h.sender({"targets": {"tpl": {"url": receiver.url, "secret": SECRET}}},
                          dlq_url=h.dlq_url + "-does-not-exist")
        response = sender.process_batch([*(r for _l, r in corpus), *records])
    reported = [f["itemIdentifier"] for f in response["batchItemFailures"]]
    with_ids = [r["messageId"] for _l, r in corpus if isinstance(r, dict)
                and isinstance(r.get("messageId"), str) and r["messageId"]]
    assert reported == with_ids
    assert sorted(json.loads(r.body)["assembly_id"] for r in receiver.requests) == sorted(good)


@pytest.mark.parametrize("event", [None, [], "x", 1, {}, {"Records": None}, {"Records": "x"}, {"Records": {}}])
def test_the_webhook_handler_survives_an_event_that_is_not_a_batch(moto_endpoint, monkeypatch, event):
    h = WebhookHarness(moto_endpoint)
    for key, value in h.env({"targets": {}}).items():
        monkeypatch.setenv(key, value)
    assert webhook.handler(event) == {"batchItemFailures": []}
