"""terminal.py: one rule for "is this assembly finished", by this project's ``state`` or by the
seed's ``ok``/``error``, everywhere it is decided (Python, DynamoDB expressions, the stream filter,
the status page's JavaScript)."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
from pathlib import Path

import pytest
from boto3.dynamodb.types import TypeSerializer
from moto.events.models import EventPattern
from transflow_runtime import terminal
from transflow_runtime.handlers.dispatcher import transition_of
from transflow_runtime.terminal import STREAM_FILTER_PATTERNS, is_terminal, terminal_event

from tests import tooling

PAGE = Path(terminal.__file__).parent / "local" / "static" / "index.html"
MISSING = object()

#: Values each signal can take in an item someone else wrote (MISSING = attribute absent).
STATES = [MISSING, "ASSEMBLY_QUEUED", "ASSEMBLY_EXECUTING", "ASSEMBLY_COMPLETED", "ASSEMBLY_FAILED",
          "ASSEMBLY_CANCELED", "DONE", 3, None]
OKS = [MISSING, "ASSEMBLY_COMPLETED", "ASSEMBLY_CANCELED", "ASSEMBLY_EXECUTING", "", None, True]
ERRORS = [MISSING, "", "PROCESSING_ERROR", "ASSEMBLY_CANCELED", None, 0, {"code": "E"}]


def image(state, ok, error) -> dict:
    item = {"assembly_id": "a" * 64, "version": 3}
    for name, value in (("state", state), ("ok", ok), ("error", error)):
        if value is not MISSING:
            item[name] = value
    return item


CORPUS = [image(*values) for values in itertools.product(STATES, OKS, ERRORS)]


def expected_event(item: dict) -> str | None:
    """The rule as README states it, written out independently of terminal.py."""
    state, ok, error = item.get("state"), item.get("ok"), item.get("error")
    if state in ("ASSEMBLY_COMPLETED", "ASSEMBLY_FAILED", "ASSEMBLY_CANCELED"):
        return {"ASSEMBLY_COMPLETED": "completed", "ASSEMBLY_FAILED": "failed", "ASSEMBLY_CANCELED": "canceled"}[state]
    if ok == "ASSEMBLY_COMPLETED":
        return "completed"
    if ok == "ASSEMBLY_CANCELED":
        return "canceled"
    if isinstance(error, str) and error:
        return "canceled" if error == "ASSEMBLY_CANCELED" else "failed"
    return None


def typed(item: dict) -> dict:
    serializer = TypeSerializer()
    return {k: serializer.serialize(v) for k, v in item.items()}


@pytest.mark.parametrize(
    ("item", "event"),
    [
        ({"state": "ASSEMBLY_COMPLETED", "ok": "ASSEMBLY_COMPLETED"}, "completed"),  # this project's writer
        ({"state": "ASSEMBLY_FAILED", "error": "E"}, "failed"),
        ({"state": "ASSEMBLY_CANCELED", "ok": "ASSEMBLY_CANCELED", "error": "ASSEMBLY_CANCELED"}, "canceled"),
        ({"ok": "ASSEMBLY_COMPLETED"}, "completed"),  # the seed's worker: no state
        ({"error": "PROCESSING_ERROR"}, "failed"),
        ({"ok": "ASSEMBLY_CANCELED"}, "canceled"),
        ({"state": "ASSEMBLY_EXECUTING", "ok": "ASSEMBLY_COMPLETED"}, "completed"),  # finished by another writer
        ({"ok": "ASSEMBLY_COMPLETED", "error": "late"}, "completed"),  # ok first, as the seed's receivers
        ({"state": "ASSEMBLY_EXECUTING"}, None),
        ({"ok": "ASSEMBLY_EXECUTING"}, None),  # Transloadit-style progress in ok is not an end
        ({"error": ""}, None),
        ({"error": None}, None),
        ({}, None),
    ],
)
def test_the_rule_over_named_cases(item, event):
    assert terminal_event(item) == event
    assert terminal_event(typed(item)) == event, "a stream image in DynamoDB JSON"
    assert is_terminal(item) is (event is not None)


def test_plain_items_and_stream_images_agree_over_the_whole_corpus():
    for item in CORPUS:
        assert terminal_event(item) == expected_event(item), item
        assert terminal_event(typed(item)) == expected_event(item), item


@pytest.mark.parametrize("value", [None, [], "ASSEMBLY_COMPLETED", 3, {"ok": {"S": 5}}, {"state": {"SS": ["x"]}}])
def test_what_is_not_an_item_is_not_terminal(value):
    assert terminal_event(value) is None and not is_terminal(value)


def test_the_status_pages_javascript_decides_like_python():
    source = PAGE.read_text()
    rule = re.search(r"// terminal-rule:start.*?\n(.*?)// terminal-rule:end", source, re.S)
    assert rule, "index.html lost its terminal-rule markers"
    cases = [{k: v for k, v in item.items()} for item in CORPUS]
    script = rule.group(1) + (
        "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>"
        "process.stdout.write(JSON.stringify(JSON.parse(s).map(terminalEvent))));"
    )
    done = subprocess.run([tooling.node(), "-e", script], input=json.dumps(cases), capture_output=True,
                          text=True, check=True, timeout=30)
    assert json.loads(done.stdout) == [terminal_event(item) for item in cases]


def test_the_dynamodb_expression_matches_the_rule(dynamodb, table_name):
    """``terminal_condition`` evaluated by DynamoDB (moto) over the corpus, as a Scan filter."""
    for n, item in enumerate(CORPUS):
        dynamodb.put_item(TableName=table_name, Item=typed({**item, "assembly_id": f"{n:04d}"}))
    names: dict[str, str] = {}
    values: dict[str, dict] = {}

    def name(attribute: str) -> str:
        names[f"#n{len(names)}"] = attribute
        return f"#n{len(names) - 1}"

    def value(v) -> str:
        values[f":v{len(values)}"] = TypeSerializer().serialize(v)
        return f":v{len(values) - 1}"

    expression = terminal.terminal_condition(name, value)
    found: set[int] = set()
    kwargs = {"TableName": table_name, "FilterExpression": expression, "ExpressionAttributeNames": names,
              "ExpressionAttributeValues": values}
    while True:
        page = dynamodb.scan(**kwargs)
        found |= {int(i["assembly_id"]["S"]) for i in page["Items"]}
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    assert found == {n for n, item in enumerate(CORPUS) if expected_event(item)}


# --- the dispatcher's stream filter ----------------------------------------------------------------
PATTERNS = [EventPattern.load(json.dumps(p)) for p in STREAM_FILTER_PATTERNS]
#: Old images that matter for a transition: none (INSERT), active ones, and terminal ones.
OLD_IMAGES = [
    None,
    image("ASSEMBLY_QUEUED", MISSING, MISSING),
    image("ASSEMBLY_EXECUTING", MISSING, MISSING),
    image(MISSING, MISSING, MISSING),
    image(MISSING, "ASSEMBLY_EXECUTING", None),
    image(MISSING, MISSING, ""),
    image("ASSEMBLY_COMPLETED", "ASSEMBLY_COMPLETED", MISSING),
    image("ASSEMBLY_FAILED", MISSING, "E"),
    image(MISSING, "ASSEMBLY_COMPLETED", MISSING),
    image(MISSING, MISSING, "PROCESSING_ERROR"),
    image(MISSING, "ASSEMBLY_CANCELED", MISSING),
    image("ASSEMBLY_EXECUTING", MISSING, "ASSEMBLY_CANCELED"),
]


def record(event_name: str, new: dict | None, old: dict | None, seq: int) -> dict:
    change: dict = {"Keys": {"assembly_id": {"S": "a" * 64}}, "SequenceNumber": str(seq),
                    "StreamViewType": "NEW_AND_OLD_IMAGES"}
    if new is not None:
        change["NewImage"] = typed(new)
    if old is not None:
        change["OldImage"] = typed(old)
    return {"eventID": str(seq), "eventName": event_name, "eventSource": "aws:dynamodb", "dynamodb": change}


def passes(rec: dict) -> bool:
    """Lambda's FilterCriteria: a record passes when any one filter's pattern matches it."""
    return any(p.matches_event(rec) for p in PATTERNS)


def stream_corpus() -> list[dict]:
    out, seq = [], 0
    for new in CORPUS:
        for old in OLD_IMAGES:
            seq += 1
            out.append(record("INSERT" if old is None else "MODIFY", new, old, seq))
    for old in CORPUS:  # every old image against terminal and active new images
        for new in (image("ASSEMBLY_COMPLETED", "ASSEMBLY_COMPLETED", MISSING), image(MISSING, MISSING, "E"),
                    image(MISSING, "ASSEMBLY_COMPLETED", MISSING), image("ASSEMBLY_EXECUTING", MISSING, MISSING)):
            seq += 1
            out.append(record("MODIFY", new, old, seq))
    return out


def test_every_record_the_dispatcher_turns_into_a_webhook_passes_the_filter_and_no_other():
    """https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html (filter syntax
    and DynamoDB JSON), evaluated by moto's EventBridge pattern matcher."""
    corpus = stream_corpus()
    transitions = 0
    for rec in corpus:
        fires = transition_of(rec) is not None
        transitions += fires
        assert passes(rec) is fires, rec
    assert transitions > 100  # the corpus holds plenty of transitions by both conventions


def test_terminal_transitions_of_both_conventions_pass():
    active_seed = image(MISSING, MISSING, MISSING)
    active_ours = image("ASSEMBLY_EXECUTING", MISSING, MISSING)
    for old, new in [
        (active_ours, image("ASSEMBLY_COMPLETED", "ASSEMBLY_COMPLETED", MISSING)),
        (active_ours, image("ASSEMBLY_FAILED", MISSING, "E")),
        (active_ours, image("ASSEMBLY_CANCELED", "ASSEMBLY_CANCELED", "ASSEMBLY_CANCELED")),
        (active_seed, image(MISSING, "ASSEMBLY_COMPLETED", MISSING)),
        (active_seed, image(MISSING, MISSING, "PROCESSING_ERROR")),
        (active_ours, image("ASSEMBLY_EXECUTING", "ASSEMBLY_COMPLETED", MISSING)),
    ]:
        assert passes(record("MODIFY", new, old, 1)), (old, new)
    assert passes(record("INSERT", image(MISSING, "ASSEMBLY_COMPLETED", MISSING), None, 2))


def test_progress_bookkeeping_and_removes_are_dropped():
    done = image("ASSEMBLY_COMPLETED", "ASSEMBLY_COMPLETED", MISSING)
    active = image("ASSEMBLY_EXECUTING", MISSING, MISSING)
    assert not passes(record("MODIFY", active, active, 1))
    assert not passes(record("INSERT", active, None, 2))
    assert not passes(record("MODIFY", {**done, "notify_status": "delivered"}, done, 3))
    assert not passes(record("REMOVE", None, done, 4))


def test_a_modify_without_its_old_image_still_reaches_the_dispatcher_which_logs_the_misconfiguration(capsys):
    rec = record("MODIFY", image(MISSING, "ASSEMBLY_COMPLETED", MISSING), None, 5)
    assert passes(rec)
    assert transition_of(rec) is None and "NEW_AND_OLD_IMAGES" in capsys.readouterr().out


def test_the_filter_fits_lambdas_limits():
    """At most 5 filters per event source mapping, each pattern at most 4096 characters
    (https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html)."""
    assert len(STREAM_FILTER_PATTERNS) <= 5
    assert all(len(json.dumps(p)) <= 4096 for p in STREAM_FILTER_PATTERNS)
