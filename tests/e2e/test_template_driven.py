"""Local mode follows the template it is given, not a copy of the construct's defaults:

* IAM: a copy of app.py's template with one statement removed (the status function's
  ``dynamodb:Query`` on the user index) makes exactly the route that needs it fail, as it would on
  AWS, while the others keep working, and local mode logs function, action and resource;
* another app (tests/e2e/apps/shared_secret_app.py): shared-secret auth with an issuer, another
  ``user_id_claim``, two webhook targets each signed with its own secret, its own retry schedule.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from pathlib import Path

import pytest
from transflow_runtime import StatusStore, assembly_id, verify_webhook
from transflow_runtime.auth import mint_token

from .apps import shared_secret_app
from .conftest import aws_client, mint_from, start_local, stop_local, synth_app
from .receiver import Receiver
from .test_local_mode import http, wait_for


def _new_id(template: str, user: str) -> str:
    return assembly_id(hashlib.md5(uuid.uuid4().bytes).hexdigest(), template, user)


# ------------------------------------------------------------------------------------- IAM
def _without_query_statement(assembly: Path, target: Path) -> str:
    """The assembly copied with the status function's dynamodb:Query statement removed."""
    shutil.copytree(assembly, target)
    path = target / "TransflowExample.template.json"
    template = json.loads(path.read_text())
    resources = template["Resources"]
    function = next(
        r for r in resources.values() if (r.get("Metadata") or {}).get("transflow:part") == "status-function"
    )
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    removed = 0
    for resource in resources.values():
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role} in resource["Properties"]["Roles"]:
            statements = resource["Properties"]["PolicyDocument"]["Statement"]
            kept = [s for s in statements if s["Action"] != "dynamodb:Query"]
            removed += len(statements) - len(kept)
            resource["Properties"]["PolicyDocument"]["Statement"] = kept
    assert removed == 1
    path.write_text(json.dumps(template))
    return str(target)


@pytest.fixture(scope="module")
def no_query_local(example_assembly, tmp_path_factory):
    directory = tmp_path_factory.mktemp("no-query")
    app = _without_query_statement(example_assembly, directory / "cdk.out")
    process, info = start_local(["--app", app], directory / "ready.json")
    info["process"] = process
    yield info
    stop_local(process)


def test_a_statement_removed_from_the_role_fails_the_route_that_needs_it_and_only_that(no_query_local):
    info = no_query_local
    store = StatusStore(info["table_name"], client=aws_client(info, "dynamodb"))
    aid = _new_id("tpl_basic_audio", "iam-user")
    store.create(aid, user_id="iam-user", template_id="tpl_basic_audio")  # the developer's own credentials
    token = mint_from(info, "iam-user")
    status, _, body = http("GET", f"{info['api_url']}/status?assemblyId={aid}", token)
    assert status == 200, body  # GetItem is still allowed
    status, _, body = http("POST", f"{info['api_url']}/status/batch", token, {"assemblyIds": [aid]})
    assert status == 200, body  # BatchGetItem too
    status, _, body = http("GET", f"{info['api_url']}/assemblies", token)
    assert status == 500 and json.loads(body) == {"error": "the status store is unavailable; try again"}
    _, output = stop_local(info["process"])
    denied = [line for line in output.splitlines() if "IAM denied" in line]
    assert denied, output[-2000:]
    assert info["status_function_name"] in denied[0] and "dynamodb:Query" in denied[0]
    assert (
        denied[0].rstrip(")").split(" on ", 1)[1].split(" ")[0].endswith(f"{info['table_name']}/index/by-user-created")
    )


# ------------------------------------------------------------------------------------- another app
@pytest.fixture(scope="module")
def other_receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(scope="module")
def other_local(tmp_path_factory, other_receiver):
    directory = tmp_path_factory.mktemp("shared-secret-app")
    app = synth_app(Path(shared_secret_app.__file__), directory / "cdk.out")
    process, info = start_local(
        [
            "--app",
            str(app),
            "--allow-private-webhooks",
            "--webhook",
            f"tpl_a={other_receiver.url('/a')}",
            "--webhook",
            f"tpl_b={other_receiver.url('/b')}",
        ],
        directory / "ready.json",
    )
    yield info
    code, output = stop_local(process)
    assert code == 0, output


def test_shared_secret_tokens_carry_the_templates_issuer_and_user_claim(other_local):
    info = other_local
    store = StatusStore(info["table_name"], client=aws_client(info, "dynamodb"))
    aid = _new_id("tpl_a", "uid-user")
    store.create(aid, user_id="uid-user", template_id="tpl_a")
    url = f"{info['api_url']}/status?assemblyId={aid}"
    key = info["jwt_secret"]
    right = mint_token(
        key, "uid-user", ttl=600, issuer=shared_secret_app.ISSUER, user_id_claim=shared_secret_app.USER_ID_CLAIM
    )
    assert http("GET", url, right)[0] == 200
    assert http("GET", url, mint_from(info, "uid-user"))[0] == 200  # local mode mints the same shape
    only_sub = mint_token(key, "uid-user", ttl=600, issuer=shared_secret_app.ISSUER)  # no "uid" claim
    assert http("GET", url, only_sub)[:3:2] == (403, b'{"message": "Forbidden"}')
    wrong_issuer = mint_token(key, "uid-user", ttl=600, issuer="someone-else", user_id_claim="uid")
    assert http("GET", url, wrong_issuer)[0] == 403


def test_each_webhook_target_gets_its_deliveries_signed_with_its_own_secret(other_local, other_receiver):
    info = other_local
    store = StatusStore(info["table_name"], client=aws_client(info, "dynamodb"))
    secrets = info["webhook_secrets"]
    assert set(secrets) == {"tpl_a", "tpl_b"} and secrets["tpl_a"] != secrets["tpl_b"]
    ids = {template: _new_id(template, "hooks-user") for template in ("tpl_a", "tpl_b")}
    for template, aid in ids.items():
        store.create(aid, user_id="hooks-user", template_id=template)
        store.complete(aid)
    for template, aid in ids.items():
        delivery = wait_for(lambda a=aid: other_receiver.for_assembly(a))[0]
        assert delivery.path == {"tpl_a": "/a", "tpl_b": "/b"}[template]
        verify_webhook(delivery.body, delivery.headers, secrets[template])
        other = secrets["tpl_b" if template == "tpl_a" else "tpl_a"]
        with pytest.raises(ValueError):
            verify_webhook(delivery.body, delivery.headers, other)


def test_the_templates_own_retry_schedule_is_followed_to_the_dead_letter_queue(other_local, other_receiver):
    info = other_local
    store = StatusStore(info["table_name"], client=aws_client(info, "dynamodb"))
    aid = _new_id("tpl_a", "retry-user")
    other_receiver.plan[aid] = [503]
    store.create(aid, user_id="retry-user", template_id="tpl_a")
    store.complete(aid)
    sqs = aws_client(info, "sqs")

    def dead_lettered():
        messages = sqs.receive_message(QueueUrl=info["dlq_url"], MaxNumberOfMessages=10, VisibilityTimeout=0).get(
            "Messages", []
        )
        return [m for m in messages if aid in m["Body"]]

    wait_for(dead_lettered, timeout=60, interval=0.5)
    # three delays in the template: four attempts, no more
    assert len(other_receiver.for_assembly(aid)) == len(shared_secret_app.RETRY_DELAYS) + 1
