"""IAM as AWS evaluates it: each function's policies allow every AWS call its code makes, on that resource.

The calls are not listed by hand: every handler runs, with the environment its synthesized template
gives it, against moto behind a recording proxy, through each of its code paths (reads, lists,
batches, replays; deliveries that succeed, are retried and are dead-lettered). Each recorded request
becomes the IAM action and resource ARN it needs (Service Authorization Reference: for these APIs
the action is ``<service>:<operation>``, and SQS's batch operations are authorized by the single
action, e.g. ``SendMessageBatch`` by ``sqs:SendMessage``). To those come what AWS documents the
services do with the function's role on its behalf: AWS Lambda writes logs and traces and polls the
event sources (AWS Lambda Developer Guide, "Lambda execution role" and the DynamoDB/SQS event source
pages), SQS and Secrets Manager use the KMS key of an encrypted queue or secret (Amazon SQS Developer
Guide, "Key management": a producer needs kms:GenerateDataKey and kms:Decrypt, a consumer
kms:Decrypt; AWS Secrets Manager User Guide, "Secret encryption and decryption": kms:Decrypt through
Secrets Manager). Everything is then evaluated against the resolved policy documents with moto's
IAM policy evaluator (``moto.iam.access_control.IAMPolicy``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aws_cdk import assertions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from moto.iam.access_control import IAMPolicy, PermissionResult
from transflow_runtime import assembly_id, schema, telemetry
from transflow_runtime.auth import mint_token
from transflow_runtime.store import StatusStore

from tests.runtime.webhook_receivers import Receiver, Reply, stream_records
from transflow_constructs import StatusAuth, TransflowStatus, WebhookTarget

from .cdk_helpers import new_stack
from .template_harness import ACCOUNT, REGION, Call, RecordingProxy, TemplateWorld

JWT_SECRET_VALUE = "iam-check-jwt-secret-value-0123456789abcdef"
#: AWS Lambda Developer Guide, "Giving Lambda functions access to resources in an Amazon VPC".
VPC_ACCESS_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)
#: Operations whose IAM action is another operation's (Amazon SQS Developer Guide, "Amazon SQS API
#: permissions: Actions and resource reference").
BATCH_ACTIONS = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}
DYNAMODB_READS = {"GetItem", "BatchGetItem", "Query", "Scan"}


@dataclass(frozen=True)
class Need:
    action: str
    resource: str
    why: str
    conditions: tuple[tuple[str, str], ...] = ()


# ---- the stacks ----------------------------------------------------------------------------------
def _stack(with_keys: bool) -> dict[str, Any]:
    stack = new_stack()
    key = kms.Key(stack, "Key", enable_key_rotation=True) if with_keys else None
    queue_key = kms.Key(stack, "QueueKey", enable_key_rotation=True) if with_keys else None
    jwt = secretsmanager.Secret(stack, "JwtSecret", encryption_key=key)
    hook = secretsmanager.Secret(stack, "HookSecret", encryption_key=key)
    default = secretsmanager.Secret(stack, "DefaultSecret")
    notify = secretsmanager.Secret(stack, "NotifySecret", encryption_key=key)
    TransflowStatus(
        stack,
        "Status",
        auth=StatusAuth.shared_secret(jwt, issuer="iam-check", audience=["iam-check"]),
        webhooks={"tpl": WebhookTarget(url="https://hooks.example.com/t", secret=hook)},
        default_webhook=WebhookTarget(url="https://default.example.com/t", secret=default),
        allow_notify_url=True,
        notify_url_secret=notify,
        table_encryption_key=key,
        queue_encryption_key=queue_key,
        webhook_vpc=ec2.Vpc(stack, "Vpc", max_azs=1) if with_keys else None,
    )
    return assertions.Template.from_stack(stack).to_json()


@pytest.fixture(scope="module", params=[False, True], ids=["aws-managed-keys", "customer-keys"])
def template(request: pytest.FixtureRequest) -> dict[str, Any]:
    return _stack(request.param)


@pytest.fixture
def world(template: dict[str, Any], moto_endpoint: str) -> TemplateWorld:
    world = TemplateWorld(template, moto_endpoint)
    for arn in _secret_arns(world):
        value = JWT_SECRET_VALUE if "JwtSecret" in arn else "whsec_" + "a" * 43
        world.direct["secretsmanager"].put_secret_value(SecretId=arn, SecretString=value)
    return world


def _secret_arns(world: TemplateWorld) -> list[str]:
    return [world.physical[k].ref for k, r in world.resources.items() if r["Type"] == "AWS::SecretsManager::Secret"]


@dataclass
class Run:
    world: TemplateWorld
    function_id: str
    calls: list[Call]


@pytest.fixture
def running(world: TemplateWorld, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``run(module)`` sets the function's environment (from the template) and records its calls."""
    telemetry.configure(enabled=False)
    proxies: list[RecordingProxy] = []

    def start(handler_module: str, **overrides: str) -> tuple[RecordingProxy, str]:
        function_id = world.function_id(handler_module)
        proxy = RecordingProxy(world.endpoint).__enter__()
        proxies.append(proxy)
        for name in list(os.environ):
            if name.startswith("TRANSFLOW_"):
                monkeypatch.delenv(name)
        for name, value in {**world.environment(function_id), **overrides}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        return proxy, function_id

    yield start
    telemetry.configure()
    for proxy in proxies:
        proxy.__exit__()


# ---- driving each handler through its code paths ---------------------------------------------------
def _table(world: TemplateWorld) -> str:
    (table_id,) = [k for k, r in world.resources.items() if r["Type"] == "AWS::DynamoDB::Table"]
    return world.physical[table_id].ref


def _store(world: TemplateWorld) -> StatusStore:
    return StatusStore(_table(world), client=world.direct["dynamodb"])


def _status_calls(world: TemplateWorld, running: Any) -> Run:
    from transflow_runtime.handlers import status

    from tests.runtime.status_support import http_event

    store = _store(world)
    ids = [assembly_id(f"{n:032x}", "tpl", "alice") for n in (1, 2)]
    for ident in ids:
        store.create(ident, user_id="alice", template_id="tpl")
    store.complete(ids[1])
    proxy, function_id = running("handlers.status")
    if hasattr(status, "reset_for_tests"):
        status.reset_for_tests()
    for event in (
        http_event("GET", "/status", query={"assemblyId": ids[0]}),
        http_event("POST", "/status/batch", body=json.dumps({"assemblyIds": ids})),
        http_event("GET", "/assemblies", query={"limit": "1"}),
        http_event("POST", f"/assemblies/{ids[1]}/notify", path_parameters={"assemblyId": ids[1]}),
        {"assemblyId": ids[1], "userId": "alice", "triggerWebhook": True},
    ):
        response = status.handler(event, None)
        assert response["statusCode"] < 500, response
    return Run(world, function_id, proxy.calls)


def _authorizer_calls(world: TemplateWorld, running: Any) -> Run:
    from transflow_runtime.handlers import authorizer

    proxy, function_id = running("handlers.authorizer")
    authorizer.reset_for_tests()
    token = mint_token(JWT_SECRET_VALUE, "alice", issuer="iam-check", audience="iam-check")
    response = authorizer.handler({"headers": {"authorization": f"Bearer {token}"}, "requestContext": {}}, None)
    assert response["isAuthorized"] is True, response
    return Run(world, function_id, proxy.calls)


def _dispatcher_calls(world: TemplateWorld, running: Any) -> Run:
    from transflow_runtime.handlers import dispatcher

    store = _store(world)
    ident = assembly_id("f" * 32, "tpl", "bob")
    store.create(ident, user_id="bob", template_id="tpl")
    store.complete(ident)
    records = stream_records(world.direct["dynamodb"], _table(world))
    proxy, function_id = running("handlers.dispatcher")
    dispatcher._sqs_client = None
    assert dispatcher.handler({"Records": records}) == {"batchItemFailures": []}
    return Run(world, function_id, proxy.calls)


def _webhook_calls(world: TemplateWorld, running: Any) -> Run:
    from transflow_runtime.handlers import webhook

    store = _store(world)
    function_id = world.function_id("handlers.webhook")
    env = world.environment(function_id)
    queue_url = env[schema.ENV_WEBHOOK_QUEUE_URL]
    attempts = len(env[schema.ENV_WEBHOOK_RETRY_DELAYS].split(",")) + 1
    with Receiver(lambda _i, _r: Reply(500)) as failing, Receiver() as ok:
        # Point the configured targets at local receivers (the AWS calls do not depend on the URL).
        config = json.loads(env[schema.ENV_WEBHOOK_CONFIG])
        config["targets"]["tpl"]["url"] = ok.url
        config["default"]["url"] = failing.url
        items = {
            "delivered": ("tpl", None),
            "retried": ("other", None),
            "via-notify-url": ("tpl", ok.url + "/n"),
        }
        records = []
        for n, (name, (template_id, notify_url)) in enumerate(items.items()):
            ident = assembly_id(f"{n + 10:032x}", template_id, "carol")
            store.create(ident, user_id="carol", template_id=template_id, notify_url=notify_url)
            store.complete(ident)
            message = json.dumps({"assembly_id": ident, "event": "completed", "event_id": f"evt_{name}"})
            world.direct["sqs"].send_message(QueueUrl=queue_url, MessageBody=message)
        received = world.direct["sqs"].receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
        for message in received:
            records.append(
                {
                    "messageId": message["MessageId"],
                    "receiptHandle": message["ReceiptHandle"],
                    "body": message["Body"],
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:x",
                }
            )
        proxy, _ = running(
            "handlers.webhook",
            **{
                schema.ENV_WEBHOOK_CONFIG: json.dumps(config),
                schema.ENV_WEBHOOK_ALLOW_PRIVATE: "127.0.0.1/32",
                schema.ENV_WEBHOOK_ALLOW_HTTP: "1",
            },
        )
        webhook.handler({"Records": records})
        # The last attempt of the failing one: dead-lettered.
        retried = next(r for r in records if "evt_retried" in r["body"])
        webhook.handler({"Records": [{**retried, "attributes": {"ApproximateReceiveCount": str(attempts)}}]})
    operations = {c.operation for c in proxy.calls}
    assert {"GetItem", "UpdateItem", "GetSecretValue", "ChangeMessageVisibility", "SendMessage"} <= operations
    return Run(world, function_id, proxy.calls)


DRIVERS = {
    "status": _status_calls,
    "authorizer": _authorizer_calls,
    "dispatcher": _dispatcher_calls,
    "webhook": _webhook_calls,
}


# ---- from calls to needs -------------------------------------------------------------------------
def _needs_of_call(call: Call, world: TemplateWorld) -> list[Need]:
    params, op = call.params, call.operation
    needs: list[Need] = []
    why = f"the handler calls {call.service} {op}"
    if call.service == "dynamodb":
        tables = [params["TableName"]] if "TableName" in params else list(params.get("RequestItems", {}))
        for name in tables:
            arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
            resource = f"{arn}/index/{params['IndexName']}" if "IndexName" in params else arn
            needs.append(Need(f"dynamodb:{op}", resource, why))
            table_id = world.logical_id_of("AWS::DynamoDB::Table", "Arn", arn)
            key = world.key_of(table_id) if table_id else None
            if key:
                needs.append(Need("kms:Decrypt", key, f"{why} on a table encrypted with a customer key"))
    elif call.service == "sqs":
        url = params.get("QueueUrl")
        name = url.rstrip("/").rsplit("/", 1)[-1] if url else params["QueueName"]
        arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
        needs.append(Need(f"sqs:{BATCH_ACTIONS.get(op, op)}", arn, why))
        needs += _queue_key_needs(world, arn, producer=op in ("SendMessage", "SendMessageBatch"), why=why)
    elif call.service == "secretsmanager":
        arn = params["SecretId"]
        needs.append(Need(f"secretsmanager:{op}", arn, why))
        secret_id = world.logical_id_of("AWS::SecretsManager::Secret", "Id", arn)
        key = world.key_of(secret_id) if secret_id else None
        if key:
            via = (("kms:ViaService", f"secretsmanager.{REGION}.amazonaws.com"),)
            needs.append(Need("kms:Decrypt", key, f"{why} on a secret encrypted with a customer key", via))
    else:
        pytest.fail(f"the handler calls {call.service} {op}, which this test does not map yet")
    return needs


def _queue_key_needs(world: TemplateWorld, queue_arn: str, *, producer: bool, why: str) -> list[Need]:
    queue_id = world.logical_id_of("AWS::SQS::Queue", "Arn", queue_arn)
    key = world.key_of(queue_id) if queue_id else None
    if not key:
        return []
    actions = ["kms:GenerateDataKey", "kms:Decrypt"] if producer else ["kms:Decrypt"]
    return [Need(a, key, f"{why} on an SSE-KMS queue") for a in actions]


def _service_needs(world: TemplateWorld, function_id: str) -> list[Need]:
    """What Lambda does with the function's role, from the template's own resources."""
    group = world.log_group_of(function_id)
    log_stream = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:log-stream:2024/01/01/[$LATEST]abc"
    needs = [
        Need("logs:CreateLogStream", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:*", "Lambda logging"),
        Need("logs:PutLogEvents", log_stream, "Lambda logging"),
    ]
    props = world.resources[function_id]["Properties"]
    if "VpcConfig" in props:
        why = "Lambda manages the network interfaces of a function in a VPC (Developer Guide: VPC access)"
        needs += [Need(a, "*", why) for a in VPC_ACCESS_ACTIONS]
    if (props.get("TracingConfig") or {}).get("Mode") == "Active":
        needs += [Need(a, "*", "active tracing") for a in ("xray:PutTraceSegments", "xray:PutTelemetryRecords")]
    for mapping in world.resources.values():
        if mapping["Type"] != "AWS::Lambda::EventSourceMapping":
            continue
        m = mapping["Properties"]
        if m["FunctionName"] != {"Ref": function_id}:
            continue
        source = world.resolve(m["EventSourceArn"])
        if ":dynamodb:" in source:
            why = "Lambda polls the DynamoDB stream (Developer Guide: execution role permissions)"
            needs += [Need(f"dynamodb:{a}", source, why) for a in ("DescribeStream", "GetRecords", "GetShardIterator")]
            # Service Authorization Reference: ListStreams has no resource type, so IAM matches '*'.
            needs.append(Need("dynamodb:ListStreams", "*", why))
            destination = (m.get("DestinationConfig") or {}).get("OnFailure", {}).get("Destination")
            if destination:
                failure_queue = world.resolve(destination)
                why = "Lambda sends discarded batches to the on-failure destination"
                needs.append(Need("sqs:SendMessage", failure_queue, why))
                needs += _queue_key_needs(world, failure_queue, producer=True, why=why)
        else:
            why = "Lambda polls the SQS queue (Developer Guide: execution role permissions)"
            needs += [Need(f"sqs:{a}", source, why) for a in ("ReceiveMessage", "DeleteMessage", "GetQueueAttributes")]
            needs += _queue_key_needs(world, source, producer=False, why=why)
    return needs


def _allowed(documents: list[dict[str, Any]], need: Need) -> bool:
    results = [
        IAMPolicy(json.dumps(doc)).is_action_permitted(need.action, need.resource, None, dict(need.conditions))
        for doc in documents
    ]
    return PermissionResult.PERMITTED in results and PermissionResult.DENIED not in results


@pytest.mark.parametrize("role", sorted(DRIVERS))
def test_every_call_a_function_makes_is_allowed_on_its_resource(role: str, world: TemplateWorld, running: Any) -> None:
    run = DRIVERS[role](world, running)
    assert run.calls, f"the {role} handler made no AWS call through the proxy"
    needs = [n for call in run.calls for n in _needs_of_call(call, world)] + _service_needs(world, run.function_id)
    documents = world.policies(run.function_id)
    if os.environ.get("IAM_EVALUATION_DEBUG"):
        print(role, sorted({(n.action, n.resource) for n in needs}))
    denied = sorted({(n.action, n.resource, n.why) for n in needs if not _allowed(documents, n)})
    assert not denied, f"{role}: not allowed: {denied}"


def test_list_streams_is_granted_the_way_iam_evaluates_it(template: dict[str, Any], world: TemplateWorld) -> None:
    """Service Authorization Reference, "Actions, resources, and condition keys for Amazon DynamoDB":
    ``ListStreams`` lists no resource type, so only a statement with ``Resource: *`` matches it; a
    statement scoped to the stream ARN never does."""
    documents = world.policies(world.function_id("handlers.dispatcher"))
    assert _allowed(documents, Need("dynamodb:ListStreams", "*", "ListStreams"))
    for document in documents:
        for statement in document["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if "dynamodb:ListStreams" in actions:
                assert statement["Resource"] == "*"


def test_consuming_the_webhook_queue_needs_no_other_statement(world: TemplateWorld) -> None:
    """The webhook function's kms:Decrypt on its queue's key must come with the consume statement, not
    from the dead-letter queue's (which only happens to share the key)."""
    function_id = world.function_id("handlers.webhook")
    consume = [
        {"Statement": [s for s in doc["Statement"] if s["Sid"].startswith("ConsumeWebhookQueue")]}
        for doc in world.policies(function_id)
    ]
    needs = [n for n in _service_needs(world, function_id) if n.why.startswith("Lambda polls the SQS queue")]
    assert needs
    assert all(_allowed(consume, n) for n in needs), [n for n in needs if not _allowed(consume, n)]


def test_the_evaluator_refuses_what_is_not_granted(world: TemplateWorld) -> None:
    """The check can fail: an action or a resource outside the policy is refused."""
    documents = world.policies(world.function_id("handlers.status"))
    table_arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{_table(world)}"
    assert _allowed(documents, Need("dynamodb:GetItem", table_arn, "x"))
    assert not _allowed(documents, Need("dynamodb:PutItem", table_arn, "x"))
    assert not _allowed(documents, Need("dynamodb:GetItem", table_arn + "-other", "x"))
