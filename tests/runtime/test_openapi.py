"""The OpenAPI document: valid OpenAPI 3.1, generated from the code's own definitions (routes,
models, limits), and true to what the status function answers for the same requests."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from transflow_runtime import openapi, schema
from transflow_runtime.handlers import status as status_handler
from transflow_runtime.models import AssemblyStatus

from tests.runtime.status_support import (
    aid,
    body_of,
    call,
    http_event,
    status_env_fixture,  # noqa: F401 - the ``status_env`` fixture
)

REPO = Path(__file__).resolve().parents[2]
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _operations(document: dict) -> dict[tuple[str, str], dict]:
    return {
        (method.upper(), path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def _deref(document: dict, node: dict) -> dict:
    """Follow ``$ref`` chains inside the document."""
    while isinstance(node, dict) and "$ref" in node:
        target: object = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]  # type: ignore[index]
        node = target  # type: ignore[assignment]
    return node


def _validator(document: dict, schema_node: dict) -> Draft202012Validator:
    """A JSON Schema 2020-12 validator (OpenAPI 3.1's dialect) whose refs resolve in the document."""
    return Draft202012Validator({**schema_node, "components": document["components"]})


def _response_schema(document: dict, method: str, path: str, status: int) -> dict:
    response = _deref(document, _operations(document)[(method, path)]["responses"][str(status)])
    return response["content"]["application/json"]["schema"]


@pytest.mark.parametrize(
    "options",
    [{}, {"server_url": "https://api.example.com/"}, {"assembly_id_pattern": r"[a-z]{3}-\d+"}],
    ids=["default", "server", "custom-pattern"],
)
def test_the_document_is_valid_openapi_3_1(options):
    document = openapi.openapi_document(**options)
    assert document["openapi"].startswith("3.1.")
    validate(document)  # openapi-spec-validator picks the 3.1 validator from the version field
    json.dumps(document)  # plain JSON, no tuples or sets


def test_every_route_of_schema_is_an_operation_and_nothing_else():
    assert set(_operations(openapi.openapi_document())) == set(schema.ROUTES)


def test_a_route_without_an_operation_fails_loudly(monkeypatch):
    openapi._build.cache_clear()
    monkeypatch.setattr(schema, "ROUTES", (*schema.ROUTES, ("DELETE", "/assemblies/{assemblyId}")))
    try:
        with pytest.raises(RuntimeError, match=r"undocumented \[\('DELETE', '/assemblies/\{assemblyId\}'\)\]"):
            openapi.openapi_document()
    finally:
        openapi._build.cache_clear()


def _without_defaults(node: object) -> object:
    """A JSON Schema without ``default`` annotations (a property *named* default would stay)."""
    if isinstance(node, list):
        return [_without_defaults(item) for item in node]
    if not isinstance(node, dict):
        return node
    return {
        key: ({k: _without_defaults(v) for k, v in value.items()} if key == "properties" else _without_defaults(value))
        for key, value in node.items()
        if key != "default"
    }


def test_assembly_status_schema_is_the_pydantic_models_own_without_its_defaults():
    """Fields, types, required fields and nested models come from ``model_json_schema``; model
    defaults are left out because an absent field on the wire is absent, not defaulted."""
    components = openapi.openapi_document()["components"]["schemas"]
    generated = AssemblyStatus.model_json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
    nested = generated.pop("$defs")
    documented = components["AssemblyStatus"]
    # All but what a served status may lack (another writer's item): see the wire-conformance test.
    model = _without_defaults(generated)
    assert {k: v for k, v in documented.items() if k not in ("required", "description")} == {
        k: v for k, v in model.items() if k not in ("required", "description")
    }
    assert documented["description"].startswith(model["description"])
    assert set(documented["properties"]) == set(AssemblyStatus.model_fields)
    assert set(documented["required"]) == {"assembly_id", "user"} <= {
        name for name, field in AssemblyStatus.model_fields.items() if field.is_required()
    }
    for name, definition in nested.items():
        assert components[name] == _without_defaults(definition)
    assert '"default"' not in json.dumps(components["AssemblyStatus"])


def test_every_operation_needs_the_bearer_jwt_and_documents_api_gateways_own_answers():
    document = openapi.openapi_document()
    assert document["security"] == [{"bearerAuth": []}]
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        **document["components"]["securitySchemes"]["bearerAuth"], "type": "http", "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    gateway = {"$ref": "#/components/schemas/GatewayError"}
    for (method, path), operation in _operations(document).items():
        assert "security" not in operation, "no route is public"
        for status in (401, 403, 413, 429, 500):
            body = _response_schema(document, method, path, status)
            assert gateway in body.get("anyOf", [body]), (method, path, status)


def test_status_codes_the_handler_answers_are_documented():
    """Every status the status function can return appears in the document, so a new one cannot
    be added silently. 405 is the exception: the handler answers it only for a path reached
    through a ``$default``/proxy route, and the construct creates exact method routes."""
    source = Path(status_handler.__file__).read_text()
    answered = {int(code) for code in re.findall(r"(?:_HttpError|_error_response|_response)\(\s*(\d{3})", source)}
    assert {200, 202, 304, 400, 401, 403, 404, 413, 500, 501} <= answered
    documented = {int(code) for op in _operations(openapi.openapi_document()).values() for code in op["responses"]}
    assert answered - {405} <= documented


def test_the_batch_limit_is_the_one_the_handler_enforces(status_env):
    document = openapi.openapi_document()
    ids_schema = _deref(document, document["components"]["schemas"]["BatchRequest"])["properties"]["assemblyIds"]
    limit = ids_schema["maxItems"]
    assert limit == schema.MAX_BATCH_IDS

    def batch(count: int) -> int:
        body = json.dumps({"assemblyIds": [aid(n) for n in range(count)]})
        return call(http_event("POST", "/status/batch", body=body))["statusCode"]

    assert batch(limit) == 200
    assert batch(limit + 1) == 400
    assert batch(ids_schema["minItems"] - 1) == 400


def test_the_list_limit_range_and_default_are_the_ones_the_handler_uses(status_env, store):
    document = openapi.openapi_document()
    limit = document["components"]["parameters"]["Limit"]["schema"]
    for n in range(limit["default"] + 1):
        store.create(aid(n), user_id="alice", template_id="tpl")

    def listing(query: dict) -> dict:
        return call(http_event("GET", "/assemblies", query=query))

    assert len(body_of(listing({}))["assemblies"]) == limit["default"]
    assert listing({"limit": str(limit["maximum"])})["statusCode"] == 200
    assert listing({"limit": str(limit["maximum"] + 1)})["statusCode"] == 400
    assert listing({"limit": str(limit["minimum"] - 1)})["statusCode"] == 400


def test_the_id_pattern_is_the_handlers_default_pattern(status_env):
    document = openapi.openapi_document()
    pattern = document["components"]["parameters"]["AssemblyIdPath"]["schema"]["pattern"]
    assert pattern == schema.DEFAULT_ASSEMBLY_ID_PATTERN
    valid, invalid = aid(5), aid(5).upper()
    assert re.search(pattern, valid) and not re.search(pattern, invalid)
    assert call(http_event("GET", f"/assemblies/{valid}"))["statusCode"] == 404
    assert call(http_event("GET", f"/assemblies/{invalid}"))["statusCode"] == 400


def test_a_custom_id_pattern_is_anchored_as_the_handler_matches_it():
    """The handler uses ``re.fullmatch``; JSON Schema's ``pattern`` is a search (not anchored)."""
    pattern = openapi.openapi_document(assembly_id_pattern="job-[0-9]+")["components"]["parameters"][
        "AssemblyIdQuery"
    ]["schema"]["pattern"]
    assert re.search(pattern, "job-12") and not re.search(pattern, "xjob-12") and not re.search(pattern, "job-12x")


def _examples(node: object, parent: str = "") -> list[tuple[str, object, dict]]:
    """Every (where, example value, schema it illustrates) of parameters and request bodies."""
    found: list[tuple[str, object, dict]] = []
    if isinstance(node, dict):
        if "schema" in node and ("example" in node or "examples" in node):
            values = [node["example"]] if "example" in node else [e["value"] for e in node["examples"].values()]
            found += [(parent, value, node["schema"]) for value in values]
        for key, value in node.items():
            found += _examples(value, f"{parent}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _examples(value, f"{parent}/{index}")
    return found


@pytest.mark.parametrize("pattern", [None, r"^job-[0-9]{1,12}$", r"[a-z]{3}-\d+"], ids=["default", "job", "abc"])
def test_every_example_is_valid_for_the_schema_it_illustrates(pattern):
    """OpenAPI 3.1 (section 4.8.19, Example Object): an example SHOULD match its schema; generators
    and schemathesis' examples phase send them as they are. With a deployment's own id pattern
    the 64-hex example ids are not valid ids: they are left out, never shown as valid."""
    document = openapi.openapi_document(assembly_id_pattern=pattern)
    examples = _examples(document)
    for where, value, schema_node in examples:
        assert _validator(document, schema_node).is_valid(value), (where, value)
    if pattern is None:  # the defaults do illustrate the ids
        assert any(value == openapi.EXAMPLE_ACTIVE_ID for _, value, _ in examples)


def test_the_id_pattern_is_read_as_the_handler_reads_it(status_env, monkeypatch):
    """The handler strips the variable and takes an empty one as the default."""
    blank = openapi.openapi_document(assembly_id_pattern="  ")
    assert blank["components"]["parameters"]["AssemblyIdPath"]["schema"] == (
        openapi.openapi_document()["components"]["parameters"]["AssemblyIdPath"]["schema"]
    )
    padded = openapi.openapi_document(assembly_id_pattern=" ^job-[0-9]+$ ")
    pattern = padded["components"]["parameters"]["AssemblyIdPath"]["schema"]["pattern"]
    monkeypatch.setenv(schema.ENV_ASSEMBLY_ID_PATTERN, " ^job-[0-9]+$ ")
    status_handler.reset_for_tests()
    assert re.search(pattern, "job-7")
    assert call(http_event("GET", "/assemblies/job-7"))["statusCode"] == 404  # valid, not there


def test_the_id_length_limit_is_the_one_the_handler_enforces(status_env, monkeypatch):
    monkeypatch.setenv(schema.ENV_ASSEMBLY_ID_PATTERN, ".+")
    status_handler.reset_for_tests()
    document = openapi.openapi_document(assembly_id_pattern=".+")
    id_schema = _validator(document, document["components"]["parameters"]["AssemblyIdPath"]["schema"])
    longest, too_long = "a" * schema.MAX_ASSEMBLY_ID_BYTES, "a" * (schema.MAX_ASSEMBLY_ID_BYTES + 1)
    assert id_schema.is_valid(longest) and not id_schema.is_valid(too_long)
    assert call(http_event("GET", f"/assemblies/{longest}"))["statusCode"] == 404
    assert call(http_event("GET", f"/assemblies/{too_long}"))["statusCode"] == 400


def test_an_id_pattern_known_only_at_deploy_time_is_not_stated():
    """The construct accepts a CloudFormation parameter as ``assembly_id_pattern``: its document
    cannot state a pattern (nor show example ids), but still types the id."""
    document = openapi.openapi_document(assembly_id_pattern_known=False)
    validate(document)
    for name in ("AssemblyIdPath", "AssemblyIdQuery", "AssemblyIdQuerySnake"):
        parameter = document["components"]["parameters"][name]
        assert "pattern" not in parameter["schema"] and "examples" not in parameter, name
        assert parameter["schema"]["type"] == "string"
    assert "pattern" not in document["components"]["schemas"]["BatchRequest"]["properties"]["assemblyIds"]["items"]
    for _, value, schema_node in _examples(document):
        _validator(document, schema_node).validate(value)


def _full_item_statuses(store) -> list[dict]:
    running = aid(20)
    store.create(running, user_id="alice", template_id="tpl", steps_total=2, notify_url="https://u:p@hooks.example/x",
                 uploads=[{"id": "u1", "name": "a.wav", "size": 12, "meta": {"k": [1, 2.5, None]}}])
    store.start_step(running, "encode")
    store.progress(running, bytes_received=6, progress_pct=50.5)
    store.add_result(running, "encode", {"id": "r1", "name": "a.mp3", "size": 3, "ssl_url": "https://x/a.mp3"})
    done, failed, canceled = aid(21), aid(22), aid(23)
    for ident in (done, failed, canceled):
        store.create(ident, user_id="alice", template_id="tpl")
    store.complete(done)
    store.fail(failed, "ENCODE_FAILED", message="ffmpeg exited with 1")
    store.cancel(canceled)
    return [running, done, failed, canceled]


def test_statuses_the_handler_serves_validate_against_the_documented_schemas(status_env, store):
    document = openapi.openapi_document()
    ids = _full_item_statuses(store)
    # A seed-style writer: no state, no version, numbers as DynamoDB returns them.
    seed = aid(24)
    status_env.dynamodb.put_item(TableName=status_env.table_name, Item={
        "assembly_id": {"S": seed}, "user_id": {"S": "alice"}, "user": {"M": {"userId": {"S": "alice"}}},
        "template_id": {"S": "tpl"}, "created_at": {"S": "2026-01-01T00:00:00.000Z"},
        "updated_at": {"S": "2026-01-01T00:00:01.000Z"}, "ok": {"S": "ASSEMBLY_COMPLETED"},
        "execution_duration": {"N": "1.25"}, "bytes_usage": {"N": "12"}, "message": {"S": "done"},
        "uploads": {"L": []}, "results": {"M": {}},
    })
    ids.append(seed)
    for ident in ids:
        for method, path, event in [
            ("GET", "/status", http_event("GET", "/status", query={"assemblyId": ident})),
            ("GET", "/assemblies/{assemblyId}", http_event("GET", f"/assemblies/{ident}")),
        ]:
            response = call(event)
            assert response["statusCode"] == 200
            _validator(document, _response_schema(document, method, path, 200)).validate(body_of(response))
    cases = [
        ("POST", "/status/batch", 200, http_event("POST", "/status/batch", body=json.dumps({"assemblyIds": ids}))),
        ("GET", "/assemblies", 200, http_event("GET", "/assemblies", query={"limit": "2"})),
        ("POST", "/assemblies/{assemblyId}/notify", 202, http_event("POST", f"/assemblies/{ids[0]}/notify")),
        ("GET", "/status", 404, http_event("GET", "/status", query={"assemblyId": aid(99)})),
        ("GET", "/status", 400, http_event("GET", "/status", query={"assemblyId": "nope"})),
        ("GET", "/status", 401, http_event("GET", "/status", query={"assemblyId": ids[0]}, user=None)),
        ("GET", "/status", 403, http_event("GET", "/status", query={"assemblyId": ids[0]}, user="mallory")),
    ]
    for method, path, status, event in cases:
        response = call(event)
        assert response["statusCode"] == status, (method, path, response)
        _validator(document, _response_schema(document, method, path, status)).validate(body_of(response))
        assert response["headers"]["Content-Type"] == "application/json"


def test_the_polling_headers_are_the_ones_documented(status_env, store):
    document = openapi.openapi_document()
    headers = document["components"]["headers"]
    running, done, *_ = _full_item_statuses(store)
    for ident, retry_after in ((running, str(schema.RETRY_AFTER_ACTIVE)), (done, None)):
        response = call(http_event("GET", f"/assemblies/{ident}"))
        sent = response["headers"]
        for name, header in headers.items():
            if header["required"]:
                assert name in sent, name
            if name in sent:
                Draft202012Validator(header["schema"]).validate(
                    int(sent[name]) if header["schema"]["type"] == "integer" else sent[name]
                )
        assert sent.get("Retry-After") == retry_after
        assert str(schema.TERMINAL_MAX_AGE) in headers["Cache-Control"]["description"]
        etag = sent["ETag"]
        unchanged = call(http_event("GET", f"/assemblies/{ident}", headers={"if-none-match": etag}))
        assert unchanged["statusCode"] == 304
        assert set(_deref(document, document["components"]["responses"]["NotModified"])["headers"]) >= {
            name for name in unchanged["headers"] if name in headers
        }


def test_401_declares_the_jwt_authorizers_www_authenticate_header():
    """API Gateway's JWT authorizer answers 401 with ``WWW-Authenticate: Bearer ... error=...``
    (API Gateway Developer Guide, "Troubleshooting issues with HTTP API JWT authorizers"): the
    only place that says why a token was refused. The Lambda authorizer and the function's own 401
    do not send it, so it is not required. (Review 13 finding 3.)"""
    document = openapi.openapi_document()
    unauthorized = document["components"]["responses"]["Unauthorized"]
    header = _deref(document, unauthorized["headers"]["WWW-Authenticate"])
    assert header.get("required", False) is False
    assert header["schema"]["type"] == "string"
    validate(document)


def _polling_headers_sent(document: dict, response: dict) -> dict:
    """The documented polling headers ``response`` sends, each validated against its documented schema."""
    headers = document["components"]["headers"]
    sent = {name: value for name, value in response["headers"].items() if name in headers}
    for name, value in sent.items():
        node = headers[name]["schema"]
        assert Draft202012Validator(node).is_valid(int(value) if node["type"] == "integer" else value), (name, value)
    return sent


def test_each_states_polling_headers_are_the_documented_values(status_env, store):
    """Per state, the exact values the document states (machine-readably, as the headers' ``enum``):
    queued / active / not found / terminal, and a 304 without a body. (Review 13 finding 8: prose
    alone let a changed Retry-After or Cache-Control through.)"""
    document = openapi.openapi_document()
    queued, active, done = aid(40), aid(41), aid(42)
    for ident in (queued, active, done):
        store.create(ident, user_id="alice", template_id="tpl")
    store.start_step(active, "encode")
    store.complete(done)
    no_store, terminal = "no-store", f"private, max-age={schema.TERMINAL_MAX_AGE}"
    expected = {
        queued: (200, {"Cache-Control": no_store, "Retry-After": str(schema.RETRY_AFTER_QUEUED)}),
        active: (200, {"Cache-Control": no_store, "Retry-After": str(schema.RETRY_AFTER_ACTIVE)}),
        done: (200, {"Cache-Control": terminal}),
        aid(43): (404, {"Cache-Control": no_store, "Retry-After": str(schema.RETRY_AFTER_NOT_FOUND)}),
    }
    headers = document["components"]["headers"]
    assert headers["Cache-Control"]["schema"]["enum"] == [no_store, terminal]
    assert set(headers["Retry-After"]["schema"]["enum"]) == {
        schema.RETRY_AFTER_QUEUED, schema.RETRY_AFTER_ACTIVE, schema.RETRY_AFTER_NOT_FOUND
    }
    for ident, (status, values) in expected.items():
        response = call(http_event("GET", f"/assemblies/{ident}"))
        assert response["statusCode"] == status
        sent = _polling_headers_sent(document, response)
        assert {k: v for k, v in sent.items() if k != "ETag"} == values, ident
        if status != 200:
            continue
        unchanged = call(http_event("GET", f"/assemblies/{ident}", headers={"if-none-match": sent["ETag"]}))
        assert unchanged["statusCode"] == 304
        not_modified = _deref(document, document["components"]["responses"]["NotModified"])
        assert "content" not in not_modified and not unchanged.get("body")
        required = {n for n, ref in not_modified["headers"].items() if _deref(document, ref).get("required")}
        assert required <= set(unchanged["headers"])
        assert _polling_headers_sent(document, unchanged) == sent


def test_each_call_returns_a_document_of_its_own():
    first = openapi.openapi_document()
    first["paths"].clear()
    assert openapi.openapi_document()["paths"]


def test_the_module_command_writes_the_same_document(tmp_path):
    target = tmp_path / "openapi.json"
    run = subprocess.run(
        [sys.executable, "-m", "transflow_runtime.openapi", "--server-url", "https://api.example.com/", "-o",
         str(target)],
        capture_output=True, text=True, cwd=REPO, check=False,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(target.read_text()) == openapi.openapi_document(server_url="https://api.example.com/")
    assert json.loads(target.read_text())["servers"] == [{"url": "https://api.example.com"}]


def test_the_status_handler_never_imports_the_document_module():
    """Building the document imports pydantic; the status Lambda's cold start must not pay for it."""
    code = "import sys, transflow_runtime.handlers.status; print('transflow_runtime.openapi' in sys.modules)"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "False"


def _resolve(document: dict, node: dict) -> dict:
    if "$ref" in node:
        kind, name = node["$ref"].split("/")[-2:]
        return document["components"][kind][name]
    return node


def test_every_query_call_a_generated_client_can_build_names_an_assembly(status_env) -> None:
    """OpenAPI 3.1, Parameter Object ``required``: a call with only the required parameters is valid,
    so a generated client types it. The status function answers ``GET /status`` with neither spelling
    400, so one spelling must be required: such a minimal call (the example id filled in) reaches the
    lookup (404 for an unknown assembly), never the 400; the other spelling is a deprecated alias."""
    document = openapi.openapi_document()
    operation = _operations(document)[("GET", "/status")]
    parameters = [_resolve(document, p) for p in operation["parameters"]]
    required = {p["name"]: p for p in parameters if p.get("required")}
    assert set(required) == {"assemblyId"}
    query = {name: aid(7) for name in required}
    assert call(http_event("GET", "/status", query=query))["statusCode"] == 404
    (alias,) = [p for p in parameters if p["name"] == "assembly_id"]
    assert alias["deprecated"] is True and not alias.get("required")
    assert call(http_event("GET", "/status", query={"assembly_id": aid(7)}))["statusCode"] == 404
