#!/usr/bin/env python3
"""Example: assembly events on EventBridge, and a rule that sends completed assemblies to an SQS queue.

Every terminal transition and every replay of the ``TransflowStatus`` below is also an event on
``AssemblyEvents`` (``source`` ``"transflow.status"``); the rule ``CompletedToQueue`` forwards the
``"Assembly Completed"`` ones to the queue ``CompletedAssemblies``. The README's "Assembly events
on EventBridge" section shows the same code; ``tests/e2e/test_event_bus.py`` runs it in local mode.

    cdk synth --app ".venv/bin/python examples/event_bus_app.py" --output cdk.out.events
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from transflow_constructs import StatusAuth, TransflowStatus, WebhookTarget


def _generated_secret(stack: cdk.Stack, construct_id: str, why_not_rotated: str) -> secretsmanager.Secret:
    """A generated secret, with the reason it is not rotated automatically (cdk-nag AwsSolutions-SMG4)
    and why the AWS-managed key is enough (checkov CKV_AWS_149) on the resource itself."""
    secret = secretsmanager.Secret(
        stack, construct_id, generate_secret_string=secretsmanager.SecretStringGenerator(exclude_punctuation=True)
    )
    _checkov_skip(secret.node.default_child, "CKV_AWS_149", "Encrypted with Secrets Manager's AWS-managed key; "
                  "give encryption_key= for a customer-managed key.")
    cdk.Validations.of(secret).acknowledge(cdk.Acknowledgment(id="AwsSolutions-SMG4", reason=why_not_rotated))
    return secret


def _checkov_skip(resource: object, check_id: str, comment: str) -> None:
    resource.add_metadata("checkov", {"skip": [{"id": check_id, "comment": comment}]})  # type: ignore[attr-defined]


def build(app: cdk.App) -> cdk.Stack:
    stack = cdk.Stack(app, "TransflowEvents")
    bus = events.EventBus(stack, "AssemblyEvents", event_bus_name="transflow-assembly-events")
    status = TransflowStatus(
        stack,
        "Status",
        auth=StatusAuth.shared_secret(
            _generated_secret(stack, "JwtSecret", "The token-signing key is shared with the token issuer: rotating "
                              "it automatically would refuse every token it signed. Rotate it with the issuer.")
        ),
        # Webhooks and events side by side: both carry the same event id (webhook-id / detail.event_id).
        default_webhook=WebhookTarget(
            url="https://hooks.example.com/transflow",
            secret=_generated_secret(stack, "WebhookSecret", "The webhook signing key is shared with the receiver: "
                                     "automatic rotation would fail every signature. Rotate it with the receiver."),
        ),
        event_bus=bus,
    )
    # The rule's queue, with a dead-letter queue of its own for messages its consumer keeps failing on.
    unprocessed = sqs.Queue(
        stack, "CompletedAssembliesDlq", enforce_ssl=True, encryption=sqs.QueueEncryption.SQS_MANAGED,
        retention_period=cdk.Duration.days(14),
    )
    completed = sqs.Queue(
        stack, "CompletedAssemblies", enforce_ssl=True, encryption=sqs.QueueEncryption.SQS_MANAGED,
        dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=5, queue=unprocessed),
    )
    for queue in (completed, unprocessed):
        _checkov_skip(queue.node.default_child, "CKV_AWS_27", "Encrypted at rest with SQS-managed SSE (checkov "
                      "recognizes only a KMS key; a customer-managed key needs EventBridge in its key policy).")
    events.Rule(
        stack,
        "CompletedToQueue",
        event_bus=status.event_bus,
        event_pattern=events.EventPattern(source=["transflow.status"], detail_type=["Assembly Completed"]),
        targets=[targets.SqsQueue(completed)],
    )
    cdk.CfnOutput(stack, "CompletedQueueUrl", value=completed.queue_url)
    return stack


if __name__ == "__main__":
    application = cdk.App(outdir=os.environ.get("CDK_OUTDIR"))
    build(application)
    application.synth()
