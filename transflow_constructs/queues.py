"""The webhook queue, its dead-letter queue, and the stream-failure queue.

Every queue is encrypted at rest (SQS-managed keys, or the caller's KMS key) and refuses
non-TLS requests (``enforce_ssl`` adds a ``Deny`` on ``aws:SecureTransport = false``).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from transflow_runtime import schema

from ._metadata import skip_checkov

#: The longest SQS keeps a message; dead letters are kept for the whole of it.
DLQ_RETENTION = cdk.Duration.days(14)
#: Receives beyond the scheduled attempts before SQS itself dead-letters a message. The webhook
#: handler moves a message to the DLQ (with its reason) after the last attempt; these extra
#: receives only matter when the handler never got to decide (crash, Lambda timeout).
RECEIVE_SAFETY_MARGIN = schema.WEBHOOK_RECEIVE_SAFETY_MARGIN
#: AWS's advice for an SQS event source: visibility timeout >= 6x the function timeout.
VISIBILITY_FACTOR = 6
#: Amazon SQS Developer Guide, "Using dead-letter queues" / SetQueueAttributes ``RedrivePolicy``:
#: ``maxReceiveCount`` is 1 to 1,000.
MAX_RECEIVE_COUNT = 1000
#: Amazon SQS ``VisibilityTimeout``: 0 to 43,200 seconds (12 hours).
MAX_VISIBILITY_TIMEOUT_SECONDS = 43200


def _encryption(key: kms.IKey | None) -> dict[str, object]:
    if key is None:
        return {"encryption": sqs.QueueEncryption.SQS_MANAGED}
    return {"encryption": sqs.QueueEncryption.KMS, "encryption_master_key": key}


class WebhookQueues(Construct):
    """Queues of the webhook path.

    * ``queue``: one message per webhook event (a pointer: assembly id, event, event id).
    * ``dead_letter_queue``: events that exhausted the retry schedule (moved there by the handler
      with the reason) or that the handler could not process at all (``max_receive_count``).
    * ``stream_failure_queue``: metadata of table-stream batches the dispatcher could not turn
      into queue messages after its retries (Lambda's ``on_failure`` destination).

    The two dead-letter queues hold the only record of webhooks that were never delivered, so
    they are retained when the stack is deleted unless ``dead_letter_removal_policy`` says
    otherwise; the webhook queue (work in flight) follows CDK's default.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        attempts: int,
        function_timeout: cdk.Duration,
        encryption_key: kms.IKey | None = None,
        dead_letter_removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {attempts}")
        self.max_receive_count = attempts + RECEIVE_SAFETY_MARGIN
        visibility = function_timeout.to_seconds() * VISIBILITY_FACTOR
        if self.max_receive_count > MAX_RECEIVE_COUNT or visibility > MAX_VISIBILITY_TIMEOUT_SECONDS:
            raise ValueError(
                f"{attempts} attempts and a {function_timeout.to_seconds()} s function timeout need maxReceiveCount "
                f"{self.max_receive_count} (at most {MAX_RECEIVE_COUNT}) and a {visibility} s visibility timeout "
                f"(at most {MAX_VISIBILITY_TIMEOUT_SECONDS})"
            )
        self.visibility_timeout = cdk.Duration.seconds(visibility)
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            retention_period=DLQ_RETENTION,
            enforce_ssl=True,
            removal_policy=dead_letter_removal_policy,
            **_encryption(encryption_key),
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            visibility_timeout=self.visibility_timeout,
            # Long enough for the whole retry schedule (validated against it by TransflowStatus).
            retention_period=DLQ_RETENTION,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=self.max_receive_count
            ),
            **_encryption(encryption_key),
        )
        self.stream_failure_queue = sqs.Queue(
            self,
            "StreamFailureQueue",
            retention_period=DLQ_RETENTION,
            enforce_ssl=True,
            removal_policy=dead_letter_removal_policy,
            **_encryption(encryption_key),
        )
        if encryption_key is None:
            for queue in (self.queue, self.dead_letter_queue, self.stream_failure_queue):
                skip_checkov(
                    queue,
                    "CKV_AWS_27",
                    "Encrypted at rest with SQS-managed keys (SSE-SQS, SqsManagedSseEnabled), which this check does "
                    "not recognise; queue_encryption_key= gives a customer-managed key, and then it passes.",
                )
        # The failure destination is itself the end of the line: nothing consumes it, so a DLQ
        # behind it would never receive anything. cdk-nag cannot tell an on_failure
        # destination from an ordinary queue.
        cdk.Validations.of(self.stream_failure_queue).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-SQS3",
                reason=(
                    "This queue is the on-failure destination of the table-stream event source (a dead-letter "
                    "queue in all but name): nothing consumes from it, so a further DLQ could never receive a "
                    "message. It is encrypted, SSL-only and keeps messages for 14 days."
                ),
            )
        )
