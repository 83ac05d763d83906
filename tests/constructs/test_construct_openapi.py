"""``status.openapi_document`` describes exactly the HTTP API the construct synthesizes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import assertions
from aws_cdk import aws_certificatemanager as acm
from openapi_spec_validator import validate
from transflow_runtime.openapi import openapi_document

from transflow_constructs import TransflowStatus

from .cdk_helpers import default_oidc, default_shared_secret, example_stack, of_type, oidc_auth, synth

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _document_routes(document: dict[str, Any]) -> set[str]:
    paths = document["paths"].items()
    return {f"{method.upper()} {path}" for path, item in paths for method in item if method in METHODS}


def _template_routes(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``AWS::ApiGatewayV2::Route`` properties by ``RouteKey``."""
    routes = [resource["Properties"] for resource in of_type(template, "AWS::ApiGatewayV2::Route").values()]
    by_key = {route["RouteKey"]: route for route in routes}
    assert len(by_key) == len(routes), "a route key appears twice"
    return by_key


@pytest.mark.parametrize("build", [default_oidc, default_shared_secret], ids=["oidc", "shared-secret"])
def test_the_documents_routes_are_the_synthesized_http_apis_routes(build: Callable[[cdk.Stack], TransflowStatus]):
    result = synth(build)
    routes = _template_routes(result.template)
    assert set(routes) == _document_routes(result.status.openapi_document)
    # The document puts every operation behind the bearer JWT: so does the template.
    assert result.status.openapi_document["security"] == [{"bearerAuth": []}]
    for key, route in routes.items():
        assert route.get("AuthorizationType") in ("JWT", "CUSTOM"), key


def test_the_example_apps_routes_are_the_documents_routes():
    stack = example_stack()
    template = assertions.Template.from_stack(stack).to_json()
    statuses = [node for node in stack.node.find_all() if isinstance(node, TransflowStatus)]
    assert len(statuses) == 1
    assert set(_template_routes(template)) == _document_routes(statuses[0].openapi_document)


def test_the_default_document_has_no_server_because_the_execute_api_url_is_known_only_after_deploy():
    status = synth(default_oidc).status
    assert cdk.Token.is_unresolved(status.api_url)
    document = status.openapi_document
    validate(document)
    assert "servers" not in document
    assert document == openapi_document()


def test_a_custom_domain_is_the_documents_server():
    def build(stack: cdk.Stack) -> TransflowStatus:
        certificate = acm.Certificate.from_certificate_arn(
            stack, "Cert", "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
        )
        return TransflowStatus(stack, "Status", auth=oidc_auth(), domain_name="status.example.com",
                               certificate=certificate)

    document = synth(build).status.openapi_document
    validate(document)
    assert document["servers"] == [{"url": "https://status.example.com"}]


def test_a_custom_assembly_id_pattern_is_the_documents_id_pattern():
    def build(stack: cdk.Stack) -> TransflowStatus:
        return TransflowStatus(stack, "Status", auth=oidc_auth(), assembly_id_pattern=r"^job-[0-9]{1,12}$")

    document = synth(build).status.openapi_document
    validate(document)
    assert document["components"]["parameters"]["AssemblyIdPath"]["schema"]["pattern"] == r"^job-[0-9]{1,12}$"


def test_an_assembly_id_pattern_given_at_deploy_time_is_not_written_into_the_document():
    """A CloudFormation parameter as the pattern is only known at deploy time: the document states
    no pattern rather than a token's placeholder text, and stays valid."""

    def build(stack: cdk.Stack) -> TransflowStatus:
        pattern = cdk.CfnParameter(stack, "IdPattern", type="String", default="^job-[0-9]+$")
        return TransflowStatus(stack, "Status", auth=oidc_auth(), assembly_id_pattern=pattern.value_as_string)

    document = synth(build).status.openapi_document
    validate(document)
    assert "${Token[" not in json.dumps(document)
    assert document == openapi_document(assembly_id_pattern_known=False)


def test_a_custom_domain_given_at_deploy_time_is_not_the_documents_server():
    def build(stack: cdk.Stack) -> TransflowStatus:
        name = cdk.CfnParameter(stack, "DomainName", type="String").value_as_string
        certificate = acm.Certificate.from_certificate_arn(
            stack, "Cert", "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
        )
        return TransflowStatus(stack, "Status", auth=oidc_auth(), domain_name=name, certificate=certificate)

    document = synth(build).status.openapi_document
    validate(document)
    assert "servers" not in document


def test_a_python_only_assembly_id_pattern_is_translated_for_the_document():
    """OpenAPI 3.1 / JSON Schema 2020-12 ``pattern`` is ECMA-262: ``(?P<name>...)`` and ``\\Z`` are
    Python-only spellings, so they are rewritten (a plain group, ``$``), not copied."""

    def build(stack: cdk.Stack) -> TransflowStatus:
        return TransflowStatus(stack, "Status", auth=oidc_auth(), assembly_id_pattern=r"(?P<prefix>job)-[0-9]{1,12}\Z")

    document = synth(build).status.openapi_document
    validate(document)
    assert document["components"]["parameters"]["AssemblyIdPath"]["schema"]["pattern"] == (
        r"^(?:(job)-[0-9]{1,12}$)$"
    )


def test_an_assembly_id_pattern_without_an_ecma_equivalent_is_left_out_with_a_warning():
    """An inline flag has no ECMA-262 equivalent: the document states no pattern (rather than one a
    generated client would misread) and synthesis warns, naming the option."""
    stack = cdk.Stack(cdk.App())
    status = TransflowStatus(stack, "Status", auth=oidc_auth(), assembly_id_pattern=r"(?i)job-[0-9a-f]+")
    document = status.openapi_document
    validate(document)
    assert "pattern" not in document["components"]["parameters"]["AssemblyIdPath"]["schema"]
    warnings = assertions.Annotations.from_stack(stack).find_warning("*", assertions.Match.string_like_regexp("."))
    assert any("assembly_id_pattern" in json.dumps(w.entry.data) and "ECMA-262" in json.dumps(w.entry.data)
               for w in warnings)
