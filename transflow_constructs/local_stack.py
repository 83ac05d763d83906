"""Local mode's built-in stack, synthesized in-process (the runtime package never imports CDK)."""

from __future__ import annotations

import tempfile
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_secretsmanager as secretsmanager

from .auth import StatusAuth
from .status import TransflowStatus
from .targets.webhooks import WebhookTarget


def default_local_template(
    stack_name: str, webhook_templates: list[str], placeholder_url: str, event_bus: str | None = None
) -> dict[str, Any]:
    """The template of local mode's built-in stack (``transflow-status local`` without ``--app``):
    shared-secret auth, one webhook target per template id (``*``: the default target) at
    ``placeholder_url``, notify_url allowed, and with ``event_bus`` a bus of that name."""
    with tempfile.TemporaryDirectory(prefix="transflow-local-") as outdir:
        app = cdk.App(outdir=outdir, context={"aws:cdk:bundling-stacks": []})
        stack = cdk.Stack(app, stack_name)

        def secret(construct_id: str) -> secretsmanager.Secret:
            return secretsmanager.Secret(
                stack,
                construct_id,
                generate_secret_string=secretsmanager.SecretStringGenerator(exclude_punctuation=True),
            )

        targets: dict[str, Any] = {}
        default = None
        hook_secret = secret("WebhookSecret")
        for template_id in webhook_templates:
            target = WebhookTarget(url=placeholder_url + template_id.replace("*", "default"), secret=hook_secret)
            if template_id == "*":
                default = target
            else:
                targets[template_id] = target
        bus = None
        if event_bus == "default":
            bus = events.EventBus.from_event_bus_name(stack, "EventBus", "default")
        elif event_bus:
            bus = events.EventBus(stack, "EventBus", event_bus_name=event_bus)
        TransflowStatus(
            stack,
            "Status",
            auth=StatusAuth.shared_secret(secret("JwtSecret")),
            webhooks=targets,
            default_webhook=default,
            allow_notify_url=True,
            notify_url_secret=secret("NotifyUrlSecret"),
            monitoring=False,
            event_bus=bus,
        )
        return dict(app.synth().get_stack_by_name(stack_name).template)
