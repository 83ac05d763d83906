"""Statuses another writer stored are answered as the OpenAPI document describes them.

The status function serves stored items; a field whose stored value does not fit the documented
``AssemblyStatus`` schema is left out (the rule ``AssemblyStatus.from_item`` applies), so a client
generated from the document, the Python model and the answer agree. Found by the independent
review of issue 13 (finding 1).
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from boto3.dynamodb.types import TypeDeserializer
from jsonschema import Draft202012Validator
from transflow_runtime import openapi, wire_schema
from transflow_runtime.models import AssemblyStatus

from tests.runtime.status_support import (
    aid,
    body_of,
    call,
    http_event,
    status_env_fixture,  # noqa: F401 - the ``status_env`` fixture
)

OWNER = {"user_id": {"S": "alice"}, "user": {"M": {"userId": {"S": "alice"}}}}
BASE = {**OWNER, "template_id": {"S": "tpl"}, "created_at": {"S": "2026-01-01T00:00:00Z"},
        "updated_at": {"S": "2026-01-01T00:00:00Z"}}
#: (what another writer stored, the field that cannot be answered as stored)
FOREIGN = {
    "steps_total as a string": ({"steps_total": {"S": "three"}}, "steps_total"),
    "a Transloadit-style progress ok": ({"ok": {"S": "ASSEMBLY_EXECUTING"}}, "ok"),
    "a binary message": ({"message": {"B": b"\x00\x01"}}, "message"),
    "an upload without a name": ({"uploads": {"L": [{"M": {"id": {"S": "u1"}}}]}}, "uploads"),
    "a negative size": ({"uploads": {"L": [{"M": {"id": {"S": "u1"}, "name": {"S": "a"}, "size": {"N": "-1"}}}]}},
                        "uploads"),
    "ttl as a string": ({"ttl": {"S": "soon"}}, "ttl"),
    "a fractional step count": ({"steps_completed": {"N": "1.5"}}, "steps_completed"),
    "created_at as a number": ({"created_at": {"N": "5"}}, "created_at"),
}


def _status_validator(document: dict) -> Draft202012Validator:
    node = document["paths"]["/assemblies/{assemblyId}"]["get"]["responses"]["200"]["content"]["application/json"]
    return Draft202012Validator({**node["schema"], "components": document["components"]})


@pytest.mark.parametrize("case", list(FOREIGN), ids=list(FOREIGN))
def test_a_field_another_writer_stored_that_does_not_fit_is_left_out(status_env, case):
    extra, field = FOREIGN[case]
    ident = aid(1)
    status_env.dynamodb.put_item(TableName=status_env.table_name, Item={"assembly_id": {"S": ident}, **BASE, **extra})
    response = call(http_event("GET", f"/assemblies/{ident}"))
    assert response["statusCode"] == 200
    body = body_of(response)
    errors = [e.message for e in _status_validator(openapi.openapi_document()).iter_errors(body)]
    assert errors == [], errors
    assert field not in body
    assert body["template_id"] == "tpl" or field == "template_id"  # the rest is answered as stored
    # The Python model reads the answer as it reads the stored item (an optional field that does not
    # fit reads as its default; a required one missing is its ValueError either way).
    stored = body | {field: TypeDeserializer().deserialize(extra[field])}
    if AssemblyStatus.model_fields[field].is_required():
        for status in (body, stored):
            with pytest.raises(ValueError):
                AssemblyStatus.from_item(status)
    else:
        assert AssemblyStatus.from_item(body) == AssemblyStatus.from_item(stored)


def test_a_seed_writers_item_lacking_fields_the_model_requires_is_answered_as_documented(status_env):
    """The seed's schema has ``updated_at``, but a writer that never updates may not write it: the
    document only promises what every served status has (its id and owner)."""
    ident = aid(2)
    status_env.dynamodb.put_item(TableName=status_env.table_name, Item={"assembly_id": {"S": ident}, **OWNER})
    body = body_of(call(http_event("GET", f"/assemblies/{ident}")))
    assert body == {"assembly_id": ident, "user": {"userId": "alice"}}
    assert list(_status_validator(openapi.openapi_document()).iter_errors(body)) == []


def test_batch_and_list_answers_leave_out_the_same_fields(status_env):
    ident = aid(3)
    status_env.dynamodb.put_item(TableName=status_env.table_name, Item={
        "assembly_id": {"S": ident}, **BASE, "steps_total": {"S": "three"}, "message": {"S": "kept"}})
    batch = body_of(call(http_event("POST", "/status/batch", body=json.dumps({"assemblyIds": [ident]}))))
    listed = body_of(call(http_event("GET", "/assemblies")))
    for status in (batch["assemblies"][ident], *listed["assemblies"]):
        assert "steps_total" not in status and status["message"] == "kept"


def test_the_stdlib_schema_is_the_models_own():
    """``wire_schema.SCHEMAS`` is written out (the handler must not import pydantic): it must be
    what the models generate, or answers and document drift apart."""
    assert openapi.wire_schemas() == wire_schema.SCHEMAS, (
        "regenerate wire_schema.SCHEMAS: python -m transflow_runtime.openapi --wire-schemas"
    )


@pytest.mark.parametrize(
    ("value", "node", "expected"),
    [
        (Decimal("3"), {"type": "integer"}, True),
        (Decimal("3.5"), {"type": "integer"}, False),
        (True, {"type": "integer"}, False),
        (Decimal("NaN"), {"type": "number"}, False),
        (None, {"anyOf": [{"type": "string"}, {"type": "null"}]}, True),
        (Decimal("Infinity"), {"type": "number", "minimum": 0}, False),
        ({"id": "u", "name": "n", "meta": {"k": b"x"}}, {"$ref": "#/components/schemas/Upload"}, True),
        ({"id": "u", "name": "n", "meta": b"x"}, {"$ref": "#/components/schemas/Upload"}, False),
        ({"id": "u", "size": 1}, {"$ref": "#/components/schemas/Upload"}, False),
    ],
)
def test_the_stdlib_check_agrees_with_json_schema(value, node, expected):
    assert wire_schema.valid(value, node) is expected


def test_an_unsupported_keyword_is_refused_not_ignored():
    with pytest.raises(ValueError, match="pattern"):
        wire_schema.valid("x", {"type": "string", "pattern": "^y$"})
