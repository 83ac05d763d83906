"""Reading a synthesized cloud assembly (``cdk.out``) and finding the ``TransflowStatus`` in it.

The construct marks each resource it creates with ``Metadata`` ``transflow:instance`` and
``transflow:part`` (CONTRACTS section B); local mode finds an instance through those keys only,
never through logical ids or ``aws:cdk:path`` (users may turn path metadata off).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
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
    #: Parameter values a parent stack passes to this nested stack (literal values only).
    parameters: dict[str, str] = field(default_factory=dict)
    #: The parent stack's name, for a nested stack.
    parent: str | None = None


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


def _json_file(path: Path, what: str) -> Any:
    """A JSON file of the assembly, or ``AssemblyError`` naming the file and what is wrong with it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AssemblyError(f"{path}: the {what} is missing (run `cdk synth` again)") from None
    except OSError as exc:
        raise AssemblyError(f"{path}: cannot read the {what}: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise AssemblyError(f"{path}: the {what} is not valid JSON ({exc})") from None


def _object(value: Any, path: Path, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise AssemblyError(f"{path}: the {what} is not a JSON object")
    return value


def _template(path: Path) -> dict[str, Any]:
    template = _object(_json_file(path, "stack template"), path, "stack template")
    if not isinstance(template.get("Resources") or {}, dict):
        raise AssemblyError(f"{path}: the template's Resources is not an object")
    return template


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def _file_assets(directory: Path, manifest: dict[str, Any]) -> dict[str, Path]:
    """objectKey -> local file of every file asset of the assembly (nested stack templates among them)."""
    found: dict[str, Path] = {}
    for artifact in (manifest.get("artifacts") or {}).values():
        if not isinstance(artifact, dict) or artifact.get("type") != "cdk:asset-manifest":
            continue
        name = (artifact.get("properties") or {}).get("file")
        if not name:
            continue
        assets = _json_file(directory / name, "asset manifest")
        for asset in ((assets.get("files") if isinstance(assets, dict) else None) or {}).values():
            source = (asset.get("source") or {}) if isinstance(asset, dict) else {}
            if source.get("packaging", "file") != "file" or not source.get("path"):
                continue
            for destination in (asset.get("destinations") or {}).values():
                if isinstance(destination, dict) and destination.get("objectKey"):
                    found[str(destination["objectKey"])] = directory / source["path"]
    return found


def _nested(directory: Path, parent: StackTemplate, assets: dict[str, Path]) -> list[StackTemplate]:
    """The nested stacks (``AWS::CloudFormation::Stack``) whose templates the assembly holds."""
    stacks: list[StackTemplate] = []
    for logical_id, resource in (parent.template.get("Resources") or {}).items():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::CloudFormation::Stack":
            continue
        properties = resource.get("Properties") or {}
        path = (resource.get("Metadata") or {}).get("aws:asset:path")
        file = directory / path if path else None
        if file is None:
            keys = [text.rsplit("/", 1)[-1] for text in _strings(properties.get("TemplateURL"))]
            file = next((assets[key] for key in keys if key in assets), None)
        if file is None:
            continue  # a nested stack from elsewhere: named as one of the stack's resources
        name = file.name.removesuffix(".nested.template.json").removesuffix(".template.json")
        passed = {k: v for k, v in (properties.get("Parameters") or {}).items() if isinstance(v, str)}
        child = StackTemplate(
            name=name,
            template=_template(file),
            account=parent.account,
            region=parent.region,
            parameters=passed,
            parent=f"{parent.name} ({logical_id})",
        )
        stacks.append(child)
        stacks.extend(_nested(directory, child, assets))
    return stacks


def _stacks(directory: Path) -> list[StackTemplate]:
    manifest_path = directory / "manifest.json"
    if not manifest_path.is_file():
        raise AssemblyError(f"{directory} is not a cloud assembly (no manifest.json): pass the cdk.out of `cdk synth`")
    manifest = _object(_json_file(manifest_path, "cloud assembly manifest"), manifest_path, "manifest")
    artifacts = manifest.get("artifacts") or {}
    if not isinstance(artifacts, dict):
        raise AssemblyError(f"{manifest_path}: the manifest's artifacts is not an object")
    assets = _file_assets(directory, manifest)
    stacks: list[StackTemplate] = []
    for artifact_id, artifact in artifacts.items():
        if not isinstance(artifact, dict):
            continue
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
        stack = StackTemplate(
            name=properties.get("stackName") or artifact_id,
            template=_template(template_file),
            account=None if account in (None, "unknown-account") else account,
            region=None if region in (None, "unknown-region") else region,
        )
        stacks.append(stack)
        stacks.extend(_nested(directory, stack, assets))
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


def _label(stack: StackTemplate) -> str:
    return f"{stack.name} (nested in {stack.parent})" if stack.parent else stack.name


def load(app: str | Path, *, stack: str | None = None, instance: str | None = None) -> tuple[StackTemplate, Instance]:
    """The stack and ``TransflowStatus`` instance to run, or ``AssemblyError`` naming the choices."""
    directory = Path(app)
    stacks = _stacks(directory)
    if stack is not None:
        chosen = [s for s in stacks if s.name == stack]
        if not chosen:
            names = ", ".join(_label(s) for s in stacks) or "none"
            raise AssemblyError(f"--stack {stack}: no such stack in {directory} (stacks: {names})")
    else:
        chosen = [s for s in stacks if instances(s.template)]
        if not chosen:
            names = ", ".join(_label(s) for s in stacks) or "none"
            raise AssemblyError(
                f"no stack in {directory} contains a TransflowStatus (no resource has {PART_KEY}; stacks: {names})"
            )
        if len(chosen) > 1:
            names = ", ".join(_label(s) for s in chosen)
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
