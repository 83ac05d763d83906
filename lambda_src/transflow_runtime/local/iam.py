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
import hashlib
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
_QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}(\.fifo)?")
_QUEUE_URL = re.compile(r"https?://[^/?#;\s]+/(?P<account>\d{12})/(?P<name>[A-Za-z0-9_-]{1,80}(\.fifo)?)")
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
    def account_id(self) -> str:
        return self.arn.split(":")[4]

    @property
    def user_id(self) -> str:
        """GetCallerIdentity's ``UserId``: ``AROA...:session`` for a role session, ``AIDA...`` for a user."""
        unique = hashlib.sha256(self.arn.encode()).hexdigest()[:17].upper()
        if self.session_token:
            return f"AROA{unique}:{self.arn.rsplit('/', 1)[-1]}"
        return f"AIDA{unique}"

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


class RequestError(Exception):
    """A request local mode refuses before checking or running it (AWS's error ``code``)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


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

    def verify(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes, *, region: str | None = None
    ) -> SignedRequest:
        """The identity that signed this request; ``AuthError`` unless its SigV4 signature verifies,
        for ``region`` (when given) and for the service the request is addressed to."""
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
        if region is not None and match["region"] != region and not (
            match["service"] in _GLOBAL_SERVICES and match["region"] == "us-east-1"
        ):
            raise AuthError(
                "InvalidSignatureException", f"Credential should be scoped to a valid region, not '{match['region']}'. "
            )
        if match["service"] not in known_services():
            raise AuthError("InvalidSignatureException", f"Credential should be scoped to a valid service: "
                            f"'{match['service'][:40]}'. ")
        addressed = expected_service(path, lower)
        if addressed is not None and match["service"] != addressed:
            message = f"Credential should be scoped to correct service: '{addressed}'. "
            raise AuthError("InvalidSignatureException", message)
        declared = lower.get("x-amz-content-sha256")
        if declared is not None and declared != hashlib.sha256(body).hexdigest():
            # AWS hashes the body it received (botocore's verifier would trust the header instead).
            raise AuthError(
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided.",
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


#: Services whose requests are signed for us-east-1 wherever they go (STS's and IAM's global endpoint).
_GLOBAL_SERVICES = frozenset({"sts", "iam"})
#: The signing name of the services a JSON-protocol request's ``X-Amz-Target`` prefix addresses.
_TARGET_SERVICES = {
    "DynamoDB_20120810": "dynamodb",
    "DynamoDBStreams_20120810": "dynamodb",
    "AmazonSQS": "sqs",
    "secretsmanager": "secretsmanager",
    "Logs_20140328": "logs",
    "AWSEvents": "events",
    "TrentService": "kms",
}


_KNOWN: frozenset[str] | None = None


def known_services() -> frozenset[str]:
    """The signing names of the services botocore knows (a scope naming anything else is malformed)."""
    global _KNOWN
    if _KNOWN is None:
        import botocore.session

        _KNOWN = frozenset(botocore.session.get_session().get_available_services()) | {"execute-api"}
    return _KNOWN


def expected_service(path: str, headers: Mapping[str, str]) -> str | None:
    """The service a request is addressed to, where the request itself says (``None``: it does not)."""
    target = headers.get("x-amz-target", "")
    if target:
        return _TARGET_SERVICES.get(target.split(".", 1)[0])
    if urlsplit(path).path.startswith("/2015-03-31/functions/"):
        return "lambda"
    return None


# ------------------------------------------------------------------------------------- policies
def arn_pattern_matches(pattern: str, value: str) -> bool:
    """IAM's ``*`` and ``?`` wildcards (``?`` is one character; everything else literal)."""
    regex = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(regex, value) is not None


def _pattern(value: str) -> str:
    """An IAM wildcard pattern as moto's matcher reads it: moto turns ``*`` into ``.*`` and leaves
    the rest as regex syntax, so literal characters are escaped and IAM's ``?`` becomes ``.``."""
    return re.escape(value).replace(r"\*", "*").replace(r"\?", ".")


def _values(value: Any) -> list[str]:
    return [str(v) for v in (value if isinstance(value, list) else [value])]


@dataclass
class _Statement:
    """One statement for moto's ``IAMPolicyStatement``, with what moto gets wrong done first:
    ``NotResource`` (moto ignores it and treats a statement without ``Resource`` as matching
    everything, ``Deny`` included) is checked here and the statement given moto with
    ``Resource: *``; actions are matched case-insensitively, as IAM matches them."""

    evaluator: Any
    not_resources: list[str] | None


def _compile(document: Mapping[str, Any]) -> tuple[list[_Statement], int]:
    """The statements of one identity policy, and how many conditional statements were left out.

    moto evaluates no condition keys of identity policies; conditional statements are therefore
    dropped (an ``Allow`` that needs a condition stays denied, a conditional ``Deny`` is not
    applied) and named at start-up. A statement with neither ``Resource`` nor ``NotResource``
    (which IAM refuses in an identity policy) grants nothing.
    """
    from moto.iam.access_control import IAMPolicyStatement

    statements = document.get("Statement") or []
    statements = statements if isinstance(statements, list) else [statements]
    kept, dropped = [], 0
    for statement in statements:
        if not isinstance(statement, Mapping) or statement.get("Effect") not in ("Allow", "Deny"):
            continue
        if statement.get("Condition"):
            dropped += 1
            continue
        fixed: dict[str, Any] = {"Effect": statement["Effect"]}
        for key in ("Action", "NotAction"):
            if key in statement:
                fixed[key] = [_pattern(v.lower()) for v in _values(statement[key])]
        if not ("Action" in fixed or "NotAction" in fixed):
            continue
        not_resources = None
        if "Resource" in statement:
            fixed["Resource"] = [_pattern(v) for v in _values(statement["Resource"])]
        elif "NotResource" in statement:
            not_resources = [_pattern(v) for v in _values(statement["NotResource"])]
            fixed["Resource"] = ["*"]
        else:
            continue
        kept.append(_Statement(IAMPolicyStatement(fixed), not_resources))
    return kept, dropped


def conditional_statements(policies: list[dict[str, Any]]) -> int:
    return sum(_compile(p)[1] for p in policies)


#: Actions IAM allows every authenticated identity, whatever its policies ("GetCallerIdentity":
#: "No permissions are required to perform this operation").
ALWAYS_ALLOWED = frozenset({"sts:getcalleridentity"})


def decide(identity: Identity, action: str, resource: str) -> str | None:
    """``None`` when allowed, else why not (AWS's wording). "Policy evaluation logic": an explicit
    ``Deny`` in any policy wins; otherwise some ``Allow`` must match; otherwise implicitly denied."""
    if identity.policies is None or action.lower() in ALWAYS_ALLOWED:
        return None
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult

    if not identity._compiled:
        identity._compiled = [s for p in identity.policies for s in _compile(p)[0]] or [None]
    permitted = False
    for statement in identity._compiled:
        if statement is None:
            continue
        if statement.not_resources is not None and any(
            IAMPolicyStatement._match(pattern, resource) for pattern in statement.not_resources
        ):
            continue  # NotResource: the statement applies to every resource but these
        result = statement.evaluator.is_action_permitted(action.lower(), resource)
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
        #: ARN of a resource made here -> the ARN the template's policies name it by
        self.aliases: dict[str, str] = {}

    def stream(self, arn: str) -> str:
        return self.aliases.get(arn, arn)

    def table(self, name: str) -> str:
        return name if name.startswith("arn:") else f"arn:aws:dynamodb:{self.region}:{self.account_id}:table/{name}"

    def queue(self, url_or_name: str) -> str:
        """The ARN of the queue a ``QueueUrl`` (or ``QueueName``) names; ``RequestError`` unless it
        is exactly ``scheme://host/ACCOUNT/NAME`` or a bare name, so that moto (which acts on the
        last ``/`` segment of whatever it is given) and this check see the same queue."""
        if url_or_name.startswith("arn:"):
            return url_or_name
        if "://" not in url_or_name:
            if not _QUEUE_NAME.fullmatch(url_or_name):
                raise RequestError("QueueDoesNotExist", "The specified queue does not exist.", 400)
            return f"arn:aws:sqs:{self.region}:{self.account_id}:{url_or_name}"
        match = _QUEUE_URL.fullmatch(url_or_name)
        if match is None:
            message = f"The address {url_or_name[:200]} is not valid for this endpoint."
            raise RequestError("InvalidAddress", message, 404)
        return f"arn:aws:sqs:{self.region}:{match['account']}:{match['name']}"

    def secret(self, secret_id: str) -> str:
        if secret_id.startswith("arn:"):
            for arn in self.secrets.values():
                if arn == secret_id or arn.startswith(secret_id + "-"):
                    return arn  # a partial ARN names the secret whose full ARN it starts
            return secret_id
        return self.secrets.get(secret_id, f"arn:aws:secretsmanager:{self.region}:{self.account_id}:secret:{secret_id}")

    def event_bus(self, name_or_arn: str | None) -> str:
        name = name_or_arn or "default"
        return name if name.startswith("arn:") else f"arn:aws:events:{self.region}:{self.account_id}:event-bus/{name}"

    def function_parts(self, name: str) -> tuple[str, str, str, str | None]:
        """(region, account, name, qualifier) of a ``FunctionName`` as Lambda reads it: a name, a
        name with ``:qualifier``, a partial ARN (``ACCOUNT:function:NAME``) or a full ARN."""
        name = unquote(name)
        region, account = self.region, self.account_id
        if ":function:" in name:
            prefix, rest = name.split(":function:", 1)
            head = prefix.split(":")
            if prefix.startswith("arn:") and len(head) == 5:
                region, account = head[3], head[4]
            elif len(head) == 1:
                account = head[0]
            name = rest
        short, _, qualifier = name.partition(":")
        return region, account, short, qualifier or None

    def function(self, name: str) -> str:
        """The function's ARN as IAM checks ``lambda:InvokeFunction`` (qualified when the call is)."""
        region, account, short, qualifier = self.function_parts(name)
        return f"arn:aws:lambda:{region}:{account}:function:{short}" + (f":{qualifier}" if qualifier else "")


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
        elif service == "sqs" and urlsplit(path).path.strip("/"):
            resources = [names.queue("http://local" + urlsplit(path).path)]  # the query API's queue path
        return Operation(service, form["Action"], resources, "query")
    return None


def _json_resources(prefix: str, name: str, params: Mapping[str, Any], names: ResourceNames) -> list[str]:
    if prefix.startswith("DynamoDBStreams"):
        if "StreamArn" in params:
            return [names.stream(str(params["StreamArn"]))]
        if "ShardIterator" in params:
            return [names.stream(str(params["ShardIterator"]).split("|", 1)[0])]
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
    if prefix == "AWSEvents" and name == "PutEvents":
        # Service Authorization Reference, Amazon EventBridge: PutEvents is authorized on each entry's bus.
        entries = params.get("Entries") if isinstance(params.get("Entries"), list) else []
        buses = {names.event_bus(e.get("EventBusName")) for e in entries if isinstance(e, dict)}
        return sorted(buses) or [names.event_bus(None)]
    if prefix.startswith("secretsmanager"):
        return [names.secret(str(params["SecretId"]))] if "SecretId" in params else ["*"]
    return ["*"]


#: moto serves the account this header names (local mode runs in the stack's own account).
MOTO_ACCOUNT_HEADER = "x-moto-account-id"


def caller_identity(identity: Identity) -> bytes:
    """STS ``GetCallerIdentity``'s answer for the identity that signed the call."""
    return (
        '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
        f"<Arn>{_xml(identity.arn)}</Arn><UserId>{_xml(identity.user_id)}</UserId>"
        f"<Account>{identity.account_id}</Account></GetCallerIdentityResult>"
        "<ResponseMetadata><RequestId>local</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
    ).encode()


def access_denied(
    identity: Identity, operation: Operation, resource: str, reason: str
) -> tuple[int, dict[str, str], bytes]:
    """AWS's answer to a denied call, in the request's protocol."""
    message = f"User: {identity.arn} is not authorized to perform: {operation.action} on resource: {resource} {reason}"
    return error_response(operation.protocol, "AccessDeniedException", message, service=operation.service)


#: The query protocol's names for these errors (SQS's and STS's XML API).
_QUERY_CODES = {"AccessDeniedException": "AccessDenied", "InvalidSignatureException": "SignatureDoesNotMatch"}


def error_response(protocol: str, code: str, message: str, *, service: str = "") -> tuple[int, dict[str, str], bytes]:
    if protocol == "query":
        query_code = _QUERY_CODES.get(code, code)
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
