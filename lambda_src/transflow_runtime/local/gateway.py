"""Local mode's one HTTP front, on the bound address only.

* Every request must name local mode itself in ``Host`` (an IP address literal, ``localhost``, or
  the ``--host`` name): a web page that rebinds its own hostname to 127.0.0.1 gets 403, so it can
  neither read the API nor reach the AWS endpoint (DNS rebinding).
* A request signed with SigV4 is an AWS API call: its signature must verify with credentials local
  mode issued (``iam.Credentials``) before anything else happens; a function's call must then be
  allowed by its role's policies (``iam.decide``); only then is it passed to the embedded moto
  server, which accepts nothing that does not come through here. ``POST
  /2015-03-31/functions/{name}/invocations`` is Lambda's Invoke for the template's functions.
* Requests to the template's routes are the HTTP API (``http_api``): stage throttling, CORS,
  the route's authorizer, then its function, whose response is mapped as API Gateway maps it.
* ``/`` is the status page, ``/openapi.json`` the API's OpenAPI document; ``/_local/...`` holds
  the development issuer, token minting and the webhook inbox.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import socket
import sys
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources as importlib_resources
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from . import dev_issuer, http_api, iam
from . import inbox as inbox_module
from .authorizers import JwtAuthorizer, LambdaAuthorizer
from .event_viewer import PATH as EVENTS_PATH
from .event_viewer import EventViewer
from .functions import FunctionRuntime, Invocation

log = logging.getLogger("transflow.local")
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
PROXY_TOKEN_HEADER = "x-transflow-local-proxy"  # noqa: S105 - a header name
#: Lambda's synchronous Invoke request limit (its error: "Request must be smaller than 6291456
#: bytes for the InvokeFunction operation", RequestEntityTooLargeException, 413).
INVOKE_REQUEST_LIMIT_BYTES = 6_291_456
_PRESIGNED = re.compile(r"(?:^|&)X-Amz-(?:Signature|Credential)=", re.IGNORECASE)
_INVOKE_RE = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")


@dataclass
class Services:
    """What the gateway serves, set once the template is provisioned."""

    api_id: str
    account_id: str
    region: str
    stage: str
    routes: list[http_api.CompiledRoute]
    cors: dict[str, Any] | None
    throttle: http_api.Throttle
    functions: dict[str, FunctionRuntime]  # by function name
    authorizers: dict[str, JwtAuthorizer | LambdaAuthorizer]  # by authorizer logical id
    credentials: iam.Credentials
    names: iam.ResourceNames
    backend_url: str
    backend_token: str
    dev_issuer: dev_issuer.DevIssuer | None = None
    inbox: inbox_module.Inbox | None = None
    event_viewer: EventViewer | None = None
    mint: Callable[[str, int], str] | None = None
    page_config: dict[str, Any] = field(default_factory=dict)
    #: Mint tokens (and let the page sign in by user id) for other machines too (--allow-remote-tokens).
    remote_tokens: bool = False

    def function(self, name_or_arn: str) -> FunctionRuntime | None:
        """The template's function a ``FunctionName`` names: in this region and account, unqualified
        or ``$LATEST`` (the template publishes no versions or aliases local mode runs)."""
        region, account, short, qualifier = self.names.function_parts(name_or_arn)
        if (region, account) != (self.region, self.account_id) or qualifier not in (None, "$LATEST"):
            return None
        return self.functions.get(short)


def _host_allowed(host_header: str, bound_host: str, bound_port: int) -> bool:
    """An IP literal cannot be rebound by DNS; a name must be ``localhost`` or the ``--host`` name."""
    host = host_header.strip()
    port = None
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
    elif host.count(":") == 1:
        name, port = host.split(":")
    else:
        name = host
    if not name or (port is not None and port != str(bound_port)):
        return False
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return name.lower().rstrip(".") in ("localhost", bound_host.lower())


class BindError(OSError):
    """The gateway cannot listen on the address asked for (in use, not this machine's, ...)."""


class _FramingError(ValueError):
    """The request's body framing (Content-Length, chunk sizes) is invalid."""


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that drops its connection is no error of local mode's (no traceback for it)."""
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        log.exception("local gateway: request from %s failed", client_address[0])


class LocalGateway:
    """Binds at construction (so its URL is known before provisioning); serves after ``start()``."""

    def __init__(self, *, host: str, port: int) -> None:
        gateway = self

        class RequestHandler(_RequestHandler):
            owner = gateway

        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        server_class = type("GatewayServer", (_Server,), {"address_family": family})
        try:
            self.server = server_class((host, port), RequestHandler)
        except OSError as exc:
            raise BindError(exc.errno, exc.strerror or str(exc)) from exc
        self.server.daemon_threads = True
        self.bound_host = host
        self.host, self.port = self.server.server_address[:2]
        self.services: Services | None = None
        self._thread: threading.Thread | None = None

    @property
    def exposed(self) -> bool:
        """Whether other machines can reach it (bound to an address that is not loopback)."""
        try:
            return not ipaddress.ip_address(str(self.host)).is_loopback
        except ValueError:
            return True

    @property
    def url(self) -> str:
        """A URL that reaches it from this machine (loopback for a wildcard bind such as 0.0.0.0)."""
        host = str(self.host)
        if host in ("0.0.0.0", "::"):  # noqa: S104 - naming the wildcard, not binding it
            host = "127.0.0.1" if host == "0.0.0.0" else "::1"  # noqa: S104
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self.server.serve_forever, name="gateway", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.server.shutdown()
        self.server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


class _RequestHandler(BaseHTTPRequestHandler):
    owner: LocalGateway
    protocol_version = "HTTP/1.1"
    server_version = "transflow-local"
    # Headers and body go out in separate sends; without TCP_NODELAY every keep-alive response
    # waits ~40 ms for the client's delayed ACK.
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
            try:
                body = self._read_body()
            except _FramingError as exc:
                # The rest of the connection cannot be told apart from the body: never read on.
                self.close_connection = True
                self._send_json(400, {"message": f"Bad Request: {exc}"}, {"connection": "close"})
                return
            if body is None:
                # The unread body must never be parsed as a further request on this connection.
                self.close_connection = True
                self._send_json(413, {"message": "Request Entity Too Large"}, {"connection": "close"})
                return
            host = self.headers.get("Host", "")
            if not _host_allowed(host, self.owner.bound_host, self.owner.port):
                self.close_connection = True
                reason = (
                    f"Forbidden: Host {host[:100]!r} is not this local mode's address "
                    f"({self.owner.url} or localhost): refused as a possible DNS rebinding"
                )
                self._send_json(403, {"message": reason})
                return
            services = self.owner.services
            if services is None:
                self._send_json(503, {"message": "Service Unavailable: local mode is starting"})
                return
            split = urlsplit(self.path)
            if self.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256"):
                self._aws(services, method, body)
                return
            if _PRESIGNED.search(split.query):
                # Query-string SigV4 is an AWS call: local mode verifies header signatures only.
                status, out_headers, payload = iam.error_response(
                    "query", "AccessDenied", "local mode accepts AWS calls signed in the Authorization header only"
                )
                self._send(status, payload, out_headers)
                return
            if method in ("GET", "HEAD") and split.path in ("/", "/index.html"):
                self._send_page()
                return
            if method == "GET" and split.path == "/openapi.json":  # a static document: no authorizer
                self._send_openapi(services)
                return
            if split.path.startswith("/_local/"):
                self._local(services, method, split.path, body)
                return
            self._api(services, method, split.path, split.query, body)
        except Exception:
            log.exception("local gateway failed")
            self._send_json(500, {"message": "Internal Server Error"})

    def _read_body(self) -> bytes | None:
        """The request body (Content-Length or chunked); ``None`` when over API Gateway's limit,
        ``_FramingError`` when its framing cannot be read (RFC 9112: 400, then close)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts: list[bytes] = []
            size = 0
            while True:
                line = self.rfile.readline(1024)
                size_text = line.split(b";", 1)[0].strip()
                if not re.fullmatch(rb"[0-9A-Fa-f]{1,16}", size_text):
                    raise _FramingError("invalid chunk size")
                chunk = int(size_text, 16)
                if chunk == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(parts)
                size += chunk
                if size > MAX_BODY_BYTES:
                    return None
                parts.append(self.rfile.read(chunk))
                self.rfile.readline(8)  # the CRLF after each chunk
        declared = self.headers.get_all("Content-Length") or []
        if len(set(declared)) > 1 or not all(re.fullmatch(r"\s*[0-9]{1,20}\s*", d) for d in declared):
            raise _FramingError("invalid Content-Length")
        length = int(declared[0]) if declared else 0
        if length > MAX_BODY_BYTES:
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

    # ---------------------------------------------------------------------------------- the API
    def _api(self, services: Services, method: str, path: str, query: str, body: bytes) -> None:
        headers = self._headers()
        cors = services.cors
        if cors and method == "OPTIONS" and "origin" in headers and "access-control-request-method" in headers:
            self._send(204, b"", http_api.cors_preflight(cors, headers))
            return
        extra = http_api.cors_headers(cors, headers) if cors else {}
        if not services.throttle.allow():
            self._send_json(429, {"message": "Too Many Requests"}, extra)
            return
        found = http_api.match(services.routes, method, path)
        if found is None:
            self._send_json(404, {"message": "Not Found"}, extra)
            return
        compiled, params = found
        route = compiled.spec
        event = http_api.api_event(
            api_id=services.api_id,
            account_id=services.account_id,
            stage=services.stage,
            method=method,
            raw_path=path,
            raw_query=query,
            headers=headers,
            cookies=self._cookies(),
            body=body,
            route_key=route.route_key,
            path_params=params,
            source_ip=self.client_address[0],
        )
        if route.authorization_type == "AWS_IAM":
            self._send_json(403, {"message": "Forbidden"}, extra)
            return
        if route.authorizer is not None and route.authorization_type in ("JWT", "CUSTOM"):
            authorizer = services.authorizers[route.authorizer.logical_id]
            if isinstance(authorizer, JwtAuthorizer):
                query_params = dict(parse_qsl(query, keep_blank_values=True))
                decision = authorizer.authorize(headers, query_params, route.scopes)
            else:
                route_arn = (
                    f"arn:aws:execute-api:{services.region}:{services.account_id}:{services.api_id}/"
                    f"{services.stage}/{method}{path}"
                )
                decision = authorizer.authorize(event, route_arn)
            if decision.status != 200:
                log.info("authorizer refused %s %s: %s", method, path, decision.reason)
                answer = {401: "Unauthorized", 403: "Forbidden"}.get(decision.status, "Internal Server Error")
                more = dict(extra)
                if decision.www_authenticate:
                    more["www-authenticate"] = decision.www_authenticate
                self._send_json(decision.status, {"message": answer}, more)
                return
            event["requestContext"]["authorizer"] = decision.context
        runtime = services.function(route.function.name) if route.function is not None else None
        if runtime is None or not route.invoke_permitted:
            log.error(
                "route %s: API Gateway may not invoke its function (no integration or no lambda:InvokeFunction "
                "permission for apigateway.amazonaws.com)",
                route.route_key,
            )
            self._send_json(500, {"message": "Internal Server Error"}, extra)
            return
        outcome = runtime.invoke(event)
        if not outcome.ok:
            self._send_json(500, {"message": "Internal Server Error"}, extra)
            return
        status, response_headers, raw, cookies = http_api.lambda_response(outcome.payload)
        response_headers.update(extra)
        self._send(status, raw, response_headers, cookies)

    # ---------------------------------------------------------------------------------- AWS calls
    def _aws(self, services: Services, method: str, body: bytes) -> None:
        headers = {k: v for k, v in self.headers.items()}
        protocol = (
            "rest-json"
            if "/2015-03-31/functions/" in self.path
            else ("json" if self.headers.get("X-Amz-Target") else "query")
        )
        try:
            signed = services.credentials.verify(method, self.path, headers, body, region=services.region)
            op = iam.operation(signed.service, method, self.path, headers, body, services.names)
        except (iam.AuthError, iam.RequestError) as exc:
            status, out_headers, payload = iam.error_response(protocol, exc.code, exc.message)
            if isinstance(exc, iam.RequestError):
                status = exc.status
            self._send(status, payload, out_headers)
            return
        identity = signed.identity
        if identity.policies is not None:
            if op is None:
                log.warning(
                    "%s: local mode cannot tell the IAM action of %s %s; refused",
                    identity.name,
                    method,
                    self.path[:200],
                )
                status, out_headers, payload = iam.error_response(
                    "json", "AccessDeniedException", "local mode cannot tell which action this is"
                )
                self._send(status, payload, out_headers)
                return
            for resource in op.resources:
                reason = iam.decide(identity, op.action, resource)
                if reason is not None:
                    log.warning(
                        "IAM denied: function %s may not %s on %s (%s)", identity.name, op.action, resource, reason
                    )
                    status, out_headers, payload = iam.access_denied(identity, op, resource, reason)
                    self._send(status, payload, out_headers)
                    return
        if op is not None and op.action.lower() in iam.ALWAYS_ALLOWED:
            self._send(200, iam.caller_identity(identity), {"content-type": "text/xml"})
            return
        invoke = _INVOKE_RE.match(urlsplit(self.path).path)
        if signed.service == "lambda":
            if invoke and method == "POST":
                self._invoke(services, unquote(invoke.group("name")), body)
            else:
                self._send_json(
                    404,
                    {"Type": "User", "message": "local mode answers Lambda's Invoke only"},
                    {"x-amzn-errortype": "ResourceNotFoundException"},
                )
            return
        self._proxy(services, method, body)

    def _invoke(self, services: Services, name: str, body: bytes) -> None:
        runtime = services.function(name)
        if runtime is None:
            arn = services.names.function(name)
            self._send_json(
                404,
                {"Type": "User", "message": f"Function not found: {arn}"},
                {"x-amzn-errortype": "ResourceNotFoundException"},
            )
            return
        if len(body) > INVOKE_REQUEST_LIMIT_BYTES:
            self._send_json(
                413,
                {
                    "Type": "User",
                    "message": f"Request must be smaller than {INVOKE_REQUEST_LIMIT_BYTES} bytes for the "
                    "InvokeFunction operation",
                },
                {"x-amzn-errortype": "RequestEntityTooLargeException"},
            )
            return
        try:
            event = json.loads(body or b"{}")
        except ValueError:
            self._send_json(
                400,
                {"Type": "User", "message": "Could not parse request body into json"},
                {"x-amzn-errortype": "InvalidRequestContentException"},
            )
            return
        invocation_type = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if invocation_type == "DryRun":  # checks the call would be allowed; runs nothing
            self._send(204, b"", {"x-amz-executed-version": "$LATEST"})
            return
        if invocation_type == "Event":  # asynchronous: accepted now, run in the background
            threading.Thread(target=runtime.invoke, args=(event,), name="invoke-event", daemon=True).start()
            self._send(202, b"", {"x-amz-executed-version": "$LATEST"})
            return
        if invocation_type != "RequestResponse":
            self._send_json(
                400,
                {"Type": "User", "message": f"Unsupported invocation type {invocation_type}"},
                {"x-amzn-errortype": "InvalidParameterValueException"},
            )
            return
        outcome: Invocation = runtime.invoke(event)
        headers = {"content-type": "application/json", "x-amz-executed-version": "$LATEST"}
        if not outcome.ok:
            headers["x-amz-function-error"] = outcome.function_error or "Unhandled"
        self._send(200, json.dumps(outcome.payload).encode(), headers)

    def _proxy(self, services: Services, method: str, body: bytes) -> None:
        """Pass a verified AWS API call to moto unchanged (plus the token moto requires)."""
        import http.client

        backend = urlsplit(services.backend_url)
        status: int | None = None
        connection = http.client.HTTPConnection(backend.hostname, backend.port, timeout=60)
        try:
            hop = ("connection", "content-length", "transfer-encoding")  # the body is passed on whole
            headers = {k: v for k, v in self.headers.items() if k.lower() not in hop}
            headers[PROXY_TOKEN_HEADER] = services.backend_token
            headers[iam.MOTO_ACCOUNT_HEADER] = services.account_id  # the stack's own account
            connection.request(method, self.path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            skip = {"date", "server"}
            out = {k.lower(): v for k, v in response.getheaders() if k.lower() not in skip}
            if response.status >= 500 and "html" in out.get("content-type", ""):
                # moto's own failure page: answered as an AWS service failure, the cause logged
                log.warning("moto could not serve %s %s: %s", method, self.path[:200], payload[:300])
                status, out, payload = iam.error_response("json", "InternalFailure", "local mode could not serve this")
                status = 500
            self._send(response.status if status is None else status, payload, out)
        finally:
            connection.close()

    # ---------------------------------------------------------------------------------- local endpoints
    def _local(self, services: Services, method: str, path: str, body: bytes) -> None:
        issuer = services.dev_issuer
        if issuer is not None and method == "GET" and path == dev_issuer.PATH + "/.well-known/openid-configuration":
            self._send_json(200, issuer.discovery())
            return
        if issuer is not None and method == "GET" and path == dev_issuer.PATH + "/.well-known/jwks.json":
            self._send_json(200, issuer.jwks())
            return
        if method == "GET" and path == "/_local/config":
            config = {**services.page_config, "can_mint": services.mint is not None and self._may_mint(services)}
            self._send_json(200, config, {"cache-control": "no-store"})
            return
        if method == "POST" and path == "/_local/token":
            if not self._may_mint(services):
                self._send_json(403, {"error": "tokens are minted for this machine only (--allow-remote-tokens)"})
                return
            self._mint(services, body)
            return
        viewer = services.event_viewer
        if viewer is not None and method == "GET" and path == EVENTS_PATH:
            self._send_json(200, {"bus": viewer.bus_arn, "events": viewer.events()}, {"cache-control": "no-store"})
            return
        inbox = services.inbox
        if inbox is not None and method == "GET" and path == inbox_module.PATH:
            self._send_json(200, {"deliveries": inbox.deliveries()}, {"cache-control": "no-store"})
            return
        if inbox is not None and method == "POST" and path.startswith(inbox_module.PATH + "/"):
            # A web page can POST here without a CORS preflight (a "simple" request); a webhook
            # sender sends JSON and no Origin.
            if self.headers.get("Origin") is not None:
                self._send_json(403, {"error": "the inbox takes webhook deliveries, not requests from web pages"})
                return
            if self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower() != "application/json":
                self._send_json(415, {"error": "a webhook delivery is application/json"})
                return
            inbox.receive(unquote(path[len(inbox_module.PATH) + 1 :]), dict(self.headers.items()), body)
            self._send(204, b"", {})
            return
        self._send_json(404, {"message": "Not Found"})

    def _may_mint(self, services: Services) -> bool:
        """Token minting needs no credentials: only for this machine, unless asked for others."""
        if services.remote_tokens:
            return True
        try:
            peer = ipaddress.ip_address(self.client_address[0])
        except ValueError:
            return False
        mapped = getattr(peer, "ipv4_mapped", None)
        return (mapped or peer).is_loopback

    def _mint(self, services: Services, body: bytes) -> None:
        # JSON only: a cross-site form cannot send it without a CORS preflight, which is never granted.
        if services.mint is None:
            self._send_json(404, {"error": "this local mode cannot mint tokens (the template's issuer is external)"})
            return
        if "application/json" not in self.headers.get("Content-Type", ""):
            self._send_json(415, {"error": "send a JSON body"})
            return
        try:
            request = json.loads(body or b"{}")
            user = request["user"]
            ttl = int(request.get("ttl", 3600))
        except (ValueError, KeyError, TypeError):
            self._send_json(400, {"error": 'expected {"user": "...", "ttl": seconds}'})
            return
        if not isinstance(user, str) or not user.strip() or not 1 <= ttl <= 7 * 86400:
            self._send_json(400, {"error": "user must be a non-empty string and ttl 1..604800 seconds"})
            return
        self._send_json(200, {"token": services.mint(user, ttl)}, {"cache-control": "no-store"})

    def _send_page(self) -> None:
        page = importlib_resources.files("transflow_runtime.local").joinpath("static/index.html").read_bytes()
        self._send(
            200,
            page,
            {
                "content-type": "text/html; charset=utf-8",
                "cache-control": "no-store",
                "content-security-policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
                "style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
                "x-frame-options": "DENY",
                "x-content-type-options": "nosniff",
                "referrer-policy": "no-referrer",
            },
        )

    def _send_openapi(self, services: Services) -> None:
        """The HTTP API's OpenAPI document, with this local mode as its server and the template's
        assembly id pattern (the status function's environment)."""
        from ..openapi import openapi_document  # pydantic: only when someone asks for it
        from ..schema import ENV_ASSEMBLY_ID_PATTERN

        pattern = None
        for route in services.routes:
            runtime = services.function(route.spec.function.name) if route.spec.function else None
            if runtime is not None and runtime.spec.environment.get(ENV_ASSEMBLY_ID_PATTERN):
                pattern = runtime.spec.environment[ENV_ASSEMBLY_ID_PATTERN]
                break
        # The Host the caller used (checked by _host_allowed): the bind address may be 0.0.0.0.
        host = self.headers.get("Host", "").strip()
        server_url = f"http://{host}" if host else self.owner.url
        body = json.dumps(openapi_document(server_url=server_url, assembly_id_pattern=pattern)).encode()
        self._send(200, body, {"content-type": "application/json", "cache-control": "no-store"})

    # ---------------------------------------------------------------------------------- responses
    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), {"content-type": "application/json", **(headers or {})})

    def _send(self, status: int, body: bytes, headers: dict[str, str], cookies: list[str] | None = None) -> None:
        self.send_response(status)
        for key, value in headers.items():
            if key not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(key, value)
        if headers.get("connection") == "close":
            self.send_header("connection", "close")
        for cookie in cookies or []:
            self.send_header("set-cookie", cookie)
        no_body = status in (204, 304) or self.command == "HEAD"
        self.send_header("content-length", "0" if status in (204, 304) else str(len(body)))
        self.send_header("apigw-requestid", uuid.uuid4().hex[:16])
        self.end_headers()
        if not no_body:
            self.wfile.write(body)
