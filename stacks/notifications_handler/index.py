"""Custom resource handler: switch S3 -> EventBridge notifications on for an existing bucket.

``PutBucketNotificationConfiguration`` replaces a bucket's whole notification configuration,
so a naive handler would wipe the customer's own Topic/Queue/Lambda notifications. This one
reads the configuration, adds ``EventBridgeConfiguration`` and puts everything back as it
was; on Delete it removes ``EventBridgeConfiguration`` again only if it was this resource that
switched it on, and keeps everything else. Whether it did is remembered in the physical
resource ID (``<bucket>/eventbridge/switched-on`` or ``<bucket>/eventbridge/was-on``), so a
Delete knows without any other state.

S3 has no conditional write for the configuration, so every change is read, change, write,
then *confirm*: wait `Bounds.settle_seconds`, read again and check that EventBridge is as
wanted; another writer's overwrite starts a fresh round, within `Bounds`.

Each function serves the buckets named in its ``ENCORD_EVENTBRIDGE_BUCKETS`` environment
variable (comma-separated, set by the construct: one bucket per function) and refuses any
event for another bucket, whoever invokes it.

Resource properties (CloudFormation sends every value as a string): ``BucketName``,
``Region`` (may be empty: boto3's region is used).

Only the standard library, boto3 and the bundled `stacks.handler_common` are used.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError

from stacks import handler_common
from stacks.handler_common import Applied, check_bucket, error_code, explain, serve
from stacks.handler_common import EventRefused as EventRefused  # the handler's refusal

LOG = logging.getLogger(__name__)
LOG.setLevel(logging.INFO)

#: The custom resource type this handler serves (the stack and the local emulator key on it).
RESOURCE_TYPE = "Custom::EncordBucketEventBridge"
#: The environment variable that names the buckets a function may change (comma-separated).
ALLOWED_BUCKETS_ENV = "ENCORD_EVENTBRIDGE_BUCKETS"
#: The key of S3's notification configuration this resource owns.
EVENTBRIDGE = "EventBridgeConfiguration"
#: The other keys of a notification configuration: always put back as they were read.
OTHER_CONFIGURATIONS = (
    "TopicConfigurations",
    "QueueConfigurations",
    "LambdaFunctionConfigurations",
)
#: The last part of the physical ID: EventBridge was switched on by this resource ...
SWITCHED_ON = "switched-on"
#: ... or was on already (then a Delete leaves it on).
WAS_ON = "was-on"
_ID_INFIX = "/eventbridge/"

#: Read-change-write-confirm rounds before giving up on a bucket another writer keeps changing.
MAX_ATTEMPTS = 5
#: Seconds between a write and its confirming read (longer than another writer's read-write gap).
SETTLE_SECONDS = 2.0
#: Seconds one change may take in all (the stack derives the Lambda timeout from it).
DEADLINE_SECONDS = 60.0

S3ClientFactory = Callable[[str | None], Any]


@dataclass(frozen=True)
class Bounds:
    """How hard one change tries: attempts, total seconds, and the settle before confirming."""

    attempts: int = MAX_ATTEMPTS
    deadline_seconds: float = DEADLINE_SECONDS
    settle_seconds: float = SETTLE_SECONDS


DEFAULT_BOUNDS = Bounds()


class NotificationConflict(Exception):
    """Another writer kept overwriting the bucket's notification configuration."""


def allowed_buckets_from(environ: Mapping[str, str]) -> frozenset[str]:
    """The buckets named in `ALLOWED_BUCKETS_ENV` (none when unset: everything is refused)."""
    return handler_common.allowed_buckets_from(environ, ALLOWED_BUCKETS_ENV)


def physical_id(bucket: str, switched_on: bool) -> str:
    """The physical ID that remembers whether this resource switched EventBridge on."""
    return f"{bucket}{_ID_INFIX}{SWITCHED_ON if switched_on else WAS_ON}"


def parse_physical_id(value: str) -> tuple[str, bool] | None:
    """``(bucket, switched_on)`` of a `physical_id`; None for any other ID (a failed Create)."""
    bucket, infix, state = value.rpartition(_ID_INFIX)
    if not bucket or not infix or state not in (SWITCHED_ON, WAS_ON):
        return None
    return bucket, state == SWITCHED_ON


def read_configuration(s3: Any, bucket: str) -> dict[str, Any]:
    """The bucket's notification configuration, in the shape the put call takes."""
    response = s3.get_bucket_notification_configuration(Bucket=bucket)
    return {k: v for k, v in response.items() if k == EVENTBRIDGE or k in OTHER_CONFIGURATIONS}


def with_eventbridge(configuration: Mapping[str, Any], on: bool) -> dict[str, Any]:
    """`configuration` with EventBridge on or off and every other configuration unchanged."""
    changed = {k: v for k, v in configuration.items() if k != EVENTBRIDGE}
    if on:
        changed[EVENTBRIDGE] = {}
    return changed


def set_eventbridge(
    s3: Any, bucket: str, on: bool, bounds: Bounds = DEFAULT_BOUNDS
) -> tuple[bool, dict[str, Any]]:
    """Switch EventBridge on or off, keeping the rest; return (was it on before, what holds now).

    "Before" is the state of the first read: whether this call had anything to do.
    """
    deadline = time.monotonic() + bounds.deadline_seconds
    before: bool | None = None
    for attempt in range(1, bounds.attempts + 1):
        current = read_configuration(s3, bucket)
        if before is None:
            before = EVENTBRIDGE in current
        if (EVENTBRIDGE in current) == on:
            return before, current
        s3.put_bucket_notification_configuration(
            Bucket=bucket,
            NotificationConfiguration=with_eventbridge(current, on),
            # The customer's own destinations are put back as they are; S3 must not refuse
            # the change because one of them is unreachable today.
            SkipDestinationValidation=True,
        )
        time.sleep(bounds.settle_seconds)
        confirmed = read_configuration(s3, bucket)
        if (EVENTBRIDGE in confirmed) == on:
            return before, confirmed
        LOG.warning("bucket %s: another writer overwrote attempt %d; again", bucket, attempt)
        if time.monotonic() >= deadline:
            break
    raise NotificationConflict(
        f"another writer kept overwriting the notification configuration of {bucket}: let it "
        "finish (another stack, a script, a console session), then deploy again"
    )


def _default_client(region: str | None) -> Any:
    return boto3.client("s3", region_name=region or None)


def _check_bucket(bucket: str, allowed: Collection[str]) -> None:
    check_bucket(bucket, allowed)


def apply_event(
    event: Mapping[str, Any],
    client_for: S3ClientFactory = _default_client,
    *,
    allowed_buckets: Collection[str],
    bounds: Bounds = DEFAULT_BOUNDS,
) -> Applied:
    """Carry out one CloudFormation request; return (physical resource ID, data).

    Raises `EventRefused` for a bucket outside `allowed_buckets`, `NotificationConflict`, and
    `RuntimeError` (explained) when S3 refuses.
    """
    props = event["ResourceProperties"]
    bucket = str(props["BucketName"])
    region = str(props.get("Region") or "") or None
    request = event["RequestType"]
    previous = parse_physical_id(str(event.get("PhysicalResourceId") or ""))
    if request == "Delete":
        return _delete(event, previous, client_for(region), allowed_buckets, bounds)
    _check_bucket(bucket, allowed_buckets)
    try:
        was_on, now = set_eventbridge(client_for(region), bucket, True, bounds)
    except ClientError as exc:
        raise RuntimeError(_explain(exc, bucket, region)) from exc
    # An Update of the same bucket keeps what the Create found: EventBridge that was on
    # before the stack stays on after it, and one the stack switched on goes with it.
    if request == "Update" and previous is not None and previous[0] == bucket:
        switched_on = previous[1] or not was_on
    else:
        switched_on = not was_on
    kept = sum(len(now.get(k, [])) for k in OTHER_CONFIGURATIONS)
    LOG.info(
        "bucket %s: EventBridge on (%s), %d other notification(s) kept",
        bucket,
        "switched on by this stack" if switched_on else "already on",
        kept,
    )
    data = {"SwitchedOn": str(switched_on).lower(), "OtherNotifications": str(kept)}
    return physical_id(bucket, switched_on), data


def _delete(
    event: Mapping[str, Any],
    previous: tuple[str, bool] | None,
    s3: Any,
    allowed_buckets: Collection[str],
    bounds: Bounds,
) -> Applied:
    old_id = str(event.get("PhysicalResourceId") or "")
    if previous is None:  # a Create that failed before answering with this resource's ID
        return old_id, {}
    bucket, switched_on = previous
    if not switched_on:
        LOG.info("bucket %s: EventBridge was on before this stack; left on", bucket)
        return old_id, {}
    _check_bucket(bucket, allowed_buckets)
    try:
        set_eventbridge(s3, bucket, False, bounds)
    except ClientError as exc:
        if error_code(exc) != "NoSuchBucket":
            raise RuntimeError(_explain(exc, bucket, None)) from exc
        LOG.info("bucket %s is gone; nothing to switch off", bucket)
    return old_id, {}


def _explain(exc: ClientError, bucket: str, region: str | None) -> str:
    """A message for CloudFormation's event log that says what to change."""
    return explain(
        exc,
        bucket,
        region,
        "notification configuration",
        "s3:GetBucketNotification/s3:PutBucketNotification",
    )


def handler(event: dict[str, Any], context: Any) -> None:
    """Lambda entry point: apply the request and always answer CloudFormation."""
    serve(
        event,
        lambda: apply_event(event, allowed_buckets=allowed_buckets_from(os.environ)),
        refusals=(NotificationConflict,),
        fallback_id="eventbridge",
        failure="EventBridge notification change failed",
    )
