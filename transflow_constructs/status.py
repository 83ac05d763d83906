"""``TransflowStatus``: the whole job-status service as one construct (see DESIGN.md)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

import aws_cdk as cdk
import jsii
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from transflow_runtime import schema
from transflow_runtime.terminal import STREAM_FILTER_PATTERNS

from ._metadata import mark
from .api import StatusApi, check_cors_origins
from .auth import SHARED_SECRET, StatusAuth
from .bundling import runtime_code
from .functions import (
    LAMBDA_ENVIRONMENT_LIMIT_BYTES,
    TOKEN_LENGTH_ESTIMATE,
    FunctionSettings,
    TransflowFunction,
    estimated_environment_bytes,
)
from .monitoring import AlarmThresholds, StatusMonitoring, check_dashboard
from .queues import DLQ_RETENTION, WebhookQueues
from .table import StatusTable, check_existing_table
from .targets.webhooks import WebhookTarget

DEFAULT_RUNTIME = lambda_.Runtime.PYTHON_3_13
DEFAULT_MEMORY_SIZE = 256
DEFAULT_LOG_RETENTION = logs.RetentionDays.THREE_MONTHS
DEFAULT_STATUS_TIMEOUT = cdk.Duration.seconds(10)
DEFAULT_WEBHOOK_TIMEOUT = cdk.Duration.seconds(schema.DEFAULT_WEBHOOK_TIMEOUT_SECONDS)
DEFAULT_WEBHOOK_FUNCTION_TIMEOUT = cdk.Duration.seconds(60)
DEFAULT_WEBHOOK_MAX_CONCURRENCY = 5
DEFAULT_STREAM_RETRY_ATTEMPTS = schema.DEFAULT_STREAM_RETRY_ATTEMPTS
DEFAULT_STREAM_BATCH_SIZE = 100
DEFAULT_THROTTLING_RATE_LIMIT = 100.0
DEFAULT_THROTTLING_BURST_LIMIT = 200
AUTHORIZER_TIMEOUT = cdk.Duration.seconds(10)
DISPATCHER_TIMEOUT = cdk.Duration.seconds(30)
#: The webhook function needs this much beyond one delivery's timeout (a batch is delivered
#: concurrently; the rest is DynamoDB reads/writes and SQS calls).
WEBHOOK_FUNCTION_HEADROOM_SECONDS = 10
#: Table-only options: meaningless (so refused) together with ``table=``.
TABLE_OPTIONS = ("removal_policy", "table_encryption_key", "deletion_protection", "point_in_time_recovery")
#: Stands for a value only known at deploy time (CDK's string-token shape) in size estimates.
_UNKNOWN = "${Token[TransflowUnknown.0]}"
_WEBHOOK_ENVIRONMENT_HINT = (
    "To fit, send templates that share a receiver and secret to default_webhook instead of listing each "
    "(the payload names its template), shorten template ids and URLs, or import secrets by ARN "
    "(secretsmanager.Secret.from_secret_complete_arn) so their real length counts."
)
_CLAIM_PATTERN = re.compile(r"^[A-Za-z0-9_:./-]{1,128}$")
_TEMPLATE_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


@jsii.implements(lambda_.IEventSourceDlq)
class _QueueDestination:
    """``on_failure`` destination without ``SqsDlq``'s implicit grant (the policy is written explicitly)."""

    def __init__(self, queue: sqs.IQueue) -> None:
        self._queue = queue

    def bind(
        self, _target: lambda_.IEventSourceMapping, _target_handler: lambda_.IFunction
    ) -> lambda_.DlqDestinationConfig:
        return lambda_.DlqDestinationConfig(destination=self._queue.queue_arn)


def _seconds(value: int | float | cdk.Duration, name: str) -> int:
    seconds = value.to_seconds() if isinstance(value, cdk.Duration) else value
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds != int(seconds):
        raise ValueError(f"{name} must be whole seconds, got {value!r}")
    return int(seconds)


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
    schedule = tuple(_seconds(delay, "webhook_retry_delays") for delay in delays)
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


class TransflowStatus(Construct):
    """Job-status service for a file-processing pipeline: table, API, webhooks (see DESIGN.md).

    Only ``auth`` is required; every other keyword has a secure default.

    Authentication and identity

    :param auth: ``StatusAuth.oidc(issuer, audience)`` (API Gateway's JWT authorizer) or
        ``StatusAuth.shared_secret(secret, issuer=None, audience=None)`` (HS256 via a Lambda
        authorizer with result caching). Every route uses it.
    :param user_id_claim: JWT claim holding the user id that owns assemblies. Default: ``"sub"``.

    Webhooks

    :param webhooks: ``{template_id: WebhookTarget(url, secret)}``. Default: none.
    :param default_webhook: target for templates not in ``webhooks``. Default: none (such events
        are recorded as skipped).
    :param allow_notify_url: let an assembly's own ``notify_url`` override the targets above.
        Default: ``False`` (a caller-chosen URL is an SSRF and data-leak vector; opt in knowingly).
    :param notify_url_secret: signing secret for per-assembly ``notify_url`` deliveries;
        required with, and only with, ``allow_notify_url=True``.
    :param webhook_retry_delays: seconds (or Durations) between attempts, each at most 11 h 45 min
        (the webhook function stays 15 minutes below SQS's 12-hour visibility limit).
        Default: ``schema.DEFAULT_WEBHOOK_RETRY_DELAYS`` = 5 s, 1 min, 5 min, 30 min, 2 h, 5 h,
        10 h, 10 h (9 attempts over ~27.6 hours).
    :param webhook_max_attempts: number of attempts; with ``webhook_retry_delays`` it must equal
        ``len(delays) + 1``; alone it trims or extends the default schedule. Default: 9.
    :param webhook_timeout: one delivery's timeout. Default: 15 s.
    :param webhook_function_timeout: the webhook function's timeout, at least
        ``webhook_timeout`` + 10 s; the queue's visibility timeout is six times this. Default: 60 s.
    :param webhook_max_concurrency: most concurrent webhook function instances the queue may
        drive (2-1000), protecting receivers and the account's concurrency. Default: 5.

    Table

    :param table: an existing table instead of a new one. It must have partition key
        ``assembly_id`` (string) and no sort key, GSI ``by-user-created`` (``user_id``,
        ``created_at``, both strings, projecting ALL), TTL on ``ttl`` and a NEW_AND_OLD_IMAGES
        stream whose ARN is known (``Table.from_table_attributes(..., table_stream_arn=...)``). A
        ``Table``/``TableV2`` defined in the app is checked for all of it at synth time; an
        imported one cannot be. Conflicts with every table-only option below. Default: a new table.
    :param removal_policy: what happens to a new table, and to the two dead-letter queues (the DLQ
        and the stream-failure queue: dead letters are data too), when the stack is deleted.
        Default: ``RETAIN``. With ``table=`` the dead-letter queues are retained (call
        ``apply_removal_policy`` on ``dead_letter_queue``/``stream_failure_queue`` to change that).
    :param table_encryption_key: KMS key for a new table. Default: AWS-managed key.
    :param deletion_protection: Default: ``True``.
    :param point_in_time_recovery: Default: ``True``.

    Functions

    :param runtime: Python runtime of every function (3.11 or newer); the bundle's wheels are
        built for it. Default: ``Runtime.PYTHON_3_13``.
    :param architecture: Default: ``Architecture.ARM_64`` (cheaper per GB-second).
    :param memory_size: MB for every function. Default: 256.
    :param status_timeout: the status function's timeout. Default: 10 s.
    :param tracing: X-Ray tracing of every function. Default: ``Tracing.ACTIVE`` (HTTP APIs do not
        start traces themselves, so PASS_THROUGH would trace nothing coming from the API).
    :param log_retention: retention of every log group (functions and API access logs); must be
        finite. Default: ``RetentionDays.THREE_MONTHS``.
    :param log_removal_policy: what happens to the log groups when the stack is deleted.
        Default: ``RETAIN`` (logs are evidence).
    :param assembly_id_pattern: regular expression a valid assembly id matches. Default: the
        runtime's (64 lowercase hex characters).
    :param metrics_namespace: CloudWatch namespace of the handlers' metrics. Default: ``"Transflow"``.
    :param queue_encryption_key: KMS key for the three queues. Default: SQS-managed encryption.

    Stream path (table stream -> dispatcher -> webhook queue)

    :param stream_starting_position: Default: ``TRIM_HORIZON``: records written while the mapping
        is created or replaced are still dispatched (a duplicate carries the same ``webhook-id``;
        a lost webhook cannot be recovered).
    :param stream_retry_attempts: retries of a failing stream batch (bisected on each error)
        before its metadata goes to the stream-failure queue. Default: 10.
    :param stream_batch_size: Default: 100.

    HTTP API

    :param cors_origins: origins allowed to call the API from a browser (``["https://app.example.com"]``).
        Default: CORS disabled.
    :param throttling_rate_limit: default-stage steady-state requests per second. Default: 100.
    :param throttling_burst_limit: default-stage burst. Default: 200.
    :param domain_name: custom domain; requires ``certificate``. Default: none.
    :param certificate: ACM certificate for ``domain_name`` (same region); requires ``domain_name``.
    :param disable_execute_api_endpoint: refuse the default ``execute-api`` URL (only with a custom
        domain). Default: ``False``.

    Monitoring (``StatusMonitoring``; the README's operations section explains every alarm)

    :param monitoring: create the alarms (DLQ and stream-failure queue not empty, webhook delivery
        failures, webhook queue age, stream lag, every function's errors and throttles, API 5xx rate
        and p99 latency, table throttles). Default: ``True``.
    :param alarm_topic: SNS topic that receives every alarm's ALARM and OK transitions. Default:
        none (the alarms exist and show in the console, but notify nobody).
    :param alarm_thresholds: ``AlarmThresholds(...)``, when each alarm fires. Default: ``AlarmThresholds()``.
    :param dashboard: ``True`` for a CloudWatch dashboard of the service (name generated), or the
        dashboard's name. Default: ``False``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        auth: StatusAuth,
        user_id_claim: str = schema.DEFAULT_USER_ID_CLAIM,
        webhooks: Mapping[str, WebhookTarget] | None = None,
        default_webhook: WebhookTarget | None = None,
        allow_notify_url: bool = False,
        notify_url_secret: secretsmanager.ISecret | None = None,
        webhook_retry_delays: Sequence[int | cdk.Duration] | None = None,
        webhook_max_attempts: int | None = None,
        webhook_timeout: cdk.Duration = DEFAULT_WEBHOOK_TIMEOUT,
        webhook_function_timeout: cdk.Duration = DEFAULT_WEBHOOK_FUNCTION_TIMEOUT,
        webhook_max_concurrency: int = DEFAULT_WEBHOOK_MAX_CONCURRENCY,
        table: dynamodb.ITable | None = None,
        removal_policy: cdk.RemovalPolicy | None = None,
        table_encryption_key: kms.IKey | None = None,
        deletion_protection: bool | None = None,
        point_in_time_recovery: bool | None = None,
        runtime: lambda_.Runtime = DEFAULT_RUNTIME,
        architecture: lambda_.Architecture = lambda_.Architecture.ARM_64,
        memory_size: int = DEFAULT_MEMORY_SIZE,
        status_timeout: cdk.Duration = DEFAULT_STATUS_TIMEOUT,
        tracing: lambda_.Tracing = lambda_.Tracing.ACTIVE,
        log_retention: logs.RetentionDays = DEFAULT_LOG_RETENTION,
        log_removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
        assembly_id_pattern: str | None = None,
        metrics_namespace: str = schema.DEFAULT_METRICS_NAMESPACE,
        queue_encryption_key: kms.IKey | None = None,
        stream_starting_position: lambda_.StartingPosition = lambda_.StartingPosition.TRIM_HORIZON,
        stream_retry_attempts: int = DEFAULT_STREAM_RETRY_ATTEMPTS,
        stream_batch_size: int = DEFAULT_STREAM_BATCH_SIZE,
        cors_origins: Sequence[str] | None = None,
        throttling_rate_limit: float = DEFAULT_THROTTLING_RATE_LIMIT,
        throttling_burst_limit: int = DEFAULT_THROTTLING_BURST_LIMIT,
        domain_name: str | None = None,
        certificate: acm.ICertificate | None = None,
        disable_execute_api_endpoint: bool = False,
        monitoring: bool = True,
        alarm_topic: sns.ITopic | None = None,
        alarm_thresholds: AlarmThresholds | None = None,
        dashboard: bool | str = False,
    ) -> None:
        super().__init__(scope, construct_id)
        # ---- validation: everything that can be checked at synth time, before any resource ----
        if not isinstance(auth, StatusAuth):
            raise ValueError("auth must be StatusAuth.oidc(...) or StatusAuth.shared_secret(...)")
        if not _CLAIM_PATTERN.match(user_id_claim or ""):
            raise ValueError(f"user_id_claim must be a JWT claim name, got {user_id_claim!r}")
        targets = dict(webhooks or {})
        for template_id, target in targets.items():
            if not isinstance(template_id, str) or not _TEMPLATE_ID_PATTERN.match(template_id):
                raise ValueError(f"webhooks keys must be template ids, got {template_id!r}")
            if not isinstance(target, WebhookTarget):
                raise ValueError(f"webhooks[{template_id!r}] must be a WebhookTarget")
        if default_webhook is not None and not isinstance(default_webhook, WebhookTarget):
            raise ValueError("default_webhook must be a WebhookTarget")
        if allow_notify_url and notify_url_secret is None:
            raise ValueError(
                "allow_notify_url=True needs notify_url_secret (the key notify_url deliveries are signed with)"
            )
        if notify_url_secret is not None and not allow_notify_url:
            raise ValueError("notify_url_secret is only used with allow_notify_url=True; set both or neither")
        _check_secret_separation(auth, targets, default_webhook, notify_url_secret)
        delays = retry_schedule(webhook_retry_delays, webhook_max_attempts)
        attempts = len(delays) + 1
        delivery_seconds = _seconds(webhook_timeout, "webhook_timeout")
        function_seconds = _seconds(webhook_function_timeout, "webhook_function_timeout")
        if not 1 <= delivery_seconds <= 300:
            raise ValueError(f"webhook_timeout must be between 1 and 300 seconds, got {delivery_seconds}")
        if function_seconds < delivery_seconds + WEBHOOK_FUNCTION_HEADROOM_SECONDS or function_seconds > 900:
            raise ValueError(
                f"webhook_function_timeout ({function_seconds} s) must be at least webhook_timeout "
                f"({delivery_seconds} s) + {WEBHOOK_FUNCTION_HEADROOM_SECONDS} s and at most 900 s"
            )
        worst_case = sum(delays) + attempts * function_seconds * 6
        if worst_case >= DLQ_RETENTION.to_seconds() - 86400:
            raise ValueError(
                f"webhook_retry_delays span {sum(delays)} s: with webhook_function_timeout's visibility it would not "
                "finish within SQS's 14-day retention (minus a day of margin)"
            )
        if not 2 <= webhook_max_concurrency <= 1000:
            raise ValueError(
                f"webhook_max_concurrency must be between 2 and 1000 (SQS event source), got {webhook_max_concurrency}"
            )
        if table is not None:
            given = {
                "removal_policy": removal_policy,
                "table_encryption_key": table_encryption_key,
                "deletion_protection": deletion_protection,
                "point_in_time_recovery": point_in_time_recovery,
            }
            for option, value in given.items():
                if value is not None:
                    raise ValueError(
                        f"table= and {option}= conflict: {option} only applies to a table this construct creates"
                    )
            check_existing_table(table)
        if log_retention == logs.RetentionDays.INFINITE:
            raise ValueError(
                "log_retention must be finite (RetentionDays.INFINITE keeps logs, and their cost, forever)"
            )
        if not 128 <= memory_size <= 10240:
            raise ValueError(f"memory_size must be between 128 and 10240 MB, got {memory_size}")
        status_seconds = _seconds(status_timeout, "status_timeout")
        if not 1 <= status_seconds <= 29:
            raise ValueError(
                f"status_timeout must be 1-29 s (HTTP API integrations time out at 30 s), got {status_seconds}"
            )
        if assembly_id_pattern is not None:
            try:
                re.compile(assembly_id_pattern)
            except re.error as exc:
                raise ValueError(f"assembly_id_pattern is not a valid regular expression: {exc}") from None
        if not metrics_namespace or len(metrics_namespace) > 255:
            raise ValueError("metrics_namespace must be 1-255 characters")
        if not 0 <= stream_retry_attempts <= 10000:
            raise ValueError(f"stream_retry_attempts must be between 0 and 10000, got {stream_retry_attempts}")
        if not 1 <= stream_batch_size <= 10000:
            raise ValueError(f"stream_batch_size must be between 1 and 10000, got {stream_batch_size}")
        if stream_starting_position == lambda_.StartingPosition.AT_TIMESTAMP:
            raise ValueError("stream_starting_position must be TRIM_HORIZON or LATEST (DynamoDB streams)")
        origins = check_cors_origins(cors_origins) if cors_origins is not None else None
        if throttling_rate_limit <= 0 or throttling_burst_limit <= 0:
            raise ValueError("throttling_rate_limit and throttling_burst_limit must be positive")
        if (domain_name is None) != (certificate is None):
            missing, present = ("certificate", "domain_name") if certificate is None else ("domain_name", "certificate")
            raise ValueError(f"{present}= needs {missing}=: a custom domain takes both domain_name and certificate")
        if disable_execute_api_endpoint and domain_name is None:
            raise ValueError("disable_execute_api_endpoint=True without domain_name= would leave the API unreachable")
        check_dashboard(dashboard)
        webhook_config = _json_with_tokens(
            {
                "targets": {tid: _target_config(t) for tid, t in sorted(targets.items())},
                "default": _target_config(default_webhook) if default_webhook is not None else None,
                "allow_notify_url": allow_notify_url,
                "notify_url_secret_arn": notify_url_secret.secret_arn if notify_url_secret is not None else None,
            }
        )
        webhook_settings = {
            schema.ENV_WEBHOOK_CONFIG: webhook_config,
            schema.ENV_WEBHOOK_RETRY_DELAYS: ",".join(str(d) for d in delays),
            schema.ENV_WEBHOOK_TIMEOUT: str(delivery_seconds),
            schema.ENV_METRICS_NAMESPACE: metrics_namespace,
        }
        _check_webhook_environment(webhook_settings, table.table_name if table is not None else _UNKNOWN, len(targets))
        if alarm_thresholds is not None and not isinstance(alarm_thresholds, AlarmThresholds):
            raise ValueError("alarm_thresholds must be an AlarmThresholds")
        if not monitoring:
            given = {"alarm_topic": alarm_topic, "alarm_thresholds": alarm_thresholds, "dashboard": dashboard or None}
            for option, value in given.items():
                if value is not None:
                    raise ValueError(f"monitoring=False and {option}= conflict: {option} only applies with monitoring")

        # ---- table ----
        self._owns_table = table is None
        if table is None:
            self._table: dynamodb.ITable = StatusTable(
                self,
                "Table",
                removal_policy=removal_policy if removal_policy is not None else cdk.RemovalPolicy.RETAIN,
                encryption_key=table_encryption_key,
                deletion_protection=True if deletion_protection is None else deletion_protection,
                point_in_time_recovery=True if point_in_time_recovery is None else point_in_time_recovery,
            ).table
        else:
            self._table = table
        table_arn = self._table.table_arn
        self._index_arn = f"{table_arn}/index/{schema.USER_INDEX_NAME}"
        stream_arn = self._table.table_stream_arn
        assert stream_arn is not None
        table_key = self._table.encryption_key

        # ---- queues ----
        queues = WebhookQueues(
            self,
            "Webhooks",
            attempts=attempts,
            function_timeout=webhook_function_timeout,
            encryption_key=queue_encryption_key,
            dead_letter_removal_policy=removal_policy if removal_policy is not None else cdk.RemovalPolicy.RETAIN,
        )
        self._queues = queues
        self._webhook_queue = queues.queue
        self._dead_letter_queue = queues.dead_letter_queue
        self.stream_failure_queue: sqs.IQueue = queues.stream_failure_queue

        # ---- functions (one asset, one handler string each) ----
        settings = FunctionSettings(
            code=runtime_code(architecture, runtime),
            runtime=runtime,
            architecture=architecture,
            memory_size=memory_size,
            tracing=tracing,
            log_retention=log_retention,
            log_removal_policy=log_removal_policy,
        )
        send_to_queue = _queue_send_statements("SendToWebhookQueue", self._webhook_queue, queue_encryption_key)

        status_env = {
            schema.ENV_TABLE_NAME: self._table.table_name,
            schema.ENV_WEBHOOK_QUEUE_URL: self._webhook_queue.queue_url,
            schema.ENV_USER_ID_CLAIM: user_id_claim,
            schema.ENV_METRICS_NAMESPACE: metrics_namespace,
        }
        if assembly_id_pattern is not None:
            status_env[schema.ENV_ASSEMBLY_ID_PATTERN] = assembly_id_pattern
        self._status = TransflowFunction(
            self,
            "StatusFunction",
            settings=settings,
            handler=schema.HANDLER_STATUS,
            description="Transflow: assembly status API and direct invoke (read-only)",
            timeout=status_timeout,
            environment=status_env,
            statements=[
                *self._read_statements(),
                *_key_statements("TableKey", table_key, ["kms:Decrypt"]),
                *send_to_queue,
            ],
        )

        self._authorizer: TransflowFunction | None = None
        if auth.kind == SHARED_SECRET:
            assert auth.secret is not None
            authorizer_env = {
                schema.ENV_JWT_SECRET_ARN: auth.secret.secret_arn,
                schema.ENV_USER_ID_CLAIM: user_id_claim,
                schema.ENV_METRICS_NAMESPACE: metrics_namespace,
            }
            if auth.issuer is not None:
                authorizer_env[schema.ENV_JWT_ISSUER] = auth.issuer
            if auth.audience:
                authorizer_env[schema.ENV_JWT_AUDIENCE] = ",".join(auth.audience)
            self._authorizer = TransflowFunction(
                self,
                "AuthorizerFunction",
                settings=settings,
                handler=schema.HANDLER_AUTHORIZER,
                description="Transflow: HS256 JWT authorizer for the status API",
                timeout=AUTHORIZER_TIMEOUT,
                environment=authorizer_env,
                statements=_secret_statements("ReadJwtSecret", [auth.secret]),
            )

        self._dispatcher = TransflowFunction(
            self,
            "DispatcherFunction",
            settings=settings,
            handler=schema.HANDLER_DISPATCHER,
            description="Transflow: table stream -> webhook queue (terminal transitions only)",
            timeout=DISPATCHER_TIMEOUT,
            # Everything it needs comes in the stream records: no table name.
            environment={
                schema.ENV_WEBHOOK_QUEUE_URL: self._webhook_queue.queue_url,
                # Where it dead-letters stream records it cannot understand (the mapping's on-failure queue).
                schema.ENV_STREAM_FAILURE_QUEUE_URL: queues.stream_failure_queue.queue_url,
                schema.ENV_METRICS_NAMESPACE: metrics_namespace,
            },
            statements=[
                iam.PolicyStatement(
                    sid="ReadTableStream",
                    actions=[
                        "dynamodb:DescribeStream",
                        "dynamodb:GetRecords",
                        "dynamodb:GetShardIterator",
                        "dynamodb:ListStreams",
                    ],
                    resources=[stream_arn],
                ),
                *_key_statements("TableKey", table_key, ["kms:Decrypt"]),
                *send_to_queue,
                *_queue_send_statements("SendToStreamFailureQueue", queues.stream_failure_queue, queue_encryption_key),
            ],
        )
        self.stream_mapping = lambda_.EventSourceMapping(
            self,
            "StreamMapping",
            target=self._dispatcher.function,
            event_source_arn=stream_arn,
            starting_position=stream_starting_position,
            batch_size=stream_batch_size,
            bisect_batch_on_error=True,
            retry_attempts=stream_retry_attempts,
            report_batch_item_failures=True,
            on_failure=_QueueDestination(queues.stream_failure_queue),
            # Only records the dispatcher turns into a webhook invoke it (terminal.py; its own check
            # stays the authority): one invocation per assembly instead of one per write.
            filters=[{"pattern": json.dumps(p)} for p in STREAM_FILTER_PATTERNS],
        )
        # The mapping validates its permissions when it is created.
        self.stream_mapping.node.add_dependency(self._dispatcher.policy)

        webhook_secrets = [t.secret for t in targets.values()]
        if default_webhook is not None:
            webhook_secrets.append(default_webhook.secret)
        if notify_url_secret is not None:
            webhook_secrets.append(notify_url_secret)
        webhook_statements = [
            iam.PolicyStatement(
                sid="ReadAndRecordDelivery",
                actions=["dynamodb:GetItem", "dynamodb:UpdateItem"],
                resources=[table_arn],
            ),
            *_key_statements("TableKey", table_key, ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]),
            iam.PolicyStatement(
                sid="ConsumeWebhookQueue",
                actions=[
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes",
                    "sqs:ChangeMessageVisibility",
                ],
                resources=[self._webhook_queue.queue_arn],
            ),
            *_queue_send_statements("SendToDeadLetterQueue", self._dead_letter_queue, queue_encryption_key),
            *_secret_statements("ReadWebhookSecrets", webhook_secrets),
        ]
        self._webhook = TransflowFunction(
            self,
            "WebhookFunction",
            settings=settings,
            handler=schema.HANDLER_WEBHOOK,
            description="Transflow: signed webhook delivery with retries",
            timeout=webhook_function_timeout,
            environment=_webhook_environment(
                webhook_settings,
                table_name=self._table.table_name,
                queue_url=self._webhook_queue.queue_url,
                dlq_url=self._dead_letter_queue.queue_url,
            ),
            environment_hint=_WEBHOOK_ENVIRONMENT_HINT,
            statements=webhook_statements,
        )
        self.webhook_mapping = lambda_.EventSourceMapping(
            self,
            "WebhookQueueMapping",
            target=self._webhook.function,
            event_source_arn=self._webhook_queue.queue_arn,
            batch_size=10,
            report_batch_item_failures=True,
            max_concurrency=webhook_max_concurrency,
        )
        self.webhook_mapping.node.add_dependency(self._webhook.policy)
        self.webhook_attempts = attempts
        self.webhook_retry_delays = delays

        if runtime.name == DEFAULT_RUNTIME.name and _newest_python().name != DEFAULT_RUNTIME.name:
            for fn in self._functions():
                _acknowledge_pinned_runtime(fn.function)

        # ---- HTTP API ----
        self._api = StatusApi(
            self,
            "Api",
            auth=auth,
            status_function=self._status.function,
            authorizer_function=self._authorizer.function if self._authorizer else None,
            log_retention=log_retention,
            log_removal_policy=log_removal_policy,
            throttling_rate_limit=throttling_rate_limit,
            throttling_burst_limit=throttling_burst_limit,
            cors_origins=origins,
            domain_name=domain_name,
            certificate=certificate,
            disable_execute_api_endpoint=disable_execute_api_endpoint,
        )

        # ---- observability ----
        self._monitoring: StatusMonitoring | None = None
        if monitoring:
            self._monitoring = StatusMonitoring(
                self,
                "Monitoring",
                table=self._table,
                http_api=self._api.http_api,
                functions={role: part.function for role, part in self._functions_by_role().items()},
                webhook_queue=self._webhook_queue,
                dead_letter_queue=self._dead_letter_queue,
                stream_failure_queue=queues.stream_failure_queue,
                metrics_namespace=metrics_namespace,
                thresholds=alarm_thresholds,
                alarm_topic=alarm_topic,
                dashboard=dashboard,
                webhook_retry_delays=delays,
                webhook_function_timeout=cdk.Duration.seconds(function_seconds),
            )

        self._mark_parts()

        # ---- outputs ----
        cdk.CfnOutput(self, "ApiUrl", value=self.api_url, description="Base URL of the status API")
        cdk.CfnOutput(self, "TableName", value=self._table.table_name, description="Status table")
        cdk.CfnOutput(self, "WebhookQueueUrl", value=self._webhook_queue.queue_url, description="Webhook event queue")
        cdk.CfnOutput(
            self, "DeadLetterQueueUrl", value=self._dead_letter_queue.queue_url, description="Webhooks that gave up"
        )
        cdk.CfnOutput(
            self,
            "StatusFunctionName",
            value=self._status.function.function_name,
            description="Status function, for StatusLambdaClient (direct invoke)",
        )

    # ---- parts ---------------------------------------------------------------------------------
    @property
    def table(self) -> dynamodb.ITable:
        """The status table (created here, or the one passed as ``table=``)."""
        return self._table

    @property
    def http_api(self) -> apigwv2.HttpApi:
        return self._api.http_api

    @property
    def api_url(self) -> str:
        """Base URL of the API (custom domain when configured), ending in ``/``."""
        return self._api.url

    @property
    def authorizer(self) -> apigwv2.IHttpRouteAuthorizer:
        """The authorizer every route uses."""
        return self._api.authorizer

    @property
    def status_function(self) -> lambda_.Function:
        return self._status.function

    @property
    def webhook_function(self) -> lambda_.Function:
        return self._webhook.function

    @property
    def dispatcher_function(self) -> lambda_.Function:
        return self._dispatcher.function

    @property
    def authorizer_function(self) -> lambda_.Function | None:
        """The shared-secret authorizer; ``None`` with ``StatusAuth.oidc``."""
        return self._authorizer.function if self._authorizer else None

    @property
    def webhook_queue(self) -> sqs.Queue:
        return self._webhook_queue

    @property
    def dead_letter_queue(self) -> sqs.Queue:
        return self._dead_letter_queue

    @property
    def status_log_group(self) -> logs.LogGroup:
        return self._status.log_group

    @property
    def webhook_log_group(self) -> logs.LogGroup:
        return self._webhook.log_group

    @property
    def dispatcher_log_group(self) -> logs.LogGroup:
        return self._dispatcher.log_group

    @property
    def authorizer_log_group(self) -> logs.LogGroup | None:
        return self._authorizer.log_group if self._authorizer else None

    @property
    def access_log_group(self) -> logs.LogGroup:
        """The HTTP API's access logs."""
        return self._api.access_log_group

    @property
    def log_groups(self) -> dict[str, logs.LogGroup]:
        """Every log group by role: ``status``, ``webhook``, ``dispatcher``, ``authorizer``, ``access``."""
        groups = {
            "status": self.status_log_group,
            "webhook": self.webhook_log_group,
            "dispatcher": self.dispatcher_log_group,
            "access": self.access_log_group,
        }
        if self._authorizer is not None:
            groups["authorizer"] = self._authorizer.log_group
        return groups

    @property
    def monitoring(self) -> StatusMonitoring | None:
        """The alarms and dashboard; ``None`` with ``monitoring=False``."""
        return self._monitoring

    @property
    def alarms(self) -> dict[str, cloudwatch.Alarm]:
        """Every alarm by name (``dead_letter_queue``, ``api_5xx_rate``, ...); empty without monitoring."""
        return dict(self._monitoring.alarms) if self._monitoring is not None else {}

    @property
    def dashboard(self) -> cloudwatch.Dashboard | None:
        """The CloudWatch dashboard when ``dashboard=`` asked for one."""
        return self._monitoring.dashboard if self._monitoring is not None else None

    # ---- grants --------------------------------------------------------------------------------
    def grant_status_write(self, grantee: iam.IGrantable) -> iam.Grant:
        """What a worker running ``StatusStore`` needs: item reads and writes, the user index."""
        return self._grant_table(
            grantee,
            ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:BatchGetItem"],
            ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
        )

    def grant_status_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read-only use of the table (``StatusStore.get``/``get_many``/``list_for_user``)."""
        return self._grant_table(grantee, ["dynamodb:GetItem", "dynamodb:BatchGetItem"], ["kms:Decrypt"])

    def grant_invoke_status(self, grantee: iam.IGrantable) -> iam.Grant:
        """Direct invoke of the status function (``StatusLambdaClient``). Unqualified ARN only."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["lambda:InvokeFunction"],
            resource_arns=[self._status.function.function_arn],
        )

    # ---- internals -----------------------------------------------------------------------------
    def _mark_parts(self) -> None:
        """Template metadata naming each resource's part (CONTRACTS B), read by local mode."""
        instance = self.node.addr
        parts: list[tuple[object, str]] = [
            (self._webhook_queue, "webhook-queue"),
            (self._dead_letter_queue, "dead-letter-queue"),
            (self._queues.stream_failure_queue, "stream-failure-queue"),
            (self.stream_mapping, "dispatcher-event-source"),
            (self.webhook_mapping, "webhook-event-source"),
            (self._api.http_api, "http-api"),
            (self._api.access_log_group, "access-log-group"),
        ]
        if self._owns_table:
            parts.append((self._table, "table"))
        for role, function in self._functions_by_role().items():
            parts.append((function.function, f"{role}-function"))
        stage = self._api.http_api.default_stage
        if stage is not None:
            parts.append((stage, "http-api-stage"))
        if self._api.domain is not None:
            parts.append((self._api.domain, "domain-name"))
        parts.extend(
            (child, "http-api-authorizer")
            for child in self._api.http_api.node.find_all()
            if isinstance(child, apigwv2.CfnAuthorizer)
        )
        for construct, part in parts:
            mark(construct, part, instance)  # type: ignore[arg-type]

    def _functions(self) -> list[TransflowFunction]:
        parts = [self._status, self._dispatcher, self._webhook]
        return [*parts, self._authorizer] if self._authorizer else parts

    def _functions_by_role(self) -> dict[str, TransflowFunction]:
        roles = {"status": self._status, "dispatcher": self._dispatcher, "webhook": self._webhook}
        if self._authorizer is not None:
            roles["authorizer"] = self._authorizer
        return roles

    def _read_statements(self) -> list[iam.PolicyStatement]:
        return [
            iam.PolicyStatement(
                sid="ReadItems",
                actions=["dynamodb:GetItem", "dynamodb:BatchGetItem"],
                resources=[self._table.table_arn],
            ),
            iam.PolicyStatement(sid="ListByUser", actions=["dynamodb:Query"], resources=[self._index_arn]),
        ]

    def _grant_table(self, grantee: iam.IGrantable, item_actions: list[str], key_actions: list[str]) -> iam.Grant:
        grant = iam.Grant.add_to_principal(grantee=grantee, actions=item_actions, resource_arns=[self._table.table_arn])
        grant = grant.combine(
            iam.Grant.add_to_principal(grantee=grantee, actions=["dynamodb:Query"], resource_arns=[self._index_arn])
        )
        key = self._table.encryption_key
        if key is not None:
            grant = grant.combine(
                iam.Grant.add_to_principal(grantee=grantee, actions=key_actions, resource_arns=[key.key_arn])
            )
        return grant


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


def _check_secret_separation(
    auth: StatusAuth,
    targets: Mapping[str, WebhookTarget],
    default_webhook: WebhookTarget | None,
    notify_url_secret: secretsmanager.ISecret | None,
) -> None:
    """Refuse one secret in two roles where whoever holds one role's value could abuse the other's.

    * The shared-secret JWT key mints API tokens for any user: a webhook receiver holding it
      (any target's secret, or ``notify_url_secret``) could impersonate every user.
    * ``notify_url_secret`` signs deliveries to caller-chosen URLs: if a template's or the default
      target's secret did too, that caller could replay the signatures to the template's endpoint.
    """
    webhook_roles: list[tuple[str, secretsmanager.ISecret]] = [
        (f"webhooks[{template_id!r}].secret", target.secret) for template_id, target in sorted(targets.items())
    ]
    if default_webhook is not None:
        webhook_roles.append(("default_webhook.secret", default_webhook.secret))
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


def _webhook_environment(
    settings: Mapping[str, str], *, table_name: str, queue_url: str, dlq_url: str
) -> dict[str, str]:
    """The webhook function's environment: its settings plus the names of the resources it uses."""
    return {
        schema.ENV_TABLE_NAME: table_name,
        schema.ENV_WEBHOOK_QUEUE_URL: queue_url,
        schema.ENV_WEBHOOK_DLQ_URL: dlq_url,
        **settings,
    }


def _check_webhook_environment(settings: Mapping[str, str], table_name: str, target_count: int) -> None:
    """Refuse, before any resource exists, webhook targets too many for Lambda's 4 KB environment.

    The whole ``webhooks=`` mapping travels in one variable; CloudFormation would only fail at
    deploy time. The queue URLs (and a new table's name) are not known yet and count as tokens.
    """
    environment = _webhook_environment(settings, table_name=table_name, queue_url=_UNKNOWN, dlq_url=_UNKNOWN)
    size = estimated_environment_bytes(environment)
    if size <= LAMBDA_ENVIRONMENT_LIMIT_BYTES:
        return
    config = json.loads(settings[schema.ENV_WEBHOOK_CONFIG])  # tokens are plain text inside its strings
    without_targets = dict(environment, **{schema.ENV_WEBHOOK_CONFIG: _json_with_tokens({**config, "targets": {}})})
    base = estimated_environment_bytes(without_targets)
    per_target = (size - base) / max(target_count, 1)
    fits = max(0, int((LAMBDA_ENVIRONMENT_LIMIT_BYTES - base) // per_target)) if per_target else 0
    raise ValueError(
        f"webhooks= has {target_count} targets: {schema.ENV_WEBHOOK_CONFIG} would make the webhook function's "
        f"environment about {size} bytes, over Lambda's {LAMBDA_ENVIRONMENT_LIMIT_BYTES}-byte limit for all its "
        f"variables (about {per_target:.0f} bytes per target, secret ARNs and URLs unknown at synth time counted "
        f"as {TOKEN_LENGTH_ESTIMATE} characters), so the deployment would fail; about {fits} such targets fit. "
        + _WEBHOOK_ENVIRONMENT_HINT
    )


def _json_with_tokens(value: object) -> str:
    """Compact JSON that keeps explicit ``null``s (``Stack.to_json_string`` drops them).

    Unresolved values (secret ARNs, URLs from parameters) are string tokens; CDK splices them
    into the string at synthesis. They resolve to ARNs and URLs, which need no JSON escaping.
    """
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _target_config(target: WebhookTarget) -> dict[str, str]:
    return {"url": target.url, "secret_arn": target.secret.secret_arn}


def _key_statements(sid: str, key: kms.IKey | None, actions: list[str]) -> list[iam.PolicyStatement]:
    if key is None:
        return []
    return [iam.PolicyStatement(sid=sid, actions=actions, resources=[key.key_arn])]


def _queue_send_statements(sid: str, queue: sqs.IQueue, key: kms.IKey | None) -> list[iam.PolicyStatement]:
    statements = [iam.PolicyStatement(sid=sid, actions=["sqs:SendMessage"], resources=[queue.queue_arn])]
    return statements + _key_statements(f"{sid}Key", key, ["kms:GenerateDataKey", "kms:Decrypt"])


def _secret_statements(sid: str, secrets: Sequence[secretsmanager.ISecret]) -> list[iam.PolicyStatement]:
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
            resources=[_secret_policy_arn(s) for s in unique.values()],
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


def _secret_policy_arn(secret: secretsmanager.ISecret) -> str:
    """The full ARN; for a secret imported by partial ARN, the 6-character suffix as ``??????``."""
    full = secret.secret_full_arn
    return full if full is not None else f"{secret.secret_arn}-??????"


def _newest_python() -> lambda_.Runtime:
    def version(rt: lambda_.Runtime) -> tuple[int, ...]:
        return tuple(int(part) for part in rt.name.removeprefix("python").split(".") if part.isdigit())

    pythons = [rt for rt in lambda_.Runtime.ALL if re.fullmatch(r"python\d+\.\d+", rt.name)]
    return max(pythons, key=version)


def _acknowledge_pinned_runtime(function: lambda_.Function) -> None:
    cdk.Validations.of(function).acknowledge(
        cdk.Acknowledgment(
            id="AwsSolutions-L1",
            reason=(
                f"The default runtime {DEFAULT_RUNTIME.name} is a supported, AWS-patched Lambda runtime. It is the "
                "default because it is the newest Python this project's real-import test of the bundle runs on "
                "(every handler imported with only the bundle and boto3); the bundler builds the wheels for "
                "whatever runtime is passed, so a newer one is opt-in via runtime=. This acknowledgment is only "
                "added for the default; any other non-latest runtime is reported."
            ),
        )
    )
