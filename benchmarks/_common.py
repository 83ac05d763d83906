"""Shared helpers for the benchmarks: robust statistics, child environments, a moto server process.

Every figure is a median over repeated runs; the noise is stated next to it as the interquartile
range (IQR, p75 - p25) and as ``spread_pct`` = IQR / median. Side-by-side figures are measured
interleaved (A, B, A, B, ...) so a machine that slows down mid-run slows both sides alike, and
ratios are also given per interleaved pair (the median of the pair ratios), which cancels slow
drifts better than a ratio of two medians.
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

#: Credentials and region every child process gets: boto3 must never look for real ones.
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "AWS_EC2_METADATA_DISABLED": "true",
}
#: Variables that would point a child at real AWS or change boto3's behaviour.
_SCRUBBED = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE",
             "AWS_SHARED_CREDENTIALS_FILE", "AWS_DEFAULT_PROFILE")


def fake_aws_environ() -> None:
    """Give this process the fake credentials (before boto3 is used)."""
    for key in _SCRUBBED:
        os.environ.pop(key, None)
    os.environ.update(FAKE_AWS_ENV)
    # A config file that does not exist: no ~/.aws settings leak into the measurements.
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull


def child_env(**extra: str) -> dict[str, str]:
    """An environment for a child interpreter: fake AWS, no user site, the runtime importable."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED and not k.startswith("PYTHON")}
    env.update(FAKE_AWS_ENV)
    env["AWS_CONFIG_FILE"] = os.devnull
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    env["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = "20"
    env.update(extra)
    return env


def summary(samples: Sequence[float], scale: float = 1.0, digits: int = 3) -> dict[str, Any]:
    """Median, quartiles, IQR, min/max and spread of ``samples`` (each multiplied by ``scale``)."""
    values = sorted(v * scale for v in samples)
    if not values:
        return {"n": 0}
    median = statistics.median(values)
    if len(values) >= 4:
        q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    else:
        q1, q3 = values[0], values[-1]
    return {
        "n": len(values),
        "median": round(median, digits),
        "p25": round(q1, digits),
        "p75": round(q3, digits),
        "iqr": round(q3 - q1, digits),
        "min": round(values[0], digits),
        "max": round(values[-1], digits),
        "spread_pct": round(100 * (q3 - q1) / median, 1) if median else None,
    }


def ratio(numerator: Sequence[float], denominator: Sequence[float]) -> dict[str, Any]:
    """The ratio of medians, plus the median and IQR of the per-pair ratios (interleaved pairs)."""
    pairs = [a / b for a, b in zip(numerator, denominator, strict=False) if b > 0]
    pair_summary = summary(pairs)
    return {
        "ratio_of_medians": round(statistics.median(numerator) / statistics.median(denominator), 3),
        # The best run of each side: least disturbed by other processes (a lower bound, not the figure).
        "ratio_of_minimums": round(min(numerator) / min(denominator), 3),
        "pair_ratio_median": pair_summary.get("median"),
        "pair_ratio_iqr": pair_summary.get("iqr"),
        "pair_ratio_p25": pair_summary.get("p25"),
        "pair_ratio_p75": pair_summary.get("p75"),
    }


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted sequence."""
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, math.ceil(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


_MOTO_CHILD = """
import sys
from transflow_runtime.local.moto_server import SerialMotoServer
server = SerialMotoServer().start()
print(server.endpoint_url, flush=True)
sys.stdin.read()  # parent closes stdin (or dies): stop
server.stop()
"""


@contextmanager
def moto_process() -> Iterator[str]:
    """A ``SerialMotoServer`` in its own process (no GIL shared with the measured code).

    Yields its endpoint URL. The child stops when this context exits or when the parent dies
    (its stdin reaches end of file), so it can never outlive the benchmark.
    """
    proc = subprocess.Popen(
        [PYTHON, "-c", _MOTO_CHILD],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env=child_env(), text=True, cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()  # '' if the child died
        if not line.startswith("http://"):
            raise RuntimeError(f"moto server process did not start (got {line!r})")
        yield line
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.wait(timeout=10)


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import platform

    load = os.getloadavg() if hasattr(os, "getloadavg") else (None, None, None)
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_at_start": [round(x, 2) for x in load if x is not None],
    }
