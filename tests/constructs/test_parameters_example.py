"""The CloudFormation-parameters example (examples/parameters_app.py): one template for deployments
without CDK (Service Catalog, StackSets, ``aws cloudformation deploy``)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import assertions
from transflow_runtime import schema

from .cdk_helpers import REPO, SKIP_BUNDLING, cfn_lint_errors, nag_findings, of_type

EXAMPLE = REPO / "examples" / "parameters_app.py"


def _module() -> Any:
    spec = importlib.util.spec_from_file_location("transflow_parameters_app", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parameters_stack() -> cdk.Stack:
    module = _module()
    app = cdk.App(context=dict(SKIP_BUNDLING))
    return module.ParametersStack(app, module.STACK_NAME, synthesizer=module.synthesizer(app))


@pytest.fixture(scope="module")
def stack() -> cdk.Stack:
    return parameters_stack()


@pytest.fixture(scope="module")
def template(stack: cdk.Stack) -> dict[str, Any]:
    return assertions.Template.from_stack(stack).to_json()


def _function(template: dict[str, Any], module: str) -> dict[str, Any]:
    functions = of_type(template, "AWS::Lambda::Function").values()
    (props,) = [f["Properties"] for f in functions if module in f["Properties"]["Handler"]]
    return props


def test_issuer_audience_and_webhook_url_are_parameters(template: dict[str, Any]) -> None:
    """AWS CloudFormation User Guide, "Parameters": ``String`` and ``CommaDelimitedList`` parameters,
    with ``AllowedPattern`` checked by CloudFormation before anything is created."""
    params = template["Parameters"]
    assert params["OidcIssuer"]["Type"] == "String" and params["OidcIssuer"]["AllowedPattern"] == r"^https://.+"
    assert params["OidcAudience"]["Type"] == "CommaDelimitedList"
    assert params["WebhookUrl"]["Type"] == "String"
    (authorizer,) = of_type(template, "AWS::ApiGatewayV2::Authorizer").values()
    assert authorizer["Properties"]["JwtConfiguration"] == {
        "Audience": {"Ref": "OidcAudience"},
        "Issuer": {"Ref": "OidcIssuer"},
    }
    config = _function(template, "handlers.webhook")["Environment"]["Variables"][schema.ENV_WEBHOOK_CONFIG]
    assert {"Ref": "WebhookUrl"} in config["Fn::Join"][1]


def test_the_template_needs_no_cdk_bootstrap(template: dict[str, Any]) -> None:
    """Deployable by CloudFormation alone: no ``BootstrapVersion`` parameter, no check rule, no CDK role."""
    assert "BootstrapVersion" not in template.get("Parameters", {})
    assert "CheckBootstrapVersion" not in template.get("Rules", {})
    assert "cdk-hnb659fds-deploy-role" not in json.dumps(template)


def test_the_asset_manifest_says_where_the_readme_s_upload_goes(tmp_path: Path) -> None:
    """The README's AWS-CLI steps zip ``cdk.out/<source path>`` and copy it to ``s3://<bucket>/<objectKey>``
    from the asset manifest; the template's Lambda code points at exactly that object."""
    module = _module()
    app = cdk.App(outdir=str(tmp_path), context={**SKIP_BUNDLING, "transflow:assetsBucket": "my-assets-${AWS::Region}"})
    module.ParametersStack(app, module.STACK_NAME, synthesizer=module.synthesizer(app))
    app.synth()
    manifest = json.loads((tmp_path / "TransflowParameters.assets.json").read_text())
    template = json.loads((tmp_path / "TransflowParameters.template.json").read_text())
    (asset,) = [a for a in manifest["files"].values() if a["source"].get("packaging") == "zip"]
    (destination,) = asset["destinations"].values()
    assert destination["bucketName"] == "my-assets-${AWS::Region}"
    assert destination["objectKey"].startswith("transflow/") and destination["objectKey"].endswith(".zip")
    for function in of_type(template, "AWS::Lambda::Function").values():
        code = function["Properties"]["Code"]
        assert code["S3Key"] == destination["objectKey"]
        assert code["S3Bucket"] == {"Fn::Sub": "my-assets-${AWS::Region}"}
    readme = (REPO / "README.md").read_text()
    assert "examples/parameters_app.py" in readme and "aws cloudformation deploy" in readme
    assert "aws s3 cp" in readme and "objectKey" in readme


def test_cfn_lint_and_cdk_nag_pass(stack: cdk.Stack, template: dict[str, Any]) -> None:
    assert cfn_lint_errors(template) == []
    assert nag_findings(stack) == []
