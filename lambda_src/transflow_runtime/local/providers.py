"""What one ``TransflowStatus`` in a template consists of, read from the template: one provider per
resource kind (functions with their roles' policies, event source mappings, the HTTP API with its
routes, authorizers, CORS and throttling), as AWS SAM CLI's providers read theirs.

Values come through ``Deployment`` (intrinsics resolved to local names, ARNs and URLs); resources
are found through the instance's part metadata and through the references between resources
(a function's ``Role``, a policy's ``Roles``, a route's ``ApiId`` and ``Target``), never through
logical ids.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any

from .assembly import Instance
from .intrinsics import TemplateError
from .provision import Deployment

FUNCTION_PARTS = ("status-function", "authorizer-function", "dispatcher-function", "webhook-function")
_INVOKE_PREFIX = "/2015-03-31/functions/"


@dataclass
class FunctionSpec:
    logical_id: str
    name: str
    arn: str
    handler: str
    timeout: float
    memory_size: int
    environment: dict[str, str]
    role_arn: str
    policies: list[dict[str, Any]]
    part: str | None = None
    reserved_concurrency: int | None = None


@dataclass
class EventSourceSpec:
    logical_id: str
    kind: str  # "dynamodb" | "sqs"
    function: FunctionSpec
    source_arn: str
    batch_size: int
    filters: list[str] = field(default_factory=list)
    bisect_on_error: bool = False
    max_retries: int | None = None  # None: until the record expires (-1 in the template)
    on_failure_arn: str | None = None
    report_batch_item_failures: bool = False
    max_concurrency: int | None = None
    starting_position: str = "TRIM_HORIZON"
    enabled: bool = True


@dataclass
class AuthorizerSpec:
    logical_id: str
    kind: str  # "JWT" | "REQUEST"
    identity_source: list[str]
    issuer: str | None = None
    audience: list[str] = field(default_factory=list)
    function: FunctionSpec | None = None
    result_ttl: int = 0
    simple_responses: bool = False
    payload_format: str = "2.0"


@dataclass
class RouteSpec:
    route_key: str
    function: FunctionSpec | None
    authorization_type: str = "NONE"
    authorizer: AuthorizerSpec | None = None
    scopes: list[str] = field(default_factory=list)
    payload_format: str = "2.0"
    invoke_permitted: bool = True


@dataclass
class ApiSpec:
    api_id: str
    routes: list[RouteSpec]
    cors: dict[str, Any] | None = None
    rate_limit: float | None = None
    burst_limit: int | None = None
    stage: str = "$default"


@dataclass
class InstanceModel:
    functions: dict[str, FunctionSpec]  # by logical id
    event_sources: list[EventSourceSpec]
    api: ApiSpec | None

    def by_part(self, part: str) -> FunctionSpec | None:
        return next((f for f in self.functions.values() if f.part == part), None)

    def by_name(self, name_or_arn: str) -> FunctionSpec | None:
        short = name_or_arn.rsplit(":function:", 1)[-1].split(":")[0]
        return next((f for f in self.functions.values() if short in (f.name, f.arn)), None)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


# ------------------------------------------------------------------------------------- functions
def role_policies(deployment: Deployment, role_arn: str) -> list[dict[str, Any]]:
    """Every identity policy of the role: policies naming it in ``Roles``, its inline policies and
    its managed policies (AWS managed ones from moto's copy of them)."""
    role_id = deployment.logical_id_of("AWS::IAM::Role", role_arn)
    if role_id is None:
        deployment.note(f"the role {role_arn} (not in this template): its function gets no permissions")
        return []
    role_name = deployment.attributes(role_id, None)
    documents: list[dict[str, Any]] = []
    for resource in deployment.resources.values():
        if resource.get("Type") not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            continue
        roles = [str(r).rsplit("/", 1)[-1] for r in _as_list(deployment.resolve(resource["Properties"].get("Roles")))]
        if role_name in roles:
            documents.append(deployment.resolve(resource["Properties"]["PolicyDocument"]))
    role = deployment.properties(role_id)
    documents.extend(deployment.resolve(p["PolicyDocument"]) for p in role.get("Policies") or [])
    for arn in _as_list(deployment.resolve(role.get("ManagedPolicyArns"))):
        documents.extend(_managed_policy(deployment, str(arn)))
    if role.get("PermissionsBoundary"):
        deployment.note("permissions boundaries")
    return documents


def _managed_policy(deployment: Deployment, arn: str) -> list[dict[str, Any]]:
    if ":iam::aws:policy/" in arn:
        from moto.iam.aws_managed_policies import aws_managed_policies_data

        data = json.loads(aws_managed_policies_data)
        name = arn.rsplit("/", 1)[-1]
        if name in data:
            return [data[name]["Document"]]
        deployment.note(f"the AWS managed policy {name} (unknown to moto)")
        return []
    logical_id = deployment.logical_id_of("AWS::IAM::ManagedPolicy", arn)
    if logical_id is None:
        deployment.note(f"the managed policy {arn} (not in this template)")
    return []  # a customer managed policy of this template is found through its Roles


def read_function(deployment: Deployment, logical_id: str, part: str | None) -> FunctionSpec:
    props = deployment.properties(logical_id)
    resolved = deployment.resolved_properties(logical_id)
    handler = resolved.get("Handler")
    if not isinstance(handler, str) or "." not in handler:
        raise TemplateError(f"function {logical_id} has no Python handler string (Handler: {handler!r})")
    runtime = str(resolved.get("Runtime", ""))
    here = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if runtime and runtime != here:
        deployment.note(f"the functions' runtime {runtime} (they run on this machine's {here})")
    deployment.note("the functions' code asset (the installed transflow_runtime runs; the asset's wheels are Lambda's)")
    if (resolved.get("TracingConfig") or {}).get("Mode") == "Active":
        deployment.note("X-Ray tracing")
    for prop, what in (
        ("VpcConfig", "function VPC networking"),
        ("Layers", "Lambda layers"),
        ("FileSystemConfigs", "EFS mounts"),
        ("DeadLetterConfig", "asynchronous-invoke DLQs"),
    ):
        if props.get(prop):
            deployment.note(what)
    deployment.note("the functions' memory sizes")
    environment = {
        str(k): _env_text(v) for k, v in ((resolved.get("Environment") or {}).get("Variables") or {}).items()
    }
    role_arn = str(resolved.get("Role", ""))
    reserved = resolved.get("ReservedConcurrentExecutions")
    return FunctionSpec(
        logical_id=logical_id,
        name=str(deployment.attributes(logical_id, None)),
        arn=str(deployment.attributes(logical_id, "Arn")),
        handler=handler,
        timeout=float(resolved.get("Timeout", 3)),
        memory_size=int(resolved.get("MemorySize", 128)),
        environment=environment,
        role_arn=role_arn,
        policies=role_policies(deployment, role_arn),
        part=part,
        reserved_concurrency=int(reserved) if reserved is not None else None,
    )


def _env_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


# ------------------------------------------------------------------------------------- event sources
def read_event_source(deployment: Deployment, logical_id: str, model: InstanceModel) -> EventSourceSpec:
    props = deployment.resolved_properties(logical_id)
    function = model.by_name(str(props.get("FunctionName", "")))
    if function is None:
        raise TemplateError(
            f"event source mapping {logical_id} targets {props.get('FunctionName')!r}, not a function here"
        )
    source = str(props.get("EventSourceArn", ""))
    kind = "dynamodb" if ":dynamodb:" in source and "/stream/" in source else "sqs" if ":sqs:" in source else ""
    if not kind:
        raise TemplateError(
            f"event source mapping {logical_id}: local mode emulates DynamoDB streams and SQS, not {source}"
        )
    for prop, what in (
        ("MaximumRecordAgeInSeconds", "the stream mapping's maximum record age"),
        ("TumblingWindowInSeconds", "tumbling windows"),
        ("MaximumBatchingWindowInSeconds", "batching windows (batches go out at once)"),
    ):
        if props.get(prop) not in (None, 0, -1):
            deployment.note(what)
    if int(props.get("ParallelizationFactor", 1) or 1) > 1:
        deployment.note("stream parallelization factors")
    retries = props.get("MaximumRetryAttempts")
    filters = [str(f["Pattern"]) for f in (props.get("FilterCriteria") or {}).get("Filters") or []]
    return EventSourceSpec(
        logical_id=logical_id,
        kind=kind,
        function=function,
        source_arn=source,
        batch_size=int(props.get("BatchSize") or (100 if kind == "dynamodb" else 10)),
        filters=filters,
        bisect_on_error=bool(props.get("BisectBatchOnFunctionError", False)),
        max_retries=None if retries in (None, -1) else int(retries),
        on_failure_arn=((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination"),
        report_batch_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
        max_concurrency=(props.get("ScalingConfig") or {}).get("MaximumConcurrency"),
        starting_position=str(props.get("StartingPosition", "TRIM_HORIZON")),
        enabled=props.get("Enabled", True) is not False,
    )


# ------------------------------------------------------------------------------------- the HTTP API
def _function_from_uri(model: InstanceModel, uri: str) -> FunctionSpec | None:
    """A Lambda ARN, or API Gateway's ``arn:aws:apigateway:...:lambda:path/2015-03-31/functions/ARN/invocations``."""
    if _INVOKE_PREFIX in uri:
        uri = uri.split(_INVOKE_PREFIX, 1)[1].removesuffix("/invocations")
    return model.by_name(uri)


def read_api(deployment: Deployment, api_id_logical: str, model: InstanceModel) -> ApiSpec:
    api_id = str(deployment.attributes(api_id_logical, None))
    api_props = deployment.resolved_properties(api_id_logical)
    by_ref: dict[str, str] = {}
    routes_raw: list[str] = []
    stage_props: dict[str, Any] | None = None
    permissions: list[dict[str, Any]] = []
    for logical_id, resource in deployment.resources.items():
        kind = resource.get("Type")
        if kind == "AWS::Lambda::Permission":
            permissions.append(deployment.resolved_properties(logical_id))
            continue
        if not str(kind).startswith("AWS::ApiGatewayV2::") or kind == "AWS::ApiGatewayV2::Api":
            continue
        if deployment.resolve((resource.get("Properties") or {}).get("ApiId")) != api_id:
            continue
        by_ref[str(deployment.attributes(logical_id, None))] = logical_id
        if kind == "AWS::ApiGatewayV2::Route":
            routes_raw.append(logical_id)
        elif kind == "AWS::ApiGatewayV2::Stage":
            stage_props = deployment.resolved_properties(logical_id)
        elif kind in ("AWS::ApiGatewayV2::DomainName", "AWS::ApiGatewayV2::ApiMapping"):
            deployment.note("custom domain names")
    authorizers: dict[str, AuthorizerSpec] = {}
    routes = []
    for logical_id in routes_raw:
        props = deployment.resolved_properties(logical_id)
        target = str(props.get("Target", ""))
        integration = by_ref.get(target.removeprefix("integrations/"))
        function = None
        payload = "2.0"
        if integration is not None:
            integration_props = deployment.resolved_properties(integration)
            function = _function_from_uri(model, str(integration_props.get("IntegrationUri", "")))
            payload = str(integration_props.get("PayloadFormatVersion", "2.0"))
        authorizer = None
        if props.get("AuthorizerId"):
            authorizer_id = by_ref.get(str(props["AuthorizerId"]))
            if authorizer_id is None:
                raise TemplateError(f"route {props.get('RouteKey')} names an authorizer that is not in the template")
            if authorizer_id not in authorizers:
                authorizers[authorizer_id] = _authorizer(deployment, authorizer_id, model)
            authorizer = authorizers[authorizer_id]
        kind = str(props.get("AuthorizationType", "NONE"))
        if kind == "AWS_IAM":
            deployment.note("IAM-authorized routes (answered 403)")
        route = RouteSpec(
            route_key=str(props["RouteKey"]),
            function=function,
            authorization_type=kind,
            authorizer=authorizer,
            scopes=[str(s) for s in props.get("AuthorizationScopes") or []],
            payload_format=payload,
        )
        if function is not None:
            route.invoke_permitted = _permitted(deployment, permissions, function, api_id, route.route_key)
        routes.append(route)
    spec = ApiSpec(api_id=api_id, routes=routes, cors=api_props.get("CorsConfiguration"))
    if stage_props is not None:
        settings = stage_props.get("DefaultRouteSettings") or {}
        spec.rate_limit = settings.get("ThrottlingRateLimit")
        spec.burst_limit = settings.get("ThrottlingBurstLimit")
        spec.stage = str(stage_props.get("StageName", "$default"))
        if stage_props.get("AccessLogSettings"):
            deployment.note("API access logs")
        if stage_props.get("RouteSettings"):
            deployment.note("per-route stage settings")
    return spec


def _authorizer(deployment: Deployment, logical_id: str, model: InstanceModel) -> AuthorizerSpec:
    props = deployment.resolved_properties(logical_id)
    kind = str(props.get("AuthorizerType"))
    spec = AuthorizerSpec(
        logical_id=logical_id, kind=kind, identity_source=[str(s) for s in _as_list(props.get("IdentitySource"))]
    )
    if kind == "JWT":
        jwt = props.get("JwtConfiguration") or {}
        spec.issuer = str(jwt.get("Issuer", ""))
        spec.audience = [str(a) for a in _as_list(jwt.get("Audience"))]
    elif kind == "REQUEST":
        spec.function = _function_from_uri(model, str(props.get("AuthorizerUri", "")))
        if spec.function is None:
            raise TemplateError(f"Lambda authorizer {logical_id} invokes a function that is not part of this instance")
        spec.result_ttl = int(props.get("AuthorizerResultTtlInSeconds", 0))
        spec.simple_responses = bool(props.get("EnableSimpleResponses", False))
        spec.payload_format = str(props.get("AuthorizerPayloadFormatVersion", "2.0"))
        if props.get("AuthorizerCredentialsArn"):
            deployment.note("authorizer invocation roles")
    else:
        raise TemplateError(f"authorizer {logical_id} has type {kind!r}; local mode emulates JWT and REQUEST")
    return spec


def _permitted(
    deployment: Deployment, permissions: list[dict[str, Any]], function: FunctionSpec, api_id: str, route_key: str
) -> bool:
    """Whether a resource policy lets API Gateway invoke ``function`` for this route (else it answers 500)."""
    from .iam import arn_pattern_matches

    method, _, path = route_key.partition(" ")
    source = f"arn:aws:execute-api:{deployment.region}:{deployment.account_id}:{api_id}/$default/{method}{path}"
    for permission in permissions:
        if permission.get("Principal") != "apigateway.amazonaws.com":
            continue
        if model_function_matches(function, str(permission.get("FunctionName", ""))) and (
            "SourceArn" not in permission or arn_pattern_matches(str(permission["SourceArn"]), source)
        ):
            return True
    return False


def model_function_matches(function: FunctionSpec, name_or_arn: str) -> bool:
    short = name_or_arn.rsplit(":function:", 1)[-1].split(":")[0]
    return short in (function.name, function.arn)


# ------------------------------------------------------------------------------------- the instance
def read_instance(deployment: Deployment, instance: Instance) -> InstanceModel:
    model = InstanceModel(functions={}, event_sources=[], api=None)
    for part in FUNCTION_PARTS:
        logical_id = instance.one(part)
        if logical_id is not None:
            model.functions[logical_id] = read_function(deployment, logical_id, part)
    for part in ("dispatcher-event-source", "webhook-event-source"):
        logical_id = instance.one(part)
        if logical_id is not None:
            model.event_sources.append(read_event_source(deployment, logical_id, model))
    api = instance.one("http-api")
    if api is not None:
        model.api = read_api(deployment, api, model)
    if instance.parts.get("domain-name"):
        deployment.note("custom domain names")
    alarms = sum(1 for r in deployment.resources.values() if r.get("Type") == "AWS::CloudWatch::Alarm")
    if alarms:
        deployment.note(f"CloudWatch alarms ({alarms})")
    if any(r.get("Type") == "AWS::CloudWatch::Dashboard" for r in deployment.resources.values()):
        deployment.note("the CloudWatch dashboard")
    if any(r.get("Type") == "AWS::SQS::QueuePolicy" for r in deployment.resources.values()):
        deployment.note("queue resource policies (local mode speaks plain HTTP on loopback)")
    return model
