#!/usr/bin/env python3
"""``make bench``: every benchmark of the status service, one table (or one JSON object).

Each benchmark runs in its own interpreter (``benchmarks/<name>.py --json``) so none inherits
another's imports, environment or threads; this script only collects, derives the cost figure
and prints. Everything is local (loopback only) and bounded in count and time.

    .venv/bin/python benchmarks/run.py            # full run, a few minutes on 2 cores
    .venv/bin/python benchmarks/run.py --json     # one JSON object on stdout
    .venv/bin/python benchmarks/run.py --quick    # fewer repetitions: a smoke run, noisy figures

Keys of the JSON object: ``cold_import_ratio``, ``warm_request_ratio``, ``webhook_batch_ratio``,
``synth_seconds``, ``bundle_zip_mb``, ``local_polls_per_second``, ``cost_per_million_polls_usd``,
``dispatcher_invocations_per_assembly``,
plus ``goals``, ``met``, ``noise``, ``dominant``, ``details`` (each benchmark's full result),
``machine``, ``date``, ``command`` and ``elapsed_seconds``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import PYTHON, ROOT, child_env, machine
from cost import estimate

BENCH = ROOT / "benchmarks"
KEYS = (
    "cold_import_ratio",
    "warm_request_ratio",
    "webhook_batch_ratio",
    "synth_seconds",
    "bundle_zip_mb",
    "local_polls_per_second",
    "cost_per_million_polls_usd",
    "dispatcher_invocations_per_assembly",
)
GOALS = {
    "cold_import_ratio": ("<=", 1.15),
    "warm_request_ratio": ("<=", 1.15),
    "webhook_batch_ratio": ("<", 1.5),
    "dispatcher_invocations_per_assembly": ("<=", 1.2),
}
#: Full and quick settings: script -> arguments.
PLANS: dict[str, dict[str, list[str]]] = {
    "full": {
        "cold_import": ["--runs", "20"],
        "warm_request": ["--requests", "400"],
        "webhook_batch": ["--runs", "5"],
        "local_polls": ["--seconds", "5"],
        "profile_local": ["--seconds", "4"],
        "synth": ["--runs", "3"],
        "dispatcher_invocations": ["--assemblies", "20"],
    },
    "quick": {
        "cold_import": ["--runs", "3"],
        "warm_request": ["--requests", "40", "--cpu-requests", "20"],
        "webhook_batch": ["--runs", "1"],
        "local_polls": ["--seconds", "1"],
        "synth": ["--runs", "1", "--quick"],
        "dispatcher_invocations": ["--assemblies", "3"],
    },
}


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _run(script: str, args: list[str]) -> dict[str, Any]:
    started = time.perf_counter()
    out = subprocess.run(  # our interpreter, our scripts
        [PYTHON, str(BENCH / f"{script}.py"), "--json", *args],
        capture_output=True, text=True, env=child_env(), cwd=ROOT, timeout=1800, check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"benchmark {script} failed (exit {out.returncode}):\n{out.stderr[-4000:]}")
    result = json.loads(out.stdout)
    result["elapsed_seconds"] = round(time.perf_counter() - started, 1)
    _log(f"  {script}: done in {result['elapsed_seconds']} s")
    return result


def _met(key: str, value: float) -> bool | None:
    if key not in GOALS:
        return None
    op, bound = GOALS[key]
    return value <= bound if op == "<=" else value < bound


def collect(quick: bool) -> dict[str, Any]:
    plan = PLANS["quick" if quick else "full"]
    started = time.perf_counter()
    load = machine()
    details: dict[str, Any] = {}
    for script, args in plan.items():
        _log(f"running {script} {' '.join(args)}")
        details[script] = _run(script, args)
    cold, warm, hook = details["cold_import"], details["warm_request"], details["webhook_batch"]
    synth, polls = details["synth"], details["local_polls"]
    memory = synth["function_memory_mb"][0] if synth.get("function_memory_mb") else 256
    arch = synth["function_architectures"][0] if synth.get("function_architectures") else "arm64"
    cost = estimate(warm, memory, arch)
    details["cost"] = cost
    result: dict[str, Any] = {
        "cold_import_ratio": cold["cold_import_ratio"],
        "warm_request_ratio": warm["warm_request_ratio"],
        "webhook_batch_ratio": hook["webhook_batch_ratio"],
        "synth_seconds": synth["synth_seconds"],
        "bundle_zip_mb": synth["bundle_zip_mb"],
        "local_polls_per_second": polls["local_polls_per_second"],
        "cost_per_million_polls_usd": cost["cost_per_million_polls_usd"],
        "dispatcher_invocations_per_assembly": details["dispatcher_invocations"]["dispatcher_invocations_per_assembly"],
    }
    result["goals"] = {k: f"{op} {bound}" for k, (op, bound) in GOALS.items()}
    result["met"] = {k: _met(k, result[k]) for k in GOALS}
    result["noise"] = _noise(details)
    result["dominant"] = _dominant(details)
    result["details"] = details
    result["machine"] = load
    result["date"] = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    flags = " ".join(sys.argv[1:])
    result["command"] = f"make bench ARGS='{flags}'" if flags else "make bench"
    result["mode"] = "quick" if quick else "full"
    result["elapsed_seconds"] = round(time.perf_counter() - started, 1)
    return result


def _noise(d: dict[str, Any]) -> dict[str, str]:
    cold, warm, hook = d["cold_import"], d["warm_request"], d["webhook_batch"]
    synth, polls = d["synth"], d["local_polls"]
    cr, wr = cold["ratios"]["status"], warm["ratio"]
    return {
        "cold_import_ratio": f"per-pair ratio IQR {cr['pair_ratio_p25']}-{cr['pair_ratio_p75']}; baseline "
                             f"spread {cold['seconds']['baseline']['spread_pct']}% (n={cold['runs']})",
        "warm_request_ratio": f"per-pair ratio IQR {wr['pair_ratio_p25']}-{wr['pair_ratio_p75']}; get_item "
                              f"spread {warm['bare_get_item_ms']['spread_pct']}% (n={warm['requests']})",
        "webhook_batch_ratio": f"one: IQR {hook['one_delivery_ms']['iqr']} ms, batch: IQR "
                               f"{hook['batch_of_10_ms']['iqr']} ms (n={hook['runs']})",
        "synth_seconds": f"IQR {synth['seconds']['app']['iqr']} s (n={synth['runs']})",
        "bundle_zip_mb": "deterministic (same asset, same zlib level)",
        "local_polls_per_second": f"single {polls['seconds']} s window; p50 {polls['latency_ms']['p50']} ms, "
                                  f"p99 {polls['latency_ms']['p99']} ms; one poller alone: p50 "
                                  f"{polls['single_poller']['latency_ms']['p50']} ms",
        "cost_per_million_polls_usd": "inherits the warm handler time (rounded up to 1 ms)",
        "dispatcher_invocations_per_assembly": "deterministic (a count over "
                                               f"{d['dispatcher_invocations']['assemblies']} assemblies)",
    }


def _dominant(d: dict[str, Any]) -> dict[str, str]:
    cold, warm, hook = d["cold_import"], d["warm_request"], d["webhook_batch"]
    synth, polls, cost = d["synth"], d["local_polls"], d["cost"]
    out: dict[str, str] = {}
    status_extra = cold.get("breakdown", {}).get("status", {})
    own = status_extra.get("handler_module_self_us") or 0
    beyond = status_extra.get("extra_self_us_total", own) - own
    out["cold_import_ratio"] = (
        "boto3/botocore import + DynamoDB client creation, which both sides pay; the status handler imports "
        f"{max(0, status_extra.get('extra_modules', 1) - 1)} more modules costing {beyond} us (self time), "
        f"its own module body (incl. creating the client) {own} us"
    )
    out["warm_request_ratio"] = (
        f"the GetItem round trip to moto ({warm['bare_get_item_ms']['median']} ms); the handler adds "
        f"{warm['overhead_ms_median']} ms wall, "
        f"{round(warm['cpu_ms_per_request']['small_handler']['median'] - warm['cpu_ms_per_request']['small_bare_get_item']['median'], 3)}"  # noqa: E501
        " ms CPU"
    )
    out["webhook_batch_ratio"] = (
        f"the endpoint's {hook['endpoint_delay_ms']:.0f} ms answer time (deliveries run concurrently); the rest is "
        "per-record bookkeeping writes through the serial moto server"
    )
    secs = synth["seconds"]
    app_s, plain_s = secs["app"]["median"], secs["plain"]["median"]
    if "empty" in secs and "app_without_nag" in secs:
        empty_s, bare_s = secs["empty"]["median"], secs["app_without_nag"]["median"]
        out["synth_seconds"] = (
            f"the fixed cost of any CDK app ({empty_s} s for an empty one: Python + jsii + aws-cdk-lib) is "
            f"{round(100 * empty_s / app_s)}% of app.py's {app_s} s; the resources themselves add "
            f"{round(plain_s - empty_s, 2)} s (plain app {plain_s} s), TransflowStatus beyond them "
            f"{round(bare_s - plain_s, 2)} s, the cdk-nag pass {round(app_s - bare_s, 2)} s"
        )
    else:
        out["synth_seconds"] = f"plain app {plain_s} s (run without --quick for the breakdown)"
    parts = synth.get("bundle_largest_parts", [])
    out["bundle_zip_mb"] = ", ".join(f"{p['path']} {p['mb']} MB" for p in parts[:3]) + " (unzipped)"
    profile = d.get("profile_local")
    if profile:
        share = profile["cpu_share_by_part_pct"]
        top = sorted(share.items(), key=lambda kv: -kv[1])[:3]
        out["local_polls_per_second"] = (
            "one Python process (one GIL) serves gateway, authorizer, handler and moto: "
            + ", ".join(f"{k} {v}%" for k, v in top) + " of its CPU per poll"
        )
    else:
        out["local_polls_per_second"] = (
            f"local-mode process CPU share {polls['cpu_share_during_run']['local_mode_process']} "
            "(run without --quick for the breakdown)"
        )
    dispatch = d["dispatcher_invocations"]["project_worker"]
    out["dispatcher_invocations_per_assembly"] = (
        f"one invocation per terminal transition; without the filter every one of an assembly's "
        f"{dispatch['before']['writes'] // dispatch['before']['assemblies']} writes invoked it "
        f"({dispatch['before']['invocations_per_assembly']} per assembly, {dispatch['reduction']}x more)"
    )
    head = cost["headline"][cost["architecture"]]
    out["cost_per_million_polls_usd"] = (
        f"{head['dominant']} ({head['dominant_share_pct']}% of ${head['total']}); all-in with logs and "
        f"transfer ${head['total_all_in']}"
    )
    return out


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def table(result: dict[str, Any]) -> str:
    rows = [("figure", "value", "goal", "met", "noise")]
    for key in KEYS:
        goal = result["goals"].get(key, "-")
        met = result["met"].get(key)
        rows.append((key, _fmt(result[key]), goal, "-" if met is None else ("yes" if met else "NO"),
                     result["noise"][key]))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = []
    for i, row in enumerate(rows):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row[:4], widths, strict=True)) + "  " + row[4])
        if i == 0:
            lines.append("-" * (sum(widths) + 8 + 20))
    lines.append("")
    lines.append("what dominates:")
    for key in KEYS:
        lines.append(f"  {key}: {result['dominant'][key]}")
    d = result["details"]
    cold, warm, cost = d["cold_import"], d["warm_request"], d["cost"]
    lines.append("")
    lines.append("cold import ratios (vs import boto3; boto3.client('dynamodb')): " + ", ".join(
        f"{k} {v['ratio_of_medians']}" for k, v in cold["ratios"].items()))
    c = warm["cpu_ms_per_request"]
    lines.append(f"handler CPU per request: small {c['small_handler']['median']} ms "
                 f"(bare get_item {c['small_bare_get_item']['median']} ms); {c['big_results']} results "
                 f"{c['big_handler']['median']} ms (bare get_item {c['big_bare_get_item']['median']} ms)")
    synth = d["synth"]
    lines.append("synth medians: " + ", ".join(f"{k} {v['median']} s" for k, v in synth["seconds"].items())
                 + f"; app/plain {synth['ratio_app_over_plain']['ratio_of_medians']}; bundle "
                 f"{synth['bundle_zip_mb']} MB zipped / {synth['bundle_unzipped_mb']} MB unzipped")
    polls = d["local_polls"]
    one = polls.get("single_poller", {})
    lines.append(f"local mode: {polls['local_polls_per_second']} polls/s with {polls['pollers']} pollers, latency "
                 f"p50 {polls['latency_ms']['p50']} ms, p99 {polls['latency_ms']['p99']} ms; one poller alone "
                 f"{one.get('polls_per_second')} polls/s, p50 {one.get('latency_ms', {}).get('p50')} ms")
    dispatch = d["dispatcher_invocations"]
    sides = ", ".join(
        f"{w} {dispatch[w]['before']['invocations_per_assembly']} / {dispatch[w]['after']['invocations_per_assembly']}"
        for w in ("project_worker", "seed_worker")
    )
    lines.append(f"dispatcher invocations per assembly, before (eventName only) / after (terminal filter): {sides}; "
                 f"one webhook per assembly: {dispatch['webhooks_per_assembly_ok']}")
    for arch in ("arm64", "x86_64"):
        h = cost["headline"][arch]
        lines.append(f"cost per million polls, {arch}: ${h['total']} ({', '.join(f'{k} ${v}' for k, v in h['parts'].items())}); "  # noqa: E501
                     f"all-in ${h['total_all_in']}")
    lines.append(f"machine: {result['machine']['cpus']} CPUs, Python {result['machine']['python']}, load "
                 f"{result['machine']['loadavg_at_start']}; {result['date']}; {result['elapsed_seconds']} s")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--quick", action="store_true", help="few repetitions (smoke run; noisy figures)")
    parser.add_argument("--table-from", metavar="FILE", help="print the table of a saved --json result; run nothing")
    args = parser.parse_args()
    if args.table_from:
        print(table(json.loads(Path(args.table_from).read_text())))
        return
    result = collect(args.quick)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(table(result))


if __name__ == "__main__":
    main()
