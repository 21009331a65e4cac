"""A local IAM policy evaluator: may an identity do `action` on `resource`?

Pure functions on policy documents (already parsed JSON), for when IAM's policy
simulator is not available (local emulators, or no `iam:SimulatePrincipalPolicy`).
It follows IAM's evaluation logic for identity-based policies:

- a statement applies when its Action (or NotAction) and Resource (or NotResource)
  match and its Condition holds; `*` and `?` are wildcards, actions match without
  regard to case, resources with it;
- an applicable Deny wins over everything; otherwise an applicable Allow allows;
  otherwise the request is implicitly denied;
- a permission boundary, when given, must allow the request too.

What it cannot know is reported, never guessed: a Condition on a key whose value is
not in the request context, an operator it does not implement, or a policy variable
such as ``${aws:username}`` make the statement *undecided*, and a result that depends
on an undecided statement is `Decision.UNKNOWN` with the reason. Resource-based
policies (bucket and key policies), SCPs and session policies are not evaluated.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any

PolicyDocument = Mapping[str, Any]
NamedPolicy = tuple[str, PolicyDocument]
"""A policy document with a name for messages (e.g. ``managed policy encord-read``)."""

# Escapes IAM defines inside policy strings; any other ${...} is a policy variable.
_ESCAPES = {"${*}": "*", "${?}": "?", "${$}": "$"}
_VARIABLE = re.compile(r"\$\{[^}]*\}")


class Decision(StrEnum):
    """The outcome of evaluating one request against a set of policies."""

    ALLOWED = "allowed"
    EXPLICIT_DENY = "explicit deny"
    IMPLICIT_DENY = "implicit deny"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Request:
    """What is asked: an action on a resource, with the context keys that are known.

    Context keys are matched without regard to case (as IAM does); a key absent from
    `context` is *unknown*, not absent: conditions on it cannot be decided.
    """

    action: str
    resource: str
    context: Mapping[str, str | Sequence[str]] = field(default_factory=dict)

    def context_values(self, key: str) -> list[str] | None:
        """The values of context key `key` (case-insensitive), or None when unknown."""
        wanted = key.lower()
        for name, value in self.context.items():
            if name.lower() == wanted:
                return [value] if isinstance(value, str) else [str(v) for v in value]
        return None


@dataclass(frozen=True)
class Evaluation:
    """A decision and the reason for it, in words a user can act on."""

    decision: Decision
    reason: str

    @property
    def allowed(self) -> bool:
        """True when the request is allowed."""
        return self.decision is Decision.ALLOWED


# ----------------------------------------------------------------------------- matching


@lru_cache(maxsize=4096)
def _wildcard_regex(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        escape = pattern[i : i + 4]
        if escape in _ESCAPES:
            parts.append(re.escape(_ESCAPES[escape]))
            i += 4
            continue
        char = pattern[i]
        parts.append(".*" if char == "*" else "." if char == "?" else re.escape(char))
        i += 1
    return re.compile("".join(parts), re.DOTALL | (0 if case_sensitive else re.IGNORECASE))


def wildcard_match(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    """IAM string matching: `*` is any run of characters (also none), `?` one character.

    The escapes ``${*}``, ``${?}`` and ``${$}`` stand for the literal characters.
    """
    return _wildcard_regex(pattern, case_sensitive).fullmatch(value) is not None


def _has_variable(pattern: str) -> bool:
    return any(m.group(0) not in _ESCAPES for m in _VARIABLE.finditer(pattern))


def _resource_match(pattern: str, resource: str) -> bool | None:
    """True/False, or None when a policy variable makes the answer depend on the caller."""
    if not _has_variable(pattern):
        return wildcard_match(pattern, resource)

    def widen(m: re.Match[str]) -> str:
        return m.group(0) if m.group(0) in _ESCAPES else "*"

    # Could it match for some value of the variable? If not, it certainly does not.
    return None if wildcard_match(_VARIABLE.sub(widen, pattern), resource) else False


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def statements(document: PolicyDocument) -> list[Mapping[str, Any]]:
    """The statements of a policy document (IAM allows one statement or a list)."""
    raw = document.get("Statement", [])
    if isinstance(raw, Mapping):
        return [raw]
    return [s for s in raw if isinstance(s, Mapping)]


def action_matches(statement: Mapping[str, Any], action: str) -> bool:
    """Whether the statement's Action (or NotAction) covers `action` (case-insensitive)."""
    if "Action" in statement:
        return any(
            wildcard_match(p, action, case_sensitive=False) for p in _as_list(statement["Action"])
        )
    if "NotAction" in statement:
        return not any(
            wildcard_match(p, action, case_sensitive=False)
            for p in _as_list(statement["NotAction"])
        )
    return False


def resource_matches(statement: Mapping[str, Any], resource: str) -> bool | None:
    """Whether the statement's Resource (or NotResource) covers `resource`; None: undecided."""
    if "Resource" in statement:
        results = [_resource_match(p, resource) for p in _as_list(statement["Resource"])]
        if any(r is True for r in results):
            return True
        return None if any(r is None for r in results) else False
    if "NotResource" in statement:
        results = [_resource_match(p, resource) for p in _as_list(statement["NotResource"])]
        if any(r is True for r in results):
            return False
        return None if any(r is None for r in results) else True
    return False


# ----------------------------------------------------------------------------- conditions


@dataclass(frozen=True)
class ConditionOutcome:
    """Whether a Condition block holds: True, False, or None with why it is undecided."""

    holds: bool | None
    why: str = ""


def _string_test(base: str) -> tuple[Any, bool] | None:
    """(match function, negated) for the string-like operators; None if not implemented."""

    def equals(p: str, v: str) -> bool:
        return p == v

    def equals_ic(p: str, v: str) -> bool:
        return p.lower() == v.lower()

    def like(p: str, v: str) -> bool:
        return wildcard_match(p, v)

    tests: dict[str, tuple[Any, bool]] = {
        "StringEquals": (equals, False),
        "StringNotEquals": (equals, True),
        "StringEqualsIgnoreCase": (equals_ic, False),
        "StringNotEqualsIgnoreCase": (equals_ic, True),
        "StringLike": (like, False),
        "StringNotLike": (like, True),
        "ArnEquals": (like, False),
        "ArnLike": (like, False),
        "ArnNotEquals": (like, True),
        "ArnNotLike": (like, True),
        "Bool": (equals_ic, False),
    }
    return tests.get(base)


def _split_operator(operator: str) -> tuple[str | None, str, bool]:
    """(set qualifier, base operator, if-exists) of a condition operator."""
    qualifier: str | None = None
    if ":" in operator:
        qualifier, operator = operator.split(":", 1)
    if_exists = operator.endswith("IfExists") and operator != "IfExists"
    if if_exists:
        operator = operator[: -len("IfExists")]
    return qualifier, operator, if_exists


def _one_condition(
    operator: str, key: str, policy_values: list[str], request: Request
) -> ConditionOutcome:
    qualifier, base, if_exists = _split_operator(operator)
    values = request.context_values(key)
    if base == "Null":
        if values is None:
            return ConditionOutcome(None, f"condition Null on {key}: its value is not known here")
        want_absent = [v.lower() for v in policy_values] == ["true"]
        return ConditionOutcome(not want_absent)
    test = _string_test(base)
    if test is None:
        return ConditionOutcome(None, f"condition operator {operator} is not evaluated locally")
    if values is None:
        if if_exists:
            return ConditionOutcome(True)
        return ConditionOutcome(None, f"condition {operator} on {key}: its value is not known here")
    match, negated = test

    def satisfied(value: str) -> bool:
        hit = any(match(p, value) for p in policy_values)
        return not hit if negated else hit

    if qualifier == "ForAllValues":
        return ConditionOutcome(all(satisfied(v) for v in values))
    return ConditionOutcome(any(satisfied(v) for v in values))


def condition_holds(statement: Mapping[str, Any], request: Request) -> ConditionOutcome:
    """Evaluate a statement's Condition block (all operators and keys must hold)."""
    block = statement.get("Condition") or {}
    undecided: list[str] = []
    for operator, tests in block.items():
        if not isinstance(tests, Mapping):
            undecided.append(f"condition {operator} is malformed")
            continue
        for key, raw_values in tests.items():
            outcome = _one_condition(str(operator), str(key), _as_list(raw_values), request)
            if outcome.holds is False:
                return outcome
            if outcome.holds is None:
                undecided.append(outcome.why)
    if undecided:
        return ConditionOutcome(None, "; ".join(undecided))
    return ConditionOutcome(True)


# ----------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class _Applicable:
    effect: str
    where: str
    certain: bool
    why: str = ""


def _describe(policy_name: str, index: int, statement: Mapping[str, Any]) -> str:
    sid = statement.get("Sid")
    label = f"statement {sid!r}" if sid else f"statement #{index + 1}"
    return f"{label} of {policy_name}"


def _applicable(policies: Iterable[NamedPolicy], request: Request) -> list[_Applicable]:
    found: list[_Applicable] = []
    for name, document in policies:
        for index, statement in enumerate(statements(document)):
            if not action_matches(statement, request.action):
                continue
            resource = resource_matches(statement, request.resource)
            if resource is False:
                continue
            condition = condition_holds(statement, request)
            if condition.holds is False:
                continue
            why = condition.why
            if resource is None:
                why = "; ".join(filter(None, [why, "its Resource uses a policy variable"]))
            found.append(
                _Applicable(
                    effect=str(statement.get("Effect", "")),
                    where=_describe(name, index, statement),
                    certain=resource is True and condition.holds is True,
                    why=why,
                )
            )
    return found


def evaluate(policies: Iterable[NamedPolicy], request: Request) -> Evaluation:
    """Decide `request` against identity-based policies (explicit Deny wins)."""
    found = _applicable(policies, request)
    denies = [a for a in found if a.effect == "Deny"]
    allows = [a for a in found if a.effect == "Allow"]
    what = f"{request.action} on {request.resource}"
    for deny in denies:
        if deny.certain:
            return Evaluation(Decision.EXPLICIT_DENY, f"{what} is denied by {deny.where}")
    certain_allow = next((a for a in allows if a.certain), None)
    if certain_allow is not None:
        if denies:
            deny = denies[0]
            return Evaluation(
                Decision.UNKNOWN, f"{what} is allowed unless {deny.where} applies ({deny.why})"
            )
        return Evaluation(Decision.ALLOWED, f"{what} is allowed by {certain_allow.where}")
    if allows:
        allow = allows[0]
        return Evaluation(
            Decision.UNKNOWN, f"{what} is allowed only if {allow.where} applies ({allow.why})"
        )
    return Evaluation(Decision.IMPLICIT_DENY, f"no Allow statement matches {what}")


def evaluate_with_boundary(
    identity: Sequence[NamedPolicy], boundary: Sequence[NamedPolicy] | None, request: Request
) -> Evaluation:
    """Decide `request` for a principal with identity policies and an optional boundary.

    The request is allowed only when the identity policies allow it and the permission
    boundary (when there is one) allows it too; an explicit Deny in either wins.
    """
    granted = evaluate(identity, request)
    if boundary is None or granted.decision is Decision.EXPLICIT_DENY:
        return granted
    limit = evaluate(boundary, request)
    if limit.decision is Decision.EXPLICIT_DENY:
        return Evaluation(limit.decision, f"{limit.reason} (permission boundary)")
    if granted.decision is Decision.IMPLICIT_DENY:
        return granted
    if limit.decision is Decision.IMPLICIT_DENY:
        return Evaluation(
            Decision.IMPLICIT_DENY,
            f"the permission boundary does not allow it: {limit.reason}",
        )
    if Decision.UNKNOWN in (granted.decision, limit.decision):
        unknown = granted if granted.decision is Decision.UNKNOWN else limit
        return unknown
    return granted
