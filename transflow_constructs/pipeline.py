"""The webhook pipeline part: table stream -> dispatcher -> webhook queue -> webhook function -> receiver.

``WebhookPipeline`` creates the queues, both functions with their policies, and both event
source mappings, from already validated ``WebhookOptions``. Construct ids (``Webhooks``,
``DispatcherFunction``, ``StreamMapping``, ``WebhookFunction``, ``WebhookQueueMapping``) are
created directly in the ``TransflowStatus`` scope and are part of the logical id contract.
"""

from __future__ import annotations

import json

import aws_cdk as cdk
import jsii
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IConstruct
from transflow_runtime import schema
from transflow_runtime.terminal import STREAM_FILTER_PATTERNS

from ._policies import queue_consume_statements, queue_send_statements, secret_statements
from ._validation import is_unresolved
from .functions import FunctionNetwork, FunctionSettings, TransflowFunction
from .queues import WebhookQueues
from .table import TablePart
from .webhook_config import WEBHOOK_ENVIRONMENT_HINT, WebhookOptions, webhook_environment
from .webhook_network import delivery_ports, warn_unknown_ports, webhook_network

DISPATCHER_TIMEOUT = cdk.Duration.seconds(30)
#: Messages per webhook function invocation (SQS standard queue; more needs a batching window).
WEBHOOK_BATCH_SIZE = 10


@jsii.implements(lambda_.IEventSourceDlq)
class _QueueDestination:
    """``on_failure`` destination without ``SqsDlq``'s implicit grant (the policy is written explicitly)."""

    def __init__(self, queue: sqs.IQueue) -> None:
        self._queue = queue

    def bind(
        self, _target: lambda_.IEventSourceMapping, _target_handler: lambda_.IFunction
    ) -> lambda_.DlqDestinationConfig:
        return lambda_.DlqDestinationConfig(destination=self._queue.queue_arn)


class WebhookPipeline:
    """Queues, dispatcher and webhook function of one ``TransflowStatus``, created in ``scope``."""

    def __init__(
        self,
        scope: Construct,
        options: WebhookOptions,
        *,
        table: TablePart,
        settings: FunctionSettings,
    ) -> None:
        self.options = options
        key = options.queue_encryption_key
        self.queues = WebhookQueues(
            scope,
            "Webhooks",
            attempts=options.attempts,
            function_timeout=options.webhook_function_timeout,
            encryption_key=key,
            dead_letter_removal_policy=table.options.data_removal_policy,
        )
        self.webhook_queue: sqs.Queue = self.queues.queue
        self.dead_letter_queue: sqs.Queue = self.queues.dead_letter_queue
        self.stream_failure_queue: sqs.Queue = self.queues.stream_failure_queue

        # ---- table stream -> dispatcher -> webhook queue ----
        self.dispatcher = TransflowFunction(
            scope,
            "DispatcherFunction",
            settings=settings,
            handler=schema.HANDLER_DISPATCHER,
            description="Transflow: table stream -> webhook queue (terminal transitions only)",
            timeout=DISPATCHER_TIMEOUT,
            # Everything it needs comes in the stream records: no table name.
            environment={
                schema.ENV_WEBHOOK_QUEUE_URL: self.webhook_queue.queue_url,
                # Where it dead-letters stream records it cannot understand (the mapping's on-failure queue).
                schema.ENV_STREAM_FAILURE_QUEUE_URL: self.stream_failure_queue.queue_url,
            },
            statements=[
                *table.stream_statements(),
                *self.enqueue_statements(),
                *queue_send_statements("SendToStreamFailureQueue", self.stream_failure_queue, key),
            ],
        )
        self.dispatcher.add_unscoped_statement(
            "ListStreamsPolicy",
            iam.PolicyStatement(sid="ListTableStreams", actions=["dynamodb:ListStreams"], resources=["*"]),
            "dynamodb:ListStreams supports no resource-level permissions (Service Authorization Reference, "
            "Amazon DynamoDB: no resource type), so IAM evaluates it against '*' only; AWS Lambda's DynamoDB "
            "event source documents it among the execution role's required permissions (as "
            "AWSLambdaDynamoDBExecutionRole grants it). It lists stream ARNs, no data. This policy holds that "
            "one statement.",
        )
        self.stream_mapping = lambda_.EventSourceMapping(
            scope,
            "StreamMapping",
            target=self.dispatcher.function,
            event_source_arn=table.stream_arn,
            starting_position=table.starting_position(scope, options.stream_starting_position),
            batch_size=options.stream_batch_size,
            bisect_batch_on_error=True,
            retry_attempts=options.stream_retry_attempts,
            parallelization_factor=options.stream_parallelization_factor,
            # CDK range-checks max_record_age without allowing for tokens: a deploy-time age is set below.
            max_record_age=None if is_unresolved(options.stream_max_record_age) else options.stream_max_record_age,
            report_batch_item_failures=True,
            on_failure=_QueueDestination(self.stream_failure_queue),
            # Only records the dispatcher turns into a webhook invoke it (terminal.py; its own check
            # stays the authority): one invocation per assembly instead of one per write.
            filters=[{"pattern": json.dumps(p)} for p in STREAM_FILTER_PATTERNS],
        )
        if options.stream_max_record_age is not None and is_unresolved(options.stream_max_record_age):
            cfn_mapping = self.stream_mapping.node.default_child
            assert isinstance(cfn_mapping, lambda_.CfnEventSourceMapping)
            cfn_mapping.maximum_record_age_in_seconds = options.stream_max_record_age.to_seconds()
        # The mapping validates its permissions when it is created.
        self.stream_mapping.node.add_dependency(self.dispatcher.policy)

        # ---- webhook queue -> webhook function -> receivers ----
        self.network: FunctionNetwork | None = None
        if options.vpc is not None:
            ports = delivery_ports(options.configured_targets)
            warn_unknown_ports(scope, options.configured_targets, options.allow_notify_url)
            self.network = webhook_network(scope, options.vpc, options.vpc_subnets, ports)
        self.webhook = TransflowFunction(
            scope,
            "WebhookFunction",
            settings=settings,
            handler=schema.HANDLER_WEBHOOK,
            description="Transflow: signed webhook delivery with retries",
            timeout=options.webhook_function_timeout,
            environment=webhook_environment(
                options.settings(),
                table_name=table.table.table_name,
                queue_url=self.webhook_queue.queue_url,
                dlq_url=self.dead_letter_queue.queue_url,
            ),
            environment_hint=WEBHOOK_ENVIRONMENT_HINT,
            network=self.network,
            statements=[
                *table.delivery_statements(),
                *queue_consume_statements("ConsumeWebhookQueue", self.webhook_queue, key),
                *queue_send_statements("SendToDeadLetterQueue", self.dead_letter_queue, key),
                *secret_statements("ReadWebhookSecrets", options.secrets),
            ],
        )
        self.webhook_mapping = lambda_.EventSourceMapping(
            scope,
            "WebhookQueueMapping",
            target=self.webhook.function,
            event_source_arn=self.webhook_queue.queue_arn,
            batch_size=WEBHOOK_BATCH_SIZE,
            report_batch_item_failures=True,
            max_concurrency=options.max_concurrency,
        )
        self.webhook_mapping.node.add_dependency(self.webhook.policy)

    def enqueue_statements(self) -> list[iam.PolicyStatement]:
        """What a function needs to put webhook events on the queue (dispatcher; status replays)."""
        return queue_send_statements("SendToWebhookQueue", self.webhook_queue, self.options.queue_encryption_key)

    def functions(self) -> dict[str, TransflowFunction]:
        return {"dispatcher": self.dispatcher, "webhook": self.webhook}

    def parts(self) -> dict[IConstruct, str]:
        """Resources created here, by part name (``_metadata.PartMarker``)."""
        return {
            self.webhook_queue: "webhook-queue",
            self.dead_letter_queue: "dead-letter-queue",
            self.stream_failure_queue: "stream-failure-queue",
            **self.dispatcher.parts("dispatcher-function"),
            **self.webhook.parts("webhook-function"),
            self.stream_mapping: "dispatcher-event-source",
            self.webhook_mapping: "webhook-event-source",
            **{group: "webhook-security-group" for group in (self.network.security_groups if self.network else [])},
        }
