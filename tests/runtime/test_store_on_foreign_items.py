"""StatusStore works on items a writer in another language created, per the README's item contract.

The TypeScript original creates items with ``PutCommand`` of the seed's fields only (no ``state``,
``version``, ``user_id``, ``execution_start_epoch``; ``results`` optional), and a Python worker may
then record progress on them. ``tests/e2e/seed_writer.js`` writes the same attributes.
"""

from __future__ import annotations

import pytest
from transflow_runtime import schema

from tests.runtime.status_support import aid

NOW = "2026-01-01T00:00:00.000Z"


def seed_item(ident: str, *, results: bool = True) -> dict:
    """The TypeScript original's PutCommand item, in DynamoDB JSON."""
    item = {
        "assembly_id": {"S": ident}, "message": {"S": "Upload received"}, "uploads": {"L": []},
        "bytes_expected": {"N": "2048"}, "bytes_received": {"N": "0"}, "bytes_usage": {"N": "0"},
        "execution_duration": {"N": "0"}, "execution_start": {"S": NOW}, "template_id": {"S": "tpl"},
        "branch": {"S": "main"}, "user": {"M": {"userId": {"S": "alice"}}}, "user_id": {"S": "alice"},
        "created_at": {"S": NOW}, "updated_at": {"S": NOW},
    }
    if results:
        item["results"] = {"M": {}}
    return item


CALLS = {
    "progress": lambda s, i: s.progress(i, message="50%", progress_pct=50),
    "start_step": lambda s, i: s.start_step(i, "encode"),
    "add_result": lambda s, i: s.add_result(i, "encode", {"id": "r1", "name": "a.mp3", "size": 1}),
    "finish_step": lambda s, i: s.finish_step(i, "encode"),
    "complete": lambda s, i: s.complete(i),
    "fail": lambda s, i: s.fail(i, "boom"),
    "cancel": lambda s, i: s.cancel(i),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_every_store_write_succeeds_on_an_item_a_seed_style_writer_created(store, dynamodb, table_name, name):
    ident = aid(70)
    dynamodb.put_item(TableName=table_name, Item=seed_item(ident))
    status = CALLS[name](store, ident)
    assert status.assembly_id == ident and status.version == 1
    raw = store.get_item(ident)
    assert raw["execution_duration"] == 0, "measured from this store's first write"
    assert schema.START_EPOCH_ATTRIBUTE in raw


def test_execution_duration_counts_from_the_stores_first_write_on_a_foreign_item(dynamodb, table_name):
    from transflow_runtime import StatusStore

    now = [1_900_000_000.0]
    store = StatusStore(table_name, client=dynamodb, clock=lambda: now[0])
    ident = aid(71)
    dynamodb.put_item(TableName=table_name, Item=seed_item(ident))
    store.progress(ident, message="a")
    now[0] += 12.5
    assert store.progress(ident, message="b").execution_duration == 12.5


def test_add_result_on_an_item_without_a_results_map(store, dynamodb, table_name):
    ident = aid(72)
    dynamodb.put_item(TableName=table_name, Item=seed_item(ident, results=False))
    store.add_result(ident, "encode", {"id": "r1", "name": "a.mp3", "size": 3})
    status = store.add_result(ident, "encode", {"id": "r2", "name": "b.mp3", "size": 4})
    assert [r.id for r in status.results["encode"]] == ["r1", "r2"] and status.bytes_usage == 7


def test_add_result_on_a_missing_item_is_not_found(store):
    from transflow_runtime.errors import AssemblyNotFoundError

    with pytest.raises(AssemblyNotFoundError):
        store.add_result(aid(73), "encode", {"id": "r1", "name": "a.mp3"})


@pytest.mark.parametrize("attribute", schema.WRITE_TOKEN_ATTRIBUTES)
def test_fields_and_extra_cannot_set_the_write_token_attributes(store, attribute):
    """A token set replaced by a string makes every later write's ADD fail: refused up front."""
    ident = aid(74)
    store.create(ident, user_id="alice", template_id="tpl")
    with pytest.raises(ValueError, match=attribute):
        store.progress(ident, fields={attribute: "oops"})
    with pytest.raises(ValueError, match=attribute):
        store.create(aid(75), user_id="alice", template_id="tpl", extra={attribute: "oops"})
    assert attribute not in store.get_item(ident) or isinstance(store.get_item(ident)[attribute], set)


def test_typed_reads_of_an_item_without_updated_at(store, dynamodb, table_name):
    """``updated_at`` is optional in the README's item contract; the API serves such items, so
    ``StatusStore``, ``StatusClient`` and ``verify_webhook`` must read them too."""
    ident = aid(76)
    item = seed_item(ident)
    del item["updated_at"]
    item["ok"] = {"S": "ASSEMBLY_COMPLETED"}
    dynamodb.put_item(TableName=table_name, Item=item)
    assert store.get(ident).updated_at == ""
    [listed], _ = store.list_for_user("alice")
    assert listed.assembly_id == ident and listed.is_terminal


@pytest.mark.parametrize(
    ("attribute", "write"),
    [
        ("bytes_usage", lambda s, i: s.add_result(i, "encode", {"id": "r1", "name": "a.mp3", "size": 1})),
        ("steps_completed", lambda s, i: s.finish_step(i, "encode")),
        ("bytes_received", lambda s, i: s.progress(i, add_bytes_received=5)),
        ("version", lambda s, i: s.progress(i, message="m")),
    ],
)
def test_an_add_to_a_counter_another_writer_stored_as_text_names_it(store, dynamodb, table_name, attribute, write):
    """DynamoDB refuses ADD to a string ("An operand in the update expression has an incorrect data
    type", without saying which): the error names the attribute and its stored type."""
    from transflow_runtime.errors import StoreError

    ident = aid(77)
    dynamodb.put_item(TableName=table_name, Item={**seed_item(ident), attribute: {"S": "1"}})
    with pytest.raises(StoreError, match=rf"'{attribute}' \(str\).*write numbers as numbers"):
        write(store, ident)
    assert store.get_item(ident)[attribute] == "1", "nothing was written"
