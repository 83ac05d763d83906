"""``transflow-status redrive``: SQS's native message move from the webhook DLQ back to the queue.

moto (5.2.5, the pinned version) does not implement ``StartMessageMoveTask`` or
``ListMessageMoveTasks``, so the command's AWS calls are checked with botocore's ``Stubber``
(exact request parameters, real response shapes from the SQS model). What moto can do is checked
on moto: a dead letter, moved back unchanged (as a move task moves it), is delivered again with
the same event id.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from transflow_runtime import assembly_id, cli, verify_webhook

from tests.runtime.webhook_receivers import Receiver, Reply, WebhookHarness

DLQ_ARN = "arn:aws:sqs:us-east-1:123456789012:transflow-webhooks-dlq"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:transflow-webhooks"
HANDLE = "eyJ0YXNrSWQiOiJhYmMifQ=="
SECRET = "whsec_" + base64.b64encode(b"redrive-test-key-0123456789abcd!").decode()


def task(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "TaskHandle": HANDLE,
        "Status": status,
        "SourceArn": DLQ_ARN,
        "ApproximateNumberOfMessagesMoved": 3 if status == "COMPLETED" else 1,
        "ApproximateNumberOfMessagesToMove": 3,
        "StartedTimestamp": 1_700_000_000_000,
        **extra,
    }


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Stubber, dict[str, Any]]:
    """``boto3.client('sqs')`` inside the command returns a stubbed client; sleeps are recorded."""
    client = boto3.client("sqs", region_name="us-east-1")
    stubber = Stubber(client)
    seen: dict[str, Any] = {"clients": [], "sleeps": []}

    def fake_client(service: str, **kwargs: Any) -> Any:
        seen["clients"].append((service, kwargs))
        return client

    monkeypatch.setattr(boto3, "client", fake_client)
    monkeypatch.setattr(cli.time, "sleep", lambda seconds: seen["sleeps"].append(seconds))
    with stubber:
        yield client, stubber, seen
        stubber.assert_no_pending_responses()


def printed(capsys: pytest.CaptureFixture[str]) -> tuple[list[dict[str, Any]], str]:
    out, err = capsys.readouterr()
    return [json.loads(line) for line in out.splitlines()], err


def test_redrive_to_the_source_queue_waits_until_the_task_completes(stubbed, capsys):
    _client, stubber, seen = stubbed
    stubber.add_response("start_message_move_task", {"TaskHandle": HANDLE}, {"SourceArn": DLQ_ARN})
    listing = {"SourceArn": DLQ_ARN, "MaxResults": 1}
    stubber.add_response("list_message_move_tasks", {"Results": [task("RUNNING")]}, listing)
    stubber.add_response("list_message_move_tasks", {"Results": [task("RUNNING")]}, listing)
    stubber.add_response("list_message_move_tasks", {"Results": [task("COMPLETED")]}, listing)
    assert cli.main(["redrive", "--dlq-arn", DLQ_ARN]) == cli.EXIT_OK
    lines, err = printed(capsys)
    assert lines[0] == {"task_handle": HANDLE}
    assert lines[1]["Status"] == "COMPLETED" and lines[1]["ApproximateNumberOfMessagesMoved"] == 3
    assert len(lines) == 2 and err == ""
    assert seen["sleeps"] == [2, 2]
    assert seen["clients"] == [("sqs", {})]


def test_redrive_to_a_given_queue_with_a_rate_and_region(stubbed, capsys):
    _client, stubber, seen = stubbed
    stubber.add_response(
        "start_message_move_task",
        {"TaskHandle": HANDLE},
        {"SourceArn": DLQ_ARN, "DestinationArn": QUEUE_ARN, "MaxNumberOfMessagesPerSecond": 10},
    )
    stubber.add_response(
        "list_message_move_tasks",
        {"Results": [task("COMPLETED", DestinationArn=QUEUE_ARN, MaxNumberOfMessagesPerSecond=10)]},
        {"SourceArn": DLQ_ARN, "MaxResults": 1},
    )
    argv = [
        "redrive",
        "--dlq-arn",
        DLQ_ARN,
        "--queue-arn",
        QUEUE_ARN,
        "--max-per-second",
        "10",
        "--region",
        "eu-west-1",
    ]
    assert cli.main(argv) == cli.EXIT_OK
    lines, _ = printed(capsys)
    assert lines[-1]["DestinationArn"] == QUEUE_ARN
    assert seen["clients"] == [("sqs", {"region_name": "eu-west-1"})] and seen["sleeps"] == []


def test_a_failed_move_task_exits_with_an_error_and_shows_why(stubbed, capsys):
    _client, stubber, _seen = stubbed
    stubber.add_response("start_message_move_task", {"TaskHandle": HANDLE}, {"SourceArn": DLQ_ARN})
    stubber.add_response(
        "list_message_move_tasks",
        {"Results": [task("FAILED", FailureReason="AWS.SimpleQueueService.NonExistentQueue")]},
        {"SourceArn": DLQ_ARN, "MaxResults": 1},
    )
    assert cli.main(["redrive", "--dlq-arn", DLQ_ARN]) == cli.EXIT_ERROR
    lines, _ = printed(capsys)
    assert lines[-1]["Status"] == "FAILED" and "NonExistentQueue" in lines[-1]["FailureReason"]


def test_a_refused_start_is_one_error_line_not_a_traceback(stubbed, capsys):
    _client, stubber, _seen = stubbed
    stubber.add_client_error(
        "start_message_move_task",
        service_error_code="AWS.SimpleQueueService.UnsupportedOperation",
        service_message="Source queue must be configured as a Dead Letter Queue.",
        http_status_code=400,
        expected_params={"SourceArn": DLQ_ARN},
    )
    assert cli.main(["redrive", "--dlq-arn", DLQ_ARN]) == cli.EXIT_ERROR
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("transflow-status redrive: ") and "Dead Letter Queue" in err
    assert "Traceback" not in err and len(err.splitlines()) == 1


@pytest.mark.parametrize(
    "argv",
    [["redrive"], ["redrive", "--dlq-arn", DLQ_ARN, "--max-per-second", "0"]],
)
def test_bad_arguments_are_usage_errors(argv: list[str], capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == cli.EXIT_USAGE
    assert "redrive" in capsys.readouterr().err


# ---- on moto: what a move task moves is deliverable again --------------------------------------------


def test_a_dead_letter_moved_back_unchanged_is_delivered_again_with_its_event_id(moto_endpoint):
    """The handler keeps the pointer at the top level of a dead letter, so moving it back (SQS's move
    task keeps body and attributes) re-delivers the same event with a fresh attempt count."""
    h = WebhookHarness(moto_endpoint)
    ident = assembly_id("cd" * 16, "tpl", "alice")
    h.store.create(ident, user_id="alice", template_id="tpl")
    h.store.complete(ident)
    config = {"targets": {"tpl": {"url": None, "secret": SECRET}}}
    with Receiver(lambda i, _r: Reply(503 if i == 0 else 200)) as receiver:
        config["targets"]["tpl"]["url"] = receiver.url
        sender = h.sender(config, delays="")  # one attempt: a 503 dead-letters at once
        event_id = h.enqueue(ident)
        h.run_batch(sender.process_batch)
        assert h.store.get_item(ident)["notify_status"] == "failed"
        # The endpoint is fixed; move the dead letter back as StartMessageMoveTask would.
        moved = h.sqs.receive_message(QueueUrl=h.dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])[
            "Messages"
        ]
        assert len(moved) == 1
        for message in moved:
            h.sqs.send_message(
                QueueUrl=h.queue_url, MessageBody=message["Body"], MessageAttributes=message["MessageAttributes"]
            )
            h.sqs.delete_message(QueueUrl=h.dlq_url, ReceiptHandle=message["ReceiptHandle"])
        count, response = h.run_batch(sender.process_batch)
    assert count == 1 and response == {"batchItemFailures": []}
    assert len(receiver.requests) == 2
    redelivered = receiver.requests[1]
    assert redelivered.headers["webhook-id"] == event_id
    assert verify_webhook(redelivered.body, redelivered.headers, SECRET).assembly_id == ident
    item = h.store.get_item(ident)
    assert item["notify_status"] == "delivered" and item["notify_attempts"] == 1
    assert h.dead_letters() == []
