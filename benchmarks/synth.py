"""Synth time of ``app.py`` with the Lambda bundle cached, next to a plain CDK app; the asset's zip size.

Each sample is one ``python app.py`` (what ``cdk synth`` runs, without the CLI's own start-up)
in a fresh process with ``CDK_OUTDIR`` pointing at a temporary directory and the context of
``cdk.json`` in ``CDK_CONTEXT_JSON``, exactly as the CLI passes it. The temporary directory is
seeded with the asset already in ``cdk.out`` and one untimed synth runs first, so every timed
run finds the bundle cached (a run that bundles anyway is flagged). The variants alternate:

* ``app``: ``app.py`` as is (TransflowStatus + cdk-nag AwsSolutions checks);
* ``app_without_nag``: the same stack without the cdk-nag pass (``benchmarks/app_without_nag.py``),
  separating the construct's cost from the checks';
* ``plain``: ``benchmarks/plain_app.py``, the same resource types written directly;
* ``empty``: an app with one empty stack: the fixed cost of Python + jsii + aws-cdk-lib.

``bundle_zip_mb``: the built asset directory zipped with deflate at zlib's default level (what
the CDK CLI's zip does), in MB (10^6 bytes); the unzipped size is given next to it.

    .venv/bin/python benchmarks/synth.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from _common import PYTHON, ROOT, child_env, ratio, summary

VARIANTS = {
    "app": [PYTHON, str(ROOT / "app.py")],
    "app_without_nag": [PYTHON, str(ROOT / "benchmarks" / "app_without_nag.py")],
    "plain": [PYTHON, str(ROOT / "benchmarks" / "plain_app.py")],
    # The floor every CDK app pays: Python + jsii + the aws-cdk-lib assembly, one empty stack.
    "empty": [PYTHON, "-c", "import os, aws_cdk as cdk; app = cdk.App(outdir=os.environ['CDK_OUTDIR']); "
              "cdk.Stack(app, 'Empty'); app.synth()"],
}
LAMBDA_ZIP_LIMIT_MB = 50
LAMBDA_UNZIPPED_LIMIT_MB = 250


def _context_json() -> str:
    return json.dumps(json.loads((ROOT / "cdk.json").read_text())["context"])


def _synth(command: list[str], outdir: Path, context: str) -> tuple[float, bool]:
    """(seconds, bundled) of one synth into ``outdir``."""
    env = child_env(CDK_OUTDIR=str(outdir), CDK_CONTEXT_JSON=context,
                    CDK_DISABLE_VERSION_CHECK="true", CDK_DISABLE_CLI_TELEMETRY="true")
    started = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=900, check=False)
    elapsed = time.perf_counter() - started
    if out.returncode != 0:
        raise RuntimeError(f"synth of {command[-1]} failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
    return elapsed, "Bundling asset" in out.stderr


def _asset_dirs(outdir: Path) -> list[Path]:
    """The zip-packaged asset directories the synthesized app references."""
    dirs = []
    for manifest in outdir.glob("*.assets.json"):
        for asset in json.loads(manifest.read_text()).get("files", {}).values():
            source = asset.get("source", {})
            if source.get("packaging") == "zip" and source.get("path"):
                dirs.append(outdir / source["path"])
    return dirs


def zip_size(directory: Path) -> tuple[int, int, int]:
    """(zipped bytes, unzipped bytes, files) of ``directory`` deflated at zlib's default level."""
    raw = files = 0
    with tempfile.TemporaryFile() as handle:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
            for path in sorted(directory.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(directory).as_posix())
                    raw += path.stat().st_size
                    files += 1
        handle.seek(0, os.SEEK_END)
        return handle.tell(), raw, files


def _largest_parts(directory: Path, top: int = 5) -> list[dict[str, Any]]:
    sizes: dict[str, int] = {}
    for path in directory.rglob("*"):
        if path.is_file():
            part = path.relative_to(directory).parts[0]
            sizes[part] = sizes.get(part, 0) + path.stat().st_size
    ranked = sorted(sizes.items(), key=lambda kv: -kv[1])[:top]
    return [{"path": name, "mb": round(size / 1e6, 2)} for name, size in ranked]


def measure(runs: int = 3, quick: bool = False) -> dict[str, Any]:
    """``quick``: no untimed warm-up, only ``app`` and ``plain`` (a run that bundles is flagged)."""
    context = _context_json()
    variants = {k: v for k, v in VARIANTS.items() if not quick or k in ("app", "plain")}
    with tempfile.TemporaryDirectory(prefix="bench-synth-") as tmp:
        outdirs = {name: Path(tmp, name) for name in variants}
        outdirs["app"].mkdir()
        for cached in (ROOT / "cdk.out").glob("asset.*"):  # the bundle `make synth` already built
            if cached.is_dir():
                shutil.copytree(cached, outdirs["app"] / cached.name, symlinks=True)
        # Untimed: builds the bundle if the runtime changed since `make synth`, warms the disk cache.
        warmup = (None, False) if quick else _synth(VARIANTS["app"], outdirs["app"], context)
        if "app_without_nag" in variants:
            outdirs["app_without_nag"].mkdir()
            for built in _asset_dirs(outdirs["app"]):
                shutil.copytree(built, outdirs["app_without_nag"] / built.name, symlinks=True)
        samples: dict[str, list[float]] = {name: [] for name in variants}
        bundled_in_timed_run = False
        names = list(variants)
        for i in range(runs):
            for name in names[i % len(names):] + names[: i % len(names)]:
                seconds, bundled = _synth(variants[name], outdirs[name], context)
                samples[name].append(seconds)
                bundled_in_timed_run |= bundled
        assets = _asset_dirs(outdirs["app"])
        if not assets:
            raise RuntimeError("app.py synthesized no zip asset")
        zipped, raw, files = zip_size(assets[0])
        parts = _largest_parts(assets[0])
        template = json.loads(next(outdirs["app"].glob("*.template.json")).read_text())
    memory = sorted({r["Properties"].get("MemorySize") for r in template["Resources"].values()
                     if r["Type"] == "AWS::Lambda::Function"} - {None})
    archs = sorted({a for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"
                    for a in r["Properties"].get("Architectures", ["x86_64"])})
    app_median = summary(samples["app"])["median"]
    return {
        "runs": runs,
        "synth_seconds": app_median,
        "seconds": {name: summary(s, digits=2) for name, s in samples.items()},
        "ratio_app_over_plain": ratio(samples["app"], samples["plain"]),
        "ratio_app_without_nag_over_plain": ratio(samples["app_without_nag"], samples["plain"])
        if "app_without_nag" in samples else None,
        "first_app_synth_seconds": None if warmup[0] is None else round(warmup[0], 2),
        "first_app_synth_bundled": warmup[1],
        "bundle_cached_in_timed_runs": not bundled_in_timed_run,
        "bundle_zip_mb": round(zipped / 1e6, 2),
        "bundle_unzipped_mb": round(raw / 1e6, 2),
        "bundle_files": files,
        "bundle_largest_parts": parts,
        "lambda_limits_mb": {"zipped": LAMBDA_ZIP_LIMIT_MB, "unzipped": LAMBDA_UNZIPPED_LIMIT_MB},
        "function_memory_mb": memory,
        "function_architectures": archs,
        "note": "python app.py in a fresh process; `cdk synth` adds the CLI's own start-up on top",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="no warm-up; only app.py and the plain app")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.runs, args.quick)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for name, stats in result["seconds"].items():
        print(f"{name:16s} median {stats['median']:6.2f} s  (IQR {stats['iqr']:.2f}, n={stats['n']})")
    print(f"app / plain = {result['ratio_app_over_plain']['ratio_of_medians']}; without cdk-nag: "
          f"{result['ratio_app_without_nag_over_plain']}")
    print(f"bundle: {result['bundle_zip_mb']} MB zipped, {result['bundle_unzipped_mb']} MB unzipped; "
          f"largest: {result['bundle_largest_parts']}")


if __name__ == "__main__":
    main()
