"""Structured log lines, optionally CloudWatch embedded-metric-format (EMF) documents.

Every handler writes one JSON object per line to stdout; Lambda ships it to CloudWatch Logs, and
a line carrying ``_aws.CloudWatchMetrics`` also becomes metrics, with no API call on the request
path. Stdlib only: the status handler imports this on its cold-start path.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

_lock = threading.Lock()  # webhook deliveries log from several threads
_stream: Any = None  # None: sys.stdout, looked up at each write (pytest's capsys swaps it)
_enabled = True


def configure(*, stream: Any = None, enabled: bool = True) -> None:
    """Where log lines go. Lambda needs nothing (stdout); local mode keeps its console readable."""
    global _stream, _enabled
    _stream, _enabled = stream, enabled


def write(record: Mapping[str, Any]) -> None:
    """One JSON object on one line (values JSON cannot hold are written as strings)."""
    if not _enabled:
        return
    line = json.dumps(record, default=str, separators=(",", ":"), ensure_ascii=False)
    stream = _stream or sys.stdout
    with _lock:
        stream.write(line + "\n")
        stream.flush()


def metric_record(
    namespace: str,
    metrics: Mapping[str, float | int],
    *,
    dimensions: Mapping[str, str] | None = None,
    units: Mapping[str, str] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A log record that is also an EMF document: ``metrics`` (name -> value, unit ``Count``
    unless ``units`` says otherwise) under ``dimensions`` (name -> value), plus ``fields``."""
    dims = dict(dimensions or {})
    units = units or {}
    record: dict[str, Any] = {**fields, **dims, **metrics}
    record["_aws"] = {
        "Timestamp": int(time.time() * 1000),
        "CloudWatchMetrics": [
            {
                "Namespace": namespace,
                "Dimensions": [list(dims)],
                "Metrics": [{"Name": name, "Unit": units.get(name, "Count")} for name in metrics],
            }
        ],
    }
    return record
