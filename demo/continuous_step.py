"""The demo's continuous-registration step: new uploads registered as they land.

The access stack was deployed with a `continuous` object, so the emulator holds what the
construct makes: EventBridge notifications on the watched bucket, the rule sending its "Object
Created" events to the queue (with its dead-letter queue), the state table and the function
(with its settings in its environment). moto cannot run a Lambda function without Docker, so
the function's own code runs here, in this process, with the deployed function's settings,
called by `POLLERS` emulated SQS event source mappings (`tests.emulators.sqs_poller`), one
handler "container" each. New files are uploaded while they run; the step waits until Encord
(the stand-in) holds the new items and the queue is empty, then stops the pollers.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import boto3

from demo.atomic_clients import DynamoGuard, GuardedDynamoDB, SerialReceiveSqs
from demo.samples import dicom, png
from registration.build.urls import UrlBuilder
from registration.continuous.aws import AwsClients
from registration.continuous.handler import build_engine
from registration.continuous.settings import (
    FUNCTION_TIMEOUT_SECONDS,
    SETTINGS_ENV,
    HandlerSettings,
)
from registration.stack_outputs import ContinuousOutput, load_outputs_file
from tests.emulators.sqs_poller import SqsPoller, run_pollers

POLLERS: Final = 8
"""Emulated functions at once (the benchmark uses as many)."""
SETTLE_TIMEOUT_SECONDS: Final = 60.0
"""How long the step waits for the new items before it gives up (it takes a few seconds)."""
GROUP_MARKER: Final = "_COMPLETE"


class StepFailed(Exception):
    """The step did not end as it should; the message says what and where its log is."""


@dataclass(frozen=True)
class Upload:
    """One object the step puts in the bucket, and what it shows."""

    key: str
    body: bytes
    why: str


def uploads(prefix: str, series: str) -> tuple[list[Upload], list[Upload], Upload]:
    """(files, DICOM slices, the series' marker) the step uploads, in that order."""
    files = [
        Upload(f"{prefix}frame-0001.png", png(seed=11), "new image"),
        Upload(f"{prefix}frame-0002.png", png(seed=12), "new image"),
        Upload(
            f"{prefix}frame-0002.png.json",
            json.dumps({"camera": "cam-7", "site": "north gate"}).encode(),
            "its sidecar, landing after it: Encord's item gets the metadata (upsert)",
        ),
        Upload(f"{prefix}frame-0001.png", png(seed=11), "the same file again: one more event"),
        Upload(f"{prefix}empty.png", b"", "empty: skipped with its reason, as by manifest"),
    ]
    slices = [
        Upload(f"{series}{i}.dcm", dicom(i, "1.2.826.0.1.3680043.9999.2"), "") for i in (1, 2, 3)
    ]
    marker = Upload(
        f"{series}{GROUP_MARKER}", b"done", "the marker, uploaded last: the series is complete"
    )
    return files, slices, marker


@dataclass
class HandlerLog:
    """The handlers' JSON log lines (what the function writes to its log group)."""

    lines: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def write(self, line: str) -> None:
        with self.lock:
            self.lines.append(line)

    def events(self, name: str) -> list[dict[str, Any]]:
        """The lines of one event (`skipped`, `late_arrival`, ...)."""
        with self.lock:
            docs = [json.loads(line) for line in self.lines]
        return [d for d in docs if d.get("event") == name]


def deployed_settings(lambda_client: Any, function_name: str) -> HandlerSettings:
    """What the deployed function is told (its environment), read back from the emulator."""
    config = lambda_client.get_function_configuration(FunctionName=function_name)
    return HandlerSettings.from_json(config["Environment"]["Variables"][SETTINGS_ENV])


def folder_items(domain: str, path: str) -> list[dict[str, Any]]:
    """The items the stand-in holds in the folder at `path` (its inspection endpoints)."""

    def get(url: str) -> Any:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return json.load(answer)

    for folder in get(f"{domain}/_standin/folders"):
        if folder.get("path") == path:
            items: list[dict[str, Any]] = get(f"{domain}/_standin/folders/{folder['uuid']}/items")
            return items
    return []


def waiting(sqs: Any, queue_url: str, pollers: list[SqsPoller]) -> int:
    """Messages waiting or being handled: not the delayed group checks, nor those a handler
    sent back for later (they return only after the queue's visibility timeout)."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    sent_back = sum(p.stats.failed for p in pollers)
    return max(0, sum(int(v) for v in attributes.values()) - sent_back)


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    """Poll `condition` every 0.2 s until it holds (True) or `timeout` passes (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


@contextmanager
def running_handlers(
    endpoint: str, resources: ContinuousOutput, log: HandlerLog
) -> Iterator[list[SqsPoller]]:
    """`POLLERS` emulated event source mappings, each calling its own handler, while inside."""
    session = boto3.session.Session(region_name=resources.region)
    lambda_client = session.client("lambda", endpoint_url=endpoint)
    settings = deployed_settings(lambda_client, resources.function_name)
    sqs = SerialReceiveSqs(session.client("sqs", endpoint_url=endpoint), threading.Lock())
    guard = DynamoGuard()
    pollers = []
    for _ in range(POLLERS):
        clients = AwsClients(
            s3=session.client("s3", endpoint_url=endpoint),
            dynamodb=GuardedDynamoDB(session.client("dynamodb", endpoint_url=endpoint), guard),
            sqs=session.client("sqs", endpoint_url=endpoint),
            secrets=session.client("secretsmanager", endpoint_url=endpoint),
        )
        engine = build_engine(settings, clients, write=log.write)
        pollers.append(
            SqsPoller(
                sqs,
                resources.queue_url,
                engine.handle,
                timeout_seconds=FUNCTION_TIMEOUT_SECONDS,
                function_name=resources.function_name,
                region=resources.region,
            )
        )
    stop = threading.Event()
    threads = run_pollers(pollers, stop)
    try:
        yield pollers
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)


@dataclass(frozen=True)
class StepResult:
    """What the step saw, for the narration (and the e2e test, through it)."""

    new_urls: list[str]
    batches: int
    messages: int
    seconds: float


def run_step(
    *,
    endpoint: str,
    domain: str,
    outputs: Path,
    bucket: str,
    folder: str,
    prefix: str,
    series: str,
    work: Path,
    say: Callable[[str], None],
) -> StepResult:
    """Upload new files while the handlers run; return once Encord holds them (or time out)."""
    resources = load_outputs_file(outputs).continuous
    if resources is None:
        raise StepFailed(f"{outputs} has no EncordContinuous output")
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=resources.region)
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=resources.region)
    region = s3.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPHeaders"].get(
        "x-amz-bucket-region", resources.region
    )
    urls = UrlBuilder(bucket, region)
    files, slices, marker = uploads(prefix, series)
    expected = sorted({urls.url(u.key) for u in files if u.body and not u.key.endswith(".json")})
    series_urls = sorted(urls.url(u.key) for u in slices)
    with_sidecar = [urls.url(u.key.removesuffix(".json")) for u in files if u.key.endswith(".json")]
    before = len(folder_items(domain, folder))
    log = HandlerLog()
    started = time.monotonic()
    say(
        f"   {POLLERS} emulated SQS event-source pollers, each running the function's own code "
        "in this process with the deployed function's settings"
    )
    with running_handlers(endpoint, resources, log) as pollers:
        for upload in files:
            s3.put_object(Bucket=bucket, Key=upload.key, Body=upload.body)
            say(f"   + s3://{bucket}/{upload.key}  - {upload.why}")
            # One upload after the other is handled, as files that land seconds apart are:
            # an event of an object still being registered would come back only after the
            # queue's visibility timeout (half an hour), which a demo cannot wait for.
            wait_until(
                lambda: waiting(sqs, resources.queue_url, pollers) == 0, SETTLE_TIMEOUT_SECONDS
            )
        for upload in slices:
            s3.put_object(Bucket=bucket, Key=upload.key, Body=upload.body)
        say(f"   + s3://{bucket}/{series}1.dcm, 2.dcm, 3.dcm  - a DICOM series, one item")
        # The marker lands last, once the slices were handled, as a scanner finishing a series
        # writes it. (Had it come first, the function would list the folder for them.)
        wait_until(lambda: waiting(sqs, resources.queue_url, pollers) == 0, SETTLE_TIMEOUT_SECONDS)
        s3.put_object(Bucket=bucket, Key=marker.key, Body=marker.body)
        say(f"   + s3://{bucket}/{marker.key}  - {marker.why}")

        def settled() -> bool:
            items = folder_items(domain, folder)
            held = {u for i in items for u in (i.get("urls") or [i["url"]])}
            metadata = {i["url"]: i.get("clientMetadata") or {} for i in items}
            return (
                set(expected) | set(series_urls) <= held
                and all(metadata.get(url) for url in with_sidecar)
                and waiting(sqs, resources.queue_url, pollers) == 0
            )

        done = wait_until(settled, SETTLE_TIMEOUT_SECONDS)
        if not done:
            items = folder_items(domain, folder)
            held = {u for i in items for u in (i.get("urls") or [i["url"]])}
            missing = sorted((set(expected) | set(series_urls)) - held)
            say(
                f"   not registered: {missing or 'none'}; waiting in the queue: "
                f"{waiting(sqs, resources.queue_url, pollers)}"
            )
        seconds = time.monotonic() - started
        batches = sum(p.stats.batches for p in pollers)
        messages = sum(p.stats.received for p in pollers)
    (work / "continuous-handler.log").write_text("\n".join(log.lines) + "\n", encoding="utf-8")
    if not done:
        raise StepFailed(
            f"the new files were not all registered within {SETTLE_TIMEOUT_SECONDS:.0f} s; "
            f"see {work / 'continuous-handler.log'}"
        )
    after = len(folder_items(domain, folder))
    say(
        f"   registered in {seconds:.1f} s: {messages} messages in {batches} invocations; the "
        f"folder went from {before} to {after} items"
    )
    for skipped in log.events("skipped"):
        say(f"   skipped {skipped.get('key')}: {skipped.get('reason')}")
    return StepResult(expected + series_urls, batches, messages, seconds)
