"""The shared-secret Lambda authorizer against moto Secrets Manager: the bad-token corpus,
secret formats, caching with a TTL, rotation, and what it logs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from transflow_runtime import schema
from transflow_runtime.auth import mint_token
from transflow_runtime.handlers import authorizer

SECRET = "authorizer-secret-0123456789abcdef0123456789"
ISSUER = "https://issuer.example"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def secrets(aws):
    import boto3

    return boto3.client("secretsmanager", region_name="us-east-1")


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(authorizer, "_clock", fake)
    return fake


@pytest.fixture
def configure(secrets, monkeypatch, clock):
    """Point the authorizer at a fresh moto secret; returns the secret's ARN."""

    def _configure(value: str = SECRET, *, issuer: str | None = None, audience: str | None = None,
                   claim: str | None = None, binary: bool = False) -> str:
        name = f"jwt-{len(secrets.list_secrets()['SecretList'])}"
        kwargs = {"SecretBinary": value.encode()} if binary else {"SecretString": value}
        arn = secrets.create_secret(Name=name, **kwargs)["ARN"]
        monkeypatch.setenv(schema.ENV_JWT_SECRET_ARN, arn)
        for env, setting in ((schema.ENV_JWT_ISSUER, issuer), (schema.ENV_JWT_AUDIENCE, audience),
                             (schema.ENV_USER_ID_CLAIM, claim)):
            if setting is None:
                monkeypatch.delenv(env, raising=False)
            else:
                monkeypatch.setenv(env, setting)
        authorizer.reset_for_tests()
        return arn

    yield _configure
    authorizer.reset_for_tests()


def auth_event(header: object = None, *, use_identity_source: bool = False) -> dict:
    event: dict = {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": "arn:aws:execute-api:us-east-1:123456789012:api/$default/GET/status",
        "routeKey": "GET /status",
        "rawPath": "/status",
        "headers": {} if header is None or use_identity_source else {"authorization": header},
        "requestContext": {"http": {"method": "GET", "path": "/status"}},
    }
    if header is not None:
        event["identitySource"] = [header]
    return event


def decide(header: object, **kwargs) -> dict:
    return authorizer.handler(auth_event(header, **kwargs), None)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def signed(header: dict, claims: dict, key: bytes, digest=hashlib.sha256) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64(hmac.new(key, signing_input.encode(), digest).digest())}"


def now_claims(**overrides) -> dict:
    now = int(time.time())
    claims = {"sub": "alice", "iat": now, "exp": now + 600, **overrides}
    return {k: v for k, v in claims.items() if v is not None}


ALLOWED = {"isAuthorized": True, "context": {"userId": "alice"}}
DENIED = {"isAuthorized": False}


def test_a_valid_token_is_authorized_with_the_user_id_in_the_context(configure):
    configure()
    assert decide(f"Bearer {mint_token(SECRET, 'alice')}") == ALLOWED


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer", "bEaReR"])
def test_the_bearer_scheme_is_case_insensitive(configure, scheme):
    configure()
    assert decide(f"{scheme} {mint_token(SECRET, 'alice')}") == ALLOWED


def test_the_identity_source_is_used_when_headers_are_absent(configure):
    configure()
    assert decide(f"Bearer {mint_token(SECRET, 'alice')}", use_identity_source=True) == ALLOWED


def _rs256() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(now_claims(), key, algorithm="RS256")


BAD_TOKENS = {
    "alg none": lambda: b64(b'{"alg":"none"}') + "." + b64(json.dumps(now_claims()).encode()) + ".",
    "alg None signed": lambda: signed({"alg": "None"}, now_claims(), SECRET.encode()),
    "wrong key": lambda: mint_token("some-other-secret-0123456789abcdef01234567", "alice"),
    "rs256 token": _rs256,
    "rs256 header with hmac signature": lambda: signed({"alg": "RS256"}, now_claims(), SECRET.encode()),
    "hs512 with the right secret": lambda: signed({"alg": "HS512"}, now_claims(), SECRET.encode(), hashlib.sha512),
    "expired": lambda: mint_token(SECRET, "alice", now=time.time() - 3600, ttl=600),
    "not yet valid": lambda: jwt.encode(now_claims(nbf=int(time.time()) + 600), SECRET, algorithm="HS256"),
    "missing sub": lambda: jwt.encode(now_claims(sub=None), SECRET, algorithm="HS256"),
    "empty sub": lambda: jwt.encode(now_claims(sub=""), SECRET, algorithm="HS256"),
    "missing exp": lambda: jwt.encode(now_claims(exp=None), SECRET, algorithm="HS256"),
    "malformed": lambda: "not.a.jwt",
    "two segments": lambda: "abc.def",
    "garbage": lambda: "%%%%",
    "oversized": lambda: jwt.encode(now_claims(pad="x" * 9000), SECRET, algorithm="HS256"),
    "signature stripped": lambda: mint_token(SECRET, "alice").rsplit(".", 1)[0] + ".",
    "payload swapped": lambda: ".".join([
        mint_token(SECRET, "alice").split(".")[0],
        b64(json.dumps(now_claims(sub="admin")).encode()),
        mint_token(SECRET, "alice").split(".")[2],
    ]),
}


@pytest.mark.parametrize("name", sorted(BAD_TOKENS))
def test_every_bad_token_is_denied(configure, name, capsys):
    configure()
    token = BAD_TOKENS[name]()
    assert decide(f"Bearer {token}") == DENIED
    out = capsys.readouterr().out
    assert token not in out and SECRET not in out
    record = json.loads(out.strip().splitlines()[-1])
    assert record["event"] == "authorizer_decision" and record["result"] != "allowed"


@pytest.mark.parametrize(
    "header", [None, "", "   ", "Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Token abc", "Bearer a b", 42, ["x"]]
)
def test_missing_or_badly_formatted_authorization_headers_are_denied(configure, header):
    configure()
    event = auth_event(None)
    if header is not None:
        event["headers"] = {"Authorization": header}
    assert authorizer.handler(event, None) == DENIED


@pytest.mark.parametrize("event", [None, [], "Bearer x", {"headers": "x"}, {"identitySource": "x"}])
def test_malformed_events_are_denied(configure, event):
    configure()
    assert authorizer.handler(event, None) == DENIED


def test_issuer_and_audience_are_enforced_when_configured(configure):
    configure(issuer=ISSUER, audience="web, cli")
    assert decide(f"Bearer {mint_token(SECRET, 'alice', issuer=ISSUER, audience='cli')}") == ALLOWED
    assert decide(f"Bearer {mint_token(SECRET, 'alice', issuer='https://evil', audience='cli')}") == DENIED
    assert decide(f"Bearer {mint_token(SECRET, 'alice', audience='cli')}") == DENIED  # no iss
    assert decide(f"Bearer {mint_token(SECRET, 'alice', issuer=ISSUER, audience='other')}") == DENIED
    assert decide(f"Bearer {mint_token(SECRET, 'alice', issuer=ISSUER)}") == DENIED  # no aud


def test_the_user_id_claim_is_configurable(configure):
    configure(claim="email")
    token = mint_token(SECRET, "alice@example.com", user_id_claim="email")
    assert decide(f"Bearer {token}") == {"isAuthorized": True, "context": {"userId": "alice@example.com"}}
    assert decide(f"Bearer {mint_token(SECRET, 'alice')}") == DENIED  # only sub, no email


@pytest.mark.parametrize(
    ("value", "binary"),
    [(json.dumps({"secret": SECRET}), False), (json.dumps({"jwtSecret": SECRET, "x": 1}), False), (SECRET, True)],
)
def test_json_and_binary_secret_values_are_accepted(configure, value, binary):
    configure(value, binary=binary)
    assert decide(f"Bearer {mint_token(SECRET, 'alice')}") == ALLOWED


def test_the_secret_is_cached_and_reread_after_its_ttl(configure, secrets, clock):
    arn = configure()
    token = f"Bearer {mint_token(SECRET, 'alice')}"
    assert decide(token) == ALLOWED
    secrets.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    clock.now += authorizer.SECRET_TTL_SECONDS - 1
    assert decide(token) == ALLOWED  # served from the cache: no Secrets Manager call
    clock.now += 2
    with pytest.raises(authorizer.AuthorizerConfigError):
        decide(token)  # re-read after the TTL, and the secret is gone


def test_a_rotated_secret_is_picked_up_on_a_signature_failure_at_most_every_30_s(configure, secrets, clock):
    arn = configure()
    assert decide(f"Bearer {mint_token(SECRET, 'alice')}") == ALLOWED
    new_secret = "rotated-secret-0123456789abcdef0123456789abcd"
    secrets.put_secret_value(SecretId=arn, SecretString=new_secret)
    new_token = f"Bearer {mint_token(new_secret, 'alice')}"
    clock.now += authorizer.MIN_REFRESH_SECONDS - 1
    assert decide(new_token) == DENIED  # too soon to re-read: forged tokens cannot force reads
    clock.now += 2
    assert decide(new_token) == ALLOWED
    assert decide(f"Bearer {mint_token(SECRET, 'alice')}") == DENIED  # the old secret no longer works


def test_an_unreadable_secret_raises_so_api_gateway_answers_500(configure, monkeypatch):
    configure()
    monkeypatch.setenv(schema.ENV_JWT_SECRET_ARN, "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-AbCdEf")
    authorizer.reset_for_tests()
    with pytest.raises(authorizer.AuthorizerConfigError) as info:
        decide(f"Bearer {mint_token(SECRET, 'alice')}")
    assert SECRET not in str(info.value)


def test_an_unset_secret_arn_raises(configure, monkeypatch):
    configure()
    monkeypatch.delenv(schema.ENV_JWT_SECRET_ARN)
    authorizer.reset_for_tests()
    with pytest.raises(authorizer.AuthorizerConfigError):
        decide("Bearer x")


def test_a_json_secret_without_a_known_key_raises_without_echoing_it(configure):
    configure(json.dumps({"password": "hunter2-hunter2"}))
    with pytest.raises(authorizer.AuthorizerConfigError) as info:
        decide(f"Bearer {mint_token(SECRET, 'alice')}")
    assert "hunter2" not in str(info.value)


def test_decisions_are_logged_with_an_embedded_metric_and_never_the_token(configure, capsys):
    configure()
    good = mint_token(SECRET, "alice")
    decide(f"Bearer {good}")
    decide("Bearer nope")
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [(r["result"], r["user_id"]) for r in lines] == [("allowed", "alice"), ("malformed", None)]
    assert lines[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [{"Name": "AuthorizerDecisions", "Unit": "Count"}]
    assert good not in json.dumps(lines)
