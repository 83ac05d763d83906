"""The HTTP API: the routes of the contract, each behind the authorizer, with access logs and throttling."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from urllib.parse import urlsplit

import aws_cdk as cdk
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_route53 as route53
from constructs import Construct
from transflow_runtime import schema

from ._validation import is_unresolved
from .auth import OIDC, StatusAuth
from .domain import CustomDomain
from .functions import skip_log_group_key_check

#: Access log line (JSON). Identity appears only as the authorizer's verdict, never a token.
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "routeKey": "$context.routeKey",
        "path": "$context.path",
        "status": "$context.status",
        "protocol": "$context.protocol",
        "responseLength": "$context.responseLength",
        "responseLatency": "$context.responseLatency",
        "integrationLatency": "$context.integrationLatency",
        "integrationError": "$context.integrationErrorMessage",
        "authorizerError": "$context.authorizer.error",
        "userAgent": "$context.identity.userAgent",
    },
    separators=(",", ":"),
)
CORS_ALLOW_HEADERS = ("authorization", "content-type", "if-none-match")
#: Amazon CloudWatch Logs User Guide, "Enabling logging from AWS services": for log groups whose
#: names start with this prefix the service needs no entry in the account's CloudWatch Logs
#: resource policy (at most 5,120 characters, shared by every log group and service of the account).
VENDED_LOGS_PREFIX = "/aws/vendedlogs/"
#: Characters a log group name may contain (CloudWatch Logs API Reference, CreateLogGroup).
_LOG_GROUP_CHARACTER = re.compile(r"[^A-Za-z0-9._/#-]")
CORS_EXPOSE_HEADERS = ("etag", "retry-after", "cache-control")


def access_log_group_name(instance_path: str) -> str:
    """``/aws/vendedlogs/transflow/<stack name>/<instance path>/access-<stack id's UUID>``.

    Unique per instance (the stack's name and the construct's path) and per stack incarnation (the
    UUID in ``AWS::StackId`` is new each time a stack of that name is created), so a group retained
    from a deleted stack never collides with the one a new stack creates. At most 512 characters
    (128 for the stack name, 200 for the path, 36 for the UUID).
    """
    path = _LOG_GROUP_CHARACTER.sub("-", instance_path)
    incarnation = cdk.Fn.select(2, cdk.Fn.split("/", cdk.Aws.STACK_ID))
    return f"{VENDED_LOGS_PREFIX}transflow/{cdk.Aws.STACK_NAME}/{path}/access-{incarnation}"


def api_name(instance_path: str) -> str:
    """``<stack name>-<instance path>``: the API's name in the console, one per instance."""
    return f"{cdk.Aws.STACK_NAME}-{re.sub(r'[^A-Za-z0-9_-]', '-', instance_path)}"


def check_cors_origins(origins: Sequence[str]) -> tuple[str, ...]:
    """Origins as browsers send them (``https://app.example.com``, optional port) or ``*``."""
    if isinstance(origins, str):
        raise ValueError("cors_origins must be a list of origins, not a single string")
    if is_unresolved(list(origins)):
        return tuple(origins)  # a list token (a CommaDelimitedList parameter): its origins come at deploy time
    checked = tuple(origins)
    if not checked:
        raise ValueError("cors_origins must not be empty (leave it unset to disable CORS)")
    for origin in checked:
        if origin == "*" or cdk.Token.is_unresolved(origin):
            continue
        parts = urlsplit(origin)
        if parts.scheme not in ("https", "http") or not parts.hostname or parts.path or parts.query:
            raise ValueError(f"CORS origin {origin!r} must look like 'https://app.example.com' (no path) or be '*'")
    return checked


class StatusApi(Construct):
    """HTTP API (payload format 2.0) in front of the status function."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        auth: StatusAuth,
        status_function: lambda_.IFunction,
        authorizer_function: lambda_.IFunction | None,
        log_retention: logs.RetentionDays,
        log_removal_policy: cdk.RemovalPolicy,
        throttling_rate_limit: float,
        throttling_burst_limit: int,
        cors_origins: Sequence[str] | None,
        domain_name: str | apigwv2.IDomainName | None,
        certificate: acm.ICertificate | None,
        hosted_zone: route53.IHostedZone | None,
        disable_execute_api_endpoint: bool,
        instance_path: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.authorizer = self._authorizer(auth, authorizer_function)
        self.custom_domain: CustomDomain | None = None
        if domain_name is not None:
            self.custom_domain = CustomDomain(
                self, domain_name=domain_name, certificate=certificate, hosted_zone=hosted_zone
            )
        self.domain = self.custom_domain.domain if self.custom_domain is not None else None
        cors = None
        if cors_origins is not None:
            cors = apigwv2.CorsPreflightOptions(
                allow_origins=list(cors_origins),
                allow_methods=[
                    apigwv2.CorsHttpMethod.GET,
                    apigwv2.CorsHttpMethod.POST,
                    apigwv2.CorsHttpMethod.OPTIONS,
                ],
                allow_headers=list(CORS_ALLOW_HEADERS),
                expose_headers=list(CORS_EXPOSE_HEADERS),
                max_age=cdk.Duration.hours(1),
            )
        self.http_api = apigwv2.HttpApi(
            self,
            "Api",
            api_name=api_name(instance_path),
            description="Transflow assembly status API",
            cors_preflight=cors,
            default_authorizer=self.authorizer,
            create_default_stage=True,
            default_domain_mapping=apigwv2.DomainMappingOptions(domain_name=self.domain) if self.domain else None,
            disable_execute_api_endpoint=disable_execute_api_endpoint,
        )
        integration = integrations.HttpLambdaIntegration(
            "StatusIntegration",
            status_function,
            payload_format_version=apigwv2.PayloadFormatVersion.VERSION_2_0,
        )
        self.routes: list[apigwv2.HttpRoute] = []
        for method, path in schema.ROUTES:
            self.routes.extend(
                self.http_api.add_routes(
                    path=path,
                    methods=[apigwv2.HttpMethod(method)],
                    integration=integration,
                    authorizer=self.authorizer,
                )
            )
        self.access_log_group = logs.LogGroup(
            self,
            "AccessLogs",
            log_group_name=access_log_group_name(instance_path),
            retention=log_retention,
            removal_policy=log_removal_policy,
        )
        skip_log_group_key_check(self.access_log_group)
        stage = self.http_api.default_stage
        assert stage is not None
        cfn_stage = stage.node.default_child
        assert isinstance(cfn_stage, apigwv2.CfnStage)
        cfn_stage.access_log_settings = apigwv2.CfnStage.AccessLogSettingsProperty(
            destination_arn=self.access_log_group.log_group_arn, format=ACCESS_LOG_FORMAT
        )
        cfn_stage.default_route_settings = apigwv2.CfnStage.RouteSettingsProperty(
            throttling_rate_limit=throttling_rate_limit,
            throttling_burst_limit=throttling_burst_limit,
            detailed_metrics_enabled=True,
        )
        self.url = self.custom_domain.url if self.custom_domain is not None else stage.url

    def _authorizer(self, auth: StatusAuth, function: lambda_.IFunction | None) -> apigwv2.IHttpRouteAuthorizer:
        if auth.kind == OIDC:
            assert auth.issuer is not None
            return authorizers.HttpJwtAuthorizer(
                "JwtAuthorizer",
                auth.issuer,
                jwt_audience=list(auth.audience),
                identity_source=["$request.header.Authorization"],
            )
        assert function is not None
        return authorizers.HttpLambdaAuthorizer(
            "SharedSecretAuthorizer",
            function,
            response_types=[authorizers.HttpLambdaResponseType.SIMPLE],
            identity_source=["$request.header.Authorization"],
            results_cache_ttl=auth.cache_ttl,
        )
