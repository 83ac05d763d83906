"""What the webhook function is told: its targets, retry schedule and timeouts, checked at synth time.

Everything here is pure (no constructs): ``WebhookOptions`` validates the webhook options of
``TransflowStatus`` and renders the webhook function's settings; the pipeline part
(``pipeline.py``) turns them into resources.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from transflow_runtime import schema

from ._validation import check_number, check_seconds, literal
from .auth import SHARED_SECRET, StatusAuth
from .functions import LAMBDA_ENVIRONMENT_LIMIT_BYTES, TOKEN_LENGTH_ESTIMATE, estimated_environment_bytes
from .queues import DLQ_RETENTION, MAX_RECEIVE_COUNT, RECEIVE_SAFETY_MARGIN, VISIBILITY_FACTOR
from .targets.webhooks import WebhookTarget
from .webhook_network import check_webhook_network

DEFAULT_WEBHOOK_TIMEOUT = cdk.Duration.seconds(schema.DEFAULT_WEBHOOK_TIMEOUT_SECONDS)
DEFAULT_WEBHOOK_FUNCTION_TIMEOUT = cdk.Duration.seconds(60)
DEFAULT_WEBHOOK_MAX_CONCURRENCY = 5
DEFAULT_STREAM_RETRY_ATTEMPTS = schema.DEFAULT_STREAM_RETRY_ATTEMPTS
DEFAULT_STREAM_BATCH_SIZE = 100
DEFAULT_STREAM_PARALLELIZATION_FACTOR = 1
#: Our bound on one delivery: a receiver that needs longer should answer 202 and work afterwards.
MAX_WEBHOOK_TIMEOUT_SECONDS = 300
#: AWS Lambda Developer Guide, "Lambda quotas": function timeout 900 seconds (15 minutes).
MAX_LAMBDA_TIMEOUT_SECONDS = 900
#: The webhook function needs this much beyond one delivery's timeout (a batch is delivered
#: concurrently; the rest is DynamoDB reads/writes and SQS calls).
WEBHOOK_FUNCTION_HEADROOM_SECONDS = 10
#: Stands for a value only known at deploy time (CDK's string-token shape) in size estimates.
UNKNOWN = "${Token[TransflowUnknown.0]}"
WEBHOOK_ENVIRONMENT_HINT = (
    "To fit, send templates that share a receiver and secret to default_webhook instead of listing each "
    "(the payload names its template), shorten template ids and URLs, or import secrets by ARN "
    "(secretsmanager.Secret.from_secret_complete_arn) so their real length counts."
)
_TEMPLATE_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


def seconds(value: int | float | cdk.Duration, name: str) -> int:
    whole = value.to_seconds() if isinstance(value, cdk.Duration) else value
    if isinstance(whole, bool) or not isinstance(whole, int | float) or whole != int(whole):
        raise ValueError(f"{name} must be whole seconds, got {value!r}")
    return int(whole)


def max_retry_delay_seconds() -> int:
    """The longest delay the webhook handler honours (it caps longer ones); read from the handler.

    Imported here, not at module level: the handler module brings in pydantic and boto3, which
    only this check needs.
    """
    from transflow_runtime.handlers.webhook import MAX_RETRY_DELAY_SECONDS

    return int(MAX_RETRY_DELAY_SECONDS)


def retry_schedule(delays: Sequence[int | cdk.Duration] | None, max_attempts: int | None) -> tuple[int, ...]:
    """The delays (seconds) between webhook attempts; ``len(result) + 1`` attempts in all."""
    if max_attempts is not None and (isinstance(max_attempts, bool) or not isinstance(max_attempts, int)):
        raise ValueError(f"webhook_max_attempts must be an integer, got {max_attempts!r}")
    if max_attempts is not None and max_attempts < 1:
        raise ValueError(f"webhook_max_attempts must be at least 1, got {max_attempts}")
    if delays is None:
        default = schema.DEFAULT_WEBHOOK_RETRY_DELAYS
        if max_attempts is None:
            return tuple(default)
        wanted = max_attempts - 1
        return tuple(default[:wanted]) + (default[-1],) * max(0, wanted - len(default))
    if isinstance(delays, str | bytes):
        raise ValueError("webhook_retry_delays must be a sequence of seconds or Durations, not a string")
    schedule = tuple(seconds(delay, "webhook_retry_delays") for delay in delays)
    longest = max_retry_delay_seconds()
    for delay in schedule:
        if not 0 < delay <= longest:
            raise ValueError(
                f"webhook_retry_delays values must be between 1 second and {longest} seconds "
                f"({longest // 3600} h {longest % 3600 // 60} min: the webhook function waits by extending the "
                f"message's visibility, which SQS limits to {schema.SQS_MAX_VISIBILITY_SECONDS // 3600} hours, and "
                f"keeps a margin below that, so it would cut a longer delay short), got {delay} seconds"
            )
    if max_attempts is not None and max_attempts != len(schedule) + 1:
        raise ValueError(
            f"webhook_max_attempts={max_attempts} contradicts webhook_retry_delays ({len(schedule)} delays mean "
            f"{len(schedule) + 1} attempts); pass one of them"
        )
    return schedule


def json_with_tokens(value: object) -> str:
    """Compact JSON that keeps explicit ``null``s (``Stack.to_json_string`` drops them).

    Unresolved values (secret ARNs, URLs from parameters) are string tokens; CDK splices them
    into the string at synthesis. They resolve to ARNs and URLs, which need no JSON escaping.
    """
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _target_config(target: WebhookTarget) -> dict[str, str]:
    return {"url": target.url, "secret_arn": target.secret.secret_arn}


@dataclass(frozen=True)
class WebhookOptions:
    """The webhook and stream options of ``TransflowStatus`` (see its docstring), validated on creation."""

    webhooks: Mapping[str, WebhookTarget] | None = None
    default_webhook: WebhookTarget | None = None
    allow_notify_url: bool = False
    notify_url_secret: secretsmanager.ISecret | None = None
    retry_delays: Sequence[int | cdk.Duration] | None = None
    max_attempts: int | None = None
    webhook_timeout: cdk.Duration = DEFAULT_WEBHOOK_TIMEOUT
    webhook_function_timeout: cdk.Duration = DEFAULT_WEBHOOK_FUNCTION_TIMEOUT
    max_concurrency: int = DEFAULT_WEBHOOK_MAX_CONCURRENCY
    queue_encryption_key: kms.IKey | None = None
    stream_starting_position: lambda_.StartingPosition | None = None
    stream_retry_attempts: int = DEFAULT_STREAM_RETRY_ATTEMPTS
    stream_batch_size: int = DEFAULT_STREAM_BATCH_SIZE
    stream_parallelization_factor: int | None = None
    stream_max_record_age: cdk.Duration | None = None
    vpc: ec2.IVpc | None = None
    vpc_subnets: ec2.SubnetSelection | None = None
    #: Derived (validated) values.
    targets: dict[str, WebhookTarget] = field(init=False)
    delays: tuple[int, ...] = field(init=False)
    delivery_seconds: int = field(init=False)
    function_seconds: int = field(init=False)

    def __post_init__(self) -> None:
        targets = dict(self.webhooks or {})
        for template_id, target in targets.items():
            if not isinstance(template_id, str) or not _TEMPLATE_ID_PATTERN.match(template_id):
                raise ValueError(f"webhooks keys must be template ids, got {template_id!r}")
            if not isinstance(target, WebhookTarget):
                raise ValueError(f"webhooks[{template_id!r}] must be a WebhookTarget")
        if self.default_webhook is not None and not isinstance(self.default_webhook, WebhookTarget):
            raise ValueError("default_webhook must be a WebhookTarget")
        if self.allow_notify_url and self.notify_url_secret is None:
            raise ValueError(
                "allow_notify_url=True needs notify_url_secret (the key notify_url deliveries are signed with)"
            )
        if self.notify_url_secret is not None and not self.allow_notify_url:
            raise ValueError("notify_url_secret is only used with allow_notify_url=True; set both or neither")
        literal(self.retry_delays, "webhook_retry_delays", "the schedule sets the queue's receive count")
        literal(self.max_attempts, "webhook_max_attempts", "it sets the queue's receive count")
        literal(self.webhook_timeout, "webhook_timeout", "the webhook function's timeout is checked against it")
        literal(
            self.webhook_function_timeout,
            "webhook_function_timeout",
            f"the webhook queue's visibility timeout is {VISIBILITY_FACTOR} times it",
        )
        delays = retry_schedule(self.retry_delays, self.max_attempts)
        receives = len(delays) + 1 + RECEIVE_SAFETY_MARGIN
        if receives > MAX_RECEIVE_COUNT:
            raise ValueError(
                f"webhook_retry_delays/webhook_max_attempts ask for {len(delays) + 1} attempts: the webhook queue's "
                f"redrive policy would need maxReceiveCount {receives} (attempts + {RECEIVE_SAFETY_MARGIN}), over "
                f"SQS's maximum of {MAX_RECEIVE_COUNT}; at most {MAX_RECEIVE_COUNT - RECEIVE_SAFETY_MARGIN} attempts"
            )
        delivery_seconds = seconds(self.webhook_timeout, "webhook_timeout")
        function_seconds = seconds(self.webhook_function_timeout, "webhook_function_timeout")
        if not 1 <= delivery_seconds <= MAX_WEBHOOK_TIMEOUT_SECONDS:
            raise ValueError(
                f"webhook_timeout must be between 1 and {MAX_WEBHOOK_TIMEOUT_SECONDS} seconds, got {delivery_seconds}"
            )
        if (
            function_seconds < delivery_seconds + WEBHOOK_FUNCTION_HEADROOM_SECONDS
            or function_seconds > MAX_LAMBDA_TIMEOUT_SECONDS
        ):
            raise ValueError(
                f"webhook_function_timeout ({function_seconds} s) must be at least webhook_timeout "
                f"({delivery_seconds} s) + {WEBHOOK_FUNCTION_HEADROOM_SECONDS} s and at most "
                f"{MAX_LAMBDA_TIMEOUT_SECONDS} s (Lambda's longest timeout)"
            )
        worst_case = sum(delays) + (len(delays) + 1) * function_seconds * VISIBILITY_FACTOR
        if worst_case >= DLQ_RETENTION.to_seconds() - 86400:
            raise ValueError(
                f"webhook_retry_delays span {sum(delays)} s: with webhook_function_timeout's visibility it would not "
                "finish within SQS's 14-day retention (minus a day of margin)"
            )
        check_number(
            self.max_concurrency,
            "webhook_max_concurrency",
            2,
            1000,
            why="Lambda's ScalingConfig MaximumConcurrency for an SQS event source",
        )
        check_number(
            self.stream_retry_attempts,
            "stream_retry_attempts",
            0,
            10000,
            why="Lambda's MaximumRetryAttempts; -1 (retry until the record expires) is not offered: a record that "
            "expires is a lost webhook, one in the stream-failure queue can be redriven",
        )
        check_number(
            self.stream_batch_size, "stream_batch_size", 1, 10000, why="Lambda's BatchSize for DynamoDB streams"
        )
        check_number(
            self.stream_parallelization_factor if self.stream_parallelization_factor is not None else 1,
            "stream_parallelization_factor",
            1,
            10,
            why="Lambda's ParallelizationFactor: concurrent batches per shard",
        )
        if self.stream_max_record_age is not None:
            check_seconds(
                self.stream_max_record_age,
                "stream_max_record_age",
                60,
                604800,
                why="Lambda's MaximumRecordAgeInSeconds: 60 s to 7 days",
            )
        check_webhook_network(self.vpc, self.vpc_subnets)
        if self.stream_starting_position == lambda_.StartingPosition.AT_TIMESTAMP:
            raise ValueError("stream_starting_position must be TRIM_HORIZON or LATEST (DynamoDB streams)")
        object.__setattr__(self, "targets", targets)
        object.__setattr__(self, "delays", delays)
        object.__setattr__(self, "delivery_seconds", delivery_seconds)
        object.__setattr__(self, "function_seconds", function_seconds)

    @property
    def attempts(self) -> int:
        return len(self.delays) + 1

    @property
    def configured_targets(self) -> list[WebhookTarget]:
        """Every configured receiver (template targets and the default one)."""
        found = list(self.targets.values())
        return [*found, self.default_webhook] if self.default_webhook is not None else found

    @property
    def secrets(self) -> list[secretsmanager.ISecret]:
        """Every secret the webhook function may read (deliveries are signed with them)."""
        found = [t.secret for t in self.targets.values()]
        if self.default_webhook is not None:
            found.append(self.default_webhook.secret)
        if self.notify_url_secret is not None:
            found.append(self.notify_url_secret)
        return found

    def settings(self) -> dict[str, str]:
        """The webhook function's own environment variables (resource names excluded)."""
        config = json_with_tokens(
            {
                "targets": {tid: _target_config(t) for tid, t in sorted(self.targets.items())},
                "default": _target_config(self.default_webhook) if self.default_webhook is not None else None,
                "allow_notify_url": self.allow_notify_url,
                "notify_url_secret_arn": (
                    self.notify_url_secret.secret_arn if self.notify_url_secret is not None else None
                ),
            }
        )
        return {
            schema.ENV_WEBHOOK_CONFIG: config,
            schema.ENV_WEBHOOK_RETRY_DELAYS: ",".join(str(d) for d in self.delays),
            schema.ENV_WEBHOOK_TIMEOUT: str(self.delivery_seconds),
        }

    def check_environment(self, common: Mapping[str, str], table_name: str | None) -> None:
        """Refuse, before any resource exists, webhook targets too many for Lambda's 4 KB environment.

        The whole ``webhooks=`` mapping travels in one variable; CloudFormation would only fail at
        deploy time. The queue URLs (and a new table's name) are not known yet and count as tokens.
        """
        settings = {**common, **self.settings()}
        name = table_name if table_name is not None else UNKNOWN
        environment = webhook_environment(settings, table_name=name, queue_url=UNKNOWN, dlq_url=UNKNOWN)
        size = estimated_environment_bytes(environment)
        if size <= LAMBDA_ENVIRONMENT_LIMIT_BYTES:
            return
        config = json.loads(settings[schema.ENV_WEBHOOK_CONFIG])  # tokens are plain text inside its strings
        without_targets = dict(environment, **{schema.ENV_WEBHOOK_CONFIG: json_with_tokens({**config, "targets": {}})})
        base = estimated_environment_bytes(without_targets)
        count = len(self.targets)
        per_target = (size - base) / max(count, 1)
        fits = max(0, int((LAMBDA_ENVIRONMENT_LIMIT_BYTES - base) // per_target)) if per_target else 0
        raise ValueError(
            f"webhooks= has {count} targets: {schema.ENV_WEBHOOK_CONFIG} would make the webhook function's "
            f"environment about {size} bytes, over Lambda's {LAMBDA_ENVIRONMENT_LIMIT_BYTES}-byte limit for all its "
            f"variables (about {per_target:.0f} bytes per target, secret ARNs and URLs unknown at synth time "
            f"counted as {TOKEN_LENGTH_ESTIMATE} characters), so the deployment would fail; about {fits} such "
            "targets fit. " + WEBHOOK_ENVIRONMENT_HINT
        )


def webhook_environment(
    settings: Mapping[str, str], *, table_name: str, queue_url: str, dlq_url: str
) -> dict[str, str]:
    """The webhook function's environment: its settings plus the names of the resources it uses."""
    return {
        schema.ENV_TABLE_NAME: table_name,
        schema.ENV_WEBHOOK_QUEUE_URL: queue_url,
        schema.ENV_WEBHOOK_DLQ_URL: dlq_url,
        **settings,
    }


def _secret_identity(secret: secretsmanager.ISecret) -> str:
    """A key equal for two handles on the same secret: the same construct (same ARN token), or the
    same literal ARN imported by complete ARN (suffix dropped) or by partial ARN."""
    arn = secret.secret_arn
    if cdk.Token.is_unresolved(arn):
        return arn
    full = secret.secret_full_arn
    if full is not None and not cdk.Token.is_unresolved(full):
        return re.sub(r"-[A-Za-z0-9]{6}$", "", full)
    return arn


def check_secret_separation(auth: StatusAuth, options: WebhookOptions) -> None:
    """Refuse one secret in two roles where whoever holds one role's value could abuse the other's.

    * The shared-secret JWT key mints API tokens for any user: a webhook receiver holding it
      (any target's secret, or ``notify_url_secret``) could impersonate every user.
    * ``notify_url_secret`` signs deliveries to caller-chosen URLs: if a template's or the default
      target's secret did too, that caller could replay the signatures to the template's endpoint.
    """
    notify_url_secret = options.notify_url_secret
    webhook_roles: list[tuple[str, secretsmanager.ISecret]] = [
        (f"webhooks[{template_id!r}].secret", target.secret) for template_id, target in sorted(options.targets.items())
    ]
    if options.default_webhook is not None:
        webhook_roles.append(("default_webhook.secret", options.default_webhook.secret))
    if auth.kind == SHARED_SECRET and auth.secret is not None:
        jwt_key = _secret_identity(auth.secret)
        roles = [*webhook_roles, *([("notify_url_secret", notify_url_secret)] if notify_url_secret else [])]
        for option, secret in roles:
            if _secret_identity(secret) == jwt_key:
                raise ValueError(
                    f"auth=StatusAuth.shared_secret(...) and {option} are the same secret: every webhook receiver "
                    "would hold the key that signs API tokens for any user. Use a separate secret for each"
                )
    if notify_url_secret is not None:
        notify_key = _secret_identity(notify_url_secret)
        for option, secret in webhook_roles:
            if _secret_identity(secret) == notify_key:
                raise ValueError(
                    f"notify_url_secret and {option} are the same secret: an assembly's own notify_url would "
                    "receive signatures it could replay to that target's endpoint. Use a separate notify_url_secret"
                )
