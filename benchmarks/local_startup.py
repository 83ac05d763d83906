#!/usr/bin/env python3
"""Local mode's start-up, as a user starts it (``transflow-status local --port 0 --ready-file F``
in a fresh interpreter), side by side in one run:

* ``app``: app.py's synthesized template (``--app``; synthesized once first, not timed);
* ``default_first``: the built-in default stack with an empty cache (synthesis included);
* ``default_cached``: the built-in default stack again (its template from the cache).

Two figures each: ``startup_seconds`` from the ready file (template read, or synthesis, to ready
file: the figure local mode reports and keeps within 10 s for a template) and ``exec_to_ready``
(from starting the interpreter to the ready file appearing: imports included). Medians over
``--runs`` (interleaved); the default stack's first run needs an empty cache, so each of its runs
gets a new one.

    .venv/bin/python benchmarks/local_startup.py [--runs 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import PYTHON, ROOT, child_env, machine, summary


def _synth_app(outdir: Path) -> Path:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    context["aws:cdk:bundling-stacks"] = []  # local mode runs the installed package, not the asset
    env = child_env(CDK_OUTDIR=str(outdir), CDK_CONTEXT_JSON=json.dumps(context))
    subprocess.run([PYTHON, str(ROOT / "app.py")], env=env, cwd=ROOT, check=True, capture_output=True, timeout=600)
    return outdir


def _start(args: list[str], cache: Path, timeout: float = 600.0) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        ready = Path(tmp) / "ready.json"
        started = time.monotonic()
        process = subprocess.Popen(
            [PYTHON, "-m", "transflow_runtime.cli", "local", "--port", "0", "--ready-file", str(ready), "--quiet",
             *args],
            env=child_env(XDG_CACHE_HOME=str(cache)), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        try:
            while not ready.exists():
                if process.poll() is not None:
                    raise RuntimeError(f"local mode exited with {process.returncode}: {process.stderr.read()[-800:]!r}")
                if time.monotonic() - started > timeout:
                    raise RuntimeError("local mode did not become ready")
                time.sleep(0.02)
            exec_to_ready = time.monotonic() - started
            info = json.loads(ready.read_text())
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    return {"startup_seconds": info["startup_seconds"], "exec_to_ready": round(exec_to_ready, 2),
            "synth_seconds": info.get("synth_seconds")}


def measure(runs: int = 3) -> dict[str, Any]:
    samples: dict[str, list[dict[str, Any]]] = {"app": [], "default_first": [], "default_cached": []}
    with tempfile.TemporaryDirectory() as tmp:
        assembly = _synth_app(Path(tmp) / "cdk.out")
        for run in range(runs):
            cache = Path(tmp) / f"cache-{run}"
            samples["app"].append(_start(["--app", str(assembly)], cache))
            samples["default_first"].append(_start([], cache))
            samples["default_cached"].append(_start([], cache))
    result: dict[str, Any] = {}
    for name, runs_of in samples.items():
        result[name] = {
            "startup_seconds": summary([r["startup_seconds"] for r in runs_of], digits=2),
            "exec_to_ready": summary([r["exec_to_ready"] for r in runs_of], digits=2),
        }
        synths = [r["synth_seconds"] for r in runs_of if r["synth_seconds"]]
        if synths:
            result[name]["synth_seconds"] = summary(synths, digits=2)
    return {"local_startup": result, "machine": machine(), "load_average": os.getloadavg()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.runs)
    if args.json:
        print(json.dumps(result))
        return
    print(f"local mode start-up, median of {args.runs} (load average {result['load_average'][0]:.1f}):")
    print(f"{'':16} {'template read -> ready':>24} {'exec -> ready':>15} {'synthesis':>10}")
    for name, figures in result["local_startup"].items():
        synth = figures.get("synth_seconds", {}).get("median")
        print(f"{name:16} {figures['startup_seconds']['median']:>22} s {figures['exec_to_ready']['median']:>13} s "
              f"{(str(synth) + ' s') if synth else '-':>10}")


if __name__ == "__main__":
    main()
