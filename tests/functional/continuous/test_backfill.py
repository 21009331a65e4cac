"""Backfill through the same engine: `EXISTING` objects already in the bucket, sent by
`encord-register continuous backfill`, while new objects are uploaded (their events reach the
queue through EventBridge), all registered by the handler run by 8 emulated event source
mappings (`tests/emulators/sqs_poller.py`). Every object ends in the Encord stand-in exactly
once: single images once each, and each DICOM series as one item holding each file once, also
the new uploads the backfill's listing met as well (an event and a backfill message, one
item).

moto runs in-process (see `handler_env`); the existing objects are written into moto's S3
backend directly (no event, as for objects that were there before the stack).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.s3.models import s3_backends

from registration import contract as c
from registration.cli import main
from registration.continuous.settings import SETTINGS_ENV
from registration.exit_codes import ExitStatus
from tests.emulators.sqs_poller import SqsPoller, run_pollers
from tests.functional.continuous.deployed import function_zip
from tests.functional.continuous.handler_env import (
    BUCKET,
    PREFIX,
    REGION,
    HandlerEnv,
    Serialized,
    handler_env,
)
from tests.functional.continuous.handler_env import url_of as url

EXISTING = int(os.environ.get("BACKFILL_TEST_OBJECTS", "50000"))
"""Objects in the bucket before the backfill (the issue's size; `BACKFILL_TEST_OBJECTS` sets
another). Measured here: about 220 objects/s end to end (the pollers and the backfill share one
process with in-process moto, whose calls are serialised), so 50,000 take near four minutes."""
SERIES = 4
SERIES_FILES = 25
NEW_UPLOADS = 200
POLLERS = 8
FUNCTION_TIMEOUT = 900
SECONDS_PER_OBJECT_AT_MOST = 0.05
"""How long the test waits for the queue to empty, per existing object (measured: ~0.0045)."""
DEPTH_EVERY_SECONDS = 1.0
"""How often the test reads the queue's depth (moto walks every message to count them)."""
VISIBILITY_SECONDS = 6 * FUNCTION_TIMEOUT
"""What AWS recommends for a queue read by Lambda (the construct's choice may differ)."""


def existing_keys() -> tuple[list[str], dict[str, list[str]]]:
    """Single images (spread over 50 folders) and DICOM series folders, in all `EXISTING`."""
    series = {
        f"{PREFIX}scans/p{s}/": [f"{PREFIX}scans/p{s}/{i:03d}.dcm" for i in range(SERIES_FILES)]
        for s in range(SERIES)
    }
    singles = [
        f"{PREFIX}cam{n % 50:02d}/img{n:06d}.jpg" for n in range(EXISTING - SERIES * SERIES_FILES)
    ]
    return singles, series


def deploy_function(env: HandlerEnv, tmp_path: Path) -> Path:
    """The function (its settings say what is watched) and the stack outputs naming it all."""
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    boto3.client("lambda", region_name=REGION).create_function(
        FunctionName="encord-continuous",
        Runtime="python3.12",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": function_zip()},
        Environment={"Variables": {SETTINGS_ENV: env.settings.to_json()}},
    )
    queue_arn = env.sqs.get_queue_attributes(QueueUrl=env.queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    raw = {
        c.OUTPUT_ROLE_ARN: "arn:aws:iam::123456789012:role/encord",
        c.OUTPUT_EXTERNAL_ID: "ext",
        c.OUTPUT_BUCKETS: json.dumps([{"name": BUCKET, "region": REGION, "prefixes": [PREFIX]}]),
        c.OUTPUT_CONTINUOUS: json.dumps(
            c.continuous_output(
                queue_url=env.queue_url,
                queue_arn=queue_arn,
                dead_letter_queue_url=env.dlq_url,
                table_name=env.table,
                function_name="encord-continuous",
                region=REGION,
            )
        ),
    }
    outputs = tmp_path / "cdk-outputs.json"
    outputs.write_text(json.dumps({"EncordAccess": raw}))
    return outputs


def test_backfill_and_new_uploads_register_every_object_exactly_once(
    offline_aws: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    with handler_env(tmp_path, job_latency=0.02) as env:
        outputs = deploy_function(env, tmp_path)
        singles, series = existing_keys()
        backend: Any = s3_backends["123456789012"]["aws"]
        for key in [*singles, *(k for files in series.values() for k in files)]:
            backend.put_object(BUCKET, key, b"x", disable_notification=True)
        seeded = time.monotonic()

        new = [f"{PREFIX}cam{n % 50:02d}/img{n:06d}-new.jpg" for n in range(NEW_UPLOADS)]

        before, during = new[: NEW_UPLOADS // 2], new[NEW_UPLOADS // 2 :]
        for key in before:  # events on the queue, and in the backfill's listing too
            env.put(key, b"new")

        def upload() -> None:
            for key in during:
                env.put(key, b"new")
                time.sleep(0.005)

        uploader = threading.Thread(target=upload)
        stop = threading.Event()
        # As deployed: a message stays hidden while a function handles it, and one that finds
        # its object busy comes back sooner (backoff.py); the test environment's 1 s is for
        # fast retries.
        env.sqs.set_queue_attributes(
            QueueUrl=env.queue_url, Attributes={"VisibilityTimeout": str(VISIBILITY_SECONDS)}
        )
        # moto's ReceiveMessage is not thread-safe (two receivers can move one message to the
        # dead-letter queue at once): the emulated mappings receive one at a time.
        receiving = Serialized(env.sqs, threading.Lock())
        pollers = [
            SqsPoller(
                receiving,
                env.queue_url,
                env.engine().handle,
                wait_seconds=0,
                timeout_seconds=FUNCTION_TIMEOUT,
                region=REGION,
            )
            for _ in range(POLLERS)
        ]
        threads = run_pollers(pollers, stop)  # the functions read the queue all along
        uploader.start()
        try:
            argv = ["continuous", "backfill", "--stack-outputs", str(outputs)]
            code = main([*argv, "--state", str(tmp_path / "state.json"), "--json"])
            uploader.join()
            deadline = time.monotonic() + 60 + EXISTING * SECONDS_PER_OBJECT_AT_MOST
            while env.depth() and time.monotonic() < deadline:
                time.sleep(DEPTH_EVERY_SECONDS)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
        finished = time.monotonic()

        assert code == ExitStatus.OK
        assert env.depth() == 0, "the queue did not empty in time"
        summary = json.loads(capsys.readouterr().out)
        assert summary["objectsSent"] >= EXISTING + len(before)  # two messages for these
        assert env.depth(env.dlq_url) == 0
        items = env.items()
        urls = Counter(u for item in items for u in item["urls"])
        expected = [*singles, *new, *(k for files in series.values() for k in files)]
        assert urls == Counter(url(k) for k in expected)  # every object, once
        groups = [i for i in items if i["type"] == "dicomSeries"]
        assert sorted(tuple(i["urls"]) for i in groups) == sorted(
            tuple(url(k) for k in files) for files in series.values()
        )
        assert len(items) == len(singles) + len(new) + SERIES
        errors = [e for p in pollers for e in p.stats.errors]
        assert not errors, errors[:3]
    report = (
        f"backfill test: {EXISTING:,} existing + {NEW_UPLOADS} new objects; seeding "
        f"{seeded - started:.1f} s, backfill and registration {finished - seeded:.1f} s "
        f"({summary['objectsSent']:,} objects sent at {summary['objectsPerSecond']:,.0f}/s)"
    )
    print(report)
