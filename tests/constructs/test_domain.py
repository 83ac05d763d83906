"""A custom domain that is finished: exposed, adoptable, with its Route 53 alias records."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_route53 as route53

from transflow_constructs import TransflowStatus

from .cdk_helpers import Synth, cfn_lint_errors, nag_findings, new_stack, of_type, oidc_auth, synth

CERT = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"


def _certificate(stack: cdk.Stack) -> acm.ICertificate:
    return acm.Certificate.from_certificate_arn(stack, "Cert", CERT)


def _zone(stack: cdk.Stack) -> route53.IHostedZone:
    return route53.HostedZone.from_hosted_zone_attributes(
        stack, "Zone", hosted_zone_id="Z0123456789ABCDEFGHIJ", zone_name="example.com"
    )


def _build(**options: Any) -> Synth:
    def compose(stack: cdk.Stack) -> TransflowStatus:
        resolved = {k: v(stack) if callable(v) else v for k, v in options.items()}
        return TransflowStatus(stack, "Status", auth=oidc_auth(), **resolved)

    return synth(compose)


@pytest.fixture(scope="module")
def with_zone() -> Synth:
    return _build(domain_name="status.example.com", certificate=_certificate, hosted_zone=_zone)


def test_a_and_aaaa_alias_records_point_the_domain_at_the_api(with_zone: Synth) -> None:
    """Amazon Route 53 Developer Guide, "Routing traffic to an Amazon API Gateway API by using your
    domain name": an alias record of type A (IPv4) and one of type AAAA (IPv6), each with the API
    Gateway domain name's regional domain name and regional hosted zone id as the alias target."""
    records = of_type(with_zone.template, "AWS::Route53::RecordSet")
    (domain_id,) = of_type(with_zone.template, "AWS::ApiGatewayV2::DomainName")
    assert sorted(r["Properties"]["Type"] for r in records.values()) == ["A", "AAAA"]
    for record in records.values():
        props = record["Properties"]
        assert props["Name"] == "status.example.com."
        assert props["HostedZoneId"] == "Z0123456789ABCDEFGHIJ"
        assert props["AliasTarget"] == {
            "DNSName": {"Fn::GetAtt": [domain_id, "RegionalDomainName"]},
            "HostedZoneId": {"Fn::GetAtt": [domain_id, "RegionalHostedZoneId"]},
        }
    assert [r.node.id for r in with_zone.status.dns_records] == ["DomainRecordA", "DomainRecordAaaa"]


def test_the_created_domain_is_dual_stack_so_its_aaaa_record_resolves(with_zone: Synth) -> None:
    """AWS CloudFormation User Guide, ``AWS::ApiGatewayV2::DomainName`` DomainNameConfiguration
    ``IpAddressType``: ``ipv4`` or ``dualstack``; only a dual-stack domain answers over IPv6."""
    (domain,) = of_type(with_zone.template, "AWS::ApiGatewayV2::DomainName").values()
    (configuration,) = domain["Properties"]["DomainNameConfigurations"]
    assert configuration["IpAddressType"] == "dualstack"
    assert configuration["SecurityPolicy"] == "TLS_1_2"


def test_the_domain_is_exposed_and_is_the_api_url(with_zone: Synth) -> None:
    status = with_zone.status
    assert isinstance(status.domain_name, apigwv2.DomainName)
    assert with_zone.resolve(status.api_url) == "https://status.example.com/"
    assert "https://status.example.com/" in [o["Value"] for o in with_zone.template["Outputs"].values()]


def test_with_zone_the_template_passes_cfn_lint_and_cdk_nag(with_zone: Synth) -> None:
    assert cfn_lint_errors(with_zone.template) == []
    assert nag_findings(with_zone.stack) == []


def _existing(stack: cdk.Stack) -> apigwv2.IDomainName:
    return apigwv2.DomainName.from_domain_name_attributes(
        stack,
        "Existing",
        name="api.example.com",
        regional_domain_name="d-abc123.execute-api.us-east-1.amazonaws.com",
        regional_hosted_zone_id="Z1UJRXOUMOOFQ8",
    )


def test_an_existing_domain_name_is_mapped_and_aliased_not_created() -> None:
    result = _build(domain_name=_existing, hosted_zone=_zone)
    assert not of_type(result.template, "AWS::ApiGatewayV2::DomainName")
    (mapping,) = of_type(result.template, "AWS::ApiGatewayV2::ApiMapping").values()
    assert mapping["Properties"]["DomainName"] == "api.example.com"
    records = of_type(result.template, "AWS::Route53::RecordSet").values()
    targets = {r["Properties"]["AliasTarget"]["DNSName"].rstrip(".") for r in records}
    assert targets == {"d-abc123.execute-api.us-east-1.amazonaws.com"}
    assert result.resolve(result.status.api_url) == "https://api.example.com/"
    assert result.status.domain_name is not None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"domain_name": _existing, "certificate": _certificate}, r"domain_name=.* and certificate= conflict"),
        ({"hosted_zone": _zone}, r"hosted_zone= needs domain_name="),
        (
            {"domain_name": "status.example.org", "certificate": _certificate, "hosted_zone": _zone},
            r"not in hosted_zone 'example.com'",
        ),
    ],
)
def test_conflicting_domain_options_are_refused_naming_both(options: dict[str, Any], message: str) -> None:
    stack = new_stack()
    with pytest.raises(ValueError, match=message):
        resolved = {k: v(stack) if callable(v) else v for k, v in options.items()}
        TransflowStatus(stack, "Status", auth=oidc_auth(), **resolved)


def test_without_a_domain_there_are_no_records_and_no_domain(oidc: Synth) -> None:
    assert oidc.status.domain_name is None and oidc.status.dns_records == []
    assert not of_type(oidc.template, "AWS::Route53::RecordSet")


def test_a_deploy_time_domain_name_gets_records_for_that_name_not_under_the_zone_again() -> None:
    """Amazon Route 53 Developer Guide, "Routing traffic to an Amazon API Gateway API by using your
    domain name": the alias records are named exactly the custom domain name. A ``CfnParameter``
    domain name (``status.example.com`` at deploy time) must not become
    ``status.example.com.example.com.``: CDK appends the zone to a record name it cannot see ending
    in the zone's name, so the construct writes the fully qualified name (trailing dot) itself."""

    def build(stack: cdk.Stack) -> TransflowStatus:
        name = cdk.CfnParameter(stack, "DomainName", type="String").value_as_string
        return TransflowStatus(
            stack,
            "Status",
            auth=oidc_auth(),
            domain_name=name,
            certificate=_certificate(stack),
            hosted_zone=_zone(stack),
        )

    built = synth(build)
    records = of_type(built.template, "AWS::Route53::RecordSet")
    assert len(records) == 2
    for record in records.values():
        assert record["Properties"]["Name"] == {"Fn::Join": ["", [{"Ref": "DomainName"}, "."]]}


def test_a_zone_imported_by_id_alone_is_enough_for_the_records() -> None:
    """Route 53 ``AWS::Route53::RecordSet``: ``HostedZoneId`` and a fully qualified ``Name`` are all a
    record needs; ``HostedZone.from_hosted_zone_id`` (no zone name) must not crash the construct."""

    def build(stack: cdk.Stack) -> TransflowStatus:
        zone = route53.HostedZone.from_hosted_zone_id(stack, "Zone", "Z0123456789ABCDEFGHIJ")
        return TransflowStatus(
            stack,
            "Status",
            auth=oidc_auth(),
            domain_name="status.example.com",
            certificate=_certificate(stack),
            hosted_zone=zone,
        )

    built = synth(build)
    records = of_type(built.template, "AWS::Route53::RecordSet")
    assert sorted(r["Properties"]["Type"] for r in records.values()) == ["A", "AAAA"]
    assert {r["Properties"]["Name"] for r in records.values()} == {"status.example.com."}
    assert {r["Properties"]["HostedZoneId"] for r in records.values()} == {"Z0123456789ABCDEFGHIJ"}
