"""AWS Signature Version 4 with the standard library (non-S3 services).

The algorithm of AWS's "Create a signed AWS API request" page (IAM User Guide), with the choices
botocore's ``SigV4Auth`` makes where the page leaves room, so the two sign alike any request
whose query is percent-encoded (every request this client makes: ``POST /``, no query):

* the canonical URI is the request's (already percent-encoded) path with dot segments and
  repeated slashes removed, percent-encoded once more (``/`` and ``~`` kept): every service but
  S3 expects the path encoded twice;
* the canonical query string is the request's query split on ``&`` and ``=``, each name and
  value left as sent when it is already encoded (and encoded when it is not), sorted by name
  and then value; a parameter without ``=`` gets an empty value. Characters a query carries raw
  (``+``, ``*``, a space, ``é``) are encoded as the page and AWS's suite (``get-vanilla-utf8-query``)
  say; botocore signs them as sent, so there the two differ and AWS's rule is followed;
* every header is signed except the hop-by-hop and tracing ones botocore leaves out
  (``user-agent``, ``x-amzn-trace-id``, ...); a header's value has its whitespace runs folded to
  one space, and repeated headers are joined with ``,`` in the order sent;
* the session token, when there is one, is sent and signed as ``X-Amz-Security-Token``.

Checked against AWS's published Signature Version 4 test suite and against botocore.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import NamedTuple
from urllib.parse import quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
#: Headers botocore never signs (proxies and tracing agents may add or rewrite them).
UNSIGNED_HEADERS = frozenset({
    "baggage", "connection", "expect", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
    "traceparent", "tracestate", "trailer", "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id",
})
#: Set by ``sign`` itself; a value passed in is replaced (a retry is signed afresh).
_REPLACED = frozenset({"authorization", "x-amz-date", "x-amz-security-token"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


class Credentials(NamedTuple):
    access_key: str
    secret_key: str
    token: str | None = None


def remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, and consecutive slashes collapsed (AWS services require it)."""
    if not path:
        return "/"
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment and segment != ".":
            segments.append(segment)
    first = "/" if path.startswith("/") else ""
    last = "/" if path.endswith("/") and segments else ""
    return first + "/".join(segments) + last


def canonical_uri(path: str) -> str:
    return quote(remove_dot_segments(path), safe="/~")


def canonical_query(query: str) -> str:
    if not query:
        return ""
    pairs = []
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        pairs.append((quote(name, safe="-_.~%"), quote(value, safe="-_.~%")))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def host_header(url: str) -> str:
    """The ``Host`` an HTTP client sends for ``url``: lowercase, the port only if not the default."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


def canonical_headers(headers: Iterable[tuple[str, str]]) -> tuple[str, str]:
    """(canonical headers block without its final newline, signed header names)."""
    values: dict[str, list[str]] = {}
    for name, value in headers:
        lname = name.lower().strip()
        if lname not in UNSIGNED_HEADERS:
            values.setdefault(lname, []).append(" ".join(value.split()))
    names = sorted(values)
    block = "\n".join(f"{n}:{','.join(values[n])}" for n in names)
    return block, ";".join(names)


def canonical_request(method: str, url: str, headers: Iterable[tuple[str, str]], payload_hash: str) -> str:
    return _canonical_request(method, url, headers, payload_hash)[0]


def _canonical_request(
    method: str, url: str, headers: Iterable[tuple[str, str]], payload_hash: str
) -> tuple[str, str]:
    """(canonical request, signed header names)."""
    parts = urlsplit(url)
    block, signed = canonical_headers(headers)
    lines = (method.upper(), canonical_uri(parts.path), canonical_query(parts.query), block + "\n", signed)
    return "\n".join((*lines, payload_hash)), signed


def credential_scope(amz_date: str, region: str, service: str) -> str:
    return f"{amz_date[:8]}/{region}/{service}/aws4_request"


def string_to_sign(amz_date: str, scope: str, canonical: str) -> str:
    return "\n".join((ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest()))


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


_key_cache: tuple[tuple[str, str, str, str], bytes] | None = None


def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    """kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").

    The last key is cached: it changes once a day, and four HMACs per request add up.
    """
    global _key_cache
    ident = (secret_key, date, region, service)
    cached = _key_cache
    if cached is not None and cached[0] == ident:
        return cached[1]
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret_key}".encode(), date), region), service), "aws4_request")
    _key_cache = (ident, key)
    return key


def sign(
    method: str,
    url: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    credentials: Credentials,
    region: str,
    service: str,
    *,
    now: datetime | None = None,
) -> list[tuple[str, str]]:
    """The request's headers with ``Host`` (when missing), ``X-Amz-Date``, ``X-Amz-Security-Token``
    (with a session token) and ``Authorization`` added; earlier values of those are replaced."""
    moment = now if now is not None else datetime.now(UTC)
    amz_date = moment.strftime(TIMESTAMP_FORMAT)
    out = [(n, v) for n, v in headers if n.lower() not in _REPLACED]
    if not any(n.lower() == "host" for n, _ in out):
        out.append(("Host", host_header(url)))
    out.append(("X-Amz-Date", amz_date))
    if credentials.token:
        out.append(("X-Amz-Security-Token", credentials.token))
    payload_hash = next((v for n, v in out if n.lower() == "x-amz-content-sha256"), None)
    if payload_hash is None:
        payload_hash = hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256
    canonical, signed = _canonical_request(method, url, out, payload_hash)
    scope = credential_scope(amz_date, region, service)
    key = signing_key(credentials.secret_key, amz_date[:8], region, service)
    signature = hmac.new(key, string_to_sign(amz_date, scope, canonical).encode("utf-8"), hashlib.sha256).hexdigest()
    out.append(
        ("Authorization", f"{ALGORITHM} Credential={credentials.access_key}/{scope}, SignedHeaders={signed}, "
                          f"Signature={signature}")
    )
    return out
