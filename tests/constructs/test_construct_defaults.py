"""What ``TransflowStatus`` provisions when only ``auth`` (and a webhook) is given: every secure default."""

from __future__ import annotations

import json

import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match
from transflow_runtime import schema

from transflow_constructs import queues as queue_module
from transflow_constructs import status as status_module

from .cdk_helpers import AUDIENCE, ISSUER, SECRET_SENTINEL, Synth, as_list, logical_id, of_type, permissions

# ---- table ------------------------------------------------------------------------------------------


def test_table_is_encrypted_recoverable_protected_and_retained(oidc: Synth) -> None:
    tables = of_type(oidc.template, "AWS::DynamoDB::Table")
    assert len(tables) == 1
    (table,) = tables.values()
    props = table["Properties"]
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["DeletionProtectionEnabled"] is True
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"
    assert props["BillingMode"] == "PAY_PER_REQUEST"


def test_table_has_the_keys_index_ttl_and_stream_the_runtime_uses(oidc: Synth) -> None:
    oidc.assertions.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": schema.PARTITION_KEY, "KeyType": "HASH"}],
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": schema.USER_INDEX_NAME,
                    "KeySchema": [
                        {"AttributeName": schema.USER_ID_ATTRIBUTE, "KeyType": "HASH"},
                        {"AttributeName": schema.CREATED_AT_ATTRIBUTE, "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            "TimeToLiveSpecification": {"AttributeName": schema.TTL_ATTRIBUTE, "Enabled": True},
            "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
        },
    )


# ---- queues -----------------------------------------------------------------------------------------


def test_every_queue_is_encrypted_and_refuses_plain_http(oidc: Synth) -> None:
    queues = of_type(oidc.template, "AWS::SQS::Queue")
    assert len(queues) == 3
    for queue in queues.values():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
    policies = of_type(oidc.template, "AWS::SQS::QueuePolicy")
    covered = set()
    for policy in policies.values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}:
                assert statement["Action"] == "sqs:*"
                assert statement["Principal"] == {"AWS": "*"}
                covered.update(json.dumps(q, sort_keys=True) for q in policy["Properties"]["Queues"])
    expected = {json.dumps({"Ref": queue_id}, sort_keys=True) for queue_id in queues}
    assert covered == expected


def test_webhook_queue_dead_letters_after_the_scheduled_attempts_plus_margin(oidc: Synth) -> None:
    status = oidc.status
    attempts = len(schema.DEFAULT_WEBHOOK_RETRY_DELAYS) + 1
    assert status.webhook_attempts == attempts
    queue = oidc.template["Resources"][logical_id(oidc, status.webhook_queue)]["Properties"]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": oidc.resolve(status.dead_letter_queue.queue_arn),
        "maxReceiveCount": attempts + queue_module.RECEIVE_SAFETY_MARGIN,
    }
    # AWS's rule for SQS event sources: visibility >= 6x the function timeout.
    function = oidc.template["Resources"][logical_id(oidc, status.webhook_function)]["Properties"]
    assert function["Timeout"] == 60
    assert queue["VisibilityTimeout"] == 6 * function["Timeout"]
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600
    # The whole default schedule fits in the retention period.
    assert sum(schema.DEFAULT_WEBHOOK_RETRY_DELAYS) < queue["MessageRetentionPeriod"]


def test_dead_letter_queues_keep_messages_for_fourteen_days(oidc: Synth) -> None:
    for queue in (oidc.status.dead_letter_queue, oidc.status.stream_failure_queue):
        props = oidc.template["Resources"][logical_id(oidc, queue)]["Properties"]
        assert props["MessageRetentionPeriod"] == 1209600


def test_dead_letter_queues_are_retained_like_the_table(oidc: Synth) -> None:
    """Dead letters are the only record of undelivered webhooks: deleting the stack keeps them."""
    resources = oidc.template["Resources"]
    for queue in (oidc.status.dead_letter_queue, oidc.status.stream_failure_queue):
        resource = resources[logical_id(oidc, queue)]
        assert (resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy")) == ("Retain", "Retain")
    webhook_queue = resources[logical_id(oidc, oidc.status.webhook_queue)]
    assert webhook_queue.get("DeletionPolicy") == "Delete"


# ---- functions --------------------------------------------------------------------------------------

HANDLERS = {
    "status": schema.HANDLER_STATUS,
    "dispatcher": schema.HANDLER_DISPATCHER,
    "webhook": schema.HANDLER_WEBHOOK,
}


def _functions(synth_result: Synth) -> dict[str, dict]:
    return {name: fn["Properties"] for name, fn in of_type(synth_result.template, "AWS::Lambda::Function").items()}


def test_each_function_runs_its_handler_from_one_shared_asset(oidc: Synth, shared: Synth) -> None:
    handlers = sorted(f["Handler"] for f in _functions(oidc).values())
    assert handlers == sorted(HANDLERS.values())
    handlers = sorted(f["Handler"] for f in _functions(shared).values())
    assert handlers == sorted([*HANDLERS.values(), schema.HANDLER_AUTHORIZER])
    keys = {json.dumps(f["Code"], sort_keys=True) for f in _functions(shared).values()}
    assert len(keys) == 1, "all functions must share one asset"


def test_function_defaults_python_313_arm64_256mb_active_tracing(shared: Synth) -> None:
    for props in _functions(shared).values():
        assert props["Runtime"] == "python3.13"
        assert props["Architectures"] == ["arm64"]
        assert props["MemorySize"] == 256
        assert props["TracingConfig"] == {"Mode": "Active"}


def test_function_timeouts_default_to_ten_thirty_and_sixty_seconds(shared: Synth) -> None:
    timeouts = {props["Handler"]: props["Timeout"] for props in _functions(shared).values()}
    assert timeouts == {
        schema.HANDLER_STATUS: 10,
        schema.HANDLER_AUTHORIZER: 10,
        schema.HANDLER_DISPATCHER: 30,
        schema.HANDLER_WEBHOOK: 60,
    }


def test_every_function_logs_to_its_own_log_group_with_finite_retention(shared: Synth) -> None:
    log_groups = of_type(shared.template, "AWS::Logs::LogGroup")
    # four functions + API access logs
    assert len(log_groups) == 5
    for group in log_groups.values():
        assert group["Properties"]["RetentionInDays"] == 90
        assert group["DeletionPolicy"] == "Retain"
    used = [props["LoggingConfig"]["LogGroup"]["Ref"] for props in _functions(shared).values()]
    assert len(set(used)) == 4 and set(used) <= set(log_groups)
    # No log_retention= custom resource (its Lambda would itself need a wildcard policy).
    assert not of_type(shared.template, "Custom::LogRetention")
    assert set(shared.status.log_groups) == {"status", "webhook", "dispatcher", "authorizer", "access"}


def test_function_roles_carry_no_managed_policies(shared: Synth) -> None:
    for role in of_type(shared.template, "AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]
        assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
            {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}
        ]


def test_only_actions_without_resource_level_permissions_use_a_wildcard_resource(shared: Synth) -> None:
    """Service Authorization Reference (AWS X-Ray; Amazon DynamoDB): these actions list no resource
    type, so IAM only matches them with ``Resource: *``; each sits alone in its own policy."""
    wildcard = {
        "WriteTraces": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
        "ListTableStreams": ["dynamodb:ListStreams"],
    }
    for policy in of_type(shared.template, "AWS::IAM::Policy").values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        for statement in statements:
            if "*" in as_list(statement["Resource"]):
                assert sorted(as_list(statement["Action"])) == wildcard[statement["Sid"]]
                assert len(statements) == 1


# ---- IAM per function -------------------------------------------------------------------------------


def _fid(synth_result: Synth, function) -> str:
    return logical_id(synth_result, function)


def _log_arn(synth_result: Synth, group) -> list:
    return [synth_result.resolve(group.log_group_arn)]


XRAY = (["xray:PutTelemetryRecords", "xray:PutTraceSegments"], ["*"])
LOGS = ["logs:CreateLogStream", "logs:PutLogEvents"]


def test_status_function_may_read_the_table_and_index_and_enqueue_replays_only(oidc: Synth) -> None:
    s = oidc.status
    table_arn = oidc.resolve(s.table.table_arn)
    assert permissions(oidc.template, _fid(oidc, s.status_function)) == {
        "WriteOwnLogs": (LOGS, _log_arn(oidc, s.status_log_group)),
        "ReadItems": (["dynamodb:BatchGetItem", "dynamodb:GetItem"], [table_arn]),
        "ListByUser": (
            ["dynamodb:Query"],
            [{"Fn::Join": ["", [table_arn, f"/index/{schema.USER_INDEX_NAME}"]]}],
        ),
        "SendToWebhookQueue": (["sqs:SendMessage"], [oidc.resolve(s.webhook_queue.queue_arn)]),
        "WriteTraces": XRAY,
    }


def test_dispatcher_may_read_the_stream_and_send_to_the_queues_only(oidc: Synth) -> None:
    s = oidc.status
    assert permissions(oidc.template, _fid(oidc, s.dispatcher_function)) == {
        "WriteOwnLogs": (LOGS, _log_arn(oidc, s.dispatcher_log_group)),
        "ReadTableStream": (
            ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
            [oidc.resolve(s.table.table_stream_arn)],
        ),
        "ListTableStreams": (["dynamodb:ListStreams"], ["*"]),
        "SendToWebhookQueue": (["sqs:SendMessage"], [oidc.resolve(s.webhook_queue.queue_arn)]),
        "SendToStreamFailureQueue": (["sqs:SendMessage"], [oidc.resolve(s.stream_failure_queue.queue_arn)]),
        "WriteTraces": XRAY,
    }


def test_webhook_function_may_read_its_secrets_record_delivery_and_steer_its_queue(oidc: Synth) -> None:
    s = oidc.status
    secret_id = next(iter(of_type(oidc.template, "AWS::SecretsManager::Secret")))
    assert permissions(oidc.template, _fid(oidc, s.webhook_function)) == {
        "WriteOwnLogs": (LOGS, _log_arn(oidc, s.webhook_log_group)),
        "ReadAndRecordDelivery": (["dynamodb:GetItem", "dynamodb:UpdateItem"], [oidc.resolve(s.table.table_arn)]),
        "ConsumeWebhookQueue": (
            ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
            [oidc.resolve(s.webhook_queue.queue_arn)],
        ),
        "SendToDeadLetterQueue": (["sqs:SendMessage"], [oidc.resolve(s.dead_letter_queue.queue_arn)]),
        "ReadWebhookSecrets": (["secretsmanager:GetSecretValue"], [{"Ref": secret_id}]),
        "WriteTraces": XRAY,
    }


def test_authorizer_may_read_its_jwt_secret_and_nothing_else(shared: Synth) -> None:
    s = shared.status
    assert s.authorizer_function is not None
    jwt_secret_id = logical_id(shared, shared.stack.node.find_child("JwtSecret"))
    assert permissions(shared.template, _fid(shared, s.authorizer_function)) == {
        "WriteOwnLogs": (LOGS, _log_arn(shared, s.authorizer_log_group)),
        "ReadJwtSecret": (["secretsmanager:GetSecretValue"], [{"Ref": jwt_secret_id}]),
        "WriteTraces": XRAY,
    }


def test_oidc_variant_has_no_authorizer_function(oidc: Synth) -> None:
    assert oidc.status.authorizer_function is None
    assert oidc.status.authorizer_log_group is None
    assert len(_functions(oidc)) == 3


# ---- environment ------------------------------------------------------------------------------------


def _env(synth_result: Synth, function) -> dict:
    return synth_result.template["Resources"][_fid(synth_result, function)]["Properties"]["Environment"]["Variables"]


def test_status_environment_names_the_table_queue_claim_and_namespace(oidc: Synth) -> None:
    s = oidc.status
    assert _env(oidc, s.status_function) == {
        schema.ENV_TABLE_NAME: oidc.resolve(s.table.table_name),
        schema.ENV_WEBHOOK_QUEUE_URL: oidc.resolve(s.webhook_queue.queue_url),
        schema.ENV_USER_ID_CLAIM: "sub",
        schema.ENV_METRICS_NAMESPACE: schema.DEFAULT_METRICS_NAMESPACE,
        schema.INSTANCE_ID_ENV: oidc.resolve(s.instance_id),
    }


def test_dispatcher_environment_names_the_queues_and_namespace_only(oidc: Synth) -> None:
    """The dispatcher reads everything from the stream records; it never looks up the table by name.
    It dead-letters records it cannot understand to the stream-failure queue."""
    s = oidc.status
    assert _env(oidc, s.dispatcher_function) == {
        schema.ENV_WEBHOOK_QUEUE_URL: oidc.resolve(s.webhook_queue.queue_url),
        schema.ENV_STREAM_FAILURE_QUEUE_URL: oidc.resolve(s.stream_failure_queue.queue_url),
        schema.ENV_METRICS_NAMESPACE: schema.DEFAULT_METRICS_NAMESPACE,
        schema.INSTANCE_ID_ENV: oidc.resolve(s.instance_id),
    }


def test_webhook_environment_carries_config_schedule_and_queue_urls(oidc: Synth) -> None:
    s = oidc.status
    env = _env(oidc, s.webhook_function)
    assert set(env) == {
        schema.ENV_TABLE_NAME,
        schema.ENV_WEBHOOK_CONFIG,
        schema.ENV_WEBHOOK_RETRY_DELAYS,
        schema.ENV_WEBHOOK_TIMEOUT,
        schema.ENV_WEBHOOK_QUEUE_URL,
        schema.ENV_WEBHOOK_DLQ_URL,
        schema.ENV_METRICS_NAMESPACE,
        schema.INSTANCE_ID_ENV,
    }
    assert env[schema.ENV_WEBHOOK_RETRY_DELAYS] == ",".join(map(str, schema.DEFAULT_WEBHOOK_RETRY_DELAYS))
    assert env[schema.ENV_WEBHOOK_TIMEOUT] == str(schema.DEFAULT_WEBHOOK_TIMEOUT_SECONDS)
    assert env[schema.ENV_WEBHOOK_DLQ_URL] == oidc.resolve(s.dead_letter_queue.queue_url)
    assert env[schema.ENV_WEBHOOK_QUEUE_URL] == oidc.resolve(s.webhook_queue.queue_url)
    # The config is a Fn::Join around the secret's ARN; fill the ARN in and parse the JSON.
    parts = env[schema.ENV_WEBHOOK_CONFIG]["Fn::Join"][1]
    secret_id = next(iter(of_type(oidc.template, "AWS::SecretsManager::Secret")))
    text = "".join(p if isinstance(p, str) else f"ARN({p['Ref']})" for p in parts)
    assert json.loads(text) == {
        "targets": {
            "tpl_basic_audio": {"url": "https://hooks.example.com/t", "secret_arn": f"ARN({secret_id})"},
        },
        "default": None,
        "allow_notify_url": False,
        "notify_url_secret_arn": None,
    }


def test_authorizer_environment_names_its_secret_issuer_audience_and_claim(shared: Synth) -> None:
    s = shared.status
    jwt_secret_id = logical_id(shared, shared.stack.node.find_child("JwtSecret"))
    assert _env(shared, s.authorizer_function) == {
        schema.ENV_JWT_SECRET_ARN: {"Ref": jwt_secret_id},
        schema.ENV_JWT_ISSUER: "transflow-tests",
        schema.ENV_JWT_AUDIENCE: "a1,a2",
        schema.ENV_USER_ID_CLAIM: "sub",
        schema.ENV_METRICS_NAMESPACE: schema.DEFAULT_METRICS_NAMESPACE,
        schema.INSTANCE_ID_ENV: shared.resolve(s.instance_id),
    }


def test_no_function_configuration_contains_a_secret_value(oidc: Synth, shared: Synth) -> None:
    for synth_result in (oidc, shared):
        # the value exists in the template (the test secrets hold it) ...
        assert SECRET_SENTINEL in json.dumps(synth_result.template)
        # ... but never in a function, a role or an event source
        for resource_type in ("AWS::Lambda::Function", "AWS::IAM::Policy", "AWS::Lambda::EventSourceMapping"):
            for resource in of_type(synth_result.template, resource_type).values():
                text = json.dumps(resource)
                assert SECRET_SENTINEL not in text
                assert "resolve:secretsmanager" not in text


# ---- event sources ----------------------------------------------------------------------------------


def test_stream_mapping_filters_bisects_retries_boundedly_and_dead_letters(oidc: Synth) -> None:
    s = oidc.status
    oidc.assertions.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": oidc.resolve(s.table.table_stream_arn),
            "FunctionName": oidc.resolve(s.dispatcher_function.function_name),
            "StartingPosition": "TRIM_HORIZON",
            "BatchSize": 100,
            "BisectBatchOnFunctionError": True,
            "MaximumRetryAttempts": status_module.DEFAULT_STREAM_RETRY_ATTEMPTS,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "DestinationConfig": {"OnFailure": {"Destination": oidc.resolve(s.stream_failure_queue.queue_arn)}},
        },
    )


def test_stream_mapping_filters_on_terminal_transitions_by_either_convention(oidc: Synth) -> None:
    """FilterCriteria is terminal.py's STREAM_FILTER_PATTERNS, one filter each (AWS::Lambda::
    EventSourceMapping FilterCriteria: Filters of {Pattern: string up to 4096 characters})."""
    from transflow_runtime.terminal import STREAM_FILTER_PATTERNS

    [mapping] = [
        m["Properties"] for m in oidc.assertions.find_resources("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == oidc.resolve(oidc.status.dispatcher_function.function_name)
    ]
    filters = mapping["FilterCriteria"]["Filters"]
    assert [json.loads(f["Pattern"]) for f in filters] == STREAM_FILTER_PATTERNS
    assert all(isinstance(f["Pattern"], str) and len(f["Pattern"]) <= 4096 for f in filters)


def test_webhook_mapping_reports_partial_failures_in_batches_of_ten_with_bounded_concurrency(oidc: Synth) -> None:
    s = oidc.status
    oidc.assertions.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": oidc.resolve(s.webhook_queue.queue_arn),
            "FunctionName": oidc.resolve(s.webhook_function.function_name),
            "BatchSize": 10,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": 5},
        },
    )


def test_event_source_mappings_wait_for_their_permissions(oidc: Synth) -> None:
    for mapping in of_type(oidc.template, "AWS::Lambda::EventSourceMapping").values():
        function_id = mapping["Properties"]["FunctionName"]["Ref"]
        role_id = oidc.template["Resources"][function_id]["Properties"]["Role"]["Fn::GetAtt"][0]
        policies = [
            pid
            for pid, p in of_type(oidc.template, "AWS::IAM::Policy").items()
            if {"Ref": role_id} in p["Properties"]["Roles"] and pid in mapping.get("DependsOn", [])
        ]
        assert policies, "the mapping must depend on the policy granting its reads"


# ---- HTTP API ---------------------------------------------------------------------------------------

ROUTE_KEYS = {f"{method} {path}" for method, path in schema.ROUTES}


@pytest.mark.parametrize("variant", ["oidc", "shared"])
def test_every_route_requires_the_authorizer(variant: str, request: pytest.FixtureRequest) -> None:
    synth_result: Synth = request.getfixturevalue(variant)
    authorizers = of_type(synth_result.template, "AWS::ApiGatewayV2::Authorizer")
    assert len(authorizers) == 1
    (authorizer_id,) = authorizers
    routes = of_type(synth_result.template, "AWS::ApiGatewayV2::Route")
    assert {r["Properties"]["RouteKey"] for r in routes.values()} == ROUTE_KEYS
    expected_type = "JWT" if variant == "oidc" else "CUSTOM"
    for route in routes.values():
        assert route["Properties"]["AuthorizationType"] == expected_type
        assert route["Properties"]["AuthorizerId"] == {"Ref": authorizer_id}


def test_oidc_authorizer_checks_issuer_and_audience(oidc: Synth) -> None:
    oidc.assertions.has_resource_properties(
        "AWS::ApiGatewayV2::Authorizer",
        {
            "AuthorizerType": "JWT",
            "IdentitySource": ["$request.header.Authorization"],
            "JwtConfiguration": {"Issuer": ISSUER, "Audience": [AUDIENCE]},
        },
    )


def test_shared_secret_authorizer_is_a_cached_simple_response_lambda(shared: Synth) -> None:
    shared.assertions.has_resource_properties(
        "AWS::ApiGatewayV2::Authorizer",
        {
            "AuthorizerType": "REQUEST",
            "AuthorizerPayloadFormatVersion": "2.0",
            "EnableSimpleResponses": True,
            "AuthorizerResultTtlInSeconds": 300,
            "IdentitySource": ["$request.header.Authorization"],
            "AuthorizerUri": Match.object_like(
                {
                    "Fn::Join": Match.array_with(
                        [Match.array_with([shared.resolve(shared.status.authorizer_function.function_arn)])]
                    )
                }
            ),
        },
    )


def test_integrations_use_payload_format_two(oidc: Synth) -> None:
    integrations = of_type(oidc.template, "AWS::ApiGatewayV2::Integration")
    assert len(integrations) == 1
    (integration,) = integrations.values()
    assert integration["Properties"]["PayloadFormatVersion"] == "2.0"
    assert integration["Properties"]["IntegrationType"] == "AWS_PROXY"


def test_default_stage_logs_access_and_throttles(oidc: Synth) -> None:
    stage = next(iter(of_type(oidc.template, "AWS::ApiGatewayV2::Stage").values()))["Properties"]
    assert stage["StageName"] == "$default"
    assert stage["AccessLogSettings"]["DestinationArn"] == oidc.resolve(oidc.status.access_log_group.log_group_arn)
    log_format = json.loads(stage["AccessLogSettings"]["Format"])
    assert log_format["requestId"] == "$context.requestId"
    assert "authorization" not in stage["AccessLogSettings"]["Format"].lower().replace("authorizer", "")
    assert stage["DefaultRouteSettings"] == {
        "ThrottlingRateLimit": 100,
        "ThrottlingBurstLimit": 200,
        "DetailedMetricsEnabled": True,
    }


def test_cors_and_custom_domain_are_off_by_default(oidc: Synth) -> None:
    api = next(iter(of_type(oidc.template, "AWS::ApiGatewayV2::Api").values()))["Properties"]
    assert "CorsConfiguration" not in api
    assert api.get("DisableExecuteApiEndpoint", False) is False
    assert not of_type(oidc.template, "AWS::ApiGatewayV2::DomainName")


# ---- outputs, properties and grants -----------------------------------------------------------------


def test_outputs_expose_url_table_queues_and_function(oidc: Synth) -> None:
    s = oidc.status
    outputs = {k: v["Value"] for k, v in oidc.template["Outputs"].items()}
    expected = {
        "ApiUrl": oidc.resolve(s.api_url),
        "TableName": oidc.resolve(s.table.table_name),
        "WebhookQueueUrl": oidc.resolve(s.webhook_queue.queue_url),
        "DeadLetterQueueUrl": oidc.resolve(s.dead_letter_queue.queue_url),
        "StatusFunctionName": oidc.resolve(s.status_function.function_name),
    }
    for name, value in expected.items():
        matching = [k for k in outputs if k.startswith(f"Status{name}")]
        assert len(matching) == 1, name
        assert outputs[matching[0]] == value


def test_api_url_is_the_default_stage_url(oidc: Synth) -> None:
    url = oidc.resolve(oidc.status.api_url)
    joined = url["Fn::Join"][1]
    assert joined[0] == "https://"
    assert joined[-1] == "/"


def _grant_statements(build) -> tuple[Synth, list[dict]]:
    from .cdk_helpers import default_oidc, synth

    holder: dict = {}

    def compose(stack):
        status = default_oidc(stack)
        role = iam.Role(stack, "Worker", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"))
        build(status, role)
        holder["role"] = role
        return status

    result = synth(compose)
    role_id = logical_id(result, holder["role"])
    statements = []
    for policy in of_type(result.template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return result, statements


def _by_resource(statements: list[dict]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for statement in statements:
        for resource in as_list(statement["Resource"]):
            result.setdefault(json.dumps(resource, sort_keys=True), []).extend(as_list(statement["Action"]))
    return {k: sorted(v) for k, v in result.items()}


def test_grant_status_write_covers_what_status_store_calls(oidc: Synth) -> None:
    result, statements = _grant_statements(lambda status, role: status.grant_status_write(role))
    table_arn = result.resolve(result.status.table.table_arn)
    index_arn = {"Fn::Join": ["", [table_arn, f"/index/{schema.USER_INDEX_NAME}"]]}
    assert _by_resource(statements) == {
        json.dumps(table_arn, sort_keys=True): [
            "dynamodb:BatchGetItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
        ],
        json.dumps(index_arn, sort_keys=True): ["dynamodb:Query"],
    }


def test_grant_status_read_is_read_only(oidc: Synth) -> None:
    _, statements = _grant_statements(lambda status, role: status.grant_status_read(role))
    actions = sorted(a for s in statements for a in as_list(s["Action"]))
    assert actions == ["dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:Query"]


def test_grant_invoke_status_names_the_function_only(oidc: Synth) -> None:
    result, statements = _grant_statements(lambda status, role: status.grant_invoke_status(role))
    assert statements == [
        {
            "Action": "lambda:InvokeFunction",
            "Effect": "Allow",
            "Resource": result.resolve(result.status.status_function.function_arn),
        }
    ]
