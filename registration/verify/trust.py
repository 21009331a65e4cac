"""A role's trust policy: who may assume it, and whether each grant needs the external ID.

Pure functions on the trust policy document. The external ID itself is never put in a
message: findings say only whether it matches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from registration.verify.policy_eval import PolicyDocument, statements, wildcard_match

ASSUME_ROLE = "sts:AssumeRole"
EXTERNAL_ID_KEY = "sts:externalid"


@dataclass(frozen=True)
class GrantFinding:
    """One Allow statement that lets someone call sts:AssumeRole, and what is wrong with it."""

    where: str
    principals: tuple[str, ...]
    problem: str | None = None
    """None when the statement requires the expected external ID."""
    missing: bool = False
    """True when the statement does not require any external ID at all."""


@dataclass(frozen=True)
class TrustAnalysis:
    """What a trust policy allows."""

    grants: tuple[GrantFinding, ...]
    aws_principals: tuple[str, ...]
    other_principals: tuple[str, ...] = ()
    wildcard: bool = False

    @property
    def external_id_problems(self) -> list[GrantFinding]:
        """The grants that do not require the expected external ID."""
        return [g for g in self.grants if g.problem is not None]


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def _principals(statement: Mapping[str, Any]) -> tuple[list[str], list[str], bool]:
    """(AWS principals, other principals as ``Type:value``, any-principal wildcard)."""
    if "NotPrincipal" in statement:
        return [], ["NotPrincipal"], True  # an Allow for everyone except someone
    principal = statement.get("Principal")
    if principal == "*":
        return [], [], True
    aws: list[str] = []
    other: list[str] = []
    wildcard = False
    if isinstance(principal, Mapping):
        for kind, values in principal.items():
            for value in _as_list(values):
                if value == "*":
                    wildcard = True
                elif kind == "AWS":
                    aws.append(value)
                else:
                    other.append(f"{kind}:{value}")
    return aws, other, wildcard


def _external_id_problem(
    statement: Mapping[str, Any], expected: str | None
) -> tuple[str | None, bool]:
    """(why this statement does not pin the external ID, or None; no external ID at all)."""
    condition = statement.get("Condition") or {}
    pinned: list[str] | None = None
    loose: list[str] = []
    for operator, tests in condition.items():
        if not isinstance(tests, Mapping):
            continue
        for key, values in tests.items():
            if str(key).lower() != EXTERNAL_ID_KEY:
                continue
            if operator == "StringEquals":
                pinned = _as_list(values)
            else:
                loose.append(str(operator))
    if pinned is None:
        if loose:
            return f"checks sts:ExternalId with {', '.join(loose)} instead of StringEquals", True
        return "has no sts:ExternalId condition", True
    if expected is None:
        return (None if len(pinned) == 1 else "accepts several external IDs"), False
    if pinned == [expected]:
        return None, False
    if expected in pinned:
        return "accepts other external IDs besides the expected one", False
    return "requires an external ID that differs from the expected one", False


def analyse_trust(document: PolicyDocument, expected_external_id: str | None) -> TrustAnalysis:
    """Analyse a trust policy: every Allow of sts:AssumeRole, its principals, its external ID."""
    grants: list[GrantFinding] = []
    aws: list[str] = []
    other: list[str] = []
    wildcard = False
    for index, statement in enumerate(statements(document)):
        if statement.get("Effect") != "Allow":
            continue
        actions = _as_list(statement.get("Action"))
        if not any(wildcard_match(a, ASSUME_ROLE, case_sensitive=False) for a in actions):
            continue
        s_aws, s_other, s_wild = _principals(statement)
        aws += [p for p in s_aws if p not in aws]
        other += [p for p in s_other if p not in other]
        wildcard = wildcard or s_wild
        sid = statement.get("Sid")
        where = f"statement {sid!r}" if sid else f"statement #{index + 1}"
        shown = tuple(s_aws + s_other + (["*"] if s_wild else []))
        problem, missing = _external_id_problem(statement, expected_external_id)
        grants.append(GrantFinding(where, shown, problem, missing))
    return TrustAnalysis(tuple(grants), tuple(aws), tuple(other), wildcard)


def normalise_principal(principal: str) -> str:
    """An AWS principal as IAM stores it: a bare account ID becomes its root ARN."""
    if len(principal) == 12 and principal.isdigit():
        return f"arn:aws:iam::{principal}:root"
    return principal


def principal_mismatch(
    trusted: Sequence[str], expected: Sequence[str]
) -> tuple[list[str], list[str]]:
    """(trusted but not expected, expected but not trusted) principal ARNs."""
    have = {normalise_principal(p) for p in trusted}
    want = {normalise_principal(p) for p in expected}
    extra = [p for p in trusted if normalise_principal(p) not in want]
    missing = [p for p in expected if normalise_principal(p) not in have]
    return extra, missing
