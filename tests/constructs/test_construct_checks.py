"""cdk-nag (AwsSolutions) and cfn-lint over the example app and over a stack per auth variant."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import assertions
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager

from transflow_constructs import StatusAuth, TransflowStatus, WebhookTarget

from .cdk_helpers import (
    REPO,
    SKIP_BUNDLING,
    Synth,
    cdk_json_context,
    cfn_lint_errors,
    nag_findings,
    new_stack,
    oidc_auth,
)

# ---- cdk-nag ----------------------------------------------------------------------------------------


def test_example_app_has_no_unacknowledged_findings(example: tuple[cdk.Stack, dict]) -> None:
    stack, _ = example
    assert nag_findings(stack) == []


def test_oidc_stack_has_no_unacknowledged_findings(oidc: Synth) -> None:
    assert nag_findings(oidc.stack) == []


def test_shared_secret_stack_has_no_unacknowledged_findings(shared: Synth) -> None:
    assert nag_findings(shared.stack) == []


def _everything(stack: cdk.Stack) -> TransflowStatus:
    """Every optional feature on at once: keys, custom domain, CORS, default target, notify_url."""
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    jwt = secretsmanager.Secret(stack, "JwtSecret", encryption_key=key)
    hook = secretsmanager.Secret(stack, "HookSecret")
    notify = secretsmanager.Secret(stack, "NotifySecret")
    for secret in (jwt, hook, notify):
        cdk.Validations.of(secret).acknowledge(
            cdk.Acknowledgment(id="AwsSolutions-SMG4", reason="test stack: rotation is the deployer's concern")
        )
    certificate = acm.Certificate.from_certificate_arn(
        stack, "Cert", "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
    )
    return TransflowStatus(
        stack,
        "Status",
        auth=StatusAuth.shared_secret(jwt, issuer="me", audience="you"),
        webhooks={"tpl": WebhookTarget(url="https://hooks.example.com/t", secret=hook)},
        default_webhook=WebhookTarget(url="https://default.example.com/t", secret=hook),
        allow_notify_url=True,
        notify_url_secret=notify,
        table_encryption_key=key,
        queue_encryption_key=key,
        cors_origins=["https://app.example.com"],
        domain_name="status.example.com",
        certificate=certificate,
        architecture=lambda_.Architecture.X86_64,
    )


@pytest.fixture(scope="module")
def everything() -> tuple[cdk.Stack, dict]:
    stack = new_stack()
    _everything(stack)
    return stack, assertions.Template.from_stack(stack).to_json()


def test_stack_with_every_option_has_no_unacknowledged_findings(everything: tuple[cdk.Stack, dict]) -> None:
    assert nag_findings(everything[0]) == []


def test_acknowledgments_do_not_hide_findings_elsewhere_in_the_stack() -> None:
    """The construct's acknowledgments are scoped to its own resources: the user's stay visible."""
    stack = new_stack()
    status = TransflowStatus(stack, "Status", auth=oidc_auth())
    secretsmanager.Secret(stack, "UnrotatedSecret")
    # A wildcard statement added to a function's role must be reported, not covered by the
    # acknowledgment of the X-Ray statement.
    status.status_function.add_to_role_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=["*"]))
    findings = nag_findings(stack)
    assert any(f.startswith("AwsSolutions-SMG4") and "UnrotatedSecret" in f for f in findings), findings
    assert any(f.startswith("AwsSolutions-IAM5[Resource::*]") and "StatusFunction/Role" in f for f in findings), (
        findings
    )
    assert len(findings) == 2, findings


def test_a_non_default_old_runtime_is_reported() -> None:
    """The L1 acknowledgment covers the default runtime only; choosing an older one is the user's call."""
    stack = new_stack()
    TransflowStatus(stack, "Status", auth=oidc_auth(), runtime=lambda_.Runtime.PYTHON_3_12)
    findings = nag_findings(stack)
    assert findings and all(f.startswith("AwsSolutions-L1") for f in findings)


def test_the_default_runtime_is_the_newest_the_bundle_import_test_covers() -> None:
    """The L1 acknowledgment's reason: the default is the newest Python whose bundle is import-tested."""
    from transflow_constructs.bundling import python_version_of
    from transflow_constructs.status import DEFAULT_RUNTIME

    from .test_construct_bundle import RUNTIMES

    newest = max(RUNTIMES, key=lambda v: tuple(map(int, v.split("."))))
    assert python_version_of(DEFAULT_RUNTIME) == newest


def test_the_runtime_acknowledgment_does_not_claim_the_wheels_only_fit_the_default() -> None:
    """The bundler builds wheels for any runtime passed, so the reason must not say otherwise."""
    stack = new_stack()
    status = TransflowStatus(stack, "Status", auth=oidc_auth())
    entries = [
        entry.data
        for entry in status.status_function.node.metadata
        if "AwsSolutions-L1" in json.dumps(entry.data, default=str)
    ]
    assert entries, "the default runtime's L1 finding is acknowledged on the function"
    reason = json.dumps(entries, default=str)
    assert "opt-in via runtime=" in reason and "exact Python version" not in reason


# ---- cfn-lint ---------------------------------------------------------------------------------------


def test_cfn_lint_finds_no_errors_in_the_example_app(example: tuple[cdk.Stack, dict]) -> None:
    assert cfn_lint_errors(example[1]) == []


def test_cfn_lint_finds_no_errors_in_the_oidc_stack(oidc: Synth) -> None:
    assert cfn_lint_errors(oidc.template) == []


def test_cfn_lint_finds_no_errors_in_the_shared_secret_stack(shared: Synth) -> None:
    assert cfn_lint_errors(shared.template) == []


def test_cfn_lint_finds_no_errors_with_every_option(everything: tuple[cdk.Stack, dict]) -> None:
    assert cfn_lint_errors(everything[1]) == []


def test_cfn_lint_reports_errors_when_there_are_some() -> None:
    """The lint helper itself works: a broken template yields errors."""
    broken = {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": "soon"}}}}
    assert cfn_lint_errors(broken)


# ---- the example app as the CDK CLI runs it ---------------------------------------------------------


def test_example_app_synthesizes_as_a_script_with_the_nag_plugin(tmp_path: Path) -> None:
    """``python app.py`` the way ``cdk synth`` runs it: context from cdk.json, cdk-nag registered."""
    env = {
        **os.environ,
        "CDK_OUTDIR": str(tmp_path),
        "CDK_CONTEXT_JSON": json.dumps({**cdk_json_context(), **SKIP_BUNDLING}),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    result = subprocess.run(
        [sys.executable, str(REPO / "app.py")], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    template = json.loads((tmp_path / "TransflowExample.template.json").read_text())
    assert any(r["Type"] == "AWS::ApiGatewayV2::Api" for r in template["Resources"].values())
    report = json.loads((tmp_path / "validation-report.json").read_text())
    assert all(not p.get("violations") for p in report.get("pluginReports", []))


def test_example_app_fails_synthesis_when_a_finding_is_unacknowledged(tmp_path: Path) -> None:
    """The nag plugin really gates synthesis: the same app minus its SMG4 acknowledgment fails."""
    source = (REPO / "app.py").read_text()
    assert 'id="AwsSolutions-SMG4"' in source
    patched = tmp_path / "app_without_ack.py"
    patched.write_text(source.replace('id="AwsSolutions-SMG4"', 'id="AwsSolutions-NOT-A-RULE"'))
    env = {
        **os.environ,
        "CDK_OUTDIR": str(tmp_path / "out"),
        "CDK_CONTEXT_JSON": json.dumps({**cdk_json_context(), **SKIP_BUNDLING}),
        "PYTHONPATH": str(REPO),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    result = subprocess.run(
        [sys.executable, str(patched)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "ValidationFailed" in output
    assert "AwsSolutions-SMG4" in output and "WebhookSigningSecret" in output
