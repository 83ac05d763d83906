"""Cold start: each handler's import in a fresh interpreter vs ``import boto3; boto3.client("dynamodb")`` and
vs the TypeScript original's init (Node, AWS SDK v3 document client).

Quality bars (DESIGN.md, issue 15): the status handler's import, in a Lambda-like environment (where it
builds the light stdlib client: ``transflow_runtime.aws``), costs at most 0.35x the boto3 baseline and at most
1.0x the Node original; the authorizer is reported the same way. The Node original is the seed's status read:
``require("@aws-sdk/client-dynamodb")``, ``require("@aws-sdk/lib-dynamodb")`` and
``DynamoDBDocumentClient.from(new DynamoDBClient(...))``, with the SDK versions pinned in
``benchmarks/node/package-lock.json`` and installed there by this script (``npm ci``, once).

Every sample is a new interpreter (or node process) that times the statement from inside
(``time.perf_counter`` / ``process.hrtime`` around it), so interpreter start-up is excluded from every side
alike. Variants run interleaved, in a rotating order, after one untimed run each (bytecode caches, disk cache).

The Lambda asset ships no bytecode (``bundling.py`` leaves ``*.pyc`` out, and ``/var/task`` is read-only), so
on Lambda every cold start compiles the handler's modules. The ``*_as_deployed`` variants time that: they
import the runtime (and PyJWT, for the authorizer) from a copy holding only the ``.py`` files, with ``-B``
so nothing is cached between samples; they are the figures the goals are checked on. The boto3 baseline
keeps its cached bytecode, as the Lambda runtime's own boto3 has it; Node compiles the SDK each time.
``-X importtime`` then shows which modules each handler imports beyond the baseline's.

    .venv/bin/python benchmarks/cold_import.py [--runs 20]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import PYTHON, ROOT, child_env, ratio, summary

GOAL = 0.35
NODE_GOAL = 1.0
BASELINE = "baseline"
NODE = "node_original"
NODE_DIR = ROOT / "benchmarks" / "node"
#: How a variant's child process is set up: ``plain`` (fake credentials, as before), ``lambda`` (what Lambda
#: sets: function name, credentials and region in the environment, no config files) or ``lambda_boto3``
#: (the same with the escape hatch ``TRANSFLOW_AWS_CLIENT=boto3``).
VARIANTS: dict[str, tuple[str, str]] = {
    BASELINE: ('import boto3; boto3.client("dynamodb")', "plain"),
    "status": ("import transflow_runtime.handlers.status", "lambda"),
    # The Lambda asset does not bundle ``cryptography`` (HS256 needs only the stdlib), but this venv has it
    # and PyJWT imports it when present: "as bundled" hides it, as on Lambda.
    "authorizer_as_bundled": ("import sys; sys.modules['cryptography'] = None\n"
                              "import transflow_runtime.handlers.authorizer", "lambda"),
    "authorizer": ("import transflow_runtime.handlers.authorizer", "lambda"),
    # The escape hatch: what the status function cost before the light client (stage 1's figure).
    "status_boto3": ("import transflow_runtime.handlers.status", "lambda_boto3"),
    "webhook": ("import transflow_runtime.handlers.webhook", "plain"),
    # The webhook module creates no client at import; its first invocation builds the sender (settings +
    # DynamoDB client) before any network call: that is its real cold start.
    "webhook_ready": ("import transflow_runtime.handlers.webhook as w; w.sender_from_env()", "plain"),
    # What the authorizer would create with boto3 is a Secrets Manager client: its like-for-like baseline.
    "baseline_secretsmanager": ('import boto3; boto3.client("secretsmanager")', "plain"),
    # As Lambda loads the asset: source only, compiled on every cold start (see the module docstring).
    "status_as_deployed": ("import transflow_runtime.handlers.status", "deployed"),
    "authorizer_as_deployed": ("import sys; sys.modules['cryptography'] = None\n"
                               "import transflow_runtime.handlers.authorizer", "deployed"),
}
#: Packages of the asset the ``deployed`` variants import from their source-only copy.
DEPLOYED_PACKAGES = ("transflow_runtime", "jwt")
_deployed_dir: Path | None = None


def deployed_copy() -> Path:
    """A directory with only the ``.py`` files of ``DEPLOYED_PACKAGES`` (made once per process)."""
    global _deployed_dir
    if _deployed_dir is None:
        target = Path(tempfile.mkdtemp(prefix="transflow-asset-"))
        for package in DEPLOYED_PACKAGES:
            spec = importlib.util.find_spec(package)
            assert spec is not None and spec.submodule_search_locations, package
            source = Path(next(iter(spec.submodule_search_locations)))
            shutil.copytree(source, target / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        _deployed_dir = target
    return _deployed_dir
MODULES = {
    "status": "transflow_runtime.handlers.status",
    "authorizer": "transflow_runtime.handlers.authorizer",
    "webhook": "transflow_runtime.handlers.webhook",
}
#: variant -> handler module, for the ``-X importtime`` breakdown.
BREAKDOWN = {"status": MODULES["status"], "authorizer_as_bundled": MODULES["authorizer"],
             "status_boto3": MODULES["status"], "status_as_deployed": MODULES["status"],
             "authorizer_as_deployed": MODULES["authorizer"]}
_TIMER = "import time\n_t = time.perf_counter()\n{stmt}\nprint(repr(time.perf_counter() - _t))\n"

#: Configuration the handlers read (only ``webhook_ready`` uses it before a request).
_HANDLER_ENV = {"TRANSFLOW_TABLE_NAME": "bench", "TRANSFLOW_JWT_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:"
                "123456789012:secret:bench"}
_LAMBDA_ENV = {"AWS_LAMBDA_FUNCTION_NAME": "transflow-status", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
               "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13", "AWS_SESSION_TOKEN": "bench"}


def _env(kind: str) -> dict[str, str]:
    env = child_env(**_HANDLER_ENV)
    if kind.startswith("lambda"):
        # As on Lambda: no AWS config files at all (the plain variants point them at /dev/null).
        env.pop("AWS_CONFIG_FILE", None)
        env.pop("AWS_SHARED_CREDENTIALS_FILE", None)
        env.update(_LAMBDA_ENV)
    if kind == "lambda_boto3":
        env["TRANSFLOW_AWS_CLIENT"] = "boto3"
    if kind == "deployed":
        env.pop("AWS_CONFIG_FILE", None)
        env.pop("AWS_SHARED_CREDENTIALS_FILE", None)
        env.update(_LAMBDA_ENV)
    return env


def _command(statement: str, kind: str, *flags: str) -> list[str]:
    if kind != "deployed":
        return [PYTHON, "-I", *flags, "-c", statement]
    # The asset's directory first on sys.path (as /var/task on Lambda), set before the timer starts.
    prefix = f"import sys; sys.path.insert(0, {str(deployed_copy())!r})\n"
    return [PYTHON, "-I", "-B", *flags, "-c", prefix + statement]


def _run(name: str) -> float:
    if name == NODE:
        command = ["node", "--no-warnings", str(NODE_DIR / "init.js")]
        env, cwd = child_env(), NODE_DIR
    else:
        statement, kind = VARIANTS[name]
        command = _command(_TIMER.format(stmt=statement), kind)
        env, cwd = _env(kind), ROOT
    out = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=60, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"cold start of {name!r} failed:\n{out.stderr[-2000:]}")
    return float(out.stdout.strip().splitlines()[-1])


def install_node_original() -> dict[str, Any]:
    """``npm ci`` the pinned SDK into benchmarks/node (once); the installed versions."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise RuntimeError("node and npm are needed for the Node original's figure")
    if not (NODE_DIR / "node_modules" / "@aws-sdk" / "lib-dynamodb").is_dir():
        # npm's summary goes to stderr: stdout carries only the result (``--json`` stays parseable).
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_DIR, check=True,
                       timeout=600, env=child_env(), stdout=sys.stderr)
    versions = {}
    for package in ("client-dynamodb", "lib-dynamodb"):
        meta = json.loads((NODE_DIR / "node_modules" / "@aws-sdk" / package / "package.json").read_text())
        versions[f"@aws-sdk/{package}"] = meta["version"]
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    return {"node": node, **versions}


def _importtime(statement: str, kind: str) -> dict[str, tuple[int, int]]:
    """module -> (self us, cumulative us) from one ``-X importtime`` run."""
    out = subprocess.run(
        _command(statement, kind, "-X", "importtime"),
        capture_output=True, text=True, env=_env(kind), cwd=ROOT, timeout=60, check=False,
    )
    modules: dict[str, tuple[int, int]] = {}
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = line[len("import time:"):].split("|", 2)
        modules[name.strip()] = (int(self_us), int(cumulative_us))
    return modules


def import_breakdown(name: str, runs: int = 5, top: int = 12) -> dict[str, Any]:
    """What ``name`` imports, by median self time (microseconds): all of it, and beyond the baseline's."""
    base_runs = [_importtime(*VARIANTS[BASELINE]) for _ in range(runs)]
    mod_runs = [_importtime(*VARIANTS[name]) for _ in range(runs)]
    base_names = set().union(*base_runs)
    every: dict[str, list[int]] = {}
    for run in mod_runs:
        for module, (self_us, _cum) in run.items():
            every.setdefault(module, []).append(self_us)
    medians = {m: int(statistics.median(v)) for m, v in every.items()}
    extra = {m: us for m, us in medians.items() if m not in base_names}
    by_package: dict[str, int] = {}
    for module, us in medians.items():
        package = module.strip().split(".")[0]
        by_package[package] = by_package.get(package, 0) + us
    handler = BREAKDOWN[name]
    handler_self = [r[handler][0] for r in mod_runs if handler in r]
    return {
        "modules": len(medians),
        "self_us_total": sum(medians.values()),
        "by_top_package_us": dict(sorted(by_package.items(), key=lambda kv: -kv[1])[:top]),
        "top_modules_self_us": [{"module": m, "self_us": us} for m, us in
                                sorted(medians.items(), key=lambda kv: -kv[1])[:top]],
        "boto3_or_botocore_imported": any(m.split(".")[0] in ("boto3", "botocore") for m in medians),
        "extra_modules": len(extra),
        "extra_self_us_total": sum(extra.values()),
        "handler_module_self_us": int(statistics.median(handler_self)) if handler_self else None,
        "note": "self_us of the handler module itself includes the client it creates at import",
    }


def measure(runs: int = 20, breakdown: bool = True) -> dict[str, Any]:
    versions = install_node_original()
    names = [*VARIANTS, NODE]
    for name in names:  # untimed: bytecode caches, disk cache
        _run(name)
    samples: dict[str, list[float]] = {n: [] for n in names}
    for i in range(runs):
        order = names[i % len(names):] + names[: i % len(names)]
        for name in order:
            samples[name].append(_run(name))
    result: dict[str, Any] = {
        "runs": runs,
        "statements": {n: {"statement": s, "environment": k} for n, (s, k) in VARIANTS.items()},
        "node_original": {"script": "benchmarks/node/init.js", **versions},
        "seconds": {n: summary(s, digits=4) for n, s in samples.items()},
        "ratios": {},
    }
    ratios = result["ratios"]
    for name in ("status", "authorizer_as_bundled", "authorizer", "status_boto3", "webhook", "webhook_ready",
                 "status_as_deployed", "authorizer_as_deployed"):
        ratios[name] = ratio(samples[name], samples[BASELINE])
    ratios["status_vs_node_original"] = ratio(samples["status"], samples[NODE])
    ratios["authorizer_as_bundled_vs_node_original"] = ratio(samples["authorizer_as_bundled"], samples[NODE])
    ratios["status_as_deployed_vs_node_original"] = ratio(samples["status_as_deployed"], samples[NODE])
    ratios["authorizer_as_deployed_vs_node_original"] = ratio(samples["authorizer_as_deployed"], samples[NODE])
    ratios["status_as_deployed_vs_cached_bytecode"] = ratio(samples["status_as_deployed"], samples["status"])
    ratios["authorizer_as_bundled_vs_secretsmanager_client"] = ratio(
        samples["authorizer_as_bundled"], samples["baseline_secretsmanager"])
    ratios["node_original_vs_baseline"] = ratio(samples[NODE], samples[BASELINE])
    result["goal"] = GOAL
    result["node_goal"] = NODE_GOAL
    # The goals are checked on the handlers as Lambda loads them (source only, compiled each cold start).
    result["cold_import_ratio"] = ratios["status_as_deployed"]["ratio_of_medians"]
    result["cold_import_vs_node_ratio"] = ratios["status_as_deployed_vs_node_original"]["ratio_of_medians"]
    result["authorizer_cold_import_ratio"] = ratios["authorizer_as_deployed"]["ratio_of_medians"]
    result["authorizer_vs_node_ratio"] = ratios["authorizer_as_deployed_vs_node_original"]["ratio_of_medians"]
    result["cold_import_ratio_cached_bytecode"] = ratios["status"]["ratio_of_medians"]
    result["met"] = (result["cold_import_ratio"] <= GOAL and result["cold_import_vs_node_ratio"] <= NODE_GOAL
                     and result["authorizer_cold_import_ratio"] <= GOAL
                     and result["authorizer_vs_node_ratio"] <= NODE_GOAL)
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
        print(f"ratio {name:48s} {r['ratio_of_medians']:.3f} (pairs: median {r['pair_ratio_median']}, "
              f"IQR {r['pair_ratio_p25']}-{r['pair_ratio_p75']})")
    print(f"goals: status <= {GOAL}x boto3 and <= {NODE_GOAL}x Node: {result['met']}")
    for name, b in result.get("breakdown", {}).items():
        print(f"{name}: {b['modules']} modules, {b['self_us_total']} us self, boto3 imported: "
              f"{b['boto3_or_botocore_imported']}; top: {b['top_modules_self_us'][:6]}")


if __name__ == "__main__":
    main()
