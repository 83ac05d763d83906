"""The HTTP API as an OpenAPI 3.1 document, generated from the code's own definitions.

Paths come from ``schema.ROUTES`` (the routes the construct creates and local mode serves), limits
and polling intervals from ``schema``'s constants, and the ``AssemblyStatus`` schema from the
pydantic model (``model_json_schema``), so the document cannot drift from what the status function
serves. Building it imports pydantic: no Lambda handler imports this module.

``python -m transflow_runtime.openapi [--server-url URL] [--output FILE]`` writes it as JSON;
local mode serves it at ``GET /openapi.json``; ``TransflowStatus.openapi_document`` is the
deployed instance's.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import re
import sys
from collections.abc import Sequence
from typing import Any

from . import __version__, schema
from .ecma_regex import to_ecma
from .ids import assembly_id

OPENAPI_VERSION = "3.1.0"
SECURITY_SCHEME = "bearerAuth"
_COMPONENT_REF = "#/components/{kind}/{name}"

#: Example ids (the README's worker, user ``user_456``): one assembly still executing, one completed.
EXAMPLE_USER_ID = "user_456"
EXAMPLE_TEMPLATE_ID = "tpl_basic_audio"
EXAMPLE_ACTIVE_ID = assembly_id("d41d8cd98f00b204e9800998ecf8427e", EXAMPLE_TEMPLATE_ID, EXAMPLE_USER_ID)
EXAMPLE_COMPLETED_ID = assembly_id("9e107d9d372bb6826bd81d3542a419d6", EXAMPLE_TEMPLATE_ID, EXAMPLE_USER_ID)


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": _COMPONENT_REF.format(kind=kind, name=name)}


def _json_content(schema_ref: dict[str, Any], example: Any = None) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": schema_ref}
    if example is not None:
        media["example"] = example
    return {"application/json": media}


def _id_pattern(pattern: str) -> str:
    """The status function matches ids with ``re.fullmatch``; JSON Schema's ``pattern`` searches."""
    if pattern.startswith("^") and pattern.endswith("$") and "|" not in pattern:
        return pattern
    return f"^(?:{pattern})$"


def _id_schema(pattern: str | None) -> dict[str, Any]:
    """An assembly id as the status function checks it (``pattern`` ``None``: set at deploy time)."""
    id_schema: dict[str, Any] = {
        "type": "string",
        "minLength": 1,
        # Characters: a bound the byte limit implies (a character is at least one UTF-8 byte).
        "maxLength": schema.MAX_ASSEMBLY_ID_BYTES,
        "description": f"An assembly id: at most {schema.MAX_ASSEMBLY_ID_BYTES} UTF-8 bytes",
    }
    ecma = None if pattern is None else to_ecma(pattern)
    if pattern is None:
        id_schema["description"] += ", matching the deployment's `assembly_id_pattern` (set at deploy time)."
    elif ecma is None:
        # OpenAPI 3.1 patterns are ECMA-262: a wrong pattern would refuse real ids in generated clients.
        id_schema["description"] += ", matching the deployment's `assembly_id_pattern` (a Python regular " \
            "expression with no ECMA-262 equivalent, so not stated here)."
    else:
        id_schema["description"] += "."
        id_schema["pattern"] = _id_pattern(ecma)
    return id_schema


def _example_ids(pattern: str | None) -> tuple[str, str] | None:
    """The example ids, when they are valid ids of this deployment (an example must match its schema)."""
    ids = (EXAMPLE_ACTIVE_ID, EXAMPLE_COMPLETED_ID)
    if pattern is None or not all(re.fullmatch(pattern, ident) for ident in ids):
        return None
    return ids


# --- schemas ---------------------------------------------------------------------------------------
def _model_schemas() -> dict[str, Any]:
    """``AssemblyStatus`` and the models it nests, as JSON Schema 2020-12 (what OpenAPI 3.1 uses).

    Without the models' ``default`` annotations: a field the store left out (``None`` values are
    never written) or another writer never wrote is absent on the wire, not its model default, and
    generators such as openapi-typescript would otherwise type every defaulted field as present.
    """
    from pydantic.json_schema import GenerateJsonSchema

    from .models import AssemblyStatus

    class WireSchema(GenerateJsonSchema):
        def default_schema(self, schema: Any) -> Any:
            return self.generate_inner(schema["schema"])

    generated = AssemblyStatus.model_json_schema(
        ref_template=_COMPONENT_REF.format(kind="schemas", name="{model}"),
        mode="serialization",
        schema_generator=WireSchema,
    )
    nested = generated.pop("$defs", {})
    return {**nested, "AssemblyStatus": generated}


#: The fields every served status has: the key, and the owner (the function serves only items whose
#: ``user.userId`` is the caller). Other writers may leave out any other field, even one the
#: model requires; fields whose values do not fit are left out of answers (``wire_schema``).
GUARANTEED_FIELDS = ("assembly_id", "user")


def _without_annotations(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: ({name: _without_annotations(v) for name, v in value.items()} if key == "properties"
                  else _without_annotations(value))
            for key, value in node.items()
            if key not in ("title", "description")
        }
    if isinstance(node, list):
        return [_without_annotations(item) for item in node]
    return node


def wire_schemas() -> dict[str, Any]:
    """The model schemas without annotations: what ``wire_schema.SCHEMAS`` (stdlib) must hold."""
    return {name: _without_annotations(node) for name, node in sorted(_model_schemas().items())}


def _documented_model_schemas() -> dict[str, Any]:
    schemas = _model_schemas()
    status = schemas["AssemblyStatus"]
    status["required"] = [name for name in status.get("required", []) if name in GUARANTEED_FIELDS]
    status["description"] += (
        "\n\nStatuses are served as stored. Items written by another writer may lack any field but "
        "`assembly_id` and `user`; a field whose stored value does not fit this schema is left out."
    )
    return schemas


def _schemas(id_schema: dict[str, Any]) -> dict[str, Any]:
    status_or_null = {"anyOf": [_ref("schemas", "AssemblyStatus"), {"type": "null"}]}
    ids = {"type": "array", "items": id_schema, "minItems": 1, "maxItems": schema.MAX_BATCH_IDS}
    return {
        **_documented_model_schemas(),
        "Error": {
            "type": "object",
            "description": "An error answered by the status function; `error` says what was wrong, never internals.",
            "required": ["error"],
            "properties": {"error": {"type": "string"}},
        },
        "GatewayError": {
            "type": "object",
            "description": "An error API Gateway answers itself (no route, authorizer, throttling, payload, "
            "integration failure), e.g. `{\"message\": \"Unauthorized\"}`.",
            "required": ["message"],
            "properties": {"message": {"type": "string"}},
        },
        "BatchRequest": {
            "type": "object",
            "description": f"1 to {schema.MAX_BATCH_IDS} assembly ids (duplicates are collapsed). "
            "`assembly_ids` is accepted as an alias of `assemblyIds`; sending both with different ids is a 400.",
            "properties": {"assemblyIds": ids, "assembly_ids": ids},
            "anyOf": [{"required": ["assemblyIds"]}, {"required": ["assembly_ids"]}],
        },
        "BatchResponse": {
            "type": "object",
            "required": ["assemblies"],
            "properties": {
                "assemblies": {
                    "type": "object",
                    "description": "Every requested id: its status, or `null` when it does not exist "
                    "or belongs to another user.",
                    "additionalProperties": status_or_null,
                }
            },
        },
        "AssemblyPage": {
            "type": "object",
            "required": ["assemblies", "next_cursor"],
            "properties": {
                "assemblies": {
                    "type": "array",
                    "description": "The caller's own assemblies, newest first.",
                    "items": _ref("schemas", "AssemblyStatus"),
                },
                "next_cursor": {
                    "type": ["string", "null"],
                    "description": "Pass as `cursor` for the next page; `null` on the last page.",
                },
            },
        },
        "NotifyAccepted": {
            "type": "object",
            "required": ["assembly_id", "event_id"],
            "properties": {
                "assembly_id": {"type": "string"},
                "event_id": {"type": "string", "description": "The `webhook-id` the replayed webhook carries."},
            },
        },
    }


# --- parameters, headers, responses -------------------------------------------------------------------
def _id_examples(example_ids: tuple[str, str] | None) -> dict[str, Any]:
    if example_ids is None:
        return {}
    active, completed = example_ids
    return {
        "examples": {
            "executing": {"summary": "an assembly still executing", "value": active},
            "completed": {"summary": "a completed assembly", "value": completed},
        }
    }


def _parameters(id_schema: dict[str, Any], example_ids: tuple[str, str] | None) -> dict[str, Any]:
    # The status function takes either spelling (the seed's two) but needs one: OpenAPI cannot say "one
    # of two query parameters", so the common one is required (a generated client cannot build a call
    # that is always a 400) and the other is a deprecated alias.
    alias = "The seed's other spelling: sent instead of `assemblyId` it is accepted the same way; both with " \
        "different values is a 400. New clients send `assemblyId`."
    return {
        "AssemblyIdPath": {
            "name": "assemblyId", "in": "path", "required": True, "schema": id_schema, **_id_examples(example_ids),
        },
        "AssemblyIdQuery": {
            "name": "assemblyId", "in": "query", "required": True, "schema": id_schema,
            "description": "The assembly's id (`assembly_id`, deprecated, is an alias).", **_id_examples(example_ids),
        },
        "AssemblyIdQuerySnake": {
            "name": "assembly_id", "in": "query", "required": False, "deprecated": True, "schema": id_schema,
            "description": alias,
        },
        "IfNoneMatch": {
            "name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"},
            "description": "An `ETag` from an earlier answer (a list, `W/` prefixes and `*` are understood): "
            "an unchanged status answers 304 with no body.",
        },
        "Limit": {
            "name": "limit", "in": "query", "required": False,
            "schema": {
                "type": "integer", "minimum": 1, "maximum": schema.MAX_LIST_LIMIT,
                "default": schema.DEFAULT_LIST_LIMIT,
            },
        },
        "Cursor": {
            "name": "cursor", "in": "query", "required": False, "schema": {"type": "string"},
            "description": "`next_cursor` of the previous page; only valid for the user it was issued to.",
        },
        "Active": {
            "name": "active", "in": "query", "required": False, "schema": {"type": "boolean", "default": False},
            "description": "`true` lists only assemblies that are not terminal (`true` or `false`, any letter case).",
        },
    }


def _headers() -> dict[str, Any]:
    return {
        "ETag": {
            "required": True,
            "description": "Strong validator of this status; send it back as `If-None-Match`.",
            # RFC 9110 section 8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE
            "schema": {"type": "string", "pattern": '^(W/)?"[^"]*"$'},
        },
        "Cache-Control": {
            "required": True,
            "description": f"`no-store` while the assembly is active; `private, max-age={schema.TERMINAL_MAX_AGE}` "
            "once it is terminal (it never changes state again).",
            "schema": {"type": "string", "enum": ["no-store", f"private, max-age={schema.TERMINAL_MAX_AGE}"]},
        },
        "Retry-After": {
            "required": False,
            "description": f"Seconds until the next poll is worth it: {schema.RETRY_AFTER_QUEUED} while queued, "
            f"{schema.RETRY_AFTER_ACTIVE} while uploading or executing, {schema.RETRY_AFTER_NOT_FOUND} while the "
            "assembly does not exist (yet); absent once terminal (stop polling).",
            "schema": {
                "type": "integer",
                "enum": sorted({schema.RETRY_AFTER_QUEUED, schema.RETRY_AFTER_ACTIVE, schema.RETRY_AFTER_NOT_FOUND}),
            },
        },
        "WWW-Authenticate": {
            "required": False,
            "description": "From API Gateway's JWT authorizer (OIDC): why the token was refused, e.g. "
            "`Bearer scope=\"\" error=\"invalid_token\" error_description=\"the token has expired\"`. "
            "The shared-secret authorizer and the status function do not send it.",
            "schema": {"type": "string"},
        },
    }


def _header_refs(*names: str) -> dict[str, Any]:
    return {name: _ref("headers", name) for name in names}


def _either_error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": _json_content({"anyOf": [_ref("schemas", "Error"), _ref("schemas", "GatewayError")]}),
    }


def _status_error(description: str) -> dict[str, Any]:
    return {"description": description, "content": _json_content(_ref("schemas", "Error"))}


def _gateway_error(description: str) -> dict[str, Any]:
    return {"description": description, "content": _json_content(_ref("schemas", "GatewayError"))}


def _responses() -> dict[str, Any]:
    not_found = _either_error(
        "The assembly does not exist (yet): keep polling, after `Retry-After` seconds "
        "(`{\"error\": ...}`). API Gateway answers `{\"message\": \"Not Found\"}` for a path it has no route for."
    )
    not_found["headers"] = {"Retry-After": _ref("headers", "Retry-After")}
    return {
        "NotModified": {
            "description": "The status is unchanged since the `ETag` sent as `If-None-Match`; no body.",
            "headers": _header_refs("ETag", "Cache-Control", "Retry-After"),
        },
        "BadRequest": _status_error("A missing or invalid parameter or body; `error` names it."),
        "Unauthorized": {
            **_either_error(
                "No token: API Gateway's `{\"message\": \"Unauthorized\"}` (the OIDC authorizer also for an "
                "invalid token), or the status function's `{\"error\": ...}` when the token carries no user id."
            ),
            "headers": _header_refs("WWW-Authenticate"),
        },
        "Forbidden": _either_error(
            "The shared-secret authorizer refused the token (API Gateway's `{\"message\": \"Forbidden\"}`), or the "
            "assembly belongs to another user (`{\"error\": \"access denied: ...\"}`)."
        ),
        "NotFound": not_found,
        "PayloadTooLarge": _either_error(
            f"A request body over {schema.MAX_REQUEST_BODY_BYTES} bytes (`{{\"error\": ...}}`; API Gateway's "
            "`{\"message\": \"Request Entity Too Large\"}` over its own 10 MB), or statuses too large for one "
            "Lambda response (ask for fewer)."
        ),
        "TooManyRequests": _gateway_error("Throttled by the stage's rate or burst limit: `{\"message\": \"Too Many "
                                          "Requests\"}`. Retry with backoff."),
        "InternalError": _either_error(
            "The status store is unavailable (`{\"error\": ...}`, retry), or API Gateway could not invoke the "
            "function (`{\"message\": \"Internal Server Error\"}`)."
        ),
        "BadGateway": _gateway_error("The function failed or answered malformed output (API Gateway's answer)."),
        "ServiceUnavailable": _gateway_error("The integration timed out (API Gateway's answer). Retry."),
    }


#: Answers every route can give (authorizer, throttling, payload limits, store and integration failures).
_COMMON_RESPONSES = {
    "400": "BadRequest",
    "401": "Unauthorized",
    "403": "Forbidden",
    "413": "PayloadTooLarge",
    "429": "TooManyRequests",
    "500": "InternalError",
    "502": "BadGateway",
    "503": "ServiceUnavailable",
}


def _status_read(operation_id: str, summary: str, parameters: list[str]) -> dict[str, Any]:
    return {
        "operationId": operation_id,
        "summary": summary,
        "description": "The AssemblyStatus of one of the caller's assemblies. Poll it with `If-None-Match` and "
        "`Retry-After`; stop when `ok` or `error` is set.",
        "parameters": [_ref("parameters", name) for name in [*parameters, "IfNoneMatch"]],
        "responses": {
            "200": {
                "description": "The assembly's status.",
                "headers": _header_refs("ETag", "Cache-Control", "Retry-After"),
                "content": _json_content(_ref("schemas", "AssemblyStatus")),
            },
            "304": _ref("responses", "NotModified"),
            "404": _ref("responses", "NotFound"),
        },
    }


def _operations(example_ids: tuple[str, str] | None) -> dict[tuple[str, str], dict[str, Any]]:
    """One operation per route of ``schema.ROUTES``: what each one takes and answers."""
    return {
        ("GET", "/status"): _status_read(
            "getStatus", "The status of one assembly (query form)", ["AssemblyIdQuery", "AssemblyIdQuerySnake"]
        ),
        ("GET", "/assemblies/{assemblyId}"): _status_read(
            "getAssembly", "The status of one assembly (path form)", ["AssemblyIdPath"]
        ),
        ("POST", "/status/batch"): {
            "operationId": "getStatusBatch",
            "summary": f"The statuses of up to {schema.MAX_BATCH_IDS} assemblies",
            "requestBody": {
                "required": True,
                "content": _json_content(
                    _ref("schemas", "BatchRequest"), {"assemblyIds": list(example_ids)} if example_ids else None
                ),
            },
            "responses": {
                "200": {
                    "description": "Each id's status, or null for unknown ids and other users' ids.",
                    "content": _json_content(_ref("schemas", "BatchResponse")),
                }
            },
        },
        ("GET", "/assemblies"): {
            "operationId": "listAssemblies",
            "summary": "The caller's own assemblies, newest first",
            "parameters": [_ref("parameters", name) for name in ("Limit", "Cursor", "Active")],
            "responses": {
                "200": {
                    "description": "One page of assemblies.",
                    "content": _json_content(_ref("schemas", "AssemblyPage")),
                }
            },
        },
        ("POST", "/assemblies/{assemblyId}/notify"): {
            "operationId": "notifyAssembly",
            "summary": "Send the assembly's webhook again (a `replay` event with a new event id)",
            "parameters": [_ref("parameters", "AssemblyIdPath")],
            "responses": {
                "202": {
                    "description": "The replay is queued; it carries the status current when it is delivered.",
                    "content": _json_content(_ref("schemas", "NotifyAccepted")),
                },
                "404": _ref("responses", "NotFound"),
                "501": _status_error("This deployment has no webhook queue."),
            },
        },
    }


def _paths(example_ids: tuple[str, str] | None) -> dict[str, Any]:
    operations = _operations(example_ids)
    routes = set(schema.ROUTES)
    if set(operations) != routes:
        missing = sorted(routes - set(operations))
        extra = sorted(set(operations) - routes)
        raise RuntimeError(f"OpenAPI operations and schema.ROUTES differ: undocumented {missing}, unknown {extra}")
    paths: dict[str, Any] = {}
    for method, path in schema.ROUTES:
        operation = operations[(method, path)]
        responses = operation["responses"]
        for code, name in _COMMON_RESPONSES.items():
            responses.setdefault(code, _ref("responses", name))
        operation["responses"] = dict(sorted(responses.items()))
        paths.setdefault(path, {})[method.lower()] = operation
    return paths


# --- the document ----------------------------------------------------------------------------------
@functools.lru_cache(maxsize=16)
def _build(server_url: str | None, id_pattern: str | None) -> dict[str, Any]:
    id_schema = _id_schema(id_pattern)
    example_ids = _example_ids(id_pattern)
    document: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Transflow status API",
            "version": __version__,
            "description": "Assembly status for file-processing pipelines: polling with ETag and Retry-After, "
            "batch reads, the caller's own list and webhook replay. Every route needs a bearer JWT; the user "
            "id is its `sub` claim unless the deployment names another.",
        },
        "paths": _paths(example_ids),
        "components": {
            "schemas": _schemas(id_schema),
            "parameters": _parameters(id_schema, example_ids),
            "headers": _headers(),
            "responses": _responses(),
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "`Authorization: Bearer <token>`: an HS256 token signed with the shared secret, "
                    "or one from the OIDC issuer the deployment trusts.",
                }
            },
        },
        "security": [{SECURITY_SCHEME: []}],
    }
    if server_url:
        # Paths start with "/": a base URL ending in one would double it.
        document["servers"] = [{"url": server_url.rstrip("/") or "/"}]
    return document


def openapi_document(
    *, server_url: str | None = None, assembly_id_pattern: str | None = None, assembly_id_pattern_known: bool = True
) -> dict[str, Any]:
    """The OpenAPI 3.1 description of the HTTP API, as a new dict on every call.

    ``server_url`` is the API's base URL (``servers`` is left out without one);
    ``assembly_id_pattern`` is the deployment's id pattern, read as the status function reads its
    variable (stripped; empty or ``None``: 64 lowercase hex characters).
    ``assembly_id_pattern_known=False`` (a pattern given at deploy time) states no pattern.
    """
    pattern = (assembly_id_pattern or "").strip() or schema.DEFAULT_ASSEMBLY_ID_PATTERN
    return copy.deepcopy(_build(server_url, pattern if assembly_id_pattern_known else None))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m transflow_runtime.openapi", description="Write the status API's OpenAPI 3.1 document."
    )
    parser.add_argument("--server-url", help="the API's base URL, e.g. the stack's ApiUrl output")
    parser.add_argument("--assembly-id-pattern", help="the deployment's assembly id pattern, if not the default")
    parser.add_argument("--output", "-o", help="file to write (default: standard output)")
    parser.add_argument("--wire-schemas", action="store_true", help="write wire_schema.SCHEMAS' JSON instead")
    args = parser.parse_args(argv)
    if args.wire_schemas:
        text = json.dumps(wire_schemas(), indent=1)
    else:
        text = json.dumps(
            openapi_document(server_url=args.server_url, assembly_id_pattern=args.assembly_id_pattern), indent=2
        )
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    else:
        sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised through a subprocess in the tests
    raise SystemExit(main())
