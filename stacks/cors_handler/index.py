"""Custom resource handler: add, update or remove this stack's CORS rule on an existing bucket.

`PutBucketCors` replaces a bucket's whole CORS configuration, so a naive handler would wipe
the rules a customer already has, and delete them all when the stack goes. This handler owns
exactly one rule, identified by its ``ID``, and leaves every other rule in place and in order.
The merge, and its defence against concurrent writers (read, write, confirm, retry within
bounds), is `registration.cors_merge`: the same code `encord-register cors` runs. It is
bundled next to this file in the Lambda asset (`stacks.bucket_cors.SHARED_MODULES`).

Each function serves the buckets named in its ``ENCORD_CORS_BUCKETS`` environment variable
(comma-separated, set by the construct: one bucket per function) and refuses any event for
another bucket, whoever invokes it.

Resource properties (CloudFormation sends every value as a string):
``BucketName``, ``Region`` (may be empty: boto3's region is used), ``RuleId``,
``AllowedOrigins`` (list), ``AllowedMethods`` (list), ``AllowedHeaders`` (list),
``ExposeHeaders`` (list), ``MaxAgeSeconds``, and ``ReplacesRuleIds`` (list, optional: former
IDs of this rule, removed when it is put in place).

The physical resource ID is ``<bucket>/<rule ID>``: a Delete removes the rule it names, so
when CloudFormation replaces the resource (creates the new one, then deletes the old), the
old one's Delete removes only the old rule.

Only the standard library, boto3 and the bundled `registration.cors_merge` and
`stacks.handler_common` are used.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Collection, Mapping
from typing import Any

import boto3
from botocore.exceptions import ClientError

from registration.cors_merge import (
    DEFAULT_BOUNDS,
    Bounds,
    CorsMergeError,
    delete_rules,
    put_rule,
)
from stacks import handler_common
from stacks.handler_common import (
    Applied,
    check_bucket,
    error_code,
    explain,
    serve,
)
from stacks.handler_common import EventRefused as EventRefused  # the handler's refusal

LOG = logging.getLogger(__name__)
LOG.setLevel(logging.INFO)

#: The custom resource type this handler serves (the stack and the local emulator key on it).
RESOURCE_TYPE = "Custom::EncordBucketCors"
#: The environment variable that names the buckets a function may change (comma-separated).
ALLOWED_BUCKETS_ENV = "ENCORD_CORS_BUCKETS"

S3ClientFactory = Callable[[str | None], Any]


def allowed_buckets_from(environ: Mapping[str, str]) -> frozenset[str]:
    """The buckets named in `ALLOWED_BUCKETS_ENV` (none when unset: everything is refused)."""
    return handler_common.allowed_buckets_from(environ, ALLOWED_BUCKETS_ENV)


def rule_from_properties(props: dict[str, Any]) -> dict[str, Any]:
    """The CORS rule this resource owns, in the shape boto3's `put_bucket_cors` takes."""
    return {
        "ID": str(props["RuleId"]),
        "AllowedOrigins": [str(o) for o in props["AllowedOrigins"]],
        "AllowedMethods": [str(m) for m in props["AllowedMethods"]],
        "AllowedHeaders": [str(h) for h in props.get("AllowedHeaders", [])],
        "ExposeHeaders": [str(h) for h in props.get("ExposeHeaders", [])],
        "MaxAgeSeconds": int(props.get("MaxAgeSeconds", 3600)),
    }


def _default_client(region: str | None) -> Any:
    return boto3.client("s3", region_name=region or None)


def _check_bucket(bucket: str, allowed: Collection[str]) -> None:
    check_bucket(
        bucket,
        allowed,
        f"; configure the bucket in the stack and deploy it, or run `encord-register cors "
        f"apply --bucket {bucket}` yourself",
    )


def apply_event(
    event: dict[str, Any],
    client_for: S3ClientFactory = _default_client,
    *,
    allowed_buckets: Collection[str],
    bounds: Bounds = DEFAULT_BOUNDS,
) -> Applied:
    """Carry out one CloudFormation request; return (physical resource ID, data).

    Raises `EventRefused` for a bucket outside `allowed_buckets`, `CorsMergeError` when the
    rule cannot be put in place, and `RuntimeError` (explained) when S3 refuses.
    """
    props = event["ResourceProperties"]
    bucket = str(props["BucketName"])
    region = str(props.get("Region") or "") or None
    rule_id = str(props["RuleId"])
    request = event["RequestType"]
    if request == "Delete":
        # The physical ID names the bucket and rule this resource instance put in place.
        old_id = str(event.get("PhysicalResourceId") or f"{bucket}/{rule_id}")
        old_bucket, _, old_rule = old_id.rpartition("/")
        if not old_bucket:  # a Create that failed before answering with a physical ID
            return old_id, {}
        _check_bucket(old_bucket, allowed_buckets)
        try:
            delete_rules(client_for(region), old_bucket, [old_rule], bounds=bounds)
        except ClientError as exc:
            if error_code(exc) != "NoSuchBucket":
                raise RuntimeError(_explain(exc, old_bucket, region)) from exc
            LOG.info("bucket %s is gone; nothing to remove", old_bucket)
        return old_id, {}
    _check_bucket(bucket, allowed_buckets)
    rule = rule_from_properties(props)
    former = [str(r) for r in props.get("ReplacesRuleIds") or []]
    try:
        outcome = put_rule(client_for(region), bucket, rule, replaces=former, bounds=bounds)
    except ClientError as exc:
        raise RuntimeError(_explain(exc, bucket, region)) from exc
    kept = outcome.others(rule_id)
    LOG.info("bucket %s: rule %s in place, %d other rule(s) kept", bucket, rule_id, kept)
    return f"{bucket}/{rule_id}", {"RuleId": rule_id, "OtherRules": str(kept)}


def _explain(exc: ClientError, bucket: str, region: str | None) -> str:
    """A message for CloudFormation's event log that says what to change."""
    return explain(exc, bucket, region, "CORS configuration", "s3:GetBucketCORS/s3:PutBucketCORS")


def handler(event: dict[str, Any], context: Any) -> None:
    """Lambda entry point: apply the request and always answer CloudFormation."""
    serve(
        event,
        lambda: apply_event(event, allowed_buckets=allowed_buckets_from(os.environ)),
        refusals=(CorsMergeError,),
        fallback_id="cors",
        failure="CORS update failed",
    )
