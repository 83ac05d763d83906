#!/usr/bin/env python3
"""A second CDK app for the end-to-end tests, with other options than app.py: shared-secret
(HS256) auth with an issuer, another user id claim, two webhook targets with a signing secret each,
and its own retry schedule. Local mode must follow what its template says."""

from __future__ import annotations

import os

import aws_cdk as cdk
from aws_cdk import aws_secretsmanager as secretsmanager

from transflow_constructs import StatusAuth, TransflowStatus, WebhookTarget

ISSUER = "shared-secret-tests"
USER_ID_CLAIM = "uid"
RETRY_DELAYS = (1, 1, 1)


def _secret(stack: cdk.Stack, construct_id: str) -> secretsmanager.Secret:
    return secretsmanager.Secret(
        stack,
        construct_id,
        generate_secret_string=secretsmanager.SecretStringGenerator(password_length=40, exclude_punctuation=True),
    )


def main() -> None:
    app = cdk.App(outdir=os.environ.get("CDK_OUTDIR"))
    stack = cdk.Stack(app, "SharedSecretApp")
    TransflowStatus(
        stack,
        "Status",
        auth=StatusAuth.shared_secret(_secret(stack, "JwtKey"), issuer=ISSUER),
        user_id_claim=USER_ID_CLAIM,
        webhooks={
            "tpl_a": WebhookTarget(url="https://a.example.com/hooks", secret=_secret(stack, "HookKeyA")),
            "tpl_b": WebhookTarget(url="https://b.example.com/hooks", secret=_secret(stack, "HookKeyB")),
        },
        webhook_retry_delays=list(RETRY_DELAYS),
    )
    app.synth()


if __name__ == "__main__":
    main()
