"""JSON text that CloudFormation assembles at deploy time, from values that may be tokens.

The launch-stack template's structured outputs (``EncordBuckets``, ...) are JSON built from
parameters, as the CDK stack's are built from its configuration (`registration.contract`).
`json_text` turns a Python value whose strings may be tokens into one ``Fn::Join``; the
strings are not escaped (CloudFormation cannot), so the parameters' patterns keep ``"`` and
``\\`` out of them (`stacks.template_parameters`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import CfnCondition, Fn


@dataclass(frozen=True)
class RawJson:
    """A JSON fragment (a token) that `json_text` places as it is."""

    text: str


def json_or_null(given: CfnCondition, value: str) -> RawJson:
    """`value` as a JSON string when `given` holds, else ``null``."""
    return RawJson(
        Fn.condition_if(given.logical_id, Fn.join("", ['"', value, '"']), "null").to_string()
    )


def json_text(value: Any) -> str:
    """`value` as JSON text (one ``Fn::Join``): token strings quoted but not escaped, `RawJson`
    parts placed as they are."""
    parts: list[str] = []

    def add(item: Any) -> None:
        if isinstance(item, RawJson):
            parts.append(item.text)
        elif isinstance(item, dict):
            parts.append("{")
            for i, (key, field) in enumerate(item.items()):
                parts.append(f"{',' if i else ''}{json.dumps(key)}:")
                add(field)
            parts.append("}")
        elif isinstance(item, list):
            parts.append("[")
            for i, element in enumerate(item):
                parts.append("," if i else "")
                add(element)
            parts.append("]")
        elif isinstance(item, str) and cdk.Token.is_unresolved(item):
            parts.extend(['"', item, '"'])
        else:
            parts.append(json.dumps(item))

    add(value)
    return Fn.join("", parts)
