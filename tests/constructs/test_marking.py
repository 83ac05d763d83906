"""Resource marking (CONTRACTS.md B): every resource a TransflowStatus creates says which instance
and which part it is, in template Metadata, so template readers (local mode) need neither logical
ids nor ``aws:cdk:path``."""

from __future__ import annotations

from collections import Counter
from typing import Any

import aws_cdk as cdk
from aws_cdk import assertions

from transflow_constructs import StatusAuth, TransflowStatus
from transflow_constructs._metadata import INSTANCE_KEY, PART_KEY, mark, skip_checkov

from .cdk_helpers import SKIP_BUNDLING, Synth, oidc_auth, plain_secret

#: Part name -> CloudFormation type, one resource each (CONTRACTS.md B's list, for the shared-secret variant).
CONTRACT_PARTS = {
    "table": "AWS::DynamoDB::Table",
    "status-function": "AWS::Lambda::Function",
    "authorizer-function": "AWS::Lambda::Function",
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


def _marks(template: dict[str, Any]) -> dict[str, tuple[str | None, str | None, str]]:
    return {
        logical_id: (
            (r.get("Metadata") or {}).get(INSTANCE_KEY),
            (r.get("Metadata") or {}).get(PART_KEY),
            r["Type"],
        )
        for logical_id, r in template["Resources"].items()
    }


def test_every_resource_of_the_instance_is_marked_and_the_user_s_are_not(shared: Synth) -> None:
    marks = _marks(shared.template)
    users = {k for k, (_, _, kind) in marks.items() if kind == "AWS::SecretsManager::Secret"}
    assert len(users) == 2
    for logical_id, (instance, part, _kind) in marks.items():
        if logical_id in users:
            assert instance is None and part is None
        else:
            assert instance == shared.status.node.addr, logical_id
            assert part, logical_id


def test_each_contract_part_names_exactly_one_resource_of_its_type(shared: Synth) -> None:
    parts = Counter((part, kind) for _, part, kind in _marks(shared.template).values() if part)
    for part, kind in CONTRACT_PARTS.items():
        assert parts[(part, kind)] == 1, (part, kind)
        assert sum(n for (p, _), n in parts.items() if p == part) == 1, part


def test_function_roles_policies_and_log_groups_are_named_after_their_function(shared: Synth) -> None:
    template = shared.template
    by_part = {part: logical_id for logical_id, (_, part, _) in _marks(template).items() if part}
    for role in ("status", "authorizer", "dispatcher", "webhook"):
        function = template["Resources"][by_part[f"{role}-function"]]["Properties"]
        assert function["Role"]["Fn::GetAtt"][0] == by_part[f"{role}-function-role"]
        assert function["LoggingConfig"]["LogGroup"] == {"Ref": by_part[f"{role}-function-log-group"]}
        policy = template["Resources"][by_part[f"{role}-function-policy"]]["Properties"]
        assert policy["Roles"] == [{"Ref": by_part[f"{role}-function-role"]}]


def _two_instances(*, path_metadata: bool = True) -> tuple[cdk.Stack, TransflowStatus, TransflowStatus]:
    context = {**SKIP_BUNDLING, **({} if path_metadata else {"aws:cdk:path-metadata": False})}
    app = cdk.App(context=context)
    stack = cdk.Stack(app, "Two", env=cdk.Environment(account="123456789012", region="us-east-1"))
    first = TransflowStatus(stack, "Dev", auth=oidc_auth())
    second = TransflowStatus(stack, "Prod", auth=StatusAuth.shared_secret(plain_secret(stack, "Jwt")))
    return stack, first, second


def test_two_instances_in_one_stack_are_told_apart_without_path_metadata() -> None:
    stack, first, second = _two_instances(path_metadata=False)
    template = assertions.Template.from_stack(stack).to_json()
    assert not any("aws:cdk:path" in (r.get("Metadata") or {}) for r in template["Resources"].values())
    marks = _marks(template)
    instances = Counter(instance for instance, _, _ in marks.values())
    assert set(instances) == {first.node.addr, second.node.addr, None}
    for addr in (first.node.addr, second.node.addr):
        parts = [part for instance, part, _ in marks.values() if instance == addr]
        assert parts.count("table") == 1 and parts.count("status-function") == 1
    prod_functions = [p for i, p, t in marks.values() if i == second.node.addr and t == "AWS::Lambda::Function"]
    assert sorted(prod_functions) == sorted(
        ["status-function", "authorizer-function", "dispatcher-function", "webhook-function"]
    )


def test_marking_merges_with_other_metadata() -> None:
    """checkov reads its suppressions from the same Metadata: neither may overwrite the other."""
    app = cdk.App(context=SKIP_BUNDLING)
    stack = cdk.Stack(app, "S")
    queue = cdk.CfnResource(stack, "Q", type="AWS::SQS::Queue")
    skip_checkov(queue, "CKV_AWS_27", "first reason")
    mark(queue, "webhook-queue", "abc")
    skip_checkov(queue, "CKV_AWS_1", "second reason")
    skip_checkov(queue, "CKV_AWS_27", "replaced reason")
    metadata = assertions.Template.from_stack(stack).to_json()["Resources"]["Q"]["Metadata"]
    assert metadata[INSTANCE_KEY] == "abc" and metadata[PART_KEY] == "webhook-queue"
    assert metadata["checkov"]["skip"] == [
        {"id": "CKV_AWS_1", "comment": "second reason"},
        {"id": "CKV_AWS_27", "comment": "replaced reason"},
    ]


def test_resources_a_user_adds_inside_a_part_are_marked_after_the_part() -> None:
    from aws_cdk import aws_iam as iam

    stack, first, _ = _two_instances()
    first.status_function.add_to_role_policy(
        iam.PolicyStatement(actions=["s3:GetObject"], resources=["arn:aws:s3:::bucket/*"])
    )
    marks = _marks(assertions.Template.from_stack(stack).to_json())
    assert (first.node.addr, "status-function-role-default-policy", "AWS::IAM::Policy") in marks.values()
