"""The HTTP API's custom domain: created (with its certificate) or adopted, and its DNS alias records."""

from __future__ import annotations

from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as targets
from constructs import Construct

from ._validation import is_unresolved


def check_domain_options(
    domain_name: str | apigwv2.IDomainName | None,
    certificate: acm.ICertificate | None,
    hosted_zone: route53.IHostedZone | None,
    disable_execute_api_endpoint: bool,
) -> None:
    """The custom-domain options of ``TransflowStatus``: refused combinations, named."""
    if isinstance(domain_name, str) and certificate is None:
        raise ValueError("domain_name= needs certificate=: a custom domain name takes both domain_name and certificate")
    if certificate is not None and domain_name is None:
        raise ValueError("certificate= needs domain_name=: a custom domain takes both domain_name and certificate")
    if domain_name is not None and not isinstance(domain_name, str) and certificate is not None:
        raise ValueError(
            "domain_name=<an existing apigwv2.IDomainName> and certificate= conflict: the existing domain name "
            "already has its certificate"
        )
    if hosted_zone is not None and domain_name is None:
        raise ValueError("hosted_zone= needs domain_name=: the DNS records point the custom domain at the API")
    if disable_execute_api_endpoint and domain_name is None:
        raise ValueError("disable_execute_api_endpoint=True without domain_name= would leave the API unreachable")
    if isinstance(domain_name, str) and hosted_zone is not None:
        zone = _zone_name(hosted_zone)
        if zone is not None and not is_unresolved(domain_name) and not is_unresolved(zone):
            name, zone = domain_name.rstrip(".").lower(), zone.rstrip(".").lower()
            if name != zone and not name.endswith("." + zone):
                raise ValueError(
                    f"domain_name={domain_name!r} is not in hosted_zone {hosted_zone.zone_name!r}: its records "
                    "could not be created there"
                )


def _zone_name(zone: route53.IHostedZone) -> str | None:
    """The zone's name, or ``None`` for a zone imported by id alone (``HostedZone.from_hosted_zone_id``)."""
    try:
        return zone.zone_name
    except RuntimeError:  # jsii: "Cannot reference `zoneName` when using `HostedZone.fromHostedZoneId()`"
        return None


def fully_qualified(name: str) -> str:
    """``name`` with its trailing dot: Route 53's fully qualified form.

    CDK treats a record name without the trailing dot as relative to the zone unless it visibly ends
    with the zone's name, so a deploy-time name (``"${Token}"``) would get the zone appended once more
    (``status.example.com.example.com.``). A fully qualified name is written as given, needs no zone
    name at all (a zone imported by id works) and is what CDK writes for a literal name anyway.
    """
    return name if name.endswith(".") else f"{name}."


class CustomDomain:
    """The domain name in ``scope`` (id ``Domain``), or the one passed; A and AAAA aliases in ``hosted_zone``.

    Amazon Route 53 Developer Guide, "Routing traffic to an Amazon API Gateway API by using your
    domain name": an alias record (type A for IPv4, AAAA for IPv6) whose target is the API Gateway
    domain name's regional domain name and hosted zone. A domain name created here is dual-stack, so
    both answer; an existing one must be dual-stack for its AAAA record to resolve.
    """

    def __init__(
        self,
        scope: Construct,
        *,
        domain_name: str | apigwv2.IDomainName,
        certificate: acm.ICertificate | None,
        hosted_zone: route53.IHostedZone | None,
    ) -> None:
        if isinstance(domain_name, str):
            assert certificate is not None
            self.domain: apigwv2.IDomainName = apigwv2.DomainName(
                scope,
                "Domain",
                domain_name=domain_name,
                certificate=certificate,
                security_policy=apigwv2.SecurityPolicy.TLS_1_2,
                ip_address_type=apigwv2.IpAddressType.DUAL_STACK,
            )
            self.created = True
            #: The literal name (the domain's ``name`` is a ``Ref`` to it).
            self.name = domain_name
        else:
            self.domain = domain_name
            self.created = False
            self.name = domain_name.name
        self.records: list[route53.RecordSet] = []
        if hosted_zone is not None:
            alias = targets.ApiGatewayv2DomainProperties(
                self.domain.regional_domain_name, self.domain.regional_hosted_zone_id
            )
            target = route53.RecordTarget.from_alias(alias)
            name = fully_qualified(self.name)
            self.records = [
                route53.ARecord(scope, "DomainRecordA", zone=hosted_zone, record_name=name, target=target),
                route53.AaaaRecord(scope, "DomainRecordAaaa", zone=hosted_zone, record_name=name, target=target),
            ]

    @property
    def url(self) -> str:
        return f"https://{self.name}/"
