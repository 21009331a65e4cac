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
from stacks import compliance
from stacks.config import AccessConfig, BucketConfig
from stacks.config_compliance import CREATE_KEY, CreatedBucketHardening, Hardening
from stacks.config_continuous import ContinuousConfig
from stacks.continuous import EncordContinuousRegistration, WatchedS3Bucket
from stacks.encord_access import EncordAccess, EncordBucket, EncordMultiRegionAccessPoint

#: The construct that created the data buckets before it took them as props. The buckets
#: keep the logical IDs they had under it (`_keep_logical_id`).
_FORMER_BUCKET_SCOPE = "EncordAccess"

#: The CDK feature flag that grants S3 log delivery by bucket policy instead of an ACL.
_LOGS_BY_BUCKET_POLICY = "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"
_REPLICATION_REASON = (
    "Replication keeps a second copy in another bucket, usually another region: where "
    "regulated data may be copied, and paying to store it twice, are the data owner's "
    "decisions, not this stack's. Versioning (which replication needs) is on under the packs."
)
_LOG_BUCKET_SSE_REASON = (
    "S3 delivers server access logs only to buckets whose default encryption is SSE-S3; "
    "SSE-KMS is not supported on a log destination bucket."
)


class EncordAccessStack(Stack):
    """The access stack: one `cdk deploy` gives Encord what Step 1 of its guide asks for."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: AccessConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # Server access logs are delivered under the log bucket's policy, not its ACL (the
        # buckets' ACLs stay disabled: ObjectOwnership BucketOwnerEnforced).
        self.node.set_context(_LOGS_BY_BUCKET_POLICY, True)
        hardening = config.hardening
        stack_key = self._stack_key(config, hardening)
        keys = {b.name: self._key(b) for b in config.buckets}
        for name, created in hardening.created.items():
            keys[name] = keys[name] or (stack_key if created.key else None)
        log_bucket = self._log_bucket(config) if hardening.needs_log_bucket else None
        buckets = {
            b.name: self._bucket(b, keys[b.name], hardening.created.get(b.name), log_bucket)
            for b in config.buckets
        }
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
            log_encryption_key=stack_key,
            tracing=hardening.tracing,
            reserve_concurrency=hardening.reserve_concurrency,
            # No cors_rule_id: each bucket gets its own, unique per stack, region and construct;
            # the rule of earlier versions (`encord-access-<stack name>`) is replaced by it.
        )
        self.continuous = (
            self._continuous(config.continuous, buckets, keys, boundary, stack_key, hardening)
            if config.continuous
            else None
        )
        self._outputs(config, buckets, keys)

    def _continuous(
        self,
        config: ContinuousConfig,
        buckets: dict[str, s3.IBucket],
        keys: dict[str, kms.IKey | None],
        boundary: iam.IManagedPolicy | None,
        stack_key: kms.IKey | None,
        hardening: Hardening,
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
            log_encryption_key=stack_key,
            tracing=hardening.tracing,
            reserve_concurrency=hardening.reserve_concurrency,
        )

    def _stack_key(self, config: AccessConfig, hardening: Hardening) -> kms.IKey | None:
        """The stack's key (``encryptionKey``): created, imported, or none.

        A created key is made only when something uses it: a created bucket without a key of
        its own, or a function's log group (an existing bucket's handler, continuous
        registration). Its policy lets CloudWatch Logs use it for this account's log groups
        in this region; it is retained, since data and logs stay encrypted with it.
        """
        if hardening.key is None:
            return None
        if hardening.key != CREATE_KEY:
            return kms.Key.from_key_arn(self, "EncryptionKey", hardening.key)
        uses = (
            any(c.key == CREATE_KEY for c in hardening.created.values())
            or any(not b.create for b in config.buckets)
            or config.continuous is not None
        )
        if not uses:
            return None
        key = kms.Key(
            self,
            "EncryptionKey",
            description=f"Encrypts what the {config.stack_name} stack stores: the data buckets "
            "it creates and its functions' logs",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogsEncryptsThisAccountsLogGroups",
                principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
                actions=[
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": f"arn:{Aws.PARTITION}:logs:"
                        f"{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:*"
                    }
                },
            )
        )
        return key

    def _log_bucket(self, config: AccessConfig) -> s3.IBucket:
        """Where created buckets send server access logs: ``accessLogBucket``, else a bucket
        created for it (SSE-S3, versioned, private, TLS only, retained)."""
        if config.access_log_bucket:
            return s3.Bucket.from_bucket_name(self, "AccessLogBucket", config.access_log_bucket)
        logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.RETAIN,
        )
        _retain_policy(logs)
        compliance.acknowledge(logs, "S3DefaultEncryptionKMS", _LOG_BUCKET_SSE_REASON)
        compliance.acknowledge(logs, "S3BucketReplicationEnabled", _REPLICATION_REASON)
        return logs

    def _key(self, bucket: BucketConfig) -> kms.IKey | None:
        if not bucket.kms_key_arn:
            return None
        return kms.Key.from_key_arn(self, f"Key-{bucket.name}", bucket.kms_key_arn)

    def _bucket(
        self,
        bucket: BucketConfig,
        key: kms.IKey | None,
        hardening: CreatedBucketHardening | None,
        log_bucket: s3.IBucket | None,
    ) -> s3.IBucket:
        """The configured bucket: created (``create: true``, with its `hardening`) or
        imported by name."""
        if not bucket.create:
            return s3.Bucket.from_bucket_attributes(
                self, f"Import-{bucket.name}", bucket_name=bucket.name, region=bucket.region
            )
        assert hardening is not None  # `Hardening.created` has every created bucket
        created = s3.Bucket(
            self,
            f"Bucket-{bucket.name}",
            bucket_name=bucket.name,
            encryption=s3.BucketEncryption.KMS if key else s3.BucketEncryption.S3_MANAGED,
            encryption_key=key,
            bucket_key_enabled=True if key else None,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=hardening.versioned,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.RETAIN,
            server_access_logs_bucket=log_bucket if hardening.access_logs else None,
            server_access_logs_prefix=f"{bucket.name}/" if hardening.access_logs else None,
        )
        _keep_logical_id(created.node.default_child, created.node.id, "Resource")
        if created.policy is not None:
            _keep_logical_id(
                created.policy.node.default_child, created.node.id, "Policy", "Resource"
            )
        _retain_policy(created)
        if not hardening.access_logs:
            Validations.of(created).acknowledge(
                Acknowledgment(
                    id="AwsSolutions::AwsSolutions-S1",
                    reason="A data bucket for Encord to read by signed URL; its server access "
                    "logs are off unless `accessLogs` (or a compliance pack) turns them on.",
                )
            )
        compliance.acknowledge(created, "S3BucketReplicationEnabled", _REPLICATION_REASON)
        return created

    def _outputs(
        self,
        config: AccessConfig,
        constructs: dict[str, s3.IBucket],
        keys: dict[str, kms.IKey | None],
    ) -> None:
        buckets = [
            bucket_output(
                name=b.name,
                region=b.region or Aws.REGION,
                prefixes=b.prefixes,
                created=b.create,
                write_prefix=b.write_prefix,
                kms_key_arn=k.key_arn if (k := keys[b.name]) else None,
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


def _retain_policy(bucket: s3.Bucket) -> None:
    """Keep a retained bucket's policy with it when the stack is deleted: its TLS-only deny,
    and the log bucket's permission for S3's log delivery, which the retained buckets use."""
    if bucket.policy is not None:
        bucket.policy.apply_removal_policy(RemovalPolicy.RETAIN)


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
