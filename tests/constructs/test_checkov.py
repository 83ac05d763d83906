"""checkov, the IaC scanner many users' pipelines run, on the synthesized templates.

Every finding is fixed or suppressed on its own resource with a reason (checkov reads suppressions
from the resource's ``Metadata``: ``{"checkov": {"skip": [{"id": ..., "comment": ...}]}}``), and
with ``table_encryption_key=``/``queue_encryption_key=`` the key checks pass instead of being
suppressed. checkov runs from ``.venv-checkov/`` (``make setup``, pinned in
``requirements-checkov.txt``); in CI (``CI=true``) its absence is a failure, elsewhere a skip.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import assertions
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_route53 as route53

from tests.tooling import in_ci
from transflow_constructs import StatusAuth, TransflowStatus, WebhookTarget

from .cdk_helpers import REPO, example_stack, new_stack, oidc_auth, plain_secret
from .test_event_bus import event_bus_example_stack
from .test_parameters_example import parameters_stack

CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"


def _checkov() -> Path:
    if CHECKOV.exists():
        return CHECKOV
    message = f"checkov is not installed at {CHECKOV} (run make setup)"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


def _with_keys(stack: cdk.Stack) -> None:
    key = kms.Key(stack, "TableKey", enable_key_rotation=True)
    queue_key = kms.Key(stack, "QueueKey", enable_key_rotation=True)
    hook = plain_secret(stack, "Hook")
    TransflowStatus(
        stack,
        "Status",
        auth=StatusAuth.shared_secret(plain_secret(stack, "Jwt")),
        webhooks={"tpl": WebhookTarget(url="https://hooks.example.com/t", secret=hook)},
        table_encryption_key=key,
        queue_encryption_key=queue_key,
    )


def _everything(stack: cdk.Stack) -> None:
    zone = route53.HostedZone.from_hosted_zone_attributes(stack, "Zone", hosted_zone_id="Z123", zone_name="example.com")
    certificate = acm.Certificate.from_certificate_arn(
        stack, "Cert", "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
    )
    TransflowStatus(
        stack,
        "Status",
        auth=oidc_auth(),
        webhooks={"tpl": WebhookTarget(url="https://hooks.example.com/t", secret=plain_secret(stack, "Hook"))},
        domain_name="status.example.com",
        certificate=certificate,
        hosted_zone=zone,
        webhook_vpc=ec2.Vpc(stack, "Vpc", max_azs=1),
        cors_origins=["https://app.example.com"],
        dashboard=True,
    )


def _stack(build: Any) -> dict[str, Any]:
    stack = new_stack()
    build(stack)
    return assertions.Template.from_stack(stack).to_json()


TEMPLATES = {
    "example-app": lambda: assertions.Template.from_stack(example_stack()).to_json(),
    "parameters-example": lambda: assertions.Template.from_stack(parameters_stack()).to_json(),
    "event-bus-example": lambda: assertions.Template.from_stack(event_bus_example_stack()).to_json(),
    "oidc": lambda: _stack(lambda s: TransflowStatus(s, "Status", auth=oidc_auth())),
    "with-keys": lambda: _stack(_with_keys),
    "everything": lambda: _stack(_everything),
}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    checkov = _checkov()
    directory = tmp_path_factory.mktemp("templates")
    for name, build in TEMPLATES.items():
        (directory / f"{name}.template.json").write_text(json.dumps(build()))
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "LOG_LEVEL": "ERROR"}
    done = subprocess.run(
        [str(checkov), "-d", str(directory), "--framework", "cloudformation", "-o", "json", "--skip-download"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode in (0, 1), done.stderr[-3000:]
    result = json.loads(done.stdout)
    reports = result if isinstance(result, list) else [result]
    (cloudformation,) = [r for r in reports if r.get("check_type") == "cloudformation"]
    return cloudformation["results"]


def _name(check: dict[str, Any]) -> str:
    return f"{Path(check['file_path']).name}: {check['check_id']} {check['resource']}"


def test_no_finding_is_left_unsuppressed(report: dict[str, Any]) -> None:
    assert sorted(_name(c) for c in report["failed_checks"]) == []
    assert report["passed_checks"], "checkov checked nothing"


def test_every_suppression_carries_its_reason(report: dict[str, Any]) -> None:
    for check in report["skipped_checks"]:
        comment = (check.get("check_result") or {}).get("suppress_comment") or ""
        assert len(comment.strip()) > 15, _name(check)


def _outcomes(report: dict[str, Any], template: str, check_id: str) -> dict[str, set[str]]:
    return {
        kind: {
            c["resource"]
            for c in report[kind]
            if c["check_id"] == check_id and Path(c["file_path"]).name == f"{template}.template.json"
        }
        for kind in ("passed_checks", "skipped_checks", "failed_checks")
    }


def test_with_customer_keys_the_key_checks_pass_rather_than_being_suppressed(report: dict[str, Any]) -> None:
    table = _outcomes(report, "with-keys", "CKV_AWS_119")
    assert len(table["passed_checks"]) == 1 and not table["skipped_checks"]
    queues = _outcomes(report, "with-keys", "CKV_AWS_27")
    assert len(queues["passed_checks"]) == 3 and not queues["skipped_checks"]
    # ... and without keys they are suppressed (with their reason), not failed.
    assert len(_outcomes(report, "oidc", "CKV_AWS_27")["skipped_checks"]) == 3


def test_with_webhook_vpc_the_webhook_function_passes_the_vpc_check(report: dict[str, Any]) -> None:
    vpc = _outcomes(report, "everything", "CKV_AWS_117")
    assert any("WebhookFunction" in r for r in vpc["passed_checks"])
    assert not any("WebhookFunction" in r for r in vpc["skipped_checks"])


def test_in_ci_a_missing_checkov_fails_instead_of_skipping(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import tests.constructs.test_checkov as module

    monkeypatch.setattr(module, "CHECKOV", tmp_path / "missing" / "checkov")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="checkov is not installed"):
        module._checkov()
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        module._checkov()
