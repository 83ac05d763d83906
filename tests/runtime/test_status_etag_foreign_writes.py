"""The ETag changes whenever what a 200 would carry changes, whoever wrote the change.

A writer in another language finishes an assembly with ``UpdateCommand`` ``SET ok = :ok, message
= :m`` (the TypeScript original) and does not bump this project's ``version``. A poller holding
the previous ETag must then get ``200`` with the terminal status and terminal caching headers,
not ``304`` with an active assembly's ``Retry-After`` (RFC 9110 8.8.3: a strong validator
changes whenever the representation data changes).
"""

from __future__ import annotations

from tests.runtime.status_support import (
    aid,
    body_of,
    call,
    headers_of,
    http_event,
    status_env_fixture,  # noqa: F401 - the ``status_env`` fixture
)


def test_a_foreign_terminal_update_is_seen_by_a_revalidating_poller(status_env, dynamodb, store):
    ident = aid(80)
    store.create(ident, user_id="alice", template_id="tpl")
    first = call(http_event("GET", "/status", query={"assemblyId": ident}))
    etag = headers_of(first)["etag"]
    assert "retry-after" in headers_of(first)
    dynamodb.update_item(
        TableName=status_env.table_name, Key={"assembly_id": {"S": ident}},
        UpdateExpression="SET ok = :ok, message = :m",
        ExpressionAttributeValues={":ok": {"S": "ASSEMBLY_COMPLETED"}, ":m": {"S": "Processing completed"}},
    )
    again = call(http_event("GET", "/status", query={"assemblyId": ident}, headers={"if-none-match": etag}))
    assert again["statusCode"] == 200, again
    assert body_of(again)["ok"] == "ASSEMBLY_COMPLETED"
    assert "retry-after" not in headers_of(again) and headers_of(again)["cache-control"].startswith("private")
    assert headers_of(again)["etag"] != etag


def test_an_unchanged_item_still_revalidates_to_304(status_env, store):
    ident = aid(81)
    store.create(ident, user_id="alice", template_id="tpl")
    etag = headers_of(call(http_event("GET", "/status", query={"assemblyId": ident})))["etag"]
    again = call(http_event("GET", "/status", query={"assemblyId": ident}, headers={"if-none-match": etag}))
    assert again["statusCode"] == 304 and headers_of(again)["etag"] == etag
