"""End to end: statuses full of quotes meet Lambda's 6 MB response limit as AWS would apply it.

AWS Lambda quotas (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html):
"Invocation payload (request and response): 6 MB each for synchronous". Ten statuses holding
190 KB of quotes each are a 3.8 MB HTTP body but a 7.6 MB invocation response (each quote is
``\\"`` in the body and four bytes once Lambda's runtime quotes the body again), which Lambda
refuses (the HTTP API would answer a bare 500). Local mode applies the same measure, so the batch
must answer 413 (and ``StatusClient.get_many`` split it) and the list a shorter page with a cursor.
"""

from __future__ import annotations

import json
import uuid

from transflow_runtime import StatusClient, StatusLambdaClient

from .conftest import TEMPLATE, aws_client, mint_from
from .test_local_mode import http, new_id

QUOTES = '"' * 190_000  # StatusStore.create's size estimate counts each quote twice


def test_a_batch_over_the_limit_is_413_and_the_client_splits_it_and_the_list_pages(local, local_store):
    user = f"quotes-{uuid.uuid4().hex[:8]}"
    ids = [new_id(TEMPLATE, user) for _ in range(10)]
    for ident in ids:
        local_store.create(ident, user_id=user, template_id=TEMPLATE,
                           uploads=[{"id": "u1", "name": "a.wav", "size": 1, "meta": {"notes": QUOTES}}])
    token = mint_from(local, user)

    status, _headers, body = http("POST", f"{local['api_url']}/status/batch", token, {"assemblyIds": ids})
    assert status == 413
    assert json.loads(body) == {"error": "these statuses are too large for one response; request fewer ids at a time"}

    client = StatusClient(local["api_url"], token=token, timeout=60)
    statuses = client.get_many(ids)
    assert list(statuses) == ids
    assert all(s is not None and s.uploads[0].meta["notes"] == QUOTES for s in statuses.values())

    first = client.list(limit=10)
    assert 1 <= len(first.assemblies) < 10 and first.next_cursor
    listed = [s.assembly_id for s in client.iter_assemblies(page_size=10)]
    assert sorted(listed) == sorted(ids) and len(listed) == 10

    lam = aws_client(local, "lambda")
    single = StatusLambdaClient(local["status_function_name"], client=lam).get_status(ids[0], user)
    assert single.success and single.status.uploads[0].meta["notes"] == QUOTES
