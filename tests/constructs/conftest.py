"""Synthesized stacks shared by the construct tests (synthesis is the slow part: do it once)."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import assertions

from .cdk_helpers import Synth, default_oidc, default_shared_secret, example_stack, synth


@pytest.fixture(scope="session")
def oidc() -> Synth:
    """Every default, OIDC auth."""
    return synth(default_oidc)


@pytest.fixture(scope="session")
def shared() -> Synth:
    """Every default, shared-secret auth."""
    return synth(default_shared_secret)


@pytest.fixture(scope="session")
def example() -> tuple[cdk.Stack, dict]:
    """The example app's stack (app.py) with cdk.json's context."""
    stack = example_stack()
    return stack, assertions.Template.from_stack(stack).to_json()
