"""A writer in another language: the AWS SDK for JavaScript v3 writing the seed's schema (no
``state``, ``version`` or ``user_id``) the way the TypeScript original does, against local mode
over real HTTP. Its assemblies must get their webhooks and terminal polling headers too."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests import tooling

from .conftest import TEMPLATE, mint_from
from .test_local_mode import _check_signatures, http, new_id, settle, wait_for

TEMPLATE_OK = TEMPLATE

WRITER = Path(__file__).with_name("seed_writer.js")
TERMINAL_CACHE_CONTROL = "private, max-age=60"


def write(local: dict, assembly_id: str, user: str, phase: str, **extra: str) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "ENDPOINT": local["aws_endpoint_url"],
        "REGION": local["region"],
        "TABLE": local["table_name"],
        "ASSEMBLY_ID": assembly_id,
        "USER_ID": user,
        "TEMPLATE_ID": TEMPLATE_OK,
        "PHASE": phase,
        # Only requests signed with the credentials local mode printed get through.
        "ACCESS_KEY_ID": local["aws_access_key_id"],
        "SECRET_ACCESS_KEY": local["aws_secret_access_key"],
        "AWS_EC2_METADATA_DISABLED": "true",
        **extra,
    }
    done = subprocess.run([tooling.node(), str(WRITER)], env=env, capture_output=True, text=True, timeout=60,
                          cwd=WRITER.parents[2])
    assert done.returncode == 0, done.stderr


def token_for(local: dict, user: str) -> str:
    return mint_from(local, user)


def get(local: dict, assembly_id: str, user: str):
    return http("GET", f"{local['api_url']}/assemblies/{assembly_id}", token_for(local, user))


@pytest.mark.parametrize(("outcome", "field", "value"), [("completed", "ok", "ASSEMBLY_COMPLETED"),
                                                          ("failed", "error", "PROCESSING_ERROR")])
def test_a_seed_style_worker_gets_one_signed_webhook_and_terminal_polling_headers(
    local, local_store, receiver, outcome, field, value
):
    user = f"js-{outcome}"
    aid = new_id(TEMPLATE_OK, user)
    write(local, aid, user, "start")
    status, headers, body = get(local, aid, user)
    running = json.loads(body)
    assert status == 200 and "state" not in running and "ok" not in running and "error" not in running
    assert headers["Cache-Control"] == "no-store" and headers["Retry-After"] == "2"

    write(local, aid, user, "finish", OUTCOME=outcome)
    wait_for(lambda: receiver.for_assembly(aid))
    wait_for(lambda: (item := local_store.get_item(aid)) and item.get("notify_status") == "delivered")
    settle(local, local_store, receiver)
    [delivery] = receiver.for_assembly(aid)
    _check_signatures(delivery)
    payload = json.loads(delivery.body)
    assert payload[field] == value and payload["assembly_id"] == aid and "state" not in payload

    status, headers, body = get(local, aid, user)
    assert status == 200 and json.loads(body)[field] == value
    assert headers["Cache-Control"] == TERMINAL_CACHE_CONTROL and "Retry-After" not in headers
    assert get(local, aid, "someone-else")[0] == 403
    watched = subprocess.run(
        [sys.executable, "-m", "transflow_runtime.cli", "watch", aid, "--api", local["api_url"],
         "--token", token_for(local, user), "--timeout", "30"],
        capture_output=True, text=True, timeout=60,
    )
    assert watched.returncode == {"completed": 0, "failed": 1}[outcome], watched.stdout + watched.stderr
    assert {"completed": "Completed", "failed": "Failed"}[outcome] in watched.stdout


def test_a_seed_style_item_appears_in_the_list_only_with_a_top_level_user_id(local, local_store):
    user = "js-lister"
    listed, unlisted = new_id(TEMPLATE_OK, user), new_id(TEMPLATE_OK, user)
    write(local, listed, user, "start", INDEXED="1")
    write(local, unlisted, user, "start")

    def page(active: bool = False) -> list[str]:
        query = "?active=true" if active else ""
        status, _, body = http("GET", f"{local['api_url']}/assemblies{query}", token_for(local, user))
        assert status == 200, body
        return [a["assembly_id"] for a in json.loads(body)["assemblies"]]

    assert page() == [listed] and page(active=True) == [listed]
    assert get(local, unlisted, user)[0] == 200  # still served by id
    write(local, listed, user, "finish", OUTCOME="completed")
    assert page() == [listed] and page(active=True) == [], "terminal through ok alone"


def test_an_item_without_user_userid_belongs_to_no_one(local):
    aid = new_id(TEMPLATE_OK, "js-nobody")
    write(local, aid, "js-nobody", "start", OWNERLESS="1", INDEXED="1")
    for user in ("js-nobody", "", "None"):
        status, _, body = get(local, aid, user or "anyone")
        assert status == 403, body
    status, _, body = http("GET", f"{local['api_url']}/assemblies", token_for(local, "js-nobody"))
    assert status == 200 and json.loads(body)["assemblies"] == []
