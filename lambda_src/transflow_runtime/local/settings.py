"""``transflow-status local``'s options. Each overrides what the template says, nothing more."""

from __future__ import annotations

from dataclasses import dataclass, field

#: Private ranges local mode lets webhooks reach when asked to (--allow-private-webhooks).
PRIVATE_ALLOW_LIST = "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,localhost"
#: The built-in default stack's secrets when no option sets them (local development only), so
#: tokens and receivers keep working from one start to the next.
DEFAULT_JWT_SECRET = "transflow-local-dev-secret-change-me"  # noqa: S105
# whsec_ + base64("transflow-local-webhook-secret")
DEFAULT_WEBHOOK_SECRET = "whsec_dHJhbnNmbG93LWxvY2FsLXdlYmhvb2stc2VjcmV0"  # noqa: S105
DEFAULT_RETRY_DELAYS = (1, 2, 5)


class OptionError(ValueError):
    """An option that does not fit the template (a usage error: the message names both)."""


@dataclass
class LocalSettings:
    host: str = "127.0.0.1"
    port: int = 8787
    #: A cloud assembly (``cdk.out``); ``None`` synthesizes the built-in default stack.
    app: str | None = None
    stack: str | None = None
    instance: str | None = None
    #: CloudFormation parameter overrides.
    parameters: dict[str, str] = field(default_factory=dict)
    region: str | None = None
    #: Value of the shared-secret authorizer's secret.
    jwt_secret: str | None = None
    #: template_id -> URL of that template's target; the key "*" is the default target.
    webhooks: dict[str, str] = field(default_factory=dict)
    #: Value of every webhook signing secret (the notify_url secret keeps its own).
    webhook_secret: str | None = None
    webhook_retry_delays: tuple[int, ...] | None = None
    webhook_max_attempts: int | None = None
    #: Replaces the JWT authorizer's issuer.
    oidc_issuer: str | None = None
    allow_private_webhooks: bool = False
    demo: bool = False
    inbox: bool = False
    #: ``--event-bus NAME``: the default stack gets that bus; the status page shows its events.
    event_bus: str | None = None
    ready_file: str | None = None
    verbose: bool = False
    #: On a non-loopback --host, let other machines mint tokens from /_local/token too.
    allow_remote_tokens: bool = False

    def retry_delays(self, template_delays: tuple[int, ...]) -> tuple[int, ...] | None:
        """The schedule to run, when an option changes the template's (``None``: keep it)."""
        if self.webhook_retry_delays is None and self.webhook_max_attempts is None:
            return None
        delays = tuple(self.webhook_retry_delays or template_delays) or (1,)
        if self.webhook_max_attempts is None:
            return delays
        wanted = max(self.webhook_max_attempts - 1, 0)
        return (delays + (delays[-1],) * wanted)[:wanted]
