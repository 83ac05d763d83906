"""Names shared by the runtime and the CDK construct.

The construct provisions what the runtime expects, so both import these constants from here;
renaming one without the other would deploy a table the store cannot read.
This module must stay import-free (it is on the Lambda cold-start path).
"""

from __future__ import annotations

# --- DynamoDB table ---------------------------------------------------------------------------
PARTITION_KEY = "assembly_id"
#: Top-level copy of ``user.userId``: GSI keys cannot be nested attributes.
USER_ID_ATTRIBUTE = "user_id"
CREATED_AT_ATTRIBUTE = "created_at"
USER_INDEX_NAME = "by-user-created"
TTL_ATTRIBUTE = "ttl"
#: Monotonic write counter; the HTTP API derives its ETag from it.
VERSION_ATTRIBUTE = "version"
#: Epoch seconds of ``execution_start``, so ``execution_duration`` can be computed in one
#: atomic update expression instead of a read-modify-write.
START_EPOCH_ATTRIBUTE = "execution_start_epoch"

#: Idempotency tokens of recent writes (string sets), one attribute per time window in rotation:
#: a write retried after a lost response finds its token and is recognised as already applied.
WRITE_TOKEN_ATTRIBUTES = ("write_tokens_0", "write_tokens_1", "write_tokens_2", "write_tokens_3")

#: Attributes the store keeps for itself; they never appear in API responses or webhooks.
INTERNAL_ATTRIBUTES = frozenset({USER_ID_ATTRIBUTE, START_EPOCH_ATTRIBUTE, *WRITE_TOKEN_ATTRIBUTES})

# --- States -----------------------------------------------------------------------------------
OK_COMPLETED = "ASSEMBLY_COMPLETED"
OK_CANCELED = "ASSEMBLY_CANCELED"
#: The only values ``ok`` may ever hold: seed clients stop polling on any truthy ``ok``.
TERMINAL_OK_VALUES = frozenset({OK_COMPLETED, OK_CANCELED})

STATE_QUEUED = "ASSEMBLY_QUEUED"
STATE_UPLOADING = "ASSEMBLY_UPLOADING"
STATE_EXECUTING = "ASSEMBLY_EXECUTING"
STATE_COMPLETED = "ASSEMBLY_COMPLETED"
STATE_FAILED = "ASSEMBLY_FAILED"
STATE_CANCELED = "ASSEMBLY_CANCELED"
ACTIVE_STATES = frozenset({STATE_QUEUED, STATE_UPLOADING, STATE_EXECUTING})
TERMINAL_STATES = frozenset({STATE_COMPLETED, STATE_FAILED, STATE_CANCELED})

# --- Webhook events ---------------------------------------------------------------------------
EVENT_COMPLETED = "completed"
EVENT_FAILED = "failed"
EVENT_CANCELED = "canceled"
EVENT_REPLAY = "replay"
EVENT_FOR_STATE = {
    STATE_COMPLETED: EVENT_COMPLETED,
    STATE_FAILED: EVENT_FAILED,
    STATE_CANCELED: EVENT_CANCELED,
}

# --- Lambda environment variables (names/ARNs only, never secret values) ----------------------
ENV_TABLE_NAME = "TRANSFLOW_TABLE_NAME"
ENV_WEBHOOK_QUEUE_URL = "TRANSFLOW_WEBHOOK_QUEUE_URL"
#: The webhook handler moves a message here itself after its last attempt, with the reason.
ENV_WEBHOOK_DLQ_URL = "TRANSFLOW_WEBHOOK_DLQ_URL"
#: The dispatcher dead-letters stream records it cannot understand here, with the reason (the
#: stream mapping's on-failure queue, where Lambda also reports batches it gave up on).
ENV_STREAM_FAILURE_QUEUE_URL = "TRANSFLOW_STREAM_FAILURE_QUEUE_URL"
ENV_USER_ID_CLAIM = "TRANSFLOW_USER_ID_CLAIM"
ENV_ASSEMBLY_ID_PATTERN = "TRANSFLOW_ASSEMBLY_ID_PATTERN"
ENV_JWT_SECRET_ARN = "TRANSFLOW_JWT_SECRET_ARN"  # noqa: S105 - a variable name, not a secret
ENV_JWT_ISSUER = "TRANSFLOW_JWT_ISSUER"
ENV_JWT_AUDIENCE = "TRANSFLOW_JWT_AUDIENCE"
#: JSON: {"targets": {template_id: {"url", "secret_arn"}}, "default": {"url", "secret_arn"} | null,
#:        "allow_notify_url": bool, "notify_url_secret_arn": str | null}
ENV_WEBHOOK_CONFIG = "TRANSFLOW_WEBHOOK_CONFIG"
#: Comma-separated seconds between attempts, e.g. "5,60,300,1800,7200,18000,36000".
ENV_WEBHOOK_RETRY_DELAYS = "TRANSFLOW_WEBHOOK_RETRY_DELAYS"
ENV_WEBHOOK_TIMEOUT = "TRANSFLOW_WEBHOOK_TIMEOUT_SECONDS"
#: Comma-separated CIDRs or hostnames that may be private (local mode and tests only).
ENV_WEBHOOK_ALLOW_PRIVATE = "TRANSFLOW_WEBHOOK_ALLOW_PRIVATE"
ENV_WEBHOOK_ALLOW_HTTP = "TRANSFLOW_WEBHOOK_ALLOW_HTTP"
ENV_METRICS_NAMESPACE = "TRANSFLOW_METRICS_NAMESPACE"
#: Which ``TransflowStatus`` a function belongs to (set by the construct on every function):
#: every metric carries it as the ``Instance`` dimension and every log line as a field, so two
#: instances in one account (a dev and a prod stack) never feed each other's alarms.
INSTANCE_ID_ENV = "TRANSFLOW_INSTANCE_ID"

DEFAULT_METRICS_NAMESPACE = "Transflow"
DEFAULT_USER_ID_CLAIM = "sub"
#: Ids from ``assembly_id()`` are 64 lowercase hex characters.
DEFAULT_ASSEMBLY_ID_PATTERN = r"^[0-9a-f]{64}$"
#: Seconds between webhook attempts; spans > 24 h, each under SQS's 12 h visibility limit.
DEFAULT_WEBHOOK_RETRY_DELAYS = (5, 60, 300, 1800, 7200, 18000, 36000, 36000)
DEFAULT_WEBHOOK_TIMEOUT_SECONDS = 15
SQS_MAX_VISIBILITY_SECONDS = 12 * 60 * 60
#: Receives beyond the last attempt before the queue's redrive policy dead-letters a message. The
#: webhook handler dead-letters after its last attempt itself (with the reason); this margin only
#: catches messages the handler could not process at all (crashes, timeouts).
WEBHOOK_RECEIVE_SAFETY_MARGIN = 3
#: Retries of a failing table-stream batch before its records go to the stream-failure queue
#: (the construct's event source mapping and local mode's stream pump both use it).
DEFAULT_STREAM_RETRY_ATTEMPTS = 10

# --- Lambda handlers (the construct points functions at these) --------------------------------
HANDLER_STATUS = "transflow_runtime.handlers.status.handler"
HANDLER_AUTHORIZER = "transflow_runtime.handlers.authorizer.handler"
HANDLER_WEBHOOK = "transflow_runtime.handlers.webhook.handler"
HANDLER_DISPATCHER = "transflow_runtime.handlers.dispatcher.handler"

# --- Authorizer -> status handler ---------------------------------------------------------------
#: Key of the user id in the shared-secret authorizer's context
#: (``requestContext.authorizer.lambda.userId`` in payload format 2.0).
AUTHORIZER_CONTEXT_USER_KEY = "userId"

#: The longest user id anywhere (token claim, authorizer context, direct-invoke ``userId``), in
#: bytes of UTF-8: the authorizer and the status function apply this one limit.
MAX_USER_ID_BYTES = 1024


def user_id_problem(value: object) -> str | None:
    """Why ``value`` cannot be a user id, or None when it can.

    A user id is a string (RFC 7519 makes ``sub`` a StringOrURI: a number or anything else is
    refused, never converted), not blank, valid UTF-8 and at most ``MAX_USER_ID_BYTES`` bytes.
    """
    if not isinstance(value, str):
        return "is not a string"
    if not value.strip():
        return "is empty"
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        return "is not valid UTF-8"
    if size > MAX_USER_ID_BYTES:
        return f"is longer than {MAX_USER_ID_BYTES} bytes of UTF-8"
    return None

# --- HTTP API -----------------------------------------------------------------------------------
SIGNATURE_HEADER = "X-Transflow-Signature"
#: (method, path) of every route; the construct creates them and local mode emulates them.
ROUTES = (
    ("GET", "/status"),
    ("GET", "/assemblies/{assemblyId}"),
    ("POST", "/status/batch"),
    ("GET", "/assemblies"),
    ("POST", "/assemblies/{assemblyId}/notify"),
)

# --- CloudWatch embedded metrics ----------------------------------------------------------------
# The handlers emit them; the construct's alarms and dashboard read them.
#: Dimension (and log field) naming the instance, from ``INSTANCE_ID_ENV``; first in every
#: metric's dimension set when the variable is set.
METRIC_INSTANCE_DIMENSION = "Instance"
#: Status handler: one count per status check, by result (found, not_found, forbidden, ...).
METRIC_STATUS_CHECKS = "StatusChecks"
METRIC_STATUS_CHECKS_DIMENSION = "Result"
#: Shared-secret authorizer: one count per decision, by result (allowed, expired, bad_signature, ...).
METRIC_AUTHORIZER_DECISIONS = "AuthorizerDecisions"
METRIC_AUTHORIZER_DECISIONS_DIMENSION = "Result"
#: Webhook handler: one count per delivery outcome, and the attempt's latency in milliseconds.
METRIC_WEBHOOK_DELIVERIES = "WebhookDeliveries"
METRIC_WEBHOOK_LATENCY = "WebhookDeliveryLatency"
METRIC_WEBHOOK_DIMENSION = "Outcome"
WEBHOOK_OUTCOME_DELIVERED = "delivered"
WEBHOOK_OUTCOME_RETRYING = "retrying"
WEBHOOK_OUTCOME_FAILED = "failed"
WEBHOOK_OUTCOME_SKIPPED = "skipped"
#: Stream dispatcher: webhook events queued per stream batch, and those it could not queue.
METRIC_WEBHOOK_EVENTS_QUEUED = "WebhookEventsQueued"
METRIC_WEBHOOK_ENQUEUE_FAILURES = "WebhookEnqueueFailures"
WEBHOOK_OUTCOMES = (
    WEBHOOK_OUTCOME_DELIVERED,
    WEBHOOK_OUTCOME_RETRYING,
    WEBHOOK_OUTCOME_FAILED,
    WEBHOOK_OUTCOME_SKIPPED,
)
