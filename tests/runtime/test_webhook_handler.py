"""Webhook Lambda handler against moto (SQS, DynamoDB, Secrets Manager) and real local receivers."""

from __future__ import annotations

import base64
import json
import threading

import pytest
from transflow_runtime import assembly_id, verify_webhook
from transflow_runtime.handlers import webhook
from transflow_runtime.handlers.webhook import MAX_RETRY_DELAY_SECONDS, WebhookSettings, parse_retry_delays
from transflow_runtime.store import iso_now
from transflow_runtime.webhooks import WebhookVerificationError

from tests.runtime.webhook_receivers import Receiver, Reply, WebhookHarness

SECRET = "whsec_" + base64.b64encode(b"handler-test-key-0123456789abcd!").decode()
NOTIFY_SECRET = "whsec_" + base64.b64encode(b"notify-url-key-0123456789abcdef!").decode()
T0 = 1_900_000_000.0


@pytest.fixture
def h(moto_endpoint) -> WebhookHarness:
    return WebhookHarness(moto_endpoint)


def finished(h: WebhookHarness, n: int, template: str = "tpl", notify_url: str | None = None) -> str:
    a = assembly_id(f"{n:032x}", template, "alice")
    h.store.create(a, user_id="alice", template_id=template, notify_url=notify_url)
    h.store.complete(a)
    return a


def target(url: str, secret: str = SECRET) -> dict:
    return {"targets": {"tpl": {"url": url, "secret": secret}}}


def logs(capsys) -> list[dict]:
    out = []
    for line in capsys.readouterr().out.splitlines():
        if line.startswith("{"):
            doc = json.loads(line)
            if doc.get("component") == "webhook":
                out.append(doc)
    return out


def test_delivers_a_signed_current_status_and_records_it(h, capsys):
    a = finished(h, 1)
    with Receiver() as receiver:
        event_id = h.enqueue(a)
        count, response = h.run_batch(h.sender(target(receiver.url), clock=lambda: T0).process_batch)
    assert count == 1 and response == {"batchItemFailures": []}
    request = receiver.requests[0]
    status = verify_webhook(request.body, request.headers, SECRET, now=T0)
    assert status.assembly_id == a and status.ok == "ASSEMBLY_COMPLETED"
    assert request.headers["webhook-id"] == event_id and request.headers["webhook-timestamp"] == str(int(T0))
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("transflow-webhooks/")
    item = h.store.get_item(a)
    assert item["notify_status"] == "delivered" and item["notify_response_code"] == 200
    assert item["notify_attempts"] == 1 and item["notify_event_id"] == event_id
    assert item["notify_delivered_at"] == iso_now(T0) and "notify_error" not in item
    assert h.queue_depth() == 0
    [line] = logs(capsys)
    assert line["Outcome"] == "delivered" and line["assembly_id"] == a and line["event_id"] == event_id
    assert line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"] == "WebhookDeliveries"
    assert "WebhookDeliveryLatency" in line and SECRET not in json.dumps(line)


def test_body_is_the_item_as_the_status_api_serializes_it(h):
    from transflow_runtime import status_to_wire

    a = finished(h, 2)
    with Receiver() as receiver:
        h.enqueue(a)
        h.run_batch(h.sender(target(receiver.url)).process_batch)
    before = h.store.get_item(a)
    for key in [k for k in before if k.startswith("notify_")]:
        before.pop(key)
    assert receiver.requests[0].body == status_to_wire(before)


def test_the_handler_entry_point_reads_its_configuration_from_the_environment(h, monkeypatch):
    a = finished(h, 3)
    arn = h.secrets.create_secret(Name=f"hook-{h.table_name}", SecretString=SECRET)["ARN"]
    with Receiver() as receiver:
        for key, value in h.env({"targets": {"tpl": {"url": receiver.url, "secret_arn": arn}}}).items():
            monkeypatch.setenv(key, value)
        h.enqueue(a)
        count, response = h.run_batch(lambda records: webhook.handler({"Records": records}, None))
    assert count == 1 and response == {"batchItemFailures": []}
    assert verify_webhook(receiver.requests[0].body, receiver.requests[0].headers, SECRET).assembly_id == a


def test_retry_schedule_follows_the_delays_then_dead_letters_with_the_reason(h, capsys):
    a = finished(h, 4)
    with Receiver(lambda _i, _r: Reply(500)) as receiver:
        event_id = h.enqueue(a)
        sender = h.sender(target(receiver.url), delays="5,60,300", clock=lambda: T0)
        for attempt, delay in ((1, 5), (2, 60), (3, 300)):
            # Received with no visibility timeout of its own: only the handler's
            # ChangeMessageVisibility keeps it hidden afterwards.
            count, response = h.run_batch(sender.process_batch, visibility=0)
            assert count == 1 and len(response["batchItemFailures"]) == 1
            assert h.receive(visibility=0) == [], f"attempt {attempt}: the retry delay hid the message"
            item = h.store.get_item(a)
            assert item["notify_status"] == "retrying" and item["notify_attempts"] == attempt
            assert item["notify_error"] == "HTTP 500 Internal Server Error"
            assert item["notify_next_attempt_at"] == iso_now(T0 + delay)
            [line] = logs(capsys)
            assert line["Outcome"] == "retrying" and line["retry_in_seconds"] == delay
            # Fast-forward: make the message visible as SQS would after `delay` seconds.
            h.fast_forward()
        count, response = h.run_batch(sender.process_batch)
    assert count == 1 and response == {"batchItemFailures": []}, "dead-lettered messages count as done"
    assert len(receiver.requests) == 4 and {r.headers["webhook-id"] for r in receiver.requests} == {event_id}
    assert h.queue_depth() == 0
    [(envelope, attributes)] = h.dead_letters()
    assert (envelope["assembly_id"], envelope["event"], envelope["event_id"]) == (a, "completed", event_id)
    assert envelope["dead_letter"]["reason"] == "gave up after 4 attempts: HTTP 500 Internal Server Error"
    assert envelope["dead_letter"]["attempts"] == 4 and envelope["dead_letter"]["last_response_code"] == 500
    assert attributes["reason"]["StringValue"].startswith("gave up after 4 attempts")
    assert attributes["last_response_code"]["StringValue"] == "500"
    assert attributes["event_id"]["StringValue"] == event_id
    item = h.store.get_item(a)
    assert item["notify_status"] == "failed" and item["notify_attempts"] == 4 and "notify_next_attempt_at" not in item
    assert [line["Outcome"] for line in logs(capsys)] == ["failed"]


def test_timeouts_resets_and_500s_are_retried_until_delivered(h):
    a = finished(h, 5)
    silent = threading.Event()  # released only after the sender gave up on that attempt
    script = [Reply(action="reset"), Reply(200, hold=silent), Reply(503), Reply(action="close"), Reply(200)]
    with Receiver(lambda i, _r: script[i]) as receiver:
        h.enqueue(a)
        sender = h.sender(target(receiver.url), delays="0,0,0,0", timeout=0.5)
        errors = []
        try:
            for _ in range(5):
                count, response = h.run_batch(sender.process_batch)
                assert count == 1
                errors.append(h.store.get_item(a).get("notify_error"))
        finally:
            silent.set()
    assert errors[:4] == [
        "connection reset by peer",  # RST after the request was read
        "timed out after 0.5 s",
        "HTTP 503 Service Unavailable",
        "connection closed without a response",  # FIN without a status line
    ]
    item = h.store.get_item(a)
    assert item["notify_status"] == "delivered" and item["notify_attempts"] == 5 and errors[4] is None
    assert response == {"batchItemFailures": []} and h.queue_depth() == 0 and h.dead_letters() == []


def test_retry_after_longer_than_the_schedule_wins_and_is_capped_below_sqs_limit(h, capsys):
    a, b = finished(h, 6), finished(h, 7)
    waits = {a: "120", b: str(7 * 24 * 3600)}

    def reply(_i, request):
        return Reply(429, {"Retry-After": waits[json.loads(request.body)["assembly_id"]]})

    with Receiver(reply) as receiver:
        h.enqueue(a)
        h.enqueue(b)
        h.run_batch(h.sender(target(receiver.url), delays="5,60").process_batch)
    delays = {line["assembly_id"]: line["retry_in_seconds"] for line in logs(capsys)}
    assert delays == {a: 120, b: MAX_RETRY_DELAY_SECONDS}
    assert MAX_RETRY_DELAY_SECONDS < 12 * 3600
    assert h.store.get_item(a)["notify_error"] == "HTTP 429 Too Many Requests"


def test_a_short_retry_after_does_not_shorten_the_schedule(h, capsys):
    a = finished(h, 8)
    with Receiver(lambda _i, _r: Reply(429, {"Retry-After": "1"})) as receiver:
        h.enqueue(a)
        h.run_batch(h.sender(target(receiver.url), delays="60").process_batch)
    assert [line["retry_in_seconds"] for line in logs(capsys)] == [60]


def test_410_gone_dead_letters_at_once(h):
    a = finished(h, 9)
    with Receiver(lambda _i, _r: Reply(410)) as receiver:
        h.enqueue(a)
        _count, response = h.run_batch(h.sender(target(receiver.url), delays="5,60,300").process_batch)
    assert response == {"batchItemFailures": []} and len(receiver.requests) == 1
    [(envelope, attributes)] = h.dead_letters()
    assert envelope["dead_letter"]["reason"].startswith("stopped: HTTP 410 Gone")
    assert envelope["dead_letter"]["attempts"] == 1 and attributes["last_response_code"]["StringValue"] == "410"
    assert h.store.get_item(a)["notify_status"] == "failed"


def test_a_refused_target_dead_letters_without_any_request(h):
    a = finished(h, 10)
    h.enqueue(a)
    sender = h.sender(target("https://169.254.169.254/latest/meta-data/"), allow_private=("169.254.0.0/16",))
    _count, response = h.run_batch(sender.process_batch)
    assert response == {"batchItemFailures": []}
    [(envelope, _)] = h.dead_letters()
    assert "metadata endpoint" in envelope["dead_letter"]["reason"]


def test_one_bad_endpoint_only_fails_its_own_message(h):
    good, bad = finished(h, 11, "tpl"), finished(h, 12, "tpl_broken")
    with Receiver() as ok_receiver, Receiver(lambda _i, _r: Reply(500)) as broken:
        config = {"targets": {"tpl": {"url": ok_receiver.url, "secret": SECRET},
                              "tpl_broken": {"url": broken.url, "secret": SECRET}}}
        h.enqueue(good)
        h.enqueue(bad)
        records = h.receive()
        response = h.sender(config).process_batch(records)
    bad_id = next(r["messageId"] for r in records if json.loads(r["body"])["assembly_id"] == bad)
    assert response == {"batchItemFailures": [{"itemIdentifier": bad_id}]}
    assert len(ok_receiver.requests) == 1 and len(broken.requests) == 1


def test_missing_assembly_is_skipped_not_retried(h, capsys):
    h.enqueue(assembly_id("f" * 32, "tpl", "ghost"))
    with Receiver() as receiver:
        _count, response = h.run_batch(h.sender(target(receiver.url)).process_batch)
    assert response == {"batchItemFailures": []} and receiver.requests == [] and h.queue_depth() == 0
    assert [line["Outcome"] for line in logs(capsys)] == ["skipped"]


def test_no_target_is_recorded_as_skipped(h):
    a = finished(h, 13, template="tpl_without_hook")
    h.enqueue(a)
    _count, response = h.run_batch(h.sender(target("http://127.0.0.1:1/")).process_batch)
    assert response == {"batchItemFailures": []} and h.dead_letters() == []
    item = h.store.get_item(a)
    assert item["notify_status"] == "skipped" and "tpl_without_hook" in item["notify_error"]


def test_target_precedence_notify_url_then_template_then_default(h):
    with Receiver() as notify, Receiver() as template, Receiver() as default:
        via_notify = finished(h, 14, "tpl", notify_url=notify.url)
        via_template = finished(h, 15, "tpl")
        via_default = finished(h, 16, "tpl_other")
        base = {"targets": {"tpl": {"url": template.url, "secret": SECRET}},
                "default": {"url": default.url, "secret": SECRET}}
        for a in (via_notify, via_template, via_default):
            h.enqueue(a)
        allowed = {**base, "allow_notify_url": True, "notify_url_secret": NOTIFY_SECRET}
        h.run_batch(h.sender(allowed).process_batch)
        assert [verify_webhook(r.body, r.headers, NOTIFY_SECRET).assembly_id for r in notify.requests] == [via_notify]
        assert [json.loads(r.body)["assembly_id"] for r in template.requests] == [via_template]
        assert [json.loads(r.body)["assembly_id"] for r in default.requests] == [via_default]
        # Per-assembly URLs not allowed: the template's target gets it instead.
        h.enqueue(via_notify, "replay")
        h.run_batch(h.sender(base).process_batch)
        assert len(notify.requests) == 1
        assert [json.loads(r.body)["assembly_id"] for r in template.requests] == [via_template, via_notify]


def test_notify_url_without_its_own_secret_is_dead_lettered_not_signed_with_a_template_secret(h):
    with Receiver() as notify:
        a = finished(h, 17, "tpl", notify_url=notify.url)
        h.enqueue(a)
        config = {**target("http://127.0.0.1:1/"), "allow_notify_url": True}
        h.run_batch(h.sender(config).process_batch)
    assert notify.requests == []
    [(envelope, _)] = h.dead_letters()
    assert "no signing secret" in envelope["dead_letter"]["reason"]


def test_secrets_come_from_secrets_manager_by_arn(h):
    a = finished(h, 18)
    arn = h.secrets.create_secret(Name=f"hook-json-{h.table_name}", SecretString=json.dumps({"secret": SECRET}))["ARN"]
    with Receiver() as receiver:
        h.enqueue(a)
        h.run_batch(h.sender({"targets": {"tpl": {"url": receiver.url, "secret_arn": arn}}}).process_batch)
    assert verify_webhook(receiver.requests[0].body, receiver.requests[0].headers, SECRET).assembly_id == a


class Monotonic:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def test_a_rotated_signing_secret_is_used_once_the_cache_expires_and_not_before(h):
    """The README promises a rotated secret is picked up within five minutes (SECRET_CACHE_SECONDS)."""
    old_secret, new_secret = SECRET, NOTIFY_SECRET
    arn = h.secrets.create_secret(Name=f"hook-rotating-{h.table_name}", SecretString=old_secret)["ARN"]
    clock = Monotonic()
    first, cached, expired = (finished(h, n) for n in (25, 26, 27))
    with Receiver() as receiver:
        sender = h.sender({"targets": {"tpl": {"url": receiver.url, "secret_arn": arn}}}, monotonic=clock)
        h.enqueue(first)
        h.run_batch(sender.process_batch)
        h.secrets.put_secret_value(SecretId=arn, SecretString=new_secret)
        clock.now += webhook.SECRET_CACHE_SECONDS - 1
        h.enqueue(cached)
        h.run_batch(sender.process_batch)
        clock.now += 2
        h.enqueue(expired)
        h.run_batch(sender.process_batch)
    signed = {json.loads(r.body)["assembly_id"]: r for r in receiver.requests}
    assert sorted(signed) == sorted([first, cached, expired])
    for assembly, right, wrong in ((first, old_secret, new_secret), (cached, old_secret, new_secret),
                                   (expired, new_secret, old_secret)):
        request = signed[assembly]
        assert verify_webhook(request.body, request.headers, right).assembly_id == assembly
        with pytest.raises(WebhookVerificationError, match="does not match the body"):
            verify_webhook(request.body, request.headers, wrong)


def test_an_unreadable_secret_is_retried_on_the_schedule(h):
    a = finished(h, 19)
    h.enqueue(a)
    missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-AbCdEf"
    _count, response = h.run_batch(h.sender({"targets": {"tpl": {"url": "http://127.0.0.1:1/", "secret_arn": missing}}},
                                           delays="0").process_batch)
    assert len(response["batchItemFailures"]) == 1
    assert h.store.get_item(a)["notify_error"].startswith("could not read the signing secret")


def test_malformed_messages_are_dead_lettered_with_the_reason(h):
    h.sqs.send_message(QueueUrl=h.queue_url, MessageBody='{"assembly_id": "x"}')
    _count, response = h.run_batch(h.sender(target("http://127.0.0.1:1/")).process_batch)
    assert response == {"batchItemFailures": []}
    [(envelope, _)] = h.dead_letters()
    assert envelope["original_body"] == '{"assembly_id": "x"}'
    assert "malformed webhook message" in envelope["dead_letter"]["reason"]


def test_a_failed_dead_letter_send_keeps_the_message_on_the_queue(h):
    a = finished(h, 20)
    h.enqueue(a)
    with Receiver(lambda _i, _r: Reply(410)) as receiver:
        missing_dlq = h.queue_url.rsplit("/", 1)[0] + "/no-such-dlq"
        sender = h.sender(target(receiver.url), dlq_url=missing_dlq)
        _count, response = h.run_batch(sender.process_batch)
    assert len(response["batchItemFailures"]) == 1, "not reported done, so SQS (and its redrive policy) keep it"
    assert h.store.get_item(a).get("notify_status") != "failed"


def test_a_batch_is_delivered_concurrently(h):
    """Every request of a batch of 10 is in flight at once: each receiver thread waits at a barrier
    that only opens when all 10 have arrived, so sequential delivery would fail them all."""
    ids = [finished(h, 100 + n) for n in range(10)]
    barrier = threading.Barrier(10, timeout=10)

    def reply(_i, _r):
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            return Reply(500)
        return Reply(200)

    with Receiver(reply) as receiver:
        for a in ids:
            h.enqueue(a)
        records = []
        while len(records) < 10:
            records += h.receive()
        response = h.sender(target(receiver.url), timeout=15).process_batch(records)
    assert response == {"batchItemFailures": []}
    assert sorted(json.loads(r.body)["assembly_id"] for r in receiver.requests) == sorted(ids)


def test_a_batch_of_ten_has_all_ten_deliveries_in_flight_at_once(h):
    """Concurrency, not timing: the receiver answers none of the ten requests until all ten have
    arrived, so only a sender that runs them side by side can deliver the batch. (How long a
    batch takes is measured by ``benchmarks/webhook_batch.py``.)"""
    ids = [finished(h, 200 + n) for n in range(10)]
    all_arrived = threading.Barrier(10, timeout=20)

    def after_all_ten(_i, _r):
        all_arrived.wait()
        return Reply(200)

    with Receiver(after_all_ten) as receiver:
        for a in ids:
            h.enqueue(a)
        records = []
        while len(records) < 10:
            records += h.receive()
        response = h.sender(target(receiver.url), timeout=40).process_batch(records)
    assert not all_arrived.broken, "the deliveries of one batch were not all in flight together"
    assert response == {"batchItemFailures": []} and len(receiver.requests) == 10


def test_settings_from_env_validate_and_default():
    settings = WebhookSettings.from_env({"TRANSFLOW_TABLE_NAME": "t"})
    assert settings.retry_delays == (5, 60, 300, 1800, 7200, 18000, 36000, 36000) and settings.max_attempts == 9
    assert sum(settings.retry_delays) >= 24 * 3600 and settings.timeout == 15 and not settings.allow_http
    assert parse_retry_delays("") == () and parse_retry_delays("1, 2 ,3") == (1, 2, 3)
    assert parse_retry_delays("43200") == (43200,), "the construct allows up to 12 h"
    sender = webhook.WebhookSender(WebhookSettings(table_name="t", retry_delays=(43200, 5)), dynamodb=object())
    assert sender.retry_delay(1, None) == MAX_RETRY_DELAY_SECONDS, "applied just below SQS's limit"
    assert sender.retry_delay(2, None) == 5 and sender.retry_delay(2, 30.2) == 31
    for bad, why in (("5,soon", "whole number"), ("-1", "between"), ("50000", "12 h")):
        with pytest.raises(ValueError, match=why):
            parse_retry_delays(bad)
    with pytest.raises(ValueError, match="TRANSFLOW_TABLE_NAME"):
        WebhookSettings.from_env({})
    with pytest.raises(ValueError, match="not valid JSON"):
        WebhookSettings.from_env({"TRANSFLOW_TABLE_NAME": "t", "TRANSFLOW_WEBHOOK_CONFIG": "{"})
    with pytest.raises(ValueError, match="needs a non-empty 'url'"):
        WebhookSettings.from_env({"TRANSFLOW_TABLE_NAME": "t", "TRANSFLOW_WEBHOOK_CONFIG": '{"targets": {"a": {}}}'})
    with pytest.raises(ValueError, match="TIMEOUT"):
        WebhookSettings.from_env({"TRANSFLOW_TABLE_NAME": "t", "TRANSFLOW_WEBHOOK_TIMEOUT_SECONDS": "0"})


def test_importing_the_webhook_handler_does_not_import_pydantic():
    import os
    import subprocess
    import sys

    code = (
        "import sys, transflow_runtime.handlers.webhook, transflow_runtime.handlers.dispatcher\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'jwt'))))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
