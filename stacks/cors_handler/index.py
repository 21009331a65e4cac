"""Custom resource handler: add, update or remove this stack's CORS rule on an existing bucket.

`PutBucketCors` replaces a bucket's whole CORS configuration, so a naive handler would wipe
the rules a customer already has, and delete them all when the stack goes. This handler does
read-modify-write instead: it owns exactly one rule, identified by its ``ID``, adds or
replaces only that rule, keeps every other rule in place and in order, is idempotent, and on
delete removes only its own rule (deleting the configuration only when nothing else is left).

Resource properties (CloudFormation sends every value as a string):
``BucketName``, ``Region`` (may be empty: the bucket's region is looked up), ``RuleId``,
``AllowedOrigins`` (list), ``AllowedMethods`` (list), ``AllowedHeaders`` (list),
``ExposeHeaders`` (list), ``MaxAgeSeconds``.

Only the standard library and boto3 are used: this file is the Lambda's code.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import ClientError

LOG = logging.getLogger(__name__)
LOG.setLevel(logging.INFO)

#: The custom resource type this handler serves (the stack and the local emulator key on it).
RESOURCE_TYPE = "Custom::EncordBucketCors"
#: S3 accepts at most this many CORS rules per bucket.
MAX_CORS_RULES = 100

S3ClientFactory = Callable[[str | None], Any]


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


def merge_rule(existing: list[dict[str, Any]], rule: dict[str, Any]) -> list[dict[str, Any]]:
    """`existing` with `rule` added, or replacing the rule with the same ID in place."""
    merged: list[dict[str, Any]] = []
    placed = False
    for current in existing:
        if current.get("ID") == rule["ID"]:
            if not placed:
                merged.append(rule)
                placed = True
            continue
        merged.append(current)
    if not placed:
        merged.append(rule)
    if len(merged) > MAX_CORS_RULES:
        raise ValueError(
            f"the bucket already has {len(existing)} CORS rules; S3 allows {MAX_CORS_RULES}. "
            "Remove unused rules, then deploy again"
        )
    return merged


def remove_rule(existing: list[dict[str, Any]], rule_id: str) -> list[dict[str, Any]]:
    """`existing` without the rule whose ID is `rule_id`."""
    return [r for r in existing if r.get("ID") != rule_id]


def read_rules(s3: Any, bucket: str) -> list[dict[str, Any]]:
    """The bucket's CORS rules (empty when it has no CORS configuration)."""
    try:
        return list(s3.get_bucket_cors(Bucket=bucket).get("CORSRules", []))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchCORSConfiguration":
            return []
        raise


def write_rules(s3: Any, bucket: str, rules: list[dict[str, Any]]) -> None:
    """Store `rules` as the bucket's CORS configuration (deleting it when empty)."""
    if rules:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
    else:
        s3.delete_bucket_cors(Bucket=bucket)


def _default_client(region: str | None) -> Any:
    return boto3.client("s3", region_name=region or None)


def apply_event(
    event: dict[str, Any], client_for: S3ClientFactory = _default_client
) -> tuple[str, dict[str, str]]:
    """Carry out one CloudFormation request; return (physical resource ID, data)."""
    props = event["ResourceProperties"]
    bucket = str(props["BucketName"])
    region = str(props.get("Region") or "") or None
    rule_id = str(props["RuleId"])
    physical_id = f"{bucket}/{rule_id}"
    s3 = client_for(region)
    request = event["RequestType"]
    try:
        return _apply(event, s3, request, bucket, rule_id, physical_id)
    except ClientError as exc:
        raise RuntimeError(_explain(exc, bucket, region)) from exc


def _explain(exc: ClientError, bucket: str, region: str | None) -> str:
    """A message for CloudFormation's event log that says what to change."""
    code = exc.response.get("Error", {}).get("Code", "")
    if code == "NoSuchBucket":
        return (
            f"bucket {bucket} does not exist in this account: create it, or set "
            '"create": true for it in the encord configuration'
        )
    if code in (
        "PermanentRedirect",
        "AuthorizationHeaderMalformed",
        "IllegalLocationConstraintException",
    ):
        return (
            f"bucket {bucket} is not in {region or 'the stack region'}: set its "
            '"region" in the encord configuration'
        )
    if code in ("AccessDenied", "AccessDeniedException"):
        return (
            f"access denied to the CORS configuration of {bucket}: a bucket policy or an SCP "
            "denies s3:GetBucketCORS/s3:PutBucketCORS to the stack's handler role"
        )
    return f"{exc.operation_name} on {bucket} failed: {code} {exc}"


def _apply(
    event: dict[str, Any], s3: Any, request: str, bucket: str, rule_id: str, physical_id: str
) -> tuple[str, dict[str, str]]:
    props = event["ResourceProperties"]
    if request == "Delete":
        # CloudFormation deletes the old resource after an update that changed the bucket:
        # the physical ID of the event names the bucket and rule to clean up.
        old_id = str(event.get("PhysicalResourceId") or physical_id)
        old_bucket, _, old_rule = old_id.rpartition("/")
        old_bucket = old_bucket or bucket
        try:
            rules = read_rules(s3, old_bucket)
            if any(r.get("ID") == (old_rule or rule_id) for r in rules):
                write_rules(s3, old_bucket, remove_rule(rules, old_rule or rule_id))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchBucket":
                raise
            LOG.info("bucket %s is gone; nothing to remove", old_bucket)
        return old_id, {}
    rule = rule_from_properties(props)
    rules = read_rules(s3, bucket)
    merged = merge_rule(rules, rule)
    if merged != rules:
        write_rules(s3, bucket, merged)
    kept = sum(1 for r in merged if r.get("ID") != rule_id)
    LOG.info("bucket %s: rule %s in place, %d other rule(s) kept", bucket, rule_id, kept)
    return physical_id, {"RuleId": rule_id, "OtherRules": str(kept)}


def _respond(
    event: dict[str, Any], status: str, physical_id: str, data: dict[str, str], reason: str
) -> None:
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason[:3500],
            "PhysicalResourceId": physical_id,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": data,
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - CloudFormation's pre-signed https URL
        event["ResponseURL"],
        data=body,
        method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(body))},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        response.read()


def handler(event: dict[str, Any], context: Any) -> None:
    """Lambda entry point: apply the request and always answer CloudFormation."""
    LOG.info("%s %s", event.get("RequestType"), event.get("LogicalResourceId"))
    fallback_id = str(event.get("PhysicalResourceId") or event.get("LogicalResourceId", "cors"))
    try:
        physical_id, data = apply_event(event)
    except Exception as exc:
        LOG.exception("CORS update failed")
        _respond(event, "FAILED", fallback_id, {}, f"{type(exc).__name__}: {exc}")
        return
    _respond(event, "SUCCESS", physical_id, data, "OK")
