"""The built-in default stack: what ``transflow-status local`` runs without ``--app``.

A ``TransflowStatus`` with shared-secret (HS256) auth, so ``--jwt-secret`` and its tokens keep
their meaning, one webhook target per ``--webhook TEMPLATE=URL`` (``*``: the default target), each
with a signing secret, and per-assembly ``notify_url`` deliveries allowed with their own secret.
It is synthesized in this process with asset bundling skipped (the handlers run from the
installed package) and then run like any other template. Needs the CDK side of the package
(aws-cdk-lib), which ``transflow-constructs`` installs.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from .assembly import Instance, StackTemplate, choose_instance

STACK_NAME = "TransflowLocal"
#: Stand-in URLs in the template; local mode points each target at its --webhook URL.
PLACEHOLDER_URL = "https://webhook.local.invalid/"


def _cache_key(webhook_templates: list[str], event_bus: str | None = None) -> str:
    """Changes with anything that could change the template: the sources of both packages, the
    installed aws-cdk-lib, and the targets asked for."""
    import importlib.metadata
    import importlib.util

    digest = hashlib.sha256(json.dumps([sorted(webhook_templates), event_bus]).encode())
    digest.update(importlib.metadata.version("aws-cdk-lib").encode())
    for package in ("transflow_constructs", "transflow_runtime"):
        spec = importlib.util.find_spec(package)  # located, not imported (aws-cdk-lib costs seconds)
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError(f"the built-in default stack needs the {package} package")
        root = Path(next(iter(spec.submodule_search_locations))).resolve()
        for path in sorted(root.rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:32]


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "transflow-local"


def synthesize(
    webhook_templates: list[str], event_bus: str | None = None
) -> tuple[StackTemplate, Instance, float | None]:
    """The default stack's template: synthesized once per set of targets and package version, then
    read from the cache (synthesis costs seconds of jsii calls; the result never differs). With
    ``event_bus`` (``--event-bus NAME``) the stack has an EventBridge bus of that name for the
    assembly events (``"default"``: the account's default bus). The third value is the seconds
    synthesis took (``None`` when read from the cache)."""
    cached = _cache_dir() / f"default-{_cache_key(webhook_templates, event_bus)}.template.json"
    took = None
    try:
        template = json.loads(cached.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        started = time.monotonic()
        template = _synthesize(webhook_templates, event_bus)
        took = round(time.monotonic() - started, 2)
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(template), encoding="utf-8")
            os.replace(tmp, cached)
        except OSError:
            pass  # no cache this time
    stack_template = StackTemplate(name=STACK_NAME, template=template)
    return stack_template, choose_instance(stack_template, None), took


def _synthesize(webhook_templates: list[str], event_bus: str | None = None) -> dict[str, Any]:
    # jsii's Node process would print a box of "!!" lines about the Node version on every start.
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
    # The CDK code lives with the construct package: the runtime never imports aws-cdk-lib.
    from transflow_constructs.local_stack import default_local_template

    return default_local_template(STACK_NAME, webhook_templates, PLACEHOLDER_URL, event_bus)
