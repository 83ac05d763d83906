"""``create`` measures the initial item as DynamoDB does, so it refuses only what DynamoDB would.

Item sizes: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
(strings by UTF-8 bytes; a number "approximately (length of attribute name) + (1 byte per two
significant digits) + (1 byte)"; null and Boolean 1 byte; a list or map "3 bytes of overhead,
regardless of its contents" plus 1 byte per element) and the 400 KB limit,
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-items.
The old JSON-length estimate counted an upload list of 290 KB as 420 KB and refused it.
"""

from __future__ import annotations

import pytest
from transflow_runtime.errors import ItemTooLargeError
from transflow_runtime.writes import attribute_size, item_size

from tests.runtime.status_support import aid


def uploads(n: int) -> list[dict]:
    return [{"id": f"u{i:05d}", "name": f"f{i:05d}.wav", "size": 1000, "mime": "audio/wav", "md5hash": f"{i:032x}"}
            for i in range(n)]


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ({"S": "héllo"}, 6),
        ({"N": "123"}, 3),
        ({"N": "1000"}, 2),  # trailing zeros are trimmed
        ({"N": "-0.00125"}, 3),  # so are leading ones: 125
        ({"BOOL": True}, 1),
        ({"NULL": True}, 1),
        ({"L": []}, 3),
        ({"M": {}}, 3),
        ({"L": [{"S": "ab"}, {"N": "1"}]}, 3 + (2 + 1) + (2 + 1)),
        ({"M": {"id": {"S": "x"}}}, 3 + 2 + 1 + 1),
        ({"SS": ["a", "bc"]}, 3),
    ],
)
def test_attribute_sizes_follow_dynamodbs_rules(value, size):
    assert attribute_size(value) == size


def test_an_item_size_counts_attribute_names():
    assert item_size({"assembly_id": {"S": "a" * 64}, "n": {"N": "7"}}) == 11 + 64 + 1 + 2


def test_create_accepts_an_upload_list_dynamodb_accepts(store):
    ident = aid(95)
    status = store.create(ident, user_id="alice", template_id="tpl", uploads=uploads(2400))
    assert len(status.uploads) == 2400 and len(store.get(ident).uploads) == 2400


def test_create_refuses_an_item_over_400_kb_and_writes_nothing(store):
    ident = aid(96)
    with pytest.raises(ItemTooLargeError):
        store.create(ident, user_id="alice", template_id="tpl", uploads=uploads(3600))
    assert store.get_item(ident) is None
