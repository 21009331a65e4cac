"""`encord-register continuous backfill` against a deployment in moto (in-process): what ends up
on the queue, what is refused, and resuming after a crash.

The engine's side (registering what the queue holds, exactly once) is in test_backfill.py.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.s3.models import s3_backends

from registration.build.sources import ObjectRecord
from registration.build.spec import SourceSpec
from registration.cli import main
from registration.continuous import backfill as bf
from registration.continuous import backfill_send as send
from registration.continuous.backfill_state import Checkpoints
from registration.continuous.settings import WatchedBucket
from registration.exit_codes import ExitStatus
from registration.reporter import SILENT
from registration.stack_outputs import load_outputs_file
from tests.functional.continuous.deployed import ACCOUNT, BUCKET, REGION, Deployed, deployed
from tests.unit.build.test_sources import write_csv_inventory

WATCHED = [f"drone/f{f}/frames/{i:04d}.jpg" for f in range(3) for i in range(700)] + [
    f"scans/p{p}/s1/{i:03d}.dcm" for p in range(4) for i in range(100)
]
SMALL_BODY = 4_000
"""Bytes per backfill message in the resume tests: many messages, several batches."""
OUTSIDE = [f"other/{i}.jpg" for i in range(50)] + ["dronex/a.jpg", "readme.txt"]


@pytest.fixture
def stack(offline_aws: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployed]:
    monkeypatch.chdir(tmp_path)  # the default --state is relative to the current directory
    with mock_aws():
        d = deployed(tmp_path)
        backend = s3_backends[ACCOUNT]["aws"]
        for key in WATCHED + OUTSIDE:
            backend.put_object(BUCKET, key, b"x")
        yield d


def keys_on_queue(stack: Deployed) -> Counter[str]:
    found: Counter[str] = Counter()
    for message in stack.messages():
        doc = orjson.loads(message["Body"])
        assert doc["source"] == "encord-register.backfill"
        assert doc["detail-type"] == "Object Created"
        assert doc["detail"]["bucket"] == {"name": BUCKET}
        for obj in doc["detail"]["objects"]:
            assert obj["size"] == 1 and obj["storageClass"] == "STANDARD"
            found[obj["key"]] += 1
    return found


def test_sends_every_watched_object_once(
    stack: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(stack.argv("backfill", "--json")) == ExitStatus.OK
    summary = json.loads(capsys.readouterr().out)
    assert keys_on_queue(stack) == Counter(WATCHED)
    assert summary["listed"] == summary["objectsSent"] == len(WATCHED)
    assert summary["scopesDone"] == [
        f"listing s3://{BUCKET}/drone/",
        f"listing s3://{BUCKET}/scans/",
    ]
    state = json.loads((Path(".encord-register") / "backfill-state.json").read_text())
    assert state["scopes"][f"listing s3://{BUCKET}/drone/"]["done"] is True
    # Again: nothing is listed or sent; the scopes are done.
    assert main(stack.argv("backfill")) == ExitStatus.OK
    out = capsys.readouterr().out
    assert "0 objects listed: 0 sent" in out
    assert f"listing s3://{BUCKET}/drone/: finished by an earlier run" in out
    assert keys_on_queue(stack) == Counter()
    # --restart sends everything again (the handler registers each object once).
    assert main(stack.argv("backfill", "--restart", "--prefix", "scans/")) == ExitStatus.OK
    assert keys_on_queue(stack) == Counter(k for k in WATCHED if k.startswith("scans/"))


def test_a_prefix_narrows_the_scope(stack: Deployed, capsys: pytest.CaptureFixture[str]) -> None:
    argv = stack.argv("backfill", "--prefix", "drone/f1/", "--bucket", BUCKET)
    assert main(argv) == ExitStatus.OK
    assert keys_on_queue(stack) == Counter(k for k in WATCHED if k.startswith("drone/f1/"))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--prefix", "other/"], "--prefix 'other/' is outside what continuous registration"),
        (["--prefix", ""], "is outside what continuous registration watches"),
        (["--bucket", "someone-elses"], "bucket 'someone-elses' is not watched"),
    ],
)
def test_outside_the_watched_buckets_and_prefixes_is_refused_up_front(
    stack: Deployed, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    assert main(stack.argv("backfill", *extra)) == ExitStatus.USAGE
    err = capsys.readouterr().err
    assert message in err and "nothing was sent" in err
    assert "Traceback" not in err
    assert keys_on_queue(stack) == Counter()


def test_keys_file_keys_outside_the_watched_prefixes_are_refused(
    stack: Deployed, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text("\n".join([WATCHED[0], WATCHED[-1], "other/1.jpg", "drone/missing.jpg"]))
    assert main(stack.argv("backfill", "--keys-file", str(keys))) == ExitStatus.USAGE
    assert "1 key(s) of the keys file are outside" in capsys.readouterr().err
    assert keys_on_queue(stack) == Counter()
    # With --prefix the file is narrowed to it; missing keys are not sent.
    argv = stack.argv("backfill", "--keys-file", str(keys), "--prefix", "drone/", "--json")
    assert main(argv) == ExitStatus.OK
    summary = json.loads(capsys.readouterr().out)
    assert keys_on_queue(stack) == Counter([WATCHED[0]])
    assert summary["notSent"] == {"not_found": 1}


def test_an_inventory_sends_only_its_watched_prefixes(
    stack: Deployed, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    schema = "Bucket, Key, Size, StorageClass"
    rows = [[BUCKET, k, "1", "STANDARD"] for k in WATCHED[:10] + OUTSIDE[:5] + WATCHED[-10:]]
    manifest = write_csv_inventory(tmp_path / "inventory", rows, schema)
    doc = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**doc, "sourceBucket": BUCKET}))
    assert main(stack.argv("backfill", "--inventory", str(manifest), "--json")) == ExitStatus.OK
    summary = json.loads(capsys.readouterr().out)
    assert keys_on_queue(stack) == Counter(WATCHED[:10] + WATCHED[-10:])
    assert summary["notSent"] == {"outside_watched_prefixes": 5}
    assert summary["scopesDone"] == [
        f"inventory {manifest} s3://{BUCKET}/drone/",
        f"inventory {manifest} s3://{BUCKET}/scans/",
    ]


class FailingSqs:
    """The real (moto) client; SendMessageBatch answers ServiceUnavailable from call `fail_at`
    on (a crash of the network), or refuses some entries (SenderFault false) once each."""

    def __init__(self, real: Any, fail_at: int | None = None, refuse_every: int = 0) -> None:
        self.real = real
        self.fail_at = fail_at
        self.refuse_every = refuse_every
        self.calls = 0
        self.refused: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> Any:  # noqa: N803
        self.calls += 1
        if self.fail_at is not None and self.calls >= self.fail_at:
            error = {"Error": {"Code": "ServiceUnavailable", "Message": "down"}}
            raise ClientError(error, "SendMessageBatch")  # type: ignore[arg-type]
        keep, failed = [], []
        for n, entry in enumerate(Entries):
            body = entry["MessageBody"]
            if self.refuse_every and n % self.refuse_every == 0 and body not in self.refused:
                self.refused.add(body)
                failed.append({"Id": entry["Id"], "SenderFault": False, "Code": "InternalError"})
            else:
                keep.append(entry)
        answer = self.real.send_message_batch(QueueUrl=QueueUrl, Entries=keep) if keep else {}
        return {"Successful": answer.get("Successful", []), "Failed": failed}


def run_backfill(stack: Deployed, sqs: Any, state: Path) -> bf.BackfillSummary:
    resources = load_outputs_file(stack.outputs).continuous
    assert resources is not None
    watched = (WatchedBucket(BUCKET, REGION, ("drone/", "scans/")),)
    options = bf.BackfillOptions(state=state, body_bytes=SMALL_BODY)  # several batches
    return bf.backfill(resources, watched, SourceSpec(), sqs, SILENT, options, sleep=lambda _: None)


def test_a_rerun_after_a_failure_continues_after_the_last_acknowledged_batch(
    stack: Deployed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state.json"
    with pytest.raises(Exception, match="ServiceUnavailable"):
        run_backfill(stack, FailingSqs(stack.sqs, fail_at=4), state)
    first = keys_on_queue(stack)
    assert first and sum(first.values()) < len(WATCHED)
    summary = run_backfill(stack, stack.sqs, state)
    second = keys_on_queue(stack)
    assert first + second == Counter(WATCHED)  # every object once: none lost, none twice
    assert summary.already_sent == sum(first.values())


def test_a_crash_between_a_send_and_its_checkpoint_repeats_one_batch_at_most(
    stack: Deployed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state.json"
    saves = 0
    real_save = Checkpoints.save

    def crash_on_third_save(self: Checkpoints) -> None:
        nonlocal saves
        saves += 1
        if saves == 3:
            raise KeyboardInterrupt
        real_save(self)

    monkeypatch.setattr(Checkpoints, "save", crash_on_third_save)
    with pytest.raises(KeyboardInterrupt):
        run_backfill(stack, stack.sqs, state)
    monkeypatch.setattr(Checkpoints, "save", real_save)
    run_backfill(stack, stack.sqs, state)
    counts = keys_on_queue(stack)
    assert set(counts) == set(WATCHED)
    repeated = [k for k, n in counts.items() if n > 1]
    assert repeated and max(counts.values()) == 2
    assert len(repeated) <= send.SQS_MAX_BATCH * SMALL_BODY // 20  # one batch of small bodies


def test_unacknowledged_entries_are_sent_again_only_them(
    stack: Deployed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqs = FailingSqs(stack.sqs, refuse_every=3)
    summary = run_backfill(stack, sqs, tmp_path / "state.json")
    assert sqs.refused and summary.entries_retried == len(sqs.refused)
    assert keys_on_queue(stack) == Counter(WATCHED)


def test_batches_respect_sqs_limits() -> None:
    def body(size: int, n: int) -> send.Body:
        return send.Body("x" * size, f"k{n}", 1)

    many_small = list(send.batches(body(100, n) for n in range(25)))
    assert [len(b) for b in many_small] == [10, 10, 5]
    big = list(send.batches(body(100_000, n) for n in range(7)))
    assert [len(b) for b in big] == [2, 2, 2, 1]
    assert all(sum(len(x.text) for x in b) <= send.MAX_BATCH_BYTES for b in big)


def test_bodies_stay_under_the_message_size() -> None:
    records = [ObjectRecord("b", f"k/{'x' * 200}/{i:06d}.jpg", 10, "STANDARD") for i in range(5000)]
    bodies = list(send.pack(iter(records)))
    assert sum(b.objects for b in bodies) == 5000
    assert all(len(b.text.encode()) <= 256 * 1024 for b in bodies)
    assert [b.last_key for b in bodies][-1] == records[-1].key
