"""The IAM statements of Encord's access policy, derived from the configuration.

One function per kind of grant, so each can be read (and reviewed) on its own:

- `read_statements`: ``s3:GetObject`` on exactly the configured prefixes. HEAD requests are
  authorised by GetObject; there is no ``s3:HeadObject`` action.
- `list_statements`: ``s3:ListBucket`` with an ``s3:prefix`` condition, plus
  ``s3:GetBucketLocation`` (only with ``allowListing``, for Encord cloud-synced folders).
- `write_statements`: ``s3:PutObject`` on a bucket's write prefix (image sequences only).
- `kms_statements`: ``kms:Decrypt`` (and ``kms:GenerateDataKey`` when writing) on the
  configured keys, only when called through S3 in the bucket's region.
- `mrap_statements`: the same object actions through Multi-Region Access Points.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from aws_cdk import Aws
from aws_cdk import aws_iam as iam

from stacks.config import AccessConfig, BucketConfig

#: How cdk-nag spells the partition token in the findings it reports.
NAG_PARTITION = "<AWS::Partition>"


def bucket_arn(name: str, partition: str = Aws.PARTITION) -> str:
    """The ARN of bucket `name` (partition-aware)."""
    return f"arn:{partition}:s3:::{name}"


def object_arn(name: str, prefix: str, partition: str = Aws.PARTITION) -> str:
    """The ARN pattern of every object under `prefix` in bucket `name`."""
    return f"{bucket_arn(name, partition)}/{prefix}*"


def bucket_region(bucket: BucketConfig) -> str:
    """The bucket's region: configured, or the stack's."""
    return bucket.region or Aws.REGION


def read_statements(config: AccessConfig, partition: str) -> Iterator[iam.PolicyStatement]:
    """GetObject on each configured prefix of each bucket."""
    yield iam.PolicyStatement(
        sid="ReadConfiguredPrefixes",
        actions=["s3:GetObject"],
        resources=[object_arn(b.name, p, partition) for b in config.buckets for p in b.prefixes],
    )


def list_statements(config: AccessConfig, partition: str) -> Iterator[iam.PolicyStatement]:
    """ListBucket limited to the configured prefixes, and GetBucketLocation."""
    if not config.allow_listing:
        return
    for i, bucket in enumerate(config.buckets):
        whole = "" in bucket.prefixes
        yield iam.PolicyStatement(
            sid=f"ListConfiguredPrefixes{i}",
            actions=["s3:ListBucket"],
            resources=[bucket_arn(bucket.name, partition)],
            conditions=None
            if whole
            else {"StringLike": {"s3:prefix": [f"{p}*" for p in bucket.prefixes]}},
        )
    yield iam.PolicyStatement(
        sid="LocateBuckets",
        actions=["s3:GetBucketLocation"],
        resources=[bucket_arn(b.name, partition) for b in config.buckets],
    )


def write_statements(config: AccessConfig, partition: str) -> Iterator[iam.PolicyStatement]:
    """PutObject on each configured write prefix (nothing when none is configured)."""
    resources = [
        object_arn(b.name, b.write_prefix, partition) for b in config.buckets if b.write_prefix
    ]
    if resources:
        yield iam.PolicyStatement(
            sid="WriteImageSequenceVideos", actions=["s3:PutObject"], resources=resources
        )


def kms_statements(config: AccessConfig) -> Iterator[iam.PolicyStatement]:
    """Decrypt (and GenerateDataKey for writing buckets) on configured keys, via S3 only."""
    decrypt: dict[str, set[str]] = defaultdict(set)
    generate: dict[str, set[str]] = defaultdict(set)
    for bucket in config.buckets:
        if not bucket.kms_key_arn:
            continue
        via = f"s3.{bucket_region(bucket)}.amazonaws.com"
        decrypt[bucket.kms_key_arn].add(via)
        if bucket.write_prefix:
            generate[bucket.kms_key_arn].add(via)
    for i, (key, services) in enumerate(sorted(decrypt.items())):
        actions = ["kms:Decrypt"] + (["kms:GenerateDataKey"] if key in generate else [])
        yield iam.PolicyStatement(
            sid=f"DecryptThroughS3Key{i}",
            actions=actions,
            resources=[key],
            conditions={"StringEquals": {"kms:ViaService": sorted(services | generate[key])}},
        )


def mrap_statements(config: AccessConfig, partition: str) -> Iterator[iam.PolicyStatement]:
    """The object actions of the fronted buckets, through each Multi-Region Access Point."""
    by_name = {b.name: b for b in config.buckets}
    reads: list[str] = []
    writes: list[str] = []
    for mrap in config.mraps:
        base = f"arn:{partition}:s3::{mrap.account}:accesspoint/{mrap.alias}/object/"
        for prefix in sorted({p for name in mrap.buckets for p in by_name[name].prefixes}):
            reads.append(f"{base}{prefix}*")
        for prefix in sorted({by_name[n].write_prefix or "" for n in mrap.buckets} - {""}):
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
    config: AccessConfig, partition: str = Aws.PARTITION
) -> list[iam.PolicyStatement]:
    """Every statement of Encord's access policy, in a stable order."""
    return [
        *read_statements(config, partition),
        *list_statements(config, partition),
        *write_statements(config, partition),
        *kms_statements(config),
        *mrap_statements(config, partition),
    ]


def prefix_wildcard_findings(config: AccessConfig) -> list[str]:
    """The cdk-nag IAM5 finding IDs of the policy: one per `<prefix>*` resource, nothing else.

    Acknowledging exactly these (rather than the rule as a whole) means that any other
    wildcard, such as a `*` action or a bucket-wide grant nobody configured, still fails synth.
    """
    findings: list[str] = []
    for statement in access_statements(config, NAG_PARTITION):
        for resource in statement.resources:
            if resource.endswith("*"):
                findings.append(f"AwsSolutions::AwsSolutions-IAM5[Resource::{resource}]")
    return sorted(set(findings))
