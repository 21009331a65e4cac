"""A small CloudFormation evaluator: a template plus parameter values gives what AWS would build.

It is the tests' independent reading of a parameterised template (the launch-stack template):
parameters are checked against their constraints (`parameter_problems`), the ``Rules``
evaluated, the ``Conditions`` decided, and every intrinsic the templates use resolved, with
``AWS::NoValue`` removing the key or list element it stands in. Resources keep their
properties; ``Fn::GetAtt`` becomes ``<Logical.Attribute>``. It shares no code with the stacks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::URLSuffix": "amazonaws.com",
}
_NO_VALUE = object()


class TemplateError(ValueError):
    """The template or the parameters are unusable (what CloudFormation would refuse)."""


@dataclass(frozen=True)
class Evaluated:
    """A template evaluated for one set of parameter values."""

    resources: dict[str, dict[str, Any]]
    outputs: dict[str, Any]
    conditions: dict[str, bool]

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        """The resources of `resource_type`, by logical ID."""
        return {k: v for k, v in self.resources.items() if v["Type"] == resource_type}


def parameter_problems(template: Mapping[str, Any], values: Mapping[str, str]) -> list[str]:
    """What CloudFormation would say about `values` for the template's parameters."""
    problems = []
    declared = template.get("Parameters", {})
    for name in values:
        if name not in declared:
            problems.append(f"{name}: not a parameter of the template")
    for name, spec in declared.items():
        if name not in values and "Default" not in spec:
            problems.append(f"{name}: required")
            continue
        value = str(values.get(name, spec.get("Default", "")))
        why = spec.get("ConstraintDescription", "does not match")
        if "AllowedValues" in spec and value not in spec["AllowedValues"]:
            problems.append(f"{name}: not one of {spec['AllowedValues']}")
        if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
            problems.append(f"{name}: {why}")
        if len(value) < int(spec.get("MinLength", 0)):
            problems.append(f"{name}: shorter than {spec['MinLength']}: {why}")
        if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
            problems.append(f"{name}: longer than {spec['MaxLength']}: {why}")
    return problems


def evaluate(
    template: Mapping[str, Any], values: Mapping[str, str], stack_name: str = "LaunchTest"
) -> Evaluated:
    """`template` as CloudFormation would build it with `values` (TemplateError if refused)."""
    problems = parameter_problems(template, values)
    if problems:
        raise TemplateError("; ".join(problems))
    params = {
        name: str(values.get(name, spec.get("Default", "")))
        for name, spec in template.get("Parameters", {}).items()
    }
    refs: dict[str, Any] = {**PSEUDO, "AWS::StackName": stack_name, **params}
    ev = _Evaluator(template, refs)
    for rule_name, rule in template.get("Rules", {}).items():
        if "RuleCondition" in rule and not ev.condition(rule["RuleCondition"]):
            continue
        for assertion in rule.get("Assertions", []):
            if not ev.condition(assertion["Assert"]):
                raise TemplateError(f"rule {rule_name}: {assertion.get('AssertDescription')}")
    conditions = {name: ev.named_condition(name) for name in template.get("Conditions", {})}
    resources = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if "Condition" in resource and not conditions[resource["Condition"]]:
            continue
        resources[logical_id] = {
            "Type": resource["Type"],
            "Properties": ev.value(resource.get("Properties", {})),
        }
    outputs = {
        key: ev.value(output["Value"])
        for key, output in template.get("Outputs", {}).items()
        if "Condition" not in output or conditions[output["Condition"]]
    }
    return Evaluated(resources=resources, outputs=outputs, conditions=conditions)


class _Evaluator:
    def __init__(self, template: Mapping[str, Any], refs: dict[str, Any]) -> None:
        self.template = template
        self.refs = refs
        self.decided: dict[str, bool] = {}

    def named_condition(self, name: str) -> bool:
        if name not in self.decided:
            self.decided[name] = self.condition(self.template["Conditions"][name])
        return self.decided[name]

    def condition(self, expression: Any) -> bool:
        (function, args), *rest = expression.items()
        assert not rest, expression
        if function == "Condition":
            return self.named_condition(args)
        if function == "Fn::Equals":
            left, right = (self.value(a) for a in args)
            return bool(left == right)
        if function == "Fn::Not":
            return not self.condition(args[0])
        if function == "Fn::And":
            return all(self.condition(a) for a in args)
        if function == "Fn::Or":
            return any(self.condition(a) for a in args)
        if function == "Fn::Contains":  # rules only
            values, value = (self.value(a) for a in args)
            return value in values
        raise TemplateError(f"unsupported condition function {function}")

    def value(self, node: Any) -> Any:
        result = self._value(node)
        if result is _NO_VALUE:
            raise TemplateError("AWS::NoValue outside a property or list element")
        return result

    def _value(self, node: Any) -> Any:
        if isinstance(node, list):
            items = [self._value(n) for n in node]
            return [i for i in items if i is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, args),) = node.items()
            function = getattr(self, "_fn_" + key.replace("Fn::", "").lower(), None)
            if key == "Ref" or key.startswith("Fn::"):
                if function is None:
                    raise TemplateError(f"unsupported intrinsic {key}")
                return function(args)
        result = {}
        for key, child in node.items():
            resolved = self._value(child)
            if resolved is not _NO_VALUE:
                result[key] = resolved
        return result

    def _fn_ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.refs:
            return self.refs[name]
        if name in self.template.get("Resources", {}):
            return f"<{name}>"
        raise TemplateError(f"Ref to unknown {name}")

    def _fn_getatt(self, args: list[str] | str) -> str:
        parts = args.split(".", 1) if isinstance(args, str) else args
        return f"<{parts[0]}.{parts[1]}>"

    def _fn_if(self, args: list[Any]) -> Any:
        name, when_true, when_false = args
        return self._value(when_true if self.named_condition(name) else when_false)

    def _fn_join(self, args: list[Any]) -> str:
        delimiter, parts = args
        values = self.value(parts)
        if not isinstance(values, list):
            raise TemplateError(f"Fn::Join of {values!r}")
        return str(delimiter).join(str(v) for v in values)

    def _fn_split(self, args: list[Any]) -> list[str]:
        delimiter, source = args
        return str(self.value(source)).split(delimiter)

    def _fn_select(self, args: list[Any]) -> Any:
        index, values = int(self.value(args[0])), self.value(args[1])
        if not 0 <= index < len(values):
            raise TemplateError(f"Fn::Select index {index} out of {len(values)} values")
        return values[index]

    def _fn_sub(self, args: Any) -> str:
        text, variables = (args, {}) if isinstance(args, str) else args
        names = {k: self.value(v) for k, v in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in names:
                return str(names[name])
            if "." in name:
                return self._fn_getatt(name)
            return str(self._fn_ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def _fn_findinmap(self, args: list[Any]) -> Any:
        mapping, first, second = (self.value(a) for a in args)
        try:
            return self.template["Mappings"][mapping][str(first)][str(second)]
        except KeyError as exc:
            raise TemplateError(f"Fn::FindInMap {mapping}/{first}/{second}: no {exc}") from exc


__all__ = ["Evaluated", "TemplateError", "evaluate", "parameter_problems"]
