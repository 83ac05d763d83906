"""Local mode's AWS resources, created in the embedded moto server from the shared definitions.

The handlers read the same environment variables they read on AWS, with ``AWS_ENDPOINT_URL``
pointing at moto, so local mode runs exactly the code that is deployed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import schema
from ..resources import create_table

LOCAL_ACCOUNT_ID = "123456789012"
#: Private ranges local mode lets webhooks reach when asked to (--allow-private-webhooks).
PRIVATE_ALLOW_LIST = "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,localhost"


@dataclass
class LocalSettings:
    host: str = "127.0.0.1"
    port: int = 8787
    region: str = "us-east-1"
    jwt_secret: str = "transflow-local-dev-secret-change-me"  # noqa: S105 - local development only
    #: template_id -> URL; the key "*" is the default target.
    webhooks: dict[str, str] = field(default_factory=dict)
    # whsec_ + base64("transflow-local-webhook-secret"); local development only
    webhook_secret: str = "whsec_dHJhbnNmbG93LWxvY2FsLXdlYmhvb2stc2VjcmV0"  # noqa: S105
    webhook_retry_delays: tuple[int, ...] = (1, 2, 5)
    webhook_max_attempts: int | None = None
    allow_private_webhooks: bool = False
    allow_notify_url: bool = True
    demo: bool = False
    ready_file: str | None = None
    table_name: str = "transflow-local-status"
    status_function_name: str = "transflow-local-status"
    queue_name: str = "transflow-local-webhooks"
    dlq_name: str = "transflow-local-webhooks-dlq"
    #: The stream event source's on-failure destination (the construct's ``stream_failure_queue``).
    stream_failure_queue_name: str = "transflow-local-stream-failures"
    user_id_claim: str = schema.DEFAULT_USER_ID_CLAIM

    @property
    def retry_delays(self) -> tuple[int, ...]:
        """Delays between attempts; ``webhook_max_attempts`` trims or extends the schedule."""
        delays = tuple(self.webhook_retry_delays) or (1,)
        if self.webhook_max_attempts is None:
            return delays
        wanted = max(self.webhook_max_attempts - 1, 0)
        return (delays + (delays[-1],) * wanted)[:wanted]

    @property
    def max_attempts(self) -> int:
        return len(self.retry_delays) + 1


@dataclass
class LocalResources:
    endpoint_url: str
    table_name: str
    queue_url: str
    queue_arn: str
    dlq_url: str
    stream_failure_queue_url: str
    jwt_secret_arn: str
    webhook_secret_arn: str
    stream_arn: str


def aws_client(service: str, endpoint_url: str, region: str) -> Any:
    import boto3

    return boto3.client(service, endpoint_url=endpoint_url, region_name=region)


def endpoint_override_names(environ: Mapping[str, str] | None = None) -> list[str]:
    """Variables that would send SDK calls elsewhere than ``AWS_ENDPOINT_URL``: boto3 prefers
    ``AWS_ENDPOINT_URL_<SERVICE>``, and ``AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`` ignores them all."""
    environ = os.environ if environ is None else environ
    return [
        key for key in environ
        if key.startswith("AWS_ENDPOINT_URL_") or key == "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"
    ]


def point_sdk_at(endpoint_url: str, region: str) -> None:
    """Make every boto3 client in this process (the handlers' included) talk to moto only."""
    for key in endpoint_override_names():
        os.environ.pop(key, None)
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",  # moto accepts any credentials
            "AWS_DEFAULT_REGION": region,
            "AWS_REGION": region,
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        }
    )
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)


def provision(settings: LocalSettings, endpoint_url: str) -> LocalResources:
    """Create the table (with stream and TTL), the webhook queue and DLQ, the stream-failure
    queue, and the secrets."""
    dynamodb = aws_client("dynamodb", endpoint_url, settings.region)
    create_table(dynamodb, settings.table_name)
    stream_arn = dynamodb.describe_table(TableName=settings.table_name)["Table"]["LatestStreamArn"]

    sqs = aws_client("sqs", endpoint_url, settings.region)
    dlq_url = sqs.create_queue(
        QueueName=settings.dlq_name, Attributes={"MessageRetentionPeriod": str(14 * 86400)}
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    # As in the construct: the handler dead-letters after its last attempt itself (with the
    # reason); the redrive policy is the safety net for a handler that crashes every time.
    queue_url = sqs.create_queue(
        QueueName=settings.queue_name,
        Attributes={
            "VisibilityTimeout": "60",
            "RedrivePolicy": json.dumps(
                {
                    "deadLetterTargetArn": dlq_arn,
                    "maxReceiveCount": str(settings.max_attempts + schema.WEBHOOK_RECEIVE_SAFETY_MARGIN),
                }
            ),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    # As in the construct: where the stream mapping sends metadata of records it gave up on.
    stream_failure_queue_url = sqs.create_queue(
        QueueName=settings.stream_failure_queue_name, Attributes={"MessageRetentionPeriod": str(14 * 86400)}
    )["QueueUrl"]

    secrets = aws_client("secretsmanager", endpoint_url, settings.region)
    jwt_arn = secrets.create_secret(Name="transflow-local/jwt", SecretString=settings.jwt_secret)["ARN"]
    hook_arn = secrets.create_secret(Name="transflow-local/webhook", SecretString=settings.webhook_secret)["ARN"]
    return LocalResources(
        endpoint_url=endpoint_url,
        table_name=settings.table_name,
        queue_url=queue_url,
        queue_arn=queue_arn,
        dlq_url=dlq_url,
        stream_failure_queue_url=stream_failure_queue_url,
        jwt_secret_arn=jwt_arn,
        webhook_secret_arn=hook_arn,
        stream_arn=stream_arn,
    )


def handler_environment(settings: LocalSettings, resources: LocalResources) -> dict[str, str]:
    """The Lambda environment the construct would give the functions, pointed at local resources."""
    targets = {
        template: {"url": url, "secret_arn": resources.webhook_secret_arn}
        for template, url in settings.webhooks.items()
        if template != "*"
    }
    default = settings.webhooks.get("*")
    config = {
        "targets": targets,
        "default": {"url": default, "secret_arn": resources.webhook_secret_arn} if default else None,
        "allow_notify_url": settings.allow_notify_url,
        "notify_url_secret_arn": resources.webhook_secret_arn,
    }
    env = {
        schema.ENV_TABLE_NAME: resources.table_name,
        schema.ENV_WEBHOOK_QUEUE_URL: resources.queue_url,
        schema.ENV_WEBHOOK_DLQ_URL: resources.dlq_url,
        schema.ENV_STREAM_FAILURE_QUEUE_URL: resources.stream_failure_queue_url,
        schema.ENV_USER_ID_CLAIM: settings.user_id_claim,
        schema.ENV_JWT_SECRET_ARN: resources.jwt_secret_arn,
        schema.ENV_WEBHOOK_CONFIG: json.dumps(config),
        schema.ENV_WEBHOOK_RETRY_DELAYS: ",".join(str(d) for d in settings.retry_delays),
        # Local receivers are plain-HTTP servers on this machine.
        schema.ENV_WEBHOOK_ALLOW_HTTP: "true",
    }
    if settings.allow_private_webhooks:
        env[schema.ENV_WEBHOOK_ALLOW_PRIVATE] = PRIVATE_ALLOW_LIST
    return env
