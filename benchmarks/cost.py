"""Cost per million status polls, from the measured handler duration and the deployed memory size.

One poll = one HTTP API request + one status Lambda invocation + one eventually consistent
GetItem (the status handler does not ask for strong consistency). The example app uses the
native JWT (OIDC) authorizer, which API Gateway runs at no extra charge; the shared-secret
Lambda authorizer adds at most one invocation per token per cache period (5 minutes by default).

Prices: us-east-1, USD, public list prices, no free tier. They are written here with the date
they were checked so the figure can be rechecked; change them here if AWS changes them.
"""

from __future__ import annotations

import math
from typing import Any

PRICES_CHECKED = "2026-11-30"
PRICES_SOURCE = (
    "AWS public price pages for us-east-1 (aws.amazon.com/api-gateway/pricing, /lambda/pricing, "
    "/dynamodb/pricing/on-demand, /cloudwatch/pricing) as summarized by public price trackers; "
    "checked on the date above, not fetched at run time"
)
PRICES: dict[str, float] = {
    # HTTP API: $1.00 per million requests for the first 300 million per month.
    "http_api_per_million_requests": 1.00,
    # Lambda: $0.20 per million requests; duration per GB-second (billed per 1 ms).
    "lambda_per_million_requests": 0.20,
    "lambda_arm64_per_gb_second": 0.0000133334,
    "lambda_x86_64_per_gb_second": 0.0000166667,
    # DynamoDB on-demand: $0.125 per million read request units (after the November 2024 cut);
    # an eventually consistent read of up to 4 KB is 0.5 RRU.
    "dynamodb_per_million_rru": 0.125,
    # CloudWatch Logs ingestion (Lambda logs, first tier): $0.50 per GB.
    "cloudwatch_logs_per_gb": 0.50,
    # Data transfer out to the internet, first 10 TB tier: $0.09 per GB.
    "data_transfer_out_per_gb": 0.09,
}
#: Lambda's START/END/REPORT lines in text format, per invocation (an estimate).
PLATFORM_LOG_BYTES = 250
#: Status line + headers of an HTTP API response (an estimate).
RESPONSE_HEADER_BYTES = 350
#: Lambda gives a function one full vCPU at 1,769 MB and CPU in proportion below that.
FULL_VCPU_MB = 1769
#: Assumed in-region DynamoDB GetItem round trip for the sensitivity estimate.
ASSUMED_DYNAMODB_MS = 4.0


def _rru(item_bytes: int) -> float:
    """Read request units of one eventually consistent GetItem of an item this large."""
    return 0.5 * max(1, math.ceil(item_bytes / 4096))


def per_million(
    duration_ms: float, memory_mb: int, *, item_bytes: int = 1000, log_bytes: int = 0, response_bytes: int = 1000
) -> dict[str, Any]:
    """Cost of one million polls by component for each architecture (billed duration = ceil to 1 ms).

    ``total`` is what the issue asks for (HTTP API + Lambda + DynamoDB reads); ``total_all_in``
    adds CloudWatch Logs ingestion and data transfer out, which a real bill also shows.
    """
    billed_ms = max(1, math.ceil(duration_ms))
    gb = memory_mb / 1024
    common = {
        "http_api": PRICES["http_api_per_million_requests"],
        "lambda_requests": PRICES["lambda_per_million_requests"],
        "dynamodb_reads": _rru(item_bytes) * PRICES["dynamodb_per_million_rru"],
    }
    logs = (log_bytes + PLATFORM_LOG_BYTES) * 1e6 / 1e9 * PRICES["cloudwatch_logs_per_gb"]
    transfer = (response_bytes + RESPONSE_HEADER_BYTES) * 1e6 / 1e9 * PRICES["data_transfer_out_per_gb"]
    out: dict[str, Any] = {"billed_ms": billed_ms, "memory_mb": memory_mb, "rru_per_poll": _rru(item_bytes)}
    for arch in ("arm64", "x86_64"):
        duration = billed_ms / 1000 * gb * PRICES[f"lambda_{arch}_per_gb_second"] * 1e6
        parts = {**common, "lambda_duration": duration}
        total = sum(parts.values())
        out[arch] = {
            "total": round(total, 4),
            "total_all_in": round(total + logs + transfer, 4),
            "parts": {k: round(v, 4) for k, v in parts.items()},
            "dominant": max(parts, key=parts.__getitem__),
            "dominant_share_pct": round(100 * max(parts.values()) / total, 1),
        }
    out["cloudwatch_logs"] = round(logs, 4)
    out["data_transfer_out"] = round(transfer, 4)
    out["log_bytes_per_poll"] = log_bytes + PLATFORM_LOG_BYTES
    return out


def estimate(warm: dict[str, Any], memory_mb: int, architecture: str = "arm64") -> dict[str, Any]:
    """The headline figure and its sensitivity, from the warm-request benchmark's result."""
    handler_ms = warm["handler_ms"]["median"]
    log_bytes = int(warm.get("log_bytes_per_request", 0))
    cpu = warm["cpu_ms_per_request"]
    small_body = int(warm.get("small_response_body_bytes", 1000))
    big_body = int(cpu.get("big_response_body_bytes", 300_000))
    headline = per_million(handler_ms, memory_mb, item_bytes=small_body, log_bytes=log_bytes,
                           response_bytes=small_body)
    # On Lambda the function gets memory/1769 of a vCPU: CPU-bound work stretches by the inverse.
    stretch = FULL_VCPU_MB / memory_mb
    small_lambda_ms = cpu["small_handler"]["median"] * stretch + ASSUMED_DYNAMODB_MS
    big_lambda_ms = cpu["big_handler"]["median"] * stretch + ASSUMED_DYNAMODB_MS * 4
    return {
        "cost_per_million_polls_usd": headline[architecture]["total"],
        "architecture": architecture,
        "duration_ms_used": handler_ms,
        "headline": headline,
        "sensitivity": {
            "note": (f"Lambda at {memory_mb} MB runs CPU-bound code ~{stretch:.1f}x slower than one full core "
                     f"({FULL_VCPU_MB} MB = 1 vCPU): estimated duration = measured handler CPU x {stretch:.1f} "
                     f"+ {ASSUMED_DYNAMODB_MS:g} ms DynamoDB round trip (x4 for the large item)"),
            "small_assembly": {"estimated_lambda_ms": round(small_lambda_ms, 1),
                               **per_million(small_lambda_ms, memory_mb, item_bytes=small_body,
                                             log_bytes=log_bytes, response_bytes=small_body)},
            "assembly_with_1000_results": {
                "estimated_lambda_ms": round(big_lambda_ms, 1),
                **per_million(big_lambda_ms, memory_mb, item_bytes=big_body,
                              log_bytes=log_bytes, response_bytes=big_body),
            },
        },
        "prices": PRICES,
        "prices_checked": PRICES_CHECKED,
        "prices_source": PRICES_SOURCE,
        "assumptions": {
            "platform_log_bytes_per_invocation": PLATFORM_LOG_BYTES,
            "authorizer": "native JWT authorizer (free); a shared-secret Lambda authorizer adds one invocation "
                          "per token per cache TTL (default 5 min), negligible for pollers",
            "free_tier": "ignored",
            "response_header_bytes": RESPONSE_HEADER_BYTES,
        },
    }
