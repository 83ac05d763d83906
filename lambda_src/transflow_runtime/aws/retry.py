"""The "standard" retry mode of the AWS SDKs (AWS SDKs and Tools Reference Guide, "Retry behavior").

What is retried: throttling errors (by error code), transient errors (HTTP 500, 502, 503, 504,
the ``RequestTimeout`` family of codes, connections that fail, time out or close early) and, for
DynamoDB, a response whose CRC32 does not match ``x-amz-crc32``. Everything else (validation
errors, missing tables, access denied) fails at once.

How often and when (the guide's 2026 revision, the default of the AWS SDKs since November 10,
2026 and of botocore 1.44 and later, which no longer reads an opt-in: AWS Developer Tools Blog,
"Updated default retry behavior for AWS SDKs and tools"): at most 3 attempts (4 for DynamoDB, or
``AWS_MAX_ATTEMPTS``); before retry *i* (0-based) a jittered exponential backoff,
``rand(0, 1) x min(base x 2^i, 20)`` seconds with base 50 ms for transient errors (25 ms for
DynamoDB) and 1 s for throttling, ``x-amz-retry-after`` honoured (at most 5 s beyond the backoff);
a 429 whose code the service does not model counts as throttling. A retry quota of 500 tokens per
client bounds retries when a dependency is down: a retry costs 14 tokens (5 when throttled); a
success refunds what its retry cost, or adds 1 when it needed none; with the quota spent, errors
fail at once.

``AWS_NEW_RETRIES_2026=false`` selects the numbers from before the revision (botocore before 1.44
by default): 3 attempts, ``min(rand x 2^i, 20)`` s for every kind, 5 tokens a retry (10 after a
timeout). ``policy_for`` picks the parameter set; the flow is shared.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import NamedTuple

from .errors import InvalidMaxRetryAttemptsError

THROTTLING_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
    "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled", "SlowDown",
    "PriorRequestNotComplete", "EC2ThrottledException",
})
TRANSIENT_CODES = frozenset({"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"})
TRANSIENT_STATUS = frozenset({500, 502, 503, 504})
THROTTLING_STATUS = 429
INITIAL_RETRY_TOKENS = 500
NO_RETRY_INCREMENT = 1
MAX_BACKOFF_SECONDS = 20.0
RETRY_AFTER_MAX_ADDITIONAL_SECONDS = 5.0

# The kinds of retryable failure; each has its own cost and backoff base.
THROTTLING = "throttling"
TRANSIENT = "transient"
TIMEOUT = "timeout"


class RetryPolicy(NamedTuple):
    max_attempts: int
    transient_cost: int
    timeout_cost: int
    throttling_cost: int
    transient_base: float
    throttling_base: float
    #: 2026: ``rand * min(base * 2^i, 20)`` and ``x-amz-retry-after``; before: ``min(rand * 2^i, 20)``.
    revision_2026: bool

    def classify(self, status: int, code: str | None, modeled: bool) -> str | None:
        """The retry kind of an error response, or None when it must not be retried.

        ``modeled``: whether ``code`` is one of the service's modeled errors. The 2026 revision
        also treats a 429 as throttling when its code is not a modeled one (none, or unknown).
        """
        if code in THROTTLING_CODES:
            return THROTTLING
        if code in TRANSIENT_CODES or status in TRANSIENT_STATUS:
            return TRANSIENT
        if self.revision_2026 and status == THROTTLING_STATUS and not modeled:
            return THROTTLING
        return None

    def cost(self, kind: str) -> int:
        return {THROTTLING: self.throttling_cost, TIMEOUT: self.timeout_cost}.get(kind, self.transient_cost)

    def delay(self, kind: str, attempt: int, rand: float, retry_after_ms: str | None = None) -> float:
        """Seconds to wait before the retry that follows ``attempt`` (1-based) failing."""
        base = self.throttling_base if kind == THROTTLING else self.transient_base
        if not self.revision_2026:
            return min(rand * base * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS)
        delay = rand * min(base * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS)
        if retry_after_ms is not None:
            try:
                retry_after = int(retry_after_ms) / 1000.0
            except (ValueError, OverflowError):
                return delay
            if retry_after >= 0:
                return max(delay, min(retry_after, RETRY_AFTER_MAX_ADDITIONAL_SECONDS + delay))
        return delay


def _max_attempts(environ: Mapping[str, str], default: int) -> int:
    raw = environ.get("AWS_MAX_ATTEMPTS", "").strip()
    if not raw:
        return default
    value = int(raw)  # botocore too lets int()'s ValueError through
    if value < 1:
        raise InvalidMaxRetryAttemptsError(provided_max_attempts=value, min_value=1)
    return value


def policy_for(service: str, environ: Mapping[str, str] | None = None) -> RetryPolicy:
    env = os.environ if environ is None else environ
    if env.get("AWS_NEW_RETRIES_2026", "").strip().lower() != "false":
        dynamodb = service == "dynamodb"
        return RetryPolicy(
            max_attempts=_max_attempts(env, 4 if dynamodb else 3), transient_cost=14, timeout_cost=14,
            throttling_cost=5, transient_base=0.025 if dynamodb else 0.05, throttling_base=1.0, revision_2026=True,
        )
    return RetryPolicy(
        max_attempts=_max_attempts(env, 3), transient_cost=5, timeout_cost=10, throttling_cost=5,
        transient_base=1.0, throttling_base=1.0, revision_2026=False,
    )


class RetryQuota:
    """The token bucket of standard mode: shared by all calls of one client, never above its start."""

    def __init__(self, capacity: int = INITIAL_RETRY_TOKENS) -> None:
        self.max_capacity = capacity
        self.available = capacity
        self._lock = threading.Lock()

    def acquire(self, amount: int) -> bool:
        with self._lock:
            if amount > self.available:
                return False
            self.available -= amount
            return True

    def release(self, amount: int) -> None:
        with self._lock:
            self.available = min(self.max_capacity, self.available + amount)
