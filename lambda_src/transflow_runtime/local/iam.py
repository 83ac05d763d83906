"""Who signed an AWS request, and whether that identity's policies allow it, before moto sees it.

* SigV4 is verified by recomputing the signature with botocore's own signer from the request as
  received (the method moto's IAM emulation uses), against the credentials local mode issued: an
  administrator key for the developer (printed at start-up) and one session per function.
* A function's calls are checked against the identity policies of its role in the template, with
  moto's IAM policy evaluator (``moto.iam.access_control.IAMPolicy``: wildcards, ``Deny`` before
  ``Allow``). What this module adds is the request's action and resource ARN, which moto itself
  only derives for a few services, and AWS's ``AccessDeniedException`` answer.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
import re
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

log = logging.getLogger("transflow.local")

#: SigV4 requests older or newer than this are refused, as AWS refuses them.
MAX_CLOCK_SKEW = dt.timedelta(minutes=15)
_CREDENTIAL = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r"\s*SignedHeaders=(?P<headers>[^,]+),\s*Signature=(?P<signature>[0-9a-f]{64})\s*$"
)


@dataclass
class Identity:
    """Credentials local mode issued, and what the holder may do (``policies`` None: everything)."""

    name: str
    arn: str
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None
    policies: list[dict[str, Any]] | None = None
    _compiled: list[Any] = field(default_factory=list, repr=False)

    @property
    def environment(self) -> dict[str, str]:
        env = {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key}
        if self.session_token:
            env["AWS_SESSION_TOKEN"] = self.session_token
        return env


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def new_identity(name: str, arn: str, *, session: bool, policies: list[dict[str, Any]] | None) -> Identity:
    upper = string.ascii_uppercase + string.digits
    return Identity(
        name=name,
        arn=arn,
        access_key_id=("ASIA" if session else "AKIA") + _random(upper, 16),
        secret_access_key=_random(string.ascii_letters + string.digits + "/+", 40),
        session_token=_random(string.ascii_letters + string.digits, 172) if session else None,
        policies=policies,
    )


class AuthError(Exception):
    """A request whose signature does not verify: ``code`` is AWS's error code for it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class SignedRequest:
    identity: Identity
    service: str
    region: str


class Credentials:
    """The identities local mode issued, by access key id."""

    def __init__(self) -> None:
        self._by_key: dict[str, Identity] = {}

    def add(self, identity: Identity) -> Identity:
        self._by_key[identity.access_key_id] = identity
        return identity

    def verify(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> SignedRequest:
        """The identity that signed this request; ``AuthError`` unless its SigV4 signature verifies."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials as BotoCredentials

        lower = {k.lower(): v for k, v in headers.items()}
        match = _CREDENTIAL.match(lower.get("authorization", ""))
        if match is None:
            raise AuthError(
                "IncompleteSignatureException", "the Authorization header is not an AWS Signature Version 4"
            )
        identity = self._by_key.get(match["key"])
        if identity is None:
            raise AuthError("UnrecognizedClientException", "The security token included in the request is invalid.")
        token = lower.get("x-amz-security-token")
        if identity.session_token is not None and not hmac.compare_digest(token or "", identity.session_token):
            raise AuthError("UnrecognizedClientException", "The security token included in the request is invalid.")
        if identity.session_token is None and token:
            raise AuthError("UnrecognizedClientException", "The security token included in the request is invalid.")
        stamp = lower.get("x-amz-date", "")
        try:
            signed_at = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        except ValueError:
            raise AuthError("IncompleteSignatureException", "the request has no valid X-Amz-Date") from None
        if abs(dt.datetime.now(dt.UTC) - signed_at) > MAX_CLOCK_SKEW or stamp[:8] != match["date"]:
            raise AuthError(
                "InvalidSignatureException", "Signature expired or not yet valid (more than 15 minutes off)"
            )
        signed_names = match["headers"].split(";")
        if "host" not in signed_names:
            raise AuthError("IncompleteSignatureException", "the signature must cover the Host header")
        request = AWSRequest(
            method=method,
            url=path,
            data=body,
            headers={k: v for k, v in headers.items() if k.lower() in signed_names},
        )
        request.context["timestamp"] = stamp
        signer = SigV4Auth(
            BotoCredentials(identity.access_key_id, identity.secret_access_key, identity.session_token),
            match["service"],
            match["region"],
        )
        canonical = signer.canonical_request(request)
        expected = signer.signature(signer.string_to_sign(request, canonical), request)
        if not hmac.compare_digest(expected, match["signature"]):
            raise AuthError(
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided.",
            )
        return SignedRequest(identity=identity, service=match["service"], region=match["region"])


# ------------------------------------------------------------------------------------- policies
def arn_pattern_matches(pattern: str, value: str) -> bool:
    """IAM's ``*`` and ``?`` wildcards (``?`` is one character; everything else literal)."""
    regex = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(regex, value) is not None


def _for_moto(document: Mapping[str, Any]) -> tuple[str, int]:
    """The policy as moto's evaluator reads it, and how many conditional statements were left out.

    moto turns only ``*`` into a regular expression and leaves the rest of a pattern as regex
    syntax, so literal characters are escaped and IAM's ``?`` becomes ``.`` first. It evaluates
    no condition keys of identity policies; conditional statements are therefore dropped (an
    ``Allow`` that needs a condition stays denied, a conditional ``Deny`` is not applied).
    """
    statements = document.get("Statement") or []
    statements = statements if isinstance(statements, list) else [statements]
    kept, dropped = [], 0
    for statement in statements:
        if statement.get("Condition"):
            dropped += 1
            continue
        fixed = dict(statement)
        for key in ("Resource", "NotResource"):
            if key in fixed:
                values = fixed[key] if isinstance(fixed[key], list) else [fixed[key]]
                fixed[key] = [re.escape(v).replace(r"\*", "*").replace(r"\?", ".") for v in values]
        kept.append(fixed)
    return json.dumps({"Version": "2012-10-17", "Statement": kept}), dropped


def conditional_statements(policies: list[dict[str, Any]]) -> int:
    return sum(_for_moto(p)[1] for p in policies)


def decide(identity: Identity, action: str, resource: str) -> str | None:
    """``None`` when allowed, else why not (AWS's wording)."""
    if identity.policies is None:
        return None
    from moto.iam.access_control import IAMPolicy, PermissionResult

    if not identity._compiled:
        identity._compiled = [IAMPolicy(_for_moto(p)[0]) for p in identity.policies] or [None]
    permitted = False
    for policy in identity._compiled:
        if policy is None:
            continue
        result = policy.is_action_permitted(action, resource)
        if result == PermissionResult.DENIED:
            return "with an explicit deny in an identity-based policy"
        if result == PermissionResult.PERMITTED:
            permitted = True
    return None if permitted else f"because no identity-based policy allows the {action} action"


# ------------------------------------------------------------------------------------- requests
#: API operations authorized by another IAM action (SQS's batch calls: "Amazon SQS API permissions:
#: Actions and resource reference" lists them under the single-message action).
_IAM_ACTION = {
    ("sqs", "SendMessageBatch"): "SendMessage",
    ("sqs", "DeleteMessageBatch"): "DeleteMessage",
    ("sqs", "ChangeMessageVisibilityBatch"): "ChangeMessageVisibility",
    ("lambda", "Invoke"): "InvokeFunction",
}


@dataclass
class Operation:
    """What an AWS API request asks to do: ``service:Action`` on each resource ARN."""

    service: str
    name: str
    resources: list[str]
    protocol: str  # "json" | "query" | "rest-json"

    @property
    def action(self) -> str:
        return f"{self.service}:{_IAM_ACTION.get((self.service, self.name), self.name)}"


class ResourceNames:
    """Turns the names requests carry (table names, queue URLs, secret ids) into ARNs."""

    def __init__(self, region: str, account_id: str) -> None:
        self.region = region
        self.account_id = account_id
        #: secret name -> full ARN (the ARN's suffix cannot be derived from the name)
        self.secrets: dict[str, str] = {}

    def table(self, name: str) -> str:
        return name if name.startswith("arn:") else f"arn:aws:dynamodb:{self.region}:{self.account_id}:table/{name}"

    def queue(self, url_or_name: str) -> str:
        if url_or_name.startswith("arn:"):
            return url_or_name
        parts = urlsplit(url_or_name).path.strip("/").split("/") if "://" in url_or_name else [url_or_name]
        account = parts[0] if len(parts) == 2 else self.account_id
        return f"arn:aws:sqs:{self.region}:{account}:{parts[-1]}"

    def secret(self, secret_id: str) -> str:
        if secret_id.startswith("arn:"):
            for arn in self.secrets.values():
                if arn == secret_id or arn.startswith(secret_id + "-"):
                    return arn  # a partial ARN names the secret whose full ARN it starts
            return secret_id
        return self.secrets.get(secret_id, f"arn:aws:secretsmanager:{self.region}:{self.account_id}:secret:{secret_id}")

    def function(self, name: str) -> str:
        name = unquote(name)
        if name.startswith("arn:"):
            return name.split(":function:", 1)[0] + ":function:" + name.split(":function:", 1)[1].split(":")[0]
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name.split(':')[0]}"


def operation(
    service: str, method: str, path: str, headers: Mapping[str, str], body: bytes, names: ResourceNames
) -> Operation | None:
    """The IAM action and resources of a request; ``None`` when local mode cannot tell."""
    lower = {k.lower(): v for k, v in headers.items()}
    target = lower.get("x-amz-target", "")
    if target:
        name = target.rsplit(".", 1)[-1]
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            params = {}
        prefix = target.split(".", 1)[0]
        return Operation(service, name, _json_resources(prefix, name, params, names), "json")
    if service == "lambda":
        found = re.match(r"^/2015-03-31/functions/([^/]+)/invocations$", urlsplit(path).path)
        if found and method == "POST":
            return Operation("lambda", "InvokeFunction", [names.function(found.group(1))], "rest-json")
        return None
    form = {k: v[0] for k, v in parse_qs(urlsplit(path).query).items()}
    if "x-www-form-urlencoded" in lower.get("content-type", ""):
        form.update({k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()})
    if "Action" in form:
        resources = ["*"]
        if service == "sqs" and ("QueueUrl" in form or "QueueName" in form):
            resources = [names.queue(form.get("QueueUrl") or form["QueueName"])]
        return Operation(service, form["Action"], resources, "query")
    return None


def _json_resources(prefix: str, name: str, params: Mapping[str, Any], names: ResourceNames) -> list[str]:
    if prefix.startswith("DynamoDBStreams"):
        if "StreamArn" in params:
            return [str(params["StreamArn"])]
        if "ShardIterator" in params:
            return [str(params["ShardIterator"]).split("|", 1)[0]]
        return ["*"]
    if prefix.startswith("DynamoDB"):
        if name in ("BatchGetItem", "BatchWriteItem"):
            return [names.table(t) for t in (params.get("RequestItems") or {})] or ["*"]
        if name in ("TransactGetItems", "TransactWriteItems"):
            tables = set()
            for item in params.get("TransactItems") or []:
                for request in item.values():
                    if isinstance(request, dict) and "TableName" in request:
                        tables.add(names.table(request["TableName"]))
            return sorted(tables) or ["*"]
        if "TableName" in params:
            table = names.table(str(params["TableName"]))
            return [f"{table}/index/{params['IndexName']}" if params.get("IndexName") else table]
        return ["*"]
    if prefix.startswith("AmazonSQS"):
        if "QueueUrl" in params:
            return [names.queue(str(params["QueueUrl"]))]
        if "QueueName" in params:
            return [names.queue(str(params["QueueName"]))]
        return ["*"]
    if prefix.startswith("secretsmanager"):
        return [names.secret(str(params["SecretId"]))] if "SecretId" in params else ["*"]
    return ["*"]


def access_denied(
    identity: Identity, operation: Operation, resource: str, reason: str
) -> tuple[int, dict[str, str], bytes]:
    """AWS's answer to a denied call, in the request's protocol."""
    message = f"User: {identity.arn} is not authorized to perform: {operation.action} on resource: {resource} {reason}"
    return error_response(operation.protocol, "AccessDeniedException", message, service=operation.service)


def error_response(protocol: str, code: str, message: str, *, service: str = "") -> tuple[int, dict[str, str], bytes]:
    if protocol == "query":
        query_code = "AccessDenied" if code == "AccessDeniedException" else code
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{query_code}</Code><Message>{_xml(message)}</Message>"
            f"</Error><RequestId>local</RequestId></ErrorResponse>"
        )
        return 403, {"content-type": "text/xml"}, body.encode()
    if protocol == "rest-json":
        return (
            403,
            {"content-type": "application/json", "x-amzn-errortype": code},
            json.dumps({"Type": "User", "message": message}).encode(),
        )
    headers = {"content-type": "application/x-amz-json-1.0", "x-amzn-errortype": code}
    if service == "sqs":
        # SQS's JSON protocol is query-compatible: clients read the classic code from this header.
        headers["x-amzn-query-error"] = f"{'AccessDenied' if code == 'AccessDeniedException' else code};Sender"
    body = json.dumps({"__type": f"com.amazon.coral.service#{code}", "Message": message, "message": message})
    return 400, headers, body.encode()


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
