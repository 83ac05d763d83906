"""``webhook_vpc``: webhooks from fixed addresses (the VPC's NAT gateways), egress limited, SSRF guard kept."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk.assertions import Annotations, Match, Template
from transflow_runtime import schema
from transflow_runtime.handlers.webhook import WebhookSettings
from transflow_runtime.netguard import NetGuard, UnsafeTargetError

from transflow_constructs import TransflowStatus, WebhookTarget

from .cdk_helpers import (
    Synth,
    as_list,
    cfn_lint_errors,
    nag_findings,
    new_stack,
    of_type,
    oidc_auth,
    plain_secret,
    synth,
)


def _vpc(stack: cdk.Stack) -> ec2.Vpc:
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=1,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC),
            ec2.SubnetConfiguration(name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        ],
    )
    # The VPC is the user's: its own findings (flow logs) are theirs to decide.
    cdk.Validations.of(vpc).acknowledge(cdk.Acknowledgment(id="AwsSolutions-VPC7", reason="test VPC"))
    return vpc


def _build(stack: cdk.Stack, **options: Any) -> TransflowStatus:
    hook = plain_secret(stack, "Hook")
    return TransflowStatus(
        stack,
        "Status",
        auth=oidc_auth(),
        webhooks={
            "tpl": WebhookTarget(url="https://hooks.example.com/t", secret=hook),
            "alt": WebhookTarget(url="https://alt.example.com:8443/t", secret=hook),
        },
        **options,
    )


@pytest.fixture(scope="module")
def in_vpc() -> Synth:
    def compose(stack: cdk.Stack) -> TransflowStatus:
        status = _build(stack, webhook_vpc=_vpc(stack))
        stack.vpc = stack.node.find_child("Vpc")  # type: ignore[attr-defined]
        return status

    return synth(compose)


def _webhook_function(result: Synth) -> dict[str, Any]:
    return result.template["Resources"][result.stack.get_logical_id(result.status.webhook_function.node.default_child)]


def test_the_webhook_function_runs_in_the_private_subnets_with_its_own_group(in_vpc: Synth) -> None:
    """AWS Lambda Developer Guide, "Enable internet access for VPC-connected Lambda functions": the
    function reaches the internet from private subnets routed to a NAT gateway, whose Elastic IPs
    are then the addresses every receiver sees."""
    config = _webhook_function(in_vpc)["Properties"]["VpcConfig"]
    private = [in_vpc.resolve(s.subnet_id) for s in in_vpc.stack.vpc.private_subnets]
    assert config["SubnetIds"] == private
    (group,) = config["SecurityGroupIds"]
    assert of_type(in_vpc.template, "AWS::EC2::SecurityGroup")[group["Fn::GetAtt"][0]]
    others = [f for f in of_type(in_vpc.template, "AWS::Lambda::Function").values() if "VpcConfig" in f["Properties"]]
    assert len(others) == 1, "only the webhook function moves into the VPC"


def test_egress_is_tcp_to_the_receivers_ports_only(in_vpc: Synth) -> None:
    """Amazon VPC User Guide, "Security group rules": a group created without outbound rules allows
    no outbound traffic; traffic to the Amazon DNS server is not filtered (no DNS rule is needed)."""
    (group,) = of_type(in_vpc.template, "AWS::EC2::SecurityGroup").values()
    props = group["Properties"]
    assert "SecurityGroupIngress" not in props
    rules = {
        (r.get("CidrIp") or r.get("CidrIpv6"), r["IpProtocol"], r["FromPort"], r["ToPort"])
        for r in props["SecurityGroupEgress"]
    }
    assert rules == {
        (cidr, "tcp", port, port) for cidr in ("0.0.0.0/0", "::/0") for port in (443, 8443)
    }


def test_the_role_may_manage_the_function_s_network_interfaces(in_vpc: Synth) -> None:
    """AWS Lambda Developer Guide, "Giving Lambda functions access to resources in an Amazon VPC":
    the execution role needs ec2:CreateNetworkInterface, DescribeNetworkInterfaces, DescribeSubnets,
    DeleteNetworkInterface, AssignPrivateIpAddresses, UnassignPrivateIpAddresses (as in
    AWSLambdaVPCAccessExecutionRole); granted inline in a policy of its own, no managed policy."""
    function = _webhook_function(in_vpc)
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    assert "ManagedPolicyArns" not in in_vpc.template["Resources"][role_id]["Properties"]
    statements = [
        s
        for p in of_type(in_vpc.template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    (eni,) = [s for s in statements if s["Sid"] == "ManageNetworkInterfaces"]
    assert sorted(as_list(eni["Action"])) == sorted(
        [
            "ec2:CreateNetworkInterface",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DescribeSubnets",
            "ec2:DeleteNetworkInterface",
            "ec2:AssignPrivateIpAddresses",
            "ec2:UnassignPrivateIpAddresses",
        ]
    )
    # In a policy of its own, which the function waits for (Lambda checks the role when it is created).
    (own,) = [
        k
        for k, p in of_type(in_vpc.template, "AWS::IAM::Policy").items()
        if p["Properties"]["PolicyDocument"]["Statement"] == [eni]
    ]
    assert own in function["DependsOn"]


def test_the_ssrf_guard_still_refuses_private_and_metadata_addresses(in_vpc: Synth) -> None:
    """Inside a VPC the function could reach private addresses; its environment allows none, and the
    guard built from that environment refuses them."""
    variables = _webhook_function(in_vpc)["Properties"]["Environment"]["Variables"]
    assert schema.ENV_WEBHOOK_ALLOW_PRIVATE not in variables and schema.ENV_WEBHOOK_ALLOW_HTTP not in variables
    env = {k: v if isinstance(v, str) else "x" for k, v in variables.items()}
    env[schema.ENV_WEBHOOK_CONFIG] = '{"targets": {}}'
    settings = WebhookSettings.from_env(env)
    guard = NetGuard(settings.allow_private, allow_http=settings.allow_http)
    for url in ("https://10.0.1.5/hook", "https://169.254.169.254/latest", "https://127.0.0.1/x", "https://[fd00::1]/x"):
        with pytest.raises(UnsafeTargetError):
            guard.resolve(guard.parse(url))


def test_cdk_nag_and_cfn_lint_pass_with_a_vpc(in_vpc: Synth) -> None:
    assert nag_findings(in_vpc.stack) == []
    assert cfn_lint_errors(in_vpc.template) == []


@pytest.mark.parametrize(
    ("subnets", "message"),
    [
        (ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC), "public subnets"),
        (ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED), "isolated subnets"),
    ],
)
def test_subnets_without_a_nat_route_are_refused(subnets: ec2.SubnetSelection, message: str) -> None:
    stack = new_stack()
    with pytest.raises(ValueError, match=message):
        _build(stack, webhook_vpc=_vpc(stack), webhook_vpc_subnets=subnets)


def test_subnets_without_a_vpc_are_refused_naming_both() -> None:
    with pytest.raises(ValueError, match=r"webhook_vpc_subnets= needs webhook_vpc="):
        _build(new_stack(), webhook_vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS))


def test_a_vpc_without_private_subnets_is_refused_clearly() -> None:
    stack = new_stack()
    public_only = [ec2.SubnetConfiguration(name="p", subnet_type=ec2.SubnetType.PUBLIC)]
    vpc = ec2.Vpc(stack, "Vpc", subnet_configuration=public_only)
    with pytest.raises(ValueError, match="webhook_vpc"):
        _build(stack, webhook_vpc=vpc)


def test_without_a_vpc_no_function_is_in_one(oidc: Synth) -> None:
    assert all("VpcConfig" not in f["Properties"] for f in of_type(oidc.template, "AWS::Lambda::Function").values())
    assert not of_type(oidc.template, "AWS::EC2::SecurityGroup")


def test_subnets_imported_by_id_are_accepted_as_lambda_accepts_them() -> None:
    """AWS CloudFormation ``AWS::Lambda::Function`` ``VpcConfig``: ``SubnetIds`` and
    ``SecurityGroupIds`` are all a function in a VPC needs. Subnets a platform team hands over by
    id (``ec2.Subnet.from_subnet_id``, no availability zone known) must reach the template, as they
    do for a plain ``lambda.Function``, instead of failing the construct's own subnet check."""
    stack = new_stack()
    vpc = ec2.Vpc.from_vpc_attributes(
        stack, "Vpc", vpc_id="vpc-0123", availability_zones=["us-east-1a"], private_subnet_ids=["subnet-known"]
    )
    subnets = [ec2.Subnet.from_subnet_id(stack, f"Subnet{i}", f"subnet-0{i}") for i in range(2)]
    _build(stack, webhook_vpc=vpc, webhook_vpc_subnets=ec2.SubnetSelection(subnets=subnets))
    (config,) = [
        f["Properties"]["VpcConfig"]
        for f in of_type(Template.from_stack(stack).to_json(), "AWS::Lambda::Function").values()
        if "VpcConfig" in f["Properties"]
    ]
    assert config["SubnetIds"] == ["subnet-00", "subnet-01"]


@pytest.mark.parametrize(("kind", "message"), [("public", "public subnets"), ("isolated", "isolated subnets")])
def test_a_public_or_isolated_subnet_given_by_itself_is_still_refused(kind: str, message: str) -> None:
    """AWS Lambda Developer Guide, "Enable internet access for VPC-connected Lambda functions": a
    function in a public subnet gets no public address and an isolated subnet has no route out, so
    neither can deliver webhooks, however the subnet is passed."""
    stack = new_stack()
    vpc = _vpc(stack)
    subnet = (vpc.public_subnets if kind == "public" else vpc.isolated_subnets)[0]
    with pytest.raises(ValueError, match=message):
        _build(stack, webhook_vpc=vpc, webhook_vpc_subnets=ec2.SubnetSelection(subnets=[subnet]))


@pytest.mark.parametrize("source", ["notify_url", "url_parameter"])
def test_ports_unknown_at_synth_time_are_warned_about(source: str) -> None:
    """Amazon VPC User Guide, "Security group rules": with no matching outbound rule the traffic is
    not allowed. The group opens 443 and the ports literal URLs name; a caller-chosen ``notify_url``
    or a deploy-time URL may name another one, which the synth warns about."""
    stack = new_stack()
    hook = plain_secret(stack, "Hook")
    options: dict[str, Any] = {}
    if source == "notify_url":
        options = {"allow_notify_url": True, "notify_url_secret": plain_secret(stack, "Notify")}
        url = "https://hooks.example.com/t"
    else:
        url = cdk.CfnParameter(stack, "WebhookUrl", type="String").value_as_string
    TransflowStatus(
        stack,
        "Status",
        auth=oidc_auth(),
        webhooks={"tpl": WebhookTarget(url=url, secret=hook)},
        webhook_vpc=_vpc(stack),
        **options,
    )
    warnings = Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp("webhookVpcUnknownPorts"))
    assert len(warnings) == 1, warnings


def test_literal_urls_on_known_ports_are_not_warned_about(in_vpc: Synth) -> None:
    found = Annotations.from_stack(in_vpc.stack).find_warning("*", Match.string_like_regexp("webhookVpcUnknownPorts"))
    assert found == []
