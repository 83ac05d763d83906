"""The bundler's own checks, without building an asset: pip must exist, and the pins must be closed
(pip runs with ``--no-deps``, so an unpinned dependency would otherwise be silently missing)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from transflow_constructs import bundling


def _dist(target: Path, name: str, version: str, *requires: str) -> None:
    info = target / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    lines = [f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"]
    lines += [f"Requires-Dist: {r}\n" for r in requires]
    (info / "METADATA").write_text("".join(lines))


def test_a_python_without_pip_gets_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(bundling.importlib.util, "find_spec", lambda name, *a: None if name == "pip" else real(name))
    with pytest.raises(RuntimeError, match=r"needs pip.*ensurepip"):
        bundling.install_requirements(tmp_path, platform="manylinux2014_x86_64", python_version="3.13")


def test_closed_pins_leave_nothing_unpinned(tmp_path: Path) -> None:
    _dist(tmp_path, "pydantic", "2.14.4", "pydantic-core==2.50.5", "typing-extensions>=4.16.0")
    _dist(tmp_path, "pydantic_core", "2.50.5", "typing-extensions>=4.16.0")
    _dist(tmp_path, "typing_extensions", "4.16.0")
    assert bundling.unpinned_dependencies(tmp_path, python_version="3.13", machine="aarch64") == {}


def test_a_dependency_without_a_pin_is_named_with_what_requires_it(tmp_path: Path) -> None:
    _dist(tmp_path, "pydantic", "2.14.4", "pydantic-core==2.50.5", "annotated-types>=0.6.0")
    _dist(tmp_path, "pydantic-core", "2.50.5")
    assert bundling.unpinned_dependencies(tmp_path, python_version="3.13", machine="aarch64") == {
        "pydantic": ["annotated-types>=0.6.0"]
    }


def test_extras_inapplicable_markers_and_what_lambda_provides_need_no_pin(tmp_path: Path) -> None:
    _dist(
        tmp_path,
        "pyjwt",
        "2.15.1",
        'cryptography>=3.4.0; extra == "crypto"',
        'backports-zoneinfo; python_version < "3.9"',
        "boto3>=1.34",
        "python_dateutil",
    )
    assert bundling.unpinned_dependencies(tmp_path, python_version="3.13", machine="aarch64") == {}


def test_a_marker_that_holds_on_lambda_needs_a_pin(tmp_path: Path) -> None:
    _dist(tmp_path, "pkg", "1.0", 'tomli>=1; python_version < "3.14"', 'winreg-helper; sys_platform == "win32"')
    assert bundling.unpinned_dependencies(tmp_path, python_version="3.13", machine="x86_64") == {
        "pkg": ['tomli>=1; python_version < "3.14"']
    }


def test_the_shipped_pins_pin_exact_versions() -> None:
    lines = [line.split("#", 1)[0].strip() for line in bundling.REQUIREMENTS_FILE.read_text().splitlines()]
    assert all("==" in line for line in lines if line), "every pin is exact (==)"
