"""The HTTP API's authorizers as API Gateway runs them.

JWT authorizer (AWS: "Control access to HTTP APIs with JWT authorizers in API Gateway"): the token
is taken from the identity source (alone or after ``Bearer``), its ``kid`` must name a key of the
JWKS that the issuer's discovery document points to (fetched from the issuer, cached, fetched again
for an unknown ``kid``), the algorithm must be RSA-based, the signature valid, ``iss`` equal to the
configured issuer, ``aud`` (or, without ``aud``, ``client_id``) one of the audiences, ``exp`` in
the future, ``nbf`` and ``iat`` in the past, and when the route has authorization scopes the
token's ``scope``/``scp`` must hold one of them. Any failure is API Gateway's 401
``{"message":"Unauthorized"}`` (403 ``Forbidden`` for missing scopes); the claims reach the
function as ``requestContext.authorizer.jwt`` with every value a string, as API Gateway passes them.

Lambda authorizer (REQUEST, payload 2.0, simple responses): the function runs in its own
environment; a request missing an identity source is answered 401 without calling it; results are
cached per identity-source value for the template's TTL.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

from .providers import AuthorizerSpec

log = logging.getLogger("transflow.local")

#: API Gateway's JWT authorizer: "Currently, only RSA-based algorithms are supported".
JWT_ALGORITHMS = ("RS256", "RS384", "RS512")
JWKS_CACHE_SECONDS = 3600
#: An unknown ``kid`` fetches the JWKS again, at most this often.
JWKS_REFETCH_SECONDS = 10
FETCH_TIMEOUT_SECONDS = 5


@dataclass
class Decision:
    """``status`` 200 lets the request through with ``context`` for ``requestContext.authorizer``."""

    status: int
    context: dict[str, Any] | None = None
    reason: str = ""
    www_authenticate: str | None = None


def identity_values(sources: list[str], headers: dict[str, str], query: dict[str, str]) -> list[str] | None:
    """The identity source values (``$request.header.X``, ``$request.querystring.X``); ``None`` if one is missing."""
    values = []
    for source in sources:
        if source.startswith("$request.header."):
            value = headers.get(source.removeprefix("$request.header.").lower())
        elif source.startswith("$request.querystring."):
            value = query.get(source.removeprefix("$request.querystring."))
        else:
            value = None
        if not value:
            return None
        values.append(value)
    return values


def claim_text(value: Any) -> str:
    """A claim as API Gateway hands it to the integration: always a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return "[" + " ".join(claim_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


class JwtAuthorizer:
    def __init__(self, spec: AuthorizerSpec, *, issuer: str | None = None) -> None:
        self.spec = spec
        #: ``--oidc-issuer`` replaces the template's issuer (the tokens' ``iss`` then names it).
        self.issuer = issuer or spec.issuer or ""
        self._keys: dict[str, Any] = {}
        self._fetched = 0.0
        self._lock = threading.Lock()

    # ---------------------------------------------------------------------------------- keys
    def _fetch(self) -> None:
        base = self.issuer.rstrip("/")
        with urllib.request.urlopen(base + "/.well-known/openid-configuration", timeout=FETCH_TIMEOUT_SECONDS) as r:  # noqa: S310
            discovery = json.loads(r.read())
        jwks_uri = discovery.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
            raise ValueError("the issuer's discovery document has no jwks_uri")
        with urllib.request.urlopen(jwks_uri, timeout=FETCH_TIMEOUT_SECONDS) as r:  # noqa: S310
            jwks = json.loads(r.read())
        import jwt

        keys = {}
        for key in jwks.get("keys") or []:
            if isinstance(key, dict) and key.get("kid") and key.get("kty") == "RSA" and key.get("use", "sig") == "sig":
                try:
                    keys[str(key["kid"])] = jwt.PyJWK(key)
                except jwt.PyJWTError:
                    continue
        self._keys = keys
        self._fetched = time.monotonic()

    def _key(self, kid: str) -> Any:
        with self._lock:
            age = time.monotonic() - self._fetched
            if not self._fetched or age > JWKS_CACHE_SECONDS or (kid not in self._keys and age > JWKS_REFETCH_SECONDS):
                try:
                    self._fetch()
                except (OSError, ValueError) as exc:
                    log.warning("JWT authorizer: cannot read the issuer's keys from %s: %s", self.issuer, exc)
            return self._keys.get(kid)

    # ---------------------------------------------------------------------------------- checks
    def authorize(self, headers: dict[str, str], query: dict[str, str], scopes: list[str]) -> Decision:
        values = identity_values(self.spec.identity_source, headers, query)
        if values is None:
            return self._unauthorized("no token in the identity source")
        token = values[0].strip()
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        import jwt

        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return self._unauthorized("the token is not a JWT")
        algorithm, kid = header.get("alg"), header.get("kid")
        if algorithm not in JWT_ALGORITHMS:
            return self._unauthorized(f"signing algorithm {algorithm!r} is not supported")
        if not kid:
            return self._unauthorized("the token has no kid")
        key = self._key(str(kid))
        if key is None:
            return self._unauthorized("no key of the issuer matches the token's kid")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[algorithm],
                leeway=0,
                options={"require": ["exp"], "verify_aud": False, "verify_iss": False, "verify_iat": True},
            )
        except jwt.ExpiredSignatureError:
            return self._unauthorized("the token has expired")
        except jwt.ImmatureSignatureError:
            return self._unauthorized("the token is not valid yet")
        except jwt.PyJWTError:
            return self._unauthorized("the token's signature or claims are not valid")
        if claims.get("iss") != self.issuer:
            return self._unauthorized("the token's issuer is not accepted")
        audience = claims.get("aud")
        offered = (
            (audience if isinstance(audience, list) else [audience])
            if audience is not None
            else [claims.get("client_id")]
        )
        if not set(map(str, filter(None, offered))) & set(self.spec.audience):
            return self._unauthorized("the token's audience is not accepted")
        granted = _scopes(claims)
        if scopes and not set(scopes) & set(granted):
            return Decision(
                403,
                reason="the token has none of the route's scopes",
                www_authenticate=f'Bearer scope="{" ".join(scopes)}" error="insufficient_scope" '
                'error_description="the token does not have the required scopes"',
            )
        return Decision(
            200, {"jwt": {"claims": {k: claim_text(v) for k, v in claims.items()}, "scopes": granted or None}}
        )

    @staticmethod
    def _unauthorized(reason: str) -> Decision:
        return Decision(
            401, reason=reason, www_authenticate=f'Bearer error="invalid_token" error_description="{reason}"'
        )


def _scopes(claims: dict[str, Any]) -> list[str]:
    raw = claims.get("scope", claims.get("scp"))
    if isinstance(raw, str):
        return raw.split()
    if isinstance(raw, list):
        return [str(s) for s in raw]
    return []


class LambdaAuthorizer:
    """``invoke(event) -> Invocation`` runs the authorizer function in its own environment."""

    def __init__(self, spec: AuthorizerSpec, invoke: Any) -> None:
        self.spec = spec
        self._invoke = invoke
        self._cache: dict[tuple[str, ...], tuple[float, Decision]] = {}
        self._lock = threading.Lock()

    def authorize(self, event: dict[str, Any], route_arn: str) -> Decision:
        values = identity_values(
            self.spec.identity_source, event.get("headers") or {}, event.get("queryStringParameters") or {}
        )
        if values is None:
            return Decision(401, reason="no identity source")  # API Gateway answers without the function
        key = tuple(values)
        ttl = self.spec.result_ttl
        if ttl > 0:
            with self._lock:
                cached = self._cache.get(key)
                if cached is not None and cached[0] > time.monotonic():
                    return cached[1]
        request = {
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": route_arn,
            "identitySource": values,
            **{k: v for k, v in event.items() if k not in ("body", "isBase64Encoded", "version")},
        }
        outcome = self._invoke(request)
        if not outcome.ok:
            return Decision(500, reason=f"the authorizer failed: {outcome.payload.get('errorType')}")
        decision = self._decision(outcome.payload)
        if ttl > 0 and decision.status in (200, 403):
            with self._lock:
                self._cache[key] = (time.monotonic() + ttl, decision)
        return decision

    def _decision(self, result: Any) -> Decision:
        if not isinstance(result, dict):
            return Decision(500, reason="the authorizer's response is not an object")
        if self.spec.simple_responses:
            if result.get("isAuthorized") is True:
                return Decision(200, {"lambda": dict(result.get("context") or {})})
            return Decision(403, reason="the authorizer denied the request")
        statements = ((result.get("policyDocument") or {}).get("Statement")) or []
        allowed = any(s.get("Effect") == "Allow" for s in statements) and not any(
            s.get("Effect") == "Deny" for s in statements
        )
        if allowed:
            return Decision(
                200, {"lambda": dict(result.get("context") or {}), "principalId": result.get("principalId")}
            )
        return Decision(403, reason="the authorizer's policy denies the request")
