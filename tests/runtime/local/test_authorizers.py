"""The JWT authorizer's route scopes and the claims it hands the function, as API Gateway does
("Control access to HTTP APIs with JWT authorizers": the token must include at least one of the
route's scopes, in ``scope`` or ``scp``; the integration receives the claims and scopes in
``requestContext.authorizer.jwt``, every claim value as a string)."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from transflow_runtime.local.authorizers import JwtAuthorizer
from transflow_runtime.local.dev_issuer import PATH, DevIssuer
from transflow_runtime.local.providers import AuthorizerSpec


@pytest.fixture
def issuer(httpserver):
    dev = DevIssuer(httpserver.url_for("/").rstrip("/"), "client-1")
    httpserver.expect_request(PATH + "/.well-known/openid-configuration").respond_with_json(dev.discovery())
    httpserver.expect_request(PATH + "/.well-known/jwks.json").respond_with_json(dev.jwks())
    return dev


def _authorizer(dev: DevIssuer) -> JwtAuthorizer:
    spec = AuthorizerSpec(logical_id="A", kind="JWT", identity_source=["$request.header.Authorization"],
                          issuer=dev.issuer, audience=["client-1"])
    return JwtAuthorizer(spec)


def test_route_scopes_need_one_of_them_in_the_token(issuer):
    authorizer = _authorizer(issuer)
    without = issuer.mint("u1")
    decision = authorizer.authorize({"authorization": f"Bearer {without}"}, {}, ["status:read"])
    assert decision.status == 403 and "insufficient_scope" in (decision.www_authenticate or "")
    with_scope = issuer.mint("u1", scopes=["status:read", "other"])
    decision = authorizer.authorize({"authorization": f"Bearer {with_scope}"}, {}, ["status:read", "status:write"])
    assert decision.status == 200
    assert decision.context["jwt"]["scopes"] == ["status:read", "other"]


def test_claims_reach_the_function_as_strings_and_client_id_stands_in_for_a_missing_aud(issuer):
    authorizer = _authorizer(issuer)
    now = int(time.time())
    key = issuer._key
    claims = {"iss": issuer.issuer, "client_id": "client-1", "sub": "u2", "exp": now + 60, "iat": now,
              "groups": ["a", "b"], "admin": True, "level": 3}
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": issuer.kid})
    decision = authorizer.authorize({"authorization": token}, {}, [])  # the token alone, without Bearer
    assert decision.status == 200
    passed = decision.context["jwt"]["claims"]
    assert passed["sub"] == "u2" and passed["exp"] == str(now + 60) and passed["level"] == "3"
    assert passed["admin"] == "true" and passed["groups"] == "[a b]"
    assert all(isinstance(v, str) for v in passed.values())
    json.dumps(decision.context)


def test_nbf_in_the_future_and_a_missing_exp_are_refused(issuer):
    authorizer = _authorizer(issuer)
    now = int(time.time())
    base = {"iss": issuer.issuer, "aud": "client-1", "sub": "u3"}
    early = jwt.encode({**base, "exp": now + 600, "nbf": now + 300}, issuer._key, algorithm="RS256",
                       headers={"kid": issuer.kid})
    forever = jwt.encode(base, issuer._key, algorithm="RS256", headers={"kid": issuer.kid})
    for token in (early, forever):
        assert authorizer.authorize({"authorization": f"Bearer {token}"}, {}, []).status == 401
