"""The listing grant: with ``allowListing`` the role may s3:ListBucket under every prefix.

Check name: ``list-bucket`` (one per bucket prefix), run only when the stack says
``allowListing`` (what Encord's cloud-synced folders need: Encord lists the folder's prefix on
its schedule). The request decided is the one such a listing makes: ``s3:ListBucket`` on the
bucket's ARN with the ``s3:prefix`` condition key set to the prefix, so a grant limited by
``StringLike s3:prefix`` to the configured prefixes (what the stack writes) passes and a missing
or narrower one fails.
"""

from __future__ import annotations

from registration.verify.access import AccessDecider, PoliciesUnavailable
from registration.verify.model import BucketTarget, CheckResult, failed, not_checked, passed
from registration.verify.policy_eval import Decision

LIST_BUCKET = "list-bucket"
LIST_ACTION = "s3:ListBucket"
PREFIX_CONTEXT_KEY = "s3:prefix"

FIX_DENY = (
    "Remove or narrow the Deny statement named above; an explicit Deny wins over the stack's "
    "Allow, and Encord's cloud-synced folder cannot list the prefix."
)


def fix_listing(bucket: str, prefix: str, partition: str) -> str:
    """The fix for a prefix the role may not list."""
    return (
        f"Grant s3:ListBucket on arn:{partition}:s3:::{bucket} with the condition "
        f'StringLike s3:prefix "{prefix}*": keep "allowListing": true and this prefix in '
        "cdk.json and redeploy the access stack (its policy writes exactly that grant)."
    )


def check_listing(
    bucket: BucketTarget, decider: AccessDecider | None, partition: str
) -> list[CheckResult]:
    """May the role list each of the bucket's prefixes?"""
    results: list[CheckResult] = []
    resource = f"arn:{partition}:s3:::{bucket.name}"
    for prefix in bucket.prefixes:
        subject = f"s3://{bucket.name}/{prefix}"
        if decider is None:
            why = "no role given (use --role-arn, --stack-outputs or --stack)"
            results.append(not_checked(LIST_BUCKET, subject, why))
            continue
        try:
            answer = decider.decide(LIST_ACTION, resource, {PREFIX_CONTEXT_KEY: prefix})
        except PoliciesUnavailable as exc:
            results.append(not_checked(LIST_BUCKET, subject, str(exc)))
            continue
        evaluation, method = answer.evaluation, answer.method
        if evaluation.decision is Decision.ALLOWED:
            message = "the role may list it (for Encord's cloud-synced folders)"
            results.append(passed(LIST_BUCKET, subject, message, method=method))
        elif evaluation.decision is Decision.UNKNOWN:
            why = f"cannot decide: {evaluation.reason}"
            results.append(not_checked(LIST_BUCKET, subject, why, method=method))
        else:
            fix = (
                FIX_DENY
                if evaluation.decision is Decision.EXPLICIT_DENY
                else fix_listing(bucket.name, prefix, partition)
            )
            message = (
                f"the stack says allowListing, but the role may not list it: {evaluation.reason} "
                f"({evaluation.decision.value})"
            )
            results.append(failed(LIST_BUCKET, subject, message, fix, method=method))
    return results
