"""S3 -> EventBridge notifications switched on for a bucket, leaving its other notifications be.

Continuous registration listens to S3's "Object Created" events on the default event bus,
which S3 sends only when the bucket's notification configuration has an
``EventBridgeConfiguration``. How it gets there depends on the bucket:

- a `s3.Bucket` of this app: the CloudFormation property
  ``NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled`` (an override, so
  any other notification property set on the L1 bucket is kept). If the app also gives the
  bucket notifications through ``bucket.add_event_notification`` (the CDK's
  ``Custom::S3BucketNotifications``, which puts the bucket's *whole* configuration), an aspect
  turns EventBridge on in that resource too, so it never switches it off again;
- an imported bucket: ``PutBucketNotificationConfiguration`` replaces the whole configuration
  and CloudFormation cannot change an existing bucket, so a small custom resource of ours
  (`stacks/notifications_handler/index.py`) adds ``EventBridgeConfiguration`` and puts every
  Topic/Queue/Lambda configuration back as it was; on delete it switches EventBridge off only
  if it switched it on. Each bucket gets its own role (``s3:GetBucketNotification`` and
  ``s3:PutBucketNotification`` on that bucket only), function, log group and resource, as the
  CORS resource of `stacks.bucket_cors` does.

Not the CDK's ``bucket.enable_event_bridge_notification()`` for an imported bucket: its
handler shares one role across every bucket of the stack (with the AWS-managed basic execution
policy), has no answer timeout of its own, and on delete always leaves EventBridge on, whether
or not the stack switched it on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import jsii
from aws_cdk import (
    Aspects,
    Aws,
    Duration,
    IAspect,
    Names,
    Token,
)
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct, IConstruct

from stacks import handler_asset
from stacks.bucket_handler import BucketHandler, add_bucket_handler
from stacks.functions import FunctionHardening
from stacks.notifications_handler import index as handler_module

#: The Lambda asset: `index.py` of this directory, with `stacks.handler_common` beside it.
HANDLER_DIR: Final = Path(__file__).resolve().parent / "notifications_handler"
#: The Lambda timeout: the handler's own deadline, one more settle, and time for the answer.
HANDLER_TIMEOUT: Final = Duration.seconds(
    int(handler_module.DEADLINE_SECONDS + handler_module.SETTLE_SECONDS) + 30
)
#: How long CloudFormation waits for an answer (its default is an hour).
SERVICE_TIMEOUT: Final = Duration.seconds(HANDLER_TIMEOUT.to_seconds() + 60)
#: The id of the CDK's own notifications construct under a `s3.Bucket`.
_CDK_NOTIFICATIONS_ID: Final = "Notifications"


def enable_event_bridge(
    scope: Construct,
    bucket: s3.IBucket,
    *,
    region: str | None = None,
    hardening: FunctionHardening | None = None,
) -> None:
    """Switch S3 -> EventBridge notifications on for `bucket`, keeping its other notifications.

    `region` is the bucket's region when it is not the stack's (default: the bucket's own
    ``env.region``, else the stack's). The constructs of an imported bucket go under `scope`
    (``EventBridge-<bucket name>``), its function with `hardening`.
    """
    if isinstance(bucket, s3.Bucket):
        _enable_on_owned(bucket)
    else:
        _enable_on_imported(scope, bucket, region, hardening or FunctionHardening())


def _enable_on_owned(bucket: s3.Bucket) -> None:
    resource = bucket.node.default_child
    assert isinstance(resource, s3.CfnBucket)
    resource.add_property_override(
        "NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True
    )
    Aspects.of(bucket).add(_KeepEventBridgeInCdkNotifications(bucket))


@jsii.implements(IAspect)
class _KeepEventBridgeInCdkNotifications:
    """Turns EventBridge on in the CDK's own notifications resource of the bucket, if any.

    That resource (from ``add_event_notification``) puts the bucket's whole configuration on
    every deploy; with EventBridge on in it, it keeps what the property switched on.
    """

    def __init__(self, bucket: s3.Bucket) -> None:
        self._bucket = bucket

    def visit(self, node: IConstruct) -> None:
        """On the bucket's CDK notifications construct: enable EventBridge in it."""
        if node.node.scope is self._bucket and node.node.id == _CDK_NOTIFICATIONS_ID:
            self._bucket.enable_event_bridge_notification()


def _enable_on_imported(
    scope: Construct, bucket: s3.IBucket, region: str | None, hardening: FunctionHardening
) -> None:
    name = bucket.bucket_name
    label = name if not Token.is_unresolved(name) else Names.unique_id(bucket)
    where = region or _region_of(bucket)
    group = Construct(scope, f"EventBridge-{label}")
    log_group = hardening.log_group(group, "HandlerLogs", logs.RetentionDays.ONE_MONTH)
    handler = BucketHandler(
        bucket_name=name,
        bucket_arn=bucket.bucket_arn,
        sid="ChangeOwnBucketNotifications",
        actions=("s3:GetBucketNotification", "s3:PutBucketNotification"),
        role_description=(
            f"Switches S3 EventBridge notifications on for {name}, keeping the others"
        ),
        function_description=(
            f"Switches S3 EventBridge notifications on (and back off) for {name}"
        ),
        allowed_buckets_env=handler_module.ALLOWED_BUCKETS_ENV,
        resource_type=handler_module.RESOURCE_TYPE,
        timeout=HANDLER_TIMEOUT,
        service_timeout=SERVICE_TIMEOUT,
    )
    add_bucket_handler(
        group,
        handler,
        handler_asset.handler_code(HANDLER_DIR),
        log_group,
        "Notifications",
        {"BucketName": name, "Region": where},
        hardening,
    )


def _region_of(bucket: s3.IBucket) -> str:
    region = bucket.env.region
    return Aws.REGION if Token.is_unresolved(region) else region
