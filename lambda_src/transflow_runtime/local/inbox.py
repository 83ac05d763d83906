"""``--inbox``: a webhook receiver built into local mode, so the whole loop shows on the status page.

Every webhook target local mode points at the inbox gets ``/_local/inbox/<name>``; each delivery
is checked the way a receiver should check it (Standard Webhooks with ``verify_webhook``, and the
seed's ``X-Transflow-Signature``), with the signing secret of that target as local mode configured
it, and kept (newest last, at most ``MAX_DELIVERIES``) for ``GET /_local/inbox``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from typing import Any

PATH = "/_local/inbox"
MAX_DELIVERIES = 500


class Inbox:
    """``secret_for(name)`` returns the signing secret deliveries to ``name`` must carry (or ``None``)."""

    def __init__(self, base_url: str, secret_for: Callable[[str], str | None]) -> None:
        self.base_url = base_url.rstrip("/") + PATH
        self._secret_for = secret_for
        self._deliveries: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def url(self, name: str) -> str:
        return f"{self.base_url}/{name}"

    def receive(self, name: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        from ..schema import SIGNATURE_HEADER
        from ..webhooks import WebhookVerificationError, legacy_signature, verify_webhook

        lower = {k.lower(): v for k, v in headers.items()}
        secret = self._secret_for(name)
        standard = legacy = False
        problem = "no signing secret is configured for this target" if secret is None else ""
        if secret is not None:
            try:
                verify_webhook(body, lower, secret)
                standard = True
            except (WebhookVerificationError, ValueError) as exc:
                problem = str(exc)
            given = lower.get(SIGNATURE_HEADER.lower(), "")
            legacy = bool(given) and hmac.compare_digest(given.encode(), legacy_signature(body, secret).encode())
            if standard and not legacy:
                problem = f"{SIGNATURE_HEADER} does not match the body"
        try:
            payload = json.loads(body)
        except ValueError:
            payload = {}
        entry = {
            "received_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "target": name,
            "event": lower.get("x-transflow-event", ""),
            "webhook_id": lower.get("webhook-id", ""),
            "assembly_id": payload.get("assembly_id") if isinstance(payload, dict) else None,
            "verified": standard and legacy,
            "standard_signature": standard,
            "legacy_signature": legacy,
            "problem": problem,
            "body_sha256": hashlib.sha256(body).hexdigest(),
        }
        with self._lock:
            self._deliveries.append(entry)
            del self._deliveries[:-MAX_DELIVERIES]
        return entry

    def deliveries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._deliveries)
