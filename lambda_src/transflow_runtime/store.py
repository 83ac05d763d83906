"""``StatusStore``: the only writer of status items, and their typed reader.

Every write is one DynamoDB call with a condition: progress and results use atomic update
expressions (concurrent workers lose nothing), terminal states are final, and creating an id
owned by someone else fails instead of overwriting. Webhooks are not sent from here: the table's
stream drives them, so a worker that dies right after its write still produces its webhook.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

# The pydantic-free read helpers live in ``dynamo`` (the status Lambda imports them without
# pydantic); they are re-exported here for existing callers.
from .dynamo import (  # noqa: F401
    BATCH_GET_LIMIT,
    batch_get_items,
    decode_cursor,
    deserialize_item,
    encode_cursor,
    iso_now,
    item_owner,
    query_user_items,
)
from .errors import (
    AssemblyConflictError,
    AssemblyNotFoundError,
    AssemblyTerminalError,
    ItemTooLargeError,
    StoreError,
)
from .schema import (
    ACTIVE_STATES,
    EVENT_FOR_STATE,
    OK_CANCELED,
    OK_COMPLETED,
    PARTITION_KEY,
    START_EPOCH_ATTRIBUTE,
    STATE_CANCELED,
    STATE_COMPLETED,
    STATE_EXECUTING,
    STATE_FAILED,
    STATE_QUEUED,
    TERMINAL_STATES,
    TTL_ATTRIBUTE,
    USER_ID_ATTRIBUTE,
    VERSION_ATTRIBUTE,
)
from .terminal import terminal_condition, terminal_event
from .validation import check_fields, check_value, non_empty_text, non_negative_int, text
from .writes import Update, WriteToken, approx_size, error_code, error_response, serialize_value  # noqa: F401 - re-exported

if TYPE_CHECKING:  # pragma: no cover
    from .models import AssemblyStatus, Result, Upload

MAX_ITEM_BYTES = 400 * 1024
#: Attributes only the store's own calls may write (``fields=``/``extra=`` may not).
_MANAGED_FIELDS = frozenset({
    PARTITION_KEY, USER_ID_ATTRIBUTE, "user", "template_id", "ok", "error", "state", "created_at", "updated_at",
    VERSION_ATTRIBUTE, START_EPOCH_ATTRIBUTE, TTL_ATTRIBUTE, "results", "execution_start", "execution_duration",
    "bytes_usage", "last_job_completed", "uploads",
})
MAX_ID_LENGTH = 256
_STATE_FOR_EVENT = {event: state for state, event in EVENT_FOR_STATE.items()}


def _terminal_state(item: Mapping[str, Any]) -> str:
    """The terminal state an item is in, also when a seed-style writer left ``state`` out."""
    state = item.get("state")
    if state in TERMINAL_STATES:
        return str(state)
    return _STATE_FOR_EVENT.get(terminal_event(item) or "", str(state))


def _check_id(assembly_id: str) -> str:
    if not isinstance(assembly_id, str) or not assembly_id:
        raise ValueError("assembly_id must be a non-empty string")
    if len(assembly_id) > MAX_ID_LENGTH:
        raise ValueError(f"assembly_id is longer than {MAX_ID_LENGTH} characters")
    return assembly_id


def _models() -> Any:
    """The pydantic models, imported on first use: the webhook function uses this store only for
    raw reads and ``notify_*`` records, and pydantic costs ~45 ms of its cold start."""
    from . import models

    return models


class StatusStore:
    """Reads and writes assembly status items in the table ``TransflowStatus`` provisions.

    ``client`` defaults to ``boto3.client("dynamodb")``, so ``AWS_ENDPOINT_URL``, the region and
    the usual credential chain apply. ``ttl_days`` sets when DynamoDB may expire an item (counted
    from its last write); ``None`` keeps items forever.
    """

    def __init__(
        self,
        table_name: str,
        client: Any = None,
        ttl_days: int | None = 30,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not table_name:
            raise ValueError("table_name must be a non-empty string")
        if ttl_days is not None and ttl_days <= 0:
            raise ValueError("ttl_days must be positive or None")
        if client is None:
            import boto3

            client = boto3.client("dynamodb")
        self.table_name = table_name
        self.client = client
        self.ttl_days = ttl_days
        self._clock = clock

    # ------------------------------------------------------------------------------ create
    def create(
        self,
        assembly_id: str,
        *,
        user_id: str,
        template_id: str,
        uploads: Iterable[Upload | Mapping[str, Any]] = (),
        notify_url: str | None = None,
        branch: str = "",
        message: str = "Assembly queued",
        bytes_expected: int | None = None,
        steps_total: int | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> AssemblyStatus:
        """Create the status item, idempotently.

        Creating an id that exists for the same user and template returns the stored status
        unchanged; an id that exists for another user or template raises
        ``AssemblyConflictError`` and writes nothing.
        """
        _check_id(assembly_id)
        for attribute in extra or {}:
            self._check_field(attribute)
        if not user_id or not isinstance(user_id, str):
            raise ValueError("user_id must be a non-empty string")
        if not template_id or not isinstance(template_id, str):
            raise ValueError("template_id must be a non-empty string")
        text(message, "message")
        check_fields({"branch": branch, "notify_url": notify_url,
                      "bytes_expected": bytes_expected, "steps_total": steps_total, **(extra or {})})
        models = _models()
        upload_models = [u if isinstance(u, models.Upload) else models.Upload.model_validate(u) for u in uploads]
        for index, upload in enumerate(upload_models):
            check_value(upload.model_dump(mode="python"), f"uploads[{index}]")
        now = self._clock()
        stamp = iso_now(now)
        status = models.AssemblyStatus.model_validate(
            {
                **(dict(extra) if extra else {}),
                "assembly_id": assembly_id,
                "message": message,
                "state": STATE_QUEUED,
                "uploads": upload_models,
                "results": {},
                "bytes_expected": sum(u.size for u in upload_models) if bytes_expected is None else bytes_expected,
                "bytes_received": 0,
                "bytes_usage": 0,
                "execution_duration": 0,
                "execution_start": stamp,
                "template_id": template_id,
                "branch": branch,
                "user": {"userId": user_id},
                "created_at": stamp,
                "updated_at": stamp,
                "steps_total": steps_total,
                "steps_completed": 0 if steps_total is not None else None,
                "notify_url": notify_url,
                "version": 1,
            }
        )
        item = status.model_dump(mode="python", exclude_none=True)
        item[USER_ID_ATTRIBUTE] = user_id
        item[START_EPOCH_ATTRIBUTE] = now
        if self.ttl_days is not None:
            item[TTL_ATTRIBUTE] = int(now) + self.ttl_days * 86400
            status.ttl = item[TTL_ATTRIBUTE]
        if approx_size(item) > MAX_ITEM_BYTES:
            raise ItemTooLargeError(assembly_id, "the initial item (uploads and metadata) is too large")
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={k: serialize_value(v) for k, v in item.items()},
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": PARTITION_KEY},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except Exception as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise self._translate(exc, assembly_id) from exc
            existing = self._old_item(exc) or self._get_item(assembly_id)
            if existing is None:  # deleted between the two calls: try once more
                return self.create(
                    assembly_id, user_id=user_id, template_id=template_id, uploads=upload_models,
                    notify_url=notify_url, branch=branch, message=message,
                    bytes_expected=bytes_expected, steps_total=steps_total, extra=extra,
                )
            owner = item_owner(existing) or ""
            if owner != user_id or existing.get("template_id") != template_id:
                raise AssemblyConflictError(
                    assembly_id, existing_user=owner, existing_template=existing.get("template_id", "")
                ) from None
            return models.AssemblyStatus.from_item(existing)
        return status

    # ------------------------------------------------------------------------------ progress
    def progress(
        self,
        assembly_id: str,
        *,
        state: str | None = None,
        message: str | None = None,
        bytes_received: int | None = None,
        add_bytes_received: int | None = None,
        steps_total: int | None = None,
        steps_completed: int | None = None,
        current_step_name: str | None = None,
        progress_pct: float | None = None,
        warning: str | None = None,
        fields: Mapping[str, Any] | None = None,
    ) -> AssemblyStatus:
        """Record progress on an active assembly. Refused once the assembly is terminal."""
        if state is not None and state in TERMINAL_STATES:
            raise ValueError(f"use complete(), fail() or cancel() to reach {state}")
        if state is not None and state not in ACTIVE_STATES:
            raise ValueError(f"state must be one of {sorted(ACTIVE_STATES)}, got {state!r}")
        if bytes_received is not None and add_bytes_received is not None:
            raise ValueError("give bytes_received (a total) or add_bytes_received (an increment), not both")
        # Everything is checked before anything is sent: a refused call writes nothing.
        check_fields({"message": message, "bytes_received": bytes_received, "steps_total": steps_total,
                      "steps_completed": steps_completed, "current_step_name": current_step_name,
                      "progress_pct": progress_pct})
        if add_bytes_received is not None:
            non_negative_int(add_bytes_received, "add_bytes_received")
        if warning is not None:
            non_empty_text(warning, "warning")
        for attribute in fields or {}:
            self._check_field(attribute)
        check_fields(fields or {})
        update = Update()
        for attribute, value in (
            ("state", state),
            ("message", message),
            ("bytes_received", bytes_received),
            ("steps_total", steps_total),
            ("steps_completed", steps_completed),
            ("current_step_name", current_step_name),
            ("progress_pct", progress_pct),
        ):
            if value is not None:
                update.set(attribute, value)
        if add_bytes_received:
            update.add("bytes_received", add_bytes_received)
        if warning:
            w = update.name("warnings")
            update.sets.append(f"{w} = list_append(if_not_exists({w}, {update.value([])}), {update.value([warning])})")
        for attribute, value in (fields or {}).items():
            update.set(attribute, value)
        return self._write_active(assembly_id, update)

    def start_step(self, assembly_id: str, step_name: str, *, message: str | None = None) -> AssemblyStatus:
        """Mark ``step_name`` as the step now running."""
        non_empty_text(step_name, "step_name")
        return self.progress(
            assembly_id,
            state=STATE_EXECUTING,
            current_step_name=step_name,
            message=message or f"Executing step {step_name}",
        )

    def finish_step(self, assembly_id: str, step_name: str, *, message: str | None = None) -> AssemblyStatus:
        """Count ``step_name`` as done (``steps_completed`` + 1)."""
        non_empty_text(step_name, "step_name")
        check_fields({"message": message})
        update = Update()
        update.add("steps_completed", 1)
        update.set("message", message or f"Finished step {step_name}")
        return self._write_active(assembly_id, update)

    def add_result(
        self, assembly_id: str, step_name: str, result: Result | Mapping[str, Any]
    ) -> AssemblyStatus:
        """Append one result to ``results[step_name]`` atomically (safe from many workers)."""
        non_empty_text(step_name, "step_name")
        result_model = _models().Result
        model = result if isinstance(result, result_model) else result_model.model_validate(result)
        entry = model.model_dump(mode="python", exclude_none=True)
        check_value(entry, "result")
        update = Update()
        results = update.name("results")
        step = update.name(step_name)
        update.sets.append(
            f"{results}.{step} = list_append(if_not_exists({results}.{step}, {update.value([])}), "
            f"{update.value([entry])})"
        )
        update.add("bytes_usage", model.size)
        update.set("state", STATE_EXECUTING)
        update.set("last_job_completed", iso_now(self._clock()))
        return self._write_active(assembly_id, update)

    # ------------------------------------------------------------------------------ terminal
    def complete(self, assembly_id: str, *, message: str = "Assembly completed") -> AssemblyStatus:
        text(message, "message")
        update = Update()
        update.set("ok", OK_COMPLETED)
        update.set("state", STATE_COMPLETED)
        update.set("message", message)
        update.set("progress_pct", 100)
        update.remove("current_step_name")
        return self._write_active(assembly_id, update)

    def fail(self, assembly_id: str, error: str, message: str | None = None) -> AssemblyStatus:
        non_empty_text(error, "error")
        check_fields({"message": message})
        update = Update()
        update.set("error", error)
        update.set("state", STATE_FAILED)
        update.set("message", message or f"Assembly failed: {error}")
        update.remove("current_step_name")
        return self._write_active(assembly_id, update)

    def cancel(self, assembly_id: str, *, message: str = "Assembly canceled") -> AssemblyStatus:
        """Cancel an active assembly.

        Sets ``ok`` *and* ``error`` to ``ASSEMBLY_CANCELED``: the seed's React hook only stops on
        ``ok === "ASSEMBLY_COMPLETED" || error``, so ``ok`` alone would keep it polling forever.
        """
        text(message, "message")
        update = Update()
        update.set("ok", OK_CANCELED)
        update.set("error", OK_CANCELED)
        update.set("state", STATE_CANCELED)
        update.set("message", message)
        update.remove("current_step_name")
        return self._write_active(assembly_id, update)

    def record_notification(self, assembly_id: str, fields: Mapping[str, Any]) -> None:
        """Record webhook delivery bookkeeping; allowed on terminal items (it is not progress)."""
        update = Update()
        for attribute, value in fields.items():
            if not attribute.startswith("notify_"):
                raise ValueError(f"{attribute!r} is not a notify_* field")
            check_value(value, attribute)
            if value is None:
                update.remove(attribute)
            else:
                update.set(attribute, value)
        if not (update.sets or update.removes):
            return
        token = update.idempotent(self._clock())
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={PARTITION_KEY: {"S": assembly_id}},
                UpdateExpression=update.expression(),
                ConditionExpression=f"attribute_exists({update.name(PARTITION_KEY)}) AND {token.condition}",
                ExpressionAttributeNames=update.names,
                ExpressionAttributeValues=update.values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except Exception as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise self._translate(exc, assembly_id) from exc
            if not token.found_in(self._old_item(exc)):  # else: a retry of a write that was applied
                raise AssemblyNotFoundError(assembly_id) from None

    # ------------------------------------------------------------------------------ reads
    def get(self, assembly_id: str, *, consistent: bool = False) -> AssemblyStatus | None:
        item = self._get_item(_check_id(assembly_id), consistent=consistent)
        return None if item is None else _models().AssemblyStatus.from_item(item)

    def get_item(self, assembly_id: str, *, consistent: bool = False) -> dict[str, Any] | None:
        """The raw item (plain Python values), including the store's bookkeeping attributes."""
        return self._get_item(_check_id(assembly_id), consistent=consistent)

    def get_many(self, assembly_ids: Iterable[str]) -> dict[str, AssemblyStatus | None]:
        """Several statuses at once (BatchGetItem, unprocessed keys retried with backoff)."""
        ids = list(dict.fromkeys(_check_id(i) for i in assembly_ids))
        try:
            found = batch_get_items(self.client, self.table_name, ids)
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"BatchGetItem of {len(ids)} assemblies failed: {exc}") from exc
        from_item = _models().AssemblyStatus.from_item
        return {i: (from_item(found[i]) if i in found else None) for i in ids}

    def list_for_user(
        self,
        user_id: str,
        *,
        limit: int = 25,
        cursor: str | None = None,
        active_only: bool = False,
    ) -> tuple[list[AssemblyStatus], str | None]:
        """The user's assemblies, newest first, and a cursor for the next page (or None).

        The cursor is the index's LastEvaluatedKey, encoded; it only ever resumes within
        ``user_id``'s own partition of the index.
        """
        try:
            items, next_cursor = query_user_items(
                self.client, self.table_name, user_id, limit=limit, cursor=cursor, active_only=active_only
            )
        except (ValueError, StoreError):
            raise  # a bad cursor or limit names itself
        except Exception as exc:
            raise StoreError(f"listing the assemblies of user {user_id!r} failed: {exc}") from exc
        return [_models().AssemblyStatus.from_item(i) for i in items], next_cursor

    # ------------------------------------------------------------------------------ internals
    @staticmethod
    def _check_field(attribute: str) -> None:
        if attribute in _MANAGED_FIELDS or attribute.startswith("notify_"):
            raise ValueError(f"{attribute!r} is managed by the store and cannot be set through fields or extra")

    def _write_active(self, assembly_id: str, update: Update) -> AssemblyStatus:
        _check_id(assembly_id)
        now = self._clock()
        update.set("updated_at", iso_now(now))
        if self.ttl_days is not None:
            update.set(TTL_ATTRIBUTE, int(now) + self.ttl_days * 86400)
        update.add(VERSION_ATTRIBUTE, 1)
        duration = update.name("execution_duration")
        start = update.name(START_EPOCH_ATTRIBUTE)
        update.sets.append(f"{duration} = {update.value(Decimal(repr(now)))} - {start}")
        token = update.idempotent(now)
        pk = update.name(PARTITION_KEY)
        # Terminal by either convention (a seed-style writer may have set ok/error without state).
        condition = (
            f"attribute_exists({pk}) AND NOT {terminal_condition(update.name, update.value)} AND {token.condition}"
        )
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key={PARTITION_KEY: {"S": assembly_id}},
                UpdateExpression=update.expression(),
                ConditionExpression=condition,
                ExpressionAttributeNames=update.names,
                ExpressionAttributeValues=update.values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except Exception as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise self._translate(exc, assembly_id) from exc
            existing = self._old_item(exc) or self._get_item(assembly_id, consistent=True)
            if token.found_in(existing):
                # botocore resent a write whose response was lost: it was applied once, by then.
                return _models().AssemblyStatus.from_item(existing)
            if existing is None:
                raise AssemblyNotFoundError(assembly_id) from None
            raise AssemblyTerminalError(assembly_id, _terminal_state(existing), existing) from None
        return _models().AssemblyStatus.from_item(deserialize_item(response["Attributes"]))

    def _get_item(self, assembly_id: str, *, consistent: bool = False) -> dict[str, Any] | None:
        try:
            response = self.client.get_item(
                TableName=self.table_name, Key={PARTITION_KEY: {"S": assembly_id}}, ConsistentRead=consistent
            )
        except Exception as exc:
            raise self._translate(exc, assembly_id) from exc
        item = response.get("Item")
        return None if item is None else deserialize_item(item)

    @staticmethod
    def _old_item(exc: Exception) -> dict[str, Any] | None:
        item = error_response(exc).get("Item")
        return deserialize_item(item) if item else None

    @staticmethod
    def _translate(exc: Exception, assembly_id: str) -> Exception:
        message = str(exc)
        if error_code(exc) == "ValidationException" and "size" in message.lower():
            return ItemTooLargeError(assembly_id, message)
        if isinstance(exc, StoreError):
            return exc
        return StoreError(f"DynamoDB call for assembly {assembly_id!r} failed: {message}")
