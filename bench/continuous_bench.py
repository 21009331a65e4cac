"""Continuous registration: objects registered per second, and what a million objects cost.

    python -m bench.continuous_bench [--singles 2000] [--groups 20] [--group-size 10]
                                     [--pollers 1 8] [--batch-size 100] [--backlog 300]

Starts the local AWS emulator (moto's server with the project's patches,
`tests.emulators.moto_server`) and the Encord stand-in (`python -m tests.standin` at its
default job latency, `STANDIN_JOB_LATENCY`), each in its own process. Then, once per
`--pollers` value, in the same run against the same emulators (the first round is the
baseline):

1. makes continuous registration's resources for the round's prefix the way the construct
   does (`demo.continuous_resources`: EventBridge notifications on the bucket, the rule, the
   queue and its dead-letter queue, an empty table, the secret), and starts that many emulated
   SQS event source mappings (`tests.emulators.sqs_poller`), each calling its own handler
   "container" (`registration.continuous.handler.build_engine`);
2. uploads SINGLES single images and GROUPS image-group folders of GROUP_SIZE frames (a prefix
   of their own per round) as a steady stream, so their S3 events flow through EventBridge to
   the queue, with at most BACKLOG events waiting (moto's ReceiveMessage scans the whole queue
   on every call: thousands waiting would measure moto, not the handler);
3. waits until the stand-in holds every single file and every group exactly once (checked)
   and the queue is empty (groups complete after `QUIET_SECONDS` of quiet, through the
   handler's delayed group checks);
4. prints objects registered per second (end to end, and per second of invocation time),
   invocations, messages, Lambda duration per invocation, the CPU each process used, and the
   AWS requests per object in the units AWS bills (`bench.aws_meter`); at the end, the cost
   per million objects (`bench.continuous_cost`) from the baseline round.

The emulated event source gathers a batch as Lambda's does when messages wait: up to
`--batch-size` messages (the construct's default, 100) with consecutive receives of at most
10 (SQS's limit), stopping early at the first empty receive. The handlers' DynamoDB calls
and SQS receives go through `demo.atomic_clients`: moto's server does not make conditional writes,
transactions and receives atomic, as AWS does.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import boto3

from bench import continuous_cost as cost
from bench.aws_meter import WRITE_UNIT_BYTES, AwsMeter, item_bytes, stored_bytes
from registration.continuous.metrics import METRICS

ROOT = Path(__file__).resolve().parents[1]
BUCKET: Final = "bench-continuous"
PREFIX: Final = "bench/"
FOLDER: Final = "bench/continuous"
INTEGRATION: Final = "bench-s3"
QUIET_SECONDS: Final = 15
"""Groups complete after this much quiet (the construct's least is 10 s). It must exceed the
longest time a member's event waits to be handled (the backlog, a busy invocation), or the
member arrives after its group was registered: a late arrival, which fails the round."""
STANDIN_JOB_LATENCY: Final = 0.2
"""The stand-in's default job latency (`python -m tests.standin --help`): each Encord job
finishes this long after it starts. Real Encord jobs take longer: see `cost_report`."""
OBJECT_BYTES: Final = 64
"""Each object's size (the handler reads no image: only sidecars, and there are none here)."""
PUT_WORKERS: Final = 8
ROUND_TIMEOUT_SECONDS: Final = 600.0
SQS_MAX_RECEIVE: Final = 10
PUT_CHUNK: Final = 50
DEFAULT_BACKLOG: Final = 300
CHECK_SECONDS: Final = 0.5
ALARMS: Final = 3
"""The construct's alarms: dead letters, the oldest message's age, function errors."""
LOG_EVENT_BYTES: Final = cost.LOG_EVENT_OVERHEAD_BYTES + 1
"""A log line's newline, and CloudWatch's per-event overhead."""


# --- the emulators -------------------------------------------------------------------------


def start_standin(work: Path, key_file: Path) -> tuple[subprocess.Popen[bytes], str]:
    """The stand-in in its own process, at its default job latency; (process, domain)."""
    ready = work / "standin.ready"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.standin",
            "--integration",
            INTEGRATION,
            "--public-key-file",
            str(key_file),
            "--ready-file",
            str(ready),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if ready.exists() and ready.read_text().startswith("ready "):
            return process, ready.read_text().split()[1]
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("the Encord stand-in did not start")


def start_moto(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    """moto's server with the project's patches, in its own process; (process, endpoint)."""
    ready = work / "moto.ready"
    with (work / "moto.log").open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.emulators.moto_server",
                "--port",
                "0",
                "--ready-file",
                str(ready),
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if ready.exists():
            return process, ready.read_text().strip()
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("the local AWS emulator did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def folder_items(domain: str) -> list[dict[str, Any]]:
    """What the stand-in holds in `FOLDER` (its inspection endpoints; no SDK, no AWS)."""

    def get(url: str) -> Any:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return json.load(answer)

    for folder in get(f"{domain}/_standin/folders"):
        if folder.get("path") == FOLDER:
            found: list[dict[str, Any]] = get(f"{domain}/_standin/folders/{folder['uuid']}/items")
            return found
    return []


# --- the emulated event source --------------------------------------------------------------


class BatchingSqs:
    """An SQS client whose ReceiveMessage gathers up to MaxNumberOfMessages (over SQS's 10) with
    consecutive receives, stopping at the first empty one: Lambda's batching under a backlog."""

    def __init__(self, client: Any, seen: Counter[str], lock: threading.Lock) -> None:
        self._client = client
        self._seen = seen
        self._lock = lock

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def receive_message(self, **params: Any) -> dict[str, Any]:
        wanted = int(params.pop("MaxNumberOfMessages", 1))
        messages: list[dict[str, Any]] = []
        while len(messages) < wanted:
            answer = self._client.receive_message(
                MaxNumberOfMessages=min(SQS_MAX_RECEIVE, wanted - len(messages)), **params
            )
            batch = answer.get("Messages") or []
            if not batch:
                break
            messages += batch
            params["WaitTimeSeconds"] = 0
        with self._lock:
            self._seen.update(m["MessageId"] for m in messages)
        return {"Messages": messages}


@dataclass
class Invocations:
    """Each handler call's duration and record count (thread-safe)."""

    durations: list[float] = field(default_factory=list)
    records: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def timed(
        self, handle: Callable[[Mapping[str, Any], Any], Mapping[str, Any]]
    ) -> Callable[[Mapping[str, Any], Any], Mapping[str, Any]]:
        def call(event: Mapping[str, Any], context: Any) -> Mapping[str, Any]:
            started = time.perf_counter()
            try:
                return handle(event, context)
            finally:
                took = time.perf_counter() - started
                with self.lock:
                    self.durations.append(took)
                    self.records.append(len(event.get("Records") or []))

        return call


@dataclass
class LogBytes:
    """Bytes the handlers logged: their JSON lines, and any other log record they emitted."""

    total: int = 0
    lines: int = 0
    trouble: list[str] = field(default_factory=list)
    """Lines that are not the usual (errors, failed messages, late arrivals): shown on failure."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def write(self, line: str) -> None:
        doc = json.loads(line) if line.startswith("{") else {}
        event = doc.get("event")
        unusual = event not in (None, "registered", "skipped", "batch") or doc.get("failed")
        with self.lock:
            self.total += len(line.encode()) + LOG_EVENT_BYTES
            self.lines += 1
            if unusual or not doc:
                self.trouble.append(line)


class _CountingHandler(logging.Handler):
    def __init__(self, log: LogBytes) -> None:
        super().__init__(logging.WARNING)
        self.log = log

    def emit(self, record: logging.LogRecord) -> None:
        self.log.write(self.format(record))


# --- one round ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """The keys of one round: single images, and image-group folders."""

    prefix: str
    singles: int
    groups: int
    group_size: int

    def single_keys(self) -> list[str]:
        return [
            f"{self.prefix}singles/d{i // 500:03d}/img-{i:06d}.jpg" for i in range(self.singles)
        ]

    def group_folders(self) -> list[str]:
        return [f"{self.prefix}groups/g{g:04d}" for g in range(self.groups)]

    def group_keys(self) -> list[str]:
        return [
            f"{folder}/frame-{n:03d}.jpg"
            for folder in self.group_folders()
            for n in range(self.group_size)
        ]

    @property
    def objects(self) -> int:
        return self.singles + self.groups * self.group_size


@dataclass
class Round:
    """What one round measured."""

    pollers: int
    objects: int
    seconds: float
    invocations: Invocations
    meter: AwsMeter
    log: LogBytes
    messages: int
    items: int
    cpu: dict[str, float]
    """CPU seconds of the round, per process: the handlers (this process), moto, the stand-in."""
    sent_back: int
    """Messages the handlers reported as failures (they return after the visibility timeout)."""
    busy: int
    """Of those, messages whose object another invocation was registering at that moment."""
    received_twice: int
    """Messages received more than once while not deleted (moto's receive is not atomic)."""
    table_bytes: int
    """What the round's table stores at its end (DynamoDB's item sizes and overhead)."""
    largest_item: int


def put_objects(s3: Any, keys: list[str], meter: AwsMeter) -> None:
    """Put every key (several at once, unmetered: the uploads are the user's); each makes one
    S3 event."""
    body = b"x" * OBJECT_BYTES

    def put(key: str) -> None:
        with meter.unmetered():
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)

    with ThreadPoolExecutor(PUT_WORKERS) as pool:
        list(pool.map(put, keys))


def left_to_handle(sqs: Any, url: str, sent_back: int) -> int:
    """Messages still to handle: waiting, delayed, or being handled, but not the `sent_back`
    ones that handlers reported as failures (back only after the visibility timeout)."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return max(0, sum(int(v) for v in attributes.values()) - sent_back)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Check `condition` every `CHECK_SECONDS` (each check costs the emulators CPU too)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(CHECK_SECONDS)


def differences(domain: str, layout: Layout, url_of: Callable[[str], str]) -> list[str]:
    """How the folder differs from every single file and every group of `layout` exactly
    once (empty: it holds exactly them)."""
    items = [i for i in folder_items(domain) if i["title"].startswith(layout.prefix)]
    singles = sorted(i["url"] for i in items if i["type"] == "image")
    groups = sorted(i["title"] for i in items if i["type"] == "imageGroup")
    found = []
    if singles != sorted(url_of(k) for k in layout.single_keys()):
        found.append(f"{len(singles)} single-file items for {layout.singles} single files")
    if groups != sorted(layout.group_folders()):
        found.append(f"{len(groups)} group items for {layout.groups} groups")
    found += [
        f"{item['title']}: {len(item['urls'])} frames"
        for item in items
        if item["type"] == "imageGroup" and len(item["urls"]) != layout.group_size
    ]
    return found


def visible_messages(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def upload(
    env: BenchEnv,
    queue_url: str,
    keys: list[str],
    backlog: int,
    meter: AwsMeter,
    stop: threading.Event,
) -> None:
    """Put `keys` in chunks, each once at most `backlog` events wait in the queue (a steady
    upload stream: moto's ReceiveMessage scans the whole queue on every call, so a backlog of
    thousands would measure moto, not the handler). Unmetered: the uploads are the user's."""
    with meter.unmetered():
        for start in range(0, len(keys), PUT_CHUNK):
            while visible_messages(env.sqs, queue_url) + PUT_CHUNK > backlog:
                if stop.wait(CHECK_SECONDS):
                    return
            put_objects(env.s3, keys[start : start + PUT_CHUNK], meter)


def run_round(
    env: BenchEnv,
    res: RoundResources,
    layout: Layout,
    pollers: int,
    batch_size: int,
    backlog: int,
    meter: AwsMeter,
) -> Round:
    """Upload the round's objects while `pollers` handlers register them."""
    from demo.atomic_clients import SerialReceiveSqs
    from registration.continuous.handler import build_engine
    from registration.continuous.settings import FUNCTION_TIMEOUT_SECONDS
    from tests.emulators.sqs_poller import SqsPoller, run_pollers

    invocations, log = Invocations(), LogBytes()
    seen: Counter[str] = Counter()
    seen_lock = threading.Lock()
    counting = _CountingHandler(log)
    logging.getLogger().addHandler(counting)
    made = []
    for _ in range(pollers):
        engine = build_engine(res.settings, env.clients(), write=log.write)
        made.append(
            SqsPoller(
                BatchingSqs(
                    SerialReceiveSqs(env.session_client("sqs"), env.receives), seen, seen_lock
                ),
                res.queue_url,
                invocations.timed(engine.handle),
                batch_size=batch_size,
                timeout_seconds=FUNCTION_TIMEOUT_SECONDS,
            )
        )
    stop = threading.Event()
    cpu_before = {name: cpu_seconds(pid) for name, pid in env.pids.items()}
    cpu_before["handlers"] = time.process_time()
    started = time.perf_counter()
    # The groups first: their quiet periods run out while the single files are handled.
    keys = [*layout.group_keys(), *layout.single_keys()]
    uploader = threading.Thread(
        target=upload, args=(env, res.queue_url, keys, backlog, meter, stop), daemon=True
    )
    uploader.start()
    threads = [uploader, *run_pollers(made, stop)]
    try:

        def done() -> bool:  # the stand-in first: a queue count costs moto more
            late = [line for line in log.trouble if '"late_arrival"' in line]
            if late:
                raise RuntimeError(f"{len(late)} late arrival(s), such as {late[0][:300]}")
            raised = [e for p in made for e in p.stats.errors]
            if raised:  # the batch is back in the queue only after the visibility timeout
                raise RuntimeError(f"{len(raised)} invocation(s) raised: {raised[0]!r}")
            with meter.unmetered():
                if differences(env.domain, layout, env.url_of):
                    return False
                sent_back = sum(p.stats.failed for p in made)
                return left_to_handle(env.sqs, res.queue_url, sent_back) == 0

        try:
            wait_for(done, ROUND_TIMEOUT_SECONDS, f"the round with {pollers} poller(s)")
        except RuntimeError:
            with meter.unmetered():
                attributes = env.sqs.get_queue_attributes(
                    QueueUrl=res.queue_url, AttributeNames=["All"]
                )["Attributes"]
            depth = {k: v for k, v in attributes.items() if k.startswith("ApproximateNumber")}
            print(f"    queue: {depth}", file=sys.stderr)
            for line in log.trouble[-20:]:
                print(f"    handler: {line[:400]}", file=sys.stderr)
            for error in [e for p in made for e in p.stats.errors][:5]:
                print(f"    invocation raised: {error!r}", file=sys.stderr)
            with meter.unmetered():
                wrong = differences(env.domain, layout, env.url_of)
            print(f"    the folder: {wrong or 'as expected'}", file=sys.stderr)
            for n, (poller, thread) in enumerate(zip(made, threads[1:], strict=True)):
                stats = poller.stats
                print(
                    f"    poller {n}: alive {thread.is_alive()}, received {stats.received}, "
                    f"deleted {stats.deleted} ({stats.not_deleted} refused), failed "
                    f"{stats.failed}, raised {stats.raised}",
                    file=sys.stderr,
                )
            raise
        seconds = time.perf_counter() - started
        cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in env.pids.items()}
        cpu["handlers"] = time.process_time() - cpu_before["handlers"]
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        logging.getLogger().removeHandler(counting)
    with meter.unmetered():
        wrong = differences(env.domain, layout, env.url_of)
        items = sum(1 for i in folder_items(env.domain) if i["title"].startswith(layout.prefix))
        stored, largest = table_bytes(env.dynamodb, res.table)
    if wrong:
        raise RuntimeError(f"not exactly once: {wrong}")
    errors = [e for p in made for e in p.stats.errors]
    if errors:
        raise RuntimeError(f"{len(errors)} invocation(s) raised: {errors[0]!r}")
    return Round(
        pollers=pollers,
        objects=layout.objects,
        seconds=seconds,
        invocations=invocations,
        meter=meter,
        log=log,
        messages=sum(p.stats.received for p in made),
        items=items,
        cpu=cpu,
        sent_back=sum(p.stats.failed for p in made),
        busy=sum(1 for line in log.trouble if '"event":"busy"' in line),
        received_twice=sum(1 for n in seen.values() if n > 1),
        table_bytes=stored,
        largest_item=largest,
    )


# --- the environment ------------------------------------------------------------------------


@dataclass
class BenchEnv:
    """The emulators, their clients, and what every round shares."""

    endpoint: str
    domain: str
    s3: Any
    sqs: Any
    dynamodb: Any
    key_text: str
    """The Encord key, for each round's secret."""
    url_of: Callable[[str], str]
    guard: Any
    """The locks every handler's DynamoDB calls share (`demo.atomic_clients`)."""
    receives: threading.Lock
    """One SQS receive at a time (`demo.atomic_clients.SerialReceiveSqs`)."""
    pids: dict[str, int]
    """The emulators' processes, whose CPU time each round reports."""

    def session_client(self, service: str) -> Any:
        from botocore.config import Config

        from registration.continuous.aws import AWS_POOL_CONNECTIONS

        config = Config(max_pool_connections=AWS_POOL_CONNECTIONS)
        session: Any = boto3.session.Session(region_name=REGION)
        return session.client(service, endpoint_url=self.endpoint, config=config)

    def clients(self) -> Any:
        """A handler container's clients (DynamoDB atomic as on AWS: `demo.atomic_clients`)."""
        from demo.atomic_clients import GuardedDynamoDB
        from registration.continuous.aws import AwsClients

        return AwsClients(
            s3=self.session_client("s3"),
            dynamodb=GuardedDynamoDB(self.session_client("dynamodb"), self.guard),
            sqs=self.session_client("sqs"),
            secrets=self.session_client("secretsmanager"),
        )


REGION: Final = "us-east-1"


def make_env(stack: ExitStack, work: Path) -> BenchEnv:
    """Start the emulators and make the resources; stopped when `stack` closes."""
    from demo.atomic_clients import DynamoGuard
    from registration.build.urls import UrlBuilder
    from tests.emulators.moto_server import EMULATOR_ENV, stop_process
    from tests.standin.keys import generate_ssh_key, openssh_public_line

    for key, value in EMULATOR_ENV.items():
        os.environ.setdefault(key, value)
    moto, endpoint = start_moto(work)
    stack.callback(stop_process, moto)
    key_text, _ = generate_ssh_key()
    key_file = work / "key.pub"
    key_file.write_text(openssh_public_line(key_text, comment="bench") + "\n")
    standin, domain = start_standin(work, key_file)
    stack.callback(stop_process, standin)
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    urls = UrlBuilder(BUCKET, REGION)
    return BenchEnv(
        endpoint=endpoint,
        domain=domain,
        s3=s3,
        sqs=boto3.client("sqs", endpoint_url=endpoint, region_name=REGION),
        dynamodb=boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION),
        key_text=key_text,
        url_of=urls.url,
        guard=DynamoGuard(),
        receives=threading.Lock(),
        pids={"moto": moto.pid, "stand-in": standin.pid},
    )


@dataclass(frozen=True)
class RoundResources:
    """One round's queue, table and handler settings: each round starts with empty ones (moto's
    transactions copy the whole table, so a table the last round filled would slow this one)."""

    queue_url: str
    table: str
    settings: Any


def round_resources(env: BenchEnv, name: str, prefix: str) -> RoundResources:
    """A queue, rule, table and secret of their own for the round watching `prefix`."""
    from demo.continuous_resources import create_resources
    from registration.build.spec import BuildOptions
    from registration.continuous.settings import WatchedBucket

    made = create_resources(
        endpoint=env.endpoint,
        region=REGION,
        name=name,
        bucket=BUCKET,
        prefixes=[prefix],
        ssh_key_text=env.key_text,
    )
    settings = made.settings(
        buckets=[WatchedBucket(BUCKET, REGION, (prefix,))],
        domain=env.domain,
        integration=INTEGRATION,
        folder=FOLDER,
        build=BuildOptions(image_groups=(f"{prefix}groups/*",)),
        quiet_seconds=QUIET_SECONDS,
    )
    return RoundResources(made.queue_url, made.table_name, settings)


def table_bytes(dynamodb: Any, table: str) -> tuple[int, int]:
    """(stored bytes of every item, the largest item's billed size) of the table."""
    total = largest = 0
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            total += stored_bytes(item)
            largest = max(largest, item_bytes(item))
    return total, largest


# --- the report -----------------------------------------------------------------------------


def usage_of(result: Round, memory_mb: int) -> cost.Usage:
    """`result` in the units AWS bills. EventBridge sends one message per S3 event (SQS bills
    that SendMessage too); the handler's and the event source's calls were metered."""
    meter = result.meter
    return cost.Usage(
        objects=result.objects,
        invocations=len(result.invocations.durations),
        lambda_seconds=sum(result.invocations.durations),
        memory_mb=memory_mb,
        sqs_requests=meter.sqs_requests + result.objects,
        eventbridge_events=result.objects,
        dynamodb_write_units=meter.dynamodb_write_units,
        dynamodb_read_units=meter.dynamodb_read_units,
        s3_get_requests=meter.count("s3", "GetObject", "HeadObject"),
        log_bytes=result.log.total,
        table_bytes=result.table_bytes,
    )


def report_round(result: Round, baseline: Round | None) -> None:
    durations = result.invocations.durations
    records = result.invocations.records
    objects_per_second = result.objects / result.seconds
    per_invocation = sum(records) / sum(durations) if durations else 0.0
    n = result.objects
    meter = result.meter
    print(
        f"  {result.pollers} poller(s): {n:,} objects registered ({result.items} items) in "
        f"{result.seconds:.1f} s = {objects_per_second:,.0f} objects/s"
        + (
            f", {objects_per_second / (baseline.objects / baseline.seconds):.1f}x the "
            f"{baseline.pollers}-poller baseline"
            if baseline
            else ""
        ),
        flush=True,
    )
    print(
        f"    invocations {len(durations)}, messages {result.messages:,} "
        f"({result.messages / max(1, len(durations)):.1f} per invocation); one invocation "
        f"handles {per_invocation:,.0f} messages per second of its duration",
        flush=True,
    )
    if durations:
        print(
            f"    duration per invocation: mean {statistics.mean(durations):.2f} s, median "
            f"{statistics.median(durations):.2f} s, max {max(durations):.2f} s",
            flush=True,
        )
    print(
        f"    per object: DynamoDB {meter.dynamodb_write_units / n:.2f} WRU, "
        f"{meter.dynamodb_read_units / n:.2f} RRU ({meter.count('dynamodb') / n:.2f} calls); "
        f"SQS {(meter.sqs_requests + n) / n:.2f} requests (EventBridge's delivery included); "
        f"S3 {meter.count('s3') / n:.2f} calls; log {result.log.total / n:.0f} B",
        flush=True,
    )
    if result.sent_back or result.received_twice:
        print(
            f"    {result.sent_back} message(s) sent back ({result.busy} busy: their object "
            f"was being registered by another invocation); {result.received_twice} message(s) "
            "received by two pollers at once (moto's ReceiveMessage is not atomic; SQS may "
            "deliver a message twice too). A busy message returns after the visibility "
            "timeout and finds its object registered",
            flush=True,
        )
    busy = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in result.cpu.items())
    print(
        f"    CPU in the round ({result.seconds:.1f} s wall, {os.cpu_count()} cores): {busy}",
        flush=True,
    )
    calls = ", ".join(f"{s}:{op} {c:,}" for (s, op), c in sorted(meter.calls.items()))
    print(f"    calls: {calls}", flush=True)


def cost_report(usage: cost.Usage, largest_item: int) -> None:
    """The bill per million objects, from the baseline round: its invocations ran one at a
    time, as each Lambda invocation runs on its own share of CPU."""
    lines = cost.cost_lines(usage)
    total = sum(line.dollars for line in lines)
    print(
        f"cost per million objects ({cost.REGION} on-demand prices as of {cost.PRICES_AS_OF}, "
        f"free tiers ignored; from the {usage.invocations} invocations of the baseline round):",
        flush=True,
    )
    for line in lines:
        print(f"  {line.service:<30} {line.quantity:>28}   ${line.dollars:8.3f}", flush=True)
    print(f"  {'total':<30} {'':>28}   ${total:8.3f}", flush=True)
    storage = cost.storage_per_month(usage)
    units = (
        "every item is under 1 KB: one write unit per write"
        if largest_item <= WRITE_UNIT_BYTES
        else "writes that carry their item are counted by its size; an UpdateItem as one unit"
    )
    print(
        f"  then, to keep the records: {storage.service} {storage.quantity}: "
        f"${storage.dollars:.3f} per month (largest item {largest_item:,} B; {units})",
        flush=True,
    )
    fixed = cost.fixed_per_month(alarms=ALARMS, metrics=len(METRICS))
    print(f"  and {fixed.service} ({fixed.quantity}): ${fixed.dollars:.2f}", flush=True)
    print(
        f"  each second more that every invocation waits for Encord (the stand-in's jobs take "
        f"{STANDIN_JOB_LATENCY} s) adds ${cost.dollars_per_extra_second(usage):.3f}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.continuous_bench")
    parser.add_argument("--singles", type=int, default=2000, help="single images per round")
    parser.add_argument("--groups", type=int, default=20, help="image-group folders per round")
    parser.add_argument("--group-size", type=int, default=10, help="frames per group")
    parser.add_argument(
        "--pollers",
        type=int,
        nargs="+",
        default=[1, 8],
        help="emulated functions at once, one round each; the first is the baseline",
    )
    parser.add_argument(
        "--batch-size", type=int, default=100, help="messages per invocation (construct: 100)"
    )
    parser.add_argument(
        "--backlog",
        type=int,
        default=DEFAULT_BACKLOG,
        help=f"most events waiting in the queue while uploading (default {DEFAULT_BACKLOG})",
    )
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from stacks.continuous import FUNCTION_MEMORY_MB

    print(
        f"continuous: {args.singles:,} single images + {args.groups} image groups of "
        f"{args.group_size} per round; batches of up to {args.batch_size}; groups complete "
        f"after {QUIET_SECONDS} s of quiet; the Encord stand-in's default job latency "
        f"{STANDIN_JOB_LATENCY} s; moto's server",
        flush=True,
    )
    results: list[Round] = []
    with tempfile.TemporaryDirectory(prefix="continuous-bench-") as tmp, ExitStack() as stack:
        env = make_env(stack, Path(tmp))
        for n, pollers in enumerate(args.pollers):
            prefix = f"{PREFIX}r{n}-p{pollers}/"
            res = round_resources(env, f"bench-r{n}", prefix)
            layout = Layout(prefix, args.singles, args.groups, args.group_size)
            with AwsMeter() as meter:
                results.append(
                    run_round(env, res, layout, pollers, args.batch_size, args.backlog, meter)
                )
            report_round(results[-1], results[0] if n else None)
    baseline = results[0]
    usage = usage_of(baseline, FUNCTION_MEMORY_MB)
    cost_report(usage, baseline.largest_item)
    for other in results[1:]:
        dollars = sum(x.dollars for x in cost.cost_lines(usage_of(other, FUNCTION_MEMORY_MB)))
        print(
            f"  from the {other.pollers}-poller round instead: ${dollars:.3f} (its invocations "
            f"share {os.cpu_count()} local cores, so each lasts longer than on Lambda)",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
