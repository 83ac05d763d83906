"""The stdlib deserializer against boto3's ``TypeDeserializer`` over generated attribute values.

The status function used ``boto3.dynamodb.types.TypeDeserializer``; its replacement must give the
same Python values for anything DynamoDB can store (DynamoDB Developer Guide, "Supported data
types"): numbers of up to 38 digits as ``Decimal`` (including exponent forms and negative zero),
strings, binaries, the three set types, lists and maps nested to DynamoDB's 32 levels, NULL and
BOOL, and fail the same way (same exception type and message) on what it cannot read.
"""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from boto3.dynamodb.types import Binary as BotoBinary
from boto3.dynamodb.types import TypeDeserializer
from transflow_runtime.aws import dynamodb_types
from transflow_runtime.aws.dynamodb_types import Binary


class _ExactNumbers(TypeDeserializer):
    """boto3's deserializer with numbers read exactly, as the store reads them.

    boto3's 38-digit context raises on numbers DynamoDB stores (``1234567895171680000000000000000000000000``,
    as the AWS SDK for JavaScript writes a ``BigInt``; boto3 issue #2500); the runtime reads them
    exactly on purpose (tests/runtime/test_dynamo_numbers.py), so that is the oracle's one change.
    """

    def _deserialize_n(self, value: str) -> Decimal:
        try:
            return Decimal(value)
        except (ArithmeticError, TypeError, ValueError):
            return super()._deserialize_n(value)


BOTO = _ExactNumbers()
NUMBERS = ["0", "-0", "12", "12.0", "1.5e3", "1E+2", "-7.25", "0.000001", "9" * 38, "-" + "9" * 38,
           "1" + "0" * 125, "1e-129", "1e-130", "123456789012345678901234567890.12345678", ".5", "5."]


def _number(rng: random.Random) -> str:
    if rng.random() < 0.4:
        return rng.choice(NUMBERS)
    digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 38)))
    sign = rng.choice(["", "-"])
    if rng.random() < 0.3:
        point = rng.randint(0, len(digits))
        digits = digits[:point] + "." + digits[point:]
    if rng.random() < 0.2:
        digits += f"e{rng.randint(-120, 120)}"
    return sign + digits


def _value(rng: random.Random, depth: int = 0) -> dict[str, object]:
    kinds = ["S", "N", "B", "BOOL", "NULL", "SS", "NS", "BS"] + (["L", "M"] * 2 if depth < 4 else [])
    kind = rng.choice(kinds)
    if rng.random() < 0.05:
        kind = kind.lower()  # boto3 matches the type key case-insensitively
    upper = kind.upper()
    if upper == "S":
        return {kind: "".join(rng.choice("aé☃\U0001f600 \"\\\n") for _ in range(rng.randint(0, 8)))}
    if upper == "N":
        return {kind: _number(rng)}
    if upper == "B":
        return {kind: bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 12)))}
    if upper == "BOOL":
        return {kind: rng.random() < 0.5}
    if upper == "NULL":
        return {kind: True}
    if upper == "SS":
        return {kind: sorted({f"s{rng.randint(0, 9)}" for _ in range(rng.randint(1, 5))})}
    if upper == "NS":
        return {kind: sorted({_number(rng) for _ in range(rng.randint(1, 5))})}
    if upper == "BS":
        return {kind: [bytes([i, rng.getrandbits(8)]) for i in range(rng.randint(1, 4))]}
    if upper == "L":
        return {kind: [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]}
    return {kind: {f"k{i}": _value(rng, depth + 1) for i in range(rng.randint(0, 4))}}


def _outcome(fn, value):
    try:
        return ("ok", fn(value))
    except Exception as exc:  # the same exception, with the same message
        return ("error", type(exc).__name__, str(exc))


def _same(ours: object, theirs: object) -> bool:
    """Equal values of equal types, recursively (``Decimal('12.0')`` is not ``Decimal('12')``)."""
    if isinstance(theirs, BotoBinary):
        return type(ours) is Binary and ours.value == theirs.value
    if type(ours) is not type(theirs):
        return False
    if isinstance(theirs, Decimal):
        return str(ours) == str(theirs)
    if isinstance(theirs, dict):
        return ours.keys() == theirs.keys() and all(_same(ours[k], theirs[k]) for k in theirs)
    if isinstance(theirs, list):
        return len(ours) == len(theirs) and all(_same(a, b) for a, b in zip(ours, theirs, strict=True))
    if isinstance(theirs, set):
        return {repr(x).replace("Binary(", "B(") for x in ours} == {repr(x).replace("Binary(", "B(") for x in theirs}
    return ours == theirs


@pytest.mark.parametrize("seed", range(300))
def test_same_values_as_boto3_type_deserializer(seed: int) -> None:
    rng = random.Random(seed)
    item = {f"a{i}": _value(rng) for i in range(rng.randint(1, 6))}
    theirs = _outcome(lambda v: {k: BOTO.deserialize(x) for k, x in v.items()}, item)
    ours = _outcome(dynamodb_types.deserialize_item, item)
    if theirs[0] == "error":
        assert ours == theirs
    else:
        assert ours[0] == "ok" and _same(ours[1], theirs[1]), (item, ours, theirs)


@pytest.mark.parametrize("value", [
    {}, {"X": "1"}, {"N": "1" * 39}, {"N": "1e200"}, {"N": "1e-200"}, {"N": "not a number"}, {"B": "text"},
    {"NS": ["1", "1" * 40]}, {"M": {"x": {}}}, {"L": [{"Q": 1}]},
])
def test_fails_like_boto3(value: dict[str, object]) -> None:
    """Or succeeds like it: "not a number" reads as Decimal('NaN') in both (repr: NaN != NaN)."""
    assert repr(_outcome(dynamodb_types.deserialize, value)) == repr(_outcome(BOTO.deserialize, value))


def test_numbers_are_decimals_with_dynamodb_precision() -> None:
    assert dynamodb_types.deserialize({"N": "12"}) == Decimal(12)
    assert str(dynamodb_types.deserialize({"N": "0.1"})) == "0.1"
    assert str(dynamodb_types.deserialize({"N": "9" * 38})) == "9" * 38


def test_binary_behaves_like_boto3s() -> None:
    ours, theirs = Binary(b"\x00\xff"), BotoBinary(b"\x00\xff")
    assert ours == b"\x00\xff" and ours == theirs and theirs == ours
    assert ours != b"other" and hash(ours) == hash(theirs) and bytes(ours) == b"\x00\xff"
    assert repr(ours) == repr(theirs) == "Binary(b'\\x00\\xff')"
    assert type(ours).__name__ == type(theirs).__name__  # the status handler's error lines name it
    with pytest.raises(TypeError) as mine:
        Binary("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError) as boto:
        BotoBinary("text")
    assert str(mine.value) == str(boto.value)


def test_wire_binaries_round_trip() -> None:
    item = {"b": {"B": b"\x00\x01"}, "bs": {"BS": [b"a", b"b"]},
            "m": {"M": {"B": {"B": b"nested"}, "S": {"S": "not binary"}}}, "l": {"L": [{"B": b"x"}, {"N": "1"}]}}
    wire = dynamodb_types.item_to_wire(item)
    assert wire["b"] == {"B": "AAE="} and wire["m"]["M"]["B"] == {"B": "bmVzdGVk"}
    assert wire["m"]["M"]["S"] == {"S": "not binary"}  # an attribute *named* B or S is not a type
    assert dynamodb_types.item_from_wire(wire) == item


def test_the_store_refuses_a_binary_read_back_as_it_refuses_boto3s(store, dynamodb, table_name) -> None:
    """Items read through the store carry this module's ``Binary`` (for attributes another writer
    stored as B); writing one back is refused with the store's own error, as boto3's ``Binary`` is."""
    from transflow_runtime import assembly_id
    from transflow_runtime.errors import StatusValueError

    aid = assembly_id("b" * 32, "tpl", "alice")
    store.create(aid, user_id="alice", template_id="tpl")
    dynamodb.update_item(TableName=table_name, Key={"assembly_id": {"S": aid}}, UpdateExpression="SET #b = :b",
                         ExpressionAttributeNames={"#b": "blob"}, ExpressionAttributeValues={":b": {"B": b"\x00\x01"}})
    item = store.get_item(aid)
    assert type(item["blob"]) is Binary and item["blob"] == b"\x00\x01"
    for value in (item["blob"], BotoBinary(b"\x00\x01")):
        with pytest.raises(StatusValueError, match="binary data"):
            store.progress(aid, fields={"blob_copy": value})


# --- over the wire: the same raw GetItem answer read by boto3's parser and by the light client ------
WIRE_ODDITIES = {
    "lower-case type key": {"s": "x"},
    "unknown type key": {"X": "1"},
    "two type keys": {"S": "a", "N": "1"},
    "nested lower-case key": {"M": {"k": {"s": "x"}}},
    "lower-case key in a list": {"L": [{"n": "1"}, {"S": "y"}]},
    "empty": {},
    "NaN": {"N": "NaN"},
    "nested binary": {"M": {"l": {"L": [{"B": "AAEC"}, {"BS": ["AQ=="]}, {"NULL": True}]}}},
}


@pytest.mark.parametrize("value", list(WIRE_ODDITIES.values()), ids=list(WIRE_ODDITIES))
def test_wire_values_read_as_boto3_reads_them(value: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB API Reference, "AttributeValue": the members are ``S``, ``N``, ``B``, ``SS``, ``NS``,
    ``BS``, ``M``, ``L``, ``NULL`` and ``BOOL``, case-sensitive; botocore's parser drops any other
    key, so ``{"s": "x"}`` reads as an empty value and the deserializer refuses it."""
    import boto3
    from transflow_runtime.aws.dynamodb import DynamoDBClient

    from .conftest import REGION, light_environment
    from .fault_server import FaultServer, ok

    def outcome(read) -> tuple[str, object]:
        try:
            return "ok", repr(read())
        except Exception as exc:
            return "raised", type(exc).__name__

    get = {"TableName": "t", "Key": {"assembly_id": {"S": "a"}}}
    with FaultServer([ok({"Item": {"assembly_id": {"S": "a"}, "v": value}})]) as server:
        boto = boto3.client("dynamodb", region_name=REGION, endpoint_url=server.url,
                            aws_access_key_id="a", aws_secret_access_key="b")
        light = DynamoDBClient(light_environment(server.url))
        theirs = outcome(lambda: {k: BOTO.deserialize(v) for k, v in boto.get_item(**get)["Item"].items()}["v"])
        ours = outcome(lambda: dynamodb_types.deserialize_item(light.get_item(**get)["Item"])["v"])
    assert ours == theirs
