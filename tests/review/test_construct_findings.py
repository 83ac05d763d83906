"""Review findings on the TransflowStatus construct, its packaging and CI (one test per definite bug).

Each test states what a correct construct/project does and is marked ``xfail(strict=True)`` until
the bug is fixed; fixing the bug turns the xfail into an XPASS, which fails the run so the marker
gets removed.
"""

from __future__ import annotations

import inspect
import tomllib
from typing import Any

import pytest
from aws_cdk import aws_secretsmanager as secretsmanager
from packaging.requirements import Requirement

from tests.constructs.cdk_helpers import REPO, of_type, oidc_auth, synth
from transflow_constructs import StatusMonitoring, TransflowStatus, WebhookTarget

#: Lambda: "the total size of all environment variables doesn't exceed 4 KB".
LAMBDA_ENV_LIMIT_BYTES = 4 * 1024


# ---- Lambda limits -------------------------------------------------------------------------------
@pytest.mark.xfail(
    strict=True,
    reason=(
        "the whole webhooks= mapping goes into one environment variable (TRANSFLOW_WEBHOOK_CONFIG); 30 "
        "templates make it ~4.9 KB, over Lambda's 4 KB environment limit, so `cdk deploy` fails while "
        "synth passes. Refuse at synth time (or move the config to SSM/S3/an asset)"
    ),
)
def test_webhook_config_beyond_the_lambda_environment_limit_is_refused_at_synth() -> None:
    def build(stack: Any) -> TransflowStatus:
        hooks = {}
        for i in range(30):
            secret = secretsmanager.Secret.from_secret_complete_arn(
                stack, f"Hook{i}", f"arn:aws:secretsmanager:us-east-1:123456789012:secret:transflow/hook-{i:02d}-AbCdEf"
            )
            hooks[f"tpl_template_{i:02d}"] = WebhookTarget(
                url=f"https://hooks.example.com/transflow/{i:02d}", secret=secret
            )
        return TransflowStatus(stack, "Status", auth=oidc_auth(), webhooks=hooks)

    try:
        result = synth(build)
    except ValueError:
        return  # refused at synth time: fixed
    functions = of_type(result.template, "AWS::Lambda::Function")
    webhook = next(v for k, v in functions.items() if k.startswith("StatusWebhookFunction"))
    variables = webhook["Properties"]["Environment"]["Variables"]
    concrete = sum(len(name) + len(value) for name, value in variables.items() if isinstance(value, str))
    assert concrete <= LAMBDA_ENV_LIMIT_BYTES, f"webhook function environment is {concrete} bytes"


# ---- packaging -----------------------------------------------------------------------------------
def _requirement(requirements: list[str], name: str) -> Requirement:
    return next(r for r in map(Requirement, requirements) if r.name.lower() == name)


@pytest.mark.xfail(
    strict=True,
    reason=(
        "pyproject.toml floors are far below what the code uses: aws-cdk-lib>=2.150 admits versions "
        "without lambda.Runtime.PYTHON_3_13 (added in 2.167, Nov 2024; status.py reads it at import) "
        "or cdk.Validations; cdk-nag>=2.28 admits 2.x, whose AwsSolutionsChecks takes no scope and is "
        "not a validation plugin (app.py: Validations.of(app).add_plugins(AwsSolutionsChecks(app)))"
    ),
)
def test_dependency_floors_admit_only_versions_with_the_apis_the_code_uses() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    cdk_lib = _requirement(project["dependencies"], "aws-cdk-lib")
    nag = _requirement(project["optional-dependencies"]["test"], "cdk-nag")
    assert not cdk_lib.specifier.contains("2.160.0"), f"{cdk_lib} admits a CDK without Runtime.PYTHON_3_13"
    assert not nag.specifier.contains("2.99.0"), f"{nag} admits cdk-nag 2.x"


@pytest.mark.xfail(
    strict=True,
    reason=(
        "issue 2: '.ci/run runs make test and nothing the README does not'; .ci/run apt-get installs "
        "chromium, which the README's quick start ('Nothing else needs installing') never does"
    ),
)
def test_ci_runs_nothing_the_readme_does_not() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    readme = (REPO / "README.md").read_text()
    code = "\n".join(line for line in ci.splitlines() if not line.lstrip().startswith("#"))
    assert "apt-get" not in code or "apt-get" in readme


# ---- API documentation ---------------------------------------------------------------------------
@pytest.mark.xfail(
    strict=True,
    reason=(
        "StatusMonitoring is exported (transflow_constructs.__all__) but none of its 12 keywords is "
        "documented (no :param:, no default), unlike every TransflowStatus keyword"
    ),
)
def test_status_monitoring_documents_every_keyword() -> None:
    doc = (StatusMonitoring.__doc__ or "") + (StatusMonitoring.__init__.__doc__ or "")
    keywords = [
        n for n in inspect.signature(StatusMonitoring.__init__).parameters if n not in ("self", "scope", "construct_id")
    ]
    missing = [n for n in keywords if f":param {n}:" not in doc]
    assert not missing, f"undocumented StatusMonitoring keywords: {missing}"
