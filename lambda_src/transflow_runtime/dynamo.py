"""Pydantic-free DynamoDB read helpers shared by ``StatusStore`` and the status Lambda.

The status Lambda serves items straight from DynamoDB without building models: importing
pydantic would cost its cold start tens of milliseconds. So everything the read path needs
(deserializing, batch reads with unprocessed-key retries, the per-user index query and its
cursor) lives here, on stdlib + boto3 only; ``store.py`` re-exports these names.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from .errors import StoreError
from .schema import (
    CREATED_AT_ATTRIBUTE,
    PARTITION_KEY,
    USER_ID_ATTRIBUTE,
    USER_INDEX_NAME,
)
from .terminal import terminal_condition

BATCH_GET_LIMIT = 100
#: A cursor longer than this cannot be one we issued (three short key values, base64).
MAX_CURSOR_LENGTH = 4096
#: DynamoDB refuses key values over 2048 (partition) / 1024 (sort) bytes; refuse them earlier,
#: as a malformed cursor, instead of letting DynamoDB answer with a ValidationException.
_MAX_KEY_VALUE_BYTES = 1024
#: Pages read per ``query_user_items`` call at most, so a filtered list cannot scan a huge
#: history in one request; a short page then comes back with a cursor to continue.
DEFAULT_MAX_PAGES = 10

_deserializer = TypeDeserializer()


def iso_now(epoch: float | None = None) -> str:
    """An ISO-8601 UTC timestamp the way JavaScript's ``toISOString`` writes it (sortable)."""
    moment = datetime.fromtimestamp(time.time() if epoch is None else epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def deserialize_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """A low-level client item (``{"S": ...}`` values) as plain Python values."""
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def item_owner(item: Mapping[str, Any]) -> str | None:
    """The owner's user id: ``user.userId`` (the seed's field), a non-empty string.

    Fails closed: an item without one belongs to no one, and so does an item whose top-level
    ``user_id`` (the index's copy) names someone else, whoever wrote it.
    """
    user = item.get("user")
    owner = user.get("userId") if isinstance(user, Mapping) else None
    if not isinstance(owner, str) or not owner:
        return None
    copy = item.get(USER_ID_ATTRIBUTE, owner)
    return owner if copy == owner else None


def batch_get_items(
    client: Any,
    table_name: str,
    assembly_ids: list[str],
    *,
    max_attempts: int = 8,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, dict[str, Any]]:
    """BatchGetItem in chunks of 100, retrying UnprocessedKeys with exponential backoff.

    Ids must be unique (DynamoDB refuses duplicate keys in one request). Raises ``StoreError``
    if keys are still unprocessed after ``max_attempts`` calls.
    """
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(assembly_ids), BATCH_GET_LIMIT):
        keys = [{PARTITION_KEY: {"S": i}} for i in assembly_ids[start : start + BATCH_GET_LIMIT]]
        request: dict[str, Any] = {table_name: {"Keys": keys}}
        for attempt in range(max_attempts):
            response = client.batch_get_item(RequestItems=request)
            for raw in response.get("Responses", {}).get(table_name, []):
                item = deserialize_item(raw)
                found[item[PARTITION_KEY]] = item
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
            sleep(min(0.05 * 2**attempt, 1.0))
        else:
            raise StoreError(f"BatchGetItem left keys unprocessed after {max_attempts} attempts")
    return found


def encode_cursor(key: Mapping[str, Any], user_id: str) -> str:
    """An opaque list cursor: the index key to resume after, bound to ``user_id``."""
    payload = json.dumps({"u": user_id, "k": key}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, user_id: str) -> dict[str, Any]:
    """Decode a list cursor; raises ``ValueError`` unless it resumes ``user_id``'s own list."""
    if not isinstance(cursor, str) or not cursor or len(cursor) > MAX_CURSOR_LENGTH:
        raise ValueError("cursor is malformed")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        key = data["k"]
        owner = data["u"]
    except Exception:
        raise ValueError("cursor is malformed") from None
    if owner != user_id or not isinstance(key, dict):
        raise ValueError("cursor does not belong to this user")
    expected = {PARTITION_KEY, USER_ID_ATTRIBUTE, CREATED_AT_ATTRIBUTE}
    if set(key) != expected or key.get(USER_ID_ATTRIBUTE) != {"S": user_id}:
        raise ValueError("cursor does not belong to this user")
    for value in key.values():
        if not (isinstance(value, dict) and set(value) == {"S"} and isinstance(value["S"], str)):
            raise ValueError("cursor is malformed")
        text = value["S"]
        if not text or len(text.encode("utf-8", "surrogatepass")) > _MAX_KEY_VALUE_BYTES:
            raise ValueError("cursor is malformed")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("cursor is malformed") from None
    return key


def _typed(value: str | int) -> dict[str, str]:
    return {"S": value} if isinstance(value, str) else {"N": str(value)}


def _placeholder(bound: dict[str, Any], prefix: str, convert: Callable[[Any], Any]) -> Callable[[Any], str]:
    """Binds each value to the next free ``prefix<n>`` placeholder of ``bound``."""

    def bind(value: Any) -> str:
        key = f"{prefix}{len(bound)}"
        bound[key] = convert(value)
        return key

    return bind


def _index_key(item: Mapping[str, Any], user_id: str) -> dict[str, Any]:
    return {
        PARTITION_KEY: {"S": item[PARTITION_KEY]},
        USER_ID_ATTRIBUTE: {"S": user_id},
        CREATED_AT_ATTRIBUTE: {"S": item[CREATED_AT_ATTRIBUTE]},
    }


def query_user_items(
    client: Any,
    table_name: str,
    user_id: str,
    *,
    limit: int = 25,
    cursor: str | None = None,
    active_only: bool = False,
    max_limit: int = 100,
    max_pages: int = DEFAULT_MAX_PAGES,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of a user's items from the user index, newest first, and the next cursor.

    With ``active_only`` the filter can leave pages short; at most ``max_pages`` index pages are
    read, after which a short page is returned with a cursor (``None`` only at the end).
    Raises ``ValueError`` for a bad limit or a cursor that is malformed or someone else's.
    """
    if not user_id:
        raise ValueError("user_id must be a non-empty string")
    if not 1 <= limit <= max_limit:
        raise ValueError(f"limit must be between 1 and {max_limit}")
    kwargs: dict[str, Any] = {
        "TableName": table_name,
        "IndexName": USER_INDEX_NAME,
        "KeyConditionExpression": "#u = :u",
        "ExpressionAttributeNames": {"#u": USER_ID_ATTRIBUTE},
        "ExpressionAttributeValues": {":u": {"S": user_id}},
        "ScanIndexForward": False,
        "Limit": limit,
    }
    if cursor:
        kwargs["ExclusiveStartKey"] = decode_cursor(cursor, user_id)
    # The index is keyed on the top-level copy; the owner is ``user.userId`` (see item_owner).
    kwargs["FilterExpression"] = "#usr.#uid = :u"
    kwargs["ExpressionAttributeNames"].update({"#usr": "user", "#uid": "userId"})
    if active_only:
        kwargs["FilterExpression"] += " AND NOT " + terminal_condition(
            _placeholder(kwargs["ExpressionAttributeNames"], "#t", lambda n: n),
            _placeholder(kwargs["ExpressionAttributeValues"], ":t", _typed),
        )
    items: list[dict[str, Any]] = []
    last: dict[str, Any] | None = None
    for _page in range(max(1, max_pages)):
        response = client.query(**kwargs)
        items.extend(deserialize_item(i) for i in response.get("Items", []))
        last = response.get("LastEvaluatedKey")
        if not last or len(items) >= limit:
            break
        kwargs["ExclusiveStartKey"] = last
        kwargs["Limit"] = limit - len(items)
    if not last:
        return items[:limit], None
    if len(items) >= limit:
        items = items[:limit]
        return items, encode_cursor(_index_key(items[-1], user_id), user_id)
    # Page budget spent on filtered-out items: resume where the index read stopped.
    resume = {
        PARTITION_KEY: last[PARTITION_KEY],
        USER_ID_ATTRIBUTE: {"S": user_id},
        CREATED_AT_ATTRIBUTE: last[CREATED_AT_ATTRIBUTE],
    }
    return items, encode_cursor(resume, user_id)
