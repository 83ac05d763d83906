#!/usr/bin/env python3
"""``app.py``'s stack synthesized without the cdk-nag pass (and without loading cdk-nag at all).

Used by ``synth.py`` to tell the construct's own synth cost from the AwsSolutions checks'.
``app.py`` imports ``cdk_nag`` at module level; a placeholder module stands in for it so its
jsii assembly is never loaded (the checks are never run here, so nothing calls it).

    CDK_OUTDIR=/tmp/out CDK_CONTEXT_JSON='...' .venv/bin/python benchmarks/app_without_nag.py
"""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
_placeholder = types.ModuleType("cdk_nag")
_placeholder.AwsSolutionsChecks = None  # type: ignore[attr-defined]
sys.modules.setdefault("cdk_nag", _placeholder)

import aws_cdk as cdk  # noqa: E402

from app import ExampleStack  # noqa: E402


def main() -> None:
    app = cdk.App(outdir=os.environ.get("CDK_OUTDIR"))
    ExampleStack(app, "TransflowExample")
    app.synth()


if __name__ == "__main__":
    main()
