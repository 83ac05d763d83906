"""Webhook signatures: both schemes verified by independent implementations, and verify_webhook."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import time
from decimal import Decimal

import pytest
import standardwebhooks
from transflow_runtime import WebhookVerificationError, sign_webhook, status_to_wire, verify_webhook
from transflow_runtime.delivery import USER_AGENT, build_request

from tests import tooling

WHSEC = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
EVENT_ID = "evt_0123456789abcdef0123456789abcdef"

ITEM = {
    "assembly_id": "a" * 64,
    "ok": "ASSEMBLY_COMPLETED",
    "state": "ASSEMBLY_COMPLETED",
    "message": "Terminé ✅ — 🎵 naïve \u2028 \"quoted\" </script>",
    "template_id": "tpl_basic_audio",
    "user": {"userId": "user_456"},
    "created_at": "2025-01-01T00:00:00.000Z",
    "updated_at": "2025-01-01T00:00:01.000Z",
    "uploads": [{"id": "up1", "name": "chanson 🎶.wav", "size": Decimal("1048576"), "meta": {"ratio": 0.1 + 0.2}}],
    "results": {"10": [], "2": [], "encode": []},
    "bytes_expected": Decimal("1048576"),
    "execution_duration": Decimal("12.5"),
    "progress_pct": Decimal("100.0"),
    "big_counter": 2**60 + 1,
    "tiny": 1e-7,
    "huge": 1.5e300,
    "negative_zero": -0.0,
}


# The seed's receiver (status-tracking-guide.md, "Webhook Handler"), run as Express would:
# body-parser's JSON.parse of the raw body, then the guide's check over JSON.stringify(req.body).
SEED_RECEIVER = r"""
const { createHmac } = require("crypto");
const chunks = [];
process.stdin.on("data", (c) => chunks.push(c));
process.stdin.on("end", () => {
  const req = { body: JSON.parse(Buffer.concat(chunks).toString("utf8")),
                headers: { "x-transflow-signature": process.env.SIGNATURE } };
  const signature = req.headers["x-transflow-signature"];
  const secret = process.env.TRANSFLOW_WEBHOOK_SECRET;
  if (secret && signature) {
    const expectedSignature = `sha256=${createHmac("sha256", secret)
      .update(JSON.stringify(req.body))
      .digest("hex")}`;
    if (signature !== expectedSignature) {
      process.stdout.write("401 Invalid signature");
      return;
    }
  }
  process.stdout.write("200 " + req.body.assembly_id);
});
"""


def run_seed_receiver(body: bytes, signature: str, secret: str) -> str:
    done = subprocess.run(
        [tooling.node(), "-e", SEED_RECEIVER],
        input=body,
        capture_output=True,
        env={"SIGNATURE": signature, "TRANSFLOW_WEBHOOK_SECRET": secret, "PATH": "/usr/bin:/bin"},
        timeout=30,
        check=True,
    )
    return done.stdout.decode()


def signed(secret: str = WHSEC, timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
    return build_request(ITEM, secret, event_id=EVENT_ID, event="completed", timestamp=timestamp)


def test_request_carries_content_type_user_agent_event_and_both_signatures():
    body, headers = signed(timestamp=1_700_000_000)
    assert body == status_to_wire(ITEM)
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == USER_AGENT and USER_AGENT.startswith("transflow-webhooks/")
    assert headers["X-Transflow-Event"] == "completed"
    assert headers["webhook-id"] == EVENT_ID and headers["webhook-timestamp"] == "1700000000"
    expected_hex = hmac.new(WHSEC.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Transflow-Signature"] == f"sha256={expected_hex}"
    key = base64.b64decode(WHSEC.removeprefix("whsec_"))
    expected_b64 = base64.b64encode(hmac.new(key, f"{EVENT_ID}.1700000000.".encode() + body, "sha256").digest())
    assert headers["webhook-signature"] == "v1," + expected_b64.decode()


def test_standardwebhooks_library_verifies_our_headers_with_a_whsec_secret():
    body, headers = signed()
    payload = standardwebhooks.Webhook(WHSEC).verify(body, headers)
    assert payload["assembly_id"] == ITEM["assembly_id"] and payload["message"] == ITEM["message"]


def test_standardwebhooks_library_rejects_another_secret_and_a_tampered_body():
    body, headers = signed()
    other = "whsec_" + base64.b64encode(b"another-key-another-key-another!").decode()
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(other).verify(body, headers)
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(WHSEC).verify(body.replace(b"user_456", b"user_457"), headers)


def test_a_secret_without_whsec_prefix_keys_standard_webhooks_with_its_raw_bytes():
    secret = "plain shared secret ✓"
    body, headers = signed(secret)
    assert standardwebhooks.Webhook(secret.encode("utf-8")).verify(body, headers)["assembly_id"] == ITEM["assembly_id"]


@pytest.mark.parametrize("secret", [WHSEC, "s3cr3t-with-ünïcode-🔑"])
def test_seed_node_receiver_accepts_x_transflow_signature_for_the_same_secret_string(secret):
    body, headers = signed(secret)
    assert run_seed_receiver(body, headers["X-Transflow-Signature"], secret) == "200 " + ITEM["assembly_id"]


def test_seed_node_receiver_rejects_a_tampered_body_and_a_wrong_secret():
    body, headers = signed()
    tampered = body.replace(b'"tpl_basic_audio"', b'"tpl_other"')
    assert run_seed_receiver(tampered, headers["X-Transflow-Signature"], WHSEC) == "401 Invalid signature"
    assert run_seed_receiver(body, headers["X-Transflow-Signature"], WHSEC + "x") == "401 Invalid signature"


def test_body_is_exactly_what_json_stringify_writes_after_json_parse():
    # The property the seed's signature relies on, checked by Node itself.
    body, _ = signed()
    out = subprocess.run(
        [tooling.node(), "-e", "let s='';process.stdin.on('data',c=>s+=c).on('end',()=>"
         "process.stdout.write(JSON.stringify(JSON.parse(s))))"],
        input=body, capture_output=True, check=True, timeout=30,
    ).stdout
    assert out == body


# ------------------------------------------------------------------------------ verify_webhook
def test_verify_webhook_returns_the_assembly_status():
    body, headers = signed()
    status = verify_webhook(body, headers, WHSEC)
    assert status.assembly_id == ITEM["assembly_id"] and status.ok == "ASSEMBLY_COMPLETED"
    assert status.user_id == "user_456"


def test_verify_webhook_headers_are_case_insensitive_and_may_be_pairs():
    body, headers = signed()
    pairs = [(k.upper(), v) for k, v in headers.items()]
    assert verify_webhook(body, pairs, WHSEC).assembly_id == ITEM["assembly_id"]


def test_verify_webhook_rejects_stale_and_future_timestamps():
    now = time.time()
    body, old = signed(timestamp=int(now) - 301)
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify_webhook(body, old, WHSEC, now=now)
    body, future = signed(timestamp=int(now) + 301)
    with pytest.raises(WebhookVerificationError, match="future"):
        verify_webhook(body, future, WHSEC, now=now)
    body, edge = signed(timestamp=int(now) - 299)
    assert verify_webhook(body, edge, WHSEC, now=now)
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify_webhook(body, edge, WHSEC, tolerance=60, now=now)


def test_verify_webhook_accepts_any_of_several_v1_signatures():
    body, headers = signed()
    good = headers["webhook-signature"]
    bogus = "v1," + base64.b64encode(b"x" * 32).decode()
    headers["webhook-signature"] = f"v2,{good[3:]} {bogus} {good}"
    assert verify_webhook(body, headers, WHSEC)
    headers["webhook-signature"] = f"v2,{good[3:]} {bogus} v1,not-base64!"
    with pytest.raises(WebhookVerificationError, match="webhook-signature does not match"):
        verify_webhook(body, headers, WHSEC)


def test_verify_webhook_prefers_standard_headers_so_a_valid_legacy_signature_cannot_rescue_a_bad_one():
    body, headers = signed()
    headers["webhook-signature"] = "v1," + base64.b64encode(b"y" * 32).decode()
    with pytest.raises(WebhookVerificationError, match="webhook-signature"):
        verify_webhook(body, headers, WHSEC)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp"])
def test_verify_webhook_names_a_missing_standard_header(missing):
    body, headers = signed()
    del headers[missing]
    with pytest.raises(WebhookVerificationError, match=missing):
        verify_webhook(body, headers, WHSEC)


def test_verify_webhook_rejects_tampered_body_wrong_secret_and_a_changed_event_id():
    body, headers = signed()
    with pytest.raises(WebhookVerificationError, match="does not match"):
        verify_webhook(body.replace(b"user_456", b"user_457"), headers, WHSEC)
    with pytest.raises(WebhookVerificationError, match="does not match"):
        verify_webhook(body, headers, "whsec_" + base64.b64encode(b"z" * 32).decode())
    with pytest.raises(WebhookVerificationError, match="does not match"):
        verify_webhook(body, {**headers, "webhook-id": "evt_other"}, WHSEC)


def test_verify_webhook_accepts_the_seed_signature_alone_only_when_legacy_is_allowed():
    body, headers = signed("seed-secret")
    legacy = {"X-Transflow-Signature": headers["X-Transflow-Signature"]}
    with pytest.raises(WebhookVerificationError, match="allow_legacy"):
        verify_webhook(body, legacy, "seed-secret")  # replayable: refused by default
    assert verify_webhook(body, legacy, "seed-secret", allow_legacy=True).assembly_id == ITEM["assembly_id"]
    with pytest.raises(WebhookVerificationError, match="X-Transflow-Signature does not match"):
        verify_webhook(body, legacy, "other-secret", allow_legacy=True)
    with pytest.raises(WebhookVerificationError, match="sha256="):
        verify_webhook(body, {"X-Transflow-Signature": "md5=abc"}, "seed-secret", allow_legacy=True)


def test_verify_webhook_without_any_signature_header_says_so():
    body, _ = signed()
    with pytest.raises(WebhookVerificationError, match="no signature header"):
        verify_webhook(body, {"Content-Type": "application/json"}, WHSEC)


def test_verify_webhook_reports_a_signed_body_that_is_not_an_assembly_status():
    body = json.dumps({"hello": "world"}).encode()
    headers = sign_webhook(body, WHSEC, event_id=EVENT_ID)
    with pytest.raises(WebhookVerificationError, match="not an AssemblyStatus"):
        verify_webhook(body, headers, WHSEC)


def test_sign_webhook_refuses_header_injection_in_the_event_id_and_non_bytes_bodies():
    with pytest.raises(ValueError, match="event_id"):
        sign_webhook(b"{}", WHSEC, event_id="evt\r\nX-Evil: 1")
    with pytest.raises(TypeError, match="bytes"):
        sign_webhook("{}", WHSEC, event_id=EVENT_ID)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not base64"):
        sign_webhook(b"{}", "whsec_***", event_id=EVENT_ID)


# ------------------------------------------------------------------------------ README receivers
def _readme_block(language: str) -> str:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("<!-- section:webhooks -->", 1)[1].split("<!-- /section:webhooks -->", 1)[0]
    blocks = section.split(f"```{language}\n")[1:]
    assert blocks, f"README's webhooks section has no {language} block"
    return blocks[-1].split("```", 1)[0]


def run_readme_node_receiver(body: bytes, headers: dict[str, str], secret: str) -> str:
    code = _readme_block("js").split("// express.raw", 1)[0]  # the verify function, not the Express app
    harness = code + r"""
const chunks = [];
process.stdin.on("data", (c) => chunks.push(c)).on("end", () => {
  const given = Object.entries(JSON.parse(process.env.HEADERS));
  const headers = Object.fromEntries(given.map(([k, v]) => [k.toLowerCase(), v]));  // as Node's http does
  try {
    const assembly = verifyTransflowWebhook(Buffer.concat(chunks), headers, process.env.SECRET);
    process.stdout.write("ok " + assembly.assembly_id);
  } catch (err) {
    process.stdout.write("error " + err.message);
  }
});
"""
    done = subprocess.run([tooling.node(), "-e", harness], input=body, capture_output=True, timeout=30, check=True,
                          env={"HEADERS": json.dumps(headers), "SECRET": secret, "PATH": "/usr/bin:/bin"})
    return done.stdout.decode()


@pytest.mark.parametrize("secret", [WHSEC, "plain secret ✓"])
def test_readme_node_receiver_verifies_our_standard_signature(secret):
    body, headers = signed(secret)
    assert run_readme_node_receiver(body, headers, secret) == "ok " + ITEM["assembly_id"]


def test_readme_node_receiver_rejects_tampering_stale_timestamps_and_wrong_secrets():
    body, headers = signed()
    assert run_readme_node_receiver(body + b" ", headers, WHSEC) == "error webhook-signature does not match"
    stale_body, stale = signed(timestamp=int(time.time()) - 3600)
    assert run_readme_node_receiver(stale_body, stale, WHSEC).startswith("error webhook-timestamp")
    assert run_readme_node_receiver(body, headers, "whsec_" + base64.b64encode(b"k" * 32).decode()).startswith("error")


def test_readme_python_receiver_is_valid_python_using_the_public_api():
    import ast

    tree = ast.parse(_readme_block("python"))
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for alias in node.names}
    assert {"verify_webhook", "WebhookVerificationError"} <= names



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
