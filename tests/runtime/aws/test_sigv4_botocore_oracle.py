"""The signer against botocore's own ``SigV4Auth`` over generated requests.

botocore is the reference implementation the handlers used until now, so both must produce the
same Authorization header for any request with an encoded query (the last test shows where an
unencoded one is signed as AWS documents and botocore differs): every method, paths with reserved and non-ASCII
characters, dot segments and repeated slashes, query strings with repeated names and empty
values, headers with odd whitespace and repeated names, empty, text and binary bodies, with and
without a session token, default and explicit ports. The generator is seeded: a failure names
the case, and the same cases run every time.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from urllib.parse import quote

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from transflow_runtime.aws import sigv4

NOW = datetime(2026, 11, 30, 7, 35, 12, tzinfo=UTC)
SEGMENT_CHARS = "abcXYZ019-._~!$&'()*+,;=:@ %é☃/"
QUERY_CHARS = "abcXYZ019-._~ !*'();:@&=+$,/?#[]%é☃"
WHITESPACE = [" ", "  ", "\t", " \t ", ""]


def _segment(rng: random.Random) -> str:
    choice = rng.random()
    if choice < 0.1:
        return rng.choice([".", ".."])
    if choice < 0.15:
        return ""  # a repeated slash
    raw = "".join(rng.choice(SEGMENT_CHARS) for _ in range(rng.randint(1, 8)))
    # As an HTTP client sends it: percent-encoded, except where a test wants the raw form too.
    return quote(raw, safe="-._~!$&'()*+,;=:@") if rng.random() < 0.8 else raw.replace("/", "").replace(" ", "")


def _query(rng: random.Random) -> str:
    if rng.random() < 0.3:
        return ""
    names = [quote("".join(rng.choice(QUERY_CHARS) for _ in range(rng.randint(1, 6))), safe="-_.~")
             for _ in range(rng.randint(1, 3))]
    pairs = []
    for _ in range(rng.randint(1, 6)):
        name = rng.choice(names)  # repeated names
        roll = rng.random()
        if roll < 0.15:
            pairs.append(name)  # no "=" at all
        elif roll < 0.3:
            pairs.append(f"{name}=")  # empty value
        else:
            value = quote("".join(rng.choice(QUERY_CHARS) for _ in range(rng.randint(0, 10))), safe="-_.~")
            pairs.append(f"{name}={value}")
    return "&".join(pairs)


def _headers(rng: random.Random) -> list[tuple[str, str]]:
    headers = [("Content-Type", rng.choice(["application/x-amz-json-1.0", "application/json; charset=utf-8"]))]
    for i in range(rng.randint(0, 4)):
        name = rng.choice(["X-Custom", "x-custom", "X-Amz-Target", f"My-Header{i}", "X-AMZ-Meta-Thing"])
        words = ["".join(rng.choice("abcXYZ019\"',;=/") for _ in range(rng.randint(1, 5))) for _ in range(3)]
        value = rng.choice(WHITESPACE) + rng.choice(WHITESPACE).join(words) + rng.choice(WHITESPACE)
        headers.append((name, value))
    if rng.random() < 0.5:
        headers.append(("User-Agent", "transflow-test/1.0"))  # never signed
    if rng.random() < 0.3:
        headers.append(("X-Amzn-Trace-Id", "Root=1-abc"))  # never signed
    return headers


def _body(rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.3:
        return b""
    if roll < 0.6:
        return b'{"TableName":"t","Key":{"assembly_id":{"S":"\\u00e9x"}}}'
    return bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300)))


def _case(seed: int) -> dict[str, object]:
    rng = random.Random(seed)
    scheme = rng.choice(["https", "http"])
    port = rng.choice(["", "", ":443", ":80", ":8443", ":4566"])
    host = rng.choice(["dynamodb.us-east-1.amazonaws.com", "EXAMPLE.amazonaws.com", "127.0.0.1", "localhost"])
    path = "/" + "/".join(_segment(rng) for _ in range(rng.randint(0, 4)))
    if rng.random() < 0.2:
        path += "/"
    query = _query(rng)
    url = f"{scheme}://{host}{port}{path}" + (f"?{query}" if query else "")
    token = rng.choice([None, "FQoGZXIvYXdzE//token+with/slashes=="])
    return {
        "method": rng.choice(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "post"]),
        "url": url,
        "headers": _headers(rng),
        "body": _body(rng),
        "credentials": sigv4.Credentials("AKIDEXAMPLE", rng.choice(["wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                                                      "s3cr3t+/="]), token),
        "region": rng.choice(["us-east-1", "eu-central-1", "cn-north-1", "us-gov-west-1"]),
        "service": rng.choice(["dynamodb", "sqs", "secretsmanager", "service"]),
    }


def botocore_authorization(case: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: NOW.replace(tzinfo=None))
    request = AWSRequest(method=case["method"], url=case["url"], data=case["body"])
    for name, value in case["headers"]:  # HTTPHeaders appends: repeated names stay repeated
        request.headers[name] = value
    creds = case["credentials"]
    botocore.auth.SigV4Auth(BotoCredentials(creds.access_key, creds.secret_key, creds.token), case["service"],
                            case["region"]).add_auth(request)
    return {k: request.headers[k] for k in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token")
            if k in request.headers}


def ours(case: dict[str, object]) -> dict[str, str]:
    out = sigv4.sign(case["method"], case["url"], case["headers"], case["body"], case["credentials"],
                     case["region"], case["service"], now=NOW)
    return {n: v for n, v in out if n in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token")}


@pytest.mark.parametrize("seed", range(400))
def test_same_signature_as_botocore(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    case = _case(seed)
    assert ours(case) == botocore_authorization(case, monkeypatch), case


def test_the_generator_covers_what_it_claims() -> None:
    cases = [_case(seed) for seed in range(400)]
    urls = [c["url"] for c in cases]
    assert any("%25" in u or "%20" in u for u in urls)  # encoded reserved characters in paths
    assert any("/../" in u or "/./" in u for u in urls) and any("//" in u.split("://", 1)[1] for u in urls)
    assert any("=&" in u or u.endswith("=") for u in urls)  # empty values
    assert any(len({p.split("=")[0] for p in u.split("?", 1)[1].split("&")}) < len(u.split("?", 1)[1].split("&"))
               for u in urls if "?" in u)  # repeated names
    assert any("\t" in v for c in cases for _, v in c["headers"])
    assert any(c["body"] and not c["body"].startswith(b"{") for c in cases)  # binary bodies
    assert any(c["body"] == b"" for c in cases)
    assert any(c["credentials"].token for c in cases) and any(not c["credentials"].token for c in cases)
    assert {c["method"] for c in cases} >= {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"}


@pytest.mark.parametrize("url,canonical", [
    ("https://h/?a=b+c", "a=b%2Bc"),
    ("https://h/?a=b*c", "a=b%2Ac"),
    ("https://h/?a=x y", "a=x%20y"),
    ("https://h/?a=\u00e9", "a=%C3%A9"),
    ("https://h/?\u1234=bar", "%E1%88%B4=bar"),  # the suite's get-vanilla-utf8-query
])
def test_a_query_sent_unencoded_is_signed_as_aws_documents_not_as_botocore(
    url: str, canonical: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """IAM User Guide, "Create a signed AWS API request": URI-encode each parameter name and value
    (unreserved characters ``A-Za-z0-9-_.~`` kept, everything else ``%XX`` of its UTF-8 bytes).
    botocore signs such a query as sent, so the generated cases above, which are all encoded
    queries, are the only ones where botocore is the oracle; here the signatures differ, on purpose."""
    assert sigv4.canonical_query(sigv4.urlsplit(url).query) == canonical
    case = {"method": "GET", "url": url, "headers": [], "body": b"", "region": "us-east-1", "service": "dynamodb",
            "credentials": sigv4.Credentials("AKIDEXAMPLE", "secret", None)}
    assert ours(case)["Authorization"] != botocore_authorization(case, monkeypatch)["Authorization"]
