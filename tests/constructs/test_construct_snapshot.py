"""Snapshots of the synthesized templates: any infrastructure change shows up in review.

Asset hashes are normalized (they change with every edit of the runtime's source, which is
not an infrastructure change). Update deliberately with ``pytest --snapshot-update``.
"""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from .cdk_helpers import Synth, normalized


@pytest.fixture
def snapshot_json(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(JSONSnapshotExtension)


def test_example_app_template_matches_snapshot(
    example: tuple[cdk.Stack, dict], snapshot_json: SnapshotAssertion
) -> None:
    assert normalized(example[1]) == snapshot_json


def test_shared_secret_template_matches_snapshot(shared: Synth, snapshot_json: SnapshotAssertion) -> None:
    assert normalized(shared.template) == snapshot_json


def test_normalization_only_touches_asset_hashes(example: tuple[cdk.Stack, dict]) -> None:
    template = normalized(example[1])
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert functions
    for function in functions:
        assert function["Properties"]["Code"]["S3Key"] == "<asset-hash>.zip"
    # everything else is left as synthesized
    assert template["Resources"].keys() == example[1]["Resources"].keys()
