"""An HTTP front that behaves like the deployed HTTP API and Lambda's Invoke endpoint.

* API routes become payload-format-2.0 events; the shared-secret authorizer handler runs first
  with the same REQUEST event API Gateway sends it (identity source ``Authorization``), then the
  status handler, and its response is mapped back as API Gateway maps it;
* ``POST /2015-03-31/functions/{name}/invocations`` answers Lambda's Invoke API, so
  ``StatusLambdaClient`` or any AWS SDK pointed at this URL reaches the status function;
* any other request signed with SigV4 (DynamoDB, SQS, Secrets Manager, ...) is passed to the
  embedded moto server, so one URL serves as ``AWS_ENDPOINT_URL`` for every AWS SDK call;
* ``/`` serves the status page, ``/openapi.json`` the API's OpenAPI document.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources as importlib_resources
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from ..schema import ROUTES
from .lambda_context import LocalLambdaContext

log = logging.getLogger("transflow.local")
Handler = Callable[[dict[str, Any], Any], Any]
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
_INVOKE_RE = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")


def _compile_routes() -> list[tuple[str, str, re.Pattern[str]]]:
    compiled = []
    for method, path in ROUTES:
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
        compiled.append((method, path, re.compile(f"^{pattern}$")))
    return compiled


class LocalGateway:
    """Owns the HTTP server; ``start()`` serves in a background thread."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        status_handler: Handler,
        authorizer_handler: Handler | None,
        status_function_name: str,
        aws_backend_url: str | None = None,
        region: str = "us-east-1",
        account_id: str = "123456789012",
    ) -> None:
        self.aws_backend_url = aws_backend_url
        self.status_handler = status_handler
        self.authorizer_handler = authorizer_handler
        self.status_function_name = status_function_name
        self.region = region
        self.account_id = account_id
        self.api_id = "local"
        self.routes = _compile_routes()
        gateway = self

        class RequestHandler(_RequestHandler):
            owner = gateway

        # ThreadingHTTPServer binds IPv4 only; pick the family from the host (--host ::1 works).
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        server_class = type("GatewayServer", (ThreadingHTTPServer,), {"address_family": family})
        self.server = server_class((host, port), RequestHandler)
        self.server.daemon_threads = True
        self.host, self.port = self.server.server_address[:2]
        self._thread: Any = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in str(self.host) else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        import threading

        self._thread = threading.Thread(target=self.server.serve_forever, name="gateway", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # ---------------------------------------------------------------------------------- API
    def match(self, method: str, path: str) -> tuple[str | None, dict[str, str] | None, bool]:
        """(route key, path parameters, path exists with another method)."""
        other_method = False
        for route_method, route_path, pattern in self.routes:
            found = pattern.match(path)
            if found:
                if route_method == method:
                    params = {k: unquote(v) for k, v in found.groupdict().items()}
                    return f"{route_method} {route_path}", params, False
                other_method = True
        return None, None, other_method

    def api_event(
        self, method: str, raw_path: str, raw_query: str, headers: dict[str, str], body: bytes,
        route_key: str, path_params: dict[str, str], source_ip: str, cookies: list[str] | None = None,
    ) -> dict[str, Any]:
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
                "accountId": self.account_id,
                "apiId": self.api_id,
                "domainName": headers.get("host", "localhost"),
                "domainPrefix": "local",
                "http": {
                    "method": method,
                    "path": raw_path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": source_ip,
                    "userAgent": headers.get("user-agent", ""),
                },
                "requestId": uuid.uuid4().hex,
                "routeKey": route_key,
                "stage": "$default",
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

    def authorize(self, event: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        """Run the Lambda authorizer as API Gateway does; (status, context) or (401/403/500, None)."""
        if self.authorizer_handler is None:
            return 200, {}
        identity = event["headers"].get("authorization")
        if not identity:
            return 401, None  # API Gateway answers without calling the authorizer
        auth_event = {
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": f"arn:aws:execute-api:{self.region}:{self.account_id}:{self.api_id}/$default/"
            + event["routeKey"].replace(" ", ""),
            "identitySource": [identity],
            **{k: v for k, v in event.items() if k not in ("body", "isBase64Encoded", "version")},
        }
        try:
            result = self.authorizer_handler(auth_event, LocalLambdaContext("transflow-local-authorizer"))
        except Exception:
            log.exception("authorizer raised")
            return 500, None
        if not isinstance(result, dict) or result.get("isAuthorized") is not True:
            return 403, None
        return 200, dict(result.get("context") or {})

    def invoke_status(self, event: Any) -> Any:
        return self.status_handler(event, LocalLambdaContext(self.status_function_name, region=self.region))


class _RequestHandler(BaseHTTPRequestHandler):
    owner: LocalGateway
    protocol_version = "HTTP/1.1"
    server_version = "transflow-local"
    # Headers and body go out in separate sends; without TCP_NODELAY every keep-alive response
    # waits ~40 ms for the client's delayed ACK (measured: 50 ms -> 4 ms p50 per poll).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_OPTIONS(self) -> None:
        self._dispatch("OPTIONS")

    def __getattr__(self, name: str) -> Any:
        # Every other method (TRACE, CONNECT, extension methods) is routed like these, so it gets
        # API Gateway's JSON 404 instead of http.server's HTML 501 (found by schemathesis).
        if name.startswith("do_") and name[3:].isalpha():
            return lambda: self._dispatch(name[3:])
        raise AttributeError(name)

    # ------------------------------------------------------------------------------------------
    def _dispatch(self, method: str) -> None:
        try:
            split = urlsplit(self.path)
            body = self._read_body()
            if body is None:
                # The unread body must never be parsed as a further request on this connection.
                self.close_connection = True
                self._send_json(413, {"message": "Request Entity Too Large"}, {"connection": "close"})
                return
            invoke = _INVOKE_RE.match(split.path)
            if invoke and method == "POST":
                self._invoke(unquote(invoke.group("name")), body)
                return
            if self.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256") and self.owner.aws_backend_url:
                self._proxy(method, body)
                return
            if method == "GET" and split.path in ("/", "/index.html"):
                self._send_page()
                return
            if method == "GET" and split.path == "/openapi.json":  # a static document: no authorizer
                self._send_openapi()
                return
            self._api(method, split.path, split.query, body)
        except Exception:
            log.exception("local gateway failed")
            self._send_json(500, {"message": "Internal Server Error"})

    def _read_body(self) -> bytes | None:
        """The request body (Content-Length or chunked); ``None`` when over API Gateway's limit."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts: list[bytes] = []
            size = 0
            while True:
                line = self.rfile.readline(1024)
                chunk = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if chunk == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(parts)
                size += chunk
                if size > MAX_BODY_BYTES:
                    return None
                parts.append(self.rfile.read(chunk))
                self.rfile.readline(8)  # the CRLF after each chunk
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY_BYTES:
            return None
        return self.rfile.read(length) if length else b""

    def _headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for key, value in self.headers.items():
            key = key.lower()
            if key == "cookie":
                continue  # payload 2.0 carries cookies in event["cookies"]
            headers[key] = f"{headers[key]},{value}" if key in headers else value
        return headers

    def _cookies(self) -> list[str]:
        return [c.strip() for header in self.headers.get_all("Cookie") or [] for c in header.split(";") if c.strip()]

    def _api(self, method: str, path: str, query: str, body: bytes) -> None:
        gateway = self.owner
        route_key, params, _ = gateway.match(method, path)
        if route_key is None:
            # HTTP API answers unknown routes (and unrouted methods) itself.
            self._send_json(404, {"message": "Not Found"})
            return
        event = gateway.api_event(method, path, query, self._headers(), body, route_key, params or {},
                                  self.client_address[0], self._cookies())
        status, context = gateway.authorize(event)
        if status == 401:
            self._send_json(401, {"message": "Unauthorized"}, {"www-authenticate": 'Bearer realm="transflow"'})
            return
        if status != 200:
            self._send_json(status, {"message": "Forbidden" if status == 403 else "Internal Server Error"})
            return
        if context is not None and gateway.authorizer_handler is not None:
            event["requestContext"]["authorizer"] = {"lambda": context}
        try:
            result = gateway.invoke_status(event)
        except Exception:
            log.exception("status handler raised")
            self._send_json(500, {"message": "Internal Server Error"})
            return
        self._send_lambda_response(result)

    def _send_lambda_response(self, result: Any) -> None:
        """Map a payload-2.0 Lambda response as API Gateway does (incl. its inferred format)."""
        if not (isinstance(result, dict) and "statusCode" in result):
            self._send(200, json.dumps(result).encode(), {"content-type": "application/json"})
            return
        headers = {str(k).lower(): str(v) for k, v in (result.get("headers") or {}).items()}
        body = result.get("body") or ""
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
        cookies = result.get("cookies") or []
        self._send(int(result["statusCode"]), raw, headers, cookies)

    def _invoke(self, name: str, body: bytes) -> None:
        gateway = self.owner
        short_name = name.rsplit(":function:", 1)[-1].split(":")[0]
        if short_name != gateway.status_function_name:
            self._send_json(
                404,
                {"Type": "User", "message": f"Function not found: {name}"},
                {"x-amzn-errortype": "ResourceNotFoundException"},
            )
            return
        try:
            event = json.loads(body or b"{}")
        except ValueError:
            self._send_json(400, {"Type": "User", "message": "Could not parse request body into json"},
                            {"x-amzn-errortype": "InvalidRequestContentException"})
            return
        invocation_type = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if invocation_type == "DryRun":  # checks the call would be allowed; runs nothing
            self._send(204, b"", {"x-amz-executed-version": "$LATEST"})
            return
        if invocation_type == "Event":  # asynchronous: accepted now, run in the background
            threading.Thread(target=self._run_async, args=(event,), name="invoke-event", daemon=True).start()
            self._send(202, b"", {"x-amz-executed-version": "$LATEST"})
            return
        if invocation_type != "RequestResponse":
            self._send_json(400, {"Type": "User", "message": f"Unsupported invocation type {invocation_type}"},
                            {"x-amzn-errortype": "InvalidParameterValueException"})
            return
        try:
            result = gateway.invoke_status(event)
        except Exception as exc:
            self._send_json(200, {"errorMessage": str(exc), "errorType": type(exc).__name__},
                            {"x-amz-function-error": "Unhandled", "x-amz-executed-version": "$LATEST"})
            return
        self._send(200, json.dumps(result).encode(), {"content-type": "application/json",
                                                       "x-amz-executed-version": "$LATEST"})

    def _run_async(self, event: Any) -> None:
        try:
            self.owner.invoke_status(event)
        except Exception:
            log.exception("asynchronous invocation of the status function failed")

    def _proxy(self, method: str, body: bytes) -> None:
        """Pass a signed AWS API call through to moto unchanged."""
        import http.client

        backend = urlsplit(self.owner.aws_backend_url)
        connection = http.client.HTTPConnection(backend.hostname, backend.port, timeout=60)
        try:
            hop = ("connection", "content-length", "transfer-encoding")  # the body is passed on whole
            headers = {k: v for k, v in self.headers.items() if k.lower() not in hop}
            connection.request(method, self.path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            skip = {"date", "server"}
            headers = {k.lower(): v for k, v in response.getheaders() if k.lower() not in skip}
            self._send(response.status, payload, headers)
        finally:
            connection.close()

    def _send_page(self) -> None:
        page = importlib_resources.files("transflow_runtime.local").joinpath("static/index.html").read_bytes()
        self._send(200, page, {"content-type": "text/html; charset=utf-8", "cache-control": "no-store"})

    def _send_openapi(self) -> None:
        from ..openapi import openapi_document  # pydantic: only when someone asks for it

        body = json.dumps(openapi_document(server_url=self.owner.url)).encode()
        self._send(200, body, {"content-type": "application/json", "cache-control": "no-store"})

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), {"content-type": "application/json", **(headers or {})})

    def _send(self, status: int, body: bytes, headers: dict[str, str], cookies: list[str] | None = None) -> None:
        self.send_response(status)
        for key, value in headers.items():
            if key not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(key, value)
        for cookie in cookies or []:
            self.send_header("set-cookie", cookie)
        no_body = status in (204, 304) or self.command == "HEAD"
        self.send_header("content-length", "0" if no_body and status in (204, 304) else str(len(body)))
        self.send_header("apigw-requestid", uuid.uuid4().hex[:16])
        self.end_headers()
        if not no_body:
            self.wfile.write(body)
