"""What "terminal" means, decided once for every part of the system.

The seed's schema has no ``state``: an assembly is finished when ``ok`` holds a terminal value
(``ASSEMBLY_COMPLETED``, or ``ASSEMBLY_CANCELED`` here) or when ``error`` is set. This project's
store also keeps ``state``, but writers in other languages write only the seed's fields, so an
item is terminal when **any** of these holds:

* ``state`` is ``ASSEMBLY_COMPLETED``, ``ASSEMBLY_FAILED`` or ``ASSEMBLY_CANCELED``;
* ``ok`` is ``ASSEMBLY_COMPLETED`` or ``ASSEMBLY_CANCELED``;
* ``error`` is a non-empty string.

Any other value (an ``ok`` of ``"ASSEMBLY_EXECUTING"``, an ``error`` that is ``null``, a number or
a map) does not make an item terminal. Which event it fires: ``state`` decides when it is terminal;
otherwise ``ok`` (``completed`` / ``canceled``, checked first, as the seed's receivers do), then
``error`` (``ASSEMBLY_CANCELED`` -> ``canceled``, anything else -> ``failed``).

The dispatcher, the status API's polling headers and ``active=`` filter, the store's "terminal
states are final" condition, ``StatusClient``, the CLI and the status page (its JavaScript mirrors
this module; a test runs both over the same cases) all use this rule. ``STREAM_FILTER_PATTERNS``
is the same rule in Lambda's event-filter syntax. Stdlib only: it is on every cold-start path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .schema import (
    EVENT_CANCELED,
    EVENT_COMPLETED,
    EVENT_FAILED,
    EVENT_FOR_STATE,
    OK_CANCELED,
    OK_COMPLETED,
    TERMINAL_OK_VALUES,
    TERMINAL_STATES,
)

__all__ = [
    "STREAM_FILTER_PATTERNS",
    "is_terminal",
    "terminal_condition",
    "terminal_event",
]

#: Placeholder allocators of an expression builder: attribute name -> ``#n``, value -> ``:v``.
NameFor = Callable[[str], str]
ValueFor = Callable[[Any], str]


def _string(item: Mapping[str, Any], name: str) -> str | None:
    """A string attribute of a plain item (``"x"``) or of a stream image (``{"S": "x"}``)."""
    value = item.get(name)
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and len(value) == 1 and isinstance(value.get("S"), str):
        return value["S"]
    return None


def terminal_event(item: Mapping[str, Any] | None) -> str | None:
    """``"completed"``, ``"failed"`` or ``"canceled"`` for a terminal item, else ``None``.

    ``item`` is a plain item (boto3's deserializer, the API's JSON) or a stream image in
    DynamoDB JSON; anything that is not a mapping is not terminal.
    """
    if not isinstance(item, Mapping):
        return None
    state = _string(item, "state")
    if state in TERMINAL_STATES:
        return EVENT_FOR_STATE[state]
    ok = _string(item, "ok")
    if ok == OK_COMPLETED:
        return EVENT_COMPLETED
    if ok == OK_CANCELED:
        return EVENT_CANCELED
    error = _string(item, "error")
    if error:
        return EVENT_CANCELED if error == OK_CANCELED else EVENT_FAILED
    return None


def is_terminal(item: Mapping[str, Any] | None) -> bool:
    """True when the assembly is finished (by either convention); see the module docstring."""
    return terminal_event(item) is not None


def terminal_condition(name: NameFor, value: ValueFor) -> str:
    """The rule as a DynamoDB condition/filter expression (true when the item is terminal).

    ``name`` and ``value`` allocate the caller's placeholders (``value`` gets plain Python
    strings and ints and returns the placeholder it bound them to).
    """
    state, ok, error = name("state"), name("ok"), name("error")
    states = ", ".join(value(s) for s in sorted(TERMINAL_STATES))
    oks = ", ".join(value(s) for s in sorted(TERMINAL_OK_VALUES))
    return (
        f"({state} IN ({states}) OR {ok} IN ({oks}) "
        f"OR (attribute_type({error}, {value('S')}) AND size({error}) > {value(0)}))"
    )


# --- Lambda event filtering -------------------------------------------------------------------
# The FilterCriteria of the dispatcher's stream mapping (EventBridge pattern syntax on the
# record, images in DynamoDB JSON). Patterns are ORed; fields within one are ANDed; the values
# listed for one field are ORed. A record passes when its new image is terminal by one of the
# three signals and its old image (absent for an INSERT) is terminal by none: exactly the
# records the dispatcher turns into a webhook (its own check stays the authority).
# https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html
_OLD_IMAGE_NOT_TERMINAL: dict[str, Any] = {
    "state": {"S": [{"anything-but": sorted(TERMINAL_STATES)}, {"exists": False}]},
    "ok": {"S": [{"anything-but": sorted(TERMINAL_OK_VALUES)}, {"exists": False}]},
    "error": {"S": ["", {"exists": False}]},
}
_NEW_IMAGE_TERMINAL: tuple[dict[str, Any], ...] = (
    {"state": {"S": sorted(TERMINAL_STATES)}},
    {"ok": {"S": sorted(TERMINAL_OK_VALUES)}},
    {"error": {"S": [{"anything-but": [""]}]}},
)

#: One pattern per terminal signal; the construct writes each as ``{"Pattern": json.dumps(p)}``.
STREAM_FILTER_PATTERNS: list[dict[str, Any]] = [
    {
        "eventName": ["INSERT", "MODIFY"],
        "dynamodb": {"NewImage": new, "OldImage": _OLD_IMAGE_NOT_TERMINAL},
    }
    for new in _NEW_IMAGE_TERMINAL
]
