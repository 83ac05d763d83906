"""Tools the suite runs that do not come from pip: Node (the CDK CLI needs it anyway) and
Chromium (``.ci/run`` installs Debian's), plus modules from the ``test`` extra.

On a developer's machine a missing tool skips the tests that need it, saying which. In CI
(``CI`` set to anything but ``""``/``0``/``false``) ``make test`` is meant to provide every one of
them, so a missing tool fails the run instead of quietly passing it with fewer checks.
"""

from __future__ import annotations

import importlib
import os
import shutil
from types import ModuleType

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _missing(what: str, how: str) -> None:
    message = f"{what} is not available ({how})"
    if in_ci():
        pytest.fail(f"{message}; CI is set, and `make test` must provide it", pytrace=False)
    pytest.skip(message)


def node() -> str:
    """The ``node`` executable."""
    path = shutil.which("node")
    if path is None:
        _missing("node", "install Node.js 20; the CDK CLI needs it too")
    assert path is not None
    return path


def chromium() -> str:
    """A Chromium executable (Playwright's own browser download is not used)."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        _missing("chromium", "apt-get install chromium; .ci/run does")
    assert path is not None
    return path


def module(name: str) -> ModuleType:
    """A third-party module of the ``test`` extra (never this project's own packages: import those)."""
    if name.split(".")[0] in ("transflow_runtime", "transflow_constructs"):
        raise ValueError(f"{name} is this project's own code: import it, a failure is a failure")
    try:
        return importlib.import_module(name)
    except ImportError:
        _missing(f"the Python module {name}", "pip install -e '.[test]'; make setup does")
        raise
