"""Reading a synthesized cloud assembly (``cdk.out``) and finding the ``TransflowStatus`` in it.

The construct marks each resource it creates with ``Metadata`` ``transflow:instance`` and
``transflow:part`` (CONTRACTS section B); local mode finds an instance through those keys only,
never through logical ids or ``aws:cdk:path`` (users may turn path metadata off).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

INSTANCE_KEY = "transflow:instance"
PART_KEY = "transflow:part"
_ENVIRONMENT = re.compile(r"^aws://(?P<account>[^/]+)/(?P<region>[^/]+)$")


class AssemblyError(ValueError):
    """The assembly or template cannot be run locally; the message says why and what to pass."""


@dataclass
class StackTemplate:
    name: str
    template: dict[str, Any]
    account: str | None = None
    region: str | None = None


@dataclass
class Instance:
    """One ``TransflowStatus`` in a template: its address and ``{part: [logical ids]}``."""

    address: str
    parts: dict[str, list[str]] = field(default_factory=dict)

    def one(self, part: str) -> str | None:
        ids = self.parts.get(part) or []
        if len(ids) > 1:
            raise AssemblyError(f"instance {self.address} has {len(ids)} resources marked {part!r}; expected one")
        return ids[0] if ids else None

    def required(self, part: str) -> str:
        found = self.one(part)
        if found is None:
            raise AssemblyError(f"instance {self.address} has no resource marked {PART_KEY}={part!r}")
        return found


def _stacks(directory: Path) -> list[StackTemplate]:
    manifest_path = directory / "manifest.json"
    if not manifest_path.is_file():
        raise AssemblyError(f"{directory} is not a cloud assembly (no manifest.json): pass the cdk.out of `cdk synth`")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    stacks: list[StackTemplate] = []
    for artifact_id, artifact in (manifest.get("artifacts") or {}).items():
        kind = artifact.get("type")
        properties = artifact.get("properties") or {}
        if kind == "cdk:cloud-assembly" and properties.get("directoryName"):
            stacks.extend(_stacks(directory / properties["directoryName"]))  # a Stage's nested assembly
        if kind != "aws:cloudformation:stack":
            continue
        template_file = directory / properties.get("templateFile", f"{artifact_id}.template.json")
        match = _ENVIRONMENT.match(str(artifact.get("environment") or ""))
        account = match.group("account") if match else None
        region = match.group("region") if match else None
        stacks.append(
            StackTemplate(
                name=properties.get("stackName") or artifact_id,
                template=json.loads(template_file.read_text(encoding="utf-8")),
                account=None if account in (None, "unknown-account") else account,
                region=None if region in (None, "unknown-region") else region,
            )
        )
    return stacks


def instances(template: dict[str, Any]) -> dict[str, Instance]:
    found: dict[str, Instance] = {}
    for logical_id, resource in (template.get("Resources") or {}).items():
        metadata = resource.get("Metadata") if isinstance(resource, dict) else None
        if not isinstance(metadata, dict) or INSTANCE_KEY not in metadata:
            continue
        instance = found.setdefault(str(metadata[INSTANCE_KEY]), Instance(str(metadata[INSTANCE_KEY])))
        instance.parts.setdefault(str(metadata.get(PART_KEY)), []).append(logical_id)
    return found


def _describe(template: dict[str, Any], instance: Instance) -> str:
    """A human hint for one instance: its address, and its construct path when the metadata has one."""
    for ids in instance.parts.values():
        path = ((template["Resources"][ids[0]].get("Metadata") or {}).get("aws:cdk:path")) or ""
        if path:
            return f"{instance.address} ({path.rsplit('/', 2)[0]})"
    return instance.address


def load(app: str | Path, *, stack: str | None = None, instance: str | None = None) -> tuple[StackTemplate, Instance]:
    """The stack and ``TransflowStatus`` instance to run, or ``AssemblyError`` naming the choices."""
    directory = Path(app)
    stacks = _stacks(directory)
    if stack is not None:
        chosen = [s for s in stacks if s.name == stack]
        if not chosen:
            names = ", ".join(s.name for s in stacks) or "none"
            raise AssemblyError(f"--stack {stack}: no such stack in {directory} (stacks: {names})")
    else:
        chosen = [s for s in stacks if instances(s.template)]
        if not chosen:
            raise AssemblyError(f"no stack in {directory} contains a TransflowStatus (no resource has {PART_KEY})")
        if len(chosen) > 1:
            names = ", ".join(s.name for s in chosen)
            raise AssemblyError(f"several stacks contain a TransflowStatus ({names}): choose one with --stack NAME")
    return chosen[0], choose_instance(chosen[0], instance)


def choose_instance(stack: StackTemplate, address: str | None) -> Instance:
    found = instances(stack.template)
    if not found:
        raise AssemblyError(f"stack {stack.name} contains no TransflowStatus (no resource has {PART_KEY})")
    if address is not None:
        matches = [i for a, i in found.items() if a == address or a.startswith(address)]
        if len(matches) != 1:
            listed = "; ".join(_describe(stack.template, i) for i in found.values())
            raise AssemblyError(
                f"--instance {address} matches {len(matches)} of the instances in {stack.name}: {listed}"
            )
        return matches[0]
    if len(found) > 1:
        listed = "; ".join(_describe(stack.template, i) for i in found.values())
        raise AssemblyError(
            f"stack {stack.name} contains {len(found)} TransflowStatus instances ({listed}): "
            "choose one with --instance ADDR"
        )
    return next(iter(found.values()))
