"""schemathesis fuzzes local mode over real HTTP against the OpenAPI document it serves.

Two runs, each bounded (fixed seed, a few dozen examples per operation): one with valid tokens for
two users (the document's example user, who owns the seeded assemblies, and a peer who owns none),
one with no token at all. Every response must be documented: status code, content type, body
schema and headers; no server error; invalid input refused; auth actually enforced; the peer
never gets the owner's assembly (schemathesis' object-level authorization check).

Checks that do not fit an API Gateway HTTP API are left out, each for a reason:

* ``unsupported_method`` wants 405 for a method the document does not list. API Gateway answers a
  method no route has with ``404 {"message": "Not Found"}`` before any authorizer runs (routes
  match method and path). Getting 405 would take ``ANY`` routes, and an ``ANY`` route behind an
  authorizer receives the browsers' CORS preflights too, which then fail authorization
  (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-cors.html).
* ``positive_data_acceptance`` wants every schema-valid request accepted. A ``cursor`` is opaque
  and server-issued (a made-up one is rightly a 400) and ``assemblyId``/``assembly_id`` must agree
  when both are sent, a rule OpenAPI cannot state.

``SCHEMATHESIS_MAX_EXAMPLES`` (and ``SCHEMATHESIS_SEED``) deepen or vary a run locally.
"""

from __future__ import annotations

import base64
import collections
import json
import os
import sys
from pathlib import Path

import pytest
from transflow_runtime import StatusStore, openapi

from tests import tooling

from .conftest import aws_client, mint_from, start_local, stop_local

PEER_USER_ID = "peer_789"
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "missing_required_header",
    "ignored_auth",
    "use_after_free",
    "ensure_resource_availability",
    "allow_header_conformance",
    "object_level_authorization",
)
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "10"))
SEED = os.environ.get("SCHEMATHESIS_SEED", "20261201")


@pytest.fixture(scope="module")
def fuzzed_local(example_assembly, tmp_path_factory):
    """Local mode of its own on app.py's template (its output in a file), with the document's
    example assemblies."""
    directory = tmp_path_factory.mktemp("schemathesis")
    log = directory / "local.log"
    process, info = start_local(["--app", str(example_assembly)], directory / "ready.json", log=log)
    try:
        store = StatusStore(info["table_name"], client=aws_client(info, "dynamodb"))
        for ident in (openapi.EXAMPLE_ACTIVE_ID, openapi.EXAMPLE_COMPLETED_ID):
            store.create(
                ident, user_id=openapi.EXAMPLE_USER_ID, template_id=openapi.EXAMPLE_TEMPLATE_ID, steps_total=2,
                uploads=[{"id": "up1", "name": "song.wav", "size": 1_048_576, "mime": "audio/wav",
                          "meta": {"duration": 12.5, "channels": 2}}],
            )
            store.start_step(ident, "encode")
            store.progress(ident, bytes_received=524_288, progress_pct=37.5)
            store.add_result(ident, "encode", {"id": "r1", "name": "song.mp3", "size": 312_000, "mime": "audio/mpeg",
                                               "ssl_url": "https://cdn.example.com/song.mp3", "meta": {"bitrate": 192}})
        store.complete(openapi.EXAMPLE_COMPLETED_ID)
        info["directory"] = directory
        yield info
    finally:
        code, _ = stop_local(process)
        assert code == 0, log.read_text()[-3000:]
    # A traceback in local mode's output is a failure even if every answer looked right.
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


def _schemathesis(
    local: dict, name: str, *options: str, max_examples: int, config: Path | None = None
) -> tuple[collections.Counter, str]:
    """Run ``schemathesis run`` on local mode's /openapi.json; the answers it got, counted by
    (operation, status, who answered), and its output."""
    tooling.module("schemathesis")
    import subprocess

    directory = local["directory"] / name
    directory.mkdir(exist_ok=True)
    if config is None:  # schemathesis would otherwise look for a schemathesis.toml up the tree
        config = directory / "schemathesis.toml"
        config.write_text("")
    report = directory / "events.ndjson"
    command = [
        str(Path(sys.executable).with_name("schemathesis")), "--no-color", "--config-file", str(config), "run",
        f"{local['api_url']}/openapi.json",
        "--checks", ",".join(CHECKS),
        "--max-examples", str(max_examples), "--seed", SEED, "--workers", "1",
        "--request-timeout", "10", "--max-failures", "20",
        "--report", "ndjson", "--report-ndjson-path", str(report),
        *options,
    ]
    # cwd: schemathesis keeps a crash cache in ./.schemathesis
    run = subprocess.run(command, cwd=directory, capture_output=True, text=True, timeout=300, check=False)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-12000:]
    print(output[-1500:])  # the summary (phases, counts, time) for -s / failing runs
    seen: collections.Counter = collections.Counter()
    for line in report.read_text().splitlines():
        finished = json.loads(line).get("ScenarioFinished")
        for interaction in (finished or {}).get("recorder", {}).get("interactions", {}).values():
            response = interaction.get("response")
            if response is not None:
                content = response.get("content") or {}
                body = base64.b64decode(content["$base64"]) if "$base64" in content else b""
                seen[(finished["recorder"]["label"], response["status_code"], _who_answered(body))] += 1
    return seen, output


def _who_answered(body: bytes) -> str:
    """``gateway`` for API Gateway's ``{"message": ...}``, ``function`` for the status function's."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return "none"
    return "gateway" if isinstance(parsed, dict) and set(parsed) == {"message"} else "function"


def test_schemathesis_finds_nothing_with_valid_tokens_for_two_users(fuzzed_local):
    directory = fuzzed_local["directory"] / "tokens"
    directory.mkdir()
    auth = directory / "auth.json"
    auth.write_text(json.dumps({"auth": [
        {"name": "owner", "fixedHeaders": [
            {"name": "Authorization", "value": f"Bearer {mint_from(fuzzed_local, openapi.EXAMPLE_USER_ID)}"}]},
        {"name": "peer", "fixedHeaders": [
            {"name": "Authorization", "value": f"Bearer {mint_from(fuzzed_local, PEER_USER_ID)}"}]},
    ]}))
    config = directory / "schemathesis.toml"
    config.write_text(f'[auth.wfc]\npath = "{auth}"\npeers = ["owner", "peer"]\n')
    seen, output = _schemathesis(fuzzed_local, "tokens", max_examples=MAX_EXAMPLES, config=config)
    # The run reached real answers of every kind, not just refusals.
    answered = {(label, status) for label, status, who in seen if who == "function"}
    for expected in [
        ("GET /status", 200), ("GET /assemblies/{assemblyId}", 200), ("GET /status", 404), ("GET /status", 400),
        ("POST /status/batch", 200), ("POST /status/batch", 400),
        ("GET /assemblies", 200), ("POST /assemblies/{assemblyId}/notify", 202),
    ]:
        assert expected in answered, (expected, seen, output[-3000:])
    # The peer asked for the owner's assembly (object-level authorization probe) and was refused.
    assert any(status == 403 and who == "function" for _, status, who in seen), seen
    assert sum(seen.values()) >= 150, seen  # a few hundred with the defaults


def test_schemathesis_finds_nothing_without_a_token(fuzzed_local):
    seen, output = _schemathesis(
        fuzzed_local, "no-token", "--phases", "examples,coverage,fuzzing", max_examples=max(3, MAX_EXAMPLES // 3)
    )
    assert seen, output[-3000:]
    # Only API Gateway answered: no request without a valid token reached the status function.
    assert {who for _, _, who in seen} == {"gateway"}, seen
    # 401 without a token (and, from a JWT authorizer, for the tokens schemathesis made up; a Lambda
    # authorizer refuses those with 403), 404 for methods no route has.
    assert {status for _, status, _ in seen} <= {401, 403, 404}, seen
    assert 401 in {status for _, status, _ in seen}, seen
