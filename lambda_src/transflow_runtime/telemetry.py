"""Structured log lines, optionally CloudWatch embedded-metric-format (EMF) documents.

Every handler writes one JSON object per line to stdout; Lambda ships it to CloudWatch Logs, and
a line carrying ``_aws.CloudWatchMetrics`` also becomes metrics, with no API call on the request
path. Stdlib only: the status handler imports this on its cold-start path.

When ``TRANSFLOW_INSTANCE_ID`` is set (the construct sets it on every function), every line
carries it as ``Instance`` and every metric has it as its first dimension: alarms and dashboards
select one instance's metrics by it. It is read at each write, not at import, because local mode
runs every function in one process and sets the environment per function.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

from .schema import INSTANCE_ID_ENV, METRIC_INSTANCE_DIMENSION

_lock = threading.Lock()  # webhook deliveries log from several threads
_stream: Any = None  # None: sys.stdout, looked up at each write (pytest's capsys swaps it)
_enabled = True


def configure(*, stream: Any = None, enabled: bool = True) -> None:
    """Where log lines go. Lambda needs nothing (stdout); local mode keeps its console readable."""
    global _stream, _enabled
    _stream, _enabled = stream, enabled


def instance_id() -> str | None:
    """The instance this process's metrics and logs belong to (``None``: not set)."""
    return os.environ.get(INSTANCE_ID_ENV) or None


def write(record: Mapping[str, Any]) -> None:
    """One JSON object on one line (values JSON cannot hold are written as strings)."""
    if not _enabled:
        return
    instance = instance_id()
    if instance is not None and METRIC_INSTANCE_DIMENSION not in record:
        record = {METRIC_INSTANCE_DIMENSION: instance, **record}
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
    unless ``units`` says otherwise) under ``dimensions`` (name -> value), plus ``fields``.

    The instance (``TRANSFLOW_INSTANCE_ID``) is added as the first dimension when it is set."""
    instance = instance_id()
    dims = {METRIC_INSTANCE_DIMENSION: instance} if instance is not None else {}
    dims.update(dimensions or {})
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
