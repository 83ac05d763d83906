"""pyproject.toml's lower bounds admit only versions that have the APIs the code calls."""

from __future__ import annotations

import tomllib
from importlib import metadata

from packaging.requirements import Requirement
from packaging.version import Version

from .cdk_helpers import REPO

PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def _requirement(requirements: list[str], name: str) -> Requirement:
    return next(r for r in map(Requirement, requirements) if r.name.lower() == name)


def _floor(requirement: Requirement) -> Version:
    (floor,) = (Version(s.version) for s in requirement.specifier if s.operator == ">=")
    return floor


def test_dependency_floors_admit_only_versions_with_the_apis_the_code_uses() -> None:
    cdk_lib = _requirement(PROJECT["dependencies"], "aws-cdk-lib")
    nag = _requirement(PROJECT["optional-dependencies"]["test"], "cdk-nag")
    assert not cdk_lib.specifier.contains("2.160.0"), f"{cdk_lib} admits a CDK without Runtime.PYTHON_3_13"
    assert not cdk_lib.specifier.contains("2.251.0"), f"{cdk_lib} admits a CDK without Validations.acknowledge"
    assert not nag.specifier.contains("2.99.0"), f"{nag} admits cdk-nag 2.x (not a validation plugin)"


def test_the_cdk_floor_is_no_lower_than_what_cdk_nag_3_needs() -> None:
    """The acknowledgments only work with cdk-nag 3, which declares its own aws-cdk-lib floor."""
    cdk_lib = _requirement(PROJECT["dependencies"], "aws-cdk-lib")
    nag_needs = _requirement(metadata.requires("cdk-nag") or [], "aws-cdk-lib")
    assert _floor(cdk_lib) >= _floor(nag_needs), f"{cdk_lib} is looser than cdk-nag's {nag_needs}"


def test_the_installed_versions_satisfy_the_declared_ranges() -> None:
    for name, requirements in (
        ("aws-cdk-lib", PROJECT["dependencies"]),
        ("cdk-nag", PROJECT["optional-dependencies"]["test"]),
    ):
        requirement = _requirement(requirements, name)
        assert requirement.specifier.contains(metadata.version(name)), f"installed {name} is outside {requirement}"
