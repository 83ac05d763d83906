"""The table part: removal policy and deletion protection agree; where the stream mapping starts reading."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import assertions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_

from transflow_constructs import TransflowStatus

from .cdk_helpers import Synth, new_stack, of_type, oidc_auth, synth

STREAM_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/existing/stream/2024-01-01T00:00:00.000"


def _synth(**options: Any) -> Synth:
    def build(stack: cdk.Stack) -> TransflowStatus:
        resolved = {k: v(stack) if callable(v) else v for k, v in options.items()}
        return TransflowStatus(stack, "Status", auth=oidc_auth(), **resolved)

    return synth(build)


def _table(result: Synth) -> dict[str, Any]:
    (table,) = of_type(result.template, "AWS::DynamoDB::Table").values()
    return table


def _stream_mapping(result: Synth) -> dict[str, Any]:
    mappings = of_type(result.template, "AWS::Lambda::EventSourceMapping").values()
    (stream,) = [m for m in mappings if "StartingPosition" in m["Properties"]]
    return stream["Properties"]


# ---- removal policy and deletion protection ------------------------------------------------------


@pytest.mark.parametrize(
    ("removal_policy", "deletion_policy", "protected"),
    [
        (None, "Retain", True),
        (cdk.RemovalPolicy.RETAIN, "Retain", True),
        (cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE, "RetainExceptOnCreate", True),
        (cdk.RemovalPolicy.DESTROY, "Delete", False),
    ],
)
def test_deletion_protection_follows_the_removal_policy(
    removal_policy: cdk.RemovalPolicy | None, deletion_policy: str, protected: bool
) -> None:
    """AWS CloudFormation User Guide, ``AWS::DynamoDB::Table`` ``DeletionProtectionEnabled``: "When
    enabled, the table cannot be deleted by any user or process". With ``DeletionPolicy: Delete``
    CloudFormation deletes the table on stack deletion, so protection there would end the deletion in
    ``DELETE_FAILED``: protection is on exactly when the table is kept."""
    options = {} if removal_policy is None else {"removal_policy": removal_policy}
    table = _table(_synth(**options))
    assert table["DeletionPolicy"] == deletion_policy
    assert table["Properties"]["DeletionProtectionEnabled"] is protected


def test_destroy_with_deletion_protection_is_refused_naming_both() -> None:
    with pytest.raises(ValueError, match=r"removal_policy=DESTROY and deletion_protection=True"):
        _synth(removal_policy=cdk.RemovalPolicy.DESTROY, deletion_protection=True)


def test_an_explicit_deletion_protection_is_kept() -> None:
    """Protection off on a retained table is the user's choice (no conflict at deletion)."""
    table = _table(_synth(removal_policy=cdk.RemovalPolicy.RETAIN, deletion_protection=False))
    assert table["Properties"]["DeletionProtectionEnabled"] is False
    assert _table(_synth(removal_policy=cdk.RemovalPolicy.DESTROY, deletion_protection=False))["DeletionPolicy"] == (
        "Delete"
    )


def test_snapshot_removal_is_refused_with_the_reason() -> None:
    """AWS CloudFormation User Guide, "DeletionPolicy attribute": ``Snapshot`` applies only to
    resources that support snapshots (EBS volumes, RDS, Redshift, ElastiCache, Neptune, DocumentDB);
    neither ``AWS::DynamoDB::Table`` nor ``AWS::SQS::Queue`` is among them."""
    with pytest.raises(ValueError, match=r"removal_policy=SNAPSHOT is not supported"):
        _synth(removal_policy=cdk.RemovalPolicy.SNAPSHOT)


# ---- where the stream event source mapping starts ------------------------------------------------


def _imported(stack: cdk.Stack) -> dynamodb.ITable:
    return dynamodb.Table.from_table_attributes(stack, "Existing", table_name="existing", table_stream_arn=STREAM_ARN)


def test_a_new_table_is_read_from_the_trim_horizon(oidc: Synth) -> None:
    """The construct's own table starts with an empty stream: nothing written before the mapping
    exists can be missed, and nothing old can be replayed."""
    assert _stream_mapping(oidc)["StartingPosition"] == "TRIM_HORIZON"


def test_an_existing_table_is_read_from_latest() -> None:
    """Amazon DynamoDB Developer Guide, "Change data capture for DynamoDB Streams": stream records are
    kept for 24 hours. AWS Lambda Developer Guide, "Using AWS Lambda with Amazon DynamoDB" (starting
    position): ``TRIM_HORIZON`` processes all records in the stream. A new or replaced mapping on a
    table that already has traffic would so re-send the webhooks of a whole day."""
    assert _stream_mapping(_synth(table=_imported))["StartingPosition"] == "LATEST"


@pytest.mark.parametrize("position", [lambda_.StartingPosition.TRIM_HORIZON, lambda_.StartingPosition.LATEST])
def test_an_explicit_starting_position_wins(position: lambda_.StartingPosition) -> None:
    assert _stream_mapping(_synth(table=_imported, stream_starting_position=position))["StartingPosition"] == (
        position.value
    )
    assert _stream_mapping(_synth(stream_starting_position=position))["StartingPosition"] == position.value


def _starting_position_warnings(result: Synth) -> list[Any]:
    return assertions.Annotations.from_stack(result.stack).find_warning(
        "*", assertions.Match.string_like_regexp("streamStartingPositionDefault")
    )


def test_upgrading_with_an_existing_table_warns_that_the_default_replaces_the_mapping() -> None:
    """AWS CloudFormation User Guide, ``AWS::Lambda::EventSourceMapping`` ``StartingPosition``: "Update
    requires: Replacement". Earlier releases started every mapping at ``TRIM_HORIZON``; with ``table=``
    the default is now ``LATEST``, so the next deploy of a stack deployed by an earlier release replaces
    the mapping of an existing table. The synth says so until the position is given explicitly."""
    (warning,) = _starting_position_warnings(_synth(table=_imported))
    assert "REPLACES the mapping" in str(warning.entry.data)
    assert "TRIM_HORIZON" in str(warning.entry.data)


@pytest.mark.parametrize("position", [lambda_.StartingPosition.TRIM_HORIZON, lambda_.StartingPosition.LATEST])
def test_an_explicit_position_or_an_own_table_is_not_warned_about(position: lambda_.StartingPosition) -> None:
    assert _starting_position_warnings(_synth(table=_imported, stream_starting_position=position)) == []
    assert _starting_position_warnings(_synth()) == []


def test_at_timestamp_is_refused() -> None:
    """AWS Lambda Developer Guide: ``AT_TIMESTAMP`` is supported for Kinesis only, not DynamoDB streams."""
    with pytest.raises(ValueError, match="stream_starting_position"):
        TransflowStatus(
            new_stack(), "Status", auth=oidc_auth(), stream_starting_position=lambda_.StartingPosition.AT_TIMESTAMP
        )


def test_snapshot_removal_of_the_log_groups_is_refused_with_the_reason() -> None:
    """AWS CloudFormation User Guide, "DeletionPolicy attribute": ``Snapshot`` applies only to
    resources that support snapshots; ``AWS::Logs::LogGroup`` is not one (CDK's CloudFormation
    validation reports "DeletionPolicy must be one of Delete, Retain, RetainExceptOnCreate")."""
    with pytest.raises(ValueError, match=r"log_removal_policy=SNAPSHOT is not supported"):
        TransflowStatus(new_stack(), "Status", auth=oidc_auth(), log_removal_policy=cdk.RemovalPolicy.SNAPSHOT)
