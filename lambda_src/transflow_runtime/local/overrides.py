"""The command-line options that override the template, applied to what was read from it.

``--jwt-secret`` sets the value of the shared-secret authorizer's secret; ``--webhook-secret`` the
value of every webhook target's signing secret (a ``notify_url`` secret keeps its own, as the
construct requires); ``--webhook TEMPLATE=URL`` the URL of that template's target (``*``: the
default target; with ``--inbox`` every target not named goes to the built-in inbox);
``--webhook-retry-delays``/``--webhook-max-attempts`` the schedule (and the queue's redrive count
with it, as the construct derives it); ``--allow-private-webhooks`` lets deliveries reach local
receivers. The built-in default stack gets the development secrets and schedule of
``settings`` when no option sets them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import schema
from .intrinsics import TemplateError
from .settings import DEFAULT_JWT_SECRET, DEFAULT_RETRY_DELAYS, DEFAULT_WEBHOOK_SECRET, PRIVATE_ALLOW_LIST

if TYPE_CHECKING:
    from .providers import InstanceModel
    from .provision import Deployment
    from .runner import LocalStack


@dataclass
class Applied:
    #: webhook target name ("*" for the default) -> the signing secret its deliveries carry
    webhook_secrets: dict[str, str] = field(default_factory=dict)
    jwt_secret: str | None = None
    mint: Callable[[str, int], str] | None = None
    #: The signing secret of per-assembly ``notify_url`` deliveries (when the template allows them).
    notify_url_secret: str | None = None


def _builtin(stack: LocalStack) -> bool:
    return stack.settings.app is None and stack._template is None


def apply_overrides(stack: LocalStack, model: InstanceModel, deployment: Deployment) -> Applied:
    applied = Applied()
    _jwt(stack, model, deployment, applied)
    webhook = model.by_part("webhook-function")
    if webhook is not None:
        _webhooks(stack, webhook.environment, deployment, applied)
        _schedule(stack, webhook.environment, deployment)
    return applied


def _jwt(stack: LocalStack, model: InstanceModel, deployment: Deployment, applied: Applied) -> None:
    authorizer = model.by_part("authorizer-function")
    if authorizer is None or not authorizer.environment.get(schema.ENV_JWT_SECRET_ARN):
        return
    from ..auth import mint_token, secret_from_value

    env = authorizer.environment
    arn = env[schema.ENV_JWT_SECRET_ARN]
    value = stack.settings.jwt_secret or (DEFAULT_JWT_SECRET if _builtin(stack) else None)
    if value is not None:
        deployment.put_secret_value(arn, value)
    key = secret_from_value(deployment.secret_value(arn))
    applied.jwt_secret = key.decode("utf-8", "replace")
    issuer = env.get(schema.ENV_JWT_ISSUER) or None
    audience = [a for a in env.get(schema.ENV_JWT_AUDIENCE, "").split(",") if a] or None
    claim = env.get(schema.ENV_USER_ID_CLAIM) or schema.DEFAULT_USER_ID_CLAIM

    def mint(user: str, ttl: int) -> str:
        return mint_token(key, user, ttl=ttl, issuer=issuer, audience=audience, user_id_claim=claim)

    applied.mint = mint


def _webhooks(stack: LocalStack, env: dict[str, str], deployment: Deployment, applied: Applied) -> None:
    settings = stack.settings
    config: dict[str, Any] = json.loads(env.get(schema.ENV_WEBHOOK_CONFIG) or "{}")
    targets: dict[str, Any] = dict(config.get("targets") or {})
    named = dict(targets)
    if config.get("default"):
        named["*"] = config["default"]
    unknown = sorted(set(settings.webhooks) - set(named))
    if unknown:
        have = ", ".join(sorted(named)) or "none"
        raise TemplateError(
            f"--webhook names {', '.join(unknown)}, which the template has no target for (targets: {have})"
        )
    secret_value = settings.webhook_secret or (DEFAULT_WEBHOOK_SECRET if _builtin(stack) else None)
    written: set[str] = set()
    for name, target in named.items():
        if name in settings.webhooks:
            target["url"] = settings.webhooks[name]
        elif stack.inbox is not None:
            target["url"] = stack.inbox.url(name)
        arn = target.get("secret_arn")
        if arn and secret_value is not None and arn not in written:
            deployment.put_secret_value(arn, secret_value)
            written.add(arn)
        if arn:
            from ..handlers.webhook import signing_secret_from_value

            applied.webhook_secrets[name] = signing_secret_from_value(deployment.secret_value(arn))
    notify_arn = config.get("notify_url_secret_arn")
    if config.get("allow_notify_url") and notify_arn:
        # Per-assembly notify_url deliveries keep their own secret; surfaced so they can be verified
        # (the inbox verifies deliveries to /_local/inbox/notify_url with it).
        from ..handlers.webhook import signing_secret_from_value

        applied.notify_url_secret = signing_secret_from_value(deployment.secret_value(notify_arn))
    if "*" in named:
        config["default"] = named.pop("*")
    config["targets"] = named
    env[schema.ENV_WEBHOOK_CONFIG] = json.dumps(config, separators=(",", ":"), sort_keys=True)
    # Local receivers are plain-HTTP servers on this machine.
    env[schema.ENV_WEBHOOK_ALLOW_HTTP] = "true"
    if settings.allow_private_webhooks:
        env[schema.ENV_WEBHOOK_ALLOW_PRIVATE] = PRIVATE_ALLOW_LIST
    elif stack.inbox is not None:
        env[schema.ENV_WEBHOOK_ALLOW_PRIVATE] = "127.0.0.1/32,::1/128,localhost"


def _schedule(stack: LocalStack, env: dict[str, str], deployment: Deployment) -> None:
    settings = stack.settings
    raw = env.get(schema.ENV_WEBHOOK_RETRY_DELAYS)
    template = tuple(int(d) for d in raw.split(",") if d.strip()) if raw else schema.DEFAULT_WEBHOOK_RETRY_DELAYS
    delays = settings.retry_delays(template)
    if delays is None and _builtin(stack):
        delays = DEFAULT_RETRY_DELAYS
    if delays is None or tuple(delays) == tuple(template):
        return
    env[schema.ENV_WEBHOOK_RETRY_DELAYS] = ",".join(str(d) for d in delays)
    queue_url = env.get(schema.ENV_WEBHOOK_QUEUE_URL)
    if not queue_url:
        return
    sqs = deployment._clients("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"]).get("Attributes", {})
    if "RedrivePolicy" in attributes:
        policy = json.loads(attributes["RedrivePolicy"])
        # As the construct derives it: every attempt plus the safety margin for crashed handlers.
        policy["maxReceiveCount"] = len(delays) + 1 + schema.WEBHOOK_RECEIVE_SAFETY_MARGIN
        sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"RedrivePolicy": json.dumps(policy)})
