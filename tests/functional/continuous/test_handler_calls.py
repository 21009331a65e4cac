"""What the handler costs in AWS requests per object, counted on the wire (so it cannot creep up).

Every request the handler's S3, DynamoDB and SQS clients send is counted by operation (a
botocore ``request-created`` hook: one per HTTP request, retries included). A single file costs
one conditional write (its claim) and, for an S3 event, one HeadObject; everything else is a
batch: the records read 100 at a time, the job recorded once per job, the results written 25 at
a time. A backfill message says what S3 would, so its objects cost no S3 request, and objects
already registered cost no write at all.
"""

from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from registration.build.sources import ObjectRecord
from registration.continuous import table as t
from registration.continuous.messages import backfill_bodies
from tests.emulators.sqs_poller import LambdaContext, lambda_record
from tests.functional.continuous.handler_env import (
    BUCKET,
    PREFIX,
    REGION,
    HandlerEnv,
    handler_env,
    url_of,
)

MESSAGES = 4
OBJECTS_PER_MESSAGE = 100
EVENTS = 20
LAMBDA_BATCH = 10


@pytest.fixture
def env(tmp_path: Path, offline_aws: str) -> Iterator[HandlerEnv]:
    with handler_env(tmp_path, job_latency=0.02) as running:
        yield running


def _count_requests(env: HandlerEnv) -> Counter[str]:
    """Requests of the clients the engine uses, by ``service.Operation``."""
    counted: Counter[str] = Counter()

    def hook(event_name: str, **_: Any) -> None:
        _, service, operation = event_name.split(".")
        counted[f"{service}.{operation}"] += 1

    for client in (env.s3, env.dynamodb, env.sqs):
        client.meta.events.register("request-created", hook)
    return counted


def _event(bodies: list[str]) -> dict[str, Any]:
    """A Lambda SQS event of `bodies` (received once)."""
    arn = f"arn:aws:sqs:{REGION}:123456789012:continuous"
    records = [
        {
            "MessageId": str(uuid.uuid4()),
            "ReceiptHandle": "handle",
            "Body": body,
            "Attributes": {"ApproximateReceiveCount": "1"},
        }
        for body in bodies
    ]
    return {"Records": [lambda_record(record, arn, REGION) for record in records]}


def _handle(env: HandlerEnv, engine: Any, bodies: list[str]) -> None:
    answer = engine.handle(_event(bodies), LambdaContext("encord-continuous", 900))
    assert answer == {"batchItemFailures": []}


def test_backfill_objects_cost_one_write_each_and_nothing_once_registered(
    env: HandlerEnv,
) -> None:
    engine = env.engine()
    _handle(env, engine, list(backfill_bodies([ObjectRecord(BUCKET, f"{PREFIX}warm.jpg", 5)])))
    counted = _count_requests(env)  # from here on: Encord is connected, the folder known
    count = MESSAGES * OBJECTS_PER_MESSAGE
    records = [
        ObjectRecord(BUCKET, f"{PREFIX}cam{n % 4}/img{n:05d}.jpg", 100 + n, "STANDARD")
        for n in range(count)
    ]
    bodies = list(backfill_bodies(records, max_objects=OBJECTS_PER_MESSAGE))
    assert len(bodies) == MESSAGES

    _handle(env, engine, bodies)

    held = {i["url"] for i in env.items()}
    assert held == {url_of(r.key) for r in records} | {url_of(f"{PREFIX}warm.jpg")}
    record = env.record(t.object_pk(BUCKET, records[-1].key), t.OBJECT_SK)
    assert record is not None and record[t.STATE] == t.REGISTERED and record[t.ITEM]
    assert counted["dynamodb.PutItem"] == count  # the claims: one conditional write each
    assert counted["dynamodb.BatchGetItem"] == math.ceil(count / 100)
    # The job once (one page), the results 25 a request.
    assert counted["dynamodb.BatchWriteItem"] <= 1 + math.ceil(count / 25)
    assert sum(counted.values()) / count <= 1.1, counted
    assert not {k for k in counted if k.startswith(("s3.", "sqs."))}, counted

    # The same messages again (a resumed backfill, a redelivery): read, nothing written.
    counted.clear()
    jobs = len(env.encord.standin.jobs())
    _handle(env, engine, bodies)
    assert counted == Counter({"dynamodb.BatchGetItem": math.ceil(count / 100)})
    assert len(env.encord.standin.jobs()) == jobs


def test_an_s3_event_costs_at_most_two_and_a_half_requests_per_object(env: HandlerEnv) -> None:
    engine = env.engine()
    env.put(f"{PREFIX}warm.jpg", b"x")
    keys = [f"{PREFIX}new/{n:03d}.jpg" for n in range(EVENTS)]
    for key in keys:
        env.put(key, b"x")
    bodies = []  # the events as EventBridge delivered them, taken off the queue
    while batch := env.sqs.receive_message(QueueUrl=env.queue_url, MaxNumberOfMessages=10).get(
        "Messages"
    ):
        for message in batch:
            bodies.append(message["Body"])
            env.sqs.delete_message(QueueUrl=env.queue_url, ReceiptHandle=message["ReceiptHandle"])
    _handle(env, engine, [b for b in bodies if "warm.jpg" in b])
    events = [b for b in bodies if "warm.jpg" not in b]
    assert len(events) == EVENTS
    counted = _count_requests(env)

    for start in range(0, EVENTS, LAMBDA_BATCH):
        _handle(env, engine, events[start : start + LAMBDA_BATCH])

    assert {i["url"] for i in env.items()} >= {url_of(k) for k in keys}
    assert counted["s3.HeadObject"] == EVENTS  # the key's spelling and storage class
    assert counted["dynamodb.PutItem"] == EVENTS  # the claims
    assert sum(counted.values()) / EVENTS <= 2.5, counted
