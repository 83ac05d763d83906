"""The built-in default stack: what ``transflow-status local`` runs without ``--app``.

A ``TransflowStatus`` with shared-secret (HS256) auth, so ``--jwt-secret`` and its tokens keep
their meaning, one webhook target per ``--webhook TEMPLATE=URL`` (``*``: the default target), each
with a signing secret, and per-assembly ``notify_url`` deliveries allowed with their own secret.
It is synthesized in this process with asset bundling skipped (the handlers run from the
installed package) and then run like any other template. Needs the CDK side of the package
(aws-cdk-lib), which ``transflow-constructs`` installs.
"""

from __future__ import annotations

import tempfile
from typing import Any

from .assembly import Instance, StackTemplate, choose_instance

STACK_NAME = "TransflowLocal"
#: Stand-in URLs in the template; local mode points each target at its --webhook URL.
PLACEHOLDER_URL = "https://webhook.local.invalid/"


def synthesize(webhook_templates: list[str]) -> tuple[StackTemplate, Instance]:
    import aws_cdk as cdk
    from aws_cdk import aws_secretsmanager as secretsmanager

    from transflow_constructs import StatusAuth, TransflowStatus, WebhookTarget

    with tempfile.TemporaryDirectory(prefix="transflow-local-") as outdir:
        app = cdk.App(outdir=outdir, context={"aws:cdk:bundling-stacks": []})
        stack = cdk.Stack(app, STACK_NAME)

        def secret(construct_id: str) -> secretsmanager.Secret:
            return secretsmanager.Secret(
                stack, construct_id,
                generate_secret_string=secretsmanager.SecretStringGenerator(exclude_punctuation=True),
            )

        targets: dict[str, Any] = {}
        default = None
        hook_secret = secret("WebhookSecret")
        for template_id in webhook_templates:
            target = WebhookTarget(url=PLACEHOLDER_URL + template_id.replace("*", "default"), secret=hook_secret)
            if template_id == "*":
                default = target
            else:
                targets[template_id] = target
        TransflowStatus(
            stack,
            "Status",
            auth=StatusAuth.shared_secret(secret("JwtSecret")),
            webhooks=targets,
            default_webhook=default,
            allow_notify_url=True,
            notify_url_secret=secret("NotifyUrlSecret"),
            monitoring=False,
        )
        template = app.synth().get_stack_by_name(STACK_NAME).template
    stack_template = StackTemplate(name=STACK_NAME, template=template)
    return stack_template, choose_instance(stack_template, None)
