"""Template metadata that marks every resource a ``TransflowStatus`` creates.

Each marked CloudFormation resource carries ``Metadata`` keys ``transflow:instance`` (the
construct's ``node.addr``) and ``transflow:part`` (one of ``PARTS``). Local mode finds each
instance in a synthesized stack through them, among the user's other resources, without relying
on logical ids or ``aws:cdk:path`` (which users may turn off). Other tools' keys (checkov's
suppressions, cdk's own) are left alone: keys are added, never replaced wholesale.
"""

from __future__ import annotations

import aws_cdk as cdk
from constructs import IConstruct

INSTANCE_KEY = "transflow:instance"
PART_KEY = "transflow:part"
PARTS = frozenset(
    {
        "table",
        "status-function",
        "authorizer-function",
        "dispatcher-function",
        "webhook-function",
        "webhook-queue",
        "dead-letter-queue",
        "stream-failure-queue",
        "http-api",
        "http-api-stage",
        "http-api-authorizer",
        "dispatcher-event-source",
        "webhook-event-source",
        "access-log-group",
        "domain-name",
    }
)


def _cfn_resource(construct: IConstruct) -> cdk.CfnResource:
    if isinstance(construct, cdk.CfnResource):
        return construct
    child = construct.node.default_child
    if isinstance(child, cdk.CfnResource):
        return child
    raise ValueError(f"{construct.node.path} has no CloudFormation resource to mark")


def mark(construct_or_cfn_resource: IConstruct, part: str, instance: str) -> None:
    """Mark the L1 resource of ``construct_or_cfn_resource`` (itself when it is one) as ``part``
    of the ``TransflowStatus`` whose ``node.addr`` is ``instance``."""
    if part not in PARTS:
        raise ValueError(f"unknown transflow part {part!r}; expected one of {sorted(PARTS)}")
    resource = _cfn_resource(construct_or_cfn_resource)
    resource.add_metadata(INSTANCE_KEY, instance)
    resource.add_metadata(PART_KEY, part)
