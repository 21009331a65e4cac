"""The IAM statements of Encord's access policy, from plain grant records.

One function per kind of grant, so each can be read (and reviewed) on its own:

- `read_statements`: ``s3:GetObject`` on exactly the granted prefixes. HEAD requests are
  authorised by GetObject; there is no ``s3:HeadObject`` action.
- `list_statements`: ``s3:ListBucket`` with an ``s3:prefix`` condition, plus
  ``s3:GetBucketLocation`` (only when listing is allowed, for Encord cloud-synced folders).
- `write_statements`: ``s3:PutObject`` on a bucket's write prefix (image sequences only).
- `kms_statements`: ``kms:Decrypt`` on each bucket's key (``kms:GenerateDataKey`` only for
  a bucket Encord writes to), only through S3 in that bucket's region and only for its
  objects (the ``aws:s3:arn`` encryption context).
- `mrap_statements`: the same object actions through Multi-Region Access Points.

Least privilege is why this is not ``bucket.grant_read(role, "images/*")``: that grant adds
``s3:GetObject*``, ``s3:GetBucket*`` and ``s3:List*`` on the whole bucket, and writes the
role's inline policy instead of the managed policy local emulators honour.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Aws
from aws_cdk import aws_iam as iam

from registration.contract import KMS_S3_ARN_CONTEXT_KEY

#: The cdk-nag finding an object-ARN wildcard raises, per resource (`iam5_finding`).
IAM5_RESOURCE_FINDING = "AwsSolutions::AwsSolutions-IAM5[Resource::{resource}]"


@dataclass(frozen=True)
class BucketGrant:
    """What Encord may do on one bucket, every value ready for a policy (tokens allowed)."""

    #: The bucket's ARN.
    arn: str
    #: Key prefixes Encord may read; ``("",)`` is the whole bucket.
    prefixes: tuple[str, ...]
    #: The bucket's region, for ``kms:ViaService``.
    region: str
    #: The one prefix Encord may write under; None: no write access.
    write_prefix: str | None = None
    #: The ARN of the KMS key the bucket's objects are encrypted with; None: no KMS grant.
    key_arn: str | None = None

    def objects_under(self, prefix: str) -> str:
        """The ARN pattern of every object under `prefix`."""
        return f"{self.arn}/{prefix}*"


@dataclass(frozen=True)
class MrapGrant:
    """A Multi-Region Access Point and the granted buckets it fronts."""

    account: str
    #: ``xxxx.mrap``, as in the access point's ARN.
    alias: str
    buckets: tuple[BucketGrant, ...]


def read_statements(buckets: Sequence[BucketGrant]) -> Iterator[iam.PolicyStatement]:
    """GetObject on each granted prefix of each bucket."""
    yield iam.PolicyStatement(
        sid="ReadConfiguredPrefixes",
        actions=["s3:GetObject"],
        resources=[b.objects_under(p) for b in buckets for p in b.prefixes],
    )


def list_statements(
    buckets: Sequence[BucketGrant], allow_listing: bool
) -> Iterator[iam.PolicyStatement]:
    """ListBucket limited to the granted prefixes, and GetBucketLocation."""
    if not allow_listing:
        return
    for i, bucket in enumerate(buckets):
        whole = "" in bucket.prefixes
        yield iam.PolicyStatement(
            sid=f"ListConfiguredPrefixes{i}",
            actions=["s3:ListBucket"],
            resources=[bucket.arn],
            conditions=None
            if whole
            else {"StringLike": {"s3:prefix": [f"{p}*" for p in bucket.prefixes]}},
        )
    yield iam.PolicyStatement(
        sid="LocateBuckets",
        actions=["s3:GetBucketLocation"],
        resources=[b.arn for b in buckets],
    )


def write_statements(buckets: Sequence[BucketGrant]) -> Iterator[iam.PolicyStatement]:
    """PutObject on each write prefix (nothing when no bucket has one)."""
    resources = [b.objects_under(b.write_prefix) for b in buckets if b.write_prefix]
    if resources:
        yield iam.PolicyStatement(
            sid="WriteImageSequenceVideos", actions=["s3:PutObject"], resources=resources
        )


def kms_statements(buckets: Sequence[BucketGrant]) -> Iterator[iam.PolicyStatement]:
    """Per bucket with a key: Decrypt, and GenerateDataKey where Encord writes.

    Each statement holds only through S3 in that bucket's region (``kms:ViaService``) and only
    for that bucket's objects (`encryption_context`), so a key shared by several buckets
    grants nothing through a bucket that does not use it, and GenerateDataKey nothing through
    a bucket Encord only reads. Decrypt also covers the write prefix: S3 decrypts the data key
    again to complete a multipart upload.
    """
    keyed = [(b, b.key_arn) for b in buckets if b.key_arn]
    for i, (bucket, key_arn) in enumerate(keyed):
        written = [bucket.write_prefix] if bucket.write_prefix else []
        yield _through_s3(
            f"DecryptThroughS3Key{i}", "kms:Decrypt", key_arn, bucket, [*bucket.prefixes, *written]
        )
        if written:
            yield _through_s3(
                f"EncryptThroughS3Key{i}", "kms:GenerateDataKey", key_arn, bucket, written
            )


def _through_s3(
    sid: str, action: str, key_arn: str, bucket: BucketGrant, prefixes: Sequence[str]
) -> iam.PolicyStatement:
    """`action` on the key, through S3 in the bucket's region, for its objects under `prefixes`."""
    return iam.PolicyStatement(
        sid=sid,
        actions=[action],
        resources=[key_arn],
        conditions={
            "StringEquals": {"kms:ViaService": f"s3.{bucket.region}.amazonaws.com"},
            "StringLike": encryption_context(bucket, prefixes),
        },
    )


def encryption_context(bucket: BucketGrant, prefixes: Sequence[str]) -> dict[str, list[str]]:
    """The ``kms:EncryptionContext:aws:s3:arn`` values S3 sends for `prefixes` of `bucket`.

    S3 names the object's ARN in the encryption context, or the bucket's ARN when the bucket
    uses an S3 Bucket Key (one data key for many objects, so no object is named): both are
    allowed. Through a Multi-Region Access Point S3 still names the underlying bucket's object.
    """
    return {KMS_S3_ARN_CONTEXT_KEY: [bucket.arn, *(bucket.objects_under(p) for p in prefixes)]}


def mrap_statements(mraps: Sequence[MrapGrant]) -> Iterator[iam.PolicyStatement]:
    """The object actions of the fronted buckets, through each Multi-Region Access Point."""
    reads: list[str] = []
    writes: list[str] = []
    for mrap in mraps:
        base = f"arn:{Aws.PARTITION}:s3::{mrap.account}:accesspoint/{mrap.alias}/object/"
        for prefix in sorted({p for b in mrap.buckets for p in b.prefixes}):
            reads.append(f"{base}{prefix}*")
        for prefix in sorted({b.write_prefix or "" for b in mrap.buckets} - {""}):
            writes.append(f"{base}{prefix}*")
    if reads:
        yield iam.PolicyStatement(
            sid="ReadThroughMultiRegionAccessPoints", actions=["s3:GetObject"], resources=reads
        )
    if writes:
        yield iam.PolicyStatement(
            sid="WriteThroughMultiRegionAccessPoints", actions=["s3:PutObject"], resources=writes
        )


def access_statements(
    buckets: Sequence[BucketGrant], mraps: Sequence[MrapGrant], *, allow_listing: bool
) -> list[iam.PolicyStatement]:
    """Every statement of Encord's access policy, in a stable order."""
    return [
        *read_statements(buckets),
        *list_statements(buckets, allow_listing),
        *write_statements(buckets),
        *kms_statements(buckets),
        *mrap_statements(mraps),
    ]


def wildcard_resources(statements: Iterable[iam.PolicyStatement]) -> list[str]:
    """The resources of `statements` that end in a wildcard: the ``<prefix>*`` object ARNs."""
    return [r for s in statements for r in s.resources if r.endswith("*")]


def flatten_reference(value: Any) -> str:
    """A resolved CloudFormation value as cdk-nag spells it in finding IDs.

    ``{"Ref": "X"}`` is ``<X>``, ``{"Fn::GetAtt": ["X", "Arn"]}`` is ``<X.Arn>``, and
    ``Fn::Join`` joins its parts (cdk-nag's ``flattenCfnReference``).
    """
    if isinstance(value, str):
        return value.replace("${", "<").replace("}", ">")
    if isinstance(value, dict):
        if "Fn::Join" in value:
            delimiter, parts = value["Fn::Join"]
            return str(delimiter).join(flatten_reference(p) for p in parts)
        if "Fn::Sub" in value:
            return flatten_reference(value["Fn::Sub"])
        if "Fn::GetAtt" in value:
            resource, attribute = value["Fn::GetAtt"]
            return f"<{flatten_reference(resource)}.{flatten_reference(attribute)}>"
        if "Fn::ImportValue" in value:
            return flatten_reference(value["Fn::ImportValue"])
        if "Ref" in value:
            return f"<{flatten_reference(value['Ref'])}>"
    return json.dumps(value, separators=(",", ":"))
