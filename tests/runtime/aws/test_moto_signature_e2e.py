"""End to end against a moto server that verifies every signature (moto's IAM authentication).

moto checks SigV4 once ``INITIAL_NO_AUTH_ACTION_COUNT`` requests have passed (here: from the
moment the fixture switches it on through ``/moto-api/reset-auth``): it recomputes each
request's signature with the secret of the access key it names (an IAM user's key created in
moto, or an assumed role's temporary key with its session token) and evaluates that identity's
IAM policies. The status and authorizer handlers run in fresh Lambda-like interpreters with boto3
unimportable: every read the status API makes (GetItem, BatchGetItem, Query, SendMessage) and the
authorizer's GetSecretValue must succeed, and answer exactly what the same handlers answer with
boto3; a request signed with the wrong secret must be refused and logged as boto3's is.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from transflow_runtime import StatusStore, assembly_id, schema
from transflow_runtime.auth import mint_token
from transflow_runtime.resources import create_table

from tests.runtime.status_support import http_event

from .lambda_process import REPO, lambda_environment, run_handler

REGION = "us-east-1"
JWT_SECRET = "moto-e2e-jwt-secret-0123456789abcdef0123"
STATUS = "transflow_runtime.handlers.status"
AUTHORIZER = "transflow_runtime.handlers.authorizer"
READ_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"],
         "Resource": "*"},
        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"},
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"},
    ],
}
_CHILD = """
import sys
from transflow_runtime.local.moto_server import SerialMotoServer
server = SerialMotoServer().start()
print(server.endpoint_url, flush=True)
sys.stdin.read()
server.stop()
"""


@pytest.fixture(scope="module")
def moto_with_auth() -> Iterator[dict[str, Any]]:
    """A moto server of its own (IAM auth is process-wide in moto), set up, then authenticating."""
    proc = subprocess.Popen([sys.executable, "-c", _CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, cwd=REPO)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://"), url
        yield _set_up(url)
    finally:
        proc.stdin.close()
        proc.wait(timeout=20)


def _set_up(url: str) -> dict[str, Any]:
    def client(service: str) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=url, aws_access_key_id="setup",
                            aws_secret_access_key="setup")

    iam = client("iam")
    keys = {}
    for user, policy in (("status-fn", READ_POLICY),
                         ("get-only", {"Version": "2012-10-17", "Statement": [
                             {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}]}),
                         ("inspector", {"Version": "2012-10-17", "Statement": [
                             {"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": "*"}]})):
        iam.create_user(UserName=user)
        iam.put_user_policy(UserName=user, PolicyName="read", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        keys[user] = (key["AccessKeyId"], key["SecretAccessKey"])
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName="status-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    iam.put_role_policy(RoleName="status-role", PolicyName="read", PolicyDocument=json.dumps(READ_POLICY))
    assumed = client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="lambda")["Credentials"]

    table = f"status-{uuid.uuid4().hex[:8]}"
    ddb = client("dynamodb")
    create_table(ddb, table)
    store = StatusStore(table, client=ddb)
    alice = [assembly_id(f"{i:032x}", "tpl", "alice") for i in range(3)]
    for i, aid in enumerate(alice):
        store.create(aid, user_id="alice", template_id="tpl")
        if i == 0:
            store.complete(aid)
    bob = assembly_id("f" * 32, "tpl", "bob")
    store.create(bob, user_id="bob", template_id="tpl")
    queue = client("sqs").create_queue(QueueName="webhooks")["QueueUrl"]
    secret = client("secretsmanager").create_secret(Name="jwt", SecretString=JWT_SECRET)["ARN"]
    # From here on, every request must carry a valid signature of a known identity.
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset-auth", data=b"0", method="POST",
                                                  headers={"Content-Type": "text/plain"}))
    return {"url": url, "keys": keys, "assumed": assumed, "table": table, "queue": queue, "secret": secret,
            "alice": alice, "bob": bob}


def _environment(moto: dict[str, Any], access_key: str, secret_key: str, token: str | None = None,
                 **extra: str) -> dict[str, str]:
    env = lambda_environment(
        AWS_ENDPOINT_URL=moto["url"], AWS_ACCESS_KEY_ID=access_key, AWS_SECRET_ACCESS_KEY=secret_key,
        TRANSFLOW_TABLE_NAME=moto["table"], TRANSFLOW_WEBHOOK_QUEUE_URL=moto["queue"],
        TRANSFLOW_JWT_SECRET_ARN=moto["secret"], AWS_MAX_ATTEMPTS="1", **extra)
    if token:
        env["AWS_SESSION_TOKEN"] = token
    else:
        env.pop("AWS_SESSION_TOKEN")
    return env


def _status_events(moto: dict[str, Any]) -> list[dict[str, Any]]:
    a0, a1, a2 = moto["alice"]
    return [
        http_event("GET", "/status", query={"assemblyId": a0}),
        http_event("GET", f"/assemblies/{a1}", route_key="GET /assemblies/{assemblyId}",
                   path_parameters={"assemblyId": a1}),
        http_event("POST", "/status/batch", body=json.dumps({"assemblyIds": [a0, a2, moto["bob"], "0" * 64]})),
        http_event("GET", "/assemblies", query={"limit": "2"}),
        http_event("GET", "/assemblies", query={"active": "true"}),
        http_event("POST", f"/assemblies/{a0}/notify"),
        {"assemblyId": a0, "userId": "alice", "triggerWebhook": True},
    ]


def _comparable(out: dict[str, Any]) -> list[Any]:
    """Responses without what differs by design between two runs (fresh event ids)."""
    responses = []
    for response in out["responses"]:
        response = json.loads(json.dumps(response))
        response.get("headers", {}).pop("X-Transflow-Event-Id", None)
        if response.get("statusCode") == 202:
            response["body"] = json.loads(response["body"])["assembly_id"]
        responses.append(response)
    return responses


def _log_lines(out: dict[str, Any]) -> list[dict[str, Any]]:
    lines = []
    for line in out["logs"]:
        lines.append({k: v for k, v in line.items() if k not in ("timestamp", "_aws", "traceback")})
    return lines


@pytest.mark.parametrize("identity", ["iam-user", "assumed-role-with-session-token"])
def test_every_status_read_succeeds_signed_by_the_light_client(moto_with_auth: dict[str, Any], identity: str) -> None:
    moto = moto_with_auth
    if identity == "iam-user":
        env = _environment(moto, *moto["keys"]["status-fn"])
    else:
        creds = moto["assumed"]
        env = _environment(moto, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    light = run_handler(STATUS, _status_events(moto), env, block_boto3=True)
    assert light["after_requests"] == []
    assert [r["statusCode"] for r in light["responses"]] == [200, 200, 200, 200, 200, 202, 200]
    assert not [line for line in light["logs"] if line.get("event") == "status_error"]
    batch = json.loads(light["responses"][2]["body"])["assemblies"]
    assert batch[moto["alice"][0]]["assembly_id"] == moto["alice"][0] and batch[moto["bob"]] is None
    assert len(json.loads(light["responses"][3]["body"])["assemblies"]) == 2

    boto = run_handler(STATUS, _status_events(moto), {**env, schema.AWS_CLIENT_ENV: "boto3"})
    assert "botocore" in boto["after_requests"]
    assert _comparable(light) == _comparable(boto)
    assert _log_lines(light) == _log_lines(boto)


def test_the_replays_reach_the_queue(moto_with_auth: dict[str, Any]) -> None:
    moto = moto_with_auth
    access_key, secret_key = moto["keys"]["status-fn"]
    out = run_handler(STATUS, [http_event("POST", f"/assemblies/{moto['alice'][1]}/notify")],
                      _environment(moto, access_key, secret_key), block_boto3=True)
    event_id = json.loads(out["responses"][0]["body"])["event_id"]
    reader_key, reader_secret = moto["keys"]["inspector"]
    sqs = boto3.client("sqs", region_name=REGION, endpoint_url=moto["url"], aws_access_key_id=reader_key,
                       aws_secret_access_key=reader_secret)
    bodies = []
    while True:
        got = sqs.receive_message(QueueUrl=moto["queue"], MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            break
        bodies += [json.loads(m["Body"]) for m in got]
    assert event_id in {b["event_id"] for b in bodies}


def test_the_authorizer_reads_its_secret_signed_by_the_light_client(moto_with_auth: dict[str, Any]) -> None:
    moto = moto_with_auth
    token = mint_token(JWT_SECRET, "alice")
    events = [{"version": "2.0", "type": "REQUEST", "headers": {"authorization": f"Bearer {token}"},
               "requestContext": {"requestId": "r1", "http": {"method": "GET", "path": "/status"}}}]
    env = _environment(moto, *moto["keys"]["status-fn"])
    light = run_handler(AUTHORIZER, events, env, block_boto3=True)
    assert light["responses"] == [{"isAuthorized": True, "context": {"userId": "alice"}}]
    assert light["after_requests"] == []
    wrong = run_handler(AUTHORIZER, events, {**env, "AWS_SECRET_ACCESS_KEY": "wrong"}, block_boto3=True)
    wrong_boto = run_handler(AUTHORIZER, events, {**env, "AWS_SECRET_ACCESS_KEY": "wrong",
                                                  schema.AWS_CLIENT_ENV: "boto3"})
    assert wrong["responses"] == wrong_boto["responses"]
    assert wrong["responses"][0]["raised"] == "AuthorizerConfigError"


def test_a_request_signed_with_the_wrong_secret_is_refused_and_logged_as_boto3s(
    moto_with_auth: dict[str, Any]
) -> None:
    moto = moto_with_auth
    access_key, _ = moto["keys"]["status-fn"]
    env = _environment(moto, access_key, "not-the-secret")
    events = _status_events(moto)[:1]
    light = run_handler(STATUS, events, env, block_boto3=True)
    boto = run_handler(STATUS, events, {**env, schema.AWS_CLIENT_ENV: "boto3"})
    assert light["responses"][0]["statusCode"] == 500
    assert json.loads(light["responses"][0]["body"]) == {"error": "the status store is unavailable; try again"}
    assert _comparable(light) == _comparable(boto)
    failures = [line for line in _log_lines(light) if line.get("event") == "status_error"]
    assert failures == [line for line in _log_lines(boto) if line.get("event") == "status_error"]
    assert "Signature" in failures[0]["detail"]


def test_an_identity_without_query_permission_is_denied_as_with_boto3(moto_with_auth: dict[str, Any]) -> None:
    """moto evaluates IAM policies too: GetItem is allowed, the list's Query is not."""
    moto = moto_with_auth
    env = _environment(moto, *moto["keys"]["get-only"])
    events = [_status_events(moto)[0], _status_events(moto)[3]]
    light = run_handler(STATUS, events, env, block_boto3=True)
    boto = run_handler(STATUS, events, {**env, schema.AWS_CLIENT_ENV: "boto3"})
    assert [r["statusCode"] for r in light["responses"]] == [200, 500]
    assert _comparable(light) == _comparable(boto) and _log_lines(light) == _log_lines(boto)
