"""Write tokens never stop an assembly from finishing.

Every write leaves a token (about 12 bytes) on the item for up to three windows of 15 minutes, and
DynamoDB refuses an update whose resulting item exceeds 400 KB
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-items:
"The maximum item size in DynamoDB is 400 KB"). A busy assembly near the limit then had every
write refused, complete() included: it could never become terminal, so its webhook was never
sent. The terminal write drops the tokens of the other windows, and so still fits.
"""

from __future__ import annotations

from transflow_runtime import StatusStore, schema
from transflow_runtime.errors import ItemTooLargeError

from tests.runtime.status_support import aid


def test_a_near_limit_assembly_whose_tokens_fill_the_item_can_still_complete(dynamodb, table_name):
    now = [1_900_000_000.0 - 1_900_000_000.0 % 900 + 890]  # ten seconds before a window ends
    store = StatusStore(table_name, client=dynamodb, clock=lambda: now[0])
    ident = aid(90)
    store.create(ident, user_id="alice", template_id="tpl")
    store.add_result(ident, "encode", {"id": "r1", "name": "a.mp3", "size": 1, "meta": {"probe": "x" * 399_300}})
    refused = False
    for i in range(3000):  # a chatty worker: ten progress writes a second, across a window boundary
        try:
            store.progress(ident, progress_pct=i % 100)
        except ItemTooLargeError:
            refused = True
            break
        now[0] += 0.1
    assert refused, "the tokens never filled the item: the test did not reach its premise"
    assert i > 10, "the item was full before the tokens grew: the test did not reach its premise"
    assert store.complete(ident).is_terminal
    raw = store.get_item(ident)
    assert sum(1 for a in schema.WRITE_TOKEN_ATTRIBUTES if a in raw) == 1
