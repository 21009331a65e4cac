"""The CORS rule on Encord's buckets, so Encord's web apps can load the media in the browser.

The rule itself (origins, methods, headers, max age) is `registration.contract.cors_rule`, the
same one `encord-register verify` checks; its ID is `owned_rule_id`. How it reaches a bucket
depends on the bucket:

- a `s3.Bucket` of this app gets it through ``bucket.add_cors_rule`` (plain CloudFormation);
- an imported bucket cannot be given CORS by CloudFormation, and ``PutBucketCors`` replaces
  the whole configuration, so a custom resource merges the rule by its ID
  (`stacks/cors_handler/index.py`, with the merge of `registration.cors_merge`).

Each imported bucket gets its own handler (`stacks.bucket_handler`): a role allowed to change
only that bucket's CORS, a function that accepts events only for that bucket, and the custom
resource, deleted before the function and the permission it needs; a shared role narrowed
during the update would leave the rule behind (AccessDenied in the cleanup phase, which does
not roll back).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from aws_cdk import Duration, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from registration import cors_merge
from registration.contract import CORS_RULE_ID_PREFIX
from stacks import handler_asset
from stacks.bucket_handler import BucketHandler, add_bucket_handler
from stacks.cors_handler import index as cors_handler
from stacks.functions import FunctionHardening

#: The Lambda asset: `index.py` of this directory ...
HANDLER_DIR: Final = Path(__file__).resolve().parent / "cors_handler"
#: ... plus these modules of the helper, at the same package path (the one merge shared with
#: `encord-register cors`), and `stacks.handler_common`. They use only the standard library
#: and botocore.
SHARED_MODULES: Final = (Path(cors_merge.__file__).resolve(),)

# --- time bounds, all derived from the merge's own (`registration.cors_merge`) -------------

#: The Lambda timeout: the merge's deadline, one more settle, and time for S3 and the answer.
HANDLER_TIMEOUT: Final = Duration.seconds(
    int(cors_merge.DEADLINE_SECONDS + cors_merge.SETTLE_SECONDS) + 30
)
#: How long CloudFormation waits for an answer (its default is an hour): the Lambda timeout
#: and a margin for the invocation to start.
SERVICE_TIMEOUT: Final = Duration.seconds(HANDLER_TIMEOUT.to_seconds() + 60)


def owned_rule_id(scope: Construct, label: str) -> str:
    """The ID of the rule `scope` keeps for `label`: ``encord-access-<stack>-<region>-<hash>``.

    Unique per stack name, region (two stacks of one name in two regions may share a bucket)
    and construct path + bucket (the 8 hex digits), so a renamed construct, whose custom
    resource CloudFormation creates before it deletes the old one, writes a rule of its own
    instead of one the old resource's delete would remove. May contain tokens (an
    environment-agnostic stack's region).
    """
    stack = Stack.of(scope)
    digest = hashlib.sha256(f"{scope.node.path}/{label}".encode()).hexdigest()[:8]
    return f"{CORS_RULE_ID_PREFIX}{stack.stack_name}-{stack.region}-{digest}"


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
    """An imported bucket whose CORS configuration a custom resource merges the rule into."""

    #: Names the bucket's constructs (``BucketCors-<label>``); stable, so they are not replaced.
    label: str
    name: str
    arn: str
    region: str
    #: The ID of the rule kept on this bucket.
    rule_id: str
    #: Former IDs of the rule (earlier versions of this project), removed when it is put.
    replaces: tuple[str, ...] = ()


def handler_code() -> lambda_.Code:
    """The handler's code: `HANDLER_DIR` with `SHARED_MODULES` (`stacks.handler_asset`)."""
    return handler_asset.handler_code(HANDLER_DIR, SHARED_MODULES)


def merge_into_imported_buckets(
    scope: Construct,
    buckets: Sequence[ImportedBucket],
    rule: Mapping[str, Any],
    hardening: FunctionHardening,
) -> dict[str, lambda_.Function]:
    """For each bucket, its handler role, function and custom resource; the functions by name."""
    log_group = hardening.log_group(scope, "CorsHandlerLogs", logs.RetentionDays.ONE_MONTH)
    code = handler_code()
    functions: dict[str, lambda_.Function] = {}
    for bucket in buckets:
        functions[bucket.name] = _bucket_handler(scope, bucket, rule, code, log_group, hardening)
    return functions


def _bucket_handler(
    scope: Construct,
    bucket: ImportedBucket,
    rule: Mapping[str, Any],
    code: lambda_.Code,
    log_group: logs.ILogGroup,
    hardening: FunctionHardening,
) -> lambda_.Function:
    group = Construct(scope, f"BucketCors-{bucket.label}")
    properties: dict[str, Any] = {
        "BucketName": bucket.name,
        "Region": bucket.region,
        "RuleId": bucket.rule_id,
        "AllowedOrigins": list(rule["AllowedOrigins"]),
        "AllowedMethods": list(rule["AllowedMethods"]),
        "AllowedHeaders": list(rule["AllowedHeaders"]),
        "ExposeHeaders": list(rule["ExposeHeaders"]),
        # CloudFormation sends every scalar as a string; the handler parses it back.
        "MaxAgeSeconds": str(rule["MaxAgeSeconds"]),
    }
    if bucket.replaces:
        properties["ReplacesRuleIds"] = list(bucket.replaces)
    handler = BucketHandler(
        bucket_name=bucket.name,
        bucket_arn=bucket.arn,
        sid="MergeOwnCorsRule",
        # PutBucketCORS also authorises DeleteBucketCors.
        actions=("s3:GetBucketCORS", "s3:PutBucketCORS"),
        role_description=(
            f"Merges the Encord CORS rule into the CORS configuration of {bucket.name}"
        ),
        function_description=(
            f"Adds, updates or removes only this stack's CORS rule on {bucket.name}"
        ),
        allowed_buckets_env=cors_handler.ALLOWED_BUCKETS_ENV,
        resource_type=cors_handler.RESOURCE_TYPE,
        timeout=HANDLER_TIMEOUT,
        service_timeout=SERVICE_TIMEOUT,
    )
    return add_bucket_handler(group, handler, code, log_group, "Rule", properties, hardening)
