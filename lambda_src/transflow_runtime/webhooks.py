"""Webhook signatures, for the sender and for receivers.

Every webhook carries two independent signatures over the exact body bytes:

* ``X-Transflow-Signature: sha256=<hex HMAC-SHA256(secret, body)>`` — what the seed's receiver
  checks (``createHmac("sha256", secret).update(JSON.stringify(req.body))``). The key is the
  secret string's UTF-8 bytes, as Node uses a string key. It has no timestamp, so it offers no
  replay protection; it exists for compatibility.
* Standard Webhooks (https://www.standardwebhooks.com): ``webhook-id`` (the event id, stable
  across retries so receivers can de-duplicate), ``webhook-timestamp`` (Unix seconds) and
  ``webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>``. The key is the
  base64-decoded part after ``whsec_`` when the secret has that prefix (as the ``standardwebhooks``
  libraries expect); any other secret is used as its raw UTF-8 bytes.

Stdlib only at import time; ``verify_webhook`` imports the pydantic model when it returns.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .errors import TransflowError
from .schema import SIGNATURE_HEADER

if TYPE_CHECKING:  # pragma: no cover
    from .models import AssemblyStatus

WEBHOOK_ID_HEADER = "webhook-id"
WEBHOOK_TIMESTAMP_HEADER = "webhook-timestamp"
WEBHOOK_SIGNATURE_HEADER = "webhook-signature"
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
LEGACY_PREFIX = "sha256="
DEFAULT_TOLERANCE_SECONDS = 300

Secret = str | bytes


class WebhookVerificationError(TransflowError, ValueError):
    """A webhook failed verification; the message names what failed (never the secret)."""


def _secret_bytes(secret: Secret) -> bytes:
    if isinstance(secret, bytes):
        key = secret
    elif isinstance(secret, str):
        key = secret.encode("utf-8")
    else:
        raise TypeError(f"webhook secret must be str or bytes, not {type(secret).__name__}")
    if not key:
        raise ValueError("webhook secret must not be empty")
    return key


def signing_key(secret: Secret) -> bytes:
    """The Standard Webhooks HMAC key for ``secret``.

    ``whsec_<base64>`` is decoded (what every Standard Webhooks library does); any other string
    is used as its UTF-8 bytes, and ``bytes`` are used as they are.
    """
    if isinstance(secret, str) and secret.startswith(SECRET_PREFIX):
        encoded = secret[len(SECRET_PREFIX) :]
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("webhook secret starts with 'whsec_' but the rest is not base64") from None
        if not key:
            raise ValueError("webhook secret 'whsec_' carries an empty key")
        return key
    return _secret_bytes(secret)


def legacy_signature(body: bytes, secret: Secret) -> str:
    """``sha256=<hex>``: the seed's ``X-Transflow-Signature`` (key = the secret string itself)."""
    return LEGACY_PREFIX + hmac.new(_secret_bytes(secret), body, hashlib.sha256).hexdigest()


def standard_signature(body: bytes, secret: Secret, event_id: str, timestamp: int) -> str:
    """``v1,<base64>``: the Standard Webhooks signature of ``{id}.{timestamp}.{body}``."""
    signed = f"{event_id}.{int(timestamp)}.".encode() + body
    digest = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def _check_event_id(event_id: str) -> str:
    if not isinstance(event_id, str) or not event_id:
        raise ValueError("event_id must be a non-empty string")
    if any(c.isspace() or not c.isprintable() for c in event_id) or "." in event_id:
        raise ValueError("event_id must not contain whitespace, control characters or '.'")
    return event_id


def sign_webhook(
    body: bytes, secret: Secret, *, event_id: str, timestamp: int | None = None
) -> dict[str, str]:
    """The signature headers for one delivery of ``body`` (the exact bytes that will be sent)."""
    if not isinstance(body, bytes):
        raise TypeError("body must be the exact bytes sent (bytes), not a parsed or decoded value")
    ts = int(time.time()) if timestamp is None else int(timestamp)
    return {
        SIGNATURE_HEADER: legacy_signature(body, secret),
        WEBHOOK_ID_HEADER: _check_event_id(event_id),
        WEBHOOK_TIMESTAMP_HEADER: str(ts),
        WEBHOOK_SIGNATURE_HEADER: standard_signature(body, secret, event_id, ts),
    }


def _lower_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    items = headers.items() if hasattr(headers, "items") else headers
    out: dict[str, str] = {}
    for key, value in items:
        out.setdefault(str(key).lower(), str(value))
    return out


def _verify_standard(body: bytes, h: dict[str, str], secret: Secret, tolerance: int, now: float) -> None:
    event_id = h.get(WEBHOOK_ID_HEADER, "").strip()
    stamp = h.get(WEBHOOK_TIMESTAMP_HEADER, "").strip()
    if not event_id:
        raise WebhookVerificationError("webhook-signature is present but webhook-id is missing")
    if not stamp:
        raise WebhookVerificationError("webhook-signature is present but webhook-timestamp is missing")
    if not stamp.isdigit():
        raise WebhookVerificationError("webhook-timestamp is not an integer number of seconds")
    timestamp = int(stamp)
    if timestamp < now - tolerance:
        raise WebhookVerificationError(
            f"webhook-timestamp is too old ({int(now - timestamp)} s ago; tolerance {tolerance} s)"
        )
    if timestamp > now + tolerance:
        raise WebhookVerificationError(
            f"webhook-timestamp is too far in the future ({int(timestamp - now)} s ahead; tolerance {tolerance} s)"
        )
    try:
        key = signing_key(secret)
    except ValueError as exc:
        raise WebhookVerificationError(str(exc)) from None
    expected = hmac.new(key, f"{event_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    for candidate in h[WEBHOOK_SIGNATURE_HEADER].split():
        version, _, encoded = candidate.partition(",")
        if version != "v1":
            continue
        try:
            given = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        if hmac.compare_digest(given, expected):
            return
    raise WebhookVerificationError("webhook-signature does not match the body (no valid v1 signature)")


def _verify_legacy(body: bytes, h: dict[str, str], secret: Secret) -> None:
    given = h[SIGNATURE_HEADER.lower()].strip()
    if not given.startswith(LEGACY_PREFIX):
        raise WebhookVerificationError(f"{SIGNATURE_HEADER} must look like 'sha256=<hex>'")
    expected = legacy_signature(body, secret)
    if not hmac.compare_digest(given.lower().encode("ascii", "replace"), expected.encode("ascii")):
        raise WebhookVerificationError(f"{SIGNATURE_HEADER} does not match the body")


def verify_webhook(
    body: bytes,
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    secret: Secret,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    *,
    allow_legacy: bool = False,
    now: float | None = None,
) -> AssemblyStatus:
    """Verify a received webhook over its raw body and return the ``AssemblyStatus`` it carries.

    Standard Webhooks headers are checked when present (timestamp within ``tolerance`` seconds
    either way, any of several space-separated ``v1`` signatures, constant-time comparison);
    ``X-Transflow-Signature`` alone is accepted only with ``allow_legacy=True``: it has no
    timestamp, so a captured delivery stripped of its ``webhook-*`` headers could be replayed
    forever; every delivery carries both, so a receiver using this function never needs it.
    Raises ``WebhookVerificationError`` naming what failed.
    Pass the raw request body: a re-serialized body will not match the Standard signature.
    """
    if isinstance(body, str):
        body = body.encode("utf-8")
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise TypeError("body must be the raw request body (bytes)")
    body = bytes(body)
    if tolerance < 0:
        raise ValueError("tolerance must be >= 0 seconds")
    h = _lower_headers(headers)
    current = time.time() if now is None else now
    if WEBHOOK_SIGNATURE_HEADER in h:
        _verify_standard(body, h, secret, tolerance, current)
    elif SIGNATURE_HEADER.lower() in h:
        if not allow_legacy:
            raise WebhookVerificationError(
                "only X-Transflow-Signature is present and allow_legacy is false (Standard Webhooks headers required)"
            )
        _verify_legacy(body, h, secret)
    else:
        raise WebhookVerificationError(
            f"no signature header: expected {WEBHOOK_SIGNATURE_HEADER} or {SIGNATURE_HEADER}"
        )
    try:
        data: Any = json.loads(body)
    except ValueError:
        raise WebhookVerificationError("the signature is valid but the body is not JSON") from None
    from .models import AssemblyStatus

    try:
        # Lenient like every read: a field another writer stored badly reads as its default.
        return AssemblyStatus.from_item(data)
    except ValueError as exc:
        raise WebhookVerificationError(f"the signature is valid but the body is not an AssemblyStatus: {exc}") from None
