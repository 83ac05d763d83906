"""Local mode on a user's own app (tests/e2e/apps/user_shapes_app.py, synthesized once): a stack
with an explicit environment, a ``TableV2``, the user's own resources and a second instance; a
``TransflowStatus`` in a nested stack; one on an imported table. Each runs, and whatever local
mode does not run is named at start-up, never silently skipped.

AWS references: "Environments" (an ``env`` with an account puts it literally into ARNs and
permissions), "AWS::DynamoDB::GlobalTable" (CDK's ``TableV2``), "AWS::CloudFormation::Stack"
(nested stacks), "Conditions" (a resource whose condition is false is not created).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid

import pytest
from transflow_runtime import StatusStore, assembly_id
from transflow_runtime.local import assembly
from transflow_runtime.local.runner import LocalStack
from transflow_runtime.local.settings import LocalSettings

from .apps import user_shapes_app as shapes
from .conftest import REPO, synth_app


@pytest.fixture(scope="module")
def shapes_assembly(tmp_path_factory):
    return synth_app(REPO / "tests" / "e2e" / "apps" / "user_shapes_app.py", tmp_path_factory.mktemp("shapes.out"))


def _start(app, **options) -> LocalStack:
    return LocalStack(LocalSettings(app=str(app), port=0, **options)).start()


@pytest.fixture(scope="module")
def mixed(shapes_assembly):
    stack = next(s for s in assembly._stacks(shapes_assembly) if s.name == "MixedApp")
    found = assembly.instances(stack.template)
    # the instance on the user's TableV2 owns no table part; the second owns its table
    chosen = next(a for a, i in found.items() if not i.parts.get("table"))
    other = next(a for a in found if a != chosen)
    local = _start(shapes_assembly, stack="MixedApp", instance=chosen)
    local.other_instance = other  # type: ignore[attr-defined]
    yield local
    local.stop()


def _get(local: LocalStack, path: str, user: str = "shape-user") -> int:
    request = urllib.request.Request(local.info["api_url"] + path,
                                     headers={"Authorization": f"Bearer {local.mint(user)}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def _new_id(user: str) -> str:
    return assembly_id(uuid.uuid4().hex, shapes.TARGET, user)


def test_a_stack_with_its_own_account_and_region_serves_every_route(mixed):
    """Its Lambda permissions for API Gateway name account 111122223333 literally: local mode runs
    in that account, so API Gateway may invoke the function (before: every route answered 500)."""
    info = mixed.info
    assert info["region"] == shapes.REGION
    assert f":{shapes.ACCOUNT}:" in mixed.functions[info["status_function_name"]].spec.arn
    store = StatusStore(info["table_name"], client=mixed.client("dynamodb"))
    ident = _new_id("shape-user")
    store.create(ident, user_id="shape-user", template_id=shapes.TARGET)
    assert _get(mixed, "/assemblies") == 200
    assert _get(mixed, f"/status?assemblyId={ident}") == 200
    assert _get(mixed, f"/assemblies/{ident}") == 200
    described = mixed.client("dynamodb").describe_table(TableName=info["table_name"])["Table"]
    assert described["TableArn"].split(":")[4] == shapes.ACCOUNT


def test_a_tablev2_is_provisioned_with_its_keys_index_and_stream(mixed):
    table = mixed.client("dynamodb").describe_table(TableName=mixed.info["table_name"])["Table"]
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["by-user-created"]
    assert table["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    ttl = mixed.client("dynamodb").describe_time_to_live(TableName=mixed.info["table_name"])
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "ttl"


def test_a_policy_whose_condition_is_false_does_not_exist(mixed):
    """The extra Deny of dynamodb:GetItem has a false Condition: GET /status of an unknown id is
    404 as on AWS, not 500 (an applied Deny)."""
    assert _get(mixed, "/status?assemblyId=" + _new_id("shape-user")) == 404


def test_everything_the_stack_holds_that_local_mode_does_not_run_is_named(mixed):
    named = " ".join(mixed.info["unsupported"])
    for kind in ("AWS::S3::Bucket", "AWS::SNS::Topic", "AWS::SQS::Queue", "AWS::Lambda::Function",
                 "AWS::Lambda::EventSourceMapping", "AWS::DynamoDB::Table"):
        assert kind in named, kind
    for logical_id in ("Uploads", "Notifications", "Jobs", "OtherTable", "Worker"):
        assert logical_id in named, logical_id
    assert f"the other TransflowStatus {mixed.other_instance}" in named
    assert f"--instance {mixed.other_instance[:10]}" in named
    assert "ConditionalDeny" not in named  # it does not exist on AWS either


def test_a_transflowstatus_in_a_nested_stack_runs(shapes_assembly):
    """Without --stack: the nested stack is the only one holding a TransflowStatus."""
    with pytest.raises(assembly.AssemblyError, match="--stack NAME"):
        assembly.load(shapes_assembly)  # three stacks hold one: a choice is needed
    stack, _ = assembly.load(shapes_assembly, stack="NestedAppInnerEF6EF7B1")
    assert stack.parent and stack.parent.startswith("NestedApp")
    local = _start(shapes_assembly, stack=stack.name)
    try:
        assert _get(local, "/assemblies") == 200
        assert _get(local, "/status?assemblyId=" + _new_id("shape-user")) == 404
    finally:
        local.stop()


def test_an_imported_table_is_made_with_the_documented_schema_and_its_stream_drives_webhooks(shapes_assembly):
    """``Table.from_table_attributes``: the template only names the table and its stream; local
    mode makes the table (named at start-up) and the dispatcher reads its stream under the
    template's stream ARN (its IAM policy names that one), so a finished assembly's webhook arrives."""
    local = _start(shapes_assembly, stack="ImportedApp", inbox=True)
    try:
        info = local.info
        assert info["table_name"] == shapes.IMPORTED_TABLE
        assert any(shapes.IMPORTED_TABLE in phrase for phrase in info["unsupported"])
        store = StatusStore(info["table_name"], client=local.client("dynamodb"))
        ident = _new_id("imported-user")
        store.create(ident, user_id="imported-user", template_id=shapes.TARGET)
        assert _get(local, f"/status?assemblyId={ident}", "imported-user") == 200
        store.complete(ident)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with urllib.request.urlopen(info["api_url"] + "/_local/inbox", timeout=10) as answer:
                rows = [d for d in json.loads(answer.read())["deliveries"] if d["assembly_id"] == ident]
            if rows:
                break
            time.sleep(0.3)
        assert rows and rows[0]["verified"] and rows[0]["event"] == "completed", rows
        pump = next(p for p in local.pumps if type(p).__name__ == "StreamPump")
        assert pump.errors == 0
    finally:
        local.stop()
