"""Webhook queue messages: a pointer to the assembly, never its payload.

The sender re-reads the item, so a 400 KB item never meets SQS's 256 KB message limit and the
webhook carries the current status. Stdlib only (used by the status Lambda for replays).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from .schema import EVENT_CANCELED, EVENT_COMPLETED, EVENT_FAILED, EVENT_REPLAY

EVENTS = frozenset({EVENT_COMPLETED, EVENT_FAILED, EVENT_CANCELED, EVENT_REPLAY})


def stable_event_id(assembly_id: str, event: str, version: Any, created_at: str | None = None) -> str:
    """Event id for a state transition: the same stream record always yields the same id,
    so a re-driven stream batch produces duplicates a receiver can recognise (``webhook-id``).

    ``created_at`` tells incarnations apart: assembly ids are deterministic, so the same files,
    template and user create the same id again after the item expired, and its version counts
    from 1 again; without it a receiver de-duplicating on ``webhook-id`` would drop the new event.
    """
    basis = f"{assembly_id}\x00{event}\x00{version}" + (f"\x00{created_at}" if created_at else "")
    digest = hashlib.sha256(basis.encode("utf-8", "surrogatepass")).hexdigest()
    return f"evt_{digest[:32]}"


def new_event_id() -> str:
    """A fresh id for an explicit replay (each replay is a new event)."""
    return f"evt_{uuid.uuid4().hex}"


def make_message(assembly_id: str, event: str, event_id: str | None = None) -> str:
    """The SQS message body for one webhook event."""
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}; expected one of {sorted(EVENTS)}")
    if not assembly_id:
        raise ValueError("assembly_id must be a non-empty string")
    return json.dumps(
        {"assembly_id": assembly_id, "event": event, "event_id": event_id or new_event_id()},
        separators=(",", ":"),
    )


def parse_message(body: str) -> dict[str, str]:
    """Parse and validate a message body; raises ``ValueError`` naming the problem."""
    try:
        data = json.loads(body)
    except (TypeError, ValueError):
        raise ValueError("webhook message body is not JSON") from None
    if not isinstance(data, dict):
        raise ValueError("webhook message body is not a JSON object")
    for key in ("assembly_id", "event", "event_id"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise ValueError(f"webhook message lacks {key!r}")
    if data["event"] not in EVENTS:
        raise ValueError(f"unknown webhook event {data['event']!r}")
    return {"assembly_id": data["assembly_id"], "event": data["event"], "event_id": data["event_id"]}


#: SQS's 256 KiB message limit, with room for message attributes.
MAX_DEAD_LETTER_CHARS = 250_000


def dead_letter_body(envelope: dict[str, Any], original_key: str) -> str:
    """A dead letter as JSON (values JSON has no form for as their ``repr``), kept under SQS's
    message limit: an oversized ``envelope[original_key]`` is replaced by its truncated text."""
    body = json.dumps(envelope, separators=(",", ":"), default=repr)
    if len(body) <= MAX_DEAD_LETTER_CHARS:
        return body
    original = json.dumps(envelope.get(original_key), default=repr)
    shortened = {**envelope, original_key: {"truncated": original[: MAX_DEAD_LETTER_CHARS // 2]}}
    return json.dumps(shortened, separators=(",", ":"), default=repr)
