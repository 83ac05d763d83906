"""Cold start: importing each handler module in a fresh interpreter vs ``import boto3; boto3.client("dynamodb")``.

Quality bar (DESIGN.md): the status handler's import (which creates its DynamoDB client, as on
Lambda) costs at most 1.15x the baseline. Every sample is a new interpreter that times the
statement from inside (``time.perf_counter`` around it), so interpreter start-up is excluded
from both sides alike. Variants run interleaved, in a rotating order, after one untimed run each
(to write bytecode caches). When a module misses the bar, ``-X importtime`` shows which modules
it imports beyond the baseline's, with their self times in microseconds.

    .venv/bin/python benchmarks/cold_import.py [--runs 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
from typing import Any

from _common import PYTHON, ROOT, child_env, ratio, summary

GOAL = 1.15
BASELINE = "baseline"
#: name -> statement timed in a fresh interpreter.
VARIANTS: dict[str, str] = {
    BASELINE: 'import boto3; boto3.client("dynamodb")',
    "status": "import transflow_runtime.handlers.status",
    "authorizer": "import transflow_runtime.handlers.authorizer",
    "webhook": "import transflow_runtime.handlers.webhook",
    # The Lambda asset does not bundle ``cryptography`` (HS256 needs only the stdlib), but this
    # venv has it and PyJWT imports it when present: this variant hides it, as on Lambda.
    "authorizer_as_bundled": "import sys; sys.modules['cryptography'] = None\n"
    "import transflow_runtime.handlers.authorizer",
    # The webhook module creates no client at import; its first invocation builds the sender
    # (settings + DynamoDB client) before any network call: that is its real cold start.
    "webhook_ready": "import transflow_runtime.handlers.webhook as w; w.sender_from_env()",
    # What the authorizer creates at import is a Secrets Manager client: its like-for-like baseline.
    "baseline_secretsmanager": 'import boto3; boto3.client("secretsmanager")',
}
MODULES = {
    "status": "transflow_runtime.handlers.status",
    "authorizer": "transflow_runtime.handlers.authorizer",
    "webhook": "transflow_runtime.handlers.webhook",
}
#: variant -> handler module, for the ``-X importtime`` breakdown.
BREAKDOWN = {**MODULES, "authorizer_as_bundled": MODULES["authorizer"]}
_TIMER = "import time\n_t = time.perf_counter()\n{stmt}\nprint(repr(time.perf_counter() - _t))\n"


#: Configuration the handlers read (only ``webhook_ready`` uses it before a request).
_HANDLER_ENV = {"TRANSFLOW_TABLE_NAME": "bench", "TRANSFLOW_JWT_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:"
                "123456789012:secret:bench"}


def _run(statement: str) -> float:
    out = subprocess.run(
        [PYTHON, "-I", "-c", _TIMER.format(stmt=statement)],
        capture_output=True, text=True, env=child_env(**_HANDLER_ENV), cwd=ROOT, timeout=60, check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"cold import of {statement!r} failed:\n{out.stderr[-2000:]}")
    return float(out.stdout.strip().splitlines()[-1])


def _importtime(statement: str) -> dict[str, tuple[int, int]]:
    """module -> (self us, cumulative us) from one ``-X importtime`` run."""
    out = subprocess.run(
        [PYTHON, "-I", "-X", "importtime", "-c", statement],
        capture_output=True, text=True, env=child_env(), cwd=ROOT, timeout=60, check=False,
    )
    modules: dict[str, tuple[int, int]] = {}
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = line[len("import time:"):].split("|", 2)
        modules[name.strip()] = (int(self_us), int(cumulative_us))
    return modules


def import_breakdown(name: str, runs: int = 5, top: int = 12) -> dict[str, Any]:
    """Modules ``name`` imports that the baseline does not, by median self time (microseconds)."""
    base_runs = [_importtime(VARIANTS[BASELINE]) for _ in range(runs)]
    mod_runs = [_importtime(VARIANTS[name]) for _ in range(runs)]
    base_names = set().union(*base_runs)
    extra: dict[str, list[int]] = {}
    for run in mod_runs:
        for module, (self_us, _cum) in run.items():
            if module not in base_names:
                extra.setdefault(module, []).append(self_us)
    medians = {m: int(statistics.median(v)) for m, v in extra.items()}
    ranked = sorted(medians.items(), key=lambda kv: -kv[1])
    by_package: dict[str, int] = {}
    for module, us in medians.items():
        package = module.strip().split(".")[0]
        by_package[package] = by_package.get(package, 0) + us
    handler = BREAKDOWN[name]
    handler_self = [r[handler][0] for r in mod_runs if handler in r]
    return {
        "extra_modules": len(medians),
        "extra_self_us_total": sum(medians.values()),
        "extra_by_top_package_us": dict(sorted(by_package.items(), key=lambda kv: -kv[1])),
        "top_extra_modules_self_us": [{"module": m, "self_us": us} for m, us in ranked[:top]],
        "handler_module_self_us": int(statistics.median(handler_self)) if handler_self else None,
        "note": "self_us of the handler module itself includes the client it creates at import",
    }


def measure(runs: int = 20, breakdown: bool = True) -> dict[str, Any]:
    names = list(VARIANTS)
    for name in names:  # untimed: bytecode caches, disk cache
        _run(VARIANTS[name])
    samples: dict[str, list[float]] = {n: [] for n in names}
    for i in range(runs):
        order = names[i % len(names):] + names[: i % len(names)]
        for name in order:
            samples[name].append(_run(VARIANTS[name]))
    result: dict[str, Any] = {
        "runs": runs,
        "statements": VARIANTS,
        "seconds": {n: summary(s, digits=4) for n, s in samples.items()},
        "ratios": {},
    }
    for name in MODULES:
        result["ratios"][name] = ratio(samples[name], samples[BASELINE])
    result["ratios"]["authorizer_as_bundled"] = ratio(samples["authorizer_as_bundled"], samples[BASELINE])
    result["ratios"]["authorizer_as_bundled_vs_secretsmanager_client"] = ratio(
        samples["authorizer_as_bundled"], samples["baseline_secretsmanager"]
    )
    result["ratios"]["webhook_ready"] = ratio(samples["webhook_ready"], samples[BASELINE])
    result["goal"] = GOAL
    result["cold_import_ratio"] = result["ratios"]["status"]["ratio_of_medians"]
    result["met"] = result["cold_import_ratio"] <= GOAL
    if breakdown:
        result["breakdown"] = {
            name: import_breakdown(name, runs=1 if runs < 10 else 5) for name in BREAKDOWN
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.runs)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for name, stats in result["seconds"].items():
        print(f"{name:26s} median {stats['median'] * 1000:7.1f} ms  IQR {stats['iqr'] * 1000:5.1f} ms")
    for name, r in result["ratios"].items():
        print(f"ratio {name:38s} {r['ratio_of_medians']:.3f} (pairs: median {r['pair_ratio_median']}, "
              f"IQR {r['pair_ratio_iqr']})")
    for name, b in result.get("breakdown", {}).items():
        print(f"{name}: {b['extra_modules']} modules beyond the baseline, {b['extra_self_us_total']} us self; "
              f"top: {b['top_extra_modules_self_us'][:5]}")


if __name__ == "__main__":
    main()
