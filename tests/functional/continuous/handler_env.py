"""The continuous-registration handler's world, in-process: moto's AWS and the Encord stand-in.

`handler_env(tmp_path)` (a context manager) builds what the construct deploys, with real boto3
against in-process moto: a bucket with EventBridge notifications on, an EventBridge rule
(source aws.s3, Object Created, the bucket and prefix) targeting the queue, the queue with a
dead-letter queue (RedrivePolicy, ``maxReceiveCount``), the state table with the design's key
schema (pk/sk, the sparse ``listing`` index on listing/at, TTL on ``ttl``), the Encord key in
Secrets Manager, and the Encord stand-in (the real SDK talks to it). `HandlerEnv.engine()` is a
new "container" of the handler; `HandlerEnv.poller()` an emulated event source mapping on it.

One thing moto does not give in-process: requests that are atomic across threads. moto checks a
DynamoDB condition and then writes, in Python, with no lock, so two threads can both pass
(checked: 4 threads racing for one conditional write, 300 times, had two winners 3 times), and
two threads receiving from one SQS queue can both move a message. DynamoDB and SQS guarantee
it, and exactly-once rests on DynamoDB's, so the handler's DynamoDB and SQS clients and the
pollers' receiving are wrapped here to send one request at a time (`Serialized`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from demo.continuous_resources import create_state_table
from registration.build.spec import BuildOptions
from registration.continuous import table as t
from registration.continuous.aws import AwsClients
from registration.continuous.dynamo import decode_record, key_of
from registration.continuous.engine import Engine
from registration.continuous.handler import build_engine
from registration.continuous.settings import HandlerSettings, WatchedBucket
from registration.encord.retry import RetryPolicy
from tests.emulators.moto_transactions import fast_transactions
from tests.emulators.sqs_poller import SqsPoller, drain
from tests.standin.testing import EncordEnv, encord_env

REGION = "us-east-1"
BUCKET = "camera-uploads"
PREFIX = "live/"
FOLDER = "continuous/live"
SECRET = "encord/registration-key"
MAX_RECEIVE_COUNT = 3
VISIBILITY_SECONDS = 1
FAST_RETRIES = RetryPolicy(max_attempts=8, base_delay=0.01, max_delay=0.05)


class FakeClock:
    """A clock the test moves (leases, quiet periods); starts at the real time."""

    def __init__(self) -> None:
        self.value = time.time()
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self.value

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.value += seconds


class Serialized:
    """A boto3 client whose calls run one at a time (see the module docstring)."""

    def __init__(self, client: Any, lock: threading.Lock) -> None:
        self._client = client
        self._lock = lock

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute) or name.startswith("_") or name in ("exceptions", "meta"):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attribute(*args, **kwargs)

        return call


def eventbridge_body(
    bucket: str, key: str, size: int, etag: str, *, event_id: str = "0", etag_field: str = "etag"
) -> str:
    """An S3 Object Created event exactly as EventBridge delivers it to SQS (real S3 spells
    the tag `etag`; moto `eTag`)."""
    return json.dumps(
        {
            "version": "0",
            "id": event_id,
            "detail-type": "Object Created",
            "source": "aws.s3",
            "account": "123456789012",
            "time": "2026-01-02T03:04:05Z",
            "region": REGION,
            "resources": [f"arn:aws:s3:::{bucket}"],
            "detail": {
                "version": "0",
                "bucket": {"name": bucket},
                "object": {
                    "key": key,
                    "size": size,
                    etag_field: etag,
                    "version-id": "null",
                    "sequencer": "0062E99A88DC407460",
                },
                "request-id": "N4N7GDK58NMKJ12R",
                "requester": "123456789012",
                "source-ip-address": "1.2.3.4",
                "reason": "PutObject",
            },
        }
    )


@dataclass
class HandlerEnv:
    """The clients, names and stand-in of one test."""

    s3: Any
    sqs: Any
    dynamodb: Any
    encord: EncordEnv
    queue_url: str
    dlq_url: str
    table: str
    settings: HandlerSettings
    lines: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    sqs_lock: threading.Lock = field(default_factory=threading.Lock)

    def clients(self) -> AwsClients:
        """The handler's clients (DynamoDB and SQS serialized: see the module docstring)."""
        return AwsClients(
            s3=self.s3,
            dynamodb=Serialized(self.dynamodb, self.lock),
            sqs=Serialized(self.sqs, self.sqs_lock),
            secrets=boto3.client("secretsmanager", region_name=REGION),
        )

    def engine(self, **overrides: Any) -> Engine:
        """A new handler "container" (its own Encord connection and caches)."""
        parts: dict[str, Any] = {"write": self.lines.append, "policy": FAST_RETRIES}
        parts["poll_seconds"] = 1
        parts.update(overrides)
        settings = parts.pop("settings", self.settings)
        return build_engine(settings, self.clients(), **parts)

    def poller(self, engine: Engine | None = None, **options: Any) -> SqsPoller:
        """An emulated event source mapping calling `engine` (a new one by default)."""
        handler = (engine or self.engine()).handle
        receiving = Serialized(self.sqs, self.sqs_lock)
        return SqsPoller(receiving, self.queue_url, handler, wait_seconds=0, **options)

    def put(self, key: str, body: bytes = b"data", **extra: Any) -> str:
        """Put an object (its event goes to the queue through EventBridge); its ETag."""
        answer = self.s3.put_object(Bucket=BUCKET, Key=key, Body=body, **extra)
        return str(answer["ETag"]).strip('"')

    def send(self, body: str) -> str:
        """Put a message body on the queue; its message ID."""
        return str(self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=body)["MessageId"])

    def depth(self, url: str | None = None, *, delayed: bool = True) -> int:
        """Messages left in the queue (visible and in flight; delayed ones with `delayed`)."""
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        if delayed:
            names.append("ApproximateNumberOfMessagesDelayed")
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url or self.queue_url, AttributeNames=names
        )["Attributes"]
        return sum(int(value) for value in attributes.values())

    def drain(
        self,
        pollers: list[SqsPoller],
        until: Any = None,
        timeout: float = 90.0,
        *,
        delayed: bool = True,
    ) -> bool:
        """Run the pollers until the queue is empty (delayed checks too, with `delayed`) and
        `until()` holds."""
        return drain(
            pollers,
            lambda: self.depth(delayed=delayed) == 0 and (until is None or until()),
            timeout=timeout,
        )

    def items(self) -> list[dict[str, Any]]:
        """What the stand-in holds in the folder."""
        return self.encord.items(FOLDER)

    def record(self, pk: str, sk: str) -> dict[str, Any] | None:
        """A record of the state table."""
        answer = self.dynamodb.get_item(TableName=self.table, Key=key_of(pk, sk))
        return decode_record(answer.get("Item"))

    def listed(self, listing: str) -> list[dict[str, Any]]:
        """The records of one partition of the `listing` index."""
        answer = self.dynamodb.query(
            TableName=self.table,
            IndexName=t.LISTING_INDEX,
            KeyConditionExpression="#l = :l",
            ExpressionAttributeNames={"#l": t.LISTING},
            ExpressionAttributeValues={":l": {"S": listing}},
        )
        return [r for r in (decode_record(i) for i in answer.get("Items", [])) if r]

    def events(self, name: str) -> list[dict[str, Any]]:
        """The handler's JSON log lines of one event."""
        return [d for d in map(json.loads, self.lines) if d.get("event") == name]

    def metric_lines(self) -> list[dict[str, Any]]:
        """The handler's embedded-metric-format lines."""
        return [d for d in map(json.loads, self.lines) if "_aws" in d]


def url_of(key: str) -> str:
    """The object URL the handler registers for `key` of the test bucket."""
    from registration.build.urls import UrlBuilder

    return UrlBuilder(BUCKET, REGION).url(key)


@contextmanager
def handler_env(
    tmp_path: Path,
    *,
    build: BuildOptions | None = None,
    quiet_seconds: int = 1,
    marker: str | None = "_COMPLETE",
    concurrent_jobs: bool = False,
    job_latency: float = 0.05,
) -> Iterator[HandlerEnv]:
    """Moto (in-process) and the stand-in, wired as the construct wires the real ones."""
    with (
        mock_aws(),
        fast_transactions(),
        encord_env(
            tmp_path, job_latency=job_latency, max_poll_hold=0.3, concurrent_jobs=concurrent_jobs
        ) as encord,
    ):
        s3 = boto3.client("s3", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        events = boto3.client("events", region_name=REGION)
        secrets = boto3.client("secretsmanager", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_notification_configuration(
            Bucket=BUCKET, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
        dlq_url = sqs.create_queue(QueueName="continuous-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
        queue_url = sqs.create_queue(
            QueueName="continuous",
            Attributes={
                "VisibilityTimeout": str(VISIBILITY_SECONDS),
                "RedrivePolicy": json.dumps(redrive),
            },
        )["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        pattern = {
            "source": ["aws.s3"],
            "detail-type": ["Object Created"],
            "detail": {"bucket": {"name": [BUCKET]}, "object": {"key": [{"prefix": PREFIX}]}},
        }
        events.put_rule(Name="encord-continuous", EventPattern=json.dumps(pattern))
        events.put_targets(Rule="encord-continuous", Targets=[{"Id": "queue", "Arn": queue_arn}])
        table = "encord-continuous-state"
        create_state_table(dynamodb, table)
        secrets.create_secret(Name=SECRET, SecretString=encord.key_text)
        settings = HandlerSettings(
            table_name=table,
            queue_url=queue_url,
            secret_id=SECRET,
            domain=encord.standin.domain,
            integration=encord.integration_title,
            folder=FOLDER,
            buckets=(WatchedBucket(BUCKET, REGION, (PREFIX,)),),
            build=build or BuildOptions(),
            quiet_seconds=quiet_seconds,
            marker=marker,
        )
        yield HandlerEnv(s3, sqs, dynamodb, encord, queue_url, dlq_url, table, settings)
