"""Digits in headers and attributes are ASCII digits.

``str.isdigit()`` is true for ``²``, ``①`` and other Unicode digits that ``int()`` refuses, so a
check with it alone let a ``ValueError`` escape where a clear refusal was promised. Standard
Webhooks' ``webhook-timestamp`` is "integer Unix timestamp (seconds since epoch)"
(https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md);
SQS's ``ApproximateReceiveCount`` is a decimal string
(https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html); ``Retry-After`` is ``1*DIGIT``
(RFC 9110 10.2.3; DIGIT is ASCII, RFC 5234).
"""

from __future__ import annotations

import contextlib
import io

import pytest
from transflow_runtime import WebhookVerificationError, verify_webhook
from transflow_runtime.delivery import parse_retry_after
from transflow_runtime.handlers.webhook import WebhookSender, WebhookSettings

UNICODE_DIGITS = ["\u00b2", "\u2460", "1\u00b3", "\u0661\u0662"]


@pytest.mark.parametrize("stamp", UNICODE_DIGITS)
def test_verify_webhook_refuses_a_unicode_digit_timestamp_with_its_own_error(stamp):
    headers = {"webhook-id": "evt_1", "webhook-timestamp": stamp, "webhook-signature": "v1,AAAA"}
    with pytest.raises(WebhookVerificationError, match="webhook-timestamp"):
        verify_webhook(b"{}", headers, "whsec_QUJDRA==")


@pytest.mark.parametrize("value", UNICODE_DIGITS)
def test_retry_after_of_unicode_digits_is_ignored(value):
    assert parse_retry_after(value) is None


class RecordingSQS:
    def __init__(self) -> None:
        self.sent: list[dict] = []

    def send_message(self, **kwargs):
        self.sent.append(kwargs)
        return {"MessageId": "x"}


@pytest.mark.parametrize(
    ("body", "count"),
    [("{}", "\u00b2"), ("[" * 100_000, "9")],
    ids=["unicode-receive-count", "deeply-nested-body"],
)
def test_a_webhook_record_that_can_never_succeed_is_dead_lettered_not_retried(body, count):
    sqs = RecordingSQS()
    sender = WebhookSender(WebhookSettings(table_name="t", dlq_url="https://sqs/dlq", queue_url="https://sqs/q"),
                           dynamodb=object(), sqs=sqs)
    record = {"messageId": "m1", "receiptHandle": "rh", "body": body, "attributes": {"ApproximateReceiveCount": count}}
    with contextlib.redirect_stdout(io.StringIO()):
        response = sender.process_batch([record])
    assert response == {"batchItemFailures": []}
    assert len(sqs.sent) == 1 and sqs.sent[0]["QueueUrl"] == "https://sqs/dlq"
