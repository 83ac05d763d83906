"""End to end over real HTTP: local mode running app.py's synthesized template in a subprocess, a
real webhook receiver, real clients."""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest
from transflow_runtime import StatusClient, StatusLambdaClient, assembly_id, verify_webhook
from transflow_runtime.clients import AccessDeniedError

from .conftest import TEMPLATE, WEBHOOK_SECRET, aws_client, mint_from, start_local, stop_local

TEMPLATE_OK = TEMPLATE_FLAKY = TEMPLATE_DEAD = TEMPLATE


@pytest.fixture(scope="module")
def token_for(local):
    return lambda user, ttl=600: mint_from(local, user, ttl)


def new_id(template: str, user: str) -> str:
    return assembly_id(hashlib.md5(uuid.uuid4().bytes).hexdigest(), template, user)


def http(method: str, url: str, token: str | None = None, body: dict | None = None, headers: dict | None = None):
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        request.add_header("Content-Type", "application/json")
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def settle(local: dict, local_store, receiver) -> None:
    """Wait until every stream record written so far has been through the dispatcher and its
    webhooks delivered: a sentinel assembly finished now is dispatched after them (one shard, in
    order), so once its delivery is recorded and the webhook queue is empty, any webhook an
    earlier write could cause has reached the receiver."""
    sentinel = new_id(TEMPLATE_OK, "sentinel")
    local_store.create(sentinel, user_id="sentinel", template_id=TEMPLATE_OK)
    local_store.complete(sentinel)
    wait_for(lambda: (s := local_store.get(sentinel)) and s.notify_status == "delivered")
    sqs = aws_client(local, "sqs")
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]

    def queue_empty() -> bool:
        attributes = sqs.get_queue_attributes(QueueUrl=local["webhook_queue_url"], AttributeNames=names)
        return all(attributes["Attributes"][n] == "0" for n in names)

    wait_for(queue_empty)
    assert len(receiver.for_assembly(sentinel)) == 1


def test_ready_file_lists_every_endpoint(local):
    for key in ("api_url", "aws_endpoint_url", "region", "table_name", "webhook_queue_url", "dlq_url",
                "status_function_name"):
        assert local[key], key
    assert local["stack"] == "TransflowExample"
    assert local["startup_seconds"] > 0  # measured by benchmarks/local_startup.py, never asserted


def test_status_is_404_before_creation_then_200_with_progress_then_terminal(local, local_store, token_for):
    user = "alice"
    token = token_for(user)
    aid = new_id(TEMPLATE_OK, user)
    url = f"{local['api_url']}/status?assemblyId={aid}"

    status, headers, body = http("GET", url, token)
    assert status == 404 and "error" in json.loads(body)
    assert headers.get("Retry-After") == "5"

    local_store.create(aid, user_id=user, template_id=TEMPLATE_OK,
                       uploads=[{"id": "u1", "name": "a.wav", "size": 2048, "mime": "audio/wav"}], steps_total=2)
    local_store.start_step(aid, "encode")
    local_store.progress(aid, bytes_received=1024, progress_pct=40)
    status, headers, body = http("GET", url, token)
    running = json.loads(body)
    assert status == 200
    assert running["state"] == "ASSEMBLY_EXECUTING" and running["current_step_name"] == "encode"
    assert running["bytes_received"] == 1024 and running["progress_pct"] == 40 and "ok" not in running
    assert headers.get("Retry-After") == "2" and "no-store" in headers.get("Cache-Control", "")

    etag = headers["ETag"]
    status, _, body = http("GET", url, token, headers={"If-None-Match": etag})
    assert status == 304 and body == b""

    local_store.add_result(aid, "encode", {"id": "r1", "name": "a.mp3", "size": 512, "ssl_url": "https://x/a.mp3"})
    local_store.complete(aid)
    status, headers, body = http("GET", url, token, headers={"If-None-Match": etag})
    done = json.loads(body)
    assert status == 200 and done["ok"] == "ASSEMBLY_COMPLETED" and done["results"]["encode"][0]["name"] == "a.mp3"
    assert "user_id" not in done  # the store's bookkeeping never leaks


def test_missing_token_is_401_and_foreign_token_is_403(local, local_store, token_for):
    aid = new_id(TEMPLATE_OK, "owner")
    local_store.create(aid, user_id="owner", template_id=TEMPLATE_OK)
    url = f"{local['api_url']}/status?assemblyId={aid}"
    assert http("GET", url)[0] == 401
    status, _, body = http("GET", url, token_for("intruder"))
    assert status == 403 and "error" in json.loads(body)
    assert aid not in body.decode()
    # Signed with another key under the issuer's own kid: the JWT authorizer refuses it with
    # API Gateway's own 401 body.
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    genuine = token_for("owner")
    claims = jwt.decode(genuine, options={"verify_signature": False})
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = jwt.get_unverified_header(genuine)["kid"]
    forged = jwt.encode(claims, other_key, algorithm="RS256", headers={"kid": kid})
    status, headers, body = http("GET", url, forged)
    assert status == 401 and json.loads(body) == {"message": "Unauthorized"}
    assert headers["www-authenticate"].startswith("Bearer")


def _check_signatures(delivery) -> None:
    # Standard Webhooks (and the parsed status) via the library's receiver helper
    verified = verify_webhook(delivery.body, delivery.headers, WEBHOOK_SECRET)
    assert verified.assembly_id
    # the seed's receiver: HMAC over JSON.stringify(JSON.parse(body)) == our body bytes
    expected = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), delivery.body, hashlib.sha256).hexdigest()
    assert delivery.headers["x-transflow-signature"] == expected


def test_completion_sends_one_webhook_with_both_signatures_valid(local, local_store, receiver):
    aid = new_id(TEMPLATE_OK, "bob")
    local_store.create(aid, user_id="bob", template_id=TEMPLATE_OK)
    local_store.progress(aid, message="working")  # not terminal: no webhook
    local_store.complete(aid)
    wait_for(lambda: receiver.for_assembly(aid))
    wait_for(lambda: (s := local_store.get(aid)) and s.notify_status == "delivered")
    settle(local, local_store, receiver)  # a webhook fired by the delivery record would be in by now
    deliveries = receiver.for_assembly(aid)
    assert len(deliveries) == 1
    delivery = deliveries[0]
    assert delivery.path == "/hooks/ok" and delivery.headers["content-type"].startswith("application/json")
    assert delivery.headers["x-transflow-event"] == "completed"
    _check_signatures(delivery)
    payload = json.loads(delivery.body)
    assert payload["ok"] == "ASSEMBLY_COMPLETED" and payload["assembly_id"] == aid
    recorded = wait_for(lambda: (s := local_store.get(aid)) and s.notify_status == "delivered" and s)
    assert recorded.notify_response_code == 200


def test_replay_sends_the_webhook_again_with_a_new_event_id(local, local_store, token_for, receiver):
    aid = new_id(TEMPLATE_OK, "carol")
    local_store.create(aid, user_id="carol", template_id=TEMPLATE_OK)
    local_store.fail(aid, "ENCODE_FAILED", "bad input")
    first = wait_for(lambda: receiver.for_assembly(aid))[0]
    status, _, body = http("POST", f"{local['api_url']}/assemblies/{aid}/notify", token_for("carol"))
    assert status == 202, body
    assert http("POST", f"{local['api_url']}/assemblies/{aid}/notify", token_for("mallory"))[0] == 403
    deliveries = wait_for(lambda: len(receiver.for_assembly(aid)) >= 2 and receiver.for_assembly(aid))
    second = deliveries[1]
    _check_signatures(second)
    assert second.headers["webhook-id"] != first.headers["webhook-id"]
    assert json.loads(second.body)["error"] == "ENCODE_FAILED"


def test_failed_delivery_is_retried_until_the_receiver_accepts(local, local_store, receiver):
    aid = new_id(TEMPLATE_FLAKY, "dave")
    receiver.plan[aid] = [500, 200]
    local_store.create(aid, user_id="dave", template_id=TEMPLATE_FLAKY)
    local_store.complete(aid)
    deliveries = wait_for(lambda: len(receiver.for_assembly(aid)) >= 2 and receiver.for_assembly(aid), timeout=40)
    assert [d.status for d in deliveries[:2]] == [500, 200]
    assert deliveries[0].headers["webhook-id"] == deliveries[1].headers["webhook-id"]
    recorded = wait_for(lambda: (s := local_store.get(aid)) and s.notify_status == "delivered" and s)
    assert recorded.notify_attempts == 2


def test_a_delivery_that_never_succeeds_ends_in_the_dlq_with_its_reason(local, local_store, receiver):
    aid = new_id(TEMPLATE_DEAD, "erin")
    receiver.plan[aid] = [503]
    local_store.create(aid, user_id="erin", template_id=TEMPLATE_DEAD)
    local_store.complete(aid)
    sqs = aws_client(local, "sqs")

    def dead_lettered():
        messages = sqs.receive_message(QueueUrl=local["dlq_url"], MaxNumberOfMessages=10,
                                       MessageAttributeNames=["All"], VisibilityTimeout=0).get("Messages", [])
        return [m for m in messages if aid in m["Body"]]

    found = wait_for(dead_lettered, timeout=60, interval=0.5)
    assert len(receiver.for_assembly(aid)) == 3  # 1 attempt + 2 retries (delays 1,1)
    text = json.dumps(found[0])
    assert "503" in text
    assert wait_for(lambda: (s := local_store.get(aid)) and s.notify_status == "failed" and s)


def test_status_lambda_client_through_the_local_invoke_api(local, local_store):
    aid = new_id(TEMPLATE_OK, "frank")
    local_store.create(aid, user_id="frank", template_id=TEMPLATE_OK)
    lam = aws_client(local, "lambda")
    client = StatusLambdaClient(local["status_function_name"], client=lam)
    result = client.get_status(aid, "frank")
    assert result.success and result.status.assembly_id == aid and result.status_code == 200
    denied = client.get_status(aid, "someone-else")
    assert not denied.success and denied.status_code == 403
    missing = client.get_status(new_id(TEMPLATE_OK, "frank"), "frank")
    assert not missing.success and missing.status_code == 404
    trusted = client.get_status(aid)  # no user id: a trusted IAM caller
    assert trusted.success


def test_status_client_waits_until_completion(local, local_store, token_for):
    aid = new_id(TEMPLATE_OK, "gina")
    client = StatusClient(local["api_url"], token=lambda: token_for("gina"))
    seen: list[str] = []

    def worker():
        time.sleep(0.5)
        local_store.create(aid, user_id="gina", template_id=TEMPLATE_OK)
        local_store.start_step(aid, "encode")
        time.sleep(1.0)
        local_store.complete(aid)

    import threading

    thread = threading.Thread(target=worker)
    thread.start()
    final = client.wait(aid, on_update=lambda s: seen.append(s.state), timeout=60)
    thread.join()
    assert final.ok == "ASSEMBLY_COMPLETED"
    assert seen[-1] == "ASSEMBLY_COMPLETED"
    with pytest.raises(AccessDeniedError):
        StatusClient(local["api_url"], token=token_for("not-gina")).get(aid)


@pytest.mark.parametrize(("finish", "code"), [("complete", 0), ("fail", 1), ("cancel", 3)])
def test_watch_exits_by_outcome(local, local_store, token_for, finish, code):
    aid = new_id(TEMPLATE_OK, "hank")
    local_store.create(aid, user_id="hank", template_id=TEMPLATE_OK, steps_total=1)
    local_store.start_step(aid, "encode")
    if finish == "complete":
        local_store.add_result(aid, "encode", {"id": "r", "name": "out.mp3", "ssl_url": "https://x/out.mp3"})
        local_store.complete(aid)
    elif finish == "fail":
        local_store.fail(aid, "BROKEN", "it broke")
    else:
        local_store.cancel(aid)
    done = subprocess.run(
        [sys.executable, "-m", "transflow_runtime.cli", "watch", aid, "--api", local["api_url"],
         "--token", token_for("hank"), "--timeout", "30"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == code, done.stdout + done.stderr
    assert {"complete": "Completed", "fail": "Failed", "cancel": "Canceled"}[finish] in done.stdout


def test_token_command_mints_a_token_the_api_accepts(local, local_store):
    """With the template's JWT authorizer and no --oidc-issuer, local mode's own development issuer
    signs the tokens; ``transflow-status token --api`` asks it for more."""
    aid = new_id(TEMPLATE_OK, "ivy")
    local_store.create(aid, user_id="ivy", template_id=TEMPLATE_OK)
    minted = subprocess.run(
        [sys.executable, "-m", "transflow_runtime.cli", "token", "--api", local["api_url"], "--user", "ivy"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    import jwt

    assert jwt.get_unverified_header(minted)["alg"] == "RS256"
    assert jwt.decode(minted, options={"verify_signature": False})["iss"] == local["oidc_issuer"]
    assert http("GET", f"{local['api_url']}/assemblies/{aid}", minted)[0] == 200


@pytest.mark.parametrize(
    "args",
    [["--port", "99999"], ["--webhook", "no-equals-sign"], ["--webhook-retry-delays", "1,x"],
     ["--webhook-max-attempts", "0"], ["--bogus"]],
)
def test_bad_options_give_one_line_error_and_non_zero_exit(args):
    done = subprocess.run([sys.executable, "-m", "transflow_runtime.cli", "local", *args],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "error" in lines[0], done.stderr


def test_jwt_secret_on_a_template_with_a_jwt_authorizer_is_refused_in_one_line(example_assembly):
    """An option overriding something the template does not have is a usage error, never ignored:
    app.py's routes use a JWT (OIDC) authorizer, which has no shared secret."""
    done = subprocess.run([sys.executable, "-m", "transflow_runtime.cli", "local", "--port", "0",
                           "--app", str(example_assembly), "--jwt-secret", "s3cret"],
                          capture_output=True, text=True, timeout=120)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert "--jwt-secret" in lines[0] and "JWT (OIDC) authorizer" in lines[0]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_stops_cleanly_and_removes_the_ready_file(tmp_path, signum, default_stack_cached):
    ready = tmp_path / "ready.json"
    process, info = start_local(["--demo"], ready)
    status, _, _ = http("GET", info["api_url"] + "/")
    assert status == 200
    process.send_signal(signum)
    try:
        output, _ = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        stop_local(process)
        raise AssertionError("local mode did not stop within 20 s of the signal") from None
    code = process.returncode
    assert code == 0, output
    assert not ready.exists()
    assert "stopped" in output
