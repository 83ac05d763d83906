"""Helpers for the construct tests: synthesizing stacks and reading the templates they produce."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import aws_cdk as cdk
from aws_cdk import assertions
from aws_cdk import aws_secretsmanager as secretsmanager

from transflow_constructs import StatusAuth, TransflowStatus, WebhookTarget

REPO = Path(__file__).resolve().parents[2]
#: Context that makes CDK skip asset bundling (only the real-build tests bundle).
SKIP_BUNDLING: dict[str, Any] = {"aws:cdk:bundling-stacks": []}
ISSUER = "https://issuer.example.com/"
AUDIENCE = "transflow-test-client"
#: A secret *value* used in test stacks; it must never appear in a function's configuration.
SECRET_SENTINEL = "sentinel-secret-value-7f3a9c"
HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass
class Synth:
    """A synthesized stack and the construct in it."""

    stack: cdk.Stack
    status: TransflowStatus
    template: dict[str, Any]

    @property
    def assertions(self) -> assertions.Template:
        return assertions.Template.from_json(self.template)

    def resolve(self, value: Any) -> Any:
        return self.stack.resolve(value)


def new_stack(*, bundling: bool = False, outdir: str | None = None, name: str = "TestStack") -> cdk.Stack:
    app = cdk.App(context={} if bundling else dict(SKIP_BUNDLING), outdir=outdir)
    return cdk.Stack(app, name, env=cdk.Environment(account="123456789012", region="us-east-1"))


def plain_secret(stack: cdk.Stack, construct_id: str) -> secretsmanager.Secret:
    """A secret whose value is known, so tests can prove it never leaks into the template elsewhere."""
    secret = secretsmanager.Secret(
        stack, construct_id, secret_string_value=cdk.SecretValue.unsafe_plain_text(SECRET_SENTINEL)
    )
    # Rotation of the caller's secrets is the caller's decision (app.py shows one); not the construct's.
    cdk.Validations.of(secret).acknowledge(
        cdk.Acknowledgment(id="AwsSolutions-SMG4", reason="test fixture secret, never deployed")
    )
    secret.node.default_child.add_metadata(  # checkov: the caller's secret, the caller's key choice
        "checkov", {"skip": [{"id": "CKV_AWS_149", "comment": "test fixture secret, never deployed"}]}
    )
    return secret


def oidc_auth() -> StatusAuth:
    return StatusAuth.oidc(issuer=ISSUER, audience=[AUDIENCE])


def synth(build: Callable[[cdk.Stack], TransflowStatus], **stack_options: Any) -> Synth:
    stack = new_stack(**stack_options)
    status = build(stack)
    return Synth(stack, status, assertions.Template.from_stack(stack).to_json())


def default_oidc(stack: cdk.Stack) -> TransflowStatus:
    """Defaults everywhere, OIDC auth and one webhook target."""
    secret = plain_secret(stack, "HookSecret")
    return TransflowStatus(
        stack,
        "Status",
        auth=oidc_auth(),
        webhooks={"tpl_basic_audio": WebhookTarget(url="https://hooks.example.com/t", secret=secret)},
    )


def default_shared_secret(stack: cdk.Stack) -> TransflowStatus:
    """Defaults everywhere, shared-secret auth (issuer and audience set) and one webhook target."""
    jwt_secret = plain_secret(stack, "JwtSecret")
    hook_secret = plain_secret(stack, "HookSecret")
    return TransflowStatus(
        stack,
        "Status",
        auth=StatusAuth.shared_secret(jwt_secret, issuer="transflow-tests", audience=["a1", "a2"]),
        webhooks={"tpl_basic_audio": WebhookTarget(url="https://hooks.example.com/t", secret=hook_secret)},
    )


# ---- reading templates ---------------------------------------------------------------------------
def of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def logical_id(synth_result: Synth, construct: Any) -> str:
    """Logical id of an L2 construct's default child."""
    return synth_result.stack.get_logical_id(construct.node.default_child)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_statements(template: dict[str, Any], function_id: str) -> list[dict[str, Any]]:
    """Every statement of every policy attached to the function's execution role."""
    function = template["Resources"][function_id]
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    statements: list[dict[str, Any]] = []
    for policy in of_type(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    role = template["Resources"][role_id]["Properties"]
    for inline in role.get("Policies", []):
        statements.extend(inline["PolicyDocument"]["Statement"])
    return statements


def permissions(template: dict[str, Any], function_id: str) -> dict[str, tuple[list[str], list[Any]]]:
    """``{Sid: (sorted actions, resources)}`` for a function's role."""
    result = {}
    for statement in role_statements(template, function_id):
        assert statement["Effect"] == "Allow"
        result[statement["Sid"]] = (sorted(as_list(statement["Action"])), as_list(statement["Resource"]))
    return result


def normalized(template: dict[str, Any]) -> dict[str, Any]:
    """The template with asset hashes replaced, so only infrastructure changes show in a snapshot."""
    text = HEX64.sub("<asset-hash>", json.dumps(template, sort_keys=True))
    return json.loads(text)


# ---- the example app -----------------------------------------------------------------------------
def cdk_json_context() -> dict[str, Any]:
    return json.loads((REPO / "cdk.json").read_text())["context"]


def example_app_module() -> ModuleType:
    """``app.py`` imported as a module (its ``main()`` is not run)."""
    name = "transflow_example_app"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def example_stack() -> cdk.Stack:
    """The example app's stack, with cdk.json's context and bundling skipped."""
    app = cdk.App(context={**cdk_json_context(), **SKIP_BUNDLING})
    return example_app_module().ExampleStack(app, "TransflowExample")


# ---- linters -------------------------------------------------------------------------------------
def cfn_lint_errors(template: dict[str, Any]) -> list[str]:
    """cfn-lint's errors (rule ids E...) for a template, as readable strings."""
    from cfnlint.api import lint

    matches = lint(json.dumps(template), regions=["us-east-1"])
    return [f"{m.rule.id} {m.message} ({'/'.join(map(str, m.path))})" for m in matches if m.rule.id.startswith("E")]


def nag_findings(scope: cdk.Stack) -> list[str]:
    """Unacknowledged cdk-nag AwsSolutions findings for a stack (empty list = clean)."""
    from cdk_nag import AwsSolutionsChecks

    report = AwsSolutionsChecks(scope.node.root).validate_scope(scope)
    findings = [
        f"{v.rule_name} at {', '.join(r.construct_path for r in v.violating_resources)}" for v in report.violations
    ]
    assert report.success == (not findings)
    return findings
