"""The signer against AWS's published Signature Version 4 test vectors.

Vectors: ``vectors/sigv4_test_vectors.json`` (its ``source`` names where each set comes from):
AWS's Signature Version 4 Test Suite (AWS General Reference, "Signature Version 4 test suite")
and the current suite AWS keeps in aws-c-auth. For every request: the canonical request, the
string to sign and the Authorization header must be the suite's.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from transflow_runtime.aws import sigv4

VECTORS = json.loads((Path(__file__).parent / "vectors" / "sigv4_test_vectors.json").read_text(encoding="utf-8"))
NOW = datetime.strptime(VECTORS["amz_date"], sigv4.TIMESTAMP_FORMAT).replace(tzinfo=UTC)
REGION, SERVICE = VECTORS["region"], VECTORS["service"]


def parse_request(raw: str) -> tuple[str, str, list[tuple[str, str]], bytes]:
    """(method, url, headers, body) from a suite ``.req``: the request line's target is used as sent."""
    head, _, body = raw.partition("\n\n")
    lines = head.split("\n")
    method, _, rest = lines[0].partition(" ")
    target = rest.rsplit(" ", 1)[0]  # the path may contain a space (get-space)
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name, value))
    host = next(v for n, v in headers if n.lower() == "host")
    return method, f"https://{host}{target}", headers, body.encode("utf-8")


def credentials(token: str | None = None) -> sigv4.Credentials:
    return sigv4.Credentials(VECTORS["credentials"]["access_key"], VECTORS["credentials"]["secret_key"], token)


def signed(method: str, url: str, headers: list[tuple[str, str]], body: bytes, token: str | None) -> dict[str, Any]:
    out = sigv4.sign(method, url, headers, body, credentials(token), REGION, SERVICE, now=NOW)
    return {n: v for n, v in out if n in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token")}


SUITE = VECTORS["aws_sig_v4_test_suite"]


def _consistent(vector: dict[str, Any]) -> bool:
    """Whether a vector's .creq, .sts and .authz agree with each other.

    Two of the 2015 suite's do not (an erratum of the published suite): post-x-www-form-urlencoded
    and its -parameters variant gained ``content-length`` in their .creq, but their .sts and .authz
    were not regenerated (the .sreq still shows the request without Content-Length).
    """
    creq_signed = vector["creq"].split("\n")[-2]
    sts_hash = vector["sts"].rsplit("\n", 1)[1]
    return (f"SignedHeaders={creq_signed}," in vector["authz"]
            and sigv4.hashlib.sha256(vector["creq"].encode()).hexdigest() == sts_hash)


CONSISTENT = [v for v in SUITE if _consistent(v)]


@pytest.mark.parametrize("vector", SUITE, ids=[v["name"] for v in SUITE])
def test_canonical_request_is_the_suites(vector: dict[str, Any]) -> None:
    method, url, headers, body = parse_request(vector["req"])
    payload = sigv4.hashlib.sha256(body).hexdigest()
    assert sigv4.canonical_request(method, url, headers, payload) == vector["creq"]


@pytest.mark.parametrize("vector", CONSISTENT, ids=[v["name"] for v in CONSISTENT])
def test_string_to_sign_and_authorization_header_are_the_suites(vector: dict[str, Any]) -> None:
    method, url, headers, body = parse_request(vector["req"])
    canonical = sigv4.canonical_request(method, url, headers, sigv4.hashlib.sha256(body).hexdigest())
    scope = sigv4.credential_scope(VECTORS["amz_date"], REGION, SERVICE)
    assert sigv4.string_to_sign(VECTORS["amz_date"], scope, canonical) == vector["sts"]
    out = signed(method, url, headers, body, vector.get("token"))
    assert out["Authorization"] == vector["authz"]
    assert out["X-Amz-Date"] == VECTORS["amz_date"]
    if vector.get("token"):
        assert out["X-Amz-Security-Token"] == vector["token"]


def test_only_the_two_form_urlencoded_vectors_are_inconsistent() -> None:
    assert sorted(v["name"] for v in SUITE if not _consistent(v)) == [
        "post-x-www-form-urlencoded", "post-x-www-form-urlencoded-parameters"]


def test_form_urlencoded_signed_as_its_signed_request_shows_it() -> None:
    """post-x-www-form-urlencoded's .sreq carries no Content-Length: signing that request gives its .authz."""
    vector = next(v for v in SUITE if v["name"] == "post-x-www-form-urlencoded")
    method, url, headers, body = parse_request(vector["req"])
    headers = [(n, v) for n, v in headers if n.lower() != "content-length"]
    assert signed(method, url, headers, body, None)["Authorization"] == vector["authz"]


def test_a_token_added_after_signing_is_not_part_of_the_signature() -> None:
    """post-sts-header-after: signed without the token, which is then sent unsigned."""
    vector = next(v for v in SUITE if v["name"] == "post-sts-header-after")
    method, url, headers, body = parse_request(vector["req"])
    assert "x-amz-security-token" not in vector["authz"]
    assert signed(method, url, headers, body, None)["Authorization"] == vector["authz"]


C_AUTH = VECTORS["aws_c_auth"]


@pytest.mark.parametrize("vector", C_AUTH, ids=[v["name"] for v in C_AUTH])
def test_current_aws_signing_suite(vector: dict[str, Any]) -> None:
    lines = vector["signed_request"].rstrip("\n").split("\n")
    authorization = next(line for line in lines if line.startswith("Authorization:"))
    request = "\n".join(line for line in lines if not line.startswith("Authorization:"))
    method, url, headers, body = parse_request(request)
    out = signed(method, url, headers, body, vector.get("token"))
    assert out["Authorization"] == authorization.partition(":")[2]


def test_signing_key_is_the_documented_derivation() -> None:
    """IAM User Guide, "Create a signed AWS API request", task 3: the example signing key."""
    # The guide's example: secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20150830/us-east-1/iam.
    key = sigv4.signing_key(VECTORS["credentials"]["secret_key"], "20150830", "us-east-1", "iam")
    assert key.hex() == "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
