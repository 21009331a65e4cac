"""The existing-bucket EventBridge handler: switches EventBridge on, keeps every other notification.

Runs the handler's code against moto's S3 (with real SQS and SNS destinations) in-process, and
its Lambda entry point against a local HTTP server standing in for CloudFormation's pre-signed
response URL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from stacks.notifications_handler import index
from tests.emulators.moto_server import notification_read_with_eventbridge
from tests.unit.stacks.conftest import CloudFormationAnswers

BUCKET = "customer-data"
FAST = index.Bounds(attempts=3, deadline_seconds=5, settle_seconds=0)
PROPS = {"BucketName": BUCKET, "Region": "us-east-1"}


@pytest.fixture
def s3(offline_aws: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from moto.s3.responses import S3Response

    # moto stores EventBridgeConfiguration but leaves it out of the read: the emulator's patch.
    read = notification_read_with_eventbridge(S3Response.get_bucket_notification)
    monkeypatch.setattr(S3Response, "get_bucket_notification", read)
    with mock_aws():
        client = boto3.client("s3", region_name=offline_aws)
        client.create_bucket(Bucket=BUCKET)
        yield client


def customer_notifications(region: str) -> dict[str, Any]:
    """A customer's own queue and topic notifications, with real destinations."""
    sqs = boto3.client("sqs", region_name=region)
    sns = boto3.client("sns", region_name=region)
    queue_url = sqs.create_queue(QueueName="customer-queue")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    topic_arn = sns.create_topic(Name="customer-topic")["TopicArn"]
    return {
        "QueueConfigurations": [
            {
                "Id": "customer-thumbnails",
                "QueueArn": queue_arn,
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".jpg"}]}},
            }
        ],
        "TopicConfigurations": [
            {"Id": "customer-audit", "TopicArn": topic_arn, "Events": ["s3:ObjectRemoved:*"]}
        ],
    }


def held(s3: Any) -> dict[str, Any]:
    """What S3 holds, without the response metadata."""
    response = s3.get_bucket_notification_configuration(Bucket=BUCKET)
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def apply(
    s3: Any,
    request: str,
    physical_id: str | None = None,
    *,
    allowed: frozenset[str] = frozenset({BUCKET}),
    props: dict[str, Any] | None = None,
) -> tuple[str, dict[str, str]]:
    event: dict[str, Any] = {"RequestType": request, "ResourceProperties": props or PROPS}
    if physical_id:
        event["PhysicalResourceId"] = physical_id
    return index.apply_event(event, lambda region: s3, allowed_buckets=allowed, bounds=FAST)


def test_create_switches_eventbridge_on_and_keeps_the_customers_notifications(
    s3: Any, offline_aws: str
) -> None:
    theirs = customer_notifications(offline_aws)
    s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration=theirs)

    physical, data = apply(s3, "Create")

    assert held(s3) == {**theirs, "EventBridgeConfiguration": {}}
    assert physical == f"{BUCKET}/eventbridge/switched-on"
    assert data == {"SwitchedOn": "true", "OtherNotifications": "2"}

    apply(s3, "Delete", physical)
    assert held(s3) == theirs  # EventBridge off again, theirs exactly as they were


def test_eventbridge_that_was_on_before_stays_on_after_delete(s3: Any, offline_aws: str) -> None:
    theirs = {**customer_notifications(offline_aws), "EventBridgeConfiguration": {}}
    s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration=theirs)

    physical, data = apply(s3, "Create")
    assert physical == f"{BUCKET}/eventbridge/was-on"
    assert data["SwitchedOn"] == "false"
    assert held(s3) == theirs

    apply(s3, "Delete", physical)
    assert held(s3) == theirs


def test_a_bucket_without_notifications(s3: Any) -> None:
    physical, _ = apply(s3, "Create")
    assert held(s3) == {"EventBridgeConfiguration": {}}
    apply(s3, "Delete", physical)
    assert held(s3) == {}


def test_update_keeps_what_the_create_found(s3: Any) -> None:
    physical, _ = apply(s3, "Create")
    assert apply(s3, "Update", physical)[0] == physical  # still ours to switch off

    s3.put_bucket_notification_configuration(
        Bucket=BUCKET, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    was_on, _ = apply(s3, "Create")
    assert apply(s3, "Update", was_on)[0] == was_on  # still not ours


def test_update_after_someone_switched_it_off_takes_it_over(s3: Any) -> None:
    """On again, and now this stack's: the new ID makes CloudFormation delete the old one,
    whose delete ("was on") changes nothing."""
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    was_on, _ = apply(s3, "Create")
    s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration={})

    physical, data = apply(s3, "Update", was_on)

    assert physical == f"{BUCKET}/eventbridge/switched-on" and data["SwitchedOn"] == "true"
    apply(s3, "Delete", was_on)  # the old resource, in the cleanup phase
    assert held(s3) == {"EventBridgeConfiguration": {}}
    apply(s3, "Delete", physical)
    assert held(s3) == {}


def test_delete_of_a_failed_create_and_of_a_gone_bucket_succeed(s3: Any) -> None:
    assert apply(s3, "Delete", "LogicalId") == ("LogicalId", {})
    physical, _ = apply(s3, "Create")
    s3.delete_bucket(Bucket=BUCKET)
    assert apply(s3, "Delete", physical) == (physical, {})


def test_a_missing_bucket_says_what_to_do(s3: Any) -> None:
    with pytest.raises(RuntimeError, match="bucket gone does not exist in this account"):
        apply(s3, "Create", allowed=frozenset({"gone"}), props={**PROPS, "BucketName": "gone"})


def test_a_bucket_it_was_not_deployed_for_is_refused(s3: Any) -> None:
    with pytest.raises(index.EventRefused, match="it serves: another-bucket"):
        apply(s3, "Create", allowed=frozenset({"another-bucket"}))
    assert held(s3) == {}
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    with pytest.raises(index.EventRefused):
        apply(s3, "Delete", f"{BUCKET}/eventbridge/switched-on", allowed=frozenset())
    assert held(s3) == {"EventBridgeConfiguration": {}}


class _Overwriter:
    """An S3 client whose bucket another writer resets right after each of our writes."""

    def __init__(self, s3: Any, times: int) -> None:
        self._s3, self.left = s3, times

    def get_bucket_notification_configuration(self, **kw: Any) -> Any:
        return self._s3.get_bucket_notification_configuration(**kw)

    def put_bucket_notification_configuration(self, **kw: Any) -> Any:
        answer = self._s3.put_bucket_notification_configuration(**kw)
        if self.left:
            self.left -= 1
            self._s3.put_bucket_notification_configuration(
                Bucket=BUCKET, NotificationConfiguration={}
            )
        return answer


def test_a_concurrent_overwrite_is_noticed_and_redone(s3: Any) -> None:
    client = _Overwriter(s3, times=1)
    event = {"RequestType": "Create", "ResourceProperties": PROPS}
    index.apply_event(event, lambda region: client, allowed_buckets={BUCKET}, bounds=FAST)
    assert held(s3) == {"EventBridgeConfiguration": {}}


def test_a_writer_that_keeps_overwriting_is_reported(s3: Any) -> None:
    client = _Overwriter(s3, times=10)
    event = {"RequestType": "Create", "ResourceProperties": PROPS}
    with pytest.raises(index.NotificationConflict, match="another writer kept overwriting"):
        index.apply_event(event, lambda region: client, allowed_buckets={BUCKET}, bounds=FAST)


def test_lambda_entry_point_answers_cloudformation(
    s3: Any, cloudformation: CloudFormationAnswers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index.apply_event, "__defaults__", (lambda region: s3,))
    monkeypatch.setitem(index.apply_event.__kwdefaults__, "bounds", FAST)
    monkeypatch.setenv(index.ALLOWED_BUCKETS_ENV, f"{BUCKET},gone")
    base = {
        "StackId": "stack",
        "RequestId": "req",
        "LogicalResourceId": "Notifications",
        "ResponseURL": cloudformation.url,
    }
    index.handler({**base, "RequestType": "Create", "ResourceProperties": PROPS}, None)
    gone = {**PROPS, "BucketName": "gone"}
    index.handler({**base, "RequestType": "Create", "ResourceProperties": gone}, None)
    monkeypatch.setenv(index.ALLOWED_BUCKETS_ENV, "another-bucket")
    index.handler(
        {
            **base,
            "RequestType": "Delete",
            "PhysicalResourceId": f"{BUCKET}/eventbridge/switched-on",
            "ResourceProperties": PROPS,
        },
        None,
    )

    ok, failed, refused = cloudformation.received
    assert ok["Status"] == "SUCCESS" and ok["RequestId"] == "req"
    assert ok["PhysicalResourceId"] == f"{BUCKET}/eventbridge/switched-on"
    assert ok["Data"] == {"SwitchedOn": "true", "OtherNotifications": "0"}
    assert failed["Status"] == "FAILED" and "bucket gone does not exist" in failed["Reason"]
    assert failed["PhysicalResourceId"] == "Notifications"
    assert refused["Status"] == "FAILED" and "it serves: another-bucket" in refused["Reason"]
    assert held(s3) == {"EventBridgeConfiguration": {}}  # the refused delete changed nothing
