"""StatusStore against moto: idempotent create, atomic updates, final terminal states."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from transflow_runtime import (
    AssemblyConflictError,
    AssemblyNotFoundError,
    AssemblyTerminalError,
    ItemTooLargeError,
    StatusStore,
    assembly_id,
)
from transflow_runtime.schema import (
    OK_CANCELED,
    OK_COMPLETED,
    STATE_CANCELED,
    STATE_COMPLETED,
    STATE_EXECUTING,
    STATE_FAILED,
    STATE_QUEUED,
)

MD5 = "0123456789abcdef0123456789abcdef"
AID = assembly_id(MD5, "tpl", "alice")
UPLOAD = {"id": "up1", "name": "song.wav", "size": 1000, "mime": "audio/wav", "md5hash": MD5}


@pytest.fixture
def created(store):
    return store.create(AID, user_id="alice", template_id="tpl", uploads=[UPLOAD])


class Clock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def test_create_writes_a_queued_status_with_expected_bytes(created, store):
    assert created.state == STATE_QUEUED and created.ok is None and created.error is None
    assert created.bytes_expected == 1000 and created.uploads[0].basename == "song"
    stored = store.get(AID)
    assert stored.user.userId == "alice" and stored.template_id == "tpl" and stored.version == 1
    assert store.get_item(AID)["user_id"] == "alice"


def test_create_is_idempotent_for_the_same_owner_and_template(created, store):
    store.progress(AID, message="working")
    again = store.create(AID, user_id="alice", template_id="tpl", uploads=[UPLOAD])
    assert again.message == "working" and again.version == 2


@pytest.mark.parametrize(("user", "template"), [("mallory", "tpl"), ("alice", "other_tpl")])
def test_create_refuses_an_id_owned_by_another_user_or_template(created, store, user, template):
    before = store.get_item(AID)
    with pytest.raises(AssemblyConflictError, match="refusing to overwrite"):
        store.create(AID, user_id=user, template_id=template)
    assert store.get_item(AID) == before


def test_create_validates_its_arguments(store):
    with pytest.raises(ValueError, match="user_id"):
        store.create(AID, user_id="", template_id="tpl")
    with pytest.raises(ValueError, match="template_id"):
        store.create(AID, user_id="u", template_id="")
    with pytest.raises(ValueError, match="assembly_id"):
        store.create("", user_id="u", template_id="t")


def test_progress_updates_fields_version_and_timestamps(created, dynamodb, table_name):
    clock = Clock()
    store = StatusStore(table_name, client=dynamodb, clock=clock)
    clock.now += 5
    status = store.progress(AID, state="ASSEMBLY_UPLOADING", bytes_received=500, progress_pct=25, message="up")
    assert status.bytes_received == 500 and status.progress_pct == 25 and status.version == 2
    assert status.updated_at != created.updated_at
    assert status.ttl == int(clock.now) + 30 * 86400


def test_execution_duration_is_maintained_from_the_start(dynamodb, table_name):
    clock = Clock()
    store = StatusStore(table_name, client=dynamodb, clock=clock)
    store.create(AID, user_id="alice", template_id="tpl")
    clock.now += 12.5
    assert store.start_step(AID, "encode").execution_duration == pytest.approx(12.5)
    clock.now += 7.5
    done = store.complete(AID)
    assert done.execution_duration == pytest.approx(20.0)
    assert isinstance(store.get_item(AID)["execution_duration"], Decimal)


def test_twenty_threads_adding_results_to_different_steps_lose_nothing(server_store):
    store = server_store
    store.create(AID, user_id="alice", template_id="tpl", uploads=[UPLOAD])
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            for j in range(3):
                store.add_result(AID, f"step_{i}", {"id": f"r{i}_{j}", "name": f"out{i}_{j}.mp3", "size": 10})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    status = store.get(AID, consistent=True)
    assert len(status.results) == 20
    assert all(len(results) == 3 for results in status.results.values())
    assert status.bytes_usage == 20 * 3 * 10
    assert status.version == 1 + 60


def test_add_result_appends_in_order_and_marks_executing(created, store):
    store.add_result(AID, "encode", {"id": "r1", "name": "a.mp3", "size": 3, "ssl_url": "https://x/a.mp3"})
    status = store.add_result(AID, "encode", {"id": "r2", "name": "b.mp3", "size": 4})
    assert [r.id for r in status.results["encode"]] == ["r1", "r2"]
    assert status.state == STATE_EXECUTING and status.last_job_completed


def test_steps_are_counted(created, store):
    store.progress(AID, steps_total=2, steps_completed=0)
    store.start_step(AID, "encode")
    status = store.finish_step(AID, "encode")
    assert (status.steps_total, status.steps_completed, status.current_step_name) == (2, 1, "encode")


def test_complete_sets_ok_and_clears_the_current_step(created, store):
    store.start_step(AID, "encode")
    status = store.complete(AID)
    assert (status.ok, status.state, status.error, status.current_step_name) == (
        OK_COMPLETED, STATE_COMPLETED, None, None)
    assert status.progress_pct == 100


def test_fail_sets_error_and_never_ok(created, store):
    status = store.fail(AID, "ENCODE_FAILED", "ffmpeg exited 1")
    assert (status.ok, status.error, status.state, status.message) == (
        None, "ENCODE_FAILED", STATE_FAILED, "ffmpeg exited 1")


def test_cancel_sets_ok_and_error_so_seed_clients_stop_polling(created, store):
    status = store.cancel(AID)
    assert (status.ok, status.error, status.state) == (OK_CANCELED, OK_CANCELED, STATE_CANCELED)


@pytest.mark.parametrize("finish", ["complete", "fail", "cancel"])
@pytest.mark.parametrize(
    "later",
    [
        lambda s: s.progress(AID, message="late"),
        lambda s: s.add_result(AID, "x", {"id": "r", "name": "r.mp3"}),
        lambda s: s.start_step(AID, "x"),
        lambda s: s.finish_step(AID, "x"),
        lambda s: s.complete(AID),
        lambda s: s.fail(AID, "E"),
        lambda s: s.cancel(AID),
    ],
)
def test_writes_after_a_terminal_state_are_refused_and_change_nothing(created, store, finish, later):
    getattr(store, finish)(AID, *(["E"] if finish == "fail" else []))
    before = store.get_item(AID, consistent=True)
    with pytest.raises(AssemblyTerminalError, match="terminal states are final"):
        later(store)
    assert store.get_item(AID, consistent=True) == before


def test_writes_to_a_missing_assembly_raise_not_found(store):
    with pytest.raises(AssemblyNotFoundError):
        store.progress("f" * 64, message="x")
    with pytest.raises(AssemblyNotFoundError):
        store.record_notification("f" * 64, {"notify_status": "delivered"})


def test_progress_refuses_terminal_states_and_bad_percentages(created, store):
    with pytest.raises(ValueError, match="complete"):
        store.progress(AID, state=STATE_COMPLETED)
    with pytest.raises(ValueError, match="progress_pct"):
        store.progress(AID, progress_pct=101)
    with pytest.raises(ValueError, match="managed by the store"):
        store.progress(AID, fields={"user_id": "mallory"})


def test_notification_bookkeeping_is_allowed_after_completion(created, store):
    store.complete(AID)
    store.record_notification(AID, {"notify_status": "delivered", "notify_response_code": 200})
    status = store.get(AID)
    assert status.notify_status == "delivered" and status.notify_response_code == 200
    with pytest.raises(ValueError, match="notify_"):
        store.record_notification(AID, {"ok": "x"})


def test_item_over_400_kb_fails_with_an_error_that_says_so(created, store):
    with pytest.raises(ItemTooLargeError, match="400 KB"):
        for i in range(100):
            store.add_result(AID, "big", {"id": f"r{i}", "name": "x.bin", "meta": {"blob": "x" * 20_000}})
    assert store.get(AID) is not None  # the item is still readable


def test_create_with_oversized_uploads_is_refused_before_writing(store):
    uploads = [{"id": str(i), "name": "n", "meta": {"pad": "y" * 10_000}} for i in range(50)]
    with pytest.raises(ItemTooLargeError):
        store.create(AID, user_id="alice", template_id="tpl", uploads=uploads)
    assert store.get(AID) is None


def test_get_many_returns_none_for_unknown_ids(created, store):
    other = assembly_id(MD5, "tpl", "bob")
    store.create(other, user_id="bob", template_id="tpl")
    unknown = "e" * 64
    found = store.get_many([AID, other, unknown, AID])
    assert list(found) == [AID, other, unknown]
    assert found[AID].user_id == "alice" and found[other].user_id == "bob" and found[unknown] is None


def test_list_for_user_is_newest_first_paginated_and_only_the_users(dynamodb, table_name):
    clock = Clock()
    store = StatusStore(table_name, client=dynamodb, clock=clock)
    ids = []
    for i in range(5):
        clock.now += 1
        aid = assembly_id(f"{i:032x}", "tpl", "alice")
        ids.append(aid)
        store.create(aid, user_id="alice", template_id="tpl")
    store.create(assembly_id(MD5, "tpl", "bob"), user_id="bob", template_id="tpl")
    page1, cursor = store.list_for_user("alice", limit=2)
    page2, cursor2 = store.list_for_user("alice", limit=2, cursor=cursor)
    page3, cursor3 = store.list_for_user("alice", limit=2, cursor=cursor2)
    listed = [s.assembly_id for s in page1 + page2 + page3]
    assert listed == list(reversed(ids))
    assert cursor3 is None
    with pytest.raises(ValueError, match="does not belong"):
        store.list_for_user("bob", limit=2, cursor=cursor)
    with pytest.raises(ValueError, match="malformed"):
        store.list_for_user("alice", cursor="!!not-a-cursor!!")


def test_list_active_only_skips_terminal_assemblies(dynamodb, table_name):
    clock = Clock()
    store = StatusStore(table_name, client=dynamodb, clock=clock)
    ids = [assembly_id(f"{i:032x}", "tpl", "alice") for i in range(4)]
    for aid in ids:
        clock.now += 1
        store.create(aid, user_id="alice", template_id="tpl")
    store.complete(ids[3])
    store.fail(ids[2], "E")
    active, _cursor = store.list_for_user("alice", limit=2, active_only=True)
    assert [s.assembly_id for s in active] == [ids[1], ids[0]]


def test_ttl_none_keeps_items_forever(dynamodb, table_name):
    store = StatusStore(table_name, client=dynamodb, ttl_days=None)
    assert store.create(AID, user_id="alice", template_id="tpl").ttl is None
    assert "ttl" not in store.get_item(AID)
    with pytest.raises(ValueError, match="ttl_days"):
        StatusStore(table_name, client=dynamodb, ttl_days=0)


def test_default_client_honours_aws_endpoint_url(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    store = StatusStore("t")
    assert store.client.meta.endpoint_url == "http://127.0.0.1:1"


def test_create_refuses_store_managed_fields_in_extra(store):
    aid = assembly_id(MD5, "tpl", "alice")
    with pytest.raises(ValueError, match="'ok' is managed by the store and cannot be set through fields or extra"):
        store.create(aid, user_id="alice", template_id="tpl", extra={"ok": "ASSEMBLY_COMPLETED"})
    assert store.get_item(aid) is None, "nothing was written"

def test_progress_refuses_a_state_that_is_not_an_active_state(store):
    aid = assembly_id(MD5, "tpl", "alice")
    store.create(aid, user_id="alice", template_id="tpl")
    with pytest.raises(ValueError, match=r"state must be one of \[.*'ASSEMBLY_EXECUTING'.*\], got 'DONE'"):
        store.progress(aid, state="DONE")

def test_progress_fields_that_the_store_manages_raise_value_error(store):
    aid = assembly_id(MD5, "tpl", "alice")
    store.create(aid, user_id="alice", template_id="tpl")
    with pytest.raises(ValueError, match="'updated_at' is managed by the store"):
        store.progress(aid, fields={"updated_at": "2025-01-01T00:00:00.000Z"})

def test_store_reads_of_many_items_raise_store_error_like_the_other_calls():
    import boto3
    from botocore.stub import Stubber
    from transflow_runtime import StoreError

    client = boto3.client("dynamodb", region_name="us-east-1")
    store = StatusStore("t", client=client)
    with Stubber(client) as stub:
        for operation in ("GetItem", "BatchGetItem", "Query"):
            stub.add_client_error(
                operation, service_error_code="ProvisionedThroughputExceededException", service_message="slow down"
            )
        with pytest.raises(StoreError):
            store.get("a" * 64)
        with pytest.raises(StoreError):
            store.get_many(["a" * 64])
        with pytest.raises(StoreError):
            store.list_for_user("alice")


@pytest.mark.parametrize(
    ("finish", "state"),
    [({"ok": {"S": OK_COMPLETED}}, STATE_COMPLETED), ({"error": {"S": "PROCESSING_ERROR"}}, STATE_FAILED),
     ({"ok": {"S": OK_CANCELED}}, STATE_CANCELED)],
)
def test_an_assembly_a_seed_style_writer_finished_is_final_for_this_store_too(
    store, dynamodb, table_name, finish, state
):
    """Another writer ended it with ok/error and left ``state`` at EXECUTING: later progress is refused."""
    store.create(AID, user_id="alice", template_id="tpl")
    store.start_step(AID, "encode")
    names = {f"#f{i}": k for i, k in enumerate(finish)}
    values = {f":f{i}": v for i, v in enumerate(finish.values())}
    dynamodb.update_item(TableName=table_name, Key={"assembly_id": {"S": AID}},
                         UpdateExpression="SET " + ", ".join(f"{n} = :f{i}" for i, n in enumerate(names)),
                         ExpressionAttributeNames=names, ExpressionAttributeValues=values)
    before = store.get_item(AID)
    for late in (lambda: store.progress(AID, message="late"), lambda: store.complete(AID),
                 lambda: store.add_result(AID, "encode", {"id": "r", "name": "x.mp3"})):
        with pytest.raises(AssemblyTerminalError, match=f"is already {state}; terminal states are final"):
            late()
    assert store.get_item(AID) == before
