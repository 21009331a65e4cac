"""May the role do an action on a resource? IAM's policy simulator first, else locally.

`AccessDecider.decide` asks ``iam:SimulatePrincipalPolicy`` (which evaluates the role's
identity policies and permission boundary exactly as IAM does). When the simulator is
not available — a local emulator does not implement it, or the deployer may not call it —
it loads the role's attached managed policies (default versions), inline policies and
permission boundary once, and evaluates them with `policy_eval`. Each answer says which
method decided it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from registration.verify.aws import AWS_ERRORS, AwsClients, describe_error
from registration.verify.model import METHOD_LOCAL, METHOD_SIMULATOR
from registration.verify.policy_eval import (
    Decision,
    Evaluation,
    NamedPolicy,
    PolicyDocument,
    Request,
    evaluate_with_boundary,
)

# A simulator answer of an unexpected shape means "not available" too.
_SIMULATOR_ERRORS: tuple[type[BaseException], ...] = (*AWS_ERRORS, KeyError, IndexError)
_POLICY_ERRORS: tuple[type[BaseException], ...] = (*AWS_ERRORS, KeyError, ValueError)
_SIMULATOR_DECISIONS = {
    "allowed": Decision.ALLOWED,
    "explicitDeny": Decision.EXPLICIT_DENY,
    "implicitDeny": Decision.IMPLICIT_DENY,
}


class PoliciesUnavailable(Exception):
    """The role's policies could not be read, so nothing can be decided locally."""


@dataclass(frozen=True)
class AccessAnswer:
    """A decision and the method that made it."""

    evaluation: Evaluation
    method: str


def parse_document(raw: Any) -> PolicyDocument:
    """A policy document as IAM returns it: parsed already, or URL-encoded JSON text."""
    if isinstance(raw, Mapping):
        return raw
    text = str(raw)
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        parsed = json.loads(unquote(text))
    if not isinstance(parsed, Mapping):
        raise ValueError("a policy document must be a JSON object")
    return parsed


def role_context(role_arn: str) -> dict[str, str]:
    """Context keys known for any request Encord makes with a signed URL of this role."""
    account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""
    return {
        "aws:PrincipalArn": role_arn,
        "aws:PrincipalAccount": account,
        "aws:PrincipalType": "AssumedRole",
        "aws:SecureTransport": "true",
    }


class AccessDecider:
    """Decides requests for one role; remembers when the simulator is unavailable."""

    def __init__(self, aws: AwsClients, role_arn: str, role: Mapping[str, Any]) -> None:
        self.aws = aws
        self.role_arn = role_arn
        self.role = role
        self.simulator_problem: str | None = None
        self._policies: tuple[list[NamedPolicy], list[NamedPolicy] | None] | None = None

    @property
    def iam(self) -> Any:
        """The IAM client."""
        return self.aws.client("iam")

    def decide(
        self, action: str, resource: str, context: Mapping[str, str] | None = None
    ) -> AccessAnswer:
        """Whether the role may do `action` on `resource`, given the known `context`.

        Raises PoliciesUnavailable when the simulator failed and the role's policies
        cannot be read either.
        """
        full_context = {**role_context(self.role_arn), **(context or {})}
        if self.simulator_problem is None:
            # Not implemented (emulators), denied or unreachable: evaluate locally from now on.
            try:
                evaluation = self._simulate(action, resource, full_context)
                return AccessAnswer(evaluation, METHOD_SIMULATOR)
            except _SIMULATOR_ERRORS as exc:
                self.simulator_problem = describe_error(exc)
        identity, boundary = self._load_policies()
        request = Request(action, resource, full_context)
        return AccessAnswer(evaluate_with_boundary(identity, boundary, request), METHOD_LOCAL)

    def _simulate(self, action: str, resource: str, context: Mapping[str, str]) -> Evaluation:
        entries = [
            {"ContextKeyName": k, "ContextKeyValues": [v], "ContextKeyType": "string"}
            for k, v in context.items()
        ]
        answer = self.aws.call(
            self.iam,
            "simulate_principal_policy",
            "iam:SimulatePrincipalPolicy",
            PolicySourceArn=self.role_arn,
            ActionNames=[action],
            ResourceArns=[resource],
            ContextEntries=entries,
        )
        result = answer["EvaluationResults"][0]
        raw = str(result.get("EvalDecision", ""))
        decision = _SIMULATOR_DECISIONS.get(raw, Decision.UNKNOWN)
        what = f"{action} on {resource}"
        missing = [str(k) for k in result.get("MissingContextValues") or []]
        if decision is not Decision.ALLOWED and missing:
            return Evaluation(
                Decision.UNKNOWN,
                f"the simulator needs context keys it cannot know here: {', '.join(missing)}",
            )
        matched = [str(s.get("SourcePolicyId", "")) for s in result.get("MatchedStatements") or []]
        where = f" ({', '.join(filter(None, matched))})" if any(matched) else ""
        if decision is Decision.ALLOWED:
            return Evaluation(decision, f"{what} is allowed{where}")
        if decision is Decision.EXPLICIT_DENY:
            return Evaluation(decision, f"{what} is denied by an explicit Deny{where}")
        if decision is Decision.IMPLICIT_DENY:
            return Evaluation(decision, f"no Allow statement matches {what}")
        return Evaluation(decision, f"the simulator answered {raw!r} for {what}")

    def _load_policies(self) -> tuple[list[NamedPolicy], list[NamedPolicy] | None]:
        if self._policies is None:
            try:
                self._policies = self._read_policies()
            except _POLICY_ERRORS as exc:
                raise PoliciesUnavailable(
                    f"cannot read the role's policies ({describe_error(exc)})"
                ) from exc
        return self._policies

    def _managed_document(self, arn: str) -> PolicyDocument:
        policy = self.aws.call(self.iam, "get_policy", "iam:GetPolicy", PolicyArn=arn)["Policy"]
        version = self.aws.call(
            self.iam,
            "get_policy_version",
            "iam:GetPolicyVersion",
            PolicyArn=arn,
            VersionId=policy["DefaultVersionId"],
        )
        return parse_document(version["PolicyVersion"]["Document"])

    def _read_policies(self) -> tuple[list[NamedPolicy], list[NamedPolicy] | None]:
        name = str(self.role["RoleName"])
        identity: list[NamedPolicy] = []
        marker: str | None = None
        while True:
            kwargs: dict[str, Any] = {"RoleName": name, **({"Marker": marker} if marker else {})}
            page = self.aws.call(
                self.iam, "list_attached_role_policies", "iam:ListAttachedRolePolicies", **kwargs
            )
            for attached in page.get("AttachedPolicies") or []:
                arn = str(attached["PolicyArn"])
                identity.append((f"managed policy {arn}", self._managed_document(arn)))
            marker = page.get("Marker")
            if not page.get("IsTruncated") or not marker:
                break
        marker = None
        while True:
            kwargs = {"RoleName": name, **({"Marker": marker} if marker else {})}
            page = self.aws.call(self.iam, "list_role_policies", "iam:ListRolePolicies", **kwargs)
            for policy_name in page.get("PolicyNames") or []:
                inline = self.aws.call(
                    self.iam,
                    "get_role_policy",
                    "iam:GetRolePolicy",
                    RoleName=name,
                    PolicyName=policy_name,
                )
                identity.append(
                    (f"inline policy {policy_name}", parse_document(inline["PolicyDocument"]))
                )
            marker = page.get("Marker")
            if not page.get("IsTruncated") or not marker:
                break
        boundary_arn = (self.role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        boundary: list[NamedPolicy] | None = None
        if boundary_arn:
            boundary = [
                (f"permission boundary {boundary_arn}", self._managed_document(str(boundary_arn)))
            ]
        return identity, boundary
