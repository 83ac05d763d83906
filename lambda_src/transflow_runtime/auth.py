"""Shared-secret (HS256) JWT verification and minting.

Used by the shared-secret Lambda authorizer and by local mode, so both accept exactly the same
tokens. The algorithm is pinned to HS256: a token that names ``none``, another HMAC size or an
asymmetric algorithm (the RS/HS confusion attack) is refused before its signature is looked at.
Refusals raise ``TokenError`` with a short machine-readable ``reason``; messages never contain
the token or the secret.

Verification uses the standard library (``_hs256``, RFC 7515/7519, held to PyJWT as the oracle by
``tests/runtime/test_hs256_oracle.py``): PyJWT and what it imports were most of the authorizer's
cold start. Minting (tests, local mode, users' tools) still uses PyJWT, imported when called.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from . import _hs256
from .schema import user_id_problem

ALGORITHM = "HS256"
#: Tokens larger than this are refused unparsed (HTTP API headers are limited anyway).
MAX_TOKEN_BYTES = 8 * 1024
DEFAULT_LEEWAY_SECONDS = 30
DEFAULT_TTL_SECONDS = 3600
#: Keys a JSON SecretString may hold the signing secret under (first match wins).
SECRET_JSON_KEYS = ("secret", "jwtSecret", "jwt_secret", "key")

_BEARER_RE = re.compile(r"^\s*bearer[ \t]+([^\s]+)\s*$", re.IGNORECASE)
_JWS_RE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")


class TokenError(Exception):
    """A token was refused. ``reason`` is one of the short codes below (safe to log)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


# Refusal reasons (logged by the authorizer, counted in metrics).
MISSING = "missing"
MALFORMED = "malformed"
OVERSIZED = "oversized"
BAD_ALGORITHM = "bad_algorithm"
BAD_SIGNATURE = "bad_signature"
EXPIRED = "expired"
NOT_YET_VALID = "not_yet_valid"
BAD_ISSUER = "bad_issuer"
BAD_AUDIENCE = "bad_audience"
MISSING_CLAIM = "missing_claim"
BAD_CLAIM = "bad_claim"


class Identity:
    """A verified token: the caller's user id and every claim it carried (immutable; claims not in repr).

    A plain class rather than a dataclass: ``dataclasses`` (and the ``inspect`` it imports) is a
    measurable part of the authorizer's cold start, compiled from source on Lambda."""

    __slots__ = ("claims", "user_id")
    user_id: str
    claims: dict[str, Any]

    def __init__(self, user_id: str, claims: dict[str, Any]) -> None:
        object.__setattr__(self, "user_id", user_id)
        object.__setattr__(self, "claims", claims)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (self.user_id, self.claims) == (other.user_id, other.claims)  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((self.user_id, self.claims))  # a dict: unhashable, as the frozen dataclass was

    def __repr__(self) -> str:
        return f"Identity(user_id={self.user_id!r})"


def bearer_token(header: str | None) -> str:
    """The token in an ``Authorization: Bearer <token>`` value (scheme case-insensitive)."""
    if header is None or (isinstance(header, str) and not header.strip()):
        raise TokenError(MISSING, "no Authorization header")
    if not isinstance(header, str):
        raise TokenError(MALFORMED, "the Authorization header is not text")
    if len(header) > MAX_TOKEN_BYTES + 64:
        raise TokenError(OVERSIZED, f"the token is larger than {MAX_TOKEN_BYTES} bytes")
    match = _BEARER_RE.match(header)
    if not match:
        raise TokenError(MALFORMED, "the Authorization header must be 'Bearer <token>'")
    return match.group(1)


def secret_from_value(value: str | bytes) -> bytes:
    """The signing key from a Secrets Manager value.

    A plain SecretString is the secret itself. A JSON object is accepted too, the key read from
    the first of ``SECRET_JSON_KEYS`` it has (so a secret generated as ``{"secret": "..."}`` by
    ``generateSecretString`` works). Raises ``ValueError`` naming the problem, never the value.
    """
    if isinstance(value, bytes):
        raw = value
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            text = None
    else:
        text, raw = value, value.encode("utf-8")
    if text is not None and text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            for key in SECRET_JSON_KEYS:
                candidate = data.get(key)
                if isinstance(candidate, str) and candidate:
                    return candidate.encode("utf-8")
            raise ValueError(f"the JSON secret has none of the keys {list(SECRET_JSON_KEYS)} with a string value")
    if not raw:
        raise ValueError("the secret is empty")
    return raw


def _as_key(secret: str | bytes) -> bytes:
    key = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    if not key:
        raise ValueError("the signing secret must not be empty")
    return key


def _audiences(audience: str | Iterable[str] | None) -> list[str] | None:
    if audience is None:
        return None
    values = [audience] if isinstance(audience, str) else list(audience)
    values = [a.strip() for a in values if isinstance(a, str) and a.strip()]
    return values or None


#: ``_hs256`` outcome -> (reason, message); the messages PyJWT's exceptions were mapped to before.
_REFUSALS = {
    _hs256.MALFORMED: (MALFORMED, "the token is not valid"),
    _hs256.BAD_ALGORITHM: (BAD_ALGORITHM, f"the token must be signed with {ALGORITHM}"),
    _hs256.BAD_SIGNATURE: (BAD_SIGNATURE, "the token signature is not valid"),
    _hs256.EXPIRED: (EXPIRED, "the token has expired"),
    _hs256.NOT_YET_VALID: (NOT_YET_VALID, "the token is not valid yet"),
    _hs256.BAD_ISSUER: (BAD_ISSUER, "the token issuer is not accepted"),
    _hs256.BAD_AUDIENCE: (BAD_AUDIENCE, "the token audience is not accepted"),
    _hs256.BAD_SUBJECT: (BAD_CLAIM, "the token's 'sub' claim is not a string"),
}


def _token_error(refused: _hs256.Refused) -> TokenError:
    if refused.outcome == _hs256.MISSING_CLAIM:
        return TokenError(MISSING_CLAIM, f"the token lacks the {refused.claim!r} claim")
    reason, message = _REFUSALS[refused.outcome]
    return TokenError(reason, message)


def verify_token(
    token: str,
    secret: str | bytes,
    *,
    issuer: str | None = None,
    audience: str | Sequence[str] | None = None,
    user_id_claim: str = "sub",
    leeway: float = DEFAULT_LEEWAY_SECONDS,
) -> Identity:
    """Verify an HS256 token and return the caller's identity; raises ``TokenError``.

    Checks: compact JWS shape and size, ``alg`` exactly HS256, the signature, ``exp`` (required)
    and ``nbf``/``iat`` with ``leeway`` seconds, ``iss`` when ``issuer`` is given, ``aud`` when
    ``audience`` is given (any one of several), and a user id in ``user_id_claim`` that passes
    ``schema.user_id_problem`` (a non-blank string of at most 1,024 bytes of UTF-8; a number is
    refused, not converted). Without a configured audience the ``aud`` claim is not checked.
    """
    if not isinstance(token, str) or not token:
        raise TokenError(MISSING, "no token")
    if len(token) > MAX_TOKEN_BYTES:
        raise TokenError(OVERSIZED, f"the token is larger than {MAX_TOKEN_BYTES} bytes")
    if not token.isascii() or not _JWS_RE.match(token):
        raise TokenError(MALFORMED, "the token is not a compact JWS (header.payload.signature)")
    audiences = _audiences(audience)
    required = ["exp"]
    if issuer:
        required.append("iss")
    if audiences:
        required.append("aud")
    try:  # the key is checked after the algorithm, as before (an empty secret raises ValueError)
        claims = _hs256.decode(token, lambda: _as_key(secret), required=required, issuer=issuer or None,
                               audiences=audiences, leeway=leeway)
    except _hs256.Refused as refused:
        raise _token_error(refused) from None
    user = claims.get(user_id_claim)
    if user is None:
        raise TokenError(MISSING_CLAIM, f"the token lacks the {user_id_claim!r} claim")
    problem = user_id_problem(user)  # the status function applies the same rule
    if problem is not None:
        raise TokenError(BAD_CLAIM, f"the token's {user_id_claim!r} claim {problem}")
    return Identity(user_id=user, claims=claims)


def mint_token(
    secret: str | bytes,
    user_id: str,
    *,
    ttl: float = DEFAULT_TTL_SECONDS,
    issuer: str | None = None,
    audience: str | Sequence[str] | None = None,
    user_id_claim: str = "sub",
    extra_claims: Mapping[str, Any] | None = None,
    now: float | None = None,
) -> str:
    """An HS256 token for ``user_id`` (development, tests, local mode), valid for ``ttl`` seconds."""
    problem = user_id_problem(user_id)
    if problem in ("is not a string", "is empty"):
        raise ValueError("user_id must be a non-empty string")
    if problem is not None:
        raise ValueError(f"user_id {problem}")
    if ttl <= 0:
        raise ValueError("ttl must be positive")
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = dict(extra_claims or {})
    claims.update({user_id_claim: user_id, "iat": issued, "nbf": issued, "exp": issued + int(ttl)})
    if issuer:
        claims["iss"] = issuer
    audiences = _audiences(audience)
    if audiences:
        claims["aud"] = audiences[0] if len(audiences) == 1 else audiences
    import jwt  # minting is not on the authorizer's path

    return jwt.encode(claims, _as_key(secret), algorithm=ALGORITHM)
