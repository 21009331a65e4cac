"""Nothing is registered twice: Encord faults, lost answers, crashes, concurrent functions.

A crash is the process dying: `Crash` is raised from the handler's DynamoDB client at a chosen
write and is not an `Exception`, so nothing after it runs (no claim is released: its lease has
to run out, which the fake clock makes happen). The retry runs in a new "container".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from registration.build.spec import BuildOptions
from registration.continuous import keys
from registration.continuous import table as t
from registration.continuous.claims import Taken
from registration.errors import AuthError
from tests.functional.continuous.handler_env import (
    BUCKET,
    FOLDER,
    SECRET,
    FakeClock,
    HandlerEnv,
    Serialized,
    handler_env,
    url_of,
)
from tests.standin import FaultPlan, generate_ssh_key

BUILD = BuildOptions(image_groups=("live/site/*",))
ROUTES_BUT_POLL = frozenset(
    {"integrations", "list_folders", "search_folders", "get_folder", "create_folder", "start"}
    | {"items", "child_items", "delete_items", "list_subfolders"}
)


class Crash(BaseException):
    """The process dies here (not an Exception: nothing catches it, nothing is released)."""


class CrashingDynamoDB(Serialized):
    """The handler's DynamoDB client, dying at the first write `when` picks (an UpdateItem or
    a BatchWriteItem request)."""

    def __init__(
        self, client: Any, lock: threading.Lock, when: Callable[[str, dict[str, Any]], bool]
    ):
        super().__init__(client, lock)
        self._when = when
        self.crashed = False

    def __getattr__(self, name: str) -> Any:
        call = super().__getattr__(name)
        if name not in ("update_item", "batch_write_item"):
            return call

        def write(**request: Any) -> Any:
            if not self.crashed and self._when(name, request):
                self.crashed = True
                raise Crash(name)
            return call(**request)

        return write


def _puts(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The items a BatchWriteItem request puts."""
    return [
        entry["PutRequest"]["Item"]
        for entries in request.get("RequestItems", {}).values()
        for entry in entries
        if "PutRequest" in entry
    ]


def _records_job(name: str, request: dict[str, Any]) -> bool:
    """True for the write that records a job: on a group (UpdateItem) or on the job pages of
    the objects it holds (BatchWriteItem)."""
    if name == "update_item":
        return _sets(request, t.JOB)
    return any(item["pk"]["S"].startswith("run#") for item in _puts(request))


def _registers(name: str, request: dict[str, Any]) -> bool:
    """True for the write of a `registered` result."""
    if name == "update_item":
        return _sets(request, t.STATE, t.REGISTERED)
    return any(item.get(t.STATE, {}).get("S") == t.REGISTERED for item in _puts(request))


def _sets(request: dict[str, Any], attribute: str, value: str | None = None) -> bool:
    """True when an UpdateItem request SETs `attribute` (to `value`)."""
    expression = request.get("UpdateExpression", "")
    if not expression.startswith("SET"):
        return False
    clause = expression[4:].split(" REMOVE ")[0].split(" ADD ")[0]
    for part in clause.split(", "):
        alias, _, placeholder = part.partition(" = ")
        if request.get("ExpressionAttributeNames", {}).get(alias) != attribute:
            continue
        found = request.get("ExpressionAttributeValues", {}).get(placeholder, {})
        return value is None or found.get("S") == value
    return False


def _wait_for_a_visible_message(env: HandlerEnv, timeout: float = 30.0) -> None:
    """Wait until a (delayed) message can be received."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        attributes = env.sqs.get_queue_attributes(
            QueueUrl=env.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        if attributes["ApproximateNumberOfMessages"] != "0":
            return
        time.sleep(0.1)
    raise AssertionError("no message became visible")


def _drain_all(env: HandlerEnv, pollers: int = 1, **kwargs: Any) -> bool:
    return env.drain([env.poller(**kwargs) for _ in range(pollers)])


@pytest.mark.parametrize(
    "where",
    ["after the job started, before its UUID was stored", "after the job, before registered"],
)
@pytest.mark.parametrize("unit", ["single file", "group"])
def test_a_crash_between_writes_never_registers_twice(
    tmp_path: Path, offline_aws: str, where: str, unit: str
) -> None:
    with handler_env(tmp_path, build=BUILD) as env:
        clock = FakeClock()
        when = _records_job if where.startswith("after the job started") else _registers

        keys = (
            ["live/a.jpg"] if unit == "single file" else ["live/site/g/1.png", "live/site/g/2.png"]
        )
        for key in keys:
            env.put(key, b"x")
        if unit == "group":  # collect the members and let the check come, without crashing
            env.poller(env.engine(clock=clock)).poll_once()
            clock.advance(5)
            _wait_for_a_visible_message(env)
        dying = CrashingDynamoDB(env.dynamodb, env.lock, when)
        crashing = env.engine(clock=clock)
        crashing.services.table.client = dying  # the same table, through the dying client
        with pytest.raises(Crash):
            env.poller(crashing).poll_once()
        assert dying.crashed
        jobs_before = env.encord.standin.jobs()
        assert len(jobs_before) == 1  # Encord accepted the job before the crash

        # The retry: a new container, once the dead invocation's lease has run out.
        clock.advance(3600)
        retry = env.engine(clock=clock)
        assert env.drain([env.poller(retry)], until=lambda: len(env.items()) == 1)

        (item,) = env.items()
        assert sorted(item["urls"]) == sorted(url_of(k) for k in keys)
        jobs = env.encord.standin.jobs()
        if where.endswith("before registered"):
            assert jobs == jobs_before  # the stored job was polled, nothing sent again
        else:
            # The job's UUID was lost: sent again with skip_duplicate_urls after recording
            # what Encord held (the first job's item): still one item.
            assert len(jobs) == 2 and jobs[1]["skipDuplicateUrls"]
        pk = (
            t.object_pk(BUCKET, keys[0])
            if unit == "single file"
            else t.group_pk(BUCKET, "live/site/g")
        )
        sk = t.OBJECT_SK if unit == "single file" else t.GROUP_SK
        record = env.record(pk, sk)
        assert record is not None and record[t.STATE] == t.REGISTERED
        assert record[t.ITEM] == item["uuid"]
        assert t.BASELINE not in record and t.OWNER not in record


def test_a_busy_object_s_message_comes_back_when_the_holder_s_claim_ends(
    tmp_path: Path, offline_aws: str
) -> None:
    # Another function holds the object's claim for 3 s more and then dies. The message that
    # meets the claim is not left for the queue's 30-minute visibility timeout: it comes back
    # when the claim ends, and the object is taken over and registered, once.
    with handler_env(tmp_path) as env:
        env.sqs.set_queue_attributes(
            QueueUrl=env.queue_url, Attributes={"VisibilityTimeout": "1800"}
        )
        key = "live/held.jpg"
        env.put(key, b"x")
        engine = env.engine()
        head = keys.exists(env.s3, BUCKET, key)
        assert head is not None
        now = time.time()
        held = engine.services.claims.claim_object(head, BUCKET, "gone/fn", now, now + 3)
        assert isinstance(held, Taken)

        poller = env.poller(engine)
        started = time.monotonic()
        assert poller.poll_once() == 1
        assert poller.stats.failed == 1  # busy: a batch item failure
        (event,) = env.events("busy")
        assert key in event["reason"]
        error = env.listed(t.LISTING_ERROR)
        assert [e[t.ERROR_KIND] for e in error] == [t.ERROR_BUSY]

        assert env.drain([poller], until=lambda: len(env.items()) == 1, timeout=30)
        assert time.monotonic() - started < 15  # the claim's 3 s, not the queue's 1,800
        assert [i["url"] for i in env.items()] == [url_of(key)]
        record = env.record(t.object_pk(BUCKET, key), t.OBJECT_SK)
        assert record is not None and record[t.STATE] == t.REGISTERED
        assert env.listed(t.LISTING_ERROR) == []  # succeeded since: its error record is gone


def test_twenty_percent_encord_faults_and_duplicated_events_register_everything_once(
    tmp_path: Path, offline_aws: str
) -> None:
    with handler_env(tmp_path, build=BUILD, job_latency=0.02) as env:
        env.encord.standin.set_faults(
            FaultPlan(
                rate_429=0.07,
                rate_500=0.07,
                rate_drop=0.06,
                drop_routes=ROUTES_BUT_POLL,
                seed=12,
            )
        )
        singles = [f"live/batch/{n:02d}.jpg" for n in range(24)]
        frames = [f"live/site/{g}/{n}.png" for g in ("a", "b") for n in range(5)]
        for key in singles + frames:
            env.put(key, b"x")
        # Every event twice (SQS and EventBridge deliver at least once).
        bodies = []
        while batch := env.sqs.receive_message(QueueUrl=env.queue_url, MaxNumberOfMessages=10).get(
            "Messages"
        ):
            for message in batch:
                bodies.append(message["Body"])
                env.sqs.delete_message(
                    QueueUrl=env.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        for body in bodies + bodies[::-1]:
            env.send(body)

        assert _drain_all(env, pollers=2, batch_size=10)

        dead = env.sqs.receive_message(QueueUrl=env.dlq_url).get("Messages", [])
        assert dead == [], "messages went to the dead-letter queue"
        items = env.items()
        urls = [u for i in items for u in i["urls"]]
        assert sorted(urls) == sorted(url_of(k) for k in singles + frames)  # each once
        assert len(items) == len(singles) + 2
        assert sum(env.encord.standin.faults.injected.values()) > 0


def test_two_functions_with_duplicate_events_and_lost_answers_register_nothing_twice(
    tmp_path: Path, offline_aws: str
) -> None:
    # Encord runs overlapping jobs side by side (each checks for duplicates as of its start),
    # and the first two job starts take effect but their answers are lost: the re-sends race
    # the lost jobs. The handler records what Encord held before each re-send and removes
    # what both made.
    with handler_env(tmp_path, build=BUILD, concurrent_jobs=True, job_latency=0.8) as env:
        env.encord.standin.lose_answers("start", 2)
        keys = [f"live/two/{n}.jpg" for n in range(8)]
        for key in keys:
            env.put(key, b"x")
        bodies = []
        while batch := env.sqs.receive_message(QueueUrl=env.queue_url, MaxNumberOfMessages=10).get(
            "Messages"
        ):
            for message in batch:
                bodies.append(message["Body"])
                env.sqs.delete_message(
                    QueueUrl=env.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        for body in bodies * 2:
            env.send(body)

        assert env.drain([env.poller(batch_size=4), env.poller(batch_size=4)])

        items = env.items()
        assert sorted(i["url"] for i in items) == sorted(url_of(k) for k in keys)
        assert len(env.encord.standin.jobs()) > 2  # the lost answers' jobs were sent again
        # Both the lost jobs and their re-sends made items (Encord ran them side by side):
        # the copies were found and removed.
        assert env.events("duplicates_removed")
        for key in keys:
            record = env.record(t.object_pk(BUCKET, key), t.OBJECT_SK)
            assert record is not None and record[t.STATE] == t.REGISTERED
            assert record[t.ITEM] in {i["uuid"] for i in items}
        # Both functions started cold at once: the folder was made once.
        assert [f["path"] for f in env.encord.standin.folders()].count(FOLDER) == 1


def test_an_authentication_failure_fails_fast_and_registers_nothing(
    tmp_path: Path, offline_aws: str
) -> None:
    with handler_env(tmp_path) as env:
        secrets = env.clients().secrets
        wrong_key, _ = generate_ssh_key()  # never added to the stand-in
        secrets.put_secret_value(SecretId=SECRET, SecretString=wrong_key)
        env.put("live/a.jpg", b"x")
        engine = env.engine()
        poller = env.poller(engine)

        assert poller.poll_once() == 1

        assert poller.stats.raised == 1
        assert isinstance(poller.stats.errors[0], AuthError)
        assert env.items() == [] and env.encord.standin.jobs() == []
        (line,) = env.events("authentication_failed")
        assert "rejected the key" in line["reason"]
        assert wrong_key.split("\n")[1] not in "".join(env.lines)  # never the key
        record = env.record(t.object_pk(BUCKET, "live/a.jpg"), t.OBJECT_SK)
        assert record is None or t.STATE not in record  # nothing claimed stays claimed
        assert env.depth() == 1  # the message waits in the queue

        # The key is fixed in the secret: the same container reads it again.
        secrets.put_secret_value(SecretId=SECRET, SecretString=env.encord.key_text)
        assert env.drain([poller], until=lambda: len(env.items()) == 1)


def test_the_lambda_entry_point_reads_its_settings_from_the_environment(
    tmp_path: Path, offline_aws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from registration.continuous import handler as entry
    from registration.continuous.settings import SETTINGS_ENV

    with handler_env(tmp_path) as env:
        monkeypatch.setenv(SETTINGS_ENV, env.settings.to_json())
        monkeypatch.setattr(entry, "_engine", None)
        env.put("live/entry.jpg", b"x")
        poller = env.poller()
        poller.handler = entry.handler

        assert env.drain([poller])

        assert [i["url"] for i in env.items()] == [url_of("live/entry.jpg")]
