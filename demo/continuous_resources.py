"""Continuous registration's AWS resources made with boto3, the way the construct makes them.

For the demo and the benchmark, which run the handler locally against the emulator:

- EventBridge notifications switched on for the bucket, keeping its other notification
  configurations (read, then written back with ``EventBridgeConfiguration`` added);
- a dead-letter queue, and the queue with a redrive policy to it (SSE-SQS, the construct's
  visibility timeout, retention and receive count);
- an EventBridge rule on the default bus (the construct's pattern: ``aws.s3`` / ``Object
  Created``, the bucket, the prefixes) targeting the queue (undeliverable events to the
  dead-letter queue), and the queue policy that lets EventBridge send to it;
- the DynamoDB table (``pk``/``sk``, the sparse index ``listing``/``at``, TTL ``ttl``);
- the Secrets Manager secret holding the Encord SSH key.

`HandlerSettings` for the handler are built from what was made (`ContinuousResources.settings`).
Nothing here is production code: the construct (`stacks.continuous`) is what users deploy.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import boto3

from registration.build.spec import BuildOptions
from registration.continuous import table as t
from registration.continuous.settings import (
    FUNCTION_TIMEOUT_SECONDS,
    HandlerSettings,
    WatchedBucket,
)
from stacks.continuous_rules import DEFAULT_BATCH_WINDOW_SECONDS, event_pattern

# The values of `stacks.continuous_resources` (which needs aws-cdk-lib, so is not imported).
VISIBILITY_TIMEOUT_SECONDS: Final = 6 * FUNCTION_TIMEOUT_SECONDS + DEFAULT_BATCH_WINDOW_SECONDS
"""AWS's advice for a queue read by Lambda: six times the function's timeout, plus the window."""
MAX_RECEIVE_COUNT: Final = 5
"""Receives before SQS moves a message to the dead-letter queue."""
QUEUE_RETENTION_SECONDS: Final = 7 * 24 * 3600
DLQ_RETENTION_SECONDS: Final = 14 * 24 * 3600
"""SQS's longest retention: a dead-letter message waits two weeks for a redrive."""


@dataclass(frozen=True)
class ContinuousResources:
    """What `create_resources` made: names, URLs and ARNs."""

    region: str
    queue_url: str
    queue_arn: str
    dead_letter_queue_url: str
    table_name: str
    secret_id: str
    rule_name: str

    def settings(
        self,
        *,
        buckets: Sequence[WatchedBucket],
        domain: str,
        integration: str,
        folder: str,
        build: BuildOptions | None = None,
        quiet_seconds: int,
        marker: str | None = None,
    ) -> HandlerSettings:
        """The handler's settings for these resources (what the construct writes in its env)."""
        return HandlerSettings(
            table_name=self.table_name,
            queue_url=self.queue_url,
            secret_id=self.secret_id,
            domain=domain,
            integration=integration,
            folder=folder,
            buckets=tuple(buckets),
            build=build or BuildOptions(),
            quiet_seconds=quiet_seconds,
            marker=marker,
        )


def switch_on_eventbridge(s3: Any, bucket: str) -> None:
    """EventBridge notifications on `bucket`, its other notification configurations kept."""
    current = s3.get_bucket_notification_configuration(Bucket=bucket)
    current.pop("ResponseMetadata", None)
    current["EventBridgeConfiguration"] = {}
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=current)


def create_resources(
    *,
    endpoint: str,
    region: str,
    name: str,
    bucket: str,
    prefixes: Sequence[str],
    ssh_key_text: str,
) -> ContinuousResources:
    """Make every resource for watching `bucket` under `prefixes`; names start with `name`."""
    session = boto3.session.Session(region_name=region)
    s3 = session.client("s3", endpoint_url=endpoint)
    sqs = session.client("sqs", endpoint_url=endpoint)
    events = session.client("events", endpoint_url=endpoint)
    dynamodb = session.client("dynamodb", endpoint_url=endpoint)
    secrets = session.client("secretsmanager", endpoint_url=endpoint)

    switch_on_eventbridge(s3, bucket)

    dlq_url = sqs.create_queue(
        QueueName=f"{name}-dlq",
        Attributes={
            "MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS),
            "SqsManagedSseEnabled": "true",
        },
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue_url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(VISIBILITY_TIMEOUT_SECONDS),
            "MessageRetentionPeriod": str(QUEUE_RETENTION_SECONDS),
            "SqsManagedSseEnabled": "true",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
            ),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]

    rule_name = f"{name}-object-created"
    rule_arn = events.put_rule(
        Name=rule_name, EventPattern=json.dumps(event_pattern(bucket, prefixes))
    )["RuleArn"]
    events.put_targets(
        Rule=rule_name,
        Targets=[{"Id": "queue", "Arn": queue_arn, "DeadLetterConfig": {"Arn": dlq_arn}}],
    )
    sqs.set_queue_attributes(
        QueueUrl=queue_url,
        Attributes={"Policy": json.dumps(_queue_policy(queue_arn, rule_arn))},
    )

    create_state_table(dynamodb, name)
    secret = secrets.create_secret(Name=f"{name}/encord-ssh-key", SecretString=ssh_key_text)
    return ContinuousResources(
        region=region,
        queue_url=queue_url,
        queue_arn=queue_arn,
        dead_letter_queue_url=dlq_url,
        table_name=name,
        secret_id=secret["ARN"],
        rule_name=rule_name,
    )


def _queue_policy(queue_arn: str, rule_arn: str) -> dict[str, Any]:
    """EventBridge may send to the queue for this rule only (as the CDK's SqsQueue target)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            }
        ],
    }


def create_state_table(dynamodb: Any, name: str) -> None:
    """The state table as the construct creates it (`stacks.continuous_resources`): keys
    pk/sk, the sparse index `listing` (listing, at) with every attribute, time to live `ttl`."""
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[
            {"AttributeName": t.PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": t.SORT_KEY, "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": attribute, "AttributeType": "S"}
            for attribute in (t.PARTITION_KEY, t.SORT_KEY, t.LISTING, t.AT)
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": t.LISTING_INDEX,
                "KeySchema": [
                    {"AttributeName": t.LISTING, "KeyType": "HASH"},
                    {"AttributeName": t.AT, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": t.TTL}
    )
