"""Run the functions of a synthesized template against moto, with the environment the template gives them.

* ``TemplateWorld`` creates, in a moto server, the table, queues and secrets the template defines
  (under physical names it chooses), and resolves the template's intrinsics (``Ref``,
  ``Fn::GetAtt``, ``Fn::Join``, ``Fn::Select``/``Fn::Split``, pseudo parameters) to them: each
  function's environment and IAM policies come out as CloudFormation would deploy them.
* ``RecordingProxy`` sits between the handlers and moto and records every AWS request (service,
  operation, parameters) at the HTTP level, so it sees any client (boto3 or a stdlib SigV4 one)
  that honours ``AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

import http.client
import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
from transflow_runtime.resources import create_table

REGION = "us-east-1"
ACCOUNT = "123456789012"
PSEUDO = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "iam-check",
    "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/iam-check/{uuid.UUID(int=7)}",
}


# ---- recording ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Call:
    service: str  # the SigV4 signing name: dynamodb, sqs, secretsmanager, ...
    operation: str
    params: dict[str, Any]


class RecordingProxy:
    """An HTTP proxy to ``upstream`` that records each AWS request; ``url`` is its endpoint."""

    def __init__(self, upstream: str) -> None:
        self.calls: list[Call] = []
        target = urlsplit(upstream)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                proxy.calls.append(_parse(self.headers, body, self.path))
                connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                connection.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> RecordingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _parse(headers: Any, body: bytes, path: str) -> Call:
    authorization = headers.get("Authorization") or ""
    scope = authorization.split("Credential=", 1)[-1].split(",", 1)[0].split("/")
    service = scope[3] if len(scope) >= 5 else "unknown"
    target = headers.get("X-Amz-Target")
    if target:
        params = json.loads(body or b"{}")
        return Call(service, target.rsplit(".", 1)[-1], params)
    form = {k: v[0] for k, v in parse_qs(body.decode() or urlsplit(path).query).items()}
    return Call(service, form.pop("Action", "unknown"), form)


# ---- the template, deployed to moto --------------------------------------------------------------
@dataclass
class Physical:
    ref: Any
    attributes: dict[str, Any] = field(default_factory=dict)


class TemplateWorld:
    """The template's stateful resources created in moto at ``endpoint``; intrinsics resolved to them."""

    def __init__(self, template: dict[str, Any], endpoint: str) -> None:
        self.template = template
        self.endpoint = endpoint
        self.resources = template["Resources"]
        self.physical: dict[str, Physical] = {}
        self.direct = {name: self.client(name) for name in ("dynamodb", "sqs", "secretsmanager", "kms")}
        suffix = uuid.uuid4().hex[:6]
        for logical_id, resource in self.resources.items():
            self.physical[logical_id] = self._create(logical_id, resource, suffix)

    def client(self, service: str, endpoint: str | None = None) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=endpoint or self.endpoint)

    def _create(self, logical_id: str, resource: dict[str, Any], suffix: str) -> Physical:
        kind, props = resource["Type"], resource.get("Properties", {})
        name = f"{logical_id[:40]}-{suffix}"
        if kind == "AWS::DynamoDB::Table":
            create_table(self.direct["dynamodb"], name)
            stream = self.direct["dynamodb"].describe_table(TableName=name)["Table"]["LatestStreamArn"]
            arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
            return Physical(name, {"Arn": arn, "StreamArn": stream})
        if kind == "AWS::SQS::Queue":
            url = self.direct["sqs"].create_queue(QueueName=name)["QueueUrl"]
            return Physical(url, {"Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}", "QueueName": name, "QueueUrl": url})
        if kind == "AWS::SecretsManager::Secret":
            arn = self.direct["secretsmanager"].create_secret(Name=name, SecretString="s" * 48)["ARN"]
            return Physical(arn, {"Id": arn})
        if kind == "AWS::KMS::Key":
            key = self.direct["kms"].create_key()["KeyMetadata"]
            return Physical(key["KeyId"], {"Arn": key["Arn"], "KeyId": key["KeyId"]})
        if kind == "AWS::Logs::LogGroup":
            group = props.get("LogGroupName")
            group = name if group is None else self.resolve(group)
            return Physical(group, {"Arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:*"})
        if kind == "AWS::Lambda::Function":
            return Physical(name, {"Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"})
        if kind == "AWS::IAM::Role":
            return Physical(name, {"Arn": f"arn:aws:iam::{ACCOUNT}:role/{name}", "RoleId": name})
        return Physical(name, {"Arn": f"arn:aws:unknown:{REGION}:{ACCOUNT}:{name}"})

    # ---- intrinsics ----
    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, argument), = value.items()
            if key == "Ref":
                return PSEUDO[argument] if argument in PSEUDO else self.physical[argument].ref
            if key == "Fn::GetAtt":
                logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self.physical[logical_id].attributes[attribute]
            if key == "Fn::Join":
                separator, parts = argument
                return separator.join(str(p) for p in self.resolve(parts))
            if key == "Fn::Split":
                separator, text = argument
                return self.resolve(text).split(separator)
            if key == "Fn::Select":
                index, items = argument
                return self.resolve(items)[int(self.resolve(index))]
        return {k: self.resolve(v) for k, v in value.items()}

    # ---- functions ----
    def function_id(self, handler_module: str) -> str:
        (found,) = [
            k
            for k, r in self.resources.items()
            if r["Type"] == "AWS::Lambda::Function" and handler_module in r["Properties"]["Handler"]
        ]
        return found

    def environment(self, function_id: str) -> dict[str, str]:
        variables = self.resources[function_id]["Properties"].get("Environment", {}).get("Variables", {})
        return {k: str(v) for k, v in self.resolve(variables).items()}

    def policies(self, function_id: str) -> list[dict[str, Any]]:
        """Every policy document attached to the function's role, resolved."""
        role = self.resources[function_id]["Properties"]["Role"]["Fn::GetAtt"][0]
        documents = [
            self.resolve(r["Properties"]["PolicyDocument"])
            for r in self.resources.values()
            if r["Type"] == "AWS::IAM::Policy" and {"Ref": role} in r["Properties"]["Roles"]
        ]
        documents += [self.resolve(p["PolicyDocument"]) for p in self.resources[role]["Properties"].get("Policies", [])]
        return documents

    def log_group_of(self, function_id: str) -> str:
        config = self.resources[function_id]["Properties"]["LoggingConfig"]
        return self.resolve(config["LogGroup"])

    def key_of(self, logical_id: str) -> str | None:
        """The KMS key ARN a table, queue or secret is encrypted with (``None``: AWS-owned/managed key)."""
        props = self.resources[logical_id].get("Properties", {})
        key = (
            (props.get("SSESpecification") or {}).get("KMSMasterKeyId")
            or props.get("KmsMasterKeyId")
            or props.get("KmsKeyId")
        )
        return self.resolve(key) if key is not None else None

    def logical_id_of(self, kind: str, attribute: str, value: str) -> str | None:
        for logical_id, physical in self.physical.items():
            if self.resources[logical_id]["Type"] == kind and (
                physical.attributes.get(attribute) == value or physical.ref == value
            ):
                return logical_id
        return None
