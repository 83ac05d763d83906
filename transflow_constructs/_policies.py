"""IAM statements the parts write into their functions' inline policies (one action list per resource)."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs


def key_statements(sid: str, key: kms.IKey | None, actions: list[str]) -> list[iam.PolicyStatement]:
    """``actions`` on ``key`` (nothing when the data is encrypted with an AWS-owned or managed key)."""
    if key is None:
        return []
    return [iam.PolicyStatement(sid=sid, actions=actions, resources=[key.key_arn])]


def queue_send_statements(sid: str, queue: sqs.IQueue, key: kms.IKey | None) -> list[iam.PolicyStatement]:
    """SendMessage on one queue, and what a producer needs on its KMS key (GenerateDataKey + Decrypt)."""
    statements = [iam.PolicyStatement(sid=sid, actions=["sqs:SendMessage"], resources=[queue.queue_arn])]
    return statements + key_statements(f"{sid}Key", key, ["kms:GenerateDataKey", "kms:Decrypt"])


def queue_consume_statements(sid: str, queue: sqs.IQueue, key: kms.IKey | None) -> list[iam.PolicyStatement]:
    """What an SQS event source needs on its queue, and kms:Decrypt on the queue's key (a consumer of
    an SSE-KMS queue needs it to receive; it must not depend on another statement granting it)."""
    statements = [
        iam.PolicyStatement(
            sid=sid,
            actions=[
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:ChangeMessageVisibility",
            ],
            resources=[queue.queue_arn],
        )
    ]
    return statements + key_statements(f"{sid}Key", key, ["kms:Decrypt"])


def secret_statements(sid: str, secrets: Sequence[secretsmanager.ISecret]) -> list[iam.PolicyStatement]:
    """GetSecretValue on exactly these secrets (and Decrypt on their CMKs, via Secrets Manager only)."""
    unique: dict[str, secretsmanager.ISecret] = {}
    for secret in secrets:
        unique.setdefault(secret.secret_arn, secret)
    if not unique:
        return []
    statements = [
        iam.PolicyStatement(
            sid=sid,
            actions=["secretsmanager:GetSecretValue"],
            resources=[secret_policy_arn(s) for s in unique.values()],
        )
    ]
    keys = {s.encryption_key.key_arn: s.encryption_key for s in unique.values() if s.encryption_key is not None}
    if keys:
        statements.append(
            iam.PolicyStatement(
                sid=f"{sid}Key",
                actions=["kms:Decrypt"],
                resources=sorted(keys),
                conditions={
                    "StringEquals": {"kms:ViaService": f"secretsmanager.{cdk.Aws.REGION}.{cdk.Aws.URL_SUFFIX}"}
                },
            )
        )
    return statements


def secret_policy_arn(secret: secretsmanager.ISecret) -> str:
    """The full ARN; for a secret imported by partial ARN, the 6-character suffix as ``??????``."""
    full = secret.secret_full_arn
    return full if full is not None else f"{secret.secret_arn}-??????"
