"""The template's stateful resources made in the embedded moto server, and every resource's local
``Ref`` value and attributes (names, ARNs, URLs), as CloudFormation would give them.

A resource is made the first time one of its values is needed (``Deployment.attributes`` is the
intrinsic resolver's callback), so a queue's redrive policy makes its dead-letter queue first, a
function's environment makes the table it names, and so on. Physical names the template leaves to
CloudFormation are generated in its shape (``Stack-LogicalId-SUFFIX``), deterministically, so they
stay the same from one start to the next.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

from .assembly import Instance, StackTemplate
from .intrinsics import IntrinsicResolver, TemplateError, pseudo_parameters

log = logging.getLogger("transflow.local")

LOCAL_ACCOUNT_ID = "123456789012"  # moto's account
_TABLE_TYPES = ("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable")
_QUEUE_ATTRIBUTES = {
    "VisibilityTimeout": "VisibilityTimeout",
    "MessageRetentionPeriod": "MessageRetentionPeriod",
    "DelaySeconds": "DelaySeconds",
    "MaximumMessageSize": "MaximumMessageSize",
    "ReceiveMessageWaitTimeSeconds": "ReceiveMessageWaitTimeSeconds",
    "FifoQueue": "FifoQueue",
    "ContentBasedDeduplication": "ContentBasedDeduplication",
}
_GENERATE_OPTIONS = (
    "PasswordLength", "ExcludeCharacters", "ExcludeNumbers", "ExcludePunctuation", "ExcludeUppercase",
    "ExcludeLowercase", "IncludeSpace", "RequireEachIncludedType",
)  # fmt: skip


def physical_name(stack: str, logical_id: str, max_length: int) -> str:
    """``Stack-LogicalId-SUFFIX`` within ``max_length``, as CloudFormation names resources."""
    suffix = hashlib.sha256(f"{stack}/{logical_id}".encode()).hexdigest()[:12].upper()
    room = max_length - len(suffix) - 1
    base = f"{stack}-{logical_id}"
    return f"{base[:room]}-{suffix}"


class Deployment:
    """Every resource of one stack as local mode provides it. ``clients(service)`` returns an
    administrator's boto3 client for the embedded moto server."""

    def __init__(
        self,
        stack: StackTemplate,
        *,
        region: str,
        clients: Callable[[str], Any],
        api_url: str,
        parameters: dict[str, str] | None = None,
        account_id: str = LOCAL_ACCOUNT_ID,
    ) -> None:
        self.stack = stack
        self.template = stack.template
        self.region = region
        self.account_id = account_id
        self.api_url = api_url
        self._clients = clients
        self._values: dict[str, dict[str | None, Any]] = {}
        self._making: set[str] = set()
        #: Things in the template local mode does not emulate, each a short phrase.
        self.unsupported: list[str] = []
        #: Logical id of every secret made here -> its ARN.
        self.secret_arns: dict[str, str] = {}
        #: What local mode runs or emulates of the template (the rest is named at start-up).
        self.consumed: set[str] = set()
        #: ARN of a resource made here -> the ARN the template names it by (an imported table's
        #: stream), so IAM checks the template's policies against the template's names.
        self.aliases: dict[str, str] = {}
        #: Tables the template uses but does not hold, made here (by name).
        self.imported_tables: dict[str, dict[str | None, Any]] = {}
        self.resolver = IntrinsicResolver(
            self.template,
            attributes=self.attributes,
            pseudo=pseudo_parameters(region=region, account_id=account_id, stack_name=stack.name),
            parameters={**stack.parameters, **(parameters or {})},
        )
        # A resource whose CloudFormation Condition is false does not exist: not made, not a policy
        # of any role, not a route ("Conditions" in the template anatomy).
        everything: dict[str, Any] = self.template.get("Resources") or {}
        self.resources: dict[str, dict[str, Any]] = {
            logical_id: resource
            for logical_id, resource in everything.items()
            if isinstance(resource, dict)
            and (not resource.get("Condition") or self.resolver.condition(str(resource["Condition"])))
        }
        self.absent = set(everything) - set(self.resources)

    # ---------------------------------------------------------------------------- helpers
    def resolve(self, value: Any) -> Any:
        return self.resolver.resolve(value)

    def properties(self, logical_id: str) -> dict[str, Any]:
        return self.resources[logical_id].get("Properties") or {}

    def resolved_properties(self, logical_id: str) -> dict[str, Any]:
        return self.resolve(self.properties(logical_id))

    def type_of(self, logical_id: str) -> str:
        return str(self.resources[logical_id].get("Type"))

    def note(self, what: str) -> None:
        if what not in self.unsupported:
            self.unsupported.append(what)

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if region else ''}:{self.account_id if account else ''}:{resource}"

    def made_values(self) -> list[dict[str | None, Any]]:
        """The values of every resource made (or named) so far, imported tables included."""
        return [*self._values.values(), *self.imported_tables.values()]

    def present(self, instance: Instance) -> Instance:
        """``instance`` without the resources whose CloudFormation Condition is false."""
        parts = {part: [i for i in ids if i not in self.absent] for part, ids in instance.parts.items()}
        return Instance(instance.address, {part: ids for part, ids in parts.items() if ids})

    def logical_id_of(self, kind: str, value: Any) -> str | None:
        """The logical id whose ``Ref`` (or ``Arn``) of type ``kind`` is ``value``, among made resources."""
        for logical_id, values in self._values.items():
            if self.type_of(logical_id) == kind and value in (values.get(None), values.get("Arn")):
                return logical_id
        return None

    # ---------------------------------------------------------------------------- attributes
    def attributes(self, logical_id: str, attribute: str | None) -> Any:
        if logical_id in self.absent:
            raise TemplateError(f"{logical_id} is referenced, but its CloudFormation Condition is false")
        if logical_id not in self._values:
            if logical_id in self._making:
                raise TemplateError(f"{logical_id} depends on itself through its own properties")
            self._making.add(logical_id)
            try:
                self._values[logical_id] = self._make(logical_id)
            except KeyError as exc:
                raise TemplateError(
                    f"{logical_id} ({self.type_of(logical_id)}) lacks the property {exc.args[0]}"
                ) from None
            except TypeError as exc:
                kind = self.type_of(logical_id)
                raise TemplateError(f"{logical_id} ({kind}) has a malformed property: {exc}") from None
            except Exception as exc:
                if type(exc).__name__ not in ("ClientError", "ParamValidationError"):
                    raise
                raise TemplateError(f"{logical_id} ({self.type_of(logical_id)}) cannot be made: {exc}") from None
            finally:
                self._making.discard(logical_id)
        values = self._values[logical_id]
        if attribute not in values:
            raise TemplateError(
                f"local mode has no value for {'Ref' if attribute is None else attribute} of {logical_id} "
                f"({self.type_of(logical_id)})"
            )
        return values[attribute]

    def _make(self, logical_id: str) -> dict[str | None, Any]:
        kind = self.type_of(logical_id)
        maker = {
            "AWS::DynamoDB::Table": self._table,
            "AWS::DynamoDB::GlobalTable": self._global_table,
            "AWS::SQS::Queue": self._queue,
            "AWS::SecretsManager::Secret": self._secret,
            "AWS::Lambda::Function": self._function,
            "AWS::IAM::Role": self._role,
            "AWS::Logs::LogGroup": self._log_group,
            "AWS::ApiGatewayV2::Api": self._api,
            "AWS::ApiGatewayV2::Stage": lambda lid: {None: self.properties(lid).get("StageName", "$default")},
            "AWS::Events::EventBus": self._event_bus,
            "AWS::Events::Rule": self._rule,
        }.get(kind)
        if maker is not None:
            if kind in (*_TABLE_TYPES, "AWS::SQS::Queue", "AWS::SecretsManager::Secret", "AWS::Events::EventBus",
                        "AWS::Events::Rule"):
                self.consumed.add(logical_id)  # made in moto (functions and roles: when run)
            return maker(logical_id)
        # Everything else (routes, integrations, permissions, alarms, the user's own resources):
        # an id for Ref and an ARN-shaped value, enough for references to resolve.
        short = hashlib.sha256(logical_id.encode()).hexdigest()[:7]
        service = kind.split("::")[1].lower() if kind.count("::") == 2 else "local"
        return {
            None: short if kind.startswith("AWS::ApiGatewayV2::") else physical_name(self.stack.name, logical_id, 64),
            "Arn": self.arn(service, logical_id),
        }

    # ---------------------------------------------------------------------------- the table
    def _table(self, logical_id: str) -> dict[str | None, Any]:
        return self._create_table(logical_id, self.resolved_properties(logical_id))

    def _global_table(self, logical_id: str) -> dict[str | None, Any]:
        """``AWS::DynamoDB::GlobalTable`` (CDK's ``TableV2``): the replica of this region is the
        table; its settings come from the replica and the table-wide properties."""
        props = self.resolved_properties(logical_id)
        replicas = [r for r in props.get("Replicas") or [] if isinstance(r, dict)]
        replica = next((r for r in replicas if r.get("Region") == self.region), replicas[0] if replicas else {})
        if len(replicas) > 1:
            self.note(f"the global table's replicas in other regions ({logical_id})")
        table = {
            key: props[key]
            for key in ("TableName", "AttributeDefinitions", "KeySchema", "LocalSecondaryIndexes",
                        "StreamSpecification", "TimeToLiveSpecification")
            if key in props
        }  # fmt: skip
        billing = props.get("BillingMode", "PROVISIONED")
        table["BillingMode"] = billing
        if billing == "PROVISIONED":
            table["ProvisionedThroughput"] = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        indexes = []
        for index in props.get("GlobalSecondaryIndexes") or []:
            kept = {k: index[k] for k in ("IndexName", "KeySchema", "Projection") if k in index}
            if billing == "PROVISIONED":
                kept["ProvisionedThroughput"] = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
            indexes.append(kept)
        if indexes:
            table["GlobalSecondaryIndexes"] = indexes
        for key in ("PointInTimeRecoverySpecification", "DeletionProtectionEnabled"):
            if key in replica:
                table[key] = replica[key]  # only named (state is in memory)
        if (props.get("SSESpecification") or {}).get("SSEType") == "KMS":
            self.note("the table's KMS key")
        return self._create_table(logical_id, table)

    def imported_table(self, name: str) -> dict[str | None, Any]:
        """A table the template only names (``Table.from_table_attributes``): made here with the
        status table's documented schema (``resources.table_definition``), so the functions find it."""
        from ..resources import table_definition
        from ..schema import TTL_ATTRIBUTE

        definition = table_definition(name)
        definition["TimeToLiveSpecification"] = {"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
        self.note(f"the imported table {name} (made here with the status table's documented schema)")
        self.imported_tables[name] = self._create_table(f"imported table {name}", definition)
        return self.imported_tables[name]

    def table_named(self, name: str) -> dict[str | None, Any] | None:
        """The values of the table called ``name`` made so far (template or imported), if any."""
        for logical_id, values in self._values.items():
            if self.type_of(logical_id) in _TABLE_TYPES and values.get(None) == name:
                return values
        return self.imported_tables.get(name)

    def _create_table(self, logical_id: str, props: dict[str, Any]) -> dict[str | None, Any]:
        name = props.get("TableName") or physical_name(self.stack.name, logical_id, 255)
        request: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "ProvisionedThroughput"):
            if props.get(key):
                request[key] = props[key]
        if request["BillingMode"] == "PROVISIONED" and "ProvisionedThroughput" not in request:
            raise TemplateError(f"table {logical_id} is PROVISIONED without ProvisionedThroughput")
        stream = props.get("StreamSpecification") or {}
        if stream.get("StreamViewType"):
            request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
        dynamodb = self._clients("dynamodb")
        dynamodb.create_table(**request)
        ttl = props.get("TimeToLiveSpecification") or {}
        if ttl.get("Enabled"):
            dynamodb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]}
            )
        description = dynamodb.describe_table(TableName=name)["Table"]
        if props.get("PointInTimeRecoverySpecification") or props.get("DeletionProtectionEnabled"):
            self.note("the table's point-in-time recovery and deletion protection (state is in memory)")
        if (props.get("SSESpecification") or {}).get("KMSMasterKeyId"):
            self.note("the table's KMS key")
        values: dict[str | None, Any] = {
            None: name,
            "Arn": description["TableArn"],
            "TableId": description.get("TableId") or _uuid(name),
        }
        if description.get("LatestStreamArn"):
            values["StreamArn"] = description["LatestStreamArn"]
        return values

    # ---------------------------------------------------------------------------- queues
    def _queue(self, logical_id: str) -> dict[str | None, Any]:
        props = self.resolved_properties(logical_id)
        fifo = bool(props.get("FifoQueue"))
        name = props.get("QueueName") or physical_name(self.stack.name, logical_id, 75 if fifo else 80)
        if fifo and not name.endswith(".fifo"):
            name += ".fifo"
        attributes = {key: _text(props[prop]) for prop, key in _QUEUE_ATTRIBUTES.items() if prop in props}
        if props.get("RedrivePolicy"):
            attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
        if props.get("RedriveAllowPolicy"):
            attributes["RedriveAllowPolicy"] = json.dumps(props["RedriveAllowPolicy"])
        if props.get("KmsMasterKeyId"):
            self.note("queue KMS keys")
        sqs = self._clients("sqs")
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return {None: url, "Arn": arn, "QueueName": name, "QueueUrl": url}

    # ---------------------------------------------------------------------------- EventBridge
    def _event_bus(self, logical_id: str) -> dict[str | None, Any]:
        name = str(self.resolved_properties(logical_id)["Name"])
        arn = ensure_event_bus(self._clients("events"), name)
        return {None: name, "Arn": arn, "Name": name}

    def _rule(self, logical_id: str) -> dict[str | None, Any]:
        """A rule with its SQS targets (moto's EventBridge delivers to them); other targets are named
        at start-up as not emulated."""
        props = self.resolved_properties(logical_id)
        name = props.get("Name") or physical_name(self.stack.name, logical_id, 64)
        bus = str(props.get("EventBusName") or "default").rsplit("/", 1)[-1]
        events = self._clients("events")
        request: dict[str, Any] = {"Name": name, "EventBusName": bus, "State": props.get("State", "ENABLED")}
        if props.get("EventPattern") is not None:
            pattern = props["EventPattern"]
            request["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
        if props.get("ScheduleExpression"):
            self.note("scheduled EventBridge rules")
            request["ScheduleExpression"] = props["ScheduleExpression"]
        arn = events.put_rule(**request)["RuleArn"]
        targets = []
        for target in props.get("Targets") or []:
            if ":sqs:" not in str(target.get("Arn")):
                self.note("EventBridge rule targets other than SQS queues")
                continue
            entry = {"Id": str(target["Id"]), "Arn": str(target["Arn"])}
            if target.get("InputPath"):
                entry["InputPath"] = target["InputPath"]
            if target.get("Input"):
                entry["Input"] = target["Input"]
            targets.append(entry)
        if targets:
            events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
        return {None: f"{bus}|{name}" if bus != "default" else name, "Arn": arn}

    # ---------------------------------------------------------------------------- secrets
    def _secret(self, logical_id: str) -> dict[str | None, Any]:
        props = self.resolved_properties(logical_id)
        name = props.get("Name") or f"{logical_id}-{hashlib.sha256(logical_id.encode()).hexdigest()[:12]}"
        secrets = self._clients("secretsmanager")
        if "SecretString" in props:
            value = str(props["SecretString"])
        else:
            value = self._generated_secret(secrets, props.get("GenerateSecretString") or {})
        if props.get("KmsKeyId"):
            self.note("secret KMS keys")
        arn = secrets.create_secret(Name=name, SecretString=value)["ARN"]
        self.secret_arns[logical_id] = arn
        return {None: arn, "Id": arn}

    @staticmethod
    def _generated_secret(secrets: Any, spec: dict[str, Any]) -> str:
        """A value as CloudFormation's GenerateSecretString makes it (Secrets Manager's own generator)."""
        options = {key: spec[key] for key in _GENERATE_OPTIONS if key in spec}
        password = secrets.get_random_password(**options)["RandomPassword"]
        template, key = spec.get("SecretStringTemplate"), spec.get("GenerateStringKey")
        if template and key:
            document = json.loads(template)
            document[key] = password
            return json.dumps(document)
        return password

    def put_secret_value(self, arn: str, value: str) -> None:
        self._clients("secretsmanager").put_secret_value(SecretId=arn, SecretString=value)

    def secret_value(self, arn: str) -> str:
        return str(self._clients("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])

    # ---------------------------------------------------------------------------- the rest
    def _function(self, logical_id: str) -> dict[str | None, Any]:
        name = self.properties(logical_id).get("FunctionName")
        name = self.resolve(name) if name else physical_name(self.stack.name, logical_id, 64)
        return {None: name, "Arn": self.arn("lambda", f"function:{name}")}

    def _role(self, logical_id: str) -> dict[str | None, Any]:
        name = self.properties(logical_id).get("RoleName")
        name = self.resolve(name) if name else physical_name(self.stack.name, logical_id, 64)
        path = self.properties(logical_id).get("Path", "/")
        return {
            None: name,
            "Arn": self.arn("iam", f"role{path}{name}", region=False),
            "RoleId": "AROA" + hashlib.sha256(name.encode()).hexdigest()[:17].upper(),
        }

    def _log_group(self, logical_id: str) -> dict[str | None, Any]:
        name = self.properties(logical_id).get("LogGroupName")
        name = self.resolve(name) if name else physical_name(self.stack.name, logical_id, 512)
        return {None: name, "Arn": self.arn("logs", f"log-group:{name}:*")}

    def _api(self, logical_id: str) -> dict[str | None, Any]:
        api_id = hashlib.sha256(f"{self.stack.name}/{logical_id}".encode()).hexdigest()[:10]
        return {None: api_id, "ApiId": api_id, "ApiEndpoint": self.api_url.rstrip("/")}


def ensure_event_bus(events: Any, name_or_arn: str) -> str:
    """The ARN of the bus named ``name_or_arn`` in moto, created unless it exists (``default`` always does)."""
    name = name_or_arn.rsplit("/", 1)[-1] if name_or_arn.startswith("arn:") else name_or_arn
    try:
        return str(events.describe_event_bus(Name=name)["Arn"])
    except events.exceptions.ResourceNotFoundException:
        return str(events.create_event_bus(Name=name)["EventBusArn"])


def _uuid(seed: str) -> str:
    digest = hashlib.sha256(seed.encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
