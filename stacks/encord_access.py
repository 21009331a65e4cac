"""`EncordAccess`: the reusable construct that gives Encord least-privilege access to S3 data.

Given a validated `AccessConfig` it creates:

- the role Encord assumes, trusted only by the configured principals and only with
  ``sts:ExternalId`` equal to the configured value;
- a managed policy attached to it (``ManagedPolicy(..., roles=[role])``, which is also what
  local emulators honour) with the statements of `stacks.permissions`;
- the CORS rule on every bucket: directly on a bucket the stack creates (encrypted, public
  access blocked, SSL enforced, retained on delete), and through a custom resource that
  merges by rule ID on an existing bucket (`stacks/cors_handler/index.py`).

cdk-nag findings are acknowledged here, next to the construct that causes them, each with
its reason.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import (
    Acknowledgment,
    CustomResource,
    Duration,
    RemovalPolicy,
    Stack,
    Validations,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.config import AccessConfig, BucketConfig
from stacks.cors_handler import index as cors_handler
from stacks.permissions import (
    access_statements,
    bucket_arn,
    bucket_region,
    prefix_wildcard_findings,
)

#: Methods Encord's apps use on media: GET, and HEAD for sizes (aws-access.md).
CORS_METHODS = ("GET", "HEAD")
#: Without these, video and byte-range requests fail in the browser.
CORS_EXPOSED_HEADERS = ("ETag", "Content-Length", "Content-Range", "Accept-Ranges")
CORS_ALLOWED_HEADERS = ("*",)
_HANDLER_DIR = Path(__file__).resolve().parent / "cors_handler"


def cors_rule_id(stack_name: str) -> str:
    """The ID of the one CORS rule a stack owns on each bucket (unique per stack)."""
    return f"encord-access-{stack_name}"[:255]


def _acknowledge(scope: Construct, rule: str, reason: str) -> None:
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))


class EncordAccess(Construct):
    """Role, policy and CORS that let Encord read the configured S3 data by reference."""

    def __init__(self, scope: Construct, construct_id: str, *, config: AccessConfig) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        self.rule_id = cors_rule_id(Stack.of(self).stack_name)
        self.role = self._role()
        self.policy = iam.ManagedPolicy(
            self,
            "AccessPolicy",
            description="Encord reads (and, where configured, writes) the configured S3 prefixes",
            statements=access_statements(config),
            roles=[self.role],
        )
        for finding in prefix_wildcard_findings(config):
            _acknowledge(
                self.policy,
                finding,
                "Object ARNs end in `<prefix>*`: Encord must read every object under a configured "
                "prefix (write: under the configured write prefix), and nothing outside them.",
            )
        self.created_buckets: dict[str, s3.Bucket] = {}
        existing: list[BucketConfig] = []
        for bucket in config.buckets:
            if bucket.create:
                self.created_buckets[bucket.name] = self._created_bucket(bucket)
            else:
                existing.append(bucket)
        if existing:
            self._existing_bucket_cors(existing)

    def _role(self) -> iam.Role:
        config = self.config
        principals: list[iam.IPrincipal] = [
            iam.AccountPrincipal(p) if p.isdigit() else iam.ArnPrincipal(p)
            for p in config.trusted_principals
        ]
        role = iam.Role(
            self,
            "EncordRole",
            role_name=config.role_name,
            description="Assumed by Encord (with the external ID) to sign URLs to the "
            "configured S3 data",
            assumed_by=iam.CompositePrincipal(*principals)
            if len(principals) > 1
            else principals[0],
            external_ids=[config.external_id],
            max_session_duration=Duration.hours(config.max_session_hours),
            permissions_boundary=iam.ManagedPolicy.from_managed_policy_arn(
                self, "Boundary", config.permissions_boundary_arn
            )
            if config.permissions_boundary_arn
            else None,
        )
        return role

    def _cors_rule(self) -> s3.CorsRule:
        return s3.CorsRule(
            id=self.rule_id,
            allowed_origins=list(self.config.cors_origins),
            allowed_methods=[s3.HttpMethods(m) for m in CORS_METHODS],
            allowed_headers=list(CORS_ALLOWED_HEADERS),
            exposed_headers=list(CORS_EXPOSED_HEADERS),
            max_age=self.config.cors_max_age_seconds,
        )

    def _created_bucket(self, config: BucketConfig) -> s3.Bucket:
        key = (
            kms.Key.from_key_arn(self, f"Key-{config.name}", config.kms_key_arn)
            if config.kms_key_arn
            else None
        )
        bucket = s3.Bucket(
            self,
            f"Bucket-{config.name}",
            bucket_name=config.name,
            encryption=s3.BucketEncryption.KMS if key else s3.BucketEncryption.S3_MANAGED,
            encryption_key=key,
            bucket_key_enabled=True if key else None,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=False,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.RETAIN,
            cors=[self._cors_rule()],
        )
        _acknowledge(
            bucket,
            "AwsSolutions::AwsSolutions-S1",
            "A data bucket for Encord to read by signed URL; server access logging needs a "
            "separate log bucket and is left to the account's logging setup (CloudTrail data "
            "events or an organisation-wide log bucket).",
        )
        return bucket

    def _existing_bucket_cors(self, buckets: list[BucketConfig]) -> None:
        """One handler Lambda, one custom resource per existing bucket."""
        log_group = logs.LogGroup(
            self,
            "CorsHandlerLogs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        role = iam.Role(
            self,
            "CorsHandlerRole",
            description="Reads and updates the CORS configuration of the existing "
            "Encord data buckets",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            inline_policies={
                "BucketCors": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            sid="MergeOwnCorsRule",
                            # PutBucketCORS also authorises DeleteBucketCors.
                            actions=["s3:GetBucketCORS", "s3:PutBucketCORS"],
                            resources=[bucket_arn(b.name) for b in buckets],
                        ),
                        iam.PolicyStatement(
                            sid="WriteOwnLogs",
                            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                            resources=[log_group.log_group_arn],
                        ),
                    ]
                )
            },
        )
        function = lambda_.Function(
            self,
            "CorsHandler",
            description="Adds, updates or removes only this stack's CORS rule on existing buckets",
            runtime=lambda_.Runtime.PYTHON_3_14,
            handler="index.handler",
            code=lambda_.Code.from_asset(
                str(_HANDLER_DIR), exclude=["__pycache__", "*.pyc", "__init__.py"]
            ),
            timeout=Duration.minutes(2),
            memory_size=128,
            role=role,
            log_group=log_group,
        )
        function.node.add_dependency(role)
        for bucket in buckets:
            CustomResource(
                self,
                f"Cors-{bucket.name}",
                service_token=function.function_arn,
                resource_type=cors_handler.RESOURCE_TYPE,
                properties={
                    "BucketName": bucket.name,
                    "Region": bucket_region(bucket),
                    "RuleId": self.rule_id,
                    "AllowedOrigins": list(self.config.cors_origins),
                    "AllowedMethods": list(CORS_METHODS),
                    "AllowedHeaders": list(CORS_ALLOWED_HEADERS),
                    "ExposeHeaders": list(CORS_EXPOSED_HEADERS),
                    "MaxAgeSeconds": str(self.config.cors_max_age_seconds),
                },
            )
