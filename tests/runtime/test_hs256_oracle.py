"""The stdlib HS256 verifier (``transflow_runtime._hs256`` behind ``auth.verify_token``) against PyJWT.

PyJWT is the oracle: for every token below, ``verify_token`` accepts exactly what
``jwt.decode(token, key, algorithms=["HS256"], ...)`` with the options the authorizer used before
accepts, and refuses the rest for the reason PyJWT's exception mapped to (``ORACLE_REASONS``, the
mapping ``auth.verify_token`` applied to PyJWT's exceptions until the verifier moved to the stdlib).
Cases follow RFC 7515 (JWS: §2 base64url, §4.1.1 ``alg``, §4.1.4 ``kid``, §4.1.11 ``crit``,
§7.1 compact serialization), RFC 7797 (``b64``), RFC 7518 §3.2 (HMAC key length) and RFC 7519
(JWT: §4.1 registered claims, §7.2 validation).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import time
import warnings
from typing import Any

import jwt
import pytest
from transflow_runtime import auth
from transflow_runtime.auth import TokenError, verify_token

SECRET = b"oracle-secret-0123456789abcdef0123456789"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token_of(header: Any, payload: Any, key: bytes = SECRET, *, raw_header: bytes | None = None,
             raw_payload: bytes | None = None, digest: Any = hashlib.sha256) -> str:
    h = b64(raw_header if raw_header is not None else json.dumps(header).encode())
    p = b64(raw_payload if raw_payload is not None else json.dumps(payload).encode())
    sig = hmac.new(key, f"{h}.{p}".encode(), digest).digest()
    return f"{h}.{p}.{b64(sig)}"


def claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())  # at call time: the suite may run this module many minutes after collection
    base: dict[str, Any] = {"sub": "alice", "iat": now, "nbf": now, "exp": now + 600}
    base.update(extra)
    return {k: v for k, v in base.items() if v is not ...}


def oracle(token: str, key: bytes = SECRET, *, issuer: str | None = None, audience: Any = None,
           leeway: float = auth.DEFAULT_LEEWAY_SECONDS, user_id_claim: str = "sub") -> str:
    """What the authorizer answered with PyJWT: "allowed" or the refusal reason (the old mapping)."""
    audiences = auth._audiences(audience)
    if len(token) > auth.MAX_TOKEN_BYTES:
        return auth.OVERSIZED
    if not token.isascii() or not auth._JWS_RE.match(token):
        return auth.MALFORMED
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        return auth.MALFORMED
    if header.get("alg") != "HS256":
        return auth.BAD_ALGORITHM
    required = ["exp"] + (["iss"] if issuer else []) + (["aud"] if audiences else [])
    options = {"require": required, "verify_signature": True, "verify_exp": True, "verify_nbf": True,
               "verify_iat": True, "verify_iss": bool(issuer), "verify_aud": bool(audiences)}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            payload = jwt.decode(token, key, algorithms=["HS256"], options=options, issuer=issuer,
                                 audience=audiences, leeway=leeway)
    except jwt.ExpiredSignatureError:
        return auth.EXPIRED
    except jwt.ImmatureSignatureError:
        return auth.NOT_YET_VALID
    except jwt.InvalidSignatureError:
        return auth.BAD_SIGNATURE
    except jwt.InvalidIssuerError:
        return auth.BAD_ISSUER
    except jwt.InvalidAudienceError:
        return auth.BAD_AUDIENCE
    except jwt.MissingRequiredClaimError:
        return auth.MISSING_CLAIM
    except jwt.exceptions.InvalidSubjectError:
        return auth.BAD_CLAIM
    except jwt.InvalidAlgorithmError:
        return auth.BAD_ALGORITHM
    except (jwt.DecodeError, jwt.InvalidTokenError):
        return auth.MALFORMED
    user = payload.get(user_id_claim)
    if user is None:
        return auth.MISSING_CLAIM
    return "allowed" if isinstance(user, str) and user.strip() else auth.BAD_CLAIM


def ours(token: str, key: bytes = SECRET, **kwargs: Any) -> str:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            verify_token(token, key, **kwargs)
    except TokenError as exc:
        return exc.reason
    return "allowed"


HS = {"alg": "HS256", "typ": "JWT"}
def good() -> str:
    """A token every check accepts, made now (tokens made at import expire during a long suite)."""
    return token_of(HS, claims())


def _cases() -> dict[str, tuple[str, dict[str, Any]]]:
    """The table, built when a test runs: its times are relative to that moment."""
    NOW = int(time.time())
    GOOD = good()
    return {
        # made by PyJWT itself
        "pyjwt_token": (jwt.encode(claims(), SECRET, algorithm="HS256"), {}),
        "pyjwt_token_with_kid": (jwt.encode(claims(), SECRET, algorithm="HS256", headers={"kid": "k1"}), {}),
        "pyjwt_minted_by_auth": (auth.mint_token(SECRET, "alice", issuer="https://i", audience=["a", "b"]),
                                 {"issuer": "https://i", "audience": "b"}),
        "hand_made": (GOOD, {}),
        # RFC 7515 §4.1.1: the algorithm is pinned
        "alg_none": (f"{b64(json.dumps({'alg': 'none'}).encode())}.{b64(json.dumps(claims()).encode())}.", {}),
        "alg_none_case": (token_of({"alg": "None"}, claims()), {}),
        "alg_hs512": (token_of({"alg": "HS512"}, claims(), digest=hashlib.sha512), {}),
        "alg_rs256_hmac": (token_of({"alg": "RS256"}, claims()), {}),
        "alg_missing": (token_of({"typ": "JWT"}, claims()), {}),
        "alg_list": (token_of({"alg": ["HS256"]}, claims()), {}),
        # RFC 7518 §3.2 signature
        "bad_signature": (token_of(HS, claims(), b"another-secret-0123456789abcdef0123"), {}),
        "truncated_signature": (GOOD[:-4], {}),
        "empty_signature": (GOOD.rsplit(".", 1)[0] + ".", {}),
        "signature_of_other_payload": (GOOD.split(".")[0] + "." + b64(json.dumps(claims(sub="eve")).encode())
                                       + "." + GOOD.split(".")[2], {}),
        # RFC 7515 §2 / §7.1: base64url and JSON of the segments
        "header_len_mod4_is_1": ("A" + GOOD, {}),
        "header_not_canonical": (
            GOOD.split(".")[0][:-1] + chr(ord(GOOD.split(".")[0][-1]) ^ 1) + GOOD[GOOD.index("."):], {}),
        "signature_not_canonical": (GOOD[:-1] + ("B" if GOOD[-1] == "A" else "A"), {}),
        "header_not_json": (token_of(None, claims(), raw_header=b"{not json"), {}),
        "header_json_array": (token_of(None, claims(), raw_header=b'["HS256"]'), {}),
        "header_utf16": (token_of(None, claims(), raw_header=json.dumps(HS).encode("utf-16")), {}),
        "header_bom": (token_of(None, claims(), raw_header=b"\xef\xbb\xbf" + json.dumps(HS).encode()), {}),
        "header_duplicate_alg": (token_of(None, claims(), raw_header=b'{"alg":"none","alg":"HS256"}'), {}),
        "header_duplicate_alg_last_none": (token_of(None, claims(), raw_header=b'{"alg":"HS256","alg":"none"}'), {}),
        "payload_not_json": (token_of(HS, None, raw_payload=b"{oops"), {}),
        "payload_array": (token_of(HS, [1, 2]), {}),
        "payload_nan": (token_of(HS, None, raw_payload=b'{"sub":"a","exp":NaN}'), {}),
        "payload_deep": (token_of(HS, None, raw_payload=b"[" * 2500 + b"]" * 2500), {}),
        "four_segments": (GOOD + ".x", {}),
        "two_segments": (GOOD.rsplit(".", 1)[0], {}),
        # RFC 7515 §4.1.4 kid, §4.1.11 crit, RFC 7797 b64
        "kid_number": (token_of({**HS, "kid": 7}, claims()), {}),
        "crit_unknown": (token_of({**HS, "crit": ["exp-ext"], "exp-ext": 1}, claims()), {}),
        "crit_empty": (token_of({**HS, "crit": []}, claims()), {}),
        "crit_not_list": (token_of({**HS, "crit": "b64"}, claims()), {}),
        "crit_b64_absent": (token_of({**HS, "crit": ["b64"]}, claims()), {}),
        "crit_b64_true": (token_of({**HS, "crit": ["b64"], "b64": True}, claims()), {}),
        "crit_number": (token_of({**HS, "crit": [1]}, claims()), {}),
        "b64_false_no_crit": (token_of({**HS, "b64": False}, claims()), {}),
        "b64_false_detached": (token_of({**HS, "b64": False, "crit": ["b64"]}, None, raw_payload=b""), {}),
        "b64_false_detached_rs256": (token_of({"alg": "RS256", "b64": False, "crit": ["b64"]}, None, raw_payload=b""),
                                     {}),
        # RFC 7519 §4.1.4 exp (required here), §4.1.5 nbf, §4.1.6 iat, with the 30 s leeway
        "exp_missing": (token_of(HS, claims(exp=...)), {}),
        "exp_null": (token_of(HS, claims(exp=None)), {}),
        "expired_long_ago": (token_of(HS, claims(exp=NOW - 3600, iat=NOW - 7200, nbf=NOW - 7200)), {}),
        "expired_within_leeway": (token_of(HS, claims(exp=NOW - 10)), {}),
        "expired_beyond_leeway": (token_of(HS, claims(exp=NOW - 60)), {}),
        "exp_string_number": (token_of(HS, claims(exp=str(NOW + 600))), {}),
        "exp_float": (token_of(HS, claims(exp=NOW + 600.9)), {}),
        "exp_text": (token_of(HS, claims(exp="soon")), {}),
        "exp_bool": (token_of(HS, claims(exp=True)), {}),
        "exp_list": (token_of(HS, claims(exp=[NOW + 600])), {}),
        "exp_huge": (token_of(HS, None, raw_payload=b'{"sub":"a","exp":1e999}'), {}),
        "nbf_future": (token_of(HS, claims(nbf=NOW + 600)), {}),
        "nbf_within_leeway": (token_of(HS, claims(nbf=NOW + 10)), {}),
        "nbf_text": (token_of(HS, claims(nbf="x")), {}),
        "iat_future": (token_of(HS, claims(iat=NOW + 600)), {}),
        "iat_text": (token_of(HS, claims(iat="x")), {}),
        "iat_null": (token_of(HS, claims(iat=None)), {}),
        # RFC 7519 §4.1.1 iss
        "iss_match": (token_of(HS, claims(iss="https://i")), {"issuer": "https://i"}),
        "iss_other": (token_of(HS, claims(iss="https://evil")), {"issuer": "https://i"}),
        "iss_missing": (token_of(HS, claims()), {"issuer": "https://i"}),
        "iss_list": (token_of(HS, claims(iss=["https://i"])), {"issuer": "https://i"}),
        "iss_unchecked": (token_of(HS, claims(iss=5)), {}),
        # RFC 7519 §4.1.3 aud: a string or a list of strings; any configured audience matches
        "aud_str": (token_of(HS, claims(aud="web")), {"audience": ["cli", "web"]}),
        "aud_list": (token_of(HS, claims(aud=["x", "cli"])), {"audience": "cli"}),
        "aud_other": (token_of(HS, claims(aud="evil")), {"audience": "web"}),
        "aud_list_other": (token_of(HS, claims(aud=["a", "b"])), {"audience": ["c"]}),
        "aud_missing": (token_of(HS, claims()), {"audience": "web"}),
        "aud_empty_str": (token_of(HS, claims(aud="")), {"audience": "web"}),
        "aud_empty_list": (token_of(HS, claims(aud=[])), {"audience": "web"}),
        "aud_number": (token_of(HS, claims(aud=5)), {"audience": "web"}),
        "aud_list_with_number": (token_of(HS, claims(aud=["web", 5])), {"audience": "web"}),
        "aud_dict": (token_of(HS, claims(aud={"web": 1})), {"audience": "web"}),
        "aud_unchecked_without_audience": (token_of(HS, claims(aud="anything")), {}),
        # RFC 7519 §4.1.2 sub, §4.1.7 jti
        "sub_number": (token_of(HS, claims(sub=42)), {}),
        "sub_missing": (token_of(HS, claims(sub=...)), {}),
        "sub_blank": (token_of(HS, claims(sub="   ")), {}),
        "uid_claim": (token_of(HS, claims(uid="u-1")), {"user_id_claim": "uid"}),
        "uid_claim_number": (token_of(HS, claims(uid=1)), {"user_id_claim": "uid"}),
        "jti_number": (token_of(HS, claims(jti=5)), {}),
        "jti_string": (token_of(HS, claims(jti="j-1")), {}),
    }


@pytest.mark.parametrize("name", sorted(_cases()))
def test_verify_token_answers_as_pyjwt_does(name: str) -> None:
    token, kwargs = _cases()[name]
    assert ours(token, **kwargs) == oracle(token, **kwargs)


def test_the_cases_cover_acceptance_and_every_refusal_reason() -> None:
    """The table is not vacuous: PyJWT accepts some and refuses others for each reason."""
    outcomes = {oracle(token, **kwargs) for token, kwargs in _cases().values()}
    assert outcomes >= {"allowed", auth.MALFORMED, auth.BAD_ALGORITHM, auth.BAD_SIGNATURE, auth.EXPIRED,
                        auth.NOT_YET_VALID, auth.BAD_ISSUER, auth.BAD_AUDIENCE, auth.MISSING_CLAIM, auth.BAD_CLAIM}


def test_leeway_boundary_matches_pyjwt() -> None:
    """RFC 7519 §4.1.4: "the current date/time MUST be before the expiration"; PyJWT's ``exp <= now - leeway``."""
    for leeway in (0, 1, 30):
        for offset in (-leeway - 2, -leeway + 2, 5):
            now = int(time.time())
            token = token_of(HS, claims(exp=now + offset, iat=now - 100, nbf=now - 100))
            assert ours(token, leeway=leeway) == oracle(token, leeway=leeway), (leeway, offset)


@pytest.mark.parametrize("secret", [
    b"-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n",
    b"ssh-rsa AAAAB3NzaC1yc2E example",
    b'{"kty": "oct", "k": "c2VjcmV0"}',
])
def test_a_key_pyjwt_refuses_as_an_hmac_secret_still_raises(secret: bytes) -> None:
    """PyJWT raises ``InvalidKeyError`` (not a refusal: the authorizer fails, API Gateway answers 500)."""
    token = token_of(HS, claims(), secret)
    with pytest.raises(jwt.InvalidKeyError):
        jwt.decode(token, secret, algorithms=["HS256"])
    with pytest.raises(jwt.InvalidKeyError):
        verify_token(token, secret)


def test_a_der_key_is_refused_as_pyjwt_refuses_it_and_a_secret_starting_with_0_is_not_taken_for_one() -> None:
    """PyJWT (with ``cryptography``) refuses a DER public key as an HMAC secret; a hex secret starting with
    ``0`` (the DER SEQUENCE tag, 0x30) is an ordinary secret and stays off PyJWT's import path."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    der = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    token = token_of(HS, claims(), der)
    with pytest.raises(jwt.InvalidKeyError):
        jwt.decode(token, der, algorithms=["HS256"])
    with pytest.raises(jwt.InvalidKeyError):
        verify_token(token, der)
    hex_secret = b"0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
    assert oracle(token_of(HS, claims(), hex_secret), hex_secret) == "allowed"
    code = ("import sys\nfrom transflow_runtime import auth\n"
            f"auth.verify_token({token_of(HS, claims(), hex_secret)!r}, {hex_secret!r})\n"
            "print('jwt' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_short_key_is_accepted_with_pyjwts_warning() -> None:
    """RFC 7518 §3.2: a key of the same size as the hash output or larger MUST be used; PyJWT warns."""
    token = token_of(HS, claims(), b"short")
    with pytest.warns(UserWarning, match="below the minimum recommended length of 32 bytes for SHA256"):
        assert verify_token(token, b"short").user_id == "alice"


def test_an_empty_secret_still_raises_after_the_algorithm_check() -> None:
    with pytest.raises(TokenError) as info:
        verify_token(token_of({"alg": "none"}, claims()), b"")
    assert info.value.reason == auth.BAD_ALGORITHM
    with pytest.raises(ValueError, match="must not be empty"):
        verify_token(good(), b"")


def test_the_authorizer_path_imports_neither_pyjwt_nor_dataclasses() -> None:
    """DEVELOPERS.md: heavy modules only on the paths that need them. Verifying a token needs neither."""
    code = (
        "import sys, warnings\n"
        "from transflow_runtime import auth\n"
        "import transflow_runtime.handlers.authorizer\n"
        f"tok = {good()!r}\n"
        f"auth.verify_token(tok, {SECRET!r})\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('jwt', 'cryptography', 'dataclasses', 'inspect', 'boto3', 'botocore')\n"
        "                        or m == 'urllib.request')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"AWS_DEFAULT_REGION": "us-east-1", "PATH": "/usr/bin:/bin",  # Lambda-like: light client
                              "AWS_LAMBDA_FUNCTION_NAME": "authorizer", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
                              "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "token"})
    assert out.stdout.strip() == ""


def test_identity_is_immutable_and_keeps_claims_out_of_repr() -> None:
    identity = verify_token(good(), SECRET)
    assert identity == auth.Identity(user_id="alice", claims=identity.claims)
    assert "claims" not in repr(identity) and "alice" in repr(identity)
    with pytest.raises(AttributeError):
        identity.user_id = "eve"  # type: ignore[misc]
