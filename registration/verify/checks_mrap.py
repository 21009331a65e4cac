"""The ``mrap`` check: every Multi-Region Access Point in the stack outputs exists and is ready.

The outputs carry each access point's ARN and alias, not its name, so the account's
access points are listed (s3control, served from us-west-2 only) and matched by alias.
"""

from __future__ import annotations

from typing import Any

from registration.verify.aws import AWS_ERRORS, AwsClients, describe_error, is_denied
from registration.verify.model import CheckResult, MrapTarget, failed, not_checked, passed

MRAP = "mrap"
CONTROL_REGION = "us-west-2"
"""Multi-Region Access Point control-plane requests go to us-west-2."""
MAX_PAGES = 20

FIX_MISSING = (
    "Create the Multi-Region Access Point (or correct its ARN under multiRegionAccessPoints "
    "in cdk.json) and redeploy the access stack."
)
FIX_NOT_READY = (
    "Wait until the access point is READY (creation takes minutes), then run verify again."
)


def _alias_key(alias: str) -> str:
    return alias.lower().removesuffix(".mrap")


def _list_access_points(aws: AwsClients, account: str) -> list[dict[str, Any]]:
    s3control = aws.client("s3control", CONTROL_REGION)
    points: list[dict[str, Any]] = []
    token: str | None = None
    for _ in range(MAX_PAGES):
        kwargs: dict[str, Any] = {"AccountId": account, **({"NextToken": token} if token else {})}
        page = aws.call(
            s3control,
            "list_multi_region_access_points",
            "s3:ListMultiRegionAccessPoints",
            **kwargs,
        )
        points.extend(page.get("AccessPoints") or [])
        token = page.get("NextToken")
        if not token:
            break
    return points


def check_mraps(aws: AwsClients, mraps: tuple[MrapTarget, ...]) -> list[CheckResult]:
    """One result per configured Multi-Region Access Point."""
    results: list[CheckResult] = []
    listed: dict[str, list[dict[str, Any]] | str] = {}
    for mrap in mraps:
        subject = mrap.arn
        if mrap.account not in listed:
            try:
                listed[mrap.account] = _list_access_points(aws, mrap.account)
            except AWS_ERRORS as exc:
                why = "access denied" if is_denied(exc) else "the s3control endpoint did not answer"
                listed[mrap.account] = f"{why} ({describe_error(exc)})"
        points = listed[mrap.account]
        if isinstance(points, str):
            results.append(
                not_checked(MRAP, subject, f"cannot list Multi-Region Access Points: {points}")
            )
            continue
        match = next(
            (p for p in points if _alias_key(str(p.get("Alias", ""))) == _alias_key(mrap.alias)),
            None,
        )
        if match is None:
            results.append(
                failed(
                    MRAP,
                    subject,
                    f"no Multi-Region Access Point with alias {mrap.alias} "
                    f"in account {mrap.account}",
                    FIX_MISSING,
                )
            )
            continue
        status = str(match.get("Status", ""))
        regions = ", ".join(
            f"{r.get('Bucket')} ({r.get('Region')})" for r in match.get("Regions") or []
        )
        if status != "READY":
            results.append(
                failed(
                    MRAP,
                    subject,
                    f"{match.get('Name')} is {status or 'in an unknown state'}",
                    FIX_NOT_READY,
                )
            )
            continue
        results.append(
            passed(MRAP, subject, f"{match.get('Name')} is READY, over {regions or 'no buckets'}")
        )
    return results
