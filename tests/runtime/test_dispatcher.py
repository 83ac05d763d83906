"""Stream dispatcher: exactly one webhook event per terminal transition, from real moto stream records."""

from __future__ import annotations

import json

import boto3
import pytest
from boto3.dynamodb.types import TypeSerializer
from transflow_runtime import AssemblyTerminalError, assembly_id
from transflow_runtime.events import parse_message, stable_event_id
from transflow_runtime.handlers import dispatcher
from transflow_runtime.handlers.dispatcher import events_from_records, transition_of
from transflow_runtime.schema import ENV_WEBHOOK_QUEUE_URL, STATE_COMPLETED, STATE_EXECUTING

from tests.runtime.webhook_receivers import stream_records

REGION = "us-east-1"


def aid(n: int) -> str:
    return assembly_id(f"{n:032x}", "tpl", "alice")


def test_lifecycle_fires_once_on_completion_never_on_progress_bookkeeping_or_remove(store, dynamodb, table_name):
    a = aid(1)
    store.create(a, user_id="alice", template_id="tpl")
    store.start_step(a, "encode")
    store.add_result(a, "encode", {"id": "r1", "name": "out.mp3", "size": 10})
    done = store.complete(a)
    store.record_notification(a, {"notify_status": "delivered", "notify_response_code": 200})
    store.record_notification(a, {"notify_status": "delivered", "notify_attempts": 2})
    dynamodb.delete_item(TableName=table_name, Key={"assembly_id": {"S": a}})
    records = stream_records(dynamodb, table_name)
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "MODIFY", "MODIFY", "MODIFY", "MODIFY", "REMOVE"]
    expected = stable_event_id(a, "completed", done.version, done.created_at)
    assert events_from_records(records) == [(a, "completed", expected)]


@pytest.mark.parametrize(
    ("finish", "event"),
    [
        (lambda s, a: s.complete(a), "completed"),
        (lambda s, a: s.fail(a, "encoder crashed"), "failed"),
        (lambda s, a: s.cancel(a), "canceled"),
    ],
)
def test_each_terminal_state_maps_to_its_event(store, dynamodb, table_name, finish, event):
    a = aid(2)
    store.create(a, user_id="alice", template_id="tpl")
    finish(store, a)
    assert [e[:2] for e in events_from_records(stream_records(dynamodb, table_name))] == [(a, event)]


def test_insert_of_an_already_terminal_item_fires(dynamodb, table_name):
    a = aid(3)
    item = {"assembly_id": a, "state": STATE_COMPLETED, "ok": STATE_COMPLETED, "version": 1, "user_id": "alice"}
    serializer = TypeSerializer()
    dynamodb.put_item(TableName=table_name, Item={k: serializer.serialize(v) for k, v in item.items()})
    records = stream_records(dynamodb, table_name)
    assert records[0]["eventName"] == "INSERT"
    assert events_from_records(records) == [(a, "completed", stable_event_id(a, "completed", 1))]


def test_refused_writes_after_terminal_do_not_fire_again(store, dynamodb, table_name):
    a = aid(4)
    store.create(a, user_id="alice", template_id="tpl")
    store.fail(a, "boom")
    for late in (lambda: store.complete(a), lambda: store.progress(a, message="late"), lambda: store.cancel(a)):
        with pytest.raises(AssemblyTerminalError, match="is already ASSEMBLY_FAILED; terminal states are final"):
            late()
    assert len(events_from_records(stream_records(dynamodb, table_name))) == 1


def test_a_redriven_stream_batch_yields_the_same_event_ids(store, dynamodb, table_name):
    for n in range(5):
        store.create(aid(n), user_id="alice", template_id="tpl")
        store.complete(aid(n))
    records = stream_records(dynamodb, table_name)
    first, again = events_from_records(records), events_from_records(json.loads(json.dumps(records, default=str)))
    assert first == again and len({e[2] for e in first}) == 5


def _record(name: str, new: dict | None, old: dict | None, seq: str = "100") -> dict:
    s = TypeSerializer()
    change: dict = {"SequenceNumber": seq, "Keys": {"assembly_id": {"S": "x"}}}
    if new is not None:
        change["NewImage"] = {k: s.serialize(v) for k, v in new.items()}
    if old is not None:
        change["OldImage"] = {k: s.serialize(v) for k, v in old.items()}
    return {"eventName": name, "dynamodb": change}


def test_modify_without_old_image_does_not_fire_because_bookkeeping_writes_would_loop(capsys):
    record = _record("MODIFY", {"assembly_id": "x", "state": STATE_COMPLETED, "version": 3}, None)
    assert transition_of(record) is None
    assert "NEW_AND_OLD_IMAGES" in capsys.readouterr().out


def test_transition_rule_over_synthetic_images():
    active = {"assembly_id": "x", "state": STATE_EXECUTING, "version": 2}
    done = {"assembly_id": "x", "state": STATE_COMPLETED, "version": 3}
    assert transition_of(_record("MODIFY", done, active)).event == "completed"
    assert transition_of(_record("MODIFY", {**done, "notify_status": "delivered"}, done)) is None
    assert transition_of(_record("MODIFY", active, {**active, "version": 1})) is None
    assert transition_of(_record("INSERT", active, None)) is None
    assert transition_of(_record("REMOVE", None, done)) is None
    # An item without a version still gets an id that is stable for its stream record.
    unversioned = transition_of(_record("INSERT", {"assembly_id": "x", "state": STATE_COMPLETED}, None, "777"))
    assert unversioned.event_id == stable_event_id("x", "completed", "seq:777")


def test_handler_queues_one_pointer_message_per_transition(store, dynamodb, table_name, sqs, monkeypatch):
    queue_url = sqs.create_queue(QueueName="webhooks")["QueueUrl"]
    monkeypatch.setenv(ENV_WEBHOOK_QUEUE_URL, queue_url)
    monkeypatch.setattr(dispatcher, "_sqs_client", boto3.client("sqs", region_name=REGION))
    ids = [aid(n) for n in range(23)]  # more than one SendMessageBatch
    for a in ids:
        store.create(a, user_id="alice", template_id="tpl")
        store.start_step(a, "encode")
        store.complete(a)
    records = stream_records(dynamodb, table_name)
    assert dispatcher.handler({"Records": records}) == {"batchItemFailures": []}
    bodies = []
    while True:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            break
        bodies += [parse_message(m["Body"]) for m in got]
    assert sorted(b["assembly_id"] for b in bodies) == sorted(ids)
    assert {b["event"] for b in bodies} == {"completed"}
    assert {b["event_id"] for b in bodies} == {e[2] for e in events_from_records(records)}


def test_handler_reports_failed_sends_by_sequence_number_for_the_stream_to_retry(
    store, dynamodb, table_name, sqs, monkeypatch
):
    monkeypatch.setenv(ENV_WEBHOOK_QUEUE_URL, "https://sqs.us-east-1.amazonaws.com/123456789012/does-not-exist")
    monkeypatch.setattr(dispatcher, "_sqs_client", boto3.client("sqs", region_name=REGION))
    store.create(aid(1), user_id="alice", template_id="tpl")
    store.complete(aid(1))
    store.create(aid(2), user_id="alice", template_id="tpl")  # not terminal: never reported
    records = stream_records(dynamodb, table_name)
    completed = next(r for r in records if r["eventName"] == "MODIFY")
    response = dispatcher.handler({"Records": records})
    assert response == {"batchItemFailures": [{"itemIdentifier": completed["dynamodb"]["SequenceNumber"]}]}


def _sent_event_ids(sqs, queue_url: str) -> list[str]:
    """Every message on the queue (received once, then deleted), as event ids."""
    out: list[str] = []
    while True:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return out
        for message in got:
            out.append(parse_message(message["Body"])["event_id"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def test_per_entry_failures_of_send_message_batch_are_reported_by_sequence_number():
    """SendMessageBatch answers 200 with a ``Failed`` list for the entries it refused
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html):
    exactly those records' sequence numbers go back to Lambda, across chunks of ten."""
    from botocore.stub import ANY, Stubber

    records = [
        _record("MODIFY", {"assembly_id": f"a{n}", "state": STATE_COMPLETED, "version": 2},
                {"assembly_id": f"a{n}", "state": STATE_EXECUTING, "version": 1}, seq=f"{1000 + n}")
        for n in range(13)
    ]
    refused = {"3", "7", "11"}  # entry ids are the transitions' indexes
    client = boto3.client("sqs", region_name=REGION)
    with Stubber(client) as stub:
        for ids in ([str(i) for i in range(10)], [str(i) for i in range(10, 13)]):
            stub.add_response(
                "send_message_batch",
                {
                    "Successful": [{"Id": i, "MessageId": f"m{i}", "MD5OfMessageBody": "x" * 32}
                                   for i in ids if i not in refused],
                    "Failed": [{"Id": i, "SenderFault": False, "Code": "InternalError", "Message": "try again"}
                               for i in ids if i in refused],
                },
                {"QueueUrl": "https://queue", "Entries": ANY},
            )
        response = dispatcher.dispatch(records, client, "https://queue")
        stub.assert_no_pending_responses()
    assert response == {"batchItemFailures": [{"itemIdentifier": "1003"}, {"itemIdentifier": "1007"},
                                              {"itemIdentifier": "1011"}]}


def test_a_partly_refused_batch_queues_the_rest_once_and_loses_nothing_after_lambdas_retry(
    store, dynamodb, table_name, sqs, monkeypatch
):
    """SQS refuses some entries of a SendMessageBatch (injected into a real moto queue's calls):
    the others are queued exactly once, the refused ones are reported, and Lambda's retry from the
    first reported record (it checkpoints before it) queues every transition that was missing."""
    queue_url = sqs.create_queue(QueueName="webhooks")["QueueUrl"]
    monkeypatch.setenv(ENV_WEBHOOK_QUEUE_URL, queue_url)
    client = boto3.client("sqs", region_name=REGION)
    monkeypatch.setattr(dispatcher, "_sqs_client", client)
    ids = [aid(n) for n in range(15)]
    for a in ids:
        store.create(a, user_id="alice", template_id="tpl")
        store.complete(a)
    records = stream_records(dynamodb, table_name)
    expected = {a: e for a, _event, e in events_from_records(records)}
    refuse = {ids[3], ids[11], ids[12]}
    refusing = [True]
    held_back: list[dict] = []

    def drop_refused(params, **_):
        if not refusing[0]:
            return None
        kept = []
        for entry in params["Entries"]:
            (held_back if parse_message(entry["MessageBody"])["assembly_id"] in refuse else kept).append(entry)
        return {**params, "Entries": kept}

    def report_refused(parsed, **_):
        parsed.setdefault("Failed", []).extend(
            {"Id": e["Id"], "SenderFault": False, "Code": "InternalError", "Message": "injected"} for e in held_back
        )
        held_back.clear()

    client.meta.events.register("provide-client-params.sqs.SendMessageBatch", drop_refused)
    client.meta.events.register("after-call.sqs.SendMessageBatch", report_refused)

    response = dispatcher.handler({"Records": records})
    transitions = {t.assembly_id: t.sequence_number for t in dispatcher.transitions_from_records(records)}
    reported = [f["itemIdentifier"] for f in response["batchItemFailures"]]
    assert reported == [transitions[a] for a in ids if a in refuse]
    first_try = _sent_event_ids(sqs, queue_url)
    assert sorted(first_try) == sorted(expected[a] for a in ids if a not in refuse), "each queued exactly once"

    refusing[0] = False
    sequence = [r["dynamodb"]["SequenceNumber"] for r in records]
    retried = records[sequence.index(reported[0]):]  # Lambda resumes at the first failed record
    assert dispatcher.handler({"Records": retried}) == {"batchItemFailures": []}
    second_try = _sent_event_ids(sqs, queue_url)
    assert set(first_try) | set(second_try) == set(expected.values()), "no transition lost"
    assert set(second_try) >= {expected[a] for a in refuse}


def test_terminal_transitions_of_two_incarnations_get_different_event_ids():
    from transflow_runtime.handlers.dispatcher import transition_of

    aid = "b" * 64

    def record(created_at: str, seq: str) -> dict:
        def image(state: str) -> dict:
            return {
                "assembly_id": {"S": aid},
                "state": {"S": state},
                "version": {"N": "7"},
                "created_at": {"S": created_at},
            }

        return {
            "eventName": "MODIFY",
            "dynamodb": {
                "Keys": {"assembly_id": {"S": aid}},
                "SequenceNumber": seq,
                "OldImage": image("ASSEMBLY_EXECUTING"),
                "NewImage": image("ASSEMBLY_COMPLETED"),
            },
        }

    first = transition_of(record("2025-01-01T00:00:00.000Z", "100"))
    second = transition_of(record("2025-03-01T00:00:00.000Z", "900"))  # same files/user/template, 2 months on
    assert first is not None and second is not None
    assert first.event_id != second.event_id
