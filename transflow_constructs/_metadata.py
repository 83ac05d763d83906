"""What the construct writes about itself into the template: which instance and part each resource is.

Contract (CONTRACTS.md, B): every CloudFormation resource a ``TransflowStatus`` creates carries
template ``Metadata`` ``"transflow:instance": <the TransflowStatus's node.addr>`` and
``"transflow:part": <part>``, so tools that read the template (local mode) find each instance's
parts among the user's other resources without relying on logical ids or ``aws:cdk:path``
(which users may turn off). checkov suppressions live in ``Metadata`` too
(``"checkov": {"skip": [...]}``); ``mark`` and ``skip_checkov`` merge, never overwrite.
"""

from __future__ import annotations

import hashlib

import aws_cdk as cdk
import jsii
from constructs import Construct, IConstruct

INSTANCE_KEY = "transflow:instance"
PART_KEY = "transflow:part"
CHECKOV_KEY = "checkov"
#: The parts CONTRACTS.md B names (one resource each, where the instance has it).
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
#: Parts added "with the same scheme": the custom domain's records, the webhook function's security
#: group, the alarms and dashboard. A part's other resources are named ``<part>-<what>``
#: (``status-function-role``, ``webhook-queue-policy``, ``http-api-route``, ``monitoring-alarm``).
EXTRA_PARTS = frozenset({"dns-record-a", "dns-record-aaaa", "webhook-security-group", "monitoring"})


def is_known_part(part: str) -> bool:
    """A part of the contract or added with its scheme, or one of their secondary resources."""
    known = PARTS | EXTRA_PARTS
    return part in known or any(part.startswith(f"{name}-") for name in known)
#: Longest construct path kept whole in the instance id (CloudWatch dimension values: 1-1024 characters).
_MAX_PATH = 200


def instance_path(construct: Construct, max_length: int = _MAX_PATH) -> str:
    """The construct's path inside its stack, at most ``max_length`` characters (shortened with a hash)."""
    stack = cdk.Stack.of(construct)
    scopes = construct.node.scopes
    path = "/".join(scope.node.id for scope in scopes[scopes.index(stack) + 1 :])
    if len(path) > max_length:
        digest = hashlib.sha256(path.encode()).hexdigest()[:8]
        path = f"{path[: max_length - 9]}-{digest}"
    return path


def instance_id_of(construct: Construct) -> str:
    """``<deployed stack name>/<construct path in the stack>``: unique per account and Region.

    The stack name is ``AWS::StackName`` (a token), so a template deployed under another name (the
    AWS CLI, StackSets, Service Catalog) still gets a value of its own.
    """
    return f"{cdk.Aws.STACK_NAME}/{instance_path(construct)}"


def cfn_resource_of(construct: IConstruct) -> cdk.CfnResource:
    """The L1 resource of an L2 construct (or the resource itself)."""
    if isinstance(construct, cdk.CfnResource):
        return construct
    child = construct.node.default_child
    if not isinstance(child, cdk.CfnResource):
        raise ValueError(f"{construct.node.path} has no CloudFormation resource to mark")
    return child


def mark(construct: IConstruct, part: str, instance: str) -> cdk.CfnResource:
    """Write ``transflow:instance`` and ``transflow:part`` into the resource's template Metadata."""
    if not is_known_part(part):
        raise ValueError(f"unknown transflow part {part!r}; expected one of {sorted(PARTS | EXTRA_PARTS)}")
    resource = cfn_resource_of(construct)
    resource.add_metadata(INSTANCE_KEY, instance)
    resource.add_metadata(PART_KEY, part)
    return resource


def skip_checkov(construct: IConstruct, check_id: str, comment: str) -> None:
    """Suppress one checkov check on this resource, with the reason (merged with earlier skips)."""
    resource = cfn_resource_of(construct)
    existing = resource.get_metadata(CHECKOV_KEY) or {}
    skips = [s for s in existing.get("skip", []) if s.get("id") != check_id]
    resource.add_metadata(CHECKOV_KEY, {**existing, "skip": [*skips, {"id": check_id, "comment": comment}]})


#: Suffix of a part's secondary resources by CloudFormation type (others: their path below the part).
_TYPE_SUFFIX = {
    "AWS::IAM::Role": "role",
    "AWS::Logs::LogGroup": "log-group",
    "AWS::SQS::QueuePolicy": "policy",
    "AWS::Lambda::Permission": "permission",
    "AWS::ApiGatewayV2::Stage": "stage",
    "AWS::ApiGatewayV2::Route": "route",
    "AWS::ApiGatewayV2::Integration": "integration",
    "AWS::ApiGatewayV2::Authorizer": "authorizer",
    "AWS::ApiGatewayV2::ApiMapping": "api-mapping",
    "AWS::Route53::RecordSet": "dns-record",
    "AWS::EC2::SecurityGroup": "security-group",
    "AWS::CloudWatch::Alarm": "alarm",
    "AWS::CloudWatch::Dashboard": "dashboard",
}
#: Path components CDK hides from logical ids; they say nothing about a part either.
_HIDDEN = frozenset({"Resource", "Default"})


def _kebab(text: str) -> str:
    out = []
    for i, char in enumerate(text):
        if char.isupper() and i and (text[i - 1].islower() or text[i - 1].isdigit()):
            out.append("-")
        out.append(char.lower() if char.isalnum() else "-")
    return "".join(out).strip("-")


@jsii.implements(cdk.IAspect)
class PartMarker:
    """Marks every CloudFormation resource under one ``TransflowStatus`` at synthesis.

    ``parts`` maps a construct to its part name. A resource that is a registered construct's own
    (L1 or default child) gets that name; any other resource gets the name of the nearest registered
    construct above it plus its type (``status-function-role``) or its path below it
    (``status-function-tracing-policy``), so resources created later inside a part (a user's
    ``add_to_role_policy``) are marked too. Running at synthesis also covers resources CDK creates
    lazily.
    """

    def __init__(self, instance: str, parts: dict[IConstruct, str]) -> None:
        self.instance = instance
        self.parts = {construct.node.path: part for construct, part in parts.items()}

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, cdk.CfnResource):
            return
        for scope in reversed(node.node.scopes):
            part = self.parts.get(scope.node.path)
            if part is None:
                continue
            default = scope.node.default_child
            if scope.node.path == node.node.path or (default is not None and default.node.path == node.node.path):
                mark(node, part, self.instance)
                return
            suffix = _TYPE_SUFFIX.get(node.cfn_resource_type)
            if suffix is None:
                below = node.node.scopes[node.node.scopes.index(scope) + 1 :]
                suffix = "-".join(_kebab(s.node.id) for s in below if s.node.id not in _HIDDEN)
            mark(node, f"{part}-{suffix}", self.instance)
            return
