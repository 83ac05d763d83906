"""What a status write may carry, checked before anything is sent to DynamoDB.

A value that the store would write and every later read would choke on (a count that is text, a
percentage of 250, bytes in ``meta``) is refused up front with ``StatusValueError`` naming the
field; nothing is written. Every value must be something DynamoDB *and* JSON hold alike: text,
booleans, null, numbers DynamoDB can store (finite, at most 38 significant digits, magnitude
between 1E-130 and 9.99E+125), lists, and maps with text keys. Binary data (``bytes``,
``bytearray``, ``memoryview``, boto3's ``Binary``) and sets are refused: JSON has neither.
Stdlib plus boto3's DynamoDB number context.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import DYNAMODB_CONTEXT

from .errors import StatusValueError

_MAX_MAGNITUDE = Decimal("9.9999999999999999999999999999999999999E+125")
_MIN_MAGNITUDE = Decimal("1E-130")
_MAX_DEPTH = 32  # DynamoDB nests lists and maps up to 32 levels


def _check_number(value: int | float | Decimal, where: str) -> None:
    """Finite, and exactly what boto3's serializer accepts for DynamoDB's number type (38 digits,
    1E-130..9.99E+125, no rounding): https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html"""
    if isinstance(value, float) and not math.isfinite(value):
        raise StatusValueError(where, f"must be a finite number, got {value!r}")
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        if not number.is_finite():
            raise decimal.InvalidOperation
        DYNAMODB_CONTEXT.create_decimal(number)
        if number and not _MIN_MAGNITUDE <= abs(number) <= _MAX_MAGNITUDE:
            raise decimal.Underflow
    except decimal.DecimalException:
        raise StatusValueError(
            where, f"is outside the numbers DynamoDB can store (38 digits, 1E-130..9.99E+125): {value!r}"
        ) from None


def check_value(value: Any, where: str, _depth: int = 0) -> None:
    """Raise ``StatusValueError`` unless ``value`` is plain JSON-and-DynamoDB data (see above)."""
    if _depth > _MAX_DEPTH:
        raise StatusValueError(where, f"nests deeper than DynamoDB's {_MAX_DEPTH} levels")
    if value is None or isinstance(value, (str, bool)):
        return
    if isinstance(value, (int, float, Decimal)):
        _check_number(value, where)
        return
    if isinstance(value, (bytes, bytearray, memoryview)) or type(value).__name__ == "Binary":
        raise StatusValueError(where, "is binary data, which JSON cannot carry: store text (e.g. base64) or a URL")
    if isinstance(value, (set, frozenset)):
        raise StatusValueError(where, "is a set, which JSON cannot carry: use a list")
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            check_value(item, f"{where}[{index}]", _depth + 1)
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise StatusValueError(where, f"has a key that is not text: {key!r}")
            check_value(item, f"{where}[{key!r}]", _depth + 1)
        return
    raise StatusValueError(where, f"is a {type(value).__name__}, not a JSON value")


def non_negative_int(value: Any, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise StatusValueError(where, f"must be a non-negative integer, got {value!r}")
    _check_number(value, where)


def percentage(value: Any, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise StatusValueError(where, f"must be a number between 0 and 100, got {value!r}")
    _check_number(value, where)
    if not 0 <= value <= 100:
        raise StatusValueError(where, f"must be a number between 0 and 100, got {value!r}")


def text(value: Any, where: str) -> None:
    if not isinstance(value, str):
        raise StatusValueError(where, f"must be a string, got {type(value).__name__}")


def non_empty_text(value: Any, where: str) -> None:
    if not isinstance(value, str) or not value:
        raise StatusValueError(where, "must be a non-empty string")


def text_list(value: Any, where: str) -> None:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise StatusValueError(where, "must be a list of strings")


#: The AssemblyStatus fields a caller may set (as keywords or through ``fields=``/``extra=``), and
#: what each must be. Anything else only has to be plain data (``check_value``).
FIELD_RULES: dict[str, Callable[[Any, str], None]] = {
    "message": text,
    "branch": text,
    "current_step_name": text,
    "notify_url": text,
    "steps_total": non_negative_int,
    "steps_completed": non_negative_int,
    "bytes_expected": non_negative_int,
    "bytes_received": non_negative_int,
    "progress_pct": percentage,
    "warnings": text_list,
}


def check_fields(values: Mapping[str, Any], where: str = "") -> None:
    """Check every value to be written (``None`` means "not given" and is skipped)."""
    for name, value in values.items():
        if value is None:
            continue
        label = f"{where}[{name!r}]" if where else name
        rule = FIELD_RULES.get(name)
        if rule is not None:
            rule(value, label)
        check_value(value, label)
