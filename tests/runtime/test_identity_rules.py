"""Who the caller is: one user-id rule for the authorizer and the status function, and a direct
invoke that refuses what it does not understand.

* RFC 7519 4.1.2: ``sub`` is a StringOrURI. A number or any other non-string is refused (the
  shared-secret authorizer denies it, which API Gateway answers with 403; the status function
  answers 401), never turned into a string that could be another user's id.
* One limit in bytes: at most ``schema.MAX_USER_ID_BYTES`` (1,024) bytes of UTF-8, in both.
* A direct invoke takes ``assemblyId``, ``userId``, ``triggerWebhook`` and ``ifNoneMatch`` only: a
  near miss such as ``userID`` used to be ignored, and the call then ran as a trusted server call
  without a user, returning another user's assembly.
"""

from __future__ import annotations

import json
import time

import jwt
import pytest
from transflow_runtime import schema
from transflow_runtime.handlers import authorizer

from tests.runtime.status_support import (
    aid,
    body_of,
    call,
    http_event,
    status_env_fixture,  # noqa: F401 - the ``status_env`` fixture
)

SECRET = "identity-rules-secret-0123456789abcdef0123"
#: The direct-invoke event as the README documents it.
DIRECT_INVOKE_KEYS = ("assemblyId", "userId", "triggerWebhook", "ifNoneMatch")
LIMIT = schema.MAX_USER_ID_BYTES

#: (user id, accepted?) at both sides of the byte limit, in 1-, 2-, 3- and 4-byte characters.
LENGTH_CASES = [
    ("a" * LIMIT, True),
    ("a" * (LIMIT + 1), False),
    ("é" * (LIMIT // 2), True),  # 1,024 bytes in 512 characters
    ("é" * (LIMIT // 2) + "a", False),
    ("é" * LIMIT, False),  # 1,024 characters, 2,048 bytes: the authorizer used to count characters
    ("€" * (LIMIT // 3) + "a", True),  # 1,023 + 1 bytes
    ("€" * (LIMIT // 3) + "ab", False),
    ("😀" * (LIMIT // 4), True),
    ("😀" * (LIMIT // 4) + "a", False),
]
#: Values of the user-id claim that are not strings: refused by both.
NON_STRINGS = [42, 0, -1, 1.5, True, False, ["alice"], {"id": "alice"}]


@pytest.fixture
def shared_secret(aws, monkeypatch):
    import boto3

    arn = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name="jwt", SecretString=SECRET)["ARN"]
    monkeypatch.setenv(schema.ENV_JWT_SECRET_ARN, arn)
    for name in (schema.ENV_JWT_ISSUER, schema.ENV_JWT_AUDIENCE, schema.ENV_USER_ID_CLAIM):
        monkeypatch.delenv(name, raising=False)
    authorizer.reset_for_tests()
    yield
    authorizer.reset_for_tests()


def authorize(sub: object) -> dict:
    token = jwt.encode({"sub": sub, "exp": int(time.time()) + 60}, SECRET, algorithm="HS256")
    return authorizer.handler({"headers": {"authorization": f"Bearer {token}"}, "requestContext": {}})


def read_as(user: object, ident: str, *, via: str) -> dict:
    if via == "lambda":
        context = {"lambda": {schema.AUTHORIZER_CONTEXT_USER_KEY: user}}
    else:  # the native JWT authorizer's claims (payload 2.0)
        context = {"jwt": {"claims": {"sub": user}, "scopes": None}}
    return call(http_event("GET", "/status", query={"assemblyId": ident}, user=None, authorizer=context))


@pytest.mark.parametrize(("user", "accepted"), LENGTH_CASES, ids=lambda v: f"{len(str(v).encode())}B"
                         if isinstance(v, str) else str(v))
def test_one_user_id_limit_in_bytes_for_the_authorizer_and_the_status_function(
    shared_secret, status_env, store, user, accepted
):
    ident = aid(30, user="limits")
    store.create(ident, user_id=user if accepted else "someone", template_id="tpl")
    decision = authorize(user)
    assert decision["isAuthorized"] is accepted
    if accepted:
        assert decision["context"] == {"userId": user}
    for via in ("lambda", "jwt"):
        response = read_as(user, ident, via=via)
        assert response["statusCode"] == (200 if accepted else 401), via
        if not accepted:
            assert body_of(response) == {"error": "the token's user id is not acceptable"}
    direct = call({"assemblyId": ident, "userId": user})
    assert direct["statusCode"] == (200 if accepted else 400)


@pytest.mark.parametrize("sub", NON_STRINGS, ids=repr)
def test_a_non_string_sub_is_refused_by_both_never_converted(shared_secret, status_env, store, sub):
    # An assembly owned by the user "42" / "True" ... must not open to a token whose sub is 42 / true.
    ident = aid(31, user="numbers")
    store.create(ident, user_id=str(sub), template_id="tpl")
    assert authorize(sub) == {"isAuthorized": False}
    for via in ("lambda", "jwt"):
        response = read_as(sub, ident, via=via)
        assert response["statusCode"] == 401, via
        assert body_of(response) == {"error": "authentication required"}
    direct = call({"assemblyId": ident, "userId": sub})
    assert direct["statusCode"] == 400 and "userId" in body_of(direct)["error"]


# --- direct invoke: unknown keys ----------------------------------------------------------------------
def near_misses(key: str) -> set[str]:
    """Spellings a caller might send meaning ``key``: case, separators, truncation, homoglyphs."""
    words, word = [], ""
    for ch in key:
        if ch.isupper() and word:
            words.append(word)
            word = ""
        word += ch.lower()
    words.append(word)
    variants = {
        key.lower(), key.upper(), key.swapcase(), key[0].upper() + key[1:], key.capitalize(),
        "_".join(words), "-".join(words), "".join(w.upper() if i else w for i, w in enumerate(words)),
        words[0] + "".join(w.upper() for w in words[1:]), words[0], " " + key, key + " ", key + "s",
        key + "\u200b", key.replace("e", "\u0435", 1), f"{key}_", "_" + key, "".join(words),
        words[0] + "".join(w.capitalize() for w in words[1:]) + "Id" if not key.endswith("Id") else words[0],
    }
    return {v for v in variants if v != key}


NEAR_MISSES = sorted({m for k in DIRECT_INVOKE_KEYS for m in near_misses(k)}
                     | {"user", "user_id", "userID", "UserId", "uid", "sub", "owner", "assembly_id", "assemblyID",
                        "trigger_webhook", "if_none_match", "IfNoneMatch", "body", "queryStringParameters",
                        "requestContext"})


def test_the_near_miss_corpus_covers_the_reported_spellings():
    assert {"userID", "UserId", "user", "user_id", "assembly_id"} <= set(NEAR_MISSES)
    assert len(NEAR_MISSES) >= 60


def test_a_direct_invoke_with_an_unknown_key_is_400_naming_it_and_reads_nothing(status_env, store):
    bobs = aid(32, user="bob")
    store.create(bobs, user_id="bob", template_id="tpl", message="bob's private status")
    for key in NEAR_MISSES:
        for value in ("alice", "bob", None, True):
            response = call({"assemblyId": bobs, key: value, "triggerWebhook": True})
            assert response["statusCode"] == 400, (key, value)
            error = body_of(response)["error"]
            assert json.dumps(key) in error and "userId" in error, (key, error)
            assert "private" not in response["body"], key
    assert status_env.queued_messages() == []


def test_several_unknown_keys_are_all_named_and_long_ones_are_cut(status_env):
    event = {"assemblyId": aid(1), "zeta": 1, "alpha": 2, "k" * 500: 3}
    error = body_of(call(event))["error"]
    assert error.startswith('unknown keys in the event: "alpha", "' + "k" * 64 + '", "zeta"; ')
    assert "k" * 65 not in error
    many = {"assemblyId": aid(1), **{f"x{n}": n for n in range(50)}}
    assert body_of(call(many))["error"].count('"x') == 5


def test_every_documented_key_is_still_accepted(status_env, store):
    ident = aid(33)
    store.create(ident, user_id="alice", template_id="tpl")
    response = call({"assemblyId": ident, "userId": "alice", "triggerWebhook": False, "ifNoneMatch": '"nope"'})
    assert response["statusCode"] == 200
    assert call({"assemblyId": ident, "triggerWebhook": None})["statusCode"] == 200
