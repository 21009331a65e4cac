"""Bucket-level checks: existence and region, requester pays, default encryption, CORS rules.

Check names: ``bucket`` (only when it does not exist), ``region``, ``requester-pays``,
``encryption`` and ``cors-rules`` (one per origin).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from registration.aws_errors import MISSING_BUCKET_CODES, error_code
from registration.contract import CORS_EXPOSED_HEADERS, RANGE_HEADER
from registration.verify.aws import AWS_ERRORS, AwsClients, describe_error, is_denied
from registration.verify.cors_rules import check_origin
from registration.verify.encryption import default_encryption
from registration.verify.kms_keys import KeyChecker
from registration.verify.model import (
    BucketTarget,
    CheckResult,
    Status,
    failed,
    not_checked,
    passed,
)

BUCKET = "bucket"
REGION = "region"
REQUESTER_PAYS = "requester-pays"
ENCRYPTION = "encryption"
CORS_RULES = "cors-rules"


FIX_MISSING_BUCKET = (
    "Check the bucket name in cdk.json (or --bucket) and that these credentials belong to "
    "the bucket's account."
)
FIX_REGION = (
    "Set the bucket's real region in cdk.json (or --region) and redeploy; URLs naming the "
    "wrong region are redirected or refused, and browsers do not follow S3's redirects."
)
FIX_REQUESTER_PAYS = (
    "Turn requester pays off for this bucket (put-bucket-request-payment with "
    "Payer=BucketOwner), or copy the data to a bucket without it."
)


def fix_cors(
    bucket: str, origin: str, stack_args: Sequence[str] = (), origins: Sequence[str] = ()
) -> str:
    """The fix for a CORS problem of `origin` on `bucket`: the command that puts the rule back.

    Without a stack the command names every origin checked (`origins`, default `origin`):
    it writes one rule, so the fixes of all origins are one and the same command.

    `cdk deploy` is no fix: the stack's custom resource only runs when the stack changes.
    `encord-register cors apply` runs the same merge; with the stack's flags it writes the
    stack's own rule (its ID and origins), so the stack keeps owning it.
    """
    rule = (
        f"a CORS rule for {origin} allowing GET and HEAD, AllowedHeaders `*` (at least "
        f"{RANGE_HEADER}) and exposing {', '.join(CORS_EXPOSED_HEADERS)}"
    )
    if stack_args:
        command = shlex.join(["encord-register", "cors", "apply", *stack_args, "--bucket", bucket])
        return (
            f"Run `{command}`: it puts the stack's own rule back ({rule}) and keeps the "
            "bucket's other rules (a `cdk deploy` with no changes does not re-run it). If "
            f"{origin} is not one of the stack's origins, add it to corsOrigins and deploy."
        )
    wanted = [o for each in (origins or [origin]) for o in ("--origin", each)]
    command = shlex.join(["encord-register", "cors", "apply", "--bucket", bucket, *wanted])
    return f"Run `{command}`: it adds {rule} and keeps the bucket's other rules."


@dataclass(frozen=True)
class Location:
    """Where the bucket is: its real region (None when S3 did not say), or that it is missing."""

    results: list[CheckResult]
    region: str | None
    exists: bool


def check_location(aws: AwsClients, bucket: BucketTarget) -> Location:
    """HeadBucket: does the bucket exist, and is it in the region URLs will name?"""
    subject = f"s3://{bucket.name}"
    s3 = aws.client("s3", bucket.region)
    try:
        answer = aws.call(s3, "head_bucket", "s3:ListBucket (HeadBucket)", Bucket=bucket.name)
        headers = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    except AWS_ERRORS as exc:
        if error_code(exc) in MISSING_BUCKET_CODES:
            result = failed(BUCKET, subject, "the bucket does not exist", FIX_MISSING_BUCKET)
            return Location([result], None, exists=False)
        headers = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPHeaders", {})
        if not headers.get("x-amz-bucket-region"):
            why = f"HeadBucket failed ({describe_error(exc)})"
            return Location([not_checked(REGION, subject, why)], bucket.region, exists=True)
    actual = str(headers.get("x-amz-bucket-region") or "") or None
    if actual is None:
        why = "S3 did not name the bucket's region (no x-amz-bucket-region header)"
        return Location([not_checked(REGION, subject, why)], bucket.region, exists=True)
    if bucket.region and bucket.region != actual:
        result = failed(
            REGION,
            subject,
            f"the bucket is in {actual}, but URLs would name {bucket.region}",
            FIX_REGION,
        )
    elif bucket.region:
        result = passed(REGION, subject, f"in {actual}, the region URLs will name")
    else:
        result = passed(REGION, subject, f"in {actual} (no region configured: URLs will use it)")
    return Location([result], actual, exists=True)


def check_requester_pays(aws: AwsClients, s3: Any, bucket: str) -> CheckResult:
    """Requester pays must be off: browsers cannot send the x-amz-request-payer header."""
    subject = f"s3://{bucket}"
    try:
        answer = aws.call(
            s3, "get_bucket_request_payment", "s3:GetBucketRequestPayment", Bucket=bucket
        )
    except AWS_ERRORS as exc:
        return not_checked(REQUESTER_PAYS, subject, f"cannot read it ({describe_error(exc)})")
    if answer.get("Payer") == "Requester":
        return failed(
            REQUESTER_PAYS,
            subject,
            "requester pays is on: Encord's signed URLs are fetched by browsers, which cannot "
            "send the x-amz-request-payer header, so every read would be refused",
            FIX_REQUESTER_PAYS,
        )
    return passed(REQUESTER_PAYS, subject, "off (the bucket owner pays)")


def check_encryption(
    aws: AwsClients, s3: Any, bucket: str, region: str, keys: KeyChecker
) -> CheckResult:
    """Default encryption: SSE-S3 passes; SSE-KMS needs a customer key the role may use."""
    subject = f"s3://{bucket}"
    try:
        answer = aws.call(
            s3, "get_bucket_encryption", "s3:GetEncryptionConfiguration", Bucket=bucket
        )
    except AWS_ERRORS as exc:
        if error_code(exc) == "ServerSideEncryptionConfigurationNotFoundError":
            answer = None
        else:
            why = "access denied" if is_denied(exc) else "cannot read it"
            return not_checked(ENCRYPTION, subject, f"{why} ({describe_error(exc)})")
    setting = default_encryption(answer)
    if not setting.uses_kms:
        return passed(ENCRYPTION, subject, f"{setting.describe}: no KMS key involved")
    verdict = keys.verdict(setting.key_id, region, bucket)
    message = verdict.message
    if verdict.status is Status.PASSED:
        message = f"{setting.algorithm} default, {verdict.message}"
    return CheckResult(verdict.status, ENCRYPTION, subject, message, verdict.fix, verdict.method)


def check_cors(
    aws: AwsClients,
    s3: Any,
    bucket: str,
    origins: tuple[str, ...],
    stack_args: Sequence[str] = (),
) -> list[CheckResult]:
    """The bucket's CORS rules against each origin (one result per origin)."""
    try:
        answer = aws.call(s3, "get_bucket_cors", "s3:GetBucketCORS", Bucket=bucket)
        rules = list(answer.get("CORSRules") or [])
    except AWS_ERRORS as exc:
        if error_code(exc) != "NoSuchCORSConfiguration":
            why = f"cannot read the CORS configuration ({describe_error(exc)})"
            return [not_checked(CORS_RULES, f"s3://{bucket} for {o}", why) for o in origins]
        rules = []
    results: list[CheckResult] = []
    for origin in origins:
        subject = f"s3://{bucket} for {origin}"
        if not rules:
            results.append(
                failed(
                    CORS_RULES,
                    subject,
                    f"the bucket has no CORS configuration: no CORS rule allows origin {origin}",
                    fix_cors(bucket, origin, stack_args, origins),
                )
            )
            continue
        finding = check_origin(rules, origin)
        if not finding.ok:
            results.append(
                failed(
                    CORS_RULES,
                    subject,
                    "; ".join(finding.problems),
                    fix_cors(bucket, origin, stack_args, origins),
                )
            )
            continue
        via = f" (rule {', '.join(repr(i) for i in finding.rule_ids)})" if finding.rule_ids else ""
        note = "; matched through a wildcard origin" if finding.wildcard_origin else ""
        results.append(
            passed(
                CORS_RULES,
                subject,
                f"GET and HEAD allowed, Range allowed, range headers exposed{via}{note}",
            )
        )
    return results
