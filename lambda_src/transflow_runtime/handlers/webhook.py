"""Webhook Lambda: deliver one SQS batch of webhook events concurrently, never losing one.

For each message (a pointer: assembly id, event, event id) the sender re-reads the item, picks
the target (the assembly's ``notify_url`` when the deployment allows it, else the template's
target, else the default), signs the body both ways and POSTs it through the SSRF guard.

* 2xx: recorded as ``delivered``; the message is deleted.
* Retryable failure before the last attempt: the message's visibility is set to the schedule's
  delay for this attempt (or ``Retry-After`` when longer, capped below SQS's 12 h limit), the
  attempt is recorded as ``retrying`` and the message is reported as a batch item failure.
* Last attempt, or a stop outcome (410, refused URL, no secret): the message is sent to the DLQ
  with its reason and recorded as ``failed``; only once the DLQ accepted it is the message
  reported as done. The queue's redrive policy is the safety net for crashes, nothing more.
* Missing assembly or no target: recorded/logged as ``skipped``; not retried.

Deliveries in one batch run in a thread pool, so one slow endpoint never delays the others, and
the partial batch response means one bad endpoint never re-sends the others' webhooks.
"""

from __future__ import annotations

import json
import math
import os
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .. import telemetry
from ..delivery import RETRY, STOP, SUCCESS, DeliveryResult, build_request, deliver
from ..errors import AssemblyNotFoundError
from ..events import dead_letter_body, parse_message
from ..netguard import NetGuard
from ..schema import (
    DEFAULT_METRICS_NAMESPACE,
    DEFAULT_WEBHOOK_RETRY_DELAYS,
    DEFAULT_WEBHOOK_TIMEOUT_SECONDS,
    ENV_METRICS_NAMESPACE,
    ENV_TABLE_NAME,
    ENV_WEBHOOK_ALLOW_HTTP,
    ENV_WEBHOOK_ALLOW_PRIVATE,
    ENV_WEBHOOK_CONFIG,
    ENV_WEBHOOK_DLQ_URL,
    ENV_WEBHOOK_QUEUE_URL,
    ENV_WEBHOOK_RETRY_DELAYS,
    ENV_WEBHOOK_TIMEOUT,
    SQS_MAX_VISIBILITY_SECONDS,
)
from ..store import StatusStore, iso_now

#: SQS counts its 12 h visibility limit from the receive, which happened before this invocation
#: (batching window + run time); stay this far below it.
VISIBILITY_MARGIN_SECONDS = 15 * 60
MAX_RETRY_DELAY_SECONDS = SQS_MAX_VISIBILITY_SECONDS - VISIBILITY_MARGIN_SECONDS
MAX_CONCURRENT_DELIVERIES = 32
SECRET_CACHE_SECONDS = 300
MAX_ATTRIBUTE_TEXT = 1000

STATUS_DELIVERED = "delivered"
STATUS_RETRYING = "retrying"
STATUS_FAILED = "failed"
STATUS_SKIPPED = "skipped"


def signing_secret_from_value(value: str) -> str:
    """The signing key in a Secrets Manager value: the string itself, or a JSON object's ``secret``."""
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("secret"), str):
        return parsed["secret"]
    return value


# ---------------------------------------------------------------------------------- configuration
@dataclass(frozen=True)
class TargetConfig:
    """Where one kind of webhook goes and how it is signed (a Secrets Manager ARN, or in local
    mode and tests the secret itself)."""

    url: str
    secret_arn: str | None = None
    secret: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, data: Any, where: str) -> TargetConfig:
        if not isinstance(data, Mapping) or not isinstance(data.get("url"), str) or not data["url"]:
            raise ValueError(f"{ENV_WEBHOOK_CONFIG}: {where} needs a non-empty 'url'")
        arn, secret = data.get("secret_arn"), data.get("secret")
        for name, value in (("secret_arn", arn), ("secret", secret)):
            if value is not None and (not isinstance(value, str) or not value):
                raise ValueError(f"{ENV_WEBHOOK_CONFIG}: {where}.{name} must be a non-empty string")
        return cls(url=data["url"], secret_arn=arn, secret=secret)


@dataclass(frozen=True)
class WebhookConfig:
    targets: Mapping[str, TargetConfig] = field(default_factory=dict)
    default: TargetConfig | None = None
    allow_notify_url: bool = False
    #: Per-assembly URLs get their own secret: signing a user-chosen URL's deliveries with a
    #: template's secret would hand that user signatures they could replay to the template's endpoint.
    notify_url_secret_arn: str | None = None
    notify_url_secret: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, text: str | None) -> WebhookConfig:
        if not text:
            return cls()
        try:
            data = json.loads(text)
        except ValueError:
            raise ValueError(f"{ENV_WEBHOOK_CONFIG} is not valid JSON") from None
        if not isinstance(data, Mapping):
            raise ValueError(f"{ENV_WEBHOOK_CONFIG} must be a JSON object")
        raw_targets = data.get("targets") or {}
        if not isinstance(raw_targets, Mapping):
            raise ValueError(f"{ENV_WEBHOOK_CONFIG}: 'targets' must be an object of template_id -> target")
        targets = {str(k): TargetConfig.parse(v, f"targets[{k!r}]") for k, v in raw_targets.items()}
        default = TargetConfig.parse(data["default"], "default") if data.get("default") else None
        return cls(
            targets=targets,
            default=default,
            allow_notify_url=bool(data.get("allow_notify_url", False)),
            notify_url_secret_arn=data.get("notify_url_secret_arn") or None,
            notify_url_secret=data.get("notify_url_secret") or None,
        )


def parse_retry_delays(text: str | None) -> tuple[int, ...]:
    """``"5,60,300"`` -> (5, 60, 300); unset means the default schedule, ``""`` means no retries.

    Values up to 12 h are accepted (a hand-set environment may hold them); ``retry_delay`` applies
    them capped at ``MAX_RETRY_DELAY_SECONDS``, the longest delay the construct accepts."""
    if text is None:
        return tuple(DEFAULT_WEBHOOK_RETRY_DELAYS)
    delays: list[int] = []
    for part in text.split(","):
        if not part.strip():
            continue
        try:
            value = int(part.strip())
        except ValueError:
            raise ValueError(f"{ENV_WEBHOOK_RETRY_DELAYS}: {part.strip()!r} is not a whole number of seconds") from None
        if not 0 <= value <= SQS_MAX_VISIBILITY_SECONDS:
            raise ValueError(
                f"{ENV_WEBHOOK_RETRY_DELAYS}: {value} must be between 0 and {SQS_MAX_VISIBILITY_SECONDS} seconds "
                "(SQS's 12 h visibility limit)"
            )
        delays.append(value)
    return tuple(delays)


@dataclass(frozen=True)
class WebhookSettings:
    """Everything the sender reads from its environment, validated once."""

    table_name: str
    config: WebhookConfig = field(default_factory=WebhookConfig)
    retry_delays: tuple[int, ...] = tuple(DEFAULT_WEBHOOK_RETRY_DELAYS)
    timeout: float = float(DEFAULT_WEBHOOK_TIMEOUT_SECONDS)
    dlq_url: str | None = None
    queue_url: str | None = None
    allow_private: tuple[str, ...] = ()
    allow_http: bool = False
    metrics_namespace: str = DEFAULT_METRICS_NAMESPACE

    @property
    def max_attempts(self) -> int:
        return len(self.retry_delays) + 1

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WebhookSettings:
        env = os.environ if env is None else env
        table = env.get(ENV_TABLE_NAME)
        if not table:
            raise ValueError(f"{ENV_TABLE_NAME} is not set")
        timeout_text = env.get(ENV_WEBHOOK_TIMEOUT) or str(DEFAULT_WEBHOOK_TIMEOUT_SECONDS)
        try:
            timeout = float(timeout_text)
        except ValueError:
            raise ValueError(f"{ENV_WEBHOOK_TIMEOUT}: {timeout_text!r} is not a number of seconds") from None
        if not 0 < timeout <= 900:
            raise ValueError(f"{ENV_WEBHOOK_TIMEOUT} must be between 0 and 900 seconds")
        return cls(
            table_name=table,
            config=WebhookConfig.parse(env.get(ENV_WEBHOOK_CONFIG)),
            retry_delays=parse_retry_delays(env.get(ENV_WEBHOOK_RETRY_DELAYS)),
            timeout=timeout,
            dlq_url=env.get(ENV_WEBHOOK_DLQ_URL) or None,
            queue_url=env.get(ENV_WEBHOOK_QUEUE_URL) or None,
            allow_private=tuple(e.strip() for e in (env.get(ENV_WEBHOOK_ALLOW_PRIVATE) or "").split(",") if e.strip()),
            allow_http=(env.get(ENV_WEBHOOK_ALLOW_HTTP) or "").strip().lower() in ("1", "true", "yes"),
            metrics_namespace=env.get(ENV_METRICS_NAMESPACE) or DEFAULT_METRICS_NAMESPACE,
        )


@dataclass(frozen=True)
class ResolvedTarget:
    url: str
    source: str  # "notify_url" | "template" | "default"
    secret_arn: str | None = None
    secret: str | None = field(default=None, repr=False)


# ---------------------------------------------------------------------------------- logging
def _log(level: str, message: str, **fields: Any) -> None:
    telemetry.write({"level": level, "message": message, "component": "webhook", **fields})


def _text(value: Any, limit: int = MAX_ATTRIBUTE_TEXT) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------------- the sender
class WebhookSender:
    """Delivers SQS batches of webhook events. One per process (clients and secrets are cached).

    Clients default to ``boto3.client(...)`` (so ``AWS_ENDPOINT_URL`` applies); local mode and
    tests pass their own. ``ssl_context`` lets tests trust their own CA.
    """

    def __init__(
        self,
        settings: WebhookSettings,
        *,
        dynamodb: Any = None,
        sqs: Any = None,
        secretsmanager: Any = None,
        guard: NetGuard | None = None,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        max_workers: int = MAX_CONCURRENT_DELIVERIES,
    ) -> None:
        self.settings = settings
        self._clients: dict[str, Any] = {"dynamodb": dynamodb, "sqs": sqs, "secretsmanager": secretsmanager}
        self._client_lock = threading.Lock()
        self.store = StatusStore(settings.table_name, client=self._client("dynamodb"), ttl_days=None)
        self.guard = guard or NetGuard(settings.allow_private, allow_http=settings.allow_http)
        self.ssl_context = ssl_context
        self.clock = clock
        #: Ages cached secrets (tests inject one to step past ``SECRET_CACHE_SECONDS``).
        self.monotonic = monotonic
        self.max_workers = max(1, max_workers)
        self._secrets: dict[str, tuple[str, float]] = {}
        self._secret_lock = threading.Lock()
        self._queue_urls: dict[str, str] = {}

    # ------------------------------------------------------------------ batch
    def process_batch(self, records: Sequence[Any]) -> dict[str, list[dict[str, str]]]:
        """Deliver every record concurrently; the SQS partial batch response for those to retry.

        A record that is not an SQS message (not an object, no ``messageId``, a body or attributes
        of the wrong type) can never succeed: it is logged and dead-lettered with the reason. Only
        if that fails is it reported, and only when it has a ``messageId`` to report (Lambda fails
        the whole batch for an item identifier that is empty or not in it).
        """
        if not records:
            return {"batchItemFailures": []}
        workers = min(len(records), self.max_workers)
        if workers == 1:
            done = [self._process_safely(records[0])]
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="webhook") as pool:
                done = list(pool.map(self._process_safely, records))
        failed: list[str] = []
        for record, ok in zip(records, done, strict=True):
            if ok:
                continue
            message_id = _message_id(record)
            if message_id is None:
                _log("error", "a record without a messageId failed and cannot be reported for a retry")
            else:
                failed.append(message_id)
        return {"batchItemFailures": [{"itemIdentifier": m} for m in dict.fromkeys(failed)]}

    def _process_safely(self, record: Any) -> bool:
        try:
            problem = _record_problem(record)
            if problem is not None:
                _log("error", "malformed SQS record", reason=problem, message_id=_message_id(record))
                return self._dead_letter(record, None, 1, f"malformed SQS record: {problem}", None)
            return self.process_record(record)
        except Exception as exc:  # one message's bug must not fail its batch-mates
            _log("error", "webhook message processing failed; SQS will redeliver it",
                 message_id=_message_id(record), error=f"{type(exc).__name__}: {_text(exc, 300)}")
            return False

    # ------------------------------------------------------------------ one message
    def process_record(self, record: Mapping[str, Any]) -> bool:
        """Handle one SQS record; True when SQS may delete it, False to have it retried."""
        attempt = _attempt(record)
        try:
            message = parse_message(record.get("body"))  # type: ignore[arg-type]
        except ValueError as exc:
            return self._dead_letter(record, None, attempt, f"malformed webhook message: {exc}", None)
        aid, event, event_id = message["assembly_id"], message["event"], message["event_id"]
        ctx = {"assembly_id": aid, "event": event, "event_id": event_id, "attempt": attempt,
               "message_id": record.get("messageId")}
        try:
            item = self.store.get_item(aid, consistent=True)
        except ValueError as exc:  # an id the store rejects cannot exist
            self._metric_log("skipped", ctx, reason=str(exc))
            return True
        if item is None:
            self._metric_log("skipped", ctx, reason="assembly not found (deleted or never created)")
            return True
        target = self.resolve_target(item)
        if target is None:
            reason = f"no webhook target configured for template {item.get('template_id')!r}"
            self._record(aid, {
                "notify_status": STATUS_SKIPPED, "notify_error": reason, "notify_event_id": event_id,
                "notify_response_code": None, "notify_duration": None, "notify_attempts": attempt,
            })
            self._metric_log("skipped", ctx, reason=reason)
            return True
        result = self._attempt_delivery(item, target, event, event_id)
        return self._conclude(record, message, attempt, target, result, ctx)

    def resolve_target(self, item: Mapping[str, Any]) -> ResolvedTarget | None:
        """notify_url (when allowed) > the template's target > the default target > none."""
        config = self.settings.config
        notify_url = item.get("notify_url")
        if notify_url and config.allow_notify_url:
            return ResolvedTarget(str(notify_url), "notify_url", config.notify_url_secret_arn, config.notify_url_secret)
        chosen = config.targets.get(str(item.get("template_id")))
        source = "template"
        if chosen is None:
            chosen, source = config.default, "default"
        if chosen is None:
            return None
        return ResolvedTarget(chosen.url, source, chosen.secret_arn, chosen.secret)

    def _attempt_delivery(
        self, item: Mapping[str, Any], target: ResolvedTarget, event: str, event_id: str
    ) -> DeliveryResult:
        if target.secret is None and target.secret_arn is None:
            return DeliveryResult(STOP, error=f"no signing secret configured for the {target.source} target")
        try:
            secret = target.secret if target.secret is not None else self.secret(target.secret_arn or "")
        except Exception as exc:
            # Secrets Manager throttling or an outage: worth another try on the schedule.
            return DeliveryResult(RETRY, error=f"could not read the signing secret: {type(exc).__name__}")
        try:
            body, headers = build_request(item, secret, event_id=event_id, event=event, timestamp=int(self.clock()))
            return deliver(
                target.url, body, headers, guard=self.guard, timeout=self.settings.timeout, ssl_context=self.ssl_context
            )
        except Exception as exc:
            # A bug or an input no retry will fix (e.g. an item the serializer refuses): stop and
            # dead-letter with the reason instead of crashing the batch into the redrive policy.
            return DeliveryResult(STOP, error=f"delivery failed unexpectedly: {type(exc).__name__}: {exc}"[:500])

    def retry_delay(self, attempt: int, retry_after: float | None) -> int:
        """Seconds until the next attempt: the schedule's, or ``Retry-After`` when longer; capped."""
        delays = self.settings.retry_delays
        delay = delays[min(max(attempt, 1), len(delays)) - 1] if delays else 0
        if retry_after is not None and retry_after > delay:
            delay = math.ceil(retry_after)
        return int(min(delay, MAX_RETRY_DELAY_SECONDS))

    def _conclude(
        self,
        record: Mapping[str, Any],
        message: Mapping[str, str],
        attempt: int,
        target: ResolvedTarget,
        result: DeliveryResult,
        ctx: dict[str, Any],
    ) -> bool:
        aid, event_id = message["assembly_id"], message["event_id"]
        fields: dict[str, Any] = {
            "notify_response_code": result.status_code,
            "notify_duration": result.duration,
            "notify_attempts": attempt,
            "notify_event_id": event_id,
        }
        extra = {"target": result.target, "target_source": target.source, "response_code": result.status_code,
                 "duration_ms": round(result.duration * 1000, 1)}
        if result.outcome == SUCCESS:
            self._record(aid, {**fields, "notify_status": STATUS_DELIVERED, "notify_error": None,
                               "notify_delivered_at": iso_now(self.clock()), "notify_next_attempt_at": None})
            self._metric_log(STATUS_DELIVERED, ctx, latency=result.duration, **extra)
            return True
        if result.outcome == RETRY and attempt < self.settings.max_attempts:
            delay = self.retry_delay(attempt, result.retry_after)
            self._set_visibility(record, delay, ctx)
            self._record(aid, {**fields, "notify_status": STATUS_RETRYING, "notify_error": result.error,
                               "notify_next_attempt_at": iso_now(self.clock() + delay)})
            self._metric_log(STATUS_RETRYING, ctx, latency=result.duration, error=result.error,
                             retry_in_seconds=delay, retry_after=result.retry_after, **extra)
            return False
        if result.outcome == STOP:
            reason = f"stopped: {result.error}"
        else:
            reason = f"gave up after {attempt} attempt{'s' if attempt != 1 else ''}: {result.error}"
        if not self._dead_letter(record, message, attempt, reason, result):
            return False
        self._record(aid, {**fields, "notify_status": STATUS_FAILED, "notify_error": reason,
                           "notify_next_attempt_at": None})
        self._metric_log(STATUS_FAILED, ctx, latency=result.duration, error=reason, **extra)
        return True

    # ------------------------------------------------------------------ AWS side effects
    def _client(self, name: str) -> Any:
        with self._client_lock:
            client = self._clients.get(name)
            if client is None:
                import boto3
                from botocore.config import Config

                client = boto3.client(
                    name,  # type: ignore[call-overload]
                    config=Config(retries={"mode": "standard"}, max_pool_connections=MAX_CONCURRENT_DELIVERIES + 4),
                )
                self._clients[name] = client
            return client

    def secret(self, arn: str) -> str:
        """The secret value for ``arn`` (cached for five minutes so rotations are picked up)."""
        now = self.monotonic()
        with self._secret_lock:
            cached = self._secrets.get(arn)
            if cached and now - cached[1] < SECRET_CACHE_SECONDS:
                return cached[0]
        response = self._client("secretsmanager").get_secret_value(SecretId=arn)
        value = response.get("SecretString")
        if value is None:
            value = response["SecretBinary"].decode("utf-8")
        value = signing_secret_from_value(value)
        if not value:
            raise ValueError(f"secret {arn} is empty")
        with self._secret_lock:
            self._secrets[arn] = (value, now)
        return value

    def _queue_url(self, record: Mapping[str, Any]) -> str | None:
        if self.settings.queue_url:
            return self.settings.queue_url
        arn = str(record.get("eventSourceARN") or "")
        parts = arn.split(":")
        if len(parts) != 6:
            return None
        if arn not in self._queue_urls:
            response = self._client("sqs").get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])
            self._queue_urls[arn] = response["QueueUrl"]
        return self._queue_urls[arn]

    def _set_visibility(self, record: Mapping[str, Any], delay: int, ctx: Mapping[str, Any]) -> None:
        try:
            queue_url = self._queue_url(record)
            if queue_url is None:
                raise ValueError("no queue URL: set TRANSFLOW_WEBHOOK_QUEUE_URL")
            self._client("sqs").change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=delay
            )
        except Exception as exc:
            _log("warning", "could not set the retry delay; the queue's visibility timeout applies instead",
                 **ctx, error=f"{type(exc).__name__}: {_text(exc, 300)}")

    def _dead_letter(
        self,
        record: Mapping[str, Any],
        message: Mapping[str, str] | None,
        attempt: int,
        reason: str,
        result: DeliveryResult | None,
    ) -> bool:
        """Move a message to the DLQ with its reason. False (keep the message) if that failed."""
        details = {
            "reason": reason,
            "attempts": attempt,
            "last_response_code": result.status_code if result else None,
            "last_error": result.error if result else None,
            "target": result.target if result else None,
            "failed_at": iso_now(self.clock()),
            "source_message_id": _message_id(record),
        }
        if message is not None:
            # The original pointer stays at the top level, so a DLQ redrive back to the webhook
            # queue is a valid message again (delivered anew, attempts counted from one).
            envelope: dict[str, Any] = {**message, "dead_letter": details}
        elif isinstance(record, Mapping) and isinstance(record.get("body"), str):
            envelope = {"original_body": record.get("body"), "dead_letter": details}
        else:  # not an SQS message at all: keep what there is, as JSON where it can be
            envelope = {"original_record": record, "dead_letter": details}
        attributes: dict[str, Any] = {
            "reason": {"DataType": "String", "StringValue": _text(reason, 256)},
            "attempts": {"DataType": "Number", "StringValue": str(attempt)},
        }
        if result is not None and result.status_code is not None:
            attributes["last_response_code"] = {"DataType": "Number", "StringValue": str(result.status_code)}
        if message is not None:
            attributes["event_id"] = {"DataType": "String", "StringValue": message["event_id"]}
            attributes["assembly_id"] = {"DataType": "String", "StringValue": _text(message["assembly_id"], 256)}
        ctx = {k: message[k] for k in ("assembly_id", "event", "event_id")} if message else {}
        if not self.settings.dlq_url:
            _log("error", "no dead-letter queue configured (TRANSFLOW_WEBHOOK_DLQ_URL); the message stays queued",
                 **ctx, reason=reason)
            return False
        try:
            self._client("sqs").send_message(
                QueueUrl=self.settings.dlq_url,
                MessageBody=dead_letter_body(envelope, "original_record" if "original_record" in envelope
                                             else "original_body"),
                MessageAttributes=attributes,
            )
        except Exception as exc:
            _log("error", "could not send to the dead-letter queue; SQS will redeliver the message",
                 **ctx, reason=reason, error=f"{type(exc).__name__}: {_text(exc, 300)}")
            return False
        if message is None:
            self._metric_log(STATUS_FAILED, {"message_id": _message_id(record), "attempt": attempt}, error=reason)
        return True

    def _record(self, assembly_id: str, fields: Mapping[str, Any]) -> None:
        """Write notify_* bookkeeping; never lets a bookkeeping failure change the delivery outcome."""
        try:
            self.store.record_notification(assembly_id, fields)
        except AssemblyNotFoundError:
            pass
        except Exception as exc:
            _log("warning", "could not record the notification on the item", assembly_id=assembly_id,
                 error=f"{type(exc).__name__}: {_text(exc, 300)}")

    def _metric_log(self, outcome: str, ctx: Mapping[str, Any], *, latency: float | None = None, **fields: Any) -> None:
        """One structured log line that is also an EMF metric document (deliveries by outcome, latency)."""
        metrics: dict[str, float] = {"WebhookDeliveries": 1}
        if latency is not None:
            metrics["WebhookDeliveryLatency"] = round(latency * 1000, 1)
        telemetry.write(
            telemetry.metric_record(
                self.settings.metrics_namespace,
                metrics,
                dimensions={"Outcome": outcome},
                units={"WebhookDeliveryLatency": "Milliseconds"},
                level="info" if outcome in (STATUS_DELIVERED, STATUS_RETRYING, STATUS_SKIPPED) else "error",
                message=f"webhook {outcome}",
                component="webhook",
                **ctx,
                **{k: v for k, v in fields.items() if v is not None},
            )
        )


def _message_id(record: Any) -> str | None:
    message_id = record.get("messageId") if isinstance(record, Mapping) else None
    return message_id if isinstance(message_id, str) and message_id else None


def _record_problem(record: Any) -> str | None:
    """Why ``record`` is not an SQS message this handler can process, or ``None``.

    The shape is the SQS event's (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html).
    """
    if not isinstance(record, Mapping):
        return f"the record is a {type(record).__name__}, not an object"
    if _message_id(record) is None:
        return "messageId is missing or not a non-empty string"
    if not isinstance(record.get("body"), str):
        return "body is missing or not a string"
    if not isinstance(record.get("receiptHandle"), str) or not record["receiptHandle"]:
        return "receiptHandle is missing or not a non-empty string"
    attributes = record.get("attributes", {})
    if not isinstance(attributes, Mapping):
        return "attributes is not an object"
    count = attributes.get("ApproximateReceiveCount", "1")
    if not isinstance(count, str) or not count.isdigit() or int(count) < 1:
        return f"attributes.ApproximateReceiveCount is {str(count)[:32]!r}, not a positive whole number"
    if not isinstance(record.get("messageAttributes", {}), Mapping):
        return "messageAttributes is not an object"
    return None


def _attempt(record: Mapping[str, Any]) -> int:
    try:
        return max(1, int((record.get("attributes") or {}).get("ApproximateReceiveCount", 1)))
    except (TypeError, ValueError):
        return 1


# ---------------------------------------------------------------------------------- entry point
_cached: tuple[tuple[str | None, ...], WebhookSender] | None = None
_ENV_KEYS = (
    ENV_TABLE_NAME, ENV_WEBHOOK_CONFIG, ENV_WEBHOOK_RETRY_DELAYS, ENV_WEBHOOK_TIMEOUT, ENV_WEBHOOK_DLQ_URL,
    ENV_WEBHOOK_QUEUE_URL, ENV_WEBHOOK_ALLOW_PRIVATE, ENV_WEBHOOK_ALLOW_HTTP, ENV_METRICS_NAMESPACE,
    "AWS_ENDPOINT_URL",
)


def sender_from_env() -> WebhookSender:
    """The process's sender, rebuilt only when its environment changes (tests, local mode)."""
    global _cached
    key = tuple(os.environ.get(k) for k in _ENV_KEYS)
    if _cached is None or _cached[0] != key:
        _cached = (key, WebhookSender(WebhookSettings.from_env()))
    return _cached[1]


def handler(event: Any, context: Any = None) -> dict[str, list[dict[str, str]]]:
    """Lambda entry point for the webhook queue (``ReportBatchItemFailures`` enabled)."""
    records = event.get("Records") if isinstance(event, Mapping) else None
    if not isinstance(records, list):
        if records is not None or not isinstance(event, Mapping):
            _log("error", "the event is not an SQS batch ({'Records': [...]}); nothing to deliver",
                 event_type=type(event).__name__)
        records = []
    return sender_from_env().process_batch(records)
