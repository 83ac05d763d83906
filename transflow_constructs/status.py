"""``TransflowStatus``: the whole job-status service as one construct (see DESIGN.md).

It composes four parts, each owning its resources, IAM and the validation of its own options:

* the table (``table.py``): the single source of truth and its stream;
* the webhook pipeline (``pipeline.py``): stream -> dispatcher -> queue -> webhook function;
* the read side (``read_side.py``): status function, authorizer, HTTP API;
* monitoring (``monitoring.py``): alarms and the optional dashboard.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from transflow_runtime import schema

from ._metadata import PartMarker, instance_id_of
from .auth import StatusAuth
from .functions import DEFAULT_LOG_RETENTION, DEFAULT_MEMORY_SIZE, DEFAULT_RUNTIME, FunctionSettings, TransflowFunction
from .monitoring import AlarmThresholds, StatusMonitoring, check_monitoring_options
from .pipeline import WebhookPipeline
from .read_side import (
    DEFAULT_STATUS_TIMEOUT,
    DEFAULT_THROTTLING_BURST_LIMIT,
    DEFAULT_THROTTLING_RATE_LIMIT,
    ReadOptions,
    ReadSide,
)
from .table import TABLE_OPTIONS, TableOptions, TablePart
from .targets.webhooks import WebhookTarget
from .webhook_config import (
    DEFAULT_STREAM_BATCH_SIZE,
    DEFAULT_STREAM_RETRY_ATTEMPTS,
    DEFAULT_WEBHOOK_FUNCTION_TIMEOUT,
    DEFAULT_WEBHOOK_MAX_CONCURRENCY,
    DEFAULT_WEBHOOK_TIMEOUT,
    WebhookOptions,
    check_secret_separation,
    retry_schedule,
)

__all__ = [
    "DEFAULT_RUNTIME",
    "DEFAULT_STREAM_RETRY_ATTEMPTS",
    "TABLE_OPTIONS",
    "TransflowStatus",
    "retry_schedule",
]


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
    :param webhook_vpc: run the webhook function in this VPC's private subnets, so deliveries
        leave through its NAT gateway's fixed addresses (the subnets must route to one: public and
        isolated subnets are refused); its security group allows TCP egress to the receivers' ports
        only, and the SSRF guard still applies. Default: none (Lambda's own network).
    :param webhook_vpc_subnets: the subnets in ``webhook_vpc``; requires it. Default: the VPC's
        private subnets with egress.

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
    :param deletion_protection: Default: on, unless ``removal_policy=DESTROY`` (with which ``True``
        is refused: the stack's deletion would fail).
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

    :param stream_starting_position: where a new or replaced stream mapping starts. Default:
        ``TRIM_HORIZON`` for a table created here (its stream starts empty), ``LATEST`` with
        ``table=`` (an existing stream holds up to 24 hours of records, all of which would be
        dispatched again).
    :param stream_retry_attempts: retries of a failing stream batch (bisected on each error)
        before its metadata goes to the stream-failure queue. Default: 10.
    :param stream_batch_size: 1-10000. Default: 100.
    :param stream_parallelization_factor: concurrent batches per shard, 1-10. Default: 1.
    :param stream_max_record_age: records older than this (60 s to 7 days) go to the
        stream-failure queue unprocessed. Default: none (retried until ``stream_retry_attempts``
        or the stream's 24-hour expiry).

    HTTP API

    :param cors_origins: origins allowed to call the API from a browser (``["https://app.example.com"]``).
        Default: CORS disabled.
    :param throttling_rate_limit: steady-state requests per second of each route (the default
        route settings apply per route, not to the stage as a whole); above API Gateway's account
        quota of 10,000 a warning is annotated. Default: 100.
    :param throttling_burst_limit: burst of each route (warned above the account's 5,000).
        Default: 200.
    :param domain_name: a custom domain name (requires ``certificate``) or an existing
        ``apigwv2.IDomainName`` (``certificate`` then refused); exposed as ``domain_name``.
        Default: none.
    :param certificate: ACM certificate for a ``domain_name`` string (same region).
    :param hosted_zone: the Route 53 zone of the domain: A and AAAA alias records are created.
        Default: none (no DNS record).
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
    :param outputs: write the stack outputs (``ApiUrl``, ``TableName``, ...). Default: ``True``.

    Numbers and strings may be deploy-time values (``CfnParameter``), except
    ``webhook_retry_delays``, ``webhook_max_attempts`` and the two webhook timeouts, from which
    the queue is sized at synth time, and ``AlarmThresholds``' durations, ``api_5xx_min_requests``
    and ``api_latency_evaluation_periods``.
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
        webhook_vpc: ec2.IVpc | None = None,
        webhook_vpc_subnets: ec2.SubnetSelection | None = None,
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
        stream_starting_position: lambda_.StartingPosition | None = None,
        stream_retry_attempts: int = DEFAULT_STREAM_RETRY_ATTEMPTS,
        stream_batch_size: int = DEFAULT_STREAM_BATCH_SIZE,
        stream_parallelization_factor: int | None = None,
        stream_max_record_age: cdk.Duration | None = None,
        cors_origins: Sequence[str] | None = None,
        throttling_rate_limit: float = DEFAULT_THROTTLING_RATE_LIMIT,
        throttling_burst_limit: int = DEFAULT_THROTTLING_BURST_LIMIT,
        domain_name: str | apigwv2.IDomainName | None = None,
        certificate: acm.ICertificate | None = None,
        hosted_zone: route53.IHostedZone | None = None,
        disable_execute_api_endpoint: bool = False,
        monitoring: bool = True,
        alarm_topic: sns.ITopic | None = None,
        alarm_thresholds: AlarmThresholds | None = None,
        dashboard: bool | str = False,
        outputs: bool = True,
    ) -> None:
        super().__init__(scope, construct_id)
        #: Identifies this instance in every metric (the ``Instance`` dimension) and log line: the
        #: deployed stack's name and this construct's path in it (unique per account and Region).
        self.instance_id = instance_id_of(self)
        # ---- every option checked, before any resource exists ----
        table_options = TableOptions(
            table=table,
            removal_policy=removal_policy,
            encryption_key=table_encryption_key,
            deletion_protection=deletion_protection,
            point_in_time_recovery=point_in_time_recovery,
        )
        webhook_options = WebhookOptions(
            webhooks=webhooks,
            default_webhook=default_webhook,
            allow_notify_url=allow_notify_url,
            notify_url_secret=notify_url_secret,
            retry_delays=webhook_retry_delays,
            max_attempts=webhook_max_attempts,
            webhook_timeout=webhook_timeout,
            webhook_function_timeout=webhook_function_timeout,
            max_concurrency=webhook_max_concurrency,
            queue_encryption_key=queue_encryption_key,
            stream_starting_position=stream_starting_position,
            stream_retry_attempts=stream_retry_attempts,
            stream_batch_size=stream_batch_size,
            stream_parallelization_factor=stream_parallelization_factor,
            stream_max_record_age=stream_max_record_age,
            vpc=webhook_vpc,
            vpc_subnets=webhook_vpc_subnets,
        )
        read_options = ReadOptions(
            auth=auth,
            user_id_claim=user_id_claim,
            cors_origins=cors_origins,
            throttling_rate_limit=throttling_rate_limit,
            throttling_burst_limit=throttling_burst_limit,
            domain_name=domain_name,
            certificate=certificate,
            hosted_zone=hosted_zone,
            disable_execute_api_endpoint=disable_execute_api_endpoint,
            status_timeout=status_timeout,
            assembly_id_pattern=assembly_id_pattern,
        )
        check_secret_separation(auth, webhook_options)
        check_monitoring_options(monitoring, alarm_topic, alarm_thresholds, dashboard, metrics_namespace)
        settings = FunctionSettings.create(
            runtime=runtime,
            architecture=architecture,
            memory_size=memory_size,
            tracing=tracing,
            log_retention=log_retention,
            log_removal_policy=log_removal_policy,
            environment={schema.ENV_METRICS_NAMESPACE: metrics_namespace, schema.INSTANCE_ID_ENV: self.instance_id},
        )
        webhook_options.check_environment(settings.environment, table_options.known_table_name)

        # ---- the architecture: table -> stream -> dispatcher -> queue -> webhooks; API -> status ----
        self._table_part = TablePart(self, table_options)
        self._pipeline = WebhookPipeline(self, webhook_options, table=self._table_part, settings=settings)
        self._read = ReadSide(
            self,
            read_options,
            table_name=self._table_part.table.table_name,
            table_statements=self._table_part.read_statements(),
            webhook_queue_url=self._pipeline.webhook_queue.queue_url,
            enqueue_statements=self._pipeline.enqueue_statements(),
            settings=settings,
        )
        self._monitoring: StatusMonitoring | None = None
        if monitoring:
            self._monitoring = StatusMonitoring(
                self,
                "Monitoring",
                table=self._table_part.table,
                http_api=self._read.api.http_api,
                functions={role: part.function for role, part in self._functions_by_role().items()},
                webhook_queue=self._pipeline.webhook_queue,
                dead_letter_queue=self._pipeline.dead_letter_queue,
                stream_failure_queue=self._pipeline.stream_failure_queue,
                metrics_namespace=metrics_namespace,
                thresholds=alarm_thresholds,
                alarm_topic=alarm_topic,
                dashboard=dashboard,
                webhook_retry_delays=webhook_options.delays,
                webhook_function_timeout=cdk.Duration.seconds(webhook_options.function_seconds),
                instance_id=self.instance_id,
            )
        if outputs:
            self._add_outputs()
        parts = {**self._table_part.parts(), **self._pipeline.parts(), **self._read.parts()}
        if self._monitoring is not None:
            parts[self._monitoring] = "monitoring"
        cdk.Aspects.of(self).add(PartMarker(self.node.addr, parts))

        # Public handles kept from earlier releases.
        self.stream_failure_queue: sqs.IQueue = self._pipeline.stream_failure_queue
        self.stream_mapping = self._pipeline.stream_mapping
        self.webhook_mapping = self._pipeline.webhook_mapping
        self.webhook_attempts = webhook_options.attempts
        self.webhook_retry_delays = webhook_options.delays

    def _add_outputs(self) -> None:
        cdk.CfnOutput(self, "ApiUrl", value=self.api_url, description="Base URL of the status API")
        cdk.CfnOutput(self, "TableName", value=self.table.table_name, description="Status table")
        cdk.CfnOutput(self, "WebhookQueueUrl", value=self.webhook_queue.queue_url, description="Webhook event queue")
        cdk.CfnOutput(
            self, "DeadLetterQueueUrl", value=self.dead_letter_queue.queue_url, description="Webhooks that gave up"
        )
        cdk.CfnOutput(
            self,
            "StatusFunctionName",
            value=self.status_function.function_name,
            description="Status function, for StatusLambdaClient (direct invoke)",
        )

    # ---- parts ---------------------------------------------------------------------------------
    @property
    def table(self) -> dynamodb.ITable:
        """The status table (created here, or the one passed as ``table=``)."""
        return self._table_part.table

    @property
    def http_api(self) -> apigwv2.HttpApi:
        return self._read.api.http_api

    @property
    def api_url(self) -> str:
        """Base URL of the API (custom domain when configured), ending in ``/``."""
        return self._read.api.url

    @property
    def domain_name(self) -> apigwv2.IDomainName | None:
        """The API's custom domain name (created here or passed as ``domain_name=``); ``None`` without one."""
        return self._read.api.domain

    @property
    def dns_records(self) -> list[route53.RecordSet]:
        """The A and AAAA alias records created in ``hosted_zone`` (empty without one)."""
        custom = self._read.api.custom_domain
        return list(custom.records) if custom is not None else []

    @property
    def authorizer(self) -> apigwv2.IHttpRouteAuthorizer:
        """The authorizer every route uses."""
        return self._read.api.authorizer

    @property
    def status_function(self) -> lambda_.Function:
        return self._read.status.function

    @property
    def webhook_function(self) -> lambda_.Function:
        return self._pipeline.webhook.function

    @property
    def dispatcher_function(self) -> lambda_.Function:
        return self._pipeline.dispatcher.function

    @property
    def authorizer_function(self) -> lambda_.Function | None:
        """The shared-secret authorizer; ``None`` with ``StatusAuth.oidc``."""
        return self._read.authorizer.function if self._read.authorizer else None

    @property
    def webhook_queue(self) -> sqs.Queue:
        return self._pipeline.webhook_queue

    @property
    def dead_letter_queue(self) -> sqs.Queue:
        return self._pipeline.dead_letter_queue

    @property
    def status_log_group(self) -> logs.LogGroup:
        return self._read.status.log_group

    @property
    def webhook_log_group(self) -> logs.LogGroup:
        return self._pipeline.webhook.log_group

    @property
    def dispatcher_log_group(self) -> logs.LogGroup:
        return self._pipeline.dispatcher.log_group

    @property
    def authorizer_log_group(self) -> logs.LogGroup | None:
        return self._read.authorizer.log_group if self._read.authorizer else None

    @property
    def access_log_group(self) -> logs.LogGroup:
        """The HTTP API's access logs."""
        return self._read.api.access_log_group

    @property
    def log_groups(self) -> dict[str, logs.LogGroup]:
        """Every log group by role: ``status``, ``webhook``, ``dispatcher``, ``authorizer``, ``access``."""
        groups = {
            "status": self.status_log_group,
            "webhook": self.webhook_log_group,
            "dispatcher": self.dispatcher_log_group,
            "access": self.access_log_group,
        }
        if self._read.authorizer is not None:
            groups["authorizer"] = self._read.authorizer.log_group
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
        return self._table_part.grant(
            grantee,
            ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:BatchGetItem"],
            ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
        )

    def grant_status_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read-only use of the table (``StatusStore.get``/``get_many``/``list_for_user``)."""
        return self._table_part.grant(grantee, ["dynamodb:GetItem", "dynamodb:BatchGetItem"], ["kms:Decrypt"])

    def grant_invoke_status(self, grantee: iam.IGrantable) -> iam.Grant:
        """Direct invoke of the status function (``StatusLambdaClient``). Unqualified ARN only."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["lambda:InvokeFunction"],
            resource_arns=[self.status_function.function_arn],
        )

    # ---- internals -----------------------------------------------------------------------------
    def _functions_by_role(self) -> dict[str, TransflowFunction]:
        """``{role: function}`` in the order monitoring lists them (status, authorizer, dispatcher, webhook)."""
        return {**self._read.functions(), **self._pipeline.functions()}
