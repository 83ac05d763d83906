"""HS256 JWS/JWT verification with the standard library only (hmac, hashlib, base64, json).

PyJWT costs the authorizer most of its cold start (it imports ``urllib.request``, ``inspect``-heavy
modules and its whole algorithm table, compiled from source on every Lambda cold start), while the
authorizer needs one algorithm. This module decodes and checks a compact JWS exactly as PyJWT
2.15 does for ``jwt.decode(token, key, algorithms=["HS256"], ...)`` and raises the *same* outcome
as a ``reason`` code (``auth`` maps them), so ``auth.verify_token`` refuses the same tokens for the
same reasons; ``tests/runtime/test_hs256_oracle.py`` holds it to PyJWT as the oracle.

The rules, in the order PyJWT applies them:

* RFC 7515 §7.1 (compact serialization): three base64url segments, each decoded per RFC 7515 §2 /
  RFC 4648 §5 without padding; PyJWT also refuses non-canonical encodings (trailing bits set).
* RFC 7515 §4.1.11 (``crit``): a non-empty list of strings naming extensions this implementation
  understands and that are present; the only one PyJWT understands is ``b64`` (RFC 7797), and a
  token using ``b64: false`` (an unencoded, detached payload) is refused as malformed.
* RFC 7515 §4.1.4 (``kid``): when present, a string.
* RFC 7518 §3.2 (HMAC with SHA-256): the signature over ``header.payload``, compared in constant
  time; a key shorter than 32 bytes is accepted with PyJWT's warning.
* RFC 7519 §7.2: the payload is a JSON object; §4.1.4 ``exp`` (required here), §4.1.5 ``nbf``,
  §4.1.6 ``iat`` as NumericDate with a leeway, §4.1.1 ``iss``, §4.1.3 ``aud`` (a string or a
  list of strings), §4.1.2 ``sub`` and §4.1.7 ``jti`` strings when present.

A key shaped like an asymmetric key or a JWK (which PyJWT refuses as an HMAC secret with
``InvalidKeyError``, an exception, not a refusal) is handed to PyJWT's own check, imported only then.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

ALGORITHM = "HS256"
#: Extensions PyJWT understands in ``crit`` (RFC 7797's ``b64``).
SUPPORTED_CRIT = frozenset({"b64"})
_SSH_PREFIXES = (b"ssh-ed25519", b"ssh-rsa", b"ssh-dss", b"ecdsa-sha2-nistp256", b"ecdsa-sha2-nistp384",
                 b"ecdsa-sha2-nistp521")

# Outcomes (auth.py maps them to its refusal reasons).
MALFORMED = "malformed"
BAD_ALGORITHM = "bad_algorithm"
BAD_SIGNATURE = "bad_signature"
EXPIRED = "expired"
NOT_YET_VALID = "not_yet_valid"
BAD_ISSUER = "bad_issuer"
BAD_AUDIENCE = "bad_audience"
MISSING_CLAIM = "missing_claim"
BAD_SUBJECT = "bad_subject"


class InsecureKeyLengthWarning(UserWarning):
    """An HMAC key shorter than the hash output (RFC 7518 §3.2); PyJWT warns the same way."""


class Refused(Exception):
    """The token is refused: ``outcome`` is one of the codes above, ``claim`` names a missing claim."""

    def __init__(self, outcome: str, claim: str | None = None) -> None:
        super().__init__(outcome)
        self.outcome = outcome
        self.claim = claim


def _segment(segment: bytes) -> bytes:
    """One base64url segment (RFC 7515 §2): unpadded, canonical (as PyJWT checks it)."""
    stripped = segment.rstrip(b"=")
    padding = len(segment) - len(stripped)
    if padding > 2 or (padding and len(segment) % 4) or len(stripped) % 4 == 1:
        raise Refused(MALFORMED)
    try:
        decoded = base64.urlsafe_b64decode(stripped + b"=" * (-len(stripped) % 4))
    except (TypeError, binascii.Error):  # pragma: no cover - the alphabet is checked by the caller
        raise Refused(MALFORMED) from None
    if base64.urlsafe_b64encode(decoded).rstrip(b"=") != stripped:
        raise Refused(MALFORMED)
    return decoded


def _json_object(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        raise Refused(MALFORMED) from None
    if not isinstance(value, dict):
        raise Refused(MALFORMED)
    return value


def parse(token: str) -> tuple[dict[str, Any], bytes, bytes, bytes]:
    """(header, signing input, payload bytes, signature) of a compact JWS; the header validated."""
    raw = token.encode("utf-8")
    signing_input, _, crypto = raw.rpartition(b".")
    header_segment, dot, payload_segment = signing_input.partition(b".")
    if not dot:
        raise Refused(MALFORMED)
    header = _json_object(_segment(header_segment))
    if header.get("b64", True) is False:  # RFC 7797: the compact form's payload segment must be empty
        if payload_segment:
            raise Refused(MALFORMED)
        payload = b""
    else:
        payload = _segment(payload_segment)
    signature = _segment(crypto)
    if "kid" in header and not isinstance(header["kid"], str):
        raise Refused(MALFORMED)
    if "crit" in header:
        crit = header["crit"]
        if not isinstance(crit, list) or not crit:
            raise Refused(MALFORMED)
        for ext in crit:
            if not isinstance(ext, str) or ext not in SUPPORTED_CRIT or ext not in header:
                raise Refused(MALFORMED)
    return header, signing_input, payload, signature


def _der_shaped(key: bytes) -> bool:
    """A DER SEQUENCE whose outer length matches the key's (X.690 §8.1.3): only such bytes can parse as
    a DER key or certificate. A text secret that merely starts with ``0`` (0x30) is not one."""
    if len(key) < 2 or key[0] != 0x30:
        return False
    first = key[1]
    if first < 0x80:
        return len(key) == 2 + first
    count = first & 0x7F
    if count == 0 or len(key) < 2 + count:
        return False
    return len(key) == 2 + count + int.from_bytes(key[2:2 + count], "big")


def _check_key(key: bytes) -> None:
    """PyJWT refuses keys shaped like PEM, SSH, DER or JWK as HMAC secrets: let it decide those."""
    head = key.lstrip(b"\xef\xbb\xbf \t\r\n")
    suspicious = (b"-----" in key or key.startswith(_SSH_PREFIXES) or head[:1] in (b"{", b"[") or _der_shaped(key)
                  or key[:1] in (b"\x00", b"\xfe", b"\xff") or key[1:2] == b"\x00")  # UTF-16/32 JSON
    if suspicious:
        from jwt.algorithms import HMACAlgorithm  # rare path: the exact rule, from its owner

        HMACAlgorithm(HMACAlgorithm.SHA256).prepare_key(key)
    if len(key) < hashlib.sha256().digest_size:
        warnings.warn(
            f"The HMAC key is {len(key)} bytes long, which is below the minimum recommended length of 32 bytes "
            "for SHA256. See RFC 7518 Section 3.2.",
            InsecureKeyLengthWarning,
            stacklevel=4,
        )


def _int_claim(payload: dict[str, Any], name: str) -> int:
    try:
        return int(payload[name])
    except (ValueError, TypeError, OverflowError):
        raise Refused(MALFORMED) from None


def decode(
    token: str,
    key_of: Callable[[], bytes],
    *,
    required: Sequence[str],
    issuer: str | None,
    audiences: list[str] | None,
    leeway: float,
    now: float | None = None,
) -> dict[str, Any]:
    """The verified claims of an HS256 token; raises ``Refused`` (PyJWT's order of checks).

    ``key_of`` gives the key once the algorithm is known to be HS256 (its own errors propagate)."""
    header, signing_input, payload_bytes, signature = parse(token)
    if header.get("alg") != ALGORITHM:
        raise Refused(BAD_ALGORITHM)
    if header.get("b64", True) is False:
        raise Refused(MALFORMED)  # an unencoded, detached payload (RFC 7797): PyJWT needs it passed in
    key = key_of()
    _check_key(key)
    if not hmac.compare_digest(hmac.new(key, signing_input, hashlib.sha256).digest(), signature):
        raise Refused(BAD_SIGNATURE)
    payload = _json_object(payload_bytes)
    for claim in required:
        if payload.get(claim) is None:
            raise Refused(MISSING_CLAIM, claim)
    now = time.time() if now is None else now
    if "iat" in payload and _int_claim(payload, "iat") > now + leeway:
        raise Refused(NOT_YET_VALID)
    if "nbf" in payload and _int_claim(payload, "nbf") > now + leeway:
        raise Refused(NOT_YET_VALID)
    if "exp" in payload and _int_claim(payload, "exp") <= now - leeway:
        raise Refused(EXPIRED)
    if issuer:
        if "iss" not in payload:
            raise Refused(MISSING_CLAIM, "iss")
        if payload["iss"] != issuer:  # a non-string is unequal too (PyJWT: InvalidIssuerError)
            raise Refused(BAD_ISSUER)
    if audiences:
        claim = payload.get("aud")
        if not claim:
            raise Refused(MISSING_CLAIM, "aud")
        claims = [claim] if isinstance(claim, str) else claim
        if not isinstance(claims, list) or any(not isinstance(c, str) for c in claims):
            raise Refused(BAD_AUDIENCE)
        if all(a not in claims for a in audiences):
            raise Refused(BAD_AUDIENCE)
    if "sub" in payload and not isinstance(payload["sub"], str):
        raise Refused(BAD_SUBJECT)
    if "jti" in payload and not isinstance(payload["jti"], str):
        raise Refused(MALFORMED)
    return payload
