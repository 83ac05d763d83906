"""The benchmarks' arithmetic: the cost model and the statistics every figure is reported with.

The benchmarks themselves are too slow for the test suite (``make bench`` takes minutes and
``--quick`` over 30 s), so only their pure parts are pinned here: a wrong price formula or a wrong
median/IQR would silently corrupt every figure in ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.append(str(Path(__file__).resolve().parents[2] / "benchmarks"))  # benchmarks/ is not a package

import cost
from _common import percentile, ratio, summary


def test_lambda_duration_is_billed_per_started_millisecond_at_the_arm64_and_x86_prices() -> None:
    out = cost.per_million(4.2, 256)
    assert out["billed_ms"] == 5
    # 5 ms x 0.25 GB x price per GB-s x one million
    assert out["arm64"]["parts"]["lambda_duration"] == pytest.approx(0.005 * 0.25 * 0.0000133334 * 1e6, abs=1e-4)
    assert out["x86_64"]["parts"]["lambda_duration"] == pytest.approx(0.005 * 0.25 * 0.0000166667 * 1e6, abs=1e-4)


def test_a_poll_costs_one_http_api_request_one_invocation_and_half_a_read_unit_for_small_items() -> None:
    out = cost.per_million(1.0, 256, item_bytes=900)
    parts = out["arm64"]["parts"]
    assert parts["http_api"] == 1.00
    assert parts["lambda_requests"] == 0.20
    assert out["rru_per_poll"] == 0.5
    assert parts["dynamodb_reads"] == pytest.approx(0.0625)
    assert out["arm64"]["total"] == pytest.approx(sum(parts.values()), abs=1e-3)
    assert out["arm64"]["dominant"] == "http_api"


def test_large_items_cost_half_a_read_unit_per_started_4_kb() -> None:
    assert cost.per_million(1.0, 256, item_bytes=4096)["rru_per_poll"] == 0.5
    assert cost.per_million(1.0, 256, item_bytes=4097)["rru_per_poll"] == 1.0
    assert cost.per_million(1.0, 256, item_bytes=284_636)["rru_per_poll"] == 35.0


def test_all_in_adds_log_ingestion_and_transfer_to_the_headline_total() -> None:
    out = cost.per_million(5.0, 256, log_bytes=400, response_bytes=900)
    logs = (400 + cost.PLATFORM_LOG_BYTES) / 1000 * cost.PRICES["cloudwatch_logs_per_gb"]
    transfer = (900 + cost.RESPONSE_HEADER_BYTES) / 1000 * cost.PRICES["data_transfer_out_per_gb"]
    assert out["arm64"]["total_all_in"] == pytest.approx(out["arm64"]["total"] + logs + transfer, abs=1e-3)


def test_summary_reports_median_quartiles_and_spread() -> None:
    stats = summary([1, 2, 3, 4, 100])
    assert stats["median"] == 3
    assert (stats["p25"], stats["p75"]) == (2, 4)
    assert stats["iqr"] == 2
    assert stats["spread_pct"] == pytest.approx(66.7)
    assert summary([0.001, 0.002, 0.003], scale=1000)["median"] == 2


def test_ratio_gives_the_ratio_of_medians_and_of_interleaved_pairs() -> None:
    r = ratio([2.0, 4.0, 6.0], [1.0, 2.0, 2.0])
    assert r["ratio_of_medians"] == 2.0
    assert r["ratio_of_minimums"] == 2.0
    assert r["pair_ratio_median"] == 2.0


def test_percentile_is_nearest_rank() -> None:
    values = list(range(1, 101))
    assert percentile(values, 0.50) == 50
    assert percentile(values, 0.99) == 99
    assert percentile(values, 1.0) == 100
