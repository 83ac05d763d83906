"""CloudFormation intrinsic functions, resolved in one place (as AWS SAM CLI's intrinsic resolver).

``Ref``, ``Fn::GetAtt``, ``Fn::Join``, ``Fn::Sub``, ``Fn::Select``, ``Fn::Split``, ``Fn::If`` with
the template's ``Conditions`` (``Fn::Equals``/``Not``/``And``/``Or``), ``Fn::FindInMap``,
``Fn::Base64`` and ``Fn::GetAZs``; pseudo parameters; ``Parameters`` from overrides or their
defaults. What a resource's ``Ref`` or attribute is comes from the ``attributes`` callback, which
local mode's provisioner answers (creating the resource in moto first when it has to), so the
order in which values are needed decides the order in which resources are made.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

#: ``AWS::NoValue``: drops the property (or list item) it stands in.
NO_VALUE = object()
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class TemplateError(ValueError):
    """The template uses something local mode cannot resolve; the message names it."""


class IntrinsicResolver:
    """Resolves a template value. ``attributes(logical_id, attribute)`` returns a resource's
    ``Ref`` value (``attribute`` is ``None``) or its ``Fn::GetAtt`` attribute."""

    def __init__(
        self,
        template: Mapping[str, Any],
        *,
        attributes: Callable[[str, str | None], Any],
        pseudo: Mapping[str, Any],
        parameters: Mapping[str, str] | None = None,
    ) -> None:
        self.template = template
        self._attributes = attributes
        self._pseudo = dict(pseudo)
        self._parameters = self._parameter_values(dict(parameters or {}))
        self._conditions: dict[str, bool] = {}

    # ------------------------------------------------------------------------------- parameters
    def _parameter_values(self, overrides: dict[str, str]) -> dict[str, Any]:
        declared = self.template.get("Parameters") or {}
        unknown = sorted(set(overrides) - set(declared))
        if unknown:
            raise TemplateError(f"--parameter names {', '.join(unknown)}, which the template does not declare")
        values: dict[str, Any] = {}
        for name, spec in declared.items():
            if name in overrides:
                value: Any = overrides[name]
            elif "Default" in spec:
                value = spec["Default"]
            else:
                continue  # only an error if something uses it
            kind = str(spec.get("Type", "String"))
            if kind.startswith("AWS::SSM::Parameter::Value") and name not in overrides:
                continue  # an SSM lookup at deploy time: unknown here unless overridden
            if kind.startswith("List<") or kind == "CommaDelimitedList":
                value = [part.strip() for part in str(value).split(",")]
            values[name] = value
        return values

    def parameter(self, name: str) -> Any:
        if name not in self._parameters:
            declared = self.template.get("Parameters") or {}
            if name in declared:
                raise TemplateError(
                    f"parameter {name!r} has no value (no Default, or an SSM lookup): pass --parameter {name}=VALUE"
                )
            raise TemplateError(f"Ref to {name!r}, which is neither a resource nor a parameter of the template")
        return self._parameters[name]

    # ------------------------------------------------------------------------------- conditions
    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            conditions = self.template.get("Conditions") or {}
            if name not in conditions:
                raise TemplateError(f"condition {name!r} is not defined in the template")
            self._conditions[name] = bool(self._condition_value(conditions[name]))
        return self._conditions[name]

    def _condition_value(self, node: Any) -> bool:
        if isinstance(node, Mapping) and len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Fn::Equals":
                left, right = (self.resolve(v) for v in arg)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self._condition_value(arg[0])
            if key == "Fn::And":
                return all(self._condition_value(v) for v in arg)
            if key == "Fn::Or":
                return any(self._condition_value(v) for v in arg)
            if key == "Condition":
                return self.condition(arg)
        return bool(self.resolve(node))

    # ------------------------------------------------------------------------------- resolution
    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            items = [self.resolve(v) for v in node]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(node, Mapping):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            function = _FUNCTIONS.get(key)
            if function is not None:
                return function(self, arg)
            if key.startswith("Fn::"):
                raise TemplateError(f"local mode cannot resolve {key}")
        resolved = {k: self.resolve(v) for k, v in node.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name.startswith("AWS::"):
            if name not in self._pseudo:
                raise TemplateError(f"local mode has no value for the pseudo parameter {name}")
            return self._pseudo[name]
        if name in (self.template.get("Resources") or {}):
            return self._attributes(name, None)
        return self.parameter(name)

    def get_att(self, logical_id: str, attribute: str) -> Any:
        if logical_id not in (self.template.get("Resources") or {}):
            raise TemplateError(f"Fn::GetAtt names {logical_id!r}, which is not a resource of the template")
        return self._attributes(logical_id, attribute)

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, str):
            text, variables = arg, {}
        else:
            text, variables = arg[0], {k: self.resolve(v) for k, v in (arg[1] or {}).items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name in variables:
                value = variables[name]
            elif "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                value = self.get_att(logical_id, attribute)
            else:
                value = self.ref(name)
            if isinstance(value, list | dict):
                # CloudFormation: "Fn::Sub" variables must resolve to strings (a list parameter does not)
                raise TemplateError(f"Fn::Sub: ${{{name}}} is a list or map, not a string")
            return _text(value)

        # ${!Literal} stays as ${Literal}
        return _SUB_VARIABLE.sub(replace, text).replace("${!", "${")


def _join(resolver: IntrinsicResolver, arg: Any) -> str:
    delimiter, values = arg
    parts = resolver.resolve(values)
    if not isinstance(parts, list):
        raise TemplateError("Fn::Join needs a list of values")
    return str(delimiter).join(_text(part) for part in parts)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _select(resolver: IntrinsicResolver, arg: Any) -> Any:
    index, values = resolver.resolve(arg[0]), resolver.resolve(arg[1])
    try:
        position = int(index)
        if position < 0 or not isinstance(values, list):  # CloudFormation counts from 0 only
            raise IndexError(position)
        return values[position]
    except (IndexError, ValueError, TypeError):
        raise TemplateError(f"Fn::Select index {index!r} is out of range") from None


def _split(resolver: IntrinsicResolver, arg: Any) -> list[str]:
    delimiter, source = arg
    return str(resolver.resolve(source)).split(str(delimiter))


def _get_att(resolver: IntrinsicResolver, arg: Any) -> Any:
    if isinstance(arg, str):
        logical_id, attribute = arg.split(".", 1)
    else:
        logical_id, attribute = arg[0], resolver.resolve(arg[1])
    return resolver.get_att(logical_id, str(attribute))


def _if(resolver: IntrinsicResolver, arg: Any) -> Any:
    name, when_true, when_false = arg
    return resolver.resolve(when_true if resolver.condition(name) else when_false)


def _find_in_map(resolver: IntrinsicResolver, arg: Any) -> Any:
    name, first, second = (resolver.resolve(v) for v in arg[:3])
    try:
        return (resolver.template.get("Mappings") or {})[name][first][second]
    except KeyError:
        raise TemplateError(f"Fn::FindInMap: {name}/{first}/{second} is not in the template's Mappings") from None


def _import_value(_resolver: IntrinsicResolver, arg: Any) -> Any:
    raise TemplateError(f"Fn::ImportValue {arg!r}: another stack's export is not part of this template")


_FUNCTIONS: dict[str, Callable[[IntrinsicResolver, Any], Any]] = {
    "Ref": lambda r, arg: r.ref(arg),
    "Fn::GetAtt": _get_att,
    "Fn::Join": _join,
    "Fn::Sub": lambda r, arg: r._sub(arg),
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::If": _if,
    "Fn::FindInMap": _find_in_map,
    "Fn::Base64": lambda r, arg: base64.b64encode(str(r.resolve(arg)).encode()).decode(),
    "Fn::GetAZs": lambda r, _arg: [f"{r.ref('AWS::Region')}{zone}" for zone in "abc"],
    "Fn::ImportValue": _import_value,
    "Condition": lambda r, arg: r.condition(arg),
}


def pseudo_parameters(*, region: str, account_id: str, stack_name: str) -> dict[str, str]:
    partition = "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"
    return {
        "AWS::Region": region,
        "AWS::AccountId": account_id,
        "AWS::Partition": partition,
        "AWS::URLSuffix": "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com",
        "AWS::StackName": stack_name,
        "AWS::StackId": f"arn:{partition}:cloudformation:{region}:{account_id}:stack/{stack_name}/local",
        "AWS::NotificationARNs": [],  # type: ignore[dict-item]
    }
