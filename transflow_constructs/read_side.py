"""The read side: the status function, the shared-secret authorizer and the HTTP API in front of them.

``ReadOptions`` validates the read-side options of ``TransflowStatus``; ``ReadSide`` creates the
functions (ids ``StatusFunction``, ``AuthorizerFunction``) and the API (``Api``) in the
``TransflowStatus`` scope. Options that only concern the read-side functions (the status and
authorizer Lambdas, not the API) are grouped in ``ReadOptions`` under "read-side functions" and
reach both functions through ``ReadSide.function_environment``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_route53 as route53
from constructs import Construct, IConstruct
from transflow_runtime import schema

from ._metadata import instance_path
from ._policies import secret_statements
from ._validation import check_number, check_seconds, is_unresolved
from .api import StatusApi, check_cors_origins
from .auth import SHARED_SECRET, StatusAuth, audience_string
from .domain import check_domain_options
from .functions import FunctionSettings, TransflowFunction

DEFAULT_STATUS_TIMEOUT = cdk.Duration.seconds(10)
DEFAULT_THROTTLING_RATE_LIMIT = 100.0
DEFAULT_THROTTLING_BURST_LIMIT = 200
AUTHORIZER_TIMEOUT = cdk.Duration.seconds(10)
#: Amazon API Gateway Developer Guide, "Quotas for configuring and running an HTTP API": the
#: integration timeout is at most 30 seconds; the function must give up before the API does.
MAX_STATUS_TIMEOUT_SECONDS = 29
#: Amazon API Gateway Developer Guide, "Amazon API Gateway quotas": throttle quota per account and
#: Region across HTTP, REST and WebSocket APIs, 10,000 requests per second with a burst bucket of
#: 5,000 (lower in some Regions; can be raised on request).
ACCOUNT_RATE_LIMIT = 10_000
ACCOUNT_BURST_LIMIT = 5_000
#: Longest instance path in the API's and the access log group's names.
_MAX_NAME_PATH = 60
_CLAIM_PATTERN = re.compile(r"^[A-Za-z0-9_:./-]{1,128}$")


@dataclass(frozen=True)
class ReadOptions:
    """The read-side options of ``TransflowStatus`` (see its docstring), validated on creation."""

    auth: StatusAuth
    user_id_claim: str = schema.DEFAULT_USER_ID_CLAIM
    # ---- HTTP API ----
    cors_origins: Sequence[str] | None = None
    throttling_rate_limit: float = DEFAULT_THROTTLING_RATE_LIMIT
    throttling_burst_limit: int = DEFAULT_THROTTLING_BURST_LIMIT
    domain_name: str | apigwv2.IDomainName | None = None
    certificate: acm.ICertificate | None = None
    hosted_zone: route53.IHostedZone | None = None
    disable_execute_api_endpoint: bool = False
    # ---- read-side functions (status and authorizer) ----
    status_timeout: cdk.Duration = DEFAULT_STATUS_TIMEOUT
    assembly_id_pattern: str | None = None
    light_aws_client: bool = True
    #: Derived (validated) values.
    origins: tuple[str, ...] | None = field(init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.auth, StatusAuth):
            raise ValueError("auth must be StatusAuth.oidc(...) or StatusAuth.shared_secret(...)")
        if not isinstance(self.light_aws_client, bool):
            raise ValueError(f"light_aws_client must be True or False, got {self.light_aws_client!r}")
        claim = self.user_id_claim
        if not is_unresolved(claim) and not _CLAIM_PATTERN.match(claim or ""):
            raise ValueError(f"user_id_claim must be a JWT claim name, got {claim!r}")
        check_seconds(
            self.status_timeout,
            "status_timeout",
            1,
            MAX_STATUS_TIMEOUT_SECONDS,
            why="an HTTP API gives its Lambda integration at most 30 s, and Lambda timeouts are whole seconds",
        )
        if self.assembly_id_pattern is not None and not is_unresolved(self.assembly_id_pattern):
            try:
                re.compile(self.assembly_id_pattern)
            except re.error as exc:
                raise ValueError(f"assembly_id_pattern is not a valid regular expression: {exc}") from None
        origins = check_cors_origins(self.cors_origins) if self.cors_origins is not None else None
        check_number(
            self.throttling_rate_limit,
            "throttling_rate_limit",
            0,
            None,
            above=True,
            integer=False,
            why="requests per second of each route; 0 would refuse every request",
        )
        check_number(
            self.throttling_burst_limit,
            "throttling_burst_limit",
            1,
            None,
            why="the token bucket's size for each route; 0 would refuse every request",
        )
        check_domain_options(
            self.domain_name, self.certificate, self.hosted_zone, self.disable_execute_api_endpoint
        )
        object.__setattr__(self, "origins", origins)


class ReadSide:
    """Status function, authorizer and HTTP API of one ``TransflowStatus``, created in ``scope``.

    ``enqueue_statements`` let the status function put replay events (``POST .../notify``) on the
    webhook queue; the read side never writes the table.
    """

    def __init__(
        self,
        scope: Construct,
        options: ReadOptions,
        *,
        table_name: str,
        table_statements: Sequence[iam.PolicyStatement],
        webhook_queue_url: str,
        enqueue_statements: Sequence[iam.PolicyStatement],
        settings: FunctionSettings,
    ) -> None:
        self.options = options
        auth = options.auth
        _warn_above_account_quota(scope, options)
        _warn_pattern_not_in_openapi(scope, options)
        status_env = {
            **self.function_environment(),
            schema.ENV_TABLE_NAME: table_name,
            schema.ENV_WEBHOOK_QUEUE_URL: webhook_queue_url,
        }
        if options.assembly_id_pattern is not None:
            status_env[schema.ENV_ASSEMBLY_ID_PATTERN] = options.assembly_id_pattern
        self.status = TransflowFunction(
            scope,
            "StatusFunction",
            settings=settings,
            handler=schema.HANDLER_STATUS,
            description="Transflow: assembly status API and direct invoke (read-only)",
            timeout=options.status_timeout,
            environment=status_env,
            statements=[*table_statements, *enqueue_statements],
        )
        self.authorizer: TransflowFunction | None = None
        if auth.kind == SHARED_SECRET:
            assert auth.secret is not None
            authorizer_env = {**self.function_environment(), schema.ENV_JWT_SECRET_ARN: auth.secret.secret_arn}
            if auth.issuer is not None:
                authorizer_env[schema.ENV_JWT_ISSUER] = auth.issuer
            if auth.audience:
                authorizer_env[schema.ENV_JWT_AUDIENCE] = audience_string(auth.audience)
            self.authorizer = TransflowFunction(
                scope,
                "AuthorizerFunction",
                settings=settings,
                handler=schema.HANDLER_AUTHORIZER,
                description="Transflow: HS256 JWT authorizer for the status API",
                timeout=AUTHORIZER_TIMEOUT,
                environment=authorizer_env,
                statements=secret_statements("ReadJwtSecret", [auth.secret]),
            )
        self.api = StatusApi(
            scope,
            "Api",
            auth=auth,
            status_function=self.status.function,
            authorizer_function=self.authorizer.function if self.authorizer else None,
            log_retention=settings.log_retention,
            log_removal_policy=settings.log_removal_policy,
            throttling_rate_limit=options.throttling_rate_limit,
            throttling_burst_limit=options.throttling_burst_limit,
            cors_origins=options.origins,
            domain_name=options.domain_name,
            certificate=options.certificate,
            hosted_zone=options.hosted_zone,
            disable_execute_api_endpoint=options.disable_execute_api_endpoint,
            instance_path=instance_path(scope, max_length=_MAX_NAME_PATH),
        )

    def function_environment(self) -> dict[str, str]:
        """Variables both read-side functions get (read-side function options go here).

        With ``light_aws_client=False`` both get ``TRANSFLOW_AWS_CLIENT=boto3`` (the runtime's
        escape hatch); by default the variable is not set and the runtime picks the light client on
        Lambda (``transflow_runtime.aws.choose``).
        """
        env = {schema.ENV_USER_ID_CLAIM: self.options.user_id_claim}
        if not self.options.light_aws_client:
            env[schema.AWS_CLIENT_ENV] = schema.AWS_CLIENT_BOTO3
        return env

    def parts(self) -> dict[IConstruct, str]:
        """Resources created here, by part name (``_metadata.PartMarker``)."""
        found: dict[IConstruct, str] = {
            **self.status.parts("status-function"),
            self.api.http_api: "http-api",
            self.api.access_log_group: "access-log-group",
        }
        if self.authorizer is not None:
            found.update(self.authorizer.parts("authorizer-function"))
        custom = self.api.custom_domain
        if custom is not None:
            if custom.created:
                found[custom.domain] = "domain-name"
            for record in custom.records:
                found[record] = f"dns-record-{record.node.id.removeprefix('DomainRecord').lower()}"
        return found

    def functions(self) -> dict[str, TransflowFunction]:
        found = {"status": self.status}
        if self.authorizer is not None:
            found["authorizer"] = self.authorizer
        return found

    @property
    def status_function(self) -> lambda_.Function:
        return self.status.function

    def openapi_document(self) -> dict[str, Any]:
        """The runtime's OpenAPI document for this API: its URL and id pattern where known at synth time."""
        from transflow_runtime.openapi import openapi_document

        url = self.api.url
        pattern = self.options.assembly_id_pattern
        known = pattern is None or not is_unresolved(pattern)  # a CfnParameter is known at deploy time only
        return openapi_document(
            server_url=None if is_unresolved(url) else url,
            assembly_id_pattern=pattern if known else None,
            assembly_id_pattern_known=known,
        )


def _warn_pattern_not_in_openapi(scope: Construct, options: ReadOptions) -> None:
    """OpenAPI 3.1 patterns are ECMA-262: a Python-only ``assembly_id_pattern`` is left out of the document."""
    from transflow_runtime.ecma_regex import to_ecma

    pattern = options.assembly_id_pattern
    if pattern is not None and not is_unresolved(pattern) and to_ecma(pattern) is None:
        cdk.Annotations.of(scope).add_warning_v2(
            "transflow:assemblyIdPatternNotEcma",
            f"assembly_id_pattern={pattern!r} uses Python regular expression syntax with no ECMA-262 equivalent "
            "(inline flags, atomic groups, possessive quantifiers, ...): the status function applies it, but "
            "openapi_document states no pattern for ids (OpenAPI 3.1 patterns are ECMA-262). Rewrite it without "
            "that syntax to have generated clients check ids.",
        )


def _warn_above_account_quota(scope: Construct, options: ReadOptions) -> None:
    """A route limit above the account's quota never takes effect: the account's throttle comes first."""
    rate, burst = options.throttling_rate_limit, options.throttling_burst_limit
    if not is_unresolved(rate) and rate > ACCOUNT_RATE_LIMIT:
        cdk.Annotations.of(scope).add_warning_v2(
            "transflow:throttlingRateAboveAccountQuota",
            f"throttling_rate_limit={rate:g} is above API Gateway's default account quota of {ACCOUNT_RATE_LIMIT} "
            "requests per second (per Region, shared by every API of the account): requests beyond the account "
            "quota are throttled whatever the route allows. Raise the quota (Service Quotas) or lower the limit.",
        )
    if not is_unresolved(burst) and burst > ACCOUNT_BURST_LIMIT:
        cdk.Annotations.of(scope).add_warning_v2(
            "transflow:throttlingBurstAboveAccountQuota",
            f"throttling_burst_limit={burst} is above API Gateway's default account burst of {ACCOUNT_BURST_LIMIT} "
            "requests: bursts beyond it are throttled by the account's bucket whatever the route allows.",
        )
