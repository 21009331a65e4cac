"""Can the role decrypt with a KMS key? AWS-managed keys never; customer keys if granted.

`KeyChecker.verdict` resolves a key id as S3 reports it (key ARN, key id, alias or
alias ARN) with ``kms:DescribeKey``: a key AWS manages (``KeyManager == "AWS"``, or
behind an ``alias/aws/...`` alias) cannot be used from Encord's account. For a
customer-managed key it asks the `AccessDecider` whether the role may ``kms:Decrypt``
through S3, with the encryption context S3 sends (``kms:EncryptionContext:aws:s3:arn``:
the object's ARN, or the bucket's with an S3 Bucket Key), since the stack's grants are
scoped by it. Verdicts are cached per key, region and S3 resource.
"""

from __future__ import annotations

from dataclasses import dataclass

from registration.aws_errors import error_code
from registration.contract import KMS_S3_ARN_CONTEXT_KEY
from registration.verify.access import AccessDecider, PoliciesUnavailable
from registration.verify.aws import (
    AWS_ERRORS,
    AwsClients,
    arn_partition,
    describe_error,
    is_denied,
)
from registration.verify.encryption import AWS_ALIAS_PREFIX, KeyInfo, names_aws_managed_key
from registration.verify.model import Status
from registration.verify.policy_eval import Decision

FIX_AWS_MANAGED = (
    "Re-encrypt the objects with a customer-managed KMS key (copy them in place with that "
    "key), make it the bucket's default key, and set its ARN as kmsKeyArn for this bucket "
    "in cdk.json before redeploying."
)
FIX_DECRYPT = (
    "Set the key's ARN as kmsKeyArn for this bucket in cdk.json and redeploy (the stack "
    "grants kms:Decrypt through S3); the key policy must keep delegating to IAM."
)
FIX_KEY_NOT_FOUND = (
    "Check the bucket's default encryption key: it must exist, be enabled, and its key "
    "policy must let this account use it."
)


@dataclass(frozen=True)
class KeyVerdict:
    """Whether data under one key is readable by the role, in words."""

    status: Status
    message: str
    fix: str | None = None
    method: str | None = None


def _key_region(key_id: str, default: str) -> str:
    parts = key_id.split(":")
    return parts[3] if key_id.startswith("arn:") and len(parts) > 5 and parts[3] else default


class KeyChecker:
    """Resolves KMS keys and decides kms:Decrypt for the role (None: no role to check)."""

    def __init__(self, aws: AwsClients, decider: AccessDecider | None) -> None:
        self.aws = aws
        self.decider = decider
        self._verdicts: dict[tuple[str | None, str, str], KeyVerdict] = {}

    def _describe(self, key_id: str, region: str) -> KeyInfo:
        kms = self.aws.client("kms", _key_region(key_id, region))
        meta = self.aws.call(kms, "describe_key", "kms:DescribeKey", KeyId=key_id)["KeyMetadata"]
        arn = str(meta.get("Arn") or key_id)
        if meta.get("KeyManager") == "AWS":
            return KeyInfo(arn, aws_managed=True)
        try:
            aliases = self.aws.call(kms, "list_aliases", "kms:ListAliases", KeyId=arn)["Aliases"]
        except AWS_ERRORS:
            aliases = []  # the alias check is a second opinion only
        managed = any(str(a.get("AliasName", "")).startswith(AWS_ALIAS_PREFIX) for a in aliases)
        return KeyInfo(arn, aws_managed=managed)

    def verdict(self, key_id: str | None, region: str, s3_resource: str) -> KeyVerdict:
        """Can the role read data encrypted under `key_id` (as S3 reports it) in `region`?

        `s3_resource` is what S3 names in the encryption context: ``bucket/key`` for an
        object, ``bucket`` for a bucket's default (an S3 Bucket Key names the bucket).
        """
        cache_key = (key_id, region, s3_resource)
        if cache_key not in self._verdicts:
            self._verdicts[cache_key] = self._verdict(key_id, region, s3_resource)
        return self._verdicts[cache_key]

    def _verdict(self, key_id: str | None, region: str, s3_resource: str) -> KeyVerdict:
        aws_managed = (
            f"SSE-KMS with the AWS-managed key aws/s3 ({key_id or 'the default'}): Encord's "
            "role in another account cannot use an AWS-managed key"
        )
        if key_id is None or names_aws_managed_key(key_id):
            return KeyVerdict(Status.FAILED, aws_managed, FIX_AWS_MANAGED)
        try:
            info = self._describe(key_id, region)
        except AWS_ERRORS as exc:
            if error_code(exc) == "NotFoundException":
                return KeyVerdict(
                    Status.FAILED,
                    f"KMS key {key_id} was not found (deleted, or in an account this one "
                    "cannot see)",
                    FIX_KEY_NOT_FOUND,
                )
            why = "kms:DescribeKey was denied" if is_denied(exc) else "cannot describe the key"
            return KeyVerdict(Status.NOT_CHECKED, f"{why} for {key_id} ({describe_error(exc)})")
        if info.aws_managed:
            return KeyVerdict(Status.FAILED, aws_managed.replace(key_id, info.arn), FIX_AWS_MANAGED)
        return self._decrypt_verdict(info, region, s3_resource)

    def _decrypt_verdict(self, info: KeyInfo, region: str, s3_resource: str) -> KeyVerdict:
        if self.decider is None:
            return KeyVerdict(
                Status.NOT_CHECKED,
                f"customer-managed key {info.arn}; no role given to check kms:Decrypt",
            )
        context = {
            "kms:ViaService": f"s3.{region}.amazonaws.com",
            KMS_S3_ARN_CONTEXT_KEY: f"arn:{arn_partition(info.arn)}:s3:::{s3_resource}",
        }
        try:
            answer = self.decider.decide("kms:Decrypt", info.arn, context)
        except PoliciesUnavailable as exc:
            return KeyVerdict(Status.NOT_CHECKED, f"customer-managed key {info.arn}: {exc}")
        evaluation = answer.evaluation
        if evaluation.decision is Decision.ALLOWED:
            return KeyVerdict(
                Status.PASSED,
                f"customer-managed key {info.arn}; the role may kms:Decrypt with it",
                method=answer.method,
            )
        if evaluation.decision is Decision.UNKNOWN:
            return KeyVerdict(
                Status.NOT_CHECKED,
                f"customer-managed key {info.arn}: cannot decide kms:Decrypt: {evaluation.reason}",
                method=answer.method,
            )
        return KeyVerdict(
            Status.FAILED,
            f"the role may not kms:Decrypt with customer-managed key {info.arn}: "
            f"{evaluation.reason} ({evaluation.decision.value})",
            FIX_DECRYPT,
            method=answer.method,
        )
