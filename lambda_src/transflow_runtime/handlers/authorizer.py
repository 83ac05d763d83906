"""Shared-secret JWT authorizer for the HTTP API (payload 2.0, simple responses).

Verifies ``Authorization: Bearer <token>`` with ``auth.verify_token`` (HS256 pinned, exp/nbf with
leeway, iss/aud when configured) against a secret read from Secrets Manager and cached for
``SECRET_TTL_SECONDS``. Answers ``{"isAuthorized": true, "context": {"userId": ...}}`` or
``{"isAuthorized": false}``; API Gateway turns a denial into ``403 {"message": "Forbidden"}``
(and answers a request without the header with 401 before calling this function).

If the secret cannot be read the function raises, so API Gateway answers 500 instead of
denying every caller with a misleading 403; the cause is logged, never the token or the secret.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from typing import Any, NamedTuple

from .. import aws, schema, telemetry
from ..auth import (
    BAD_SIGNATURE,
    DEFAULT_LEEWAY_SECONDS,
    TokenError,
    bearer_token,
    secret_from_value,
    verify_token,
)
from ..aws import deadlines

#: How long a fetched secret is trusted before it is read again (rotation takes effect within it).
SECRET_TTL_SECONDS = 300
#: A signature failure re-reads the secret (it may just have been rotated), at most this often.
MIN_REFRESH_SECONDS = 30
METRIC_NAME = "AuthorizerDecisions"
METRIC_DIMENSION = "Result"


def _make_client(service: str) -> Any:
    """The AWS client (light on Lambda, else boto3; see ``transflow_runtime.aws``), or None."""
    try:
        return aws.client(service)
    except Exception:  # no region yet (tests, local tools): created on first use
        return None


# Import-time objects are permanent: keep the cyclic GC from re-scanning them (see status.py).
gc.freeze()
_secrets: Any = _make_client("secretsmanager")
gc.freeze()


class _Config(NamedTuple):
    secret_arn: str
    issuer: str | None
    audience: tuple[str, ...] | None
    user_id_claim: str
    namespace: str


_config_cache: _Config | None = None
_secret_cache: tuple[bytes, float] | None = None  # (key, monotonic time fetched)
_lock = threading.Lock()
_clock = time.monotonic  # replaced by tests to age the cached secret


class AuthorizerConfigError(RuntimeError):
    """The authorizer cannot work (no secret ARN, unreadable or unusable secret)."""


def _config() -> _Config:
    global _config_cache
    if _config_cache is None:
        env = os.environ
        arn = env.get(schema.ENV_JWT_SECRET_ARN, "").strip()
        if not arn:
            raise AuthorizerConfigError(f"{schema.ENV_JWT_SECRET_ARN} is not set")
        audience = tuple(a.strip() for a in env.get(schema.ENV_JWT_AUDIENCE, "").split(",") if a.strip())
        _config_cache = _Config(
            secret_arn=arn,
            issuer=env.get(schema.ENV_JWT_ISSUER, "").strip() or None,
            audience=audience or None,
            user_id_claim=env.get(schema.ENV_USER_ID_CLAIM, "").strip() or schema.DEFAULT_USER_ID_CLAIM,
            namespace=env.get(schema.ENV_METRICS_NAMESPACE, "").strip() or schema.DEFAULT_METRICS_NAMESPACE,
        )
    return _config_cache


def reset_for_tests(*, secrets_client: Any = None) -> None:
    """Forget the cached environment and secret; rebuild (or replace) the Secrets Manager client."""
    global _config_cache, _secret_cache, _secrets
    _config_cache = None
    _secret_cache = None
    _secrets = secrets_client if secrets_client is not None else _make_client("secretsmanager")


def _fetch_secret(arn: str) -> bytes:
    global _secrets
    if _secrets is None:
        _secrets = aws.client("secretsmanager")
    try:
        response = _secrets.get_secret_value(SecretId=arn)
    except Exception as exc:
        raise AuthorizerConfigError(f"cannot read the JWT secret: {type(exc).__name__}") from exc
    value = response.get("SecretString")
    if value is None:
        value = response.get("SecretBinary")
    if value is None:
        raise AuthorizerConfigError("the JWT secret has no value")
    try:
        return secret_from_value(value)
    except ValueError as exc:
        raise AuthorizerConfigError(f"the JWT secret is unusable: {exc}") from None


def _secret(config: _Config, *, refresh_if_older_than: float | None = None) -> tuple[bytes, bool]:
    """(key, refreshed): the cached key, re-read after its TTL (or when asked and old enough)."""
    global _secret_cache
    with _lock:
        now = _clock()
        if _secret_cache is not None:
            key, fetched = _secret_cache
            age = now - fetched
            stale = age >= SECRET_TTL_SECONDS
            wanted = refresh_if_older_than is not None and age >= refresh_if_older_than
            if not stale and not wanted:
                return key, False
        key = _fetch_secret(config.secret_arn)
        _secret_cache = (key, now)
        return key, True


def _log(
    config: _Config | None, result: str, user_id: str | None, request_id: str | None, api_request_id: str | None
) -> None:
    """One structured line per decision, also an embedded-metric count by result. No tokens.

    ``request_id`` is this invocation's (Lambda's); ``api_request_id`` is API Gateway's, the one
    in the access log and in the status function's lines for the same request."""
    namespace = config.namespace if config else schema.DEFAULT_METRICS_NAMESPACE
    telemetry.write(
        telemetry.metric_record(
            namespace,
            {METRIC_NAME: 1},
            dimensions={METRIC_DIMENSION: result},
            event="authorizer_decision",
            result=result,
            user_id=user_id,
            request_id=request_id,
            api_request_id=api_request_id,
        )
    )


def _header(event: Any) -> Any:
    """The Authorization value: the request's headers, else the configured identity source."""
    if not isinstance(event, dict):
        return None
    headers = event.get("headers")
    if isinstance(headers, dict):
        for name, value in headers.items():
            if isinstance(name, str) and name.lower() == "authorization":
                return value
    sources = event.get("identitySource")
    if isinstance(sources, list) and sources:
        return sources[0]
    return None


def _api_request_id(event: Any) -> str | None:
    """API Gateway's request id from the event (bounded: it is copied into every decision line)."""
    context = event.get("requestContext") if isinstance(event, dict) else None
    value = context.get("requestId") if isinstance(context, dict) else None
    return value[:128] if isinstance(value, str) else None


def _deny() -> dict[str, Any]:
    return {"isAuthorized": False}


def handler(event: Any, context: Any = None) -> dict[str, Any]:
    """Lambda entry point (HTTP API Lambda authorizer, payload 2.0, simple response)."""
    request_id = getattr(context, "aws_request_id", None)
    request_id = request_id if isinstance(request_id, str) else None
    with deadlines.for_invocation(context):  # a slow Secrets Manager fails, logged, before Lambda's timeout
        return _authorize(event, request_id)


def _authorize(event: Any, request_id: str | None) -> dict[str, Any]:
    api_request_id = _api_request_id(event)
    config = _config()  # a missing secret ARN is a deployment error: raise (API Gateway -> 500)
    try:
        token = bearer_token(_header(event))
    except TokenError as exc:
        _log(config, exc.reason, None, request_id, api_request_id)
        return _deny()
    key, refreshed = _secret(config)
    kwargs: dict[str, Any] = {
        "issuer": config.issuer,
        "audience": config.audience,
        "user_id_claim": config.user_id_claim,
        "leeway": DEFAULT_LEEWAY_SECONDS,
    }
    try:
        identity = verify_token(token, key, **kwargs)
    except TokenError as exc:
        if exc.reason != BAD_SIGNATURE or refreshed:
            _log(config, exc.reason, None, request_id, api_request_id)
            return _deny()
        # The secret may have been rotated since we cached it: re-read once (rate-limited).
        new_key, refreshed = _secret(config, refresh_if_older_than=MIN_REFRESH_SECONDS)
        if not refreshed or new_key == key:
            _log(config, exc.reason, None, request_id, api_request_id)
            return _deny()
        try:
            identity = verify_token(token, new_key, **kwargs)
        except TokenError as retry_exc:
            _log(config, retry_exc.reason, None, request_id, api_request_id)
            return _deny()
    _log(config, "allowed", identity.user_id, request_id, api_request_id)
    return {"isAuthorized": True, "context": {schema.AUTHORIZER_CONTEXT_USER_KEY: identity.user_id}}
