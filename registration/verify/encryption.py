"""How a bucket or object is encrypted, and whether Encord's role can read it.

`default_encryption` reads a GetBucketEncryption answer; `KeyInfo` is what KMS says
about a key. The AWS-managed ``aws/s3`` key cannot be used from another account (its
key policy cannot be changed), so data under it can never be read through the role.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SSE_S3 = "AES256"
SSE_KMS = ("aws:kms", "aws:kms:dsse")
AWS_ALIAS_PREFIX = "alias/aws/"
"""Aliases only AWS can create: a key behind one is AWS-managed."""


@dataclass(frozen=True)
class Encryption:
    """One encryption setting: the algorithm and, for SSE-KMS, the key as configured."""

    algorithm: str | None
    key_id: str | None = None

    @property
    def uses_kms(self) -> bool:
        """True for SSE-KMS and DSSE-KMS."""
        return self.algorithm in SSE_KMS

    @property
    def describe(self) -> str:
        """A short human description."""
        if self.algorithm is None:
            return "no default encryption configured"
        if self.algorithm == SSE_S3:
            return "SSE-S3 (AES256)"
        if self.uses_kms:
            return f"{self.algorithm} with key {self.key_id or 'aws/s3 (AWS-managed default)'}"
        return str(self.algorithm)


def default_encryption(answer: Mapping[str, Any] | None) -> Encryption:
    """The bucket's default encryption from a GetBucketEncryption answer (None: not set)."""
    if not answer:
        return Encryption(None)
    rules = answer.get("ServerSideEncryptionConfiguration", {}).get("Rules") or []
    for rule in rules:
        default = rule.get("ApplyServerSideEncryptionByDefault") or {}
        if default.get("SSEAlgorithm"):
            return Encryption(str(default["SSEAlgorithm"]), default.get("KMSMasterKeyID") or None)
    return Encryption(None)


def object_encryption(head: Mapping[str, Any]) -> Encryption:
    """An object's own encryption from a HeadObject answer."""
    algorithm = head.get("ServerSideEncryption")
    return Encryption(str(algorithm) if algorithm else None, head.get("SSEKMSKeyId") or None)


def names_aws_managed_key(key_id: str | None) -> bool:
    """True when the key as written is the AWS-managed default (absent, or an aws/ alias)."""
    if not key_id:
        return True  # SSE-KMS without a key id uses aws/s3
    return AWS_ALIAS_PREFIX in key_id


@dataclass(frozen=True)
class KeyInfo:
    """What KMS says about a key: its ARN and whether AWS manages it."""

    arn: str
    aws_managed: bool
