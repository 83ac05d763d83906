"""Assembly events on EventBridge, end to end over local mode (moto's EventBridge).

examples/event_bus_app.py (the README's example) runs in local mode with ``--inbox`` (its webhook
goes to the built-in receiver) and ``--event-bus``. EventBridge delivers an event to every rule
whose pattern matches it (Amazon EventBridge User Guide, "Rules in Amazon EventBridge"); so:

* the example's own rule (completed assemblies -> ``CompletedAssemblies`` queue) receives exactly
  the completed assembly's event;
* a rule this test adds on the bus (every ``transflow.status`` event -> an SQS queue) receives
  exactly one event per terminal assembly, whose ``detail.event_id`` is the ``webhook-id`` of that
  assembly's webhook, and one ``Assembly Notification Replayed`` per replay, with the replay
  webhook's id;
* the status page's ``/_local/events`` shows them.
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.request
import uuid

import pytest
from transflow_runtime import StatusStore, assembly_id

from .conftest import REPO, aws_client, mint_from, start_local, stop_local, synth_app
from .test_local_mode import http

BUS = "transflow-assembly-events"
TEMPLATE = "tpl_events"


def _new_id(user: str) -> str:
    return assembly_id(hashlib.md5(uuid.uuid4().bytes).hexdigest(), TEMPLATE, user)


def _drain(sqs, url: str, seconds: float) -> list[dict]:
    """Every message the queue holds or receives within ``seconds`` (deleted as read)."""
    found: list[dict] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        response = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in response.get("Messages") or []:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def _inbox(info: dict) -> list[dict]:
    with urllib.request.urlopen(info["api_url"] + "/_local/inbox", timeout=10) as response:
        return json.loads(response.read())["deliveries"]


def _wait(predicate, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def events_local(tmp_path_factory):
    directory = tmp_path_factory.mktemp("events")
    app = synth_app(REPO / "examples" / "event_bus_app.py", directory / "cdk.out")
    process, info = start_local(["--app", str(app), "--inbox", "--event-bus", BUS], directory / "ready.json")
    info["process"] = process
    try:
        events = aws_client(info, "events")
        sqs = aws_client(info, "sqs")
        url = sqs.create_queue(QueueName="e2e-all-assembly-events")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="e2e-all", EventBusName=BUS, EventPattern=json.dumps({"source": ["transflow.status"]}))
        events.put_targets(Rule="e2e-all", EventBusName=BUS, Targets=[{"Id": "q", "Arn": arn}])
        info["all_events_url"] = url
        yield info
    finally:
        stop_local(process)


def test_one_event_per_terminal_assembly_with_the_webhooks_event_id(events_local):
    info = events_local
    assert info["event_bus_arn"].endswith(f":event-bus/{BUS}")
    store = StatusStore(info["table_name"], client=aws_client(info, "dynamodb"))
    sqs = aws_client(info, "sqs")
    user = "events-user"
    ids = {kind: _new_id(user) for kind in ("completed", "failed", "canceled")}
    for kind, aid in ids.items():
        store.create(aid, user_id=user, template_id=TEMPLATE)
        store.add_result(aid, "encode", {"id": "r1", "name": "a.mp3"})
        store.add_result(aid, "encode", {"id": "r2", "name": "b.mp3"})
        if kind == "completed":
            store.complete(aid)
        elif kind == "failed":
            store.fail(aid, "ENCODE_FAILED", message="the encoder crashed")
        else:
            store.cancel(aid)
    by_assembly = _wait(
        lambda: (hooks := {d["assembly_id"]: d for d in _inbox(info) if d["assembly_id"] in ids.values()})
        and len(hooks) == 3 and hooks,
        what="the three webhooks",
    )
    received = _drain(sqs, info["all_events_url"], 3.0)
    received += _drain(sqs, info["all_events_url"], 4.0) if len(received) < 3 else []
    received += _drain(sqs, info["all_events_url"], 3.0)  # nothing more may come: exactly one each
    mine = [e for e in received if e["detail"].get("assembly_id") in ids.values()]
    assert sorted(e["detail"]["assembly_id"] for e in mine) == sorted(ids.values()), mine
    detail_types = {"completed": "Assembly Completed", "failed": "Assembly Failed", "canceled": "Assembly Canceled"}
    for event in mine:
        detail = event["detail"]
        kind = next(k for k, v in ids.items() if v == detail["assembly_id"])
        assert event["source"] == "transflow.status"
        assert event["detail-type"] == detail_types[kind]
        assert detail["event_id"] == by_assembly[detail["assembly_id"]]["webhook_id"]
        assert detail["template_id"] == TEMPLATE and detail["user_id"] == user
        assert detail["results_count"] == 2 and detail["results_by_step"] == {"encode": 2}
        assert "results" not in detail and "uploads" not in detail
    failed = next(e["detail"] for e in mine if e["detail"]["assembly_id"] == ids["failed"])
    assert failed["error"] == "ENCODE_FAILED" and failed["message"] == "the encoder crashed"
    completed = next(e["detail"] for e in mine if e["detail"]["assembly_id"] == ids["completed"])
    assert completed["ok"] == "ASSEMBLY_COMPLETED"

    # The example's rule: completed assemblies only, to its queue.
    outputs_queue = sqs.get_queue_url(QueueName=_completed_queue_name(info))["QueueUrl"]
    only_completed = [e for e in _drain(sqs, outputs_queue, 2.0) if e["detail"]["assembly_id"] in ids.values()]
    assert [e["detail"]["assembly_id"] for e in only_completed] == [ids["completed"]]

    # The status page's feed.
    with urllib.request.urlopen(info["api_url"] + "/_local/events", timeout=10) as response:
        page = json.loads(response.read())
    shown = {e["assembly_id"]: e for e in page["events"] if e["assembly_id"] in ids.values()}
    assert set(shown) == set(ids.values())
    assert shown[ids["completed"]]["event_id"] == by_assembly[ids["completed"]]["webhook_id"]


def test_a_replay_is_one_event_with_the_replay_webhooks_id(events_local):
    info = events_local
    store = StatusStore(info["table_name"], client=aws_client(info, "dynamodb"))
    sqs = aws_client(info, "sqs")
    user = "replay-user"
    aid = _new_id(user)
    store.create(aid, user_id=user, template_id=TEMPLATE)
    store.complete(aid)
    _wait(lambda: [d for d in _inbox(info) if d["assembly_id"] == aid], what="the completed webhook")
    status, _, body = http("POST", f"{info['api_url']}/assemblies/{aid}/notify", mint_from(info, user))
    assert status == 202, body
    replays = _wait(
        lambda: [d for d in _inbox(info) if d["assembly_id"] == aid and d["event"] == "replay"],
        what="the replay webhook",
    )
    received = _drain(sqs, info["all_events_url"], 5.0)
    mine = [e for e in received if e["detail"].get("assembly_id") == aid]
    assert sorted(e["detail-type"] for e in mine) == ["Assembly Completed", "Assembly Notification Replayed"]
    replayed = next(e for e in mine if e["detail-type"] == "Assembly Notification Replayed")
    assert [r["webhook_id"] for r in replays] == [replayed["detail"]["event_id"]]


def _completed_queue_name(info: dict) -> str:
    """The example's ``CompletedAssemblies`` queue (its name is generated, as CloudFormation does)."""
    names = [u.rsplit("/", 1)[-1] for u in aws_client(info, "sqs").list_queues().get("QueueUrls", [])]
    (name,) = [n for n in names if "CompletedAssemblies" in n and "CompletedAssembliesDlq" not in n]
    return name


def test_the_built_in_stack_gets_the_bus_named_by_event_bus_and_the_page_shows_its_events(tmp_path):
    """``transflow-status local --event-bus NAME`` without ``--app``: the default stack's functions
    name a bus NAME on moto's EventBridge, and ``/_local/events`` (the status page's feed) shows each
    terminal assembly's event with its webhook's id."""
    process, info = start_local(["--event-bus", "dev-bus", "--inbox"], tmp_path / "ready.json")
    try:
        assert info["event_bus_arn"].endswith(":event-bus/dev-bus")
        store = StatusStore(info["table_name"], client=aws_client(info, "dynamodb"))
        aid = _new_id("page-user")
        store.create(aid, user_id="page-user", template_id=TEMPLATE)
        store.complete(aid)
        [hook] = _wait(lambda: [d for d in _inbox(info) if d["assembly_id"] == aid], what="the webhook")

        def shown() -> list[dict]:
            with urllib.request.urlopen(info["api_url"] + "/_local/events", timeout=10) as response:
                return [e for e in json.loads(response.read())["events"] if e["assembly_id"] == aid]

        [event] = _wait(shown, what="the event on the page")
        assert event["detail_type"] == "Assembly Completed" and event["event_id"] == hook["webhook_id"]
        with urllib.request.urlopen(info["api_url"] + "/_local/config", timeout=10) as response:
            assert json.loads(response.read())["event_bus"] == "dev-bus"
    finally:
        stop_local(process)
