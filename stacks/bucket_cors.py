"""The CORS rule on Encord's buckets, so Encord's web apps can load the media in the browser.

The rule itself (ID, origins, methods, headers, max age) is `registration.contract.cors_rule`,
the same one `encord-register verify` checks. How it reaches a bucket depends on the bucket:

- a `s3.Bucket` of this app gets it through ``bucket.add_cors_rule`` (plain CloudFormation);
- an imported bucket cannot be given CORS by CloudFormation, and ``PutBucketCors`` replaces
  the whole configuration, so a custom resource (`stacks/cors_handler/index.py`) merges the
  rule by its ID: it adds or updates only this rule, keeps the bucket's other rules, and on
  delete removes only this rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import CustomResource, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.cors_handler import index as cors_handler

#: The Lambda asset: `index.py` alone (standard library and boto3 only).
HANDLER_DIR = Path(__file__).resolve().parent / "cors_handler"


def add_to_bucket(bucket: s3.Bucket, rule: Mapping[str, Any]) -> None:
    """Put `rule` (`registration.contract.cors_rule`, S3 API shape) on a `Bucket` of this app."""
    bucket.add_cors_rule(
        id=rule["ID"],
        allowed_origins=list(rule["AllowedOrigins"]),
        allowed_methods=[s3.HttpMethods(m) for m in rule["AllowedMethods"]],
        allowed_headers=list(rule["AllowedHeaders"]),
        exposed_headers=list(rule["ExposeHeaders"]),
        max_age=rule["MaxAgeSeconds"],
    )


@dataclass(frozen=True)
class ImportedBucket:
    """An imported bucket whose CORS configuration the custom resource merges into."""

    #: Names the bucket's custom resource (``Cors-<label>``); stable, so it is not replaced.
    label: str
    name: str
    arn: str
    region: str


def merge_into_imported_buckets(
    scope: Construct, buckets: Sequence[ImportedBucket], rule: Mapping[str, Any]
) -> lambda_.Function:
    """One handler function in `scope`, and one custom resource per bucket; the function."""
    log_group = logs.LogGroup(
        scope,
        "CorsHandlerLogs",
        retention=logs.RetentionDays.ONE_MONTH,
        removal_policy=RemovalPolicy.DESTROY,
    )
    role = iam.Role(
        scope,
        "CorsHandlerRole",
        description="Reads and updates the CORS configuration of the existing Encord data buckets",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        inline_policies={
            "BucketCors": iam.PolicyDocument(
                statements=[
                    iam.PolicyStatement(
                        sid="MergeOwnCorsRule",
                        # PutBucketCORS also authorises DeleteBucketCors.
                        actions=["s3:GetBucketCORS", "s3:PutBucketCORS"],
                        resources=[b.arn for b in buckets],
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
        scope,
        "CorsHandler",
        description="Adds, updates or removes only this stack's CORS rule on existing buckets",
        runtime=lambda_.Runtime.PYTHON_3_14,
        handler="index.handler",
        code=lambda_.Code.from_asset(
            str(HANDLER_DIR), exclude=["__pycache__", "*.pyc", "__init__.py"]
        ),
        timeout=Duration.minutes(2),
        memory_size=128,
        role=role,
        log_group=log_group,
    )
    function.node.add_dependency(role)
    for bucket in buckets:
        CustomResource(
            scope,
            f"Cors-{bucket.label}",
            service_token=function.function_arn,
            resource_type=cors_handler.RESOURCE_TYPE,
            properties={
                "BucketName": bucket.name,
                "Region": bucket.region,
                "RuleId": rule["ID"],
                "AllowedOrigins": list(rule["AllowedOrigins"]),
                "AllowedMethods": list(rule["AllowedMethods"]),
                "AllowedHeaders": list(rule["AllowedHeaders"]),
                "ExposeHeaders": list(rule["ExposeHeaders"]),
                # CloudFormation sends every scalar as a string; the handler parses it back.
                "MaxAgeSeconds": str(rule["MaxAgeSeconds"]),
            },
        )
    return function
