"""Review findings: each test demonstrates one definite bug and is marked ``xfail(strict=True)``.

When a fix lands, the test starts passing, ``strict`` turns that into a failure, and the marker
must be removed: the test then guards the fix.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import ipaddress
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from transflow_runtime import assembly_id, assembly_id_for_files, md5_of_bytes

MD5 = "d41d8cd98f00b204e9800998ecf8427e"
README = Path(__file__).resolve().parents[2] / "README.md"


# ------------------------------------------------------------------------------------ webhooks
@pytest.mark.xfail(
    strict=True,
    reason="verify_webhook falls back to X-Transflow-Signature (no timestamp) when the webhook-* headers "
    "are missing, and allow_legacy defaults to True: stripping the Standard headers from any captured "
    "delivery replays it forever, so tolerance= protects nothing",
)
def test_verify_webhook_refuses_a_day_old_capture_with_standard_headers_stripped():
    from transflow_runtime.webhooks import WebhookVerificationError, sign_webhook, verify_webhook

    body = json.dumps(
        {
            "assembly_id": "a" * 64,
            "ok": "ASSEMBLY_COMPLETED",
            "template_id": "t",
            "user": {"userId": "u"},
            "created_at": "2025-01-01T00:00:00.000Z",
            "updated_at": "2025-01-01T00:00:00.000Z",
        },
        separators=(",", ":"),
    ).encode()
    secret = "whsec_dHJhbnNmbG93LXJldmlldy1zZWNyZXQ="
    captured = sign_webhook(body, secret, event_id="evt_1", timestamp=int(time.time()) - 86400)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(body, captured, secret, tolerance=300)  # refused, as it should be
    replayed = {k: v for k, v in captured.items() if not k.lower().startswith("webhook-")}
    with pytest.raises(WebhookVerificationError):
        verify_webhook(body, replayed, secret, tolerance=300)  # README's receiver call: accepted today


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.xfail(
    strict=True,
    reason="deliver() raises UnicodeEncodeError for a non-ASCII path (http.client encodes the request line "
    "as ASCII): the webhook handler treats it as a crash, records nothing, retries at the queue's "
    "visibility timeout and finally dead-letters without a reason",
)
def test_deliver_to_a_url_with_a_non_ascii_path_returns_a_result():
    from transflow_runtime.delivery import deliver
    from transflow_runtime.netguard import NetGuard

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hooks/café"
        result = deliver(
            url, b"{}", {"Content-Type": "application/json"}, guard=NetGuard(["127.0.0.1"], allow_http=True), timeout=5
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.outcome in ("success", "stop")


@pytest.mark.xfail(
    strict=True,
    reason="stable_event_id depends on (assembly_id, event, version) only; a deterministic id re-created "
    "after TTL/deletion reaches the same version and re-uses the old webhook-id, so receivers that "
    "de-duplicate on webhook-id (as the README tells them to) drop the new completion",
)
def test_terminal_transitions_of_two_incarnations_get_different_event_ids():
    from transflow_runtime.handlers.dispatcher import transition_of

    aid = "b" * 64

    def record(created_at: str, seq: str) -> dict:
        def image(state: str) -> dict:
            return {
                "assembly_id": {"S": aid},
                "state": {"S": state},
                "version": {"N": "7"},
                "created_at": {"S": created_at},
            }

        return {
            "eventName": "MODIFY",
            "dynamodb": {
                "Keys": {"assembly_id": {"S": aid}},
                "SequenceNumber": seq,
                "OldImage": image("ASSEMBLY_EXECUTING"),
                "NewImage": image("ASSEMBLY_COMPLETED"),
            },
        }

    first = transition_of(record("2025-01-01T00:00:00.000Z", "100"))
    second = transition_of(record("2025-03-01T00:00:00.000Z", "900"))  # same files/user/template, 2 months on
    assert first is not None and second is not None
    assert first.event_id != second.event_id


# ------------------------------------------------------------------------------------ SSRF
@pytest.mark.xfail(
    strict=True,
    reason="NetGuard.refusal checks METADATA_ADDRESSES against the raw address only: the IPv4-mapped/NAT64 "
    "forms of 169.254.169.254 pass for an allow-listed host, although the docs say metadata is refused "
    "even when allow-listed",
)
def test_metadata_endpoint_in_mapped_form_is_refused_even_for_an_allow_listed_host():
    from transflow_runtime.netguard import NetGuard, parse_target

    guard = NetGuard(["hooks.internal"])
    target = parse_target("https://hooks.internal/transflow")
    for form in ("::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe"):
        assert guard.refusal(ipaddress.ip_address(form), target) is not None, form


# ------------------------------------------------------------------------------------ ownership / secrets
@pytest.mark.xfail(
    strict=True,
    reason="public_view() only hides user_id/execution_start_epoch: notify_url (with its https://user:pass@ "
    "credentials, which the README says are never logged) is served to the end user by the status API",
)
def test_status_api_does_not_hand_notify_url_credentials_to_the_end_user(store, dynamodb, table_name, monkeypatch):
    from transflow_runtime.handlers import status as status_handler

    aid = assembly_id(MD5, "tpl", "alice")
    store.create(
        aid, user_id="alice", template_id="tpl", notify_url="https://app:s3cret-pass@hooks.example.com/transflow"
    )
    monkeypatch.setenv("TRANSFLOW_TABLE_NAME", table_name)
    status_handler.reset_for_tests(dynamodb=dynamodb)
    try:
        event = {
            "version": "2.0",
            "routeKey": "GET /status",
            "rawPath": "/status",
            "queryStringParameters": {"assemblyId": aid},
            "requestContext": {
                "http": {"method": "GET", "path": "/status"},
                "requestId": "r1",
                "authorizer": {"jwt": {"claims": {"sub": "alice"}}},
            },
        }
        response = status_handler.handler(event, None)
    finally:
        monkeypatch.delenv("TRANSFLOW_TABLE_NAME")
        status_handler.reset_for_tests()
    assert response["statusCode"] == 200
    assert "s3cret-pass" not in response["body"]


# ------------------------------------------------------------------------------------ ids
@pytest.mark.xfail(
    strict=True,
    reason="ids._MD5_RE uses '$' with re.match, which also matches before a trailing newline: "
    "'<md5>\\n' (md5sum output, a line read from a file) is accepted and silently yields another id",
)
def test_assembly_id_rejects_an_md5_with_a_trailing_newline():
    with pytest.raises(ValueError):
        assembly_id(MD5 + "\n", "tpl", "alice")


@pytest.mark.xfail(
    strict=True,
    reason="assembly_id lowercases the md5 before hashing, so an uppercase md5 does not give "
    "sha256(md5 + template + user) as the seed computes it (hash it as given, or refuse it)",
)
def test_assembly_id_is_the_seed_formula_for_an_uppercase_md5():
    upper = MD5.upper()
    seed = hashlib.sha256((upper + "tpl" + "alice").encode()).hexdigest()
    try:
        result = assembly_id(upper, "tpl", "alice")
    except ValueError:
        return  # refusing non-canonical input is also acceptable
    assert result == seed


@pytest.mark.xfail(
    strict=True,
    reason="assembly_id_for_files(b'...') iterates the bytes: each int is passed to md5_of_file, which "
    "open()s it as a file descriptor, reads it and closes it; a wrong id comes back silently",
)
def test_assembly_id_for_files_given_bytes_does_not_read_or_close_file_descriptors():
    read_end, write_end = os.pipe()
    os.write(write_end, b"unrelated data")
    os.close(write_end)
    data = bytes([read_end])  # one file's content that happens to be a live fd number
    try:
        try:
            result = assembly_id_for_files(data, "tpl", "alice")
        except (TypeError, ValueError):
            result = None  # refusing a bare bytes object is acceptable
        os.fstat(read_end)  # raises if assembly_id_for_files closed our descriptor
        assert result in (None, assembly_id(md5_of_bytes(data), "tpl", "alice"))
    finally:
        with contextlib.suppress(OSError):
            os.close(read_end)


# ------------------------------------------------------------------------------------ store
@pytest.mark.xfail(
    strict=True,
    reason="create(extra=...) is written unchecked: extra={'ok': 'ASSEMBLY_COMPLETED'} makes a queued "
    "assembly look finished to seed clients (they stop polling) while the store keeps accepting progress",
)
def test_create_refuses_store_managed_fields_in_extra(store):
    aid = assembly_id(MD5, "tpl", "alice")
    with pytest.raises(ValueError):
        store.create(aid, user_id="alice", template_id="tpl", extra={"ok": "ASSEMBLY_COMPLETED"})


@pytest.mark.xfail(
    strict=True,
    reason="progress(state=...) accepts any string: state='DONE' is neither active nor terminal, so the API "
    "serves it with Retry-After 2 forever and the stream never fires a webhook",
)
def test_progress_refuses_a_state_that_is_not_an_active_state(store):
    aid = assembly_id(MD5, "tpl", "alice")
    store.create(aid, user_id="alice", template_id="tpl")
    with pytest.raises(ValueError):
        store.progress(aid, state="DONE")


@pytest.mark.xfail(
    strict=True,
    reason="progress(fields=...) lets through attributes _write_active also sets (updated_at, "
    "execution_duration, ttl-adjacent); DynamoDB refuses the overlapping paths and the caller gets an "
    "opaque StoreError instead of a ValueError naming the field",
)
def test_progress_fields_that_the_store_manages_raise_value_error(store):
    aid = assembly_id(MD5, "tpl", "alice")
    store.create(aid, user_id="alice", template_id="tpl")
    with pytest.raises(ValueError):
        store.progress(aid, fields={"updated_at": "2025-01-01T00:00:00.000Z"})


# ------------------------------------------------------------------------------------ README
def _readme_local_snippet() -> str:
    text = README.read_text(encoding="utf-8")
    marker = "A worker writing to local mode is the same code as in production:"
    block = re.search(re.escape(marker) + r"\s*```python\n(.*?)```", text, re.S)
    assert block, "README lost its local-mode worker snippet"
    return block.group(1)


@pytest.mark.xfail(
    strict=True,
    reason="README's local-mode worker snippet (for users with 'no AWS account') fails with "
    "'Unable to locate credentials': boto3 must sign requests for the local gateway to pass them to moto, "
    "and neither the README nor the banner says to set dummy credentials",
)
def test_readme_local_mode_worker_snippet_runs_without_aws_credentials(tmp_path):
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    ready = tmp_path / "ready.json"
    local = subprocess.Popen(
        [sys.executable, "-m", "transflow_runtime.cli", "local", "--port", "0", "--ready-file", str(ready), "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=clean,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert local.poll() is None and time.monotonic() < deadline, "local mode did not start"
            time.sleep(0.05)
        info = json.loads(ready.read_text())
        snippet = _readme_local_snippet().replace("http://127.0.0.1:8787", info["api_url"])
        snippet += "\nprint(store.get('" + "0" * 64 + "'))\n"
        run = subprocess.run([sys.executable, "-c", snippet], env=clean, capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr[-600:]
        assert run.stdout.strip() == "None"
    finally:
        local.terminate()
        try:
            local.wait(timeout=20)
        except subprocess.TimeoutExpired:
            local.kill()
            local.wait()


class _FailingDynamoDB:
    """A client whose every read fails the way DynamoDB throttling does."""

    def _fail(self, **_kwargs: object) -> None:
        from botocore.exceptions import ClientError

        raise ClientError(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "BatchGetItem"
        )

    batch_get_item = query = get_item = _fail


@pytest.mark.xfail(
    strict=True,
    reason="get_many/list_for_user call dynamo.batch_get_items/query_user_items without _translate: "
    "AWS failures escape as raw botocore ClientError, while get/create/... raise StoreError",
)
def test_store_reads_of_many_items_raise_store_error_like_the_other_calls():
    from transflow_runtime import StatusStore, StoreError

    store = StatusStore("t", client=_FailingDynamoDB())
    with pytest.raises(StoreError):
        store.get("a" * 64)  # the single read is translated...
    with pytest.raises(StoreError):
        store.get_many(["a" * 64])  # ...the batch read is not
    with pytest.raises(StoreError):
        store.list_for_user("alice")
