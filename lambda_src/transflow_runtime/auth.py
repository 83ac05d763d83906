"""Shared-secret (HS256) JWT verification and minting.

Used by the shared-secret Lambda authorizer and by local mode, so both accept exactly the same
tokens. The algorithm is pinned to HS256: a token that names ``none``, another HMAC size or an
asymmetric algorithm (the RS/HS confusion attack) is refused before its signature is looked at.
Refusals raise ``TokenError`` with a short machine-readable ``reason``; messages never contain
the token or the secret.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jwt

from .schema import user_id_problem

ALGORITHM = "HS256"
#: Tokens larger than this are refused unparsed (HTTP API headers are limited anyway).
MAX_TOKEN_BYTES = 8 * 1024
DEFAULT_LEEWAY_SECONDS = 30
DEFAULT_TTL_SECONDS = 3600
#: Keys a JSON SecretString may hold the signing secret under (first match wins).
SECRET_JSON_KEYS = ("secret", "jwtSecret", "jwt_secret", "key")

_INVALID_SUBJECT: Any = getattr(jwt.exceptions, "InvalidSubjectError", ())
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


@dataclass(frozen=True)
class Identity:
    """A verified token: the caller's user id and every claim it carried."""

    user_id: str
    claims: dict[str, Any] = field(repr=False)


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
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise TokenError(MALFORMED, "the token header is not valid") from None
    if header.get("alg") != ALGORITHM:
        raise TokenError(BAD_ALGORITHM, f"the token must be signed with {ALGORITHM}")
    key = _as_key(secret)
    audiences = _audiences(audience)
    required = ["exp"]
    if issuer:
        required.append("iss")
    if audiences:
        required.append("aud")
    options: dict[str, Any] = {
        "require": required,
        "verify_signature": True,
        "verify_exp": True,
        "verify_nbf": True,
        "verify_iat": True,
        "verify_iss": bool(issuer),
        "verify_aud": bool(audiences),
    }
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            options=options,  # type: ignore[arg-type]
            issuer=issuer or None,
            audience=audiences,
            leeway=leeway,
        )
    except jwt.ExpiredSignatureError:
        raise TokenError(EXPIRED, "the token has expired") from None
    except jwt.ImmatureSignatureError:
        raise TokenError(NOT_YET_VALID, "the token is not valid yet") from None
    except jwt.InvalidSignatureError:
        raise TokenError(BAD_SIGNATURE, "the token signature is not valid") from None
    except jwt.InvalidIssuerError:
        raise TokenError(BAD_ISSUER, "the token issuer is not accepted") from None
    except jwt.InvalidAudienceError:
        raise TokenError(BAD_AUDIENCE, "the token audience is not accepted") from None
    except jwt.MissingRequiredClaimError as exc:
        raise TokenError(MISSING_CLAIM, f"the token lacks the {exc.claim!r} claim") from None
    except _INVALID_SUBJECT:  # PyJWT >= 2.10 checks that ``sub`` is a string itself
        raise TokenError(BAD_CLAIM, "the token's 'sub' claim is not a string") from None
    except jwt.InvalidAlgorithmError:
        raise TokenError(BAD_ALGORITHM, f"the token must be signed with {ALGORITHM}") from None
    except (jwt.DecodeError, jwt.InvalidTokenError):
        raise TokenError(MALFORMED, "the token is not valid") from None
    if not isinstance(claims, dict):  # pragma: no cover - PyJWT only returns dicts
        raise TokenError(MALFORMED, "the token payload is not a JSON object")
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
    return jwt.encode(claims, _as_key(secret), algorithm=ALGORITHM)
