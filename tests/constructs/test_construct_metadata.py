"""Every resource local mode needs carries ``transflow:instance``/``transflow:part`` metadata
(CONTRACTS section B), so a tool can find a ``TransflowStatus`` in any stack without logical ids."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_dynamodb as dynamodb

from transflow_constructs import TransflowStatus
from transflow_constructs._metadata import INSTANCE_KEY, PART_KEY, PARTS, mark

from .cdk_helpers import new_stack, oidc_auth

EXPECTED_OIDC = {
    "table": "AWS::DynamoDB::Table",
    "status-function": "AWS::Lambda::Function",
    "dispatcher-function": "AWS::Lambda::Function",
    "webhook-function": "AWS::Lambda::Function",
    "webhook-queue": "AWS::SQS::Queue",
    "dead-letter-queue": "AWS::SQS::Queue",
    "stream-failure-queue": "AWS::SQS::Queue",
    "http-api": "AWS::ApiGatewayV2::Api",
    "http-api-stage": "AWS::ApiGatewayV2::Stage",
    "http-api-authorizer": "AWS::ApiGatewayV2::Authorizer",
    "dispatcher-event-source": "AWS::Lambda::EventSourceMapping",
    "webhook-event-source": "AWS::Lambda::EventSourceMapping",
    "access-log-group": "AWS::Logs::LogGroup",
}


def _parts(template: dict) -> dict[str, list[tuple[str, str]]]:
    """The contract's parts (every other resource of an instance is marked too: see test_marking.py)."""
    found: dict[str, list[tuple[str, str]]] = {}
    for resource in template["Resources"].values():
        metadata = resource.get("Metadata") or {}
        if metadata.get(PART_KEY) in PARTS:
            found.setdefault(metadata[INSTANCE_KEY], []).append((metadata[PART_KEY], resource["Type"]))
    return found


def test_every_part_of_an_oidc_instance_is_marked_once_with_the_instance_address(oidc) -> None:
    parts = _parts(oidc.template)
    assert list(parts) == [oidc.status.node.addr]
    marked = parts[oidc.status.node.addr]
    assert sorted(marked) == sorted(EXPECTED_OIDC.items())


def test_shared_secret_instance_marks_its_authorizer_function(shared) -> None:
    marked = dict(_parts(shared.template)[shared.status.node.addr])
    assert marked["authorizer-function"] == "AWS::Lambda::Function"
    assert marked["http-api-authorizer"] == "AWS::ApiGatewayV2::Authorizer"


def test_two_instances_in_one_stack_are_told_apart_and_an_existing_table_is_not_claimed() -> None:
    stack = new_stack()
    first = TransflowStatus(stack, "First", auth=oidc_auth(), monitoring=False)
    table = dynamodb.Table(
        stack,
        "Theirs",
        partition_key=dynamodb.Attribute(name="assembly_id", type=dynamodb.AttributeType.STRING),
        stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
        time_to_live_attribute="ttl",
    )
    table.add_global_secondary_index(
        index_name="by-user-created",
        partition_key=dynamodb.Attribute(name="user_id", type=dynamodb.AttributeType.STRING),
        sort_key=dynamodb.Attribute(name="created_at", type=dynamodb.AttributeType.STRING),
    )
    second = TransflowStatus(stack, "Second", auth=oidc_auth(), table=table, monitoring=False)
    parts = _parts(cdk.assertions.Template.from_stack(stack).to_json())
    assert set(parts) == {first.node.addr, second.node.addr}
    assert ("table", "AWS::DynamoDB::Table") in parts[first.node.addr]
    assert all(part != "table" for part, _ in parts[second.node.addr])  # the user's own table stays theirs


def test_marking_adds_keys_without_replacing_other_metadata() -> None:
    stack = new_stack()
    queue = cdk.CfnResource(stack, "Thing", type="AWS::SQS::Queue")
    queue.add_metadata("checkov", {"skip": [{"id": "CKV_AWS_27", "comment": "why"}]})
    mark(queue, "webhook-queue", "abc")
    metadata = cdk.assertions.Template.from_stack(stack).to_json()["Resources"]["Thing"]["Metadata"]
    assert metadata == {
        "checkov": {"skip": [{"id": "CKV_AWS_27", "comment": "why"}]},
        INSTANCE_KEY: "abc",
        PART_KEY: "webhook-queue",
    }
    with pytest.raises(ValueError, match="unknown transflow part"):
        mark(queue, "no-such-part", "abc")
