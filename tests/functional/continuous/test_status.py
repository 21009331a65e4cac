"""`encord-register continuous status` against a deployment in moto (in-process).

The table records are written as the handler writes them (`registration.continuous.table`);
dead-letter messages get there the way SQS moves them (received `maxReceiveCount` times).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws

from registration.cli import main
from registration.continuous import table as t
from registration.contract import OUTPUT_BUCKETS, OUTPUT_EXTERNAL_ID, OUTPUT_ROLE_ARN
from registration.exit_codes import ExitStatus
from tests.functional.continuous.deployed import BUCKET, Deployed, deployed

EVENT = {
    "version": "0",
    "id": "7e0c3d2a-0000-0000-0000-000000000001",
    "detail-type": "Object Created",
    "source": "aws.s3",
    "account": "123456789012",
    "time": "2026-03-01T10:00:00Z",
    "region": "eu-west-1",
    "resources": [f"arn:aws:s3:::{BUCKET}"],
    "detail": {
        "version": "0",
        "bucket": {"name": BUCKET},
        "object": {"key": "drone/a.jpg", "size": 10, "etag": "e", "sequencer": "1"},
        "reason": "PutObject",
    },
}


@pytest.fixture
def stack(offline_aws: str, tmp_path: Path) -> Iterator[Deployed]:
    with mock_aws():
        yield deployed(tmp_path)


def status(stack: Deployed, capsys: pytest.CaptureFixture[str], *extra: str) -> dict:
    assert main(stack.argv("status", "--json", *extra)) == ExitStatus.OK
    return json.loads(capsys.readouterr().out)


def test_queue_depth_and_dead_letters_with_their_reasons(
    stack: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    poison = stack.dead_letter("not json at all")
    event = stack.dead_letter(json.dumps(EVENT))
    backfill = {
        "source": "encord-register.backfill",
        "detail-type": "Object Created",
        "detail": {
            "bucket": {"name": BUCKET},
            "objects": [{"key": f"scans/{i}.dcm"} for i in range(5)],
        },
    }
    unexplained = stack.dead_letter(json.dumps(backfill))
    stack.put_record(
        t.error_pk(poison),
        t.ERROR_SK,
        listing=t.LISTING_ERROR,
        at=f"2026-03-01T10:00:05+00:00#{poison}",
        reason="bad message: not JSON",
        error_kind=t.ERROR_POISON,
        ttl=1,
    )
    stack.put_record(
        t.error_pk(event),
        t.ERROR_SK,
        listing=t.LISTING_ERROR,
        at=f"2026-03-01T10:00:09+00:00#{event}",
        reason="Encord 503 (transient)",
        ttl=1,
    )
    for _ in range(3):
        stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=json.dumps(EVENT))
    stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody="{}", DelaySeconds=60)

    doc = status(stack, capsys)

    assert doc["queue"]["waiting"] == 3 and doc["queue"]["delayed"] == 1
    dlq = doc["deadLetterQueue"]
    assert dlq["waiting"] == 3
    by_id = {m["messageId"]: m for m in dlq["messages"]}
    assert set(by_id) == {poison, event, unexplained}
    assert by_id[poison]["reason"] == "bad message: not JSON"
    assert by_id[poison]["errorKind"] == "poison"
    (about,) = by_id[poison]["about"]
    assert about.startswith("not a message the handler takes (the body is not JSON")
    assert about.endswith("'not json at all'")
    assert by_id[event]["reason"] == "Encord 503 (transient)"
    assert by_id[event]["failedAt"] == "2026-03-01T10:00:09+00:00"
    assert by_id[event]["about"] == [f"s3://{BUCKET}/drone/a.jpg"]
    assert by_id[unexplained]["reason"] is None
    assert by_id[unexplained]["about"] == [
        f"s3://{BUCKET}/scans/0.dcm",
        f"s3://{BUCKET}/scans/1.dcm",
        f"s3://{BUCKET}/scans/2.dcm",
        "and 2 more",
    ]
    assert doc["lastErrors"]["total"] == 2
    assert [e["subject"] for e in doc["lastErrors"]["shown"]] == [event, poison]  # newest first
    # Peeking left every message where it was: a redrive still finds all three.
    assert main(stack.argv("redrive", "--json")) == ExitStatus.OK
    assert json.loads(capsys.readouterr().out)["moved"] == 3


T0 = 1_772_355_600  # 2026-03-01T09:00:00Z, as the handler writes times (epoch seconds)


def test_groups_late_arrivals_and_limits(
    stack: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    for i in range(4):
        folder = f"scans/p{i}/s1"
        stack.put_record(
            t.group_pk(BUCKET, folder),
            t.GROUP_SK,
            listing=t.LISTING_GROUP,
            at=t.listing_at(f"2026-03-01T09:0{i}:00+00:00", folder),
            state=t.OPEN,
            kind="dicomSeries",
            members=10 + i,
            first_seen=T0 + 60 * i,
            last_seen=T0 + 600 + 60 * i,
            bucket=BUCKET,
            folder=folder,
        )
    key = "drone/f1/frames/0999.jpg"
    stack.put_record(
        t.late_pk(BUCKET, key),
        t.LATE_SK,
        listing=t.LISTING_LATE,
        at=t.listing_at("2026-03-01T11:00:00+00:00", key),
        folder="drone/f1/frames",
        group_state=t.REGISTERED,
        arrived=T0 + 7200,
    )
    doc = status(stack, capsys, "--limit", "2")
    groups = doc["groupsInProgress"]
    assert groups["total"] == 4
    assert [g["subject"] for g in groups["shown"]] == [
        f"s3://{BUCKET}/scans/p0/s1/",
        f"s3://{BUCKET}/scans/p1/s1/",  # oldest first
    ]
    first = groups["shown"][0]
    assert (first["state"], first["kind"], first["members"]) == ("open", "dicomSeries", 10)
    assert first["last_seen"] == T0 + 600
    late = doc["lateArrivals"]
    assert late["total"] == 1
    assert late["shown"][0]["subject"] == f"s3://{BUCKET}/{key}"
    assert late["shown"][0]["at"] == "2026-03-01T11:00:00+00:00"

    assert main(stack.argv("status", "--limit", "1")) == ExitStatus.OK
    out = capsys.readouterr().out
    assert "groups in progress: 4 (3 not shown)" in out
    assert (
        f"s3://{BUCKET}/scans/p0/s1/  state open, kind dicomSeries, members 10, "
        "first_seen 2026-03-01T09:00:00+00:00, last_seen 2026-03-01T09:10:00+00:00"
    ) in out
    assert (
        f"s3://{BUCKET}/{key}  folder drone/f1/frames, group_state registered, "
        "arrived 2026-03-01T11:00:00+00:00"
    ) in out


def test_human_output_names_the_fix(stack: Deployed, capsys: pytest.CaptureFixture[str]) -> None:
    stack.dead_letter("poison")
    assert main(stack.argv("status")) == ExitStatus.OK
    out = capsys.readouterr().out
    assert "dead-letter queue: 1 message(s)" in out
    assert "reason: no reason recorded" in out
    assert f"encord-register continuous redrive --stack-outputs {stack.outputs}" in out
    assert "groups in progress: 0" in out and "late arrivals: 0" in out


def test_a_stack_without_continuous_registration_is_a_usage_error(
    offline_aws: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "cdk-outputs.json"
    raw = {OUTPUT_ROLE_ARN: "arn:aws:iam::1:role/r", OUTPUT_EXTERNAL_ID: "x", OUTPUT_BUCKETS: "[]"}
    path.write_text(json.dumps({"EncordAccess": raw}))
    for action in ("status", "redrive", "backfill"):
        code = main(["continuous", action, "--stack-outputs", str(path)])
        assert code == ExitStatus.USAGE
        err = capsys.readouterr().err
        assert "has no continuous registration (no EncordContinuous output)" in err
        assert "Traceback" not in err


def test_a_deleted_queue_is_reported_with_what_to_check(
    stack: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.sqs.delete_queue(QueueUrl=stack.queue_url)
    assert main(stack.argv("status")) == ExitStatus.USAGE
    assert "the stack's resource is gone" in capsys.readouterr().err
