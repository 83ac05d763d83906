"""Options: what each changes, and the combinations ``TransflowStatus`` refuses with a ValueError."""

from __future__ import annotations

import json
import re
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import assertions
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from transflow_runtime import schema

from transflow_constructs import StatusAuth, TransflowStatus, WebhookTarget
from transflow_constructs.functions import TOKEN_LENGTH_ESTIMATE, estimated_environment_bytes
from transflow_constructs.status import TABLE_OPTIONS, retry_schedule

from .cdk_helpers import Synth, as_list, logical_id, new_stack, of_type, oidc_auth, permissions, plain_secret, synth

HOOK_URL = "https://hooks.example.com/t"


def build(stack: cdk.Stack, **options: Any) -> TransflowStatus:
    options.setdefault("auth", oidc_auth())
    return TransflowStatus(stack, "Status", **options)


def synth_with(**options: Any) -> Synth:
    return synth(lambda stack: build(stack, **{k: v(stack) if callable(v) else v for k, v in options.items()}))


# ---- existing table ---------------------------------------------------------------------------------

STREAM_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/existing/stream/2024-01-01T00:00:00.000"


def imported_table(stack: cdk.Stack) -> dynamodb.ITable:
    return dynamodb.Table.from_table_attributes(stack, "Existing", table_name="existing", table_stream_arn=STREAM_ARN)


TABLE_OPTION_VALUES: dict[str, Any] = {
    "removal_policy": lambda stack: cdk.RemovalPolicy.DESTROY,
    "table_encryption_key": lambda stack: kms.Key(stack, "Key", enable_key_rotation=True),
    "deletion_protection": lambda stack: False,
    "point_in_time_recovery": lambda stack: False,
}


def test_table_options_list_is_complete() -> None:
    assert set(TABLE_OPTIONS) == set(TABLE_OPTION_VALUES)


@pytest.mark.parametrize("option", sorted(TABLE_OPTION_VALUES))
def test_existing_table_conflicts_with_table_only_options(option: str) -> None:
    stack = new_stack()
    with pytest.raises(ValueError, match=rf"table=.*{option}="):
        build(stack, table=imported_table(stack), **{option: TABLE_OPTION_VALUES[option](stack)})


def test_existing_table_without_stream_arn_is_refused() -> None:
    stack = new_stack()
    table = dynamodb.Table.from_table_name(stack, "Existing", "existing")
    with pytest.raises(ValueError, match="table_stream_arn"):
        build(stack, table=table)


def test_existing_table_is_used_instead_of_a_new_one() -> None:
    result = synth_with(table=imported_table)
    assert not of_type(result.template, "AWS::DynamoDB::Table")
    stream_statement = permissions(result.template, logical_id(result, result.status.dispatcher_function))
    assert stream_statement["ReadTableStream"][1] == [STREAM_ARN]
    mapping = next(
        m
        for m in of_type(result.template, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["EventSourceArn"] == STREAM_ARN
    )
    # An existing table's stream already holds a day of records: see test_table.py.
    assert mapping["Properties"]["StartingPosition"] == "LATEST"


STRING = dynamodb.AttributeType.STRING


def _table(stack: cdk.Stack, *, index: dict[str, Any] | None = None, **overrides: Any) -> dynamodb.Table:
    """A same-app table with everything the runtime needs, unless ``overrides``/``index`` say otherwise
    (``index=None`` for no user index at all)."""
    props: dict[str, Any] = {
        "partition_key": dynamodb.Attribute(name=schema.PARTITION_KEY, type=STRING),
        "stream": dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
        "time_to_live_attribute": schema.TTL_ATTRIBUTE,
        **overrides,
    }
    table = dynamodb.Table(stack, "Mine", **{k: v for k, v in props.items() if v is not None})
    if index is not None:
        table.add_global_secondary_index(
            **{
                "index_name": schema.USER_INDEX_NAME,
                "partition_key": dynamodb.Attribute(name=schema.USER_ID_ATTRIBUTE, type=STRING),
                "sort_key": dynamodb.Attribute(name=schema.CREATED_AT_ATTRIBUTE, type=STRING),
                **index,
            }
        )
    return table


def _table_v2(stack: cdk.Stack, **overrides: Any) -> dynamodb.TableV2:
    """A same-app ``TableV2`` shaped as the runtime needs, unless ``overrides`` say otherwise."""
    props: dict[str, Any] = {
        "partition_key": dynamodb.Attribute(name=schema.PARTITION_KEY, type=STRING),
        "dynamo_stream": dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
        "time_to_live_attribute": schema.TTL_ATTRIBUTE,
        "global_secondary_indexes": [
            dynamodb.GlobalSecondaryIndexPropsV2(
                index_name=schema.USER_INDEX_NAME,
                partition_key=dynamodb.Attribute(name=schema.USER_ID_ATTRIBUTE, type=STRING),
                sort_key=dynamodb.Attribute(name=schema.CREATED_AT_ATTRIBUTE, type=STRING),
            )
        ],
        **overrides,
    }
    return dynamodb.TableV2(stack, "Mine", **{k: v for k, v in props.items() if v is not None})


def _refused(table_factory: Any, match: str) -> None:
    stack = new_stack()
    with pytest.raises(ValueError, match=match):
        build(stack, table=table_factory(stack))


def test_table_from_the_same_app_with_the_right_shape_is_accepted() -> None:
    stack = new_stack()
    status = build(stack, table=_table(stack, index={}))
    assert status.table.node.id == "Mine"


def test_tablev2_from_the_same_app_with_the_right_shape_is_accepted() -> None:
    stack = new_stack()
    status = build(stack, table=_table_v2(stack))
    assert status.table.node.id == "Mine"


def test_table_with_another_partition_key_is_refused() -> None:
    _refused(
        lambda stack: _table(stack, index={}, partition_key=dynamodb.Attribute(name="id", type=STRING)),
        "partition key 'assembly_id'",
    )


def test_table_whose_partition_key_is_not_a_string_is_refused() -> None:
    key = dynamodb.Attribute(name=schema.PARTITION_KEY, type=dynamodb.AttributeType.BINARY)
    _refused(lambda stack: _table(stack, index={}, partition_key=key), "string partition key.*BINARY")


def test_existing_table_with_a_sort_key_is_refused() -> None:
    _refused(lambda stack: _table(stack, index={}, sort_key=dynamodb.Attribute(name="sk", type=STRING)), "sort key")


def test_table_without_the_user_index_is_refused() -> None:
    _refused(lambda stack: _table(stack, index=None), schema.USER_INDEX_NAME)


def test_existing_table_whose_user_index_does_not_project_all_attributes_is_refused() -> None:
    _refused(
        lambda stack: _table(stack, index={"projection_type": dynamodb.ProjectionType.KEYS_ONLY}),
        r"(?i)project ALL.*KEYS_ONLY",
    )


def test_existing_table_whose_index_keys_have_the_wrong_types_is_refused() -> None:
    number = dynamodb.AttributeType.NUMBER
    _refused(
        lambda stack: _table(
            stack, index={"sort_key": dynamodb.Attribute(name=schema.CREATED_AT_ATTRIBUTE, type=number)}
        ),
        "'created_at' must be a STRING attribute.*NUMBER",
    )


def test_table_whose_user_index_has_other_keys_is_refused() -> None:
    _refused(
        lambda stack: _table(stack, index={"sort_key": dynamodb.Attribute(name="updated_at", type=STRING)}),
        "must be keyed on 'user_id'.*'created_at'",
    )


def test_table_with_a_keys_only_stream_is_refused() -> None:
    _refused(lambda stack: _table(stack, index={}, stream=dynamodb.StreamViewType.KEYS_ONLY), "NEW_AND_OLD_IMAGES")


def test_table_without_time_to_live_is_refused() -> None:
    _refused(lambda stack: _table(stack, index={}, time_to_live_attribute=None), "time to live.*'ttl'")


def test_table_with_time_to_live_on_another_attribute_is_refused() -> None:
    _refused(lambda stack: _table(stack, index={}, time_to_live_attribute="expires"), "'ttl'.*'expires'")


def test_existing_tablev2_is_validated_like_a_table() -> None:
    _refused(
        lambda stack: _table_v2(stack, partition_key=dynamodb.Attribute(name="id", type=STRING)),
        "partition key 'assembly_id'",
    )
    _refused(lambda stack: _table_v2(stack, global_secondary_indexes=[]), schema.USER_INDEX_NAME)
    _refused(lambda stack: _table_v2(stack, time_to_live_attribute=None), "time to live")


def test_existing_tablev2_with_a_keys_only_stream_is_refused() -> None:
    _refused(lambda stack: _table_v2(stack, dynamo_stream=dynamodb.StreamViewType.KEYS_ONLY), "NEW_AND_OLD_IMAGES")


def test_existing_tablev2_without_a_stream_is_refused() -> None:
    _refused(lambda stack: _table_v2(stack, dynamo_stream=None), "no stream")


def test_existing_table_check_does_not_use_the_deprecated_schema_api(monkeypatch: pytest.MonkeyPatch) -> None:
    """``Table.schema()`` is deprecated: calling it prints a deprecation warning at every synth."""

    def deprecated(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("Table.schema() is deprecated")

    monkeypatch.setattr(dynamodb.Table, "schema", deprecated)
    stack = new_stack()
    build(stack, table=_table(stack, index={}))


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"removal_policy": cdk.RemovalPolicy.DESTROY}, "Delete"),
        ({"removal_policy": cdk.RemovalPolicy.RETAIN}, "Retain"),
        ({"table": imported_table}, "Retain"),
    ],
    ids=["destroy", "retain", "existing-table"],
)
def test_dead_letter_queues_follow_the_removal_policy(options: dict[str, Any], expected: str) -> None:
    result = synth_with(**options)
    for queue in (result.status.dead_letter_queue, result.status.stream_failure_queue):
        resource = result.template["Resources"][logical_id(result, queue)]
        assert (resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy")) == (expected, expected)


def test_table_options_apply_to_a_new_table() -> None:
    result = synth_with(
        removal_policy=cdk.RemovalPolicy.DESTROY,
        deletion_protection=False,
        point_in_time_recovery=False,
        table_encryption_key=lambda stack: kms.Key(stack, "TableKey", enable_key_rotation=True),
    )
    (table,) = of_type(result.template, "AWS::DynamoDB::Table").values()
    assert table["DeletionPolicy"] == "Delete"
    assert table["Properties"]["DeletionProtectionEnabled"] is False
    assert table["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": False}
    assert table["Properties"]["SSESpecification"]["SSEType"] == "KMS"


# ---- customer-managed keys --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def with_keys() -> Synth:
    def compose(stack: cdk.Stack) -> TransflowStatus:
        stack.table_key = kms.Key(stack, "TableKey", enable_key_rotation=True)
        stack.queue_key = kms.Key(stack, "QueueKey", enable_key_rotation=True)
        stack.secret_key = kms.Key(stack, "SecretKey", enable_key_rotation=True)
        hook_secret = secretsmanager.Secret(stack, "HookSecret", encryption_key=stack.secret_key)
        return build(
            stack,
            table_encryption_key=stack.table_key,
            queue_encryption_key=stack.queue_key,
            webhooks={"tpl": WebhookTarget(url=HOOK_URL, secret=hook_secret)},
        )

    return synth(compose)


def test_queues_use_the_given_key(with_keys: Synth) -> None:
    key_arn = with_keys.resolve(with_keys.stack.queue_key.key_arn)
    for queue in of_type(with_keys.template, "AWS::SQS::Queue").values():
        assert queue["Properties"]["KmsMasterKeyId"] == key_arn
        assert "SqsManagedSseEnabled" not in queue["Properties"]


def test_key_permissions_follow_the_data(with_keys: Synth) -> None:
    s = with_keys.status
    table_key = with_keys.resolve(with_keys.stack.table_key.key_arn)
    queue_key = with_keys.resolve(with_keys.stack.queue_key.key_arn)
    secret_key = with_keys.resolve(with_keys.stack.secret_key.key_arn)
    status = permissions(with_keys.template, logical_id(with_keys, s.status_function))
    assert status["TableKey"] == (["kms:Decrypt"], [table_key])
    assert status["SendToWebhookQueueKey"] == (["kms:Decrypt", "kms:GenerateDataKey"], [queue_key])
    webhook = permissions(with_keys.template, logical_id(with_keys, s.webhook_function))
    assert webhook["TableKey"] == (["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"], [table_key])
    assert webhook["ReadWebhookSecretsKey"] == (["kms:Decrypt"], [secret_key])
    # Receiving from an SSE-KMS queue needs kms:Decrypt on its key, granted with the consume statement.
    assert webhook["ConsumeWebhookQueueKey"] == (["kms:Decrypt"], [queue_key])
    dispatcher = permissions(with_keys.template, logical_id(with_keys, s.dispatcher_function))
    assert dispatcher["TableKey"] == (["kms:Decrypt"], [table_key])


def test_secret_key_may_only_be_used_through_secrets_manager(with_keys: Synth) -> None:
    s = with_keys.status
    for statement in (
        st
        for p in of_type(with_keys.template, "AWS::IAM::Policy").values()
        for st in p["Properties"]["PolicyDocument"]["Statement"]
        if st["Sid"] == "ReadWebhookSecretsKey"
    ):
        condition = statement["Condition"]["StringEquals"]["kms:ViaService"]
        assert "secretsmanager." in json.dumps(condition)
    assert s.webhook_function is not None


def test_grants_include_the_table_key(with_keys: Synth) -> None:
    role = iam.Role(with_keys.stack, "Worker", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"))
    with_keys.status.grant_status_write(role)
    statements = role.node.find_child("DefaultPolicy").document.to_json()["Statement"]
    key_statements = [s for s in statements if "kms:Encrypt" in as_list(s["Action"])]
    assert len(key_statements) == 1
    assert with_keys.stack.resolve(key_statements[0]["Resource"]) == with_keys.resolve(
        with_keys.stack.table_key.key_arn
    )


# ---- functions --------------------------------------------------------------------------------------


def test_function_options_apply_to_every_function() -> None:
    result = synth_with(
        architecture=lambda_.Architecture.X86_64,
        runtime=lambda_.Runtime.PYTHON_3_12,
        memory_size=512,
        tracing=lambda_.Tracing.DISABLED,
        log_retention=logs.RetentionDays.ONE_WEEK,
        status_timeout=cdk.Duration.seconds(5),
        user_id_claim="email",
        assembly_id_pattern=r"^[a-z0-9]{8,64}$",
        metrics_namespace="MyPipeline",
    )
    functions = of_type(result.template, "AWS::Lambda::Function")
    for props in (f["Properties"] for f in functions.values()):
        assert props["Architectures"] == ["x86_64"]
        assert props["Runtime"] == "python3.12"
        assert props["MemorySize"] == 512
        assert "TracingConfig" not in props
        assert props["Environment"]["Variables"][schema.ENV_METRICS_NAMESPACE] == "MyPipeline"
    for group in of_type(result.template, "AWS::Logs::LogGroup").values():
        assert group["Properties"]["RetentionInDays"] == 7
    status = functions[logical_id(result, result.status.status_function)]["Properties"]
    assert status["Timeout"] == 5
    assert status["Environment"]["Variables"][schema.ENV_USER_ID_CLAIM] == "email"
    assert status["Environment"]["Variables"][schema.ENV_ASSEMBLY_ID_PATTERN] == r"^[a-z0-9]{8,64}$"
    # Without tracing there is no X-Ray statement: the only wildcard left is dynamodb:ListStreams,
    # which IAM evaluates against no resource.
    for policy in of_type(result.template, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if "*" in as_list(statement["Resource"]):
                assert statement["Action"] == "dynamodb:ListStreams"


def test_pass_through_tracing_is_configured_as_such() -> None:
    result = synth_with(tracing=lambda_.Tracing.PASS_THROUGH)
    for fn in of_type(result.template, "AWS::Lambda::Function").values():
        assert fn["Properties"]["TracingConfig"] == {"Mode": "PassThrough"}


def test_infinite_log_retention_is_refused() -> None:
    with pytest.raises(ValueError, match="log_retention must be finite"):
        build(new_stack(), log_retention=logs.RetentionDays.INFINITE)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"memory_size": 64}, "memory_size"),
        ({"status_timeout": cdk.Duration.seconds(30)}, "status_timeout"),
        ({"user_id_claim": "bad claim"}, "user_id_claim"),
        ({"assembly_id_pattern": "("}, "assembly_id_pattern"),
        ({"runtime": lambda_.Runtime.NODEJS_20_X}, "Python 3 Lambda runtime"),
        ({"runtime": lambda_.Runtime.PYTHON_3_10}, "3.11 or newer"),
        ({"stream_retry_attempts": -1}, "stream_retry_attempts"),
        ({"stream_batch_size": 0}, "stream_batch_size"),
        ({"metrics_namespace": ""}, "metrics_namespace"),
        ({"throttling_rate_limit": 0}, "throttling_rate_limit"),
    ],
)
def test_out_of_range_options_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build(new_stack(), **options)


# ---- webhooks ---------------------------------------------------------------------------------------


def test_retry_schedule_defaults_to_the_runtime_schedule() -> None:
    assert retry_schedule(None, None) == schema.DEFAULT_WEBHOOK_RETRY_DELAYS


def test_max_attempts_alone_trims_or_extends_the_default_schedule() -> None:
    default = schema.DEFAULT_WEBHOOK_RETRY_DELAYS
    assert retry_schedule(None, 3) == default[:2]
    assert retry_schedule(None, 1) == ()
    assert retry_schedule(None, len(default) + 3) == (*default, default[-1], default[-1])


def test_durations_are_accepted_as_delays() -> None:
    assert retry_schedule([cdk.Duration.seconds(30), cdk.Duration.minutes(2)], None) == (30, 120)


def test_delays_the_webhook_handler_would_cap_are_refused() -> None:
    """The handler keeps 15 minutes below SQS's 12 h visibility limit and silently caps anything longer."""
    from transflow_runtime.handlers.webhook import MAX_RETRY_DELAY_SECONDS

    for too_long in (MAX_RETRY_DELAY_SECONDS + 1, 12 * 3600):
        with pytest.raises(ValueError, match=rf"between 1 second and {MAX_RETRY_DELAY_SECONDS} seconds \(11 h 45 min"):
            build(new_stack(), webhook_retry_delays=[60, too_long])


def test_every_delay_the_construct_accepts_is_honoured_uncapped_by_the_handler() -> None:
    from types import SimpleNamespace

    from transflow_runtime.handlers.webhook import WebhookSender, WebhookSettings, parse_retry_delays

    status = build(new_stack(), webhook_retry_delays=[1, 11 * 3600 + 45 * 60])
    env_value = ",".join(map(str, status.webhook_retry_delays))
    sender = SimpleNamespace(settings=WebhookSettings(table_name="t", retry_delays=parse_retry_delays(env_value)))
    assert [WebhookSender.retry_delay(sender, attempt, None) for attempt in (1, 2)] == [1, 42300]


@pytest.mark.parametrize("delays", [[0], [-5], [1.5], "5,60"])
def test_malformed_delays_are_refused(delays: Any) -> None:
    with pytest.raises(ValueError, match="webhook_retry_delays"):
        build(new_stack(), webhook_retry_delays=delays)


def test_max_attempts_contradicting_the_delays_is_refused_naming_both() -> None:
    with pytest.raises(ValueError, match=r"webhook_max_attempts=5 contradicts webhook_retry_delays"):
        build(new_stack(), webhook_retry_delays=[5, 60], webhook_max_attempts=5)


def test_custom_schedule_sets_environment_and_receive_count() -> None:
    result = synth_with(webhook_retry_delays=[1, 2, 3], webhook_max_attempts=4)
    s = result.status
    env = result.template["Resources"][logical_id(result, s.webhook_function)]["Properties"]["Environment"]
    assert env["Variables"][schema.ENV_WEBHOOK_RETRY_DELAYS] == "1,2,3"
    queue = result.template["Resources"][logical_id(result, s.webhook_queue)]["Properties"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 4 + 3


def test_webhook_timeouts_set_function_timeout_visibility_and_delivery_timeout() -> None:
    result = synth_with(
        webhook_timeout=cdk.Duration.seconds(20),
        webhook_function_timeout=cdk.Duration.seconds(45),
        webhook_max_concurrency=3,
    )
    s = result.status
    function = result.template["Resources"][logical_id(result, s.webhook_function)]["Properties"]
    assert function["Timeout"] == 45
    assert function["Environment"]["Variables"][schema.ENV_WEBHOOK_TIMEOUT] == "20"
    queue = result.template["Resources"][logical_id(result, s.webhook_queue)]["Properties"]
    assert queue["VisibilityTimeout"] == 270
    result.assertions.has_resource_properties(
        "AWS::Lambda::EventSourceMapping", {"ScalingConfig": {"MaximumConcurrency": 3}}
    )


def test_function_timeout_shorter_than_a_delivery_is_refused_naming_both() -> None:
    with pytest.raises(ValueError, match=r"webhook_function_timeout .* webhook_timeout"):
        build(
            new_stack(),
            webhook_timeout=cdk.Duration.seconds(30),
            webhook_function_timeout=cdk.Duration.seconds(35),
        )


def test_a_schedule_longer_than_queue_retention_is_refused() -> None:
    with pytest.raises(ValueError, match="14-day retention"):
        build(new_stack(), webhook_retry_delays=[11 * 3600] * 30)


@pytest.mark.parametrize("concurrency", [1, 1001])
def test_webhook_concurrency_outside_sqs_limits_is_refused(concurrency: int) -> None:
    with pytest.raises(ValueError, match="webhook_max_concurrency"):
        build(new_stack(), webhook_max_concurrency=concurrency)


def test_default_target_and_notify_url_secret_reach_the_config_and_the_policy() -> None:
    def compose(stack: cdk.Stack) -> TransflowStatus:
        stack.default_secret = plain_secret(stack, "DefaultSecret")
        stack.notify_secret = plain_secret(stack, "NotifySecret")
        return build(
            stack,
            default_webhook=WebhookTarget(url="https://default.example.com/h", secret=stack.default_secret),
            allow_notify_url=True,
            notify_url_secret=stack.notify_secret,
        )

    result = synth(compose)
    s = result.status
    default_id = logical_id(result, result.stack.default_secret)
    notify_id = logical_id(result, result.stack.notify_secret)
    env = result.template["Resources"][logical_id(result, s.webhook_function)]["Properties"]["Environment"]
    parts = env["Variables"][schema.ENV_WEBHOOK_CONFIG]["Fn::Join"][1]
    config = json.loads("".join(p if isinstance(p, str) else p["Ref"] for p in parts))
    assert config == {
        "targets": {},
        "default": {"url": "https://default.example.com/h", "secret_arn": default_id},
        "allow_notify_url": True,
        "notify_url_secret_arn": notify_id,
    }
    statements = permissions(result.template, logical_id(result, s.webhook_function))
    assert sorted(r["Ref"] for r in statements["ReadWebhookSecrets"][1]) == sorted([default_id, notify_id])


def test_a_secret_shared_by_several_targets_is_granted_once() -> None:
    def compose(stack: cdk.Stack) -> TransflowStatus:
        secret = plain_secret(stack, "Shared")
        return build(
            stack,
            webhooks={
                "tpl_a": WebhookTarget(url="https://a.example.com/h", secret=secret),
                "tpl_b": WebhookTarget(url="https://b.example.com/h", secret=secret),
            },
        )

    result = synth(compose)
    statements = permissions(result.template, logical_id(result, result.status.webhook_function))
    assert len(statements["ReadWebhookSecrets"][1]) == 1


def test_secret_imported_by_partial_arn_is_granted_with_its_suffix_wildcard() -> None:
    partial = "arn:aws:secretsmanager:us-east-1:123456789012:secret:webhook-key"

    def compose(stack: cdk.Stack) -> TransflowStatus:
        secret = secretsmanager.Secret.from_secret_partial_arn(stack, "Imported", partial)
        return build(stack, webhooks={"tpl": WebhookTarget(url=HOOK_URL, secret=secret)})

    result = synth(compose)
    statements = permissions(result.template, logical_id(result, result.status.webhook_function))
    assert statements["ReadWebhookSecrets"][1] == [f"{partial}-??????"]


def test_allow_notify_url_without_its_secret_is_refused_naming_both() -> None:
    with pytest.raises(ValueError, match=r"allow_notify_url=True needs notify_url_secret"):
        build(new_stack(), allow_notify_url=True)


def test_notify_url_secret_without_allow_notify_url_is_refused_naming_both() -> None:
    stack = new_stack()
    with pytest.raises(ValueError, match=r"notify_url_secret .*allow_notify_url=True"):
        build(stack, notify_url_secret=plain_secret(stack, "S"))


# ---- Lambda's 4 KB environment limit ---------------------------------------------------------------
#: Lambda: "the total size of all environment variables doesn't exceed 4 KB".
LAMBDA_ENV_LIMIT_BYTES = 4 * 1024


def _many_targets(stack: cdk.Stack, count: int, *, imported: bool = True) -> dict[str, WebhookTarget]:
    hooks = {}
    for i in range(count):
        if imported:
            arn = f"arn:aws:secretsmanager:us-east-1:123456789012:secret:transflow/hook-{i:02d}-AbCdEf"
            secret = secretsmanager.Secret.from_secret_complete_arn(stack, f"Hook{i}", arn)
        else:
            secret = plain_secret(stack, f"Hook{i}")
        hooks[f"tpl_template_{i:02d}"] = WebhookTarget(
            url=f"https://hooks.example.com/transflow/{i:02d}", secret=secret
        )
    return hooks


#: The longest SQS queue URL there can be: an 80-character queue name in the longest region of the China partition.
LONGEST_QUEUE_URL = "https://sqs.cn-northwest-1.amazonaws.com.cn/123456789012/" + "q" * 80


def test_the_token_estimate_covers_the_longest_queue_url() -> None:
    assert len(LONGEST_QUEUE_URL) <= TOKEN_LENGTH_ESTIMATE


def _worst_case_environment_bytes(result: Synth, function: lambda_.Function) -> int:
    """The function's environment with every deploy-time value (only the queue URLs and the stack name in
    the instance id here: the table and the secrets are imported by name and ARN) at its longest possible
    length (AWS CloudFormation: a stack name is at most 128 characters)."""
    variables = result.template["Resources"][logical_id(result, function)]["Properties"]["Environment"]["Variables"]
    unknown = {k for k, v in variables.items() if not isinstance(v, str)}
    assert unknown == {schema.ENV_WEBHOOK_QUEUE_URL, schema.ENV_WEBHOOK_DLQ_URL, schema.INSTANCE_ID_ENV}
    longest = {schema.INSTANCE_ID_ENV: "s" * 128 + "/Status"}
    concrete = {k: longest.get(k, LONGEST_QUEUE_URL) if k in unknown else v for k, v in variables.items()}
    return len(json.dumps(concrete, separators=(",", ":")).encode())


def test_webhook_config_beyond_the_lambda_environment_limit_is_refused_at_synth() -> None:
    stack = new_stack()
    with pytest.raises(ValueError, match=r"30 targets.*about \d+ bytes, over Lambda's 4096-byte limit"):
        build(stack, webhooks=_many_targets(stack, 30))


def test_the_environment_refusal_says_how_many_targets_fit_and_what_to_do() -> None:
    stack = new_stack()
    with pytest.raises(ValueError) as refused:
        build(stack, webhooks=_many_targets(stack, 30, imported=False))
    message = str(refused.value)
    assert "default_webhook" in message and "from_secret_complete_arn" in message
    fits = int(re.search(r"about (\d+) such targets fit", message).group(1))
    assert 10 <= fits < 30
    build(new_stack(), webhooks=_many_targets(new_stack(), fits, imported=False))  # that many are accepted


def test_the_largest_accepted_webhook_config_fits_the_lambda_environment_limit() -> None:
    """With an imported table and secrets only the queue URLs are unknown, so the bound is exact."""

    def compose(stack: cdk.Stack, count: int) -> TransflowStatus:
        return build(stack, table=imported_table(stack), webhooks=_many_targets(stack, count))

    largest: Synth | None = None
    for count in range(10, 60):
        try:
            largest = synth(lambda stack, n=count: compose(stack, n))
        except ValueError:
            break
    else:
        pytest.fail("60 webhook targets were accepted")
    assert largest is not None and count > 10
    assert _worst_case_environment_bytes(largest, largest.status.webhook_function) <= LAMBDA_ENV_LIMIT_BYTES


def test_the_environment_estimate_counts_quotes_escapes_and_tokens_conservatively() -> None:
    assert estimated_environment_bytes({"A": "b"}) == len('{"A":"b"}')
    assert estimated_environment_bytes({"A": '{"k":1}'}) == len('{"A":"{\\"k\\":1}"}')
    stack = new_stack()
    token = secretsmanager.Secret(stack, "S").secret_arn
    assert cdk.Token.is_unresolved(token)
    assert estimated_environment_bytes({"A": f"x{token}y"}) == len('{"A":"xy"}') + TOKEN_LENGTH_ESTIMATE


def test_any_function_environment_beyond_the_limit_is_refused() -> None:
    stack = new_stack()
    with pytest.raises(ValueError, match="StatusFunction's environment variables"):
        build(stack, assembly_id_pattern="^(" + "|".join(f"id{i:04d}" for i in range(700)) + ")$")


# ---- secret separation: one secret never serves two roles whose holders could abuse each other ----
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:transflow/shared"


def test_jwt_signing_secret_reused_as_a_webhook_secret_is_refused() -> None:
    stack = new_stack()
    secret = plain_secret(stack, "Shared")
    with pytest.raises(ValueError, match=r"StatusAuth\.shared_secret.*webhooks\['tpl_basic_audio'\]\.secret"):
        build(
            stack,
            auth=StatusAuth.shared_secret(secret),
            webhooks={"tpl_basic_audio": WebhookTarget(url=HOOK_URL, secret=secret)},
        )


def test_jwt_signing_secret_reused_as_the_default_target_or_notify_url_secret_is_refused() -> None:
    stack = new_stack()
    secret = plain_secret(stack, "Shared")
    with pytest.raises(ValueError, match=r"StatusAuth\.shared_secret.*default_webhook\.secret"):
        build(stack, auth=StatusAuth.shared_secret(secret), default_webhook=WebhookTarget(url=HOOK_URL, secret=secret))
    stack = new_stack()
    secret = plain_secret(stack, "Shared")
    with pytest.raises(ValueError, match=r"StatusAuth\.shared_secret.*notify_url_secret"):
        build(stack, auth=StatusAuth.shared_secret(secret), allow_notify_url=True, notify_url_secret=secret)


def test_one_secret_imported_twice_is_recognized_as_the_same_secret() -> None:
    """By complete ARN (with Secrets Manager's 6-character suffix) and by partial ARN: still one secret."""
    stack = new_stack()
    full = secretsmanager.Secret.from_secret_complete_arn(stack, "Full", f"{SECRET_ARN}-AbCdEf")
    partial = secretsmanager.Secret.from_secret_partial_arn(stack, "Partial", SECRET_ARN)
    with pytest.raises(ValueError, match="same secret"):
        build(stack, auth=StatusAuth.shared_secret(full), webhooks={"tpl": WebhookTarget(url=HOOK_URL, secret=partial)})


def test_notify_url_secret_shared_with_a_template_target_is_refused() -> None:
    stack = new_stack()
    secret = plain_secret(stack, "Shared")
    with pytest.raises(ValueError, match=r"notify_url_secret and webhooks\['tpl_basic_audio'\]\.secret"):
        build(
            stack,
            webhooks={"tpl_basic_audio": WebhookTarget(url=HOOK_URL, secret=secret)},
            allow_notify_url=True,
            notify_url_secret=secret,
        )


def test_notify_url_secret_shared_with_the_default_target_is_refused() -> None:
    stack = new_stack()
    secret = plain_secret(stack, "Shared")
    with pytest.raises(ValueError, match=r"notify_url_secret and default_webhook\.secret"):
        build(
            stack,
            default_webhook=WebhookTarget(url=HOOK_URL, secret=secret),
            allow_notify_url=True,
            notify_url_secret=secret,
        )


def test_distinct_secrets_in_every_role_are_accepted() -> None:
    stack = new_stack()
    status = build(
        stack,
        auth=StatusAuth.shared_secret(plain_secret(stack, "Jwt")),
        webhooks={"tpl": WebhookTarget(url=HOOK_URL, secret=plain_secret(stack, "Template"))},
        default_webhook=WebhookTarget(url=HOOK_URL, secret=plain_secret(stack, "Default")),
        allow_notify_url=True,
        notify_url_secret=plain_secret(stack, "Notify"),
    )
    assert status.authorizer_function is not None


@pytest.mark.parametrize(
    "url",
    ["http://hooks.example.com/t", "ftp://hooks.example.com", "https://", "https://user:pw@hooks.example.com/", ""],
)
def test_webhook_target_requires_an_https_url_without_credentials(url: str) -> None:
    stack = new_stack()
    with pytest.raises(ValueError, match="WebhookTarget url"):
        WebhookTarget(url=url, secret=plain_secret(stack, "S"))


def test_webhook_target_accepts_a_deploy_time_url() -> None:
    stack = new_stack()
    url = cdk.CfnParameter(stack, "HookUrl").value_as_string
    assert WebhookTarget(url=url, secret=plain_secret(stack, "S")).url == url


def test_bad_template_ids_are_refused() -> None:
    stack = new_stack()
    with pytest.raises(ValueError, match="template ids"):
        build(stack, webhooks={"has space": WebhookTarget(url=HOOK_URL, secret=plain_secret(stack, "S"))})


# ---- auth -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("issuer", ["http://issuer.example.com/", "issuer.example.com", ""])
def test_oidc_issuer_must_be_https(issuer: str) -> None:
    with pytest.raises(ValueError, match="issuer"):
        StatusAuth.oidc(issuer=issuer, audience="a")


@pytest.mark.parametrize("audience", [[], [""], ["a,b"]])
def test_oidc_audience_must_be_given_and_well_formed(audience: list[str]) -> None:
    with pytest.raises(ValueError, match="audience"):
        StatusAuth.oidc(issuer="https://issuer.example.com/", audience=audience)


def test_oidc_accepts_a_single_audience_string() -> None:
    assert StatusAuth.oidc(issuer="https://issuer.example.com/", audience="client").audience == ("client",)


@pytest.mark.parametrize("seconds", [3601, 86400])
def test_authorizer_cache_ttl_is_bounded_by_api_gateway(seconds: int) -> None:
    stack = new_stack()
    with pytest.raises(ValueError, match="cache_ttl"):
        StatusAuth.shared_secret(plain_secret(stack, "S"), cache_ttl=cdk.Duration.seconds(seconds))


def test_authorizer_cache_ttl_reaches_the_authorizer() -> None:
    result = synth_with(
        auth=lambda stack: StatusAuth.shared_secret(plain_secret(stack, "S"), cache_ttl=cdk.Duration.seconds(0))
    )
    result.assertions.has_resource_properties("AWS::ApiGatewayV2::Authorizer", {"AuthorizerResultTtlInSeconds": 0})


def test_shared_secret_without_issuer_or_audience_leaves_them_unchecked() -> None:
    result = synth_with(auth=lambda stack: StatusAuth.shared_secret(plain_secret(stack, "S")))
    env = result.template["Resources"][logical_id(result, result.status.authorizer_function)]["Properties"]
    assert schema.ENV_JWT_ISSUER not in env["Environment"]["Variables"]
    assert schema.ENV_JWT_AUDIENCE not in env["Environment"]["Variables"]


def test_auth_is_required_and_typed() -> None:
    with pytest.raises(ValueError, match="StatusAuth"):
        TransflowStatus(new_stack(), "Status", auth="oidc")  # type: ignore[arg-type]


# ---- API --------------------------------------------------------------------------------------------


def test_cors_origins_configure_preflight() -> None:
    result = synth_with(cors_origins=["https://app.example.com", "http://localhost:3000"])
    api = next(iter(of_type(result.template, "AWS::ApiGatewayV2::Api").values()))["Properties"]
    cors = api["CorsConfiguration"]
    assert cors["AllowOrigins"] == ["https://app.example.com", "http://localhost:3000"]
    assert sorted(cors["AllowMethods"]) == ["GET", "OPTIONS", "POST"]
    assert "authorization" in cors["AllowHeaders"]
    assert "etag" in cors["ExposeHeaders"]
    assert "AllowCredentials" not in cors or cors["AllowCredentials"] is False


@pytest.mark.parametrize(
    "origins", [["https://app.example.com/path"], ["app.example.com"], [], "https://a.example.com"]
)
def test_malformed_cors_origins_are_refused(origins: Any) -> None:
    with pytest.raises(ValueError, match=r"cors_origins|CORS origin"):
        build(new_stack(), cors_origins=origins)


def test_throttling_options_reach_the_default_stage() -> None:
    result = synth_with(throttling_rate_limit=10, throttling_burst_limit=20)
    stage = next(iter(of_type(result.template, "AWS::ApiGatewayV2::Stage").values()))["Properties"]
    assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] == 10
    assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] == 20


def _certificate(stack: cdk.Stack) -> acm.ICertificate:
    return acm.Certificate.from_certificate_arn(
        stack, "Cert", "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
    )


def test_custom_domain_maps_the_api_and_becomes_the_api_url() -> None:
    result = synth_with(domain_name="status.example.com", certificate=_certificate, disable_execute_api_endpoint=True)
    result.assertions.has_resource_properties(
        "AWS::ApiGatewayV2::DomainName",
        {
            "DomainName": "status.example.com",
            "DomainNameConfigurations": [{"EndpointType": "REGIONAL", "SecurityPolicy": "TLS_1_2"}],
        },
    )
    result.assertions.resource_count_is("AWS::ApiGatewayV2::ApiMapping", 1)
    result.assertions.has_resource_properties("AWS::ApiGatewayV2::Api", {"DisableExecuteApiEndpoint": True})
    assert result.status.api_url == "https://status.example.com/"


def test_domain_name_without_certificate_is_refused_naming_both() -> None:
    with pytest.raises(ValueError, match=r"domain_name= needs certificate="):
        build(new_stack(), domain_name="status.example.com")


def test_certificate_without_domain_name_is_refused_naming_both() -> None:
    stack = new_stack()
    with pytest.raises(ValueError, match=r"certificate= needs domain_name="):
        build(stack, certificate=_certificate(stack))


def test_disabling_the_default_endpoint_without_a_domain_is_refused() -> None:
    with pytest.raises(ValueError, match="disable_execute_api_endpoint"):
        build(new_stack(), disable_execute_api_endpoint=True)


def test_two_instances_can_live_in_one_stack() -> None:
    stack = new_stack()
    TransflowStatus(stack, "A", auth=oidc_auth())
    TransflowStatus(stack, "B", auth=oidc_auth())
    template = assertions.Template.from_stack(stack).to_json()
    assert len(of_type(template, "AWS::DynamoDB::Table")) == 2
    # still one asset for all eight functions
    codes = {json.dumps(f["Properties"]["Code"]) for f in of_type(template, "AWS::Lambda::Function").values()}
    assert len(codes) == 1
