"""The built-in default stack's template, synthesized once for these tests (into their own cache)."""

from __future__ import annotations

import copy
import os

import pytest


@pytest.fixture(scope="session")
def default_template(tmp_path_factory):
    """(StackTemplate, Instance) of the default stack with one default webhook target."""
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    try:
        from transflow_runtime.local.default_app import synthesize

        return synthesize(["*"])[:2]
    finally:
        if previous is None:
            os.environ.pop("XDG_CACHE_HOME", None)
        else:
            os.environ["XDG_CACHE_HOME"] = previous


@pytest.fixture
def template_copy(default_template):
    """A deep copy a test may change (a fault injected into the template)."""
    stack, instance = default_template
    return copy.deepcopy(stack), instance
