"""JSON bytes exactly as JavaScript's ``JSON.stringify(JSON.parse(body))`` would write them.

The seed's webhook receiver verifies ``HMAC(JSON.stringify(req.body))``: it signs what Express
re-serialized, not the raw bytes we sent. A Python ``json.dumps`` differs in number formatting
(``12.0``, ``1e-07``, exact big integers), ``-0``, lone surrogates and the order JavaScript gives
integer-like object keys, and any one of those breaks the signature. Stdlib only: this module is
on the status Lambda's hot path.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Any

from .schema import INTERNAL_ATTRIBUTES

_encode_string = json.encoder.encode_basestring  # ensure_ascii=False flavour, C-accelerated
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_MAX_SAFE_INT = 2**53
_MAX_ARRAY_INDEX = 2**32 - 2


def _escape_surrogate(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def _string(value: str) -> str:
    out = _encode_string(value)
    # A lone surrogate cannot be encoded as UTF-8; JSON.stringify escapes it (ES2019).
    if _SURROGATE_RE.search(out):
        out = _SURROGATE_RE.sub(_escape_surrogate, out)
    return out


def _js_float(value: float) -> str:
    """Number::toString for a finite double: shortest round-trip digits, JS exponent rules."""
    if value == 0:
        return "0"  # also for -0.0: JSON.stringify(-0) is "0"
    sign = "-" if value < 0 else ""
    text = repr(abs(value))
    mantissa, _, exp = text.partition("e")
    int_part, _, frac_part = mantissa.partition(".")
    if frac_part == "0":
        frac_part = ""
    digits = int_part + frac_part
    point = len(int_part) + (int(exp) if exp else 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    k, n = len(digits), point
    if k <= n <= 21:
        body = digits + "0" * (n - k)
    elif 0 < n <= 21:
        body = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        body = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        exp_text = ("+" if e >= 0 else "-") + str(abs(e))
        body = digits + "e" + exp_text if k == 1 else digits[0] + "." + digits[1:] + "e" + exp_text
    return sign + body


def js_number(value: int | float | Decimal) -> str:
    """A number as JSON.stringify writes it once JSON.parse has turned it into a double."""
    if isinstance(value, int):
        if -_MAX_SAFE_INT < value < _MAX_SAFE_INT:
            return str(value)
        try:
            value = float(value)
        except OverflowError:
            raise ValueError(f"number {value} is too large for a JavaScript number") from None
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"JSON has no {value}")
        if value == value.to_integral_value() and -_MAX_SAFE_INT < value < _MAX_SAFE_INT:
            return str(int(value))
        value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"JSON has no {value!r} (a number too large for a double, NaN or Infinity)")
    if value.is_integer() and -_MAX_SAFE_INT < value < _MAX_SAFE_INT:
        return str(int(value))
    return _js_float(value)


def _is_array_index(key: str) -> bool:
    # JavaScript objects list canonical array-index keys first, ascending, whatever the input order.
    return key.isdigit() and key.isascii() and (key == "0" or key[0] != "0") and int(key) <= _MAX_ARRAY_INDEX


def _encode(value: Any, out: list[str], lenient: bool = False) -> None:
    if isinstance(value, str):
        out.append(_string(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, (int, float, Decimal)):
        out.append(js_number(value))
    elif isinstance(value, dict):
        keys = list(value)
        for key in keys:
            if not isinstance(key, str):
                raise ValueError(f"JSON object keys must be strings, got {type(key).__name__}")
        index_keys = [k for k in keys if _is_array_index(k)]
        if index_keys:
            index_keys.sort(key=int)
            keys = index_keys + [k for k in keys if not _is_array_index(k)]
        out.append("{")
        first = True
        for key in keys:
            if not first:
                out.append(",")
            first = False
            out.append(_string(key))
            out.append(":")
            _encode(value[key], out, lenient)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _encode(item, out, lenient)
        out.append("]")
    elif isinstance(value, (set, frozenset)) and all(
        isinstance(v, (str, int, float, Decimal)) and not isinstance(v, bool) for v in value
    ):
        # DynamoDB string/number sets come back as Python sets; JSON has arrays.
        _encode(sorted(value, key=lambda v: (str(type(v)), v)), out, lenient)
    elif hasattr(value, "model_dump"):
        _encode(value.model_dump(mode="python", exclude_none=True), out, lenient)
    elif lenient:
        out.append("null")  # binary (B), binary sets (BS): JSON has no form for them
    else:
        raise ValueError(f"cannot serialize {type(value).__name__} as JSON")


def js_dumps(value: Any, *, lenient: bool = False) -> str:
    """``JSON.stringify(JSON.parse(x))`` for a Python value (dict, list, numbers, Decimal, ...).

    ``lenient`` is for stored items, which another writer may have given values JSON cannot hold
    (binary ``B`` and ``BS``): each such value is written as ``null`` instead of refusing the item.
    """
    out: list[str] = []
    _encode(value, out, lenient)
    return "".join(out)


def _without_credentials(url: str) -> str:
    """``https://user:pass@host/p`` -> ``https://host/p``: a notify URL's basic-auth part is for
    the webhook sender, never for the end user polling the status or a webhook receiver."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    end = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    authority = rest[:end]
    if "@" not in authority:
        return url
    return f"{scheme}://{authority.rpartition('@')[2]}{rest[end:]}"


def public_view(item: dict[str, Any]) -> dict[str, Any]:
    """The item as users and webhook receivers see it: no bookkeeping attributes, and no
    credentials in ``notify_url``."""
    view = {k: v for k, v in item.items() if k not in INTERNAL_ATTRIBUTES}
    url = view.get("notify_url")
    if isinstance(url, str) and "@" in url:
        view["notify_url"] = _without_credentials(url)
    return view


def status_to_wire(status: Any) -> bytes:
    """The exact bytes of a status on the wire: HTTP responses and webhook bodies both use this.

    Accepts an ``AssemblyStatus`` or a plain item dict as read from DynamoDB; a stored value JSON
    cannot hold (binary, written by another writer) is answered as ``null`` (``js_dumps(lenient=True)``).
    """
    if hasattr(status, "model_dump"):
        status = status.model_dump(mode="python", exclude_none=True)
    return js_dumps(public_view(status), lenient=True).encode("utf-8")
