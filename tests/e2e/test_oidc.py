"""The template's JWT authorizer, emulated as API Gateway runs it, against a standalone OpenID
Connect issuer started by the test (``oidc-provider-mock``, not this project's token code).

AWS: "Control access to HTTP APIs with JWT authorizers in API Gateway": the token's ``kid`` must
match a key of the issuer's JWKS (found through its discovery document), only RSA-based
algorithms, ``iss`` must be the issuer, ``aud`` (or ``client_id``) one of the audiences, ``exp``
after, ``nbf``/``iat`` before now; a refusal is 401 ``{"message":"Unauthorized"}``.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import time
import urllib.parse
import uuid
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from transflow_runtime import assembly_id

from tests import tooling

from .conftest import TEMPLATE, start_local, stop_local

AUDIENCE = "transflow-example-client"  # cdk.json's transflow:oidcAudience
TOKEN_LIFETIME = 4


@pytest.fixture(scope="module")
def issuer():
    mock = tooling.module("oidc_provider_mock")
    _app = tooling.module("oidc_provider_mock._app")

    # oidc-provider-mock 0.3 leaves kid out of its id_token headers (the JWK it publishes has one);
    # every real issuer sets it, and API Gateway requires it: give it the kid of its own key.
    original = _app.OpenIDCode.get_jwt_config

    def with_kid(self, *args, **kwargs):
        config = original(self, *args, **kwargs)
        config["kid"] = config["key"]["kid"]
        return config

    _app.OpenIDCode.get_jwt_config = with_kid
    try:
        with mock.run_server_in_thread(access_token_max_age=timedelta(seconds=TOKEN_LIFETIME)) as server:
            yield f"http://localhost:{server.server_port}"
    finally:
        _app.OpenIDCode.get_jwt_config = original


def id_token(issuer: str, user: str, client_id: str = AUDIENCE) -> str:
    """The authorization code flow as a browser and a client would run it, ending in an ID token."""
    port = urllib.parse.urlsplit(issuer).port
    redirect = "http://127.0.0.1/callback"
    query = urllib.parse.urlencode(
        {
            "client_id": client_id,
            "redirect_uri": redirect,
            "response_type": "code",
            "scope": "openid email",
            "state": uuid.uuid4().hex,
        }
    )
    connection = http.client.HTTPConnection("localhost", port, timeout=10)
    connection.request(
        "POST",
        "/oauth2/authorize?" + query,
        body=urllib.parse.urlencode({"sub": user}),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    response = connection.getresponse()
    response.read()
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(response.getheader("Location")).query)["code"][0]
    body = urllib.parse.urlencode(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect,
            "client_id": client_id,
            "client_secret": "any",
        }
    )
    connection.request(
        "POST", "/oauth2/token", body=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    return json.loads(connection.getresponse().read())["id_token"]


@pytest.fixture(scope="module")
def oidc_local(issuer, example_assembly, tmp_path_factory):
    ready = tmp_path_factory.mktemp("oidc") / "ready.json"
    process, info = start_local(["--app", str(example_assembly), "--oidc-issuer", issuer], ready)
    yield info
    code, output = stop_local(process)
    assert code == 0, output


def _get(info: dict, path: str, token: str) -> tuple[int, dict, dict]:
    connection = http.client.HTTPConnection(
        urllib.parse.urlsplit(info["api_url"]).hostname, urllib.parse.urlsplit(info["api_url"]).port, timeout=15
    )
    connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = connection.getresponse()
    return response.status, dict(response.headers), json.loads(response.read() or b"null")


def test_the_issuers_tokens_are_accepted_and_identify_the_user(oidc_local, issuer):
    token = id_token(issuer, "oidc-alice")
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    status, _, body = _get(oidc_local, "/assemblies", token)
    assert status == 200 and body["assemblies"] == []
    aid = assembly_id(hashlib.md5(b"x").hexdigest(), TEMPLATE, "oidc-alice")
    status, _, body = _get(oidc_local, f"/status?assemblyId={aid}", token)
    assert status == 404  # reached the function as oidc-alice (sub): not created yet


def test_a_token_for_another_audience_is_refused(oidc_local, issuer):
    status, headers, body = _get(oidc_local, "/assemblies", id_token(issuer, "oidc-bob", client_id="another-client"))
    assert (status, body) == (401, {"message": "Unauthorized"})
    assert "invalid_token" in headers.get("www-authenticate", "")


def test_an_expired_token_is_refused(oidc_local, issuer):
    token = id_token(issuer, "oidc-carol")
    assert _get(oidc_local, "/assemblies", token)[0] == 200
    time.sleep(TOKEN_LIFETIME + 1.5)
    assert _get(oidc_local, "/assemblies", token)[:3:2] == (401, {"message": "Unauthorized"})


def _claims(issuer: str) -> dict:
    now = int(time.time())
    return {"iss": issuer, "aud": AUDIENCE, "sub": "mallory", "iat": now, "exp": now + 300}


def test_a_token_signed_with_a_key_the_issuer_does_not_publish_is_refused(oidc_local, issuer):
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(_claims(issuer), stranger, algorithm="RS256", headers={"kid": "not-in-the-jwks"})
    assert _get(oidc_local, "/assemblies", forged)[:3:2] == (401, {"message": "Unauthorized"})
    without_kid = jwt.encode(_claims(issuer), stranger, algorithm="RS256")
    assert _get(oidc_local, "/assemblies", without_kid)[0] == 401


def test_an_hs256_token_is_refused_even_under_the_issuers_kid(oidc_local, issuer):
    kid = jwt.get_unverified_header(id_token(issuer, "oidc-dave"))["kid"]
    confused = jwt.encode(
        _claims(issuer), "any-shared-secret-long-enough-for-hs256", algorithm="HS256", headers={"kid": kid}
    )
    assert _get(oidc_local, "/assemblies", confused)[:3:2] == (401, {"message": "Unauthorized"})


def test_a_local_mode_that_trusts_another_issuer_refuses_these_tokens(local, issuer):
    """``local`` runs the same template with its development issuer: the mock's token has the
    wrong ``iss`` and a ``kid`` that issuer never published."""
    status, _, body = _get(local, "/assemblies", id_token(issuer, "oidc-erin"))
    assert (status, body) == (401, {"message": "Unauthorized"})
