"""Checks of the role Encord assumes: it exists, whom it trusts, and the external ID.

Check names: ``role`` (exists; its trusted principals) and ``external-id`` (every
Allow of sts:AssumeRole requires ``StringEquals sts:ExternalId`` = the expected ID).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from registration.aws_errors import error_code
from registration.verify.access import parse_document
from registration.verify.aws import AWS_ERRORS, AwsClients, describe_error, is_denied
from registration.verify.model import CheckResult, VerifyTarget, failed, not_checked, passed
from registration.verify.trust import TrustAnalysis, analyse_trust, principal_mismatch

ROLE = "role"
EXTERNAL_ID = "external-id"

FIX_MISSING_ROLE = (
    "Deploy the access stack (`npx cdk deploy --outputs-file cdk-outputs.json`), or pass the "
    "role ARN from its EncordRoleArn output; run verify with credentials of the role's account."
)
FIX_WILDCARD = (
    "Trust only Encord's principal: set it in cdk.json and redeploy the access stack, "
    "or remove the `*` principal from the role's trust policy."
)
FIX_PRINCIPALS = (
    "Set the principals Encord shows in its integration dialog in cdk.json and redeploy "
    "the access stack (or correct --principal)."
)
FIX_NO_GRANT = "Redeploy the access stack: its role trusts Encord's principal with sts:AssumeRole."
FIX_NO_EXTERNAL_ID = (
    "Require `StringEquals sts:ExternalId` in every Allow statement of the role's trust "
    "policy: redeploy the access stack (it always adds the condition) or edit the trust policy."
)
FIX_EXTERNAL_ID_DIFFERS = (
    "Use the external ID Encord shows for this integration: set it in cdk.json and redeploy "
    "the access stack (or pass the right --external-id)."
)


@dataclass(frozen=True)
class RoleFindings:
    """The role as read (None when it could not be), and the results of its checks."""

    role: Mapping[str, Any] | None
    results: list[CheckResult]


def _principal_result(subject: str, analysis: TrustAnalysis, target: VerifyTarget) -> CheckResult:
    trusted = list(analysis.aws_principals) + list(analysis.other_principals)
    shown = ", ".join(trusted) or "nobody"
    if analysis.wildcard:
        return failed(ROLE, subject, "trusts any AWS principal (`*`)", FIX_WILDCARD)
    if not analysis.grants:
        return failed(
            ROLE, subject, "its trust policy allows nobody to sts:AssumeRole", FIX_NO_GRANT
        )
    if target.principals:
        extra, missing = principal_mismatch(trusted, target.principals)
        problems = []
        if extra:
            problems.append(f"trusts {', '.join(extra)}, which is not a configured principal")
        if missing:
            problems.append(f"does not trust {', '.join(missing)}")
        if problems:
            return failed(ROLE, subject, "; ".join(problems), FIX_PRINCIPALS)
        return passed(ROLE, subject, f"exists; trusts exactly the configured principals ({shown})")
    return passed(ROLE, subject, f"exists; trusts {shown}")


def _external_id_result(subject: str, analysis: TrustAnalysis, target: VerifyTarget) -> CheckResult:
    if not analysis.grants:
        return not_checked(EXTERNAL_ID, subject, "the trust policy has no sts:AssumeRole grant")
    bad = analysis.external_id_problems
    missing = [g for g in bad if g.missing]
    if missing:
        detail = "; ".join(
            f"{g.where} ({', '.join(g.principals) or 'no principal'}) {g.problem}" for g in missing
        )
        return failed(
            EXTERNAL_ID, subject, f"trust without external ID: {detail}", FIX_NO_EXTERNAL_ID
        )
    if bad:
        detail = "; ".join(f"{g.where} {g.problem}" for g in bad)
        return failed(
            EXTERNAL_ID, subject, f"the external ID differs: {detail}", FIX_EXTERNAL_ID_DIFFERS
        )
    count = len(analysis.grants)
    grants = f"all {count} sts:AssumeRole grants require"
    if count == 1:
        grants = "the sts:AssumeRole grant requires"
    if target.external_id is None:
        return passed(
            EXTERNAL_ID,
            subject,
            f"{grants} an external ID (not compared: no --external-id or stack outputs)",
        )
    return passed(EXTERNAL_ID, subject, f"{grants} the external ID (matches)")


def check_role(aws: AwsClients, target: VerifyTarget) -> RoleFindings:
    """Read the role and check its trust policy."""
    subject = target.role_arn or "role"
    if not target.role_arn or not target.role_name:
        why = "no role given (use --role-arn, --stack-outputs or --stack)"
        return RoleFindings(None, [not_checked(ROLE, subject, why)])
    try:
        role = aws.call(aws.client("iam"), "get_role", "iam:GetRole", RoleName=target.role_name)[
            "Role"
        ]
    except AWS_ERRORS as exc:
        if error_code(exc) == "NoSuchEntity":
            result = failed(
                ROLE, subject, "the role does not exist in this account", FIX_MISSING_ROLE
            )
        elif is_denied(exc):
            result = not_checked(ROLE, subject, f"iam:GetRole was denied ({describe_error(exc)})")
        else:
            result = not_checked(ROLE, subject, f"cannot read the role ({describe_error(exc)})")
        why = "the role could not be read"
        return RoleFindings(None, [result, not_checked(EXTERNAL_ID, subject, why)])
    if role.get("Arn") and role["Arn"] != target.role_arn:
        # Same name, other path or account: the ARN Encord is given would not work.
        result = failed(
            ROLE,
            subject,
            f"a role of that name exists, but its ARN is {role['Arn']}",
            "Give Encord (and verify) the role's exact ARN from the stack outputs.",
        )
        return RoleFindings(role, [result, not_checked(EXTERNAL_ID, subject, "wrong role ARN")])
    analysis = analyse_trust(parse_document(role["AssumeRolePolicyDocument"]), target.external_id)
    return RoleFindings(
        role,
        [
            _principal_result(subject, analysis, target),
            _external_id_result(subject, analysis, target),
        ],
    )
