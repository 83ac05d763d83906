"""DynamoDB attribute values to Python values, as ``boto3.dynamodb.types.TypeDeserializer``.

Numbers become ``Decimal`` exactly as stored (boto3's 38-digit context raises on wide numbers
DynamoDB accepts; see ``_number``),
binaries a ``Binary`` wrapper, sets Python sets, ``L`` lists and ``M`` dicts; the type key is
matched case-insensitively and an unknown one raises ``TypeError`` with boto3's message (on the
wire, ``item_from_wire`` first drops keys that are not AttributeValue members, as botocore does). The
equality with boto3's deserializer is tested over generated items; importing this costs no more
than ``decimal``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from decimal import Clamped, Context, Decimal, Inexact, Overflow, Rounded, Underflow
from typing import Any

DYNAMODB_CONTEXT = Context(Emin=-128, Emax=126, prec=38, traps=[Clamped, Overflow, Inexact, Rounded, Underflow])
BINARY_TYPES = (bytearray, bytes)


class Binary:
    """Binary data read from DynamoDB (boto3's ``Binary``: equal to its bytes, hashable)."""

    def __init__(self, value: bytes | bytearray) -> None:
        if not isinstance(value, BINARY_TYPES):
            types = ", ".join(str(t) for t in BINARY_TYPES)
            raise TypeError(f"Value must be of the following types: {types}")
        self.value = value

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Binary):
            return self.value == other.value
        return self.value == other

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __repr__(self) -> str:
        return f"Binary({self.value!r})"

    def __str__(self) -> str:
        return self.value  # type: ignore[return-value]  # boto3's (Python 2 era) behaviour, kept

    def __bytes__(self) -> bytes:
        return bytes(self.value)

    def __hash__(self) -> int:
        return hash(self.value)


def _number(value: str) -> Decimal:
    """The number exactly as stored; boto3's 38-digit context only where that fails.

    DynamoDB stores numbers wider than 38 characters when their significant digits fit
    (``1234567895171680000000000000000000000000``, as the AWS SDK for JavaScript writes a
    ``BigInt``; boto3 issue #2500), and boto3's context raises on them: reads must never break
    on a stored value, so here the light client reads wider than boto3 does, on purpose.
    """
    try:
        return Decimal(value)
    except (ArithmeticError, TypeError, ValueError):
        return DYNAMODB_CONTEXT.create_decimal(value)


def _deserialize_n(value: Any) -> Decimal:
    return _number(value)


def _deserialize_ns(value: Any) -> set[Decimal]:
    return set(map(_number, value))


def _deserialize_b(value: Any) -> Binary:
    return Binary(value)


def _deserialize_bs(value: Any) -> set[Binary]:
    return set(map(Binary, value))


def _deserialize_l(value: Any) -> list[Any]:
    return [deserialize(v) for v in value]


def _deserialize_m(value: Any) -> dict[str, Any]:
    return {k: deserialize(v) for k, v in value.items()}


_DESERIALIZERS = {
    "null": lambda value: None,
    "bool": lambda value: value,
    "n": _deserialize_n,
    "s": lambda value: value,
    "b": _deserialize_b,
    "ns": _deserialize_ns,
    "ss": set,
    "bs": _deserialize_bs,
    "l": _deserialize_l,
    "m": _deserialize_m,
}


def deserialize(value: Mapping[str, Any]) -> Any:
    """One attribute value (``{"N": "12"}``) as a Python value."""
    if not value:
        raise TypeError("Value must be a nonempty dictionary whose key is a valid dynamodb type.")
    dynamodb_type = next(iter(value))
    deserializer = _DESERIALIZERS.get(dynamodb_type.lower())
    if deserializer is None:
        raise TypeError(f"Dynamodb type {dynamodb_type} is not supported")
    return deserializer(value[dynamodb_type])


def deserialize_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item (attribute name -> attribute value) as plain Python values."""
    return {k: deserialize(v) for k, v in item.items()}


# --- the wire: base64 for binaries, as the JSON protocol carries them -----------------------------
#: DynamoDB API Reference, "AttributeValue": its members, case-sensitive. botocore's parser drops
#: any other key of an attribute value (``{"s": "x"}`` reads as ``{}``), and so does ``_from_wire``.
ATTRIBUTE_VALUE_MEMBERS = frozenset({"S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"})


def _from_wire(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    if not value.keys() <= ATTRIBUTE_VALUE_MEMBERS:
        value = {k: v for k, v in value.items() if k in ATTRIBUTE_VALUE_MEMBERS}
    if len(value) != 1:
        return value
    ((kind, inner),) = value.items()
    if kind == "B" and isinstance(inner, str):
        return {"B": base64.b64decode(inner)}
    if kind == "BS" and isinstance(inner, list):
        return {"BS": [base64.b64decode(v) for v in inner]}
    if kind == "M" and isinstance(inner, dict):
        return {"M": {k: _from_wire(v) for k, v in inner.items()}}
    if kind == "L" and isinstance(inner, list):
        return {"L": [_from_wire(v) for v in inner]}
    return value


def item_from_wire(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item as the JSON protocol carries it -> as boto3's low-level client returns it (bytes)."""
    return {k: _from_wire(v) for k, v in item.items()}


def _to_wire(value: Any) -> Any:
    if not isinstance(value, dict) or len(value) != 1:
        return value
    ((kind, inner),) = value.items()
    if kind == "B" and isinstance(inner, (bytes, bytearray)):
        return {"B": base64.b64encode(inner).decode("ascii")}
    if kind == "B" and isinstance(inner, str):
        return {"B": base64.b64encode(inner.encode("utf-8")).decode("ascii")}
    if kind == "BS" and isinstance(inner, (list, tuple, set)):
        return {"BS": [_to_wire({"B": v})["B"] for v in inner]}
    if kind == "M" and isinstance(inner, dict):
        return {"M": {k: _to_wire(v) for k, v in inner.items()}}
    if kind == "L" and isinstance(inner, (list, tuple)):
        return {"L": [_to_wire(v) for v in inner]}
    return value


def item_to_wire(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item as boto3's low-level client takes it (bytes for B) -> as the JSON protocol sends it."""
    return {k: _to_wire(v) for k, v in item.items()}
