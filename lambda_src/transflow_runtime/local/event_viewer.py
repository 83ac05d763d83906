"""``--event-bus``: the assembly events on moto's EventBridge, shown on the status page.

Local mode puts the events on moto's EventBridge exactly as the deployed webhook function does
(PutEvents on the bus the template names, under that function's IAM policy). To show them, a rule
of its own on that bus (``source`` ``transflow.status``) sends each one to a queue of its own,
which a thread drains into memory (newest last, at most ``MAX_EVENTS``) for ``GET /_local/events``.
The rule is local mode's, not the user's: rules in the template are provisioned as they are.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from ..eventbridge import SOURCE
from .provision import ensure_event_bus

PATH = "/_local/events"
MAX_EVENTS = 500
RULE_NAME = "transflow-local-event-viewer"
QUEUE_NAME = "transflow-local-event-viewer"

log = logging.getLogger("transflow.local")


class EventViewer:
    """Every ``transflow.status`` event on ``bus`` (a name or ARN), as EventBridge delivered it."""

    def __init__(self, events: Any, sqs: Any, bus: str) -> None:
        self.bus_arn = ensure_event_bus(events, bus)
        self.bus_name = self.bus_arn.rsplit("/", 1)[-1]
        self._sqs = sqs
        self._queue_url = sqs.create_queue(QueueName=QUEUE_NAME)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self._queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events.put_rule(
            Name=RULE_NAME, EventBusName=self.bus_name, EventPattern=json.dumps({"source": [SOURCE]}), State="ENABLED"
        )
        events.put_targets(Rule=RULE_NAME, EventBusName=self.bus_name, Targets=[{"Id": "viewer", "Arn": queue_arn}])
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="event-viewer", daemon=True)

    def start(self) -> EventViewer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._events)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                response = self._sqs.receive_message(
                    QueueUrl=self._queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
                )
            except Exception:  # the server is stopping, or a transient error: try again
                if self._stop.wait(0.5):
                    return
                continue
            for message in response.get("Messages") or []:
                self._keep(message.get("Body") or "")
                try:
                    self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
                except Exception:  # pragma: no cover - it would only be shown twice
                    log.debug("event viewer: delete failed", exc_info=True)

    def _keep(self, body: str) -> None:
        try:
            event = json.loads(body)
        except ValueError:
            return
        if not isinstance(event, dict):
            return
        detail = event.get("detail") if isinstance(event.get("detail"), dict) else {}
        shown = {
            "time": event.get("time"),
            "id": event.get("id"),
            "detail_type": event.get("detail-type"),
            "source": event.get("source"),
            "event_id": detail.get("event_id"),
            "assembly_id": detail.get("assembly_id"),
            "detail": detail,
        }
        with self._lock:
            self._events.append(shown)
            del self._events[:-MAX_EVENTS]
