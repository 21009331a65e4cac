"""Deploy-time switches for a policy document built from template parameters.

The launch-stack template (`stacks.launch_template`) builds its role and policy with the same
`EncordAccess` construct as the CDK app, but its buckets, prefixes and principals are slots
of comma-separated parameters that may be empty, and its key, write prefix and listing are
optional. CloudFormation cannot loop, so the construct is given every slot, and this module
makes each part of the resulting documents exist only when its slots are filled:

- an element of a list (a resource, a principal, a condition value) that names an optional
  slot becomes ``Fn::If [<its slots are filled>, element, AWS::NoValue]``;
- what every element of one of a statement's lists needs (and a scalar's needs) moves up to
  the statement: the whole statement becomes ``Fn::If [...]``, so no list is ever left empty
  (checked: each list keeps an element that needs no more than its statement);
- `StatementRule` adds what a statement needs beyond its elements (the listing statements
  need ``AllowListing``) and drops a statement's ``Condition`` block under a switch (no
  ``s3:prefix`` condition when the whole bucket is granted, as the construct does).

A slot is recognised by its token's text inside an element (CDK embeds an unresolved token
in every string built from it), so the rewrite runs on the unresolved document.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from aws_cdk import CfnCondition

NO_VALUE: Final = {"Ref": "AWS::NoValue"}

#: Combine switches into one condition (the caller names and caches them).
AllOf = Callable[[frozenset[CfnCondition]], CfnCondition]


@dataclass(frozen=True)
class StatementRule:
    """What statements whose Sid matches `sid` need beyond what their elements name."""

    sid: str
    """A regular expression matched against the whole Sid."""
    needs: CfnCondition | None = None
    """The statement exists only when this holds."""
    no_condition_when: CfnCondition | None = None
    """The statement's ``Condition`` block is dropped when this holds."""


class EmptyListError(ValueError):
    """A statement's list could be left empty at deploy time (an invalid policy)."""


def _switches_in(value: str, switches: Mapping[str, CfnCondition]) -> frozenset[CfnCondition]:
    return frozenset(cond for marker, cond in switches.items() if marker in value)


def _lists(statement: Mapping[str, Any]) -> Iterable[tuple[str, list[str], bool]]:
    """(where, values, is a list) of each value-holding field of `statement`."""
    for key in ("Resource", "NotResource"):
        if key in statement:
            value = statement[key]
            yield key, value if isinstance(value, list) else [value], isinstance(value, list)
    for kind, value in (statement.get("Principal") or {}).items():
        yield (
            f"Principal.{kind}",
            value if isinstance(value, list) else [value],
            isinstance(value, list),
        )
    for operator, keys in (statement.get("Condition") or {}).items():
        for key, value in keys.items():
            where = f"Condition.{operator}.{key}"
            yield where, value if isinstance(value, list) else [value], isinstance(value, list)


def _replace(statement: dict[str, Any], where: str, value: Any) -> None:
    """Set the field at dotted `where` (``Condition.StringLike.s3:prefix``) of `statement`."""
    head, _, rest = where.partition(".")
    if not rest:
        statement[head] = value
        return
    if head == "Condition":
        operator, _, key = rest.partition(".")
        statement[head][operator][key] = value
    else:
        statement[head][rest] = value


def _if(condition: CfnCondition, value: Any) -> dict[str, Any]:
    return {"Fn::If": [condition.logical_id, value, NO_VALUE]}


def conditional_statement(
    statement: Mapping[str, Any],
    switches: Mapping[str, CfnCondition],
    all_of: AllOf,
    rules: Sequence[StatementRule] = (),
) -> tuple[dict[str, Any], frozenset[CfnCondition]]:
    """`statement` with its optional elements switched, and what the statement itself needs."""
    result = {k: (dict(v) if isinstance(v, dict) else v) for k, v in statement.items()}
    if "Condition" in result:
        result["Condition"] = {op: dict(keys) for op, keys in result["Condition"].items()}
    sid = str(statement.get("Sid", ""))
    matched = [r for r in rules if re.fullmatch(r.sid, sid)]
    fields = list(_lists(statement))
    needs: set[CfnCondition] = {r.needs for r in matched if r.needs is not None}
    for _, values, _ in fields:
        needs |= frozenset.intersection(*(_switches_in(v, switches) for v in values))
    for where, values, is_list in fields:
        if not is_list:
            continue
        kept = []
        for value in values:
            extra = _switches_in(value, switches) - needs
            kept.append(_if(all_of(frozenset(extra)), value) if extra else value)
        if all(isinstance(v, dict) and "Fn::If" in v for v in kept):
            raise EmptyListError(f"statement {sid or '?'}: {where} could be left empty")
        _replace(result, where, kept)
    for rule in matched:
        if rule.no_condition_when is not None and "Condition" in result:
            result["Condition"] = {
                "Fn::If": [rule.no_condition_when.logical_id, NO_VALUE, result["Condition"]]
            }
    return result, frozenset(needs)


def conditional_document(
    document: Mapping[str, Any],
    switches: Mapping[str, CfnCondition],
    all_of: AllOf,
    rules: Sequence[StatementRule] = (),
) -> dict[str, Any]:
    """`document` (unresolved, tokens as text) with every statement and element switched."""
    statements = []
    for statement in document["Statement"]:
        switched, needs = conditional_statement(statement, switches, all_of, rules)
        statements.append(_if(all_of(needs), switched) if needs else switched)
    if all("Fn::If" in s for s in statements):
        raise EmptyListError("every statement of the document is optional")
    return {**document, "Statement": statements}
