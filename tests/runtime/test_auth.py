"""HS256 token verification and minting (``transflow_runtime.auth``), no AWS involved."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from transflow_runtime import auth
from transflow_runtime.auth import TokenError, bearer_token, mint_token, secret_from_value, verify_token

SECRET = "s3cr3t-for-tests-0123456789abcdef0123456789"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def hand_made(header: dict, claims: dict, key: bytes | None = None, digest=hashlib.sha256) -> str:
    """A token built by hand, so headers PyJWT would never write (alg none...) can be tested."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = b"" if key is None else hmac.new(key, signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64(signature)}"


def claims(**overrides) -> dict:
    now = int(time.time())
    base = {"sub": "alice", "iat": now, "exp": now + 600}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def reason(token: str, **kwargs) -> str:
    with pytest.raises(TokenError) as info:
        verify_token(token, SECRET, **kwargs)
    assert SECRET not in str(info.value) and (not token or token not in str(info.value))
    return info.value.reason


def test_a_minted_token_verifies_to_its_user():
    identity = verify_token(mint_token(SECRET, "alice"), SECRET)
    assert identity.user_id == "alice" and identity.claims["sub"] == "alice"
    assert "claims" not in repr(identity)


def test_mint_token_with_issuer_audience_and_custom_claim_round_trips():
    token = mint_token(SECRET, "u-1", issuer="https://issuer", audience=["a", "b"], user_id_claim="uid")
    decoded = jwt.decode(token, SECRET, algorithms=["HS256"], audience="b")
    assert decoded["uid"] == "u-1" and decoded["iss"] == "https://issuer" and decoded["aud"] == ["a", "b"]
    assert decoded["exp"] - decoded["iat"] == auth.DEFAULT_TTL_SECONDS
    assert verify_token(token, SECRET, issuer="https://issuer", audience="a", user_id_claim="uid").user_id == "u-1"


@pytest.mark.parametrize(
    ("user", "ttl", "message"),
    [("", 60, "user_id must be a non-empty string"), (None, 60, "user_id must be a non-empty string"),
     ("alice", 0, "ttl must be positive"), ("alice", -5, "ttl must be positive")],
)
def test_mint_token_refuses_bad_arguments(user, ttl, message):
    with pytest.raises(ValueError, match=message):
        mint_token(SECRET, user, ttl=ttl)


def test_an_empty_secret_is_refused():
    with pytest.raises(ValueError, match="the signing secret must not be empty"):
        verify_token(mint_token(SECRET, "alice"), "")


@pytest.mark.parametrize("alg_header", ["none", "None", "NONE", "nOnE"])
def test_alg_none_is_refused(alg_header):
    assert reason(hand_made({"alg": alg_header, "typ": "JWT"}, claims())) == auth.BAD_ALGORITHM


def test_a_missing_alg_is_refused():
    assert reason(hand_made({"typ": "JWT"}, claims(), SECRET.encode())) == auth.BAD_ALGORITHM


def test_a_token_signed_with_another_key_is_refused():
    assert reason(mint_token("another-secret-0123456789abcdef0123456789", "alice")) == auth.BAD_SIGNATURE


def test_hs512_with_the_right_secret_is_refused_because_the_algorithm_is_pinned():
    token = hand_made({"alg": "HS512", "typ": "JWT"}, claims(), SECRET.encode(), hashlib.sha512)
    assert reason(token) == auth.BAD_ALGORITHM


def test_an_rs256_token_is_refused():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(claims(), key, algorithm="RS256")
    assert reason(token) == auth.BAD_ALGORITHM


def test_rs_hs_confusion_an_rs256_header_with_an_hmac_signature_is_refused():
    # The classic confusion: a verifier that takes the algorithm from the token would check this
    # HMAC against the "key" it was given. Both the shared secret and a public key PEM used as the
    # HMAC key must fail.
    assert reason(hand_made({"alg": "RS256", "typ": "JWT"}, claims(), SECRET.encode())) == auth.BAD_ALGORITHM
    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    confused = hand_made({"alg": "RS256"}, claims(), pem)
    with pytest.raises(TokenError) as info:
        verify_token(confused, pem)
    assert info.value.reason == auth.BAD_ALGORITHM


def test_expired_tokens_are_refused_beyond_the_leeway():
    now = int(time.time())
    assert reason(mint_token(SECRET, "alice", now=now - 700, ttl=600)) == auth.EXPIRED  # 100 s ago
    assert verify_token(mint_token(SECRET, "alice", now=now - 610, ttl=600), SECRET).user_id == "alice"  # 10 s


def test_tokens_not_yet_valid_are_refused_beyond_the_leeway():
    now = int(time.time())
    future = jwt.encode(claims(nbf=now + 120), SECRET, algorithm="HS256")
    assert reason(future) == auth.NOT_YET_VALID
    soon = jwt.encode(claims(nbf=now + 10), SECRET, algorithm="HS256")
    assert verify_token(soon, SECRET).user_id == "alice"
    assert reason(jwt.encode(claims(iat=now + 3600), SECRET, algorithm="HS256")) == auth.NOT_YET_VALID


def test_a_token_without_exp_is_refused():
    assert reason(jwt.encode(claims(exp=None), SECRET, algorithm="HS256")) == auth.MISSING_CLAIM


@pytest.mark.parametrize("bad_exp", ["tomorrow", [1], {"a": 1}])
def test_a_non_numeric_exp_is_malformed(bad_exp):
    assert reason(jwt.encode(claims(exp=bad_exp), SECRET, algorithm="HS256")) == auth.MALFORMED


def test_issuer_is_checked_when_configured():
    good = mint_token(SECRET, "alice", issuer="https://good")
    assert verify_token(good, SECRET, issuer="https://good").user_id == "alice"
    assert reason(mint_token(SECRET, "alice", issuer="https://evil"), issuer="https://good") == auth.BAD_ISSUER
    assert reason(mint_token(SECRET, "alice"), issuer="https://good") == auth.MISSING_CLAIM


def test_audience_is_checked_when_configured_any_one_of_several():
    assert verify_token(mint_token(SECRET, "alice", audience="web"), SECRET, audience=["cli", "web"]).user_id
    assert verify_token(mint_token(SECRET, "alice", audience=["x", "cli"]), SECRET, audience="cli").user_id
    assert reason(mint_token(SECRET, "alice", audience="other"), audience=["cli", "web"]) == auth.BAD_AUDIENCE
    assert reason(mint_token(SECRET, "alice"), audience="web") == auth.MISSING_CLAIM


def test_without_a_configured_audience_the_aud_claim_is_not_checked():
    assert verify_token(mint_token(SECRET, "alice", audience="anything"), SECRET).user_id == "alice"


@pytest.mark.parametrize(
    ("sub", "expected"),
    [(None, auth.MISSING_CLAIM), ("", auth.BAD_CLAIM), ("   ", auth.BAD_CLAIM), (["alice"], auth.BAD_CLAIM),
     ("x" * 2000, auth.BAD_CLAIM)],
)
def test_the_user_id_claim_must_be_a_usable_string(sub, expected):
    assert reason(jwt.encode(claims(sub=sub), SECRET, algorithm="HS256")) == expected


def test_the_user_id_claim_is_configurable_and_numbers_are_refused_not_converted():
    """RFC 7519 4.1.2: ``sub`` is a StringOrURI. A number (42 would become the user "42") is refused."""
    token = jwt.encode(claims(uid="u-42"), SECRET, algorithm="HS256")
    assert verify_token(token, SECRET, user_id_claim="uid").user_id == "u-42"
    assert reason(jwt.encode(claims(uid=42), SECRET, algorithm="HS256"), user_id_claim="uid") == auth.BAD_CLAIM
    assert reason(jwt.encode(claims(sub=42), SECRET, algorithm="HS256")) == auth.BAD_CLAIM
    assert reason(jwt.encode(claims(), SECRET, algorithm="HS256"), user_id_claim="uid") == auth.MISSING_CLAIM
    assert reason(jwt.encode(claims(uid=True), SECRET, algorithm="HS256"), user_id_claim="uid") == auth.BAD_CLAIM


def test_unknown_critical_header_extensions_are_refused():
    token = jwt.encode(claims(), SECRET, algorithm="HS256", headers={"crit": ["exp-ext"], "exp-ext": 1})
    assert reason(token) == auth.MALFORMED


@pytest.mark.parametrize(
    "token",
    ["abc", "a.b", "a.b.c.d", "a.b.c.d.e", "....", "!!.??.**", "eyJhbGciOiJIUzI1NiJ9..sig",
     b64(b"not json") + "." + b64(b"{}") + ".sig", b64(b'{"alg":"HS256"}') + "." + b64(b"not json") + ".x",
     b64(b'["HS256"]') + "." + b64(b"{}") + ".x", " " + "a.b.c", "a.b.c ", "ä.b.c"],
)
def test_malformed_tokens_are_refused(token):
    assert reason(token) == auth.MALFORMED


def test_an_empty_token_is_missing():
    assert reason("") == auth.MISSING


def test_a_payload_that_is_not_an_object_is_refused():
    token = hand_made({"alg": "HS256"}, ["alice"], SECRET.encode())  # type: ignore[arg-type]
    assert reason(token) == auth.MALFORMED


def test_oversized_tokens_are_refused_unparsed():
    token = jwt.encode(claims(pad="x" * 9000), SECRET, algorithm="HS256")
    assert len(token) > auth.MAX_TOKEN_BYTES
    assert reason(token) == auth.OVERSIZED


@pytest.mark.parametrize(
    "header", ["Bearer TOKEN", "bearer TOKEN", "BEARER TOKEN", "  Bearer   TOKEN  ", "Bearer\tTOKEN"]
)
def test_bearer_scheme_is_case_insensitive(header):
    assert bearer_token(header) == "TOKEN"


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, auth.MISSING), ("", auth.MISSING), ("   ", auth.MISSING), ("TOKEN", auth.MALFORMED),
     ("Basic dXNlcjpwYXNz", auth.MALFORMED), ("Bearer", auth.MALFORMED), ("Bearer ", auth.MALFORMED),
     ("Bearer a b", auth.MALFORMED), ("Bearer: a", auth.MALFORMED), ("Token a", auth.MALFORMED),
     (123, auth.MALFORMED), (["Bearer a"], auth.MALFORMED), ("Bearer " + "a" * 9000, auth.OVERSIZED)],
)
def test_bad_authorization_headers_are_refused(header, expected):
    with pytest.raises(TokenError) as info:
        bearer_token(header)
    assert info.value.reason == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("plain-secret", b"plain-secret"), ('{"secret": "from-json"}', b"from-json"),
     ('{"jwtSecret": "camel"}', b"camel"), ('{"jwt_secret": "snake", "other": 1}', b"snake"),
     (b"binary\xff", b"binary\xff"), ("{not json", b"{not json")],
)
def test_secret_values_plain_or_json(value, expected):
    assert secret_from_value(value) == expected


@pytest.mark.parametrize("value", ["", b"", '{"password": "x"}', '{"secret": ""}', '{"secret": 5}'])
def test_unusable_secret_values_are_refused_without_echoing_them(value):
    with pytest.raises(ValueError) as info:
        secret_from_value(value)
    assert not value or str(value) not in str(info.value)
