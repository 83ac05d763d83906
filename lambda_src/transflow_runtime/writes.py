"""One conditional DynamoDB write of a status item, safe to repeat.

``Update`` collects an update expression with placeholders. ``Update.idempotent(now)`` gives the
write a token: the same expression adds the token to this time window's token set and the
condition requires it to be absent. botocore resends a request byte for byte when its response
was lost (after DynamoDB may have applied it); the resent request then fails its condition, and
``WriteToken.found_in(old_item)`` tells the caller the write already happened, instead of applying
a ``list_append`` or an ``ADD`` twice. Concurrent writers each carry their own token, so the
updates stay atomic and lose nothing.

Tokens sit in ``schema.WRITE_TOKEN_ATTRIBUTES``, one string set per window of
``WRITE_TOKEN_WINDOW_SECONDS`` in rotation over four attributes; each write also removes the set
of the window two ahead (that is, two behind), so a token lives at least one full window (longer
than botocore's retries of one call take, about 11 minutes at worst with the default legacy mode
and 60 s timeouts) and an item holds the tokens of its last two or three windows only (about 12
bytes per write). Stdlib + boto3's serializer only.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeSerializer

from .schema import WRITE_TOKEN_ATTRIBUTES

WRITE_TOKEN_WINDOW_SECONDS = 15 * 60
_serializer = TypeSerializer()


def _to_dynamo(value: Any) -> Any:
    """Python -> DynamoDB types: floats become Decimal (boto3 refuses floats)."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {k: _to_dynamo(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_dynamo(v) for v in value]
    return value


def serialize_value(value: Any) -> dict[str, Any]:
    return _serializer.serialize(_to_dynamo(value))


def approx_size(item: Mapping[str, Any]) -> int:
    # DynamoDB counts attribute names plus values; JSON length is a close, slightly high estimate.
    return len(json.dumps(item, default=str, ensure_ascii=False).encode("utf-8"))


def error_response(exc: BaseException) -> Mapping[str, Any]:
    """A botocore ClientError's parsed response (``{}`` for any other exception)."""
    response = getattr(exc, "response", None)
    return response if isinstance(response, Mapping) else {}


def error_code(exc: BaseException) -> str:
    error = error_response(exc).get("Error")
    return str(error.get("Code", "")) if isinstance(error, Mapping) else ""


@dataclass(frozen=True)
class WriteToken:
    """The token one write carries, and the attribute it is recorded in."""

    attribute: str
    value: str
    #: The ``ConditionExpression`` clause: true while the write has not been applied.
    condition: str

    def found_in(self, item: Mapping[str, Any] | None) -> bool:
        """True when ``item`` (a plain item, e.g. a conditional failure's old image) holds this
        write's token: the write was applied by an earlier attempt of the same request."""
        recorded = item.get(self.attribute) if item else None
        return isinstance(recorded, (set, frozenset, list, tuple)) and self.value in recorded


class Update:
    """Collects one update expression with placeholder names and values."""

    def __init__(self) -> None:
        self.sets: list[str] = []
        self.adds: list[str] = []
        self.removes: list[str] = []
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def name(self, attribute: str) -> str:
        placeholder = f"#n{len(self.names)}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = serialize_value(value)
        return placeholder

    def set(self, attribute: str, value: Any) -> None:
        self.sets.append(f"{self.name(attribute)} = {self.value(value)}")

    def add(self, attribute: str, amount: int | float) -> None:
        self.adds.append(f"{self.name(attribute)} {self.value(amount)}")

    def remove(self, attribute: str) -> None:
        self.removes.append(self.name(attribute))

    def idempotent(self, now: float) -> WriteToken:
        """Make this write safe to repeat (see the module docstring); returns its token."""
        window = int(now // WRITE_TOKEN_WINDOW_SECONDS)
        slots = len(WRITE_TOKEN_ATTRIBUTES)
        attribute = WRITE_TOKEN_ATTRIBUTES[window % slots]
        token = secrets.token_urlsafe(9)  # 72 random bits
        placeholder = self.name(attribute)
        self.adds.append(f"{placeholder} {self.value({token})}")
        self.remove(WRITE_TOKEN_ATTRIBUTES[(window + 2) % slots])
        return WriteToken(attribute, token, f"NOT contains({placeholder}, {self.value(token)})")

    def expression(self) -> str:
        parts = []
        if self.sets:
            parts.append("SET " + ", ".join(self.sets))
        if self.adds:
            parts.append("ADD " + ", ".join(self.adds))
        if self.removes:
            parts.append("REMOVE " + ", ".join(self.removes))
        return " ".join(parts)
