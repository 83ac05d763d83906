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


def build(app: cdk.App) -> cdk.Stack:
    stack = cdk.Stack(app, "TransflowEvents")
    bus = events.EventBus(stack, "AssemblyEvents", event_bus_name="transflow-assembly-events")
    status = TransflowStatus(
        stack,
        "Status",
        auth=StatusAuth.shared_secret(
            secretsmanager.Secret(
                stack,
                "JwtSecret",
                generate_secret_string=secretsmanager.SecretStringGenerator(exclude_punctuation=True),
            )
        ),
        # Webhooks and events side by side: both carry the same event id (webhook-id / detail.event_id).
        default_webhook=WebhookTarget(
            url="https://hooks.example.com/transflow",
            secret=secretsmanager.Secret(
                stack,
                "WebhookSecret",
                generate_secret_string=secretsmanager.SecretStringGenerator(exclude_punctuation=True),
            ),
        ),
        event_bus=bus,
    )
    completed = sqs.Queue(stack, "CompletedAssemblies", enforce_ssl=True, encryption=sqs.QueueEncryption.SQS_MANAGED)
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
