"""The template's HTTP API as API Gateway serves it: route selection, payload-format-2.0 events,
CORS, stage throttling, and mapping a function's response back (incl. API Gateway's inferred
format for a response without ``statusCode``).
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from .providers import ApiSpec, RouteSpec


@dataclass
class CompiledRoute:
    spec: RouteSpec
    method: str  # "ANY" matches every method
    pattern: re.Pattern[str] | None  # None: $default
    literal_segments: int
    greedy: bool


def compile_routes(api: ApiSpec) -> list[CompiledRoute]:
    """Routes in API Gateway's order of preference: most specific path first, ``$default`` last."""
    compiled = []
    for route in api.routes:
        if route.route_key == "$default":
            compiled.append(CompiledRoute(route, "ANY", None, -1, True))
            continue
        method, _, path = route.route_key.partition(" ")
        regex, literal, greedy = "", 0, False
        for segment in path.strip("/").split("/") if path.strip("/") else []:
            found = re.fullmatch(r"\{(\w+)(\+?)\}", segment)
            if found and found.group(2):
                regex += f"/(?P<{found.group(1)}>.+)"
                greedy = True
            elif found:
                regex += f"/(?P<{found.group(1)}>[^/]+)"
            else:
                regex += "/" + re.escape(segment)
                literal += 1
        compiled.append(CompiledRoute(route, method.upper(), re.compile(f"^{regex or '/'}$"), literal, greedy))
    compiled.sort(key=lambda r: (r.pattern is None, r.greedy, -r.literal_segments, r.method == "ANY"))
    return compiled


def match(routes: list[CompiledRoute], method: str, path: str) -> tuple[CompiledRoute, dict[str, str]] | None:
    for route in routes:
        if route.method not in ("ANY", method):
            continue
        if route.pattern is None:
            return route, {}
        found = route.pattern.match(path)
        if found:
            return route, {k: unquote(v) for k, v in found.groupdict().items()}
    return None


class Throttle:
    """The stage's token bucket: ``rate`` requests per second refill up to ``burst``."""

    def __init__(self, rate: float | None, burst: int | None) -> None:
        self.rate = float(rate) if rate else None
        self.burst = float(burst) if burst else (self.rate or 0.0)
        self._tokens = self.burst
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def allow(self) -> bool:
        if self.rate is None:
            return True
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True


def cors_preflight(cors: dict[str, Any], headers: dict[str, str]) -> dict[str, str]:
    """API Gateway's answer to a CORS preflight: the allow headers when the origin is allowed."""
    out = cors_headers(cors, headers)
    if not out:
        return {}
    if cors.get("AllowMethods"):
        out["access-control-allow-methods"] = ",".join(cors["AllowMethods"])
    if cors.get("AllowHeaders"):
        out["access-control-allow-headers"] = ",".join(cors["AllowHeaders"])
    if cors.get("MaxAge") is not None:
        out["access-control-max-age"] = str(cors["MaxAge"])
    out.pop("access-control-expose-headers", None)
    return out


def cors_headers(cors: dict[str, Any], headers: dict[str, str]) -> dict[str, str]:
    origin = headers.get("origin")
    allowed = [str(o) for o in cors.get("AllowOrigins") or []]
    if not origin or not (origin in allowed or "*" in allowed):
        return {}
    out = {"access-control-allow-origin": origin if origin in allowed or cors.get("AllowCredentials") else "*"}
    if cors.get("AllowCredentials"):
        out["access-control-allow-credentials"] = "true"
    if cors.get("ExposeHeaders"):
        out["access-control-expose-headers"] = ",".join(cors["ExposeHeaders"])
    return out


def api_event(
    *,
    api_id: str,
    account_id: str,
    stage: str,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: dict[str, str],
    cookies: list[str],
    body: bytes,
    route_key: str,
    path_params: dict[str, str],
    source_ip: str,
) -> dict[str, Any]:
    """The payload-format-2.0 event API Gateway sends a Lambda integration."""
    now = time.time()
    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value  # as API Gateway joins repeats
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": account_id,
            "apiId": api_id,
            "domainName": headers.get("host", "localhost"),
            "domainPrefix": api_id,
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex[:16] + "=",
            "routeKey": route_key,
            "stage": stage,
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies  # payload 2.0 moves request cookies out of the headers
    if query:
        event["queryStringParameters"] = query
    if path_params:
        event["pathParameters"] = path_params
    if body:
        try:
            event["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = True
    return event


def lambda_response(result: Any) -> tuple[int, dict[str, str], bytes, list[str]]:
    """(status, headers, body, cookies) of a payload-2.0 function response, as API Gateway maps it."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # API Gateway infers the format: any other value is a 200 JSON body.
        body = result if isinstance(result, str) else json.dumps(result)
        return 200, {"content-type": "application/json"}, body.encode("utf-8"), []
    headers = {str(k).lower(): str(v) for k, v in (result.get("headers") or {}).items()}
    for key, values in (result.get("multiValueHeaders") or {}).items():
        headers[str(key).lower()] = ",".join(str(v) for v in values)
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
    return int(result["statusCode"]), headers, raw, [str(c) for c in result.get("cookies") or []]
