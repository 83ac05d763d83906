"""``webhook_vpc``: deliveries from the user's VPC, so the receivers see its NAT gateways' fixed addresses.

Receivers often allowlist the addresses webhooks come from. A function in Lambda's own network has
no fixed address; in a VPC its traffic to the internet leaves through the VPC's NAT gateway, whose
Elastic IP addresses are fixed (AWS Lambda Developer Guide, "Enable internet access for VPC-connected
Lambda functions": a function in a VPC has no public IP address, even in a public subnet; it reaches
the internet through a NAT gateway in a public subnet, from private subnets routed to it).

The function's security group only lets out what deliveries need: TCP to the receivers' ports
(443 unless a configured URL names another) and HTTPS to AWS's APIs. DNS needs no rule (Amazon VPC
User Guide, "Security group rules": traffic to the Amazon DNS server is not filtered by security
groups). The SSRF guard still runs in the function: private and metadata addresses stay refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from ._validation import is_unresolved
from .functions import FunctionNetwork
from .targets.webhooks import WebhookTarget

HTTPS_PORT = 443
_PUBLIC = (
    "webhook_vpc_subnets selects public subnets: a Lambda function in a VPC never gets a public IP "
    "address, so from a public subnet it cannot reach the internet. Select private subnets whose route "
    "table sends 0.0.0.0/0 to a NAT gateway (its Elastic IPs are the addresses receivers see)"
)
_ISOLATED = (
    "webhook_vpc_subnets selects isolated subnets: they have no route to the internet, so no webhook "
    "could be delivered. Select private subnets routed to a NAT gateway"
)


def check_webhook_network(vpc: ec2.IVpc | None, subnets: ec2.SubnetSelection | None) -> None:
    """Refuse subnets from which a function cannot reach the internet (no NAT, no public address)."""
    if subnets is not None and vpc is None:
        raise ValueError("webhook_vpc_subnets= needs webhook_vpc=: the subnets are selected in that VPC")
    if vpc is None:
        return
    selection = subnets or ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
    public = {s.subnet_id for s in vpc.public_subnets}
    isolated = {s.subnet_id for s in vpc.isolated_subnets}
    if selection.subnets is not None:
        # Subnets given one by one (typically ``Subnet.from_subnet_id``) are checked by id against the VPC's
        # known public and isolated subnets. ``select_subnets`` is not called for them: its result, returned
        # to Python, reads every subnet's availability zone, which a subnet imported by id alone does not
        # have (``lambda.Function`` itself accepts such subnets).
        chosen = {s.subnet_id for s in selection.subnets}
    else:
        try:
            selected = vpc.select_subnets(**selection._values)  # jsii structs keep their fields in ``_values``
        except RuntimeError as exc:  # jsii: e.g. "There are no 'Private' subnet groups in this VPC"
            raise ValueError(
                f"webhook_vpc: cannot select the webhook function's subnets ({exc}); give webhook_vpc_subnets= "
                "private subnets routed to a NAT gateway"
            ) from None
        if selected.has_public:
            raise ValueError(_PUBLIC)
        chosen = {s.subnet_id for s in selected.subnets}
    if chosen & public:
        raise ValueError(_PUBLIC)
    if chosen & isolated:
        raise ValueError(_ISOLATED)


def delivery_ports(targets: Iterable[WebhookTarget]) -> list[int]:
    """The TCP ports deliveries go to: 443, and any other port a configured target URL names."""
    ports = {HTTPS_PORT}
    for target in targets:
        if not is_unresolved(target.url):
            ports.add(urlsplit(target.url).port or HTTPS_PORT)
    return sorted(ports)


def warn_unknown_ports(scope: Construct, targets: Iterable[WebhookTarget], allow_notify_url: bool) -> None:
    """Say so when some receivers' ports are unknown at synth time: the security group only opens known ones.

    A ``notify_url`` is chosen per assembly and a deploy-time URL is a token, so their ports cannot be
    opened in advance; a delivery to another port than 443 (or one a literal target URL names) would
    time out in the security group and end in the dead-letter queue after every retry.
    """
    unknown = [t for t in targets if is_unresolved(t.url)]
    if not unknown and not allow_notify_url:
        return
    sources = " and ".join(
        part
        for part, present in (
            ("allow_notify_url=True (caller-chosen URLs)", allow_notify_url),
            (f"{len(unknown)} webhook URL(s) only known at deploy time", bool(unknown)),
        )
        if present
    )
    cdk.Annotations.of(scope).add_warning_v2(
        "transflow:webhookVpcUnknownPorts",
        f"webhook_vpc with {sources}: the webhook function's security group allows TCP egress to port 443 and "
        "the ports literal target URLs name only, so a delivery to any other port times out and ends in the "
        "dead-letter queue. Use https URLs on port 443, or add egress rules to "
        "status.webhook_function.connections.",
    )


def webhook_network(
    scope: Construct, vpc: ec2.IVpc, subnets: ec2.SubnetSelection | None, ports: Iterable[int]
) -> FunctionNetwork:
    """The security group (id ``WebhookSecurityGroup``) and subnets of the webhook function."""
    group = ec2.SecurityGroup(
        scope,
        "WebhookSecurityGroup",
        vpc=vpc,
        description="Transflow webhook function: HTTPS to receivers and AWS APIs only",
        allow_all_outbound=False,
        allow_all_ipv6_outbound=False,
    )
    for port in ports:
        group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(port), f"webhook deliveries and AWS APIs, TCP {port}")
        group.add_egress_rule(ec2.Peer.any_ipv6(), ec2.Port.tcp(port), f"webhook deliveries over IPv6, TCP {port}")
    selection = subnets or ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
    return FunctionNetwork(vpc=vpc, subnets=selection, security_groups=[group])
