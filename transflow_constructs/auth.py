"""``StatusAuth``: how the HTTP API authenticates callers. Every route uses it; there is no anonymous route."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import aws_cdk as cdk
from aws_cdk import aws_secretsmanager as secretsmanager

from ._validation import check_seconds, is_unresolved

OIDC = "oidc"
SHARED_SECRET = "shared_secret"  # noqa: S105 (a kind name, not a secret)
#: API Gateway's own bounds for a Lambda authorizer's result cache.
MAX_CACHE_TTL_SECONDS = 3600
DEFAULT_CACHE_TTL = cdk.Duration.minutes(5)
#: Amazon API Gateway Developer Guide, "Quotas for configuring and running an HTTP API":
#: audiences per (JWT) authorizer, 50, cannot be increased.
MAX_JWT_AUDIENCES = 50


def _audiences(audience: str | Sequence[str] | None, *, required: bool) -> tuple[str, ...]:
    if audience is None:
        if required:
            raise ValueError("StatusAuth.oidc needs an audience (the client id(s) your identity provider issues)")
        return ()
    if isinstance(audience, str):
        values: tuple[str, ...] = (audience,)
    elif is_unresolved(list(audience)):
        return tuple(audience)  # a list token (a CommaDelimitedList parameter): its elements come at deploy time
    else:
        values = tuple(audience)
    if required and not values:
        raise ValueError("StatusAuth.oidc needs at least one audience")
    if required and len(values) > MAX_JWT_AUDIENCES:
        raise ValueError(
            f"StatusAuth.oidc takes at most {MAX_JWT_AUDIENCES} audiences (API Gateway's quota of audiences per "
            f"JWT authorizer, which cannot be raised), got {len(values)}"
        )
    for value in values:
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"audience values must be non-empty strings, got {value!r}")
        if "," in value and not cdk.Token.is_unresolved(value):
            raise ValueError(f"audience {value!r} must not contain ',' (pass a list of audiences instead)")
    return values


def _check_issuer(issuer: str | None, *, required: bool) -> None:
    if issuer is None:
        if required:
            raise ValueError("StatusAuth.oidc needs an issuer URL")
        return
    if not isinstance(issuer, str) or not issuer:
        raise ValueError("issuer must be a non-empty string")
    if required and not cdk.Token.is_unresolved(issuer):
        parts = urlsplit(issuer)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError(f"StatusAuth.oidc issuer must be an https:// URL (the token's iss), got {issuer!r}")


def audience_string(audience: Sequence[str]) -> str:
    """The audiences as one comma-separated value (a ``Fn::Join`` for a deploy-time list)."""
    if is_unresolved(list(audience)) or any(is_unresolved(a) for a in audience):
        return cdk.Fn.join(",", list(audience))
    return ",".join(audience)


@dataclass(frozen=True)
class StatusAuth:
    """Authentication of the status HTTP API. Build it with :meth:`oidc` or :meth:`shared_secret`."""

    kind: str
    issuer: str | None = None
    audience: tuple[str, ...] = ()
    secret: secretsmanager.ISecret | None = None
    cache_ttl: cdk.Duration = DEFAULT_CACHE_TTL

    @classmethod
    def oidc(cls, issuer: str, audience: str | Sequence[str]) -> StatusAuth:
        """API Gateway's native JWT authorizer for an OpenID Connect provider (Auth0, Cognito, Okta, ...).

        :param issuer: the provider's issuer URL, exactly as in the tokens' ``iss`` claim (``https://``);
            API Gateway fetches its JWKS from ``<issuer>/.well-known/openid-configuration`` and
            accepts only RSA signatures (RS256/RS384/RS512; AWS: "Control access to HTTP APIs with JWT authorizers").
        :param audience: the accepted ``aud`` value(s) (or ``client_id`` for access tokens).

        No Lambda runs for authentication; the status handler reads the user id from the
        validated claims (``user_id_claim``, default ``sub``).
        """
        _check_issuer(issuer, required=True)
        return cls(kind=OIDC, issuer=issuer, audience=_audiences(audience, required=True))

    @classmethod
    def shared_secret(
        cls,
        secret: secretsmanager.ISecret,
        issuer: str | None = None,
        audience: str | Sequence[str] | None = None,
        *,
        cache_ttl: cdk.Duration = DEFAULT_CACHE_TTL,
    ) -> StatusAuth:
        """HS256 tokens signed with a key held in Secrets Manager, checked by a Lambda authorizer.

        :param secret: secret whose ``SecretString`` is the HMAC key. Only its ARN reaches the
            authorizer's environment; the authorizer may read this secret and nothing else.
        :param issuer: when set, tokens must carry this ``iss``. Default: not checked.
        :param audience: when set, tokens must carry one of these ``aud`` values. Default: not checked.
        :param cache_ttl: how long API Gateway caches a decision per ``Authorization`` header
            (0 disables caching, at most 1 hour). Default: 5 minutes. A cached "allow" outlives a
            token's expiry by at most this long.
        """
        if secret is None:
            raise ValueError("StatusAuth.shared_secret needs a secret (secretsmanager.ISecret)")
        _check_issuer(issuer, required=False)
        check_seconds(
            cache_ttl,
            "cache_ttl",
            0,
            MAX_CACHE_TTL_SECONDS,
            why="API Gateway's AuthorizerResultTtlInSeconds: 0 disables caching, at most 1 hour",
        )
        return cls(
            kind=SHARED_SECRET,
            issuer=issuer,
            audience=_audiences(audience, required=False),
            secret=secret,
            cache_ttl=cache_ttl,
        )
