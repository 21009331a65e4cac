"""`EncordAccessStack`: the app's stack. It maps the `AccessConfig` onto `EncordAccess` props
(and, with ``continuous``, `EncordContinuousRegistration` props), composes the constructs, and
publishes the outputs the registration helper reads.

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
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from constructs import Construct

from registration.contract import (
    OUTPUT_ALLOW_LISTING,
    OUTPUT_BUCKETS,
    OUTPUT_CONTINUOUS,
    OUTPUT_CORS_ORIGINS,
    OUTPUT_DESCRIPTIONS,
    OUTPUT_EXTERNAL_ID,
    OUTPUT_MRAPS,
    OUTPUT_ROLE_ARN,
    OUTPUT_TRUSTED_PRINCIPALS,
    bucket_output,
    continuous_output,
    mrap_output,
    principal_arn,
)
from stacks.config import AccessConfig, BucketConfig
from stacks.config_continuous import ContinuousConfig
from stacks.continuous import EncordContinuousRegistration, WatchedS3Bucket
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
        boundary = (
            iam.ManagedPolicy.from_managed_policy_arn(
                self, "PermissionsBoundary", config.permissions_boundary_arn
            )
            if config.permissions_boundary_arn
            else None
        )
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
            permissions_boundary=boundary,
            # No cors_rule_id: each bucket gets its own, unique per stack, region and construct;
            # the rule of earlier versions (`encord-access-<stack name>`) is replaced by it.
        )
        self.continuous = (
            self._continuous(config.continuous, buckets, keys, boundary)
            if config.continuous
            else None
        )
        self._outputs(config, buckets)

    def _continuous(
        self,
        config: ContinuousConfig,
        buckets: dict[str, s3.IBucket],
        keys: dict[str, kms.IKey | None],
        boundary: iam.IManagedPolicy | None,
    ) -> EncordContinuousRegistration:
        """Continuous registration of the watched buckets, the key read from its secret."""
        secret = (
            secretsmanager.Secret.from_secret_complete_arn(
                self, "EncordSshKey", config.ssh_key_secret
            )
            if config.ssh_key_secret.startswith("arn:")
            else secretsmanager.Secret.from_secret_name_v2(
                self, "EncordSshKey", config.ssh_key_secret
            )
        )
        return EncordContinuousRegistration(
            self,
            "Continuous",
            buckets=[
                WatchedS3Bucket(
                    bucket=buckets[w.bucket],
                    prefixes=[p for p in w.prefixes or () if p],  # "" is the whole bucket
                    key=keys[w.bucket],
                )
                for w in config.watch or ()
            ],
            ssh_key_secret=secret,
            integration=config.integration,
            folder=config.folder,
            domain=config.domain,
            image_groups=config.image_groups,
            image_sequences=config.image_sequences,
            dicom_series=config.dicom_series,
            type_map=config.type_map,
            sidecar_suffixes=config.sidecar_suffixes,
            quiet_period=Duration.seconds(config.quiet_period_seconds),
            group_marker=config.group_marker,
            batch_size=config.batch_size,
            batch_window=Duration.seconds(config.batch_window_seconds),
            max_concurrency=config.max_concurrency,
            alarm_topic=sns.Topic.from_topic_arn(self, "AlarmTopic", config.alarm_topic_arn)
            if config.alarm_topic_arn
            else None,
            oldest_message_alarm=Duration.seconds(config.oldest_message_alarm_seconds),
            ssh_key_secret_key=kms.Key.from_key_arn(
                self, "EncordSshKeyKey", config.ssh_key_secret_kms_key_arn
            )
            if config.ssh_key_secret_kms_key_arn
            else None,
            permissions_boundary=boundary,
        )

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
        for key, value in (
            (OUTPUT_ROLE_ARN, self.access.role.role_arn),
            (OUTPUT_EXTERNAL_ID, config.external_id),
            (OUTPUT_BUCKETS, self.to_json_string(buckets)),
            (OUTPUT_MRAPS, self.to_json_string(mraps)),
            (OUTPUT_TRUSTED_PRINCIPALS, self.to_json_string(principals)),
            (OUTPUT_CORS_ORIGINS, self.to_json_string(list(config.cors_origins))),
            (OUTPUT_ALLOW_LISTING, "true" if config.allow_listing else "false"),
        ):
            CfnOutput(self, key, key=key, value=value, description=OUTPUT_DESCRIPTIONS[key])
        if self.continuous is not None:
            c = self.continuous
            continuous = continuous_output(
                queue_url=c.queue.queue_url,
                queue_arn=c.queue.queue_arn,
                dead_letter_queue_url=c.dead_letter_queue.queue_url,
                table_name=c.table.table_name,
                function_name=c.function.function_name,
                region=Aws.REGION,
            )
            CfnOutput(
                self,
                OUTPUT_CONTINUOUS,
                key=OUTPUT_CONTINUOUS,
                value=self.to_json_string(continuous),
                description=OUTPUT_DESCRIPTIONS[OUTPUT_CONTINUOUS],
            )


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
