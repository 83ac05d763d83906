"""The status Lambda: the read side of the HTTP API, and direct ``lambda:Invoke`` for servers.

One handler serves two event shapes, told apart by shape:

* HTTP API payload format 2.0 (has ``requestContext.http``): the routes in ``schema.ROUTES``,
  the caller's user id taken from the authorizer context (JWT claims of the native OIDC
  authorizer, or the shared-secret Lambda authorizer's ``context``);
* direct invoke ``{"assemblyId": ID, "userId": U?, "triggerWebhook": bool?}``, answered as
  ``{"statusCode", "body", "headers"}`` (the seed's ``StatusLambdaClient`` shape).

Cold starts pay for every import, so at module level this imports only the stdlib and the
project's stdlib-only modules; on Lambda the AWS calls go through ``transflow_runtime.aws``'s light
client (no boto3 at all; ``TRANSFLOW_AWS_CLIENT=boto3`` switches back), elsewhere through boto3.
Items are served straight from the low-level client without pydantic. Importing this module
calls ``gc.freeze()`` (see below): import-time objects are permanent in a Lambda process, and
scanning them again is pure cold-start and latency cost.

Every input is validated before the store is touched: malformed requests get a 4xx with a JSON
``{"error": ...}`` body, and 500 is reserved for store (DynamoDB/SQS) failures.
"""

from __future__ import annotations

import base64
import binascii
import gc
import hashlib
import json
import os
import re
import traceback
from typing import Any, NamedTuple
from urllib.parse import unquote

from .. import aws, schema, telemetry
from ..aws import deadlines
from ..aws.errors import error_types
from ..dynamo import batch_get_items, deserialize_item, encode_cursor, iso_now, item_owner, query_user_items
from ..errors import StoreError
from ..limits import LAMBDA_RESPONSE_LIMIT_BYTES, fits_lambda_response, invocation_response_bytes, json_string_bytes
from ..serialize import js_dumps, public_view
from ..terminal import is_terminal
from ..wire_schema import conforming

# --- limits ------------------------------------------------------------------------------------
# (the HTTP API's own limits live in schema: the OpenAPI document states them too)
MAX_BATCH_IDS = schema.MAX_BATCH_IDS
DEFAULT_LIST_LIMIT = schema.DEFAULT_LIST_LIMIT
MAX_LIST_LIMIT = schema.MAX_LIST_LIMIT
MAX_BODY_BYTES = schema.MAX_REQUEST_BODY_BYTES
MAX_ID_BYTES = schema.MAX_ASSEMBLY_ID_BYTES
MAX_HEADER_CHARS = 4096

RETRY_AFTER_ACTIVE = schema.RETRY_AFTER_ACTIVE
RETRY_AFTER_QUEUED = schema.RETRY_AFTER_QUEUED
RETRY_AFTER_NOT_FOUND = schema.RETRY_AFTER_NOT_FOUND
TERMINAL_MAX_AGE = schema.TERMINAL_MAX_AGE

METRIC_NAME = "StatusChecks"
METRIC_DIMENSION = "Result"

_BASE_HEADERS = {
    "Content-Type": "application/json",
    "Cache-Control": "no-store",
    "Vary": "Authorization",
    "X-Content-Type-Options": "nosniff",
}


def _make_client(service: str) -> Any:
    """The AWS client (light on Lambda, else boto3), or None when the environment cannot build
    one (e.g. no region yet)."""
    try:
        return aws.client(service)
    except Exception:  # NoRegionError and friends: retried on first use
        return None


# Everything imported so far (with boto3, its ~100k objects among it) lives as long as the process.
# Freezing it keeps the cyclic GC from scanning it again: otherwise a full collection lands in
# the middle of the cold start (about 20 ms, measured) and recurs during warm invocations.
gc.freeze()
# Created at import: the cold-start baseline includes it, and warm requests reuse it.
_dynamodb: Any = _make_client("dynamodb")
gc.freeze()
_sqs: Any = None  # replays only; created on first use


class _Config(NamedTuple):
    table_name: str
    queue_url: str
    user_id_claim: str
    id_pattern: re.Pattern[str]
    namespace: str
    #: The deployment's event bus: replays are then also queued on the eventbridge channel.
    event_bus: str = ""


_config_cache: _Config | None = None


def _config() -> _Config:
    """The environment, read once per container (tests call ``reset_for_tests``)."""
    global _config_cache
    if _config_cache is None:
        env = os.environ
        table_name = env.get(schema.ENV_TABLE_NAME, "").strip()
        if not table_name:
            raise _ConfigError(f"{schema.ENV_TABLE_NAME} is not set")
        pattern = env.get(schema.ENV_ASSEMBLY_ID_PATTERN, "").strip() or schema.DEFAULT_ASSEMBLY_ID_PATTERN
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise _ConfigError(f"{schema.ENV_ASSEMBLY_ID_PATTERN} is not a valid regular expression: {exc}") from None
        _config_cache = _Config(
            table_name=table_name,
            queue_url=env.get(schema.ENV_WEBHOOK_QUEUE_URL, "").strip(),
            user_id_claim=env.get(schema.ENV_USER_ID_CLAIM, "").strip() or schema.DEFAULT_USER_ID_CLAIM,
            id_pattern=compiled,
            namespace=env.get(schema.ENV_METRICS_NAMESPACE, "").strip() or schema.DEFAULT_METRICS_NAMESPACE,
            event_bus=env.get(schema.ENV_EVENT_BUS_ARN, "").strip(),
        )
    return _config_cache


def reset_for_tests(*, dynamodb: Any = None, sqs: Any = None) -> None:
    """Re-read the environment and rebuild (or replace) the AWS clients.

    For tests and local mode, which set the environment after this module was imported.
    """
    global _config_cache, _dynamodb, _sqs
    _config_cache = None
    _dynamodb = dynamodb if dynamodb is not None else _make_client("dynamodb")
    _sqs = sqs


def _client(service: str) -> Any:
    """``aws.client(service)``: a BotoCoreError is a store failure (500); a bad
    ``TRANSFLOW_AWS_CLIENT`` is this function's misconfiguration, like any other bad setting."""
    try:
        return aws.client(service)
    except aws.ClientSettingError as exc:
        raise _ConfigError(str(exc)) from None


def _dynamodb_client() -> Any:
    global _dynamodb
    if _dynamodb is None:
        _dynamodb = _client("dynamodb")
    return _dynamodb


def _sqs_client() -> Any:
    global _sqs
    if _sqs is None:
        _sqs = _client("sqs")
    return _sqs


# --- errors and responses ------------------------------------------------------------------------
class _ConfigError(Exception):
    """The deployment is misconfigured (logged in full, answered as a generic 500)."""


class _HttpError(Exception):
    """A request the handler answers with a 4xx/5xx and a JSON error body."""

    def __init__(
        self, status: int, message: str, *, result: str = "bad_request", headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.result = result
        self.headers = headers or {}


def _store_errors() -> tuple[type[BaseException], ...]:
    """Errors the store's AWS calls raise (either client's): the only causes of a 500."""
    return (*error_types(), StoreError)


def _response(status: int, body: str | None, headers: dict[str, str] | None = None) -> dict[str, Any]:
    merged = dict(_BASE_HEADERS)
    if headers:
        merged.update(headers)
    if body is None:
        merged.pop("Content-Type", None)
    return {"statusCode": status, "headers": merged, "body": body or "", "isBase64Encoded": False}


#: A response whose body has at most this many characters fits Lambda's limit whatever they are:
#: one character serializes to at most 12 bytes (an astral one as two ``\\uXXXX`` escapes), and
#: the rest of the response (status, this handler's few headers) stays under 8 KB.
_SURELY_FITS_CHARS = (LAMBDA_RESPONSE_LIMIT_BYTES - 8192) // 12


def _fits(response: dict[str, Any]) -> bool:
    """Whether Lambda returns ``response``, measured as its Python runtime serializes it."""
    return len(response["body"]) <= _SURELY_FITS_CHARS or fits_lambda_response(response)


def _served(item: dict[str, Any]) -> dict[str, Any]:
    """A stored item as answered: public fields whose values fit the documented schema (wire_schema)."""
    return conforming(public_view(item))


def _wire(value: Any) -> str:
    """JS-compatible JSON of stored items: a value JSON cannot hold (binary, from another writer)
    is answered as null, never as a 500 (serialize.js_dumps, lenient)."""
    try:
        return js_dumps(value, lenient=True)
    except (ValueError, TypeError, RecursionError) as exc:
        raise StoreError(f"stored status cannot be serialized: {exc}") from None


def _error_response(status: int, message: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return _response(status, json.dumps({"error": message}), headers)


# --- analytics -----------------------------------------------------------------------------------
def _track(
    assembly_id: str | None, user_id: str | None, result: str, *, request_id: str | None = None, count: int = 1
) -> None:
    """The seed's ``status_check`` event, in CloudWatch embedded metric format (one line).

    The same JSON object is the analytics record (``event``, ``assembly_id``, ``user_id``,
    ``result``, ``timestamp``) and a ``StatusChecks`` count by ``Result``. Never logs tokens.
    """
    try:
        namespace = _config().namespace
    except _ConfigError:
        namespace = schema.DEFAULT_METRICS_NAMESPACE
    record = telemetry.metric_record(
        namespace,
        {METRIC_NAME: count},
        dimensions={METRIC_DIMENSION: result},
        event="status_check",
        assembly_id=assembly_id,
        user_id=user_id,
        result=result,
        timestamp=iso_now(),
    )
    if request_id:
        record["request_id"] = request_id
    telemetry.write(record)


def _log_failure(kind: str, exc: BaseException, request_id: str | None, assembly_id: str | None = None) -> None:
    """Full detail goes to the log, never to the caller."""
    telemetry.write(
        {
            "event": "status_error",
            "kind": kind,
            "error_type": type(exc).__name__,
            "detail": str(exc)[:2000],
            "traceback": "".join(traceback.format_exception(exc))[-4000:],
            "request_id": request_id,
            "assembly_id": assembly_id,
            "timestamp": iso_now(),
        }
    )


# --- status semantics ----------------------------------------------------------------------------
def _etag(item: dict[str, Any]) -> str:
    """A strong ETag: a hash of exactly what a 200 would carry.

    Not the write counter: a writer in another language (the item contract) updates an item
    without bumping ``version``, and a tag that did not change with the content would answer the
    finished assembly with ``304`` and an active assembly's ``Retry-After`` forever.
    """
    basis = _wire(_served(item))
    return '"' + hashlib.sha256(basis.encode("utf-8", "surrogatepass")).hexdigest()[:32] + '"'


def _etag_matches(header: str | None, etag: str) -> bool:
    """``If-None-Match`` with weak comparison: ``*``, a list, ``W/`` prefixes (RFC 9110 13.1.2)."""
    if not header or len(header) > MAX_HEADER_CHARS:
        return False
    if header.strip() == "*":
        return True
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate[:2] in ("W/", "w/"):
            candidate = candidate[2:]
        if candidate == etag:
            return True
    return False


def _status_headers(item: dict[str, Any], etag: str) -> dict[str, str]:
    headers = {"ETag": etag}
    if is_terminal(item):  # by state, or by the seed's ok/error (terminal.py)
        headers["Cache-Control"] = f"private, max-age={TERMINAL_MAX_AGE}"
    else:
        headers["Cache-Control"] = "no-store"
        queued = item.get("state") == schema.STATE_QUEUED
        headers["Retry-After"] = str(RETRY_AFTER_QUEUED if queued else RETRY_AFTER_ACTIVE)
    return headers


def _check_id(value: Any, config: _Config, what: str = "assemblyId") -> str:
    if value is None or value == "":
        raise _HttpError(400, f"{what} is required")
    if not isinstance(value, str):
        raise _HttpError(400, f"{what} must be a string")
    if len(value) > MAX_ID_BYTES or len(value.encode("utf-8", "surrogatepass")) > MAX_ID_BYTES:
        raise _HttpError(400, f"{what} is too long")
    if not config.id_pattern.fullmatch(value):
        raise _HttpError(400, f"{what} is not a valid assembly id")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _HttpError(400, f"{what} is not a valid assembly id") from None
    return value


# --- store reads ---------------------------------------------------------------------------------
def _get_item(config: _Config, assembly_id: str) -> dict[str, Any] | None:
    response = _dynamodb_client().get_item(
        TableName=config.table_name, Key={schema.PARTITION_KEY: {"S": assembly_id}}
    )
    item = response.get("Item")
    return None if item is None else deserialize_item(item)


def _read_one(
    config: _Config,
    assembly_id: str,
    user_id: str | None,
    *,
    enforce_owner: bool,
    if_none_match: str | None,
    request_id: str | None,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(response, item or None): the single-assembly read every entry point shares."""
    item = _get_item(config, assembly_id)
    if item is None:
        _track(assembly_id, user_id, "not_found", request_id=request_id)
        return (
            _error_response(404, "assembly not found", {"Retry-After": str(RETRY_AFTER_NOT_FOUND)}),
            None,
        )
    if enforce_owner and item_owner(item) != user_id:
        _track(assembly_id, user_id, "forbidden", request_id=request_id)
        return _error_response(403, "access denied: you do not own this assembly"), None
    etag = _etag(item)
    headers = _status_headers(item, etag)
    if _etag_matches(if_none_match, etag):
        _track(assembly_id, user_id, "not_modified", request_id=request_id)
        return _response(304, None, headers), item
    response = _response(200, _wire(_served(item)), headers)
    if not _fits(response):  # a 400 KB item cannot get there; measured all the same
        raise _HttpError(413, "this status is too large for one response", result="too_large")
    _track(assembly_id, user_id, "found", request_id=request_id)
    return response, item


def _enqueue_replay(config: _Config, assembly_id: str) -> str:
    """Queue a replay (a new event id) on the webhook queue, one message per channel (the webhook,
    and with an event bus the eventbridge one, both with that id); returns the event id."""
    from ..events import make_message, new_event_id  # stdlib-only, but only replays need it

    if not config.queue_url:
        raise _HttpError(501, "webhook replay is not configured for this deployment", result="error")
    event_id = new_event_id()
    if not config.event_bus:
        _sqs_client().send_message(QueueUrl=config.queue_url, MessageBody=make_message(
            assembly_id, schema.EVENT_REPLAY, event_id))
        return event_id
    # One SendMessage per channel: the read path's light SQS client implements SendMessage only (issue
    # 15), and a replay is two messages at most. If the second send raises, the caller gets a 500 and
    # may ask again (a replay is a new event anyway).
    for channel in schema.CHANNELS:
        _sqs_client().send_message(
            QueueUrl=config.queue_url, MessageBody=make_message(assembly_id, schema.EVENT_REPLAY, event_id, channel)
        )
    return event_id


# --- HTTP API ------------------------------------------------------------------------------------
_ROUTE_KEYS = {f"{method} {path}": (method, path) for method, path in schema.ROUTES}
_PATHS: dict[str, set[str]] = {}
for _method, _path in schema.ROUTES:
    _PATHS.setdefault(_path, set()).add(_method)


def _match_path(path: str) -> tuple[str, str | None] | None:
    """(route path template, raw assembly id segment) for a concrete path, else None."""
    parts = path.strip("/").split("/") if path.strip("/") else []
    for template in _PATHS:
        tparts = template.strip("/").split("/")
        if len(tparts) != len(parts):
            continue
        segment = None
        for tp, p in zip(tparts, parts, strict=True):
            if tp.startswith("{") and tp.endswith("}"):
                if not p:
                    break
                segment = p
            elif tp != p:
                break
        else:
            return template, segment
    return None


def _str_dict(value: Any) -> dict[str, str]:
    """A header/query/path map from an untrusted event: string keys and values only."""
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}


def _user_id(event: dict[str, Any], config: _Config) -> str:
    authorizer = event.get("requestContext", {}).get("authorizer")
    user: Any = None
    if isinstance(authorizer, dict):
        lam = authorizer.get("lambda")
        if isinstance(lam, dict):
            user = lam.get(schema.AUTHORIZER_CONTEXT_USER_KEY)
        if user is None:
            jwt = authorizer.get("jwt")
            claims = jwt.get("claims") if isinstance(jwt, dict) else None
            if isinstance(claims, dict):
                user = claims.get(config.user_id_claim)
    problem = schema.user_id_problem(user)  # the authorizer's rule too: never a number made a string
    if problem in ("is not a string", "is empty"):  # None, blank, a number, a list: no usable identity
        raise _HttpError(401, "authentication required", result="unauthorized")
    if problem is not None:  # too long, not UTF-8
        raise _HttpError(401, "the token's user id is not acceptable", result="unauthorized")
    return user


def _body_bytes(event: dict[str, Any]) -> bytes:
    body = event.get("body")
    if body is None or body == "":
        return b""
    if not isinstance(body, str):
        raise _HttpError(400, "request body must be a string")
    # Cheap size check before decoding: base64 is 4/3 of the payload.
    if len(body) > MAX_BODY_BYTES * 4 // 3 + 4:
        raise _HttpError(413, "request body is too large")
    if event.get("isBase64Encoded") is True:
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise _HttpError(400, "request body is not valid base64") from None
    else:
        try:
            raw = body.encode("utf-8")
        except UnicodeEncodeError:
            raise _HttpError(400, "request body is not valid UTF-8") from None
    if len(raw) > MAX_BODY_BYTES:
        raise _HttpError(413, "request body is too large")
    return raw


def _json_body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        raise _HttpError(400, "request body must be a JSON object")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _HttpError(400, "request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise _HttpError(400, "request body must be a JSON object")
    return data


def _limit_param(query: dict[str, str]) -> int:
    raw = query.get("limit")
    if raw is None:
        return DEFAULT_LIST_LIMIT
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 4:
        raise _HttpError(400, f"limit must be an integer between 1 and {MAX_LIST_LIMIT}")
    value = int(raw)
    if not 1 <= value <= MAX_LIST_LIMIT:
        raise _HttpError(400, f"limit must be an integer between 1 and {MAX_LIST_LIMIT}")
    return value


def _bool_param(query: dict[str, str], name: str) -> bool:
    """A documented boolean: ``true`` or ``false`` (any case, as ``str(True)`` writes it); an empty
    or other value is refused rather than read as false (found by schemathesis)."""
    raw = query.get(name)
    if raw is None:
        return False
    lowered = raw.lower()
    if lowered not in ("true", "false"):
        raise _HttpError(400, f"{name} must be true or false")
    return lowered == "true"


def _query_id(query: dict[str, str]) -> Any:
    camel, snake = query.get("assemblyId"), query.get("assembly_id")
    if camel is not None and snake is not None and camel != snake:
        raise _HttpError(400, "assemblyId and assembly_id disagree")
    return camel if camel is not None else snake


class _HttpRequest(NamedTuple):
    method: str
    template: str
    path_id: Any
    headers: dict[str, str]
    query: dict[str, str]
    request_id: str | None


def _parse_route(event: dict[str, Any]) -> _HttpRequest:
    context = event.get("requestContext")
    http = context.get("http") if isinstance(context, dict) else None
    if not isinstance(http, dict):
        raise _HttpError(400, "malformed request")
    method = http.get("method")
    if not isinstance(method, str) or not method:
        raise _HttpError(400, "malformed request")
    method = method.upper()
    request_id = context.get("requestId") if isinstance(context.get("requestId"), str) else None
    path_params = _str_dict(event.get("pathParameters"))
    route_key = event.get("routeKey")
    template: str | None = None
    path_id: Any = None
    if isinstance(route_key, str) and route_key in _ROUTE_KEYS:
        # A route of the construct: API Gateway matched it and extracted the path parameter.
        template = _ROUTE_KEYS[route_key][1]
        path_id = path_params.get("assemblyId")
    else:
        # $default / proxy routes (and local tools): route on the path ourselves.
        raw_path = event.get("rawPath")
        if not isinstance(raw_path, str):
            raw_path = http.get("path") if isinstance(http.get("path"), str) else ""
        stage = context.get("stage")
        if isinstance(stage, str) and stage and stage != "$default" and raw_path.startswith(f"/{stage}/"):
            raw_path = raw_path[len(stage) + 1 :]
        if len(raw_path) > MAX_HEADER_CHARS:
            raise _HttpError(404, "no such route", result="no_route")
        matched = _match_path(raw_path)
        if matched is None:
            raise _HttpError(404, "no such route", result="no_route")
        template, segment = matched
        if segment is not None:
            try:
                path_id = unquote(segment, errors="strict") if "%" in segment else segment
            except UnicodeDecodeError:
                raise _HttpError(400, "assemblyId is not a valid assembly id") from None
    allowed = _PATHS[template]
    if method not in allowed:
        raise _HttpError(
            405, f"method {method[:16]} is not allowed here", result="bad_method",
            headers={"Allow": ", ".join(sorted(allowed))},
        )
    headers = {k.lower(): v for k, v in _str_dict(event.get("headers")).items()}
    return _HttpRequest(method, template, path_id, headers, _str_dict(event.get("queryStringParameters")),
                        request_id)


def _failure_response(
    exc: Exception, assembly_id: str | None, user_id: str | None, request_id: str | None
) -> dict[str, Any]:
    """The response to an expected failure: a 4xx as raised, or a 500 that names no internals."""
    if isinstance(exc, _HttpError):
        _track(assembly_id, user_id, exc.result, request_id=request_id)
        return _error_response(exc.status, exc.message, exc.headers)
    kind, message = (
        ("config", "the status service is misconfigured")
        if isinstance(exc, _ConfigError)
        else ("store", "the status store is unavailable; try again")
    )
    _log_failure(kind, exc, request_id, assembly_id)
    _track(assembly_id, user_id, "error", request_id=request_id)
    return _error_response(500, message)


def _handle_http(event: dict[str, Any]) -> dict[str, Any]:
    # API Gateway's request id, known even for requests that match no route (log correlation).
    context = event.get("requestContext")
    request_id = context.get("requestId") if isinstance(context, dict) else None
    request_id = request_id if isinstance(request_id, str) else None
    user_id: str | None = None
    assembly_id: str | None = None  # once validated: the failure logs' correlation id
    try:
        config = _config()
        request = _parse_route(event)
        request_id = request.request_id
        user_id = _user_id(event, config)
        raw_body = _body_bytes(event)
        method, template = request.method, request.template
        if template == "/status" or (template == "/assemblies/{assemblyId}" and method == "GET"):
            source = _query_id(request.query) if template == "/status" else request.path_id
            assembly_id = _check_id(source, config)
            response, _item = _read_one(
                config, assembly_id, user_id, enforce_owner=True,
                if_none_match=request.headers.get("if-none-match"), request_id=request_id,
            )
            return response
        if template == "/status/batch":
            return _batch(config, user_id, _json_body(raw_body), request_id)
        if template == "/assemblies":
            return _list(config, user_id, request.query, request_id)
        if template == "/assemblies/{assemblyId}/notify":
            assembly_id = _check_id(request.path_id, config)
            return _notify(config, assembly_id, user_id, request_id)
        raise _HttpError(404, "no such route", result="no_route")  # pragma: no cover - routes are exhaustive
    except (_HttpError, _ConfigError, *_store_errors()) as exc:
        return _failure_response(exc, assembly_id, user_id, request_id)


def _batch(config: _Config, user_id: str, body: dict[str, Any], request_id: str | None) -> dict[str, Any]:
    # Either spelling; a key that is there must hold the list, even beside the other one: serving
    # one while ignoring a null or different other would hide a mistake (found by schemathesis).
    keys = [key for key in ("assemblyIds", "assembly_ids") if key in body]
    if not keys:
        raise _HttpError(400, "assemblyIds is required")
    if len(keys) == 2 and body["assemblyIds"] != body["assembly_ids"]:
        raise _HttpError(400, "assemblyIds and assembly_ids disagree")
    key = keys[0]
    ids = body[key]
    if not isinstance(ids, list):
        raise _HttpError(400, f"{key} must be a list of assembly ids")
    if not ids:
        raise _HttpError(400, f"{key} must hold between 1 and {MAX_BATCH_IDS} ids")
    if len(ids) > MAX_BATCH_IDS:
        raise _HttpError(400, f"{key} holds {len(ids)} ids; at most {MAX_BATCH_IDS} are allowed")
    for index, value in enumerate(ids):
        _check_id(value, config, f"{key}[{index}]")
    unique = list(dict.fromkeys(ids))
    found = batch_get_items(_dynamodb_client(), config.table_name, unique)
    out: dict[str, Any] = {}
    results: dict[str, str] = {}
    for assembly_id in unique:
        item = found.get(assembly_id)
        if item is None:
            results[assembly_id], out[assembly_id] = "not_found", None
        elif item_owner(item) != user_id:
            results[assembly_id], out[assembly_id] = "forbidden", None  # another user's id reads as null
        else:
            results[assembly_id], out[assembly_id] = "found", _served(item)
    response = _response(200, _wire({"assemblies": out}))
    if not _fits(response):
        # Lambda would refuse the invocation response (API Gateway: a bare 500): say so instead.
        raise _HttpError(
            413, "these statuses are too large for one response; request fewer ids at a time", result="too_large"
        )
    for assembly_id, result in results.items():
        _track(assembly_id, user_id, result, request_id=request_id)
    return response


def _list(config: _Config, user_id: str, query: dict[str, str], request_id: str | None) -> dict[str, Any]:
    limit = _limit_param(query)
    active = _bool_param(query, "active")
    cursor = query.get("cursor") or None
    try:
        items, next_cursor = query_user_items(
            _dynamodb_client(), config.table_name, user_id,
            limit=limit, cursor=cursor, active_only=active, max_limit=MAX_LIST_LIMIT,
        )
    except ValueError as exc:
        # Malformed, tampered with, or another user's cursor: never a way into their list.
        raise _HttpError(400, "cursor is invalid" if "cursor" in str(exc) else str(exc)) from None
    # Each status serialized once: a shorter page (below) only joins fewer of them.
    views = [_wire(_served(i)) for i in items]

    def cursor_after(count: int) -> str | None:
        if count == len(items):
            return next_cursor
        tail = items[count - 1]
        return encode_cursor(
            {
                schema.PARTITION_KEY: {"S": tail[schema.PARTITION_KEY]},
                schema.USER_ID_ATTRIBUTE: {"S": user_id},
                schema.CREATED_AT_ATTRIBUTE: {"S": tail[schema.CREATED_AT_ATTRIBUTE]},
            },
            user_id,
        )

    def page(count: int) -> dict[str, Any]:
        """The response holding the first ``count`` items, continuing after the last of them."""
        # Byte for byte what _wire({"assemblies": [...], "next_cursor": cursor}) writes.
        body = '{"assemblies":[' + ",".join(views[:count]) + '],"next_cursor":' + _wire(cursor_after(count)) + "}"
        return _response(200, body)

    response = page(len(items))
    if items and len(response["body"]) > _SURELY_FITS_CHARS:
        # Items reach 400 KB each: the longest page Lambda still returns. Its size is summed from
        # each status's serialized size (escaping is per character), then checked whole once.
        envelope = invocation_response_bytes(_response(200, "")) + json_string_bytes('{"assemblies":[')
        sizes = [json_string_bytes(v) + 1 for v in views]  # + the comma that follows it
        count, total = len(items), envelope + sum(sizes) - 1
        while count > 1:
            tail = json_string_bytes('],"next_cursor":' + _wire(cursor_after(count)) + "}")
            if total + tail <= LAMBDA_RESPONSE_LIMIT_BYTES:
                break
            count -= 1
            total -= sizes[count]
        if count < len(items):
            response = page(count)
        if not _fits(response):  # a 400 KB item cannot get there; measured all the same
            raise _HttpError(413, "a status on this page is too large for one response", result="too_large")
    _track(None, user_id, "listed", request_id=request_id, count=1)
    return response


def _notify(config: _Config, assembly_id: str, user_id: str, request_id: str | None) -> dict[str, Any]:
    item = _get_item(config, assembly_id)
    if item is None:
        _track(assembly_id, user_id, "not_found", request_id=request_id)
        return _error_response(404, "assembly not found", {"Retry-After": str(RETRY_AFTER_NOT_FOUND)})
    if item_owner(item) != user_id:
        _track(assembly_id, user_id, "forbidden", request_id=request_id)
        return _error_response(403, "access denied: you do not own this assembly")
    try:
        event_id = _enqueue_replay(config, assembly_id)
    except _HttpError as exc:
        _track(assembly_id, user_id, exc.result, request_id=request_id)
        return _error_response(exc.status, exc.message)
    _track(assembly_id, user_id, "replayed", request_id=request_id)
    return _response(202, json.dumps({"assembly_id": assembly_id, "event_id": event_id}))


# --- direct invoke -------------------------------------------------------------------------------
#: Every key a direct invoke may carry. Anything else is refused: a near miss such as ``userID``
#: would otherwise be ignored, and the call served as a trusted one without a user.
DIRECT_INVOKE_KEYS = ("assemblyId", "userId", "triggerWebhook", "ifNoneMatch")


def _check_direct_keys(event: dict[str, Any]) -> None:
    unknown = sorted(str(key) for key in event if key not in DIRECT_INVOKE_KEYS)
    if unknown:
        shown = ", ".join(json.dumps(key[:64]) for key in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        raise _HttpError(
            400, f"unknown key{'s' if len(unknown) > 1 else ''} in the event: {shown}; "
            f"a direct invoke takes only {', '.join(DIRECT_INVOKE_KEYS)}",
        )


def _handle_direct(event: Any, request_id: str | None) -> dict[str, Any]:
    user_id: str | None = None
    assembly_id: str | None = None
    try:
        config = _config()
        if not isinstance(event, dict):
            raise _HttpError(400, "the event must be a JSON object with assemblyId")
        _check_direct_keys(event)
        raw_user = event.get("userId")
        if raw_user is None and "userId" in event:
            # An explicit null is most likely a proxy that lost the user: fail closed, not open.
            raise _HttpError(400, "userId must be a non-empty string when given; omit it for a trusted caller")
        if raw_user is not None:
            problem = schema.user_id_problem(raw_user)
            if problem in ("is not a string", "is empty"):
                raise _HttpError(400, "userId must be a non-empty string when given")
            if problem is not None:
                raise _HttpError(400, f"userId {problem}")
            user_id = raw_user
        trigger = event.get("triggerWebhook", False)
        if trigger is None:
            trigger = False
        if not isinstance(trigger, bool):
            raise _HttpError(400, "triggerWebhook must be true or false")
        if_none_match = event.get("ifNoneMatch")
        if if_none_match is not None and not isinstance(if_none_match, str):
            raise _HttpError(400, "ifNoneMatch must be a string")
        assembly_id = _check_id(event.get("assemblyId"), config)
        response, item = _read_one(
            config, assembly_id, user_id,
            enforce_owner=user_id is not None,  # without userId the IAM caller is trusted
            if_none_match=None if trigger else if_none_match, request_id=request_id,
        )
        if trigger and item is not None and response["statusCode"] == 200:
            try:
                event_id = _enqueue_replay(config, assembly_id)
            except _HttpError as exc:
                _track(assembly_id, user_id, exc.result, request_id=request_id)
                return _error_response(exc.status, exc.message)
            response["headers"]["X-Transflow-Event-Id"] = event_id
            _track(assembly_id, user_id, "replayed", request_id=request_id)
        return response
    except (_HttpError, _ConfigError, *_store_errors()) as exc:
        return _failure_response(exc, assembly_id, user_id, request_id)


def _is_http_event(event: Any) -> bool:
    if not isinstance(event, dict):
        return False
    context = event.get("requestContext")
    return isinstance(context, dict) and "http" in context


def handler(event: Any, context: Any = None) -> dict[str, Any]:
    """Lambda entry point for both HTTP API (payload 2.0) events and direct invokes."""
    request_id = getattr(context, "aws_request_id", None)
    if not isinstance(request_id, str):
        request_id = None
    try:
        with deadlines.for_invocation(context):  # the store's calls end in time for our own 500
            if _is_http_event(event):
                return _handle_http(event)
            return _handle_direct(event, request_id)
    except Exception as exc:  # a bug, not a bad request: log it in full, leak nothing
        _log_failure("unexpected", exc, request_id)
        return _error_response(500, "internal error")
