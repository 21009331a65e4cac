"""Checks on sample objects: the role may GetObject them, they are readable now, decryptable.

Check names: ``get-object`` (one per sample key, or per prefix without samples),
``storage-class`` and ``object-encryption`` (one per bucket, over its samples).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from registration.verify.access import AccessDecider, PoliciesUnavailable
from registration.verify.aws import AWS_ERRORS, AwsClients, describe_error
from registration.verify.encryption import object_encryption
from registration.verify.kms_keys import KeyChecker, KeyVerdict
from registration.verify.model import CheckResult, Status, failed, not_checked, passed
from registration.verify.policy_eval import Decision
from registration.verify.sampling import SampleObject, sample_objects
from registration.verify.storage import archive_problem

GET_OBJECT = "get-object"
STORAGE_CLASS = "storage-class"
OBJECT_ENCRYPTION = "object-encryption"

FIX_ARCHIVED = (
    "Restore these objects (S3 RestoreObject, e.g. `aws s3api restore-object`) before "
    "registering them, or leave them out: `manifest` skips archived objects."
)
GET_OBJECT_CONTEXT = {
    # Encord reads with SigV4 query-string signed URLs over HTTPS.
    "s3:authType": "REST-QUERY-STRING",
    "s3:signatureversion": "AWS4-HMAC-SHA256",
}
MAX_NAMED_KEYS = 5


def fix_grant(bucket: str, prefix: str, partition: str) -> str:
    """The fix for a prefix the role may not read."""
    return (
        f"Grant s3:GetObject on arn:{partition}:s3:::{bucket}/{prefix}*: add the prefix to this "
        "bucket's prefixes in cdk.json and redeploy the access stack."
    )


FIX_DENY = (
    "Remove or narrow the Deny statement named above, or move the data out of its scope; "
    "an explicit Deny wins over the stack's Allow."
)


@dataclass
class Samples:
    """The sample objects of one bucket, by prefix, and their HeadObject answers."""

    by_prefix: dict[str, list[SampleObject]] = field(default_factory=dict)
    heads: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    head_errors: dict[str, str] = field(default_factory=dict)

    @property
    def keys(self) -> list[str]:
        """Every sampled key, once, in order."""
        seen: dict[str, None] = {}
        for objects in self.by_prefix.values():
            for obj in objects:
                seen.setdefault(obj.key, None)
        return list(seen)


def _named(keys: list[str]) -> str:
    shown = ", ".join(keys[:MAX_NAMED_KEYS])
    more = len(keys) - MAX_NAMED_KEYS
    return shown + (f" and {more} more" if more > 0 else "")


def collect_samples(
    aws: AwsClients, s3: Any, bucket: str, prefixes: tuple[str, ...], count: int
) -> tuple[Samples, list[CheckResult]]:
    """List samples under each prefix and HEAD them; results for prefixes that could not be."""
    samples = Samples()
    results: list[CheckResult] = []
    for prefix in prefixes:
        subject = f"s3://{bucket}/{prefix}"
        try:
            found = sample_objects(aws, s3, bucket, prefix, count)
        except AWS_ERRORS as exc:
            why = f"cannot list sample objects ({describe_error(exc)})"
            results.append(not_checked(GET_OBJECT, subject, why))
            continue
        if not found:
            why = (
                "no objects under this prefix to sample "
                "(folder markers and empty objects are skipped)"
            )
            results.append(not_checked(GET_OBJECT, subject, why))
        samples.by_prefix[prefix] = found
    for key in samples.keys:
        try:
            samples.heads[key] = aws.call(
                s3, "head_object", "s3:GetObject (HEAD)", Bucket=bucket, Key=key
            )
        except AWS_ERRORS as exc:
            samples.head_errors[key] = describe_error(exc)
    return samples, results


def check_get_object(
    bucket: str, samples: Samples, decider: AccessDecider | None, partition: str
) -> list[CheckResult]:
    """May the role s3:GetObject each sample key?"""
    results: list[CheckResult] = []
    for prefix, objects in samples.by_prefix.items():
        for obj in objects:
            subject = f"s3://{bucket}/{obj.key}"
            if decider is None:
                why = "no role given (use --role-arn, --stack-outputs or --stack)"
                results.append(not_checked(GET_OBJECT, subject, why))
                continue
            resource = f"arn:{partition}:s3:::{bucket}/{obj.key}"
            try:
                answer = decider.decide("s3:GetObject", resource, GET_OBJECT_CONTEXT)
            except PoliciesUnavailable as exc:
                results.append(not_checked(GET_OBJECT, subject, str(exc)))
                continue
            evaluation, method = answer.evaluation, answer.method
            if evaluation.decision is Decision.ALLOWED:
                results.append(passed(GET_OBJECT, subject, "the role may read it", method=method))
            elif evaluation.decision is Decision.UNKNOWN:
                results.append(
                    not_checked(
                        GET_OBJECT, subject, f"cannot decide: {evaluation.reason}", method=method
                    )
                )
            else:
                fix = (
                    FIX_DENY
                    if evaluation.decision is Decision.EXPLICIT_DENY
                    else fix_grant(bucket, prefix, partition)
                )
                results.append(
                    failed(
                        GET_OBJECT,
                        subject,
                        f"the role may not read it: {evaluation.reason} "
                        f"({evaluation.decision.value})",
                        fix,
                        method=method,
                    )
                )
    return results


def check_storage(bucket: str, samples: Samples) -> CheckResult:
    """Sample objects must be readable now: not archived, or restored."""
    subject = f"s3://{bucket}"
    if not samples.heads:
        why = "no sample objects"
        if samples.head_errors:
            why = "no sample object could be read with HeadObject: " + next(
                iter(samples.head_errors.values())
            )
        return not_checked(STORAGE_CLASS, subject, why)
    archived = [
        f"{key} ({problem})"
        for key, head in samples.heads.items()
        if (problem := archive_problem(head)) is not None
    ]
    if archived:
        return failed(
            STORAGE_CLASS,
            subject,
            f"{len(archived)} of {len(samples.heads)} sample objects are archived and not "
            f"restored: {_named(archived)}",
            FIX_ARCHIVED,
        )
    return passed(
        STORAGE_CLASS, subject, f"{len(samples.heads)} sample objects readable without a restore"
    )


def check_object_encryption(
    bucket: str, region: str, samples: Samples, keys: KeyChecker
) -> CheckResult:
    """Each sample object's own encryption: any SSE-KMS key must be one the role may use."""
    subject = f"s3://{bucket}"
    if not samples.heads:
        return not_checked(OBJECT_ENCRYPTION, subject, "no sample objects")
    by_key: dict[str | None, list[str]] = {}
    plain = 0
    for key, head in samples.heads.items():
        setting = object_encryption(head)
        if setting.uses_kms:
            by_key.setdefault(setting.key_id, []).append(key)
        else:
            plain += 1
    verdicts: list[tuple[KeyVerdict, list[str]]] = [
        (keys.verdict(key_id, region, f"{bucket}/{objects[0]}"), objects)
        for key_id, objects in by_key.items()
    ]
    methods = {v.method for v, _ in verdicts if v.method}
    method = methods.pop() if len(methods) == 1 else None
    bad = [(v, o) for v, o in verdicts if v.status is Status.FAILED]
    if bad:
        message = "; ".join(f"{_named(o)}: {v.message}" for v, o in bad)
        return failed(OBJECT_ENCRYPTION, subject, message, bad[0][0].fix or "", method=method)
    unknown = [(v, o) for v, o in verdicts if v.status is Status.NOT_CHECKED]
    if unknown:
        message = "; ".join(f"{_named(o)}: {v.message}" for v, o in unknown)
        return not_checked(OBJECT_ENCRYPTION, subject, message, method=method)
    parts = []
    if plain:
        parts.append(f"{plain} sample objects without a KMS key (SSE-S3 or none)")
    if verdicts:
        parts.append(
            f"{sum(len(o) for _, o in verdicts)} under customer-managed keys the role may decrypt"
        )
    return passed(OBJECT_ENCRYPTION, subject, "; ".join(parts), method=method)
