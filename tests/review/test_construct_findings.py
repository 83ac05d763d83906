"""Review findings on the TransflowStatus construct, its packaging and CI (one test per definite bug).

Each test states what a correct construct/project does and is marked ``xfail(strict=True)`` until
the bug is fixed; fixing the bug turns the xfail into an XPASS, which fails the run so the marker
gets removed.
"""

from __future__ import annotations

import inspect
import tomllib

import pytest
from packaging.requirements import Requirement

from tests.constructs.cdk_helpers import REPO
from transflow_constructs import StatusMonitoring


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
