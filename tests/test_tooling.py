"""tests/tooling.py: a tool `make test` should provide skips locally and fails in CI."""

from __future__ import annotations

import pytest

from tests import tooling


@pytest.mark.parametrize("find", [tooling.node, tooling.chromium])
def test_a_missing_tool_fails_the_run_in_ci(monkeypatch, find):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set, and `make test` must provide it"):
        find()


@pytest.mark.parametrize("ci", ["", "0", "false"])
def test_a_missing_tool_skips_outside_ci(monkeypatch, ci):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception, match="node is not available"):
        tooling.node()


def test_a_missing_test_module_fails_in_ci(monkeypatch):
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="the Python module no_such_module_here"):
        tooling.module("no_such_module_here")


def test_our_own_packages_are_never_optional():
    with pytest.raises(ValueError, match="this project's own code"):
        tooling.module("transflow_constructs.status")
