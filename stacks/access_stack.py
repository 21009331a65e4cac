"""`EncordAccessStack`: the app's stack. It maps the `AccessConfig` onto `EncordAccess` props,
composes the construct, and publishes the outputs the registration helper reads.

The output keys and shapes are `registration.contract`'s, the contract with the helper
(`encord-register ... --stack-outputs cdk-outputs.json` or `--stack NAME`).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from aws_cdk import (
    Acknowledgment,
    Aws,
    CfnOutput,
    CfnResource,
    Duration,
    RemovalPolicy,
    Stack,
    Validations,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from registration.contract import (
    OUTPUT_BUCKETS,
    OUTPUT_CORS_ORIGINS,
    OUTPUT_EXTERNAL_ID,
    OUTPUT_MRAPS,
    OUTPUT_ROLE_ARN,
    OUTPUT_TRUSTED_PRINCIPALS,
    bucket_output,
    mrap_output,
    principal_arn,
)
from stacks.config import AccessConfig, BucketConfig
from stacks.encord_access import EncordAccess, EncordBucket, EncordMultiRegionAccessPoint

#: The construct that created the data buckets before it took them as props. The buckets
#: keep the logical IDs they had under it (`_keep_logical_id`).
_FORMER_BUCKET_SCOPE = "EncordAccess"


class EncordAccessStack(Stack):
    """The access stack: one `cdk deploy` gives Encord what Step 1 of its guide asks for."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: AccessConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        keys = {b.name: self._key(b) for b in config.buckets}
        buckets = {b.name: self._bucket(b, keys[b.name]) for b in config.buckets}
        self.access = EncordAccess(
            self,
            "EncordAccess",
            trusted_principals=[
                iam.AccountPrincipal(p) if p.isdigit() else iam.ArnPrincipal(p)
                for p in config.trusted_principals
            ],
            external_id=config.external_id,
            buckets=[
                EncordBucket(
                    bucket=buckets[b.name],
                    prefixes=[p for p in b.prefixes if p],  # "" (whole bucket) is no prefix
                    key=keys[b.name],
                    write_prefix=b.write_prefix,
                )
                for b in config.buckets
            ],
            cors_origins=config.cors_origins,
            cors_max_age=Duration.seconds(config.cors_max_age_seconds),
            allow_listing=config.allow_listing,
            multi_region_access_points=[
                EncordMultiRegionAccessPoint(arn=m.arn, buckets=[buckets[n] for n in m.buckets])
                for m in config.mraps
            ],
            max_session_duration=Duration.hours(config.max_session_hours),
            role_name=config.role_name,
            permissions_boundary=iam.ManagedPolicy.from_managed_policy_arn(
                self, "PermissionsBoundary", config.permissions_boundary_arn
            )
            if config.permissions_boundary_arn
            else None,
            # No cors_rule_id: each bucket gets its own, unique per stack, region and construct;
            # the rule of earlier versions (`encord-access-<stack name>`) is replaced by it.
        )
        self._outputs(config, buckets)

    def _key(self, bucket: BucketConfig) -> kms.IKey | None:
        if not bucket.kms_key_arn:
            return None
        return kms.Key.from_key_arn(self, f"Key-{bucket.name}", bucket.kms_key_arn)

    def _bucket(self, bucket: BucketConfig, key: kms.IKey | None) -> s3.IBucket:
        """The configured bucket: created (``create: true``) or imported by name."""
        if not bucket.create:
            return s3.Bucket.from_bucket_attributes(
                self, f"Import-{bucket.name}", bucket_name=bucket.name, region=bucket.region
            )
        created = s3.Bucket(
            self,
            f"Bucket-{bucket.name}",
            bucket_name=bucket.name,
            encryption=s3.BucketEncryption.KMS if key else s3.BucketEncryption.S3_MANAGED,
            encryption_key=key,
            bucket_key_enabled=True if key else None,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=False,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.RETAIN,
        )
        _keep_logical_id(created.node.default_child, created.node.id, "Resource")
        if created.policy is not None:
            _keep_logical_id(
                created.policy.node.default_child, created.node.id, "Policy", "Resource"
            )
        Validations.of(created).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-S1",
                reason="A data bucket for Encord to read by signed URL; server access logging "
                "needs a separate log bucket and is left to the account's logging setup "
                "(CloudTrail data events or an organisation-wide log bucket).",
            )
        )
        return created

    def _outputs(self, config: AccessConfig, constructs: dict[str, s3.IBucket]) -> None:
        buckets = [
            bucket_output(
                name=b.name,
                region=b.region or Aws.REGION,
                prefixes=b.prefixes,
                created=b.create,
                write_prefix=b.write_prefix,
                kms_key_arn=b.kms_key_arn,
                cors_rule_id=self.access.cors_rule_id_for(constructs[b.name]),
            )
            for b in config.buckets
        ]
        mraps = [mrap_output(alias=m.alias, arn=m.arn, buckets=m.buckets) for m in config.mraps]
        principals = [principal_arn(p, Aws.PARTITION) for p in config.trusted_principals]
        for key, value, description in (
            (
                OUTPUT_ROLE_ARN,
                self.access.role.role_arn,
                "Role ARN to paste into Encord's New integration dialog",
            ),
            (
                OUTPUT_EXTERNAL_ID,
                config.external_id,
                "External ID the role requires (the one Encord showed you)",
            ),
            (
                OUTPUT_BUCKETS,
                self.to_json_string(buckets),
                "Data buckets (JSON): name, region, prefixes, created, writePrefix, kmsKeyArn, "
                "corsRuleId",
            ),
            (
                OUTPUT_MRAPS,
                self.to_json_string(mraps),
                "Multi-Region Access Points (JSON): alias, arn, buckets",
            ),
            (
                OUTPUT_TRUSTED_PRINCIPALS,
                self.to_json_string(principals),
                "Principals the role trusts (JSON); `encord-register verify` checks them",
            ),
            (
                OUTPUT_CORS_ORIGINS,
                self.to_json_string(list(config.cors_origins)),
                "Origins allowed by the buckets' CORS rule (JSON)",
            ),
        ):
            CfnOutput(self, key, key=key, value=value, description=description)


def _keep_logical_id(resource: Any, *path: str) -> None:
    """Give `resource` the logical ID it had at ``EncordAccess/<path>``.

    Construct IDs are a contract: a new logical ID would make CloudFormation replace the
    retained, named bucket (failing on the name) and its bucket policy (deleting it). This
    is CDK's ``makeUniqueId``: the path's alphanumerics, then the first 8 hex digits of the
    MD5 of the path.
    """
    assert isinstance(resource, CfnResource)
    components = [_FORMER_BUCKET_SCOPE, *path]
    digest = hashlib.md5("/".join(components).encode(), usedforsecurity=False).hexdigest()
    human = "".join(re.sub(r"[^A-Za-z0-9]", "", c) for c in components if c != "Resource")
    resource.override_logical_id(human[:240] + digest[:8].upper())
