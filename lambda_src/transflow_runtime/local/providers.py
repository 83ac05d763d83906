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

from .. import schema
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
    #: The template's ``Runtime`` (``python3.13``); empty when it names none.
    runtime: str = ""


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
def need(props: dict[str, Any], key: str, logical_id: str) -> Any:
    """``props[key]``, or ``TemplateError`` naming the resource and the missing property."""
    if not isinstance(props, dict) or key not in props:
        raise TemplateError(f"{logical_id} lacks the property {key}")
    return props[key]


def role_policies(deployment: Deployment, role_arn: str) -> list[dict[str, Any]]:
    """Every identity policy of the role: policies naming it in ``Roles``, its inline policies and
    its managed policies (AWS managed ones from moto's copy of them)."""
    role_id = deployment.logical_id_of("AWS::IAM::Role", role_arn)
    if role_id is None:
        deployment.note(f"the role {role_arn} (not in this template): its function gets no permissions")
        return []
    deployment.consumed.add(role_id)
    role_name = deployment.attributes(role_id, None)
    documents: list[dict[str, Any]] = []
    for logical_id, resource in deployment.resources.items():
        if resource.get("Type") not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            continue
        properties = resource.get("Properties") or {}
        roles = [str(r).rsplit("/", 1)[-1] for r in _as_list(deployment.resolve(properties.get("Roles")))]
        if role_name in roles:
            documents.append(deployment.resolve(need(properties, "PolicyDocument", logical_id)))
            deployment.consumed.add(logical_id)
    role = deployment.properties(role_id)
    documents.extend(deployment.resolve(need(p, "PolicyDocument", role_id)) for p in role.get("Policies") or [])
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
    deployment.consumed.add(logical_id)
    log_group = (props.get("LoggingConfig") or {}).get("LogGroup")
    if isinstance(log_group, dict) and isinstance(log_group.get("Ref"), str):
        deployment.consumed.add(log_group["Ref"])  # its lines go to local mode's output (--verbose)
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
        runtime=runtime,
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
    if kind == "dynamodb":
        source = _stream_made_here(deployment, logical_id, source)
    deployment.consumed.add(logical_id)
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
    filters = [str(need(f, "Pattern", logical_id)) for f in (props.get("FilterCriteria") or {}).get("Filters") or []]
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


def _stream_made_here(deployment: Deployment, logical_id: str, arn: str) -> str:
    """The stream a mapping reads: a table's of this template, or an imported table's (the template
    names its stream literally; the table made here has its own stream ARN, aliased to it)."""
    if any(values.get("StreamArn") == arn for values in deployment.made_values()):
        return arn
    name = arn.split(":table/", 1)[-1].split("/stream/", 1)[0]
    values = deployment.table_named(name) or deployment.imported_table(name)
    real = values.get("StreamArn")
    if not real:
        raise TemplateError(f"event source mapping {logical_id}: the table {name} has no stream")
    deployment.aliases[str(real)] = arn
    return str(real)


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
            permissions.append((logical_id, deployment.resolved_properties(logical_id)))
            continue
        if not str(kind).startswith("AWS::ApiGatewayV2::") or kind == "AWS::ApiGatewayV2::Api":
            continue
        if deployment.resolve((resource.get("Properties") or {}).get("ApiId")) != api_id:
            continue
        by_ref[str(deployment.attributes(logical_id, None))] = logical_id
        if kind not in ("AWS::ApiGatewayV2::DomainName", "AWS::ApiGatewayV2::ApiMapping"):
            deployment.consumed.add(logical_id)  # routes, integrations, authorizers, the stage
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
            route_key=str(need(props, "RouteKey", logical_id)),
            function=function,
            authorization_type=kind,
            authorizer=authorizer,
            scopes=[str(s) for s in props.get("AuthorizationScopes") or []],
            payload_format=payload,
        )
        if function is not None:
            route.invoke_permitted = _permitted(deployment, permissions, function, api_id, route.route_key)
        routes.append(route)
    deployment.consumed.add(api_id_logical)
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
    deployment: Deployment,
    permissions: list[tuple[str, dict[str, Any]]],
    function: FunctionSpec,
    api_id: str,
    route_key: str,
) -> bool:
    """Whether a resource policy lets API Gateway invoke ``function`` for this route (else it answers 500)."""
    from .iam import arn_pattern_matches

    method, _, path = route_key.partition(" ")
    source = f"arn:aws:execute-api:{deployment.region}:{deployment.account_id}:{api_id}/$default/{method}{path}"
    allowed = False
    for logical_id, permission in permissions:
        if permission.get("Principal") != "apigateway.amazonaws.com":
            continue
        if model_function_matches(function, str(permission.get("FunctionName", ""))) and (
            "SourceArn" not in permission or arn_pattern_matches(str(permission["SourceArn"]), source)
        ):
            deployment.consumed.add(logical_id)
            allowed = True
    return allowed


def model_function_matches(function: FunctionSpec, name_or_arn: str) -> bool:
    short = name_or_arn.rsplit(":function:", 1)[-1].split(":")[0]
    return short in (function.name, function.arn)


# ------------------------------------------------------------------------------------- the instance
def read_instance(deployment: Deployment, instance: Instance) -> InstanceModel:
    model = InstanceModel(functions={}, event_sources=[], api=None)
    if instance.one("table") is None:
        _imported_table(deployment, instance)
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
    return model


def _imported_table(deployment: Deployment, instance: Instance) -> None:
    """The instance uses a table the template does not hold (``table=`` an imported table): the
    functions name it; unless it is a table of the template after all (a user's ``TableV2``), it
    is made here with the status table's documented schema."""
    for part in FUNCTION_PARTS:
        logical_id = instance.one(part)
        if logical_id is None:
            continue
        variables = (deployment.resolved_properties(logical_id).get("Environment") or {}).get("Variables") or {}
        name = variables.get(schema.ENV_TABLE_NAME)
        if isinstance(name, str) and name:
            if deployment.table_named(name) is None:
                deployment.imported_table(name)
            return


def not_run(deployment: Deployment, instance: Instance, others: list[str]) -> list[str]:
    """What the template holds that local mode neither runs nor emulates, one phrase per group:
    this instance's other resources by type, the stack's own resources by type with their logical
    ids, and each other ``TransflowStatus`` (which ``--instance`` would run)."""
    from .assembly import INSTANCE_KEY

    mine: dict[str, int] = {}
    theirs: dict[str, list[str]] = {}
    other: dict[str, int] = {}
    for logical_id, resource in deployment.resources.items():
        kind = str(resource.get("Type"))
        if logical_id in deployment.consumed or kind == "AWS::CDK::Metadata":
            continue
        address = (resource.get("Metadata") or {}).get(INSTANCE_KEY)
        if address == instance.address:
            mine[kind] = mine.get(kind, 0) + 1
        elif address:
            other[str(address)] = other.get(str(address), 0) + 1
        else:
            theirs.setdefault(kind, []).append(logical_id)
    phrases = []
    if mine:
        listed = ", ".join(f"{kind} x{count}" for kind, count in sorted(mine.items()))
        phrases.append(f"this TransflowStatus's {listed}")
    if theirs:
        listed = "; ".join(f"{kind} ({', '.join(sorted(ids))})" for kind, ids in sorted(theirs.items()))
        phrases.append(f"the stack's own resources: {listed}")
    for address in others:
        count = other.get(address, 0)
        phrases.append(f"the other TransflowStatus {address} ({count} resources; --instance {address[:10]} runs it)")
    return phrases
