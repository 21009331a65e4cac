"""Groups collected in the table and registered once, when their folder is complete.

Quiet period 1 s (real clock, real SQS delays in moto): a group registers about a second after
its last file. Late files are reported (a `late#` record, a log line and the `LateArrivals`
metric), never dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from registration.build import skips
from registration.build.spec import BuildOptions
from registration.continuous import metrics
from registration.continuous import table as t
from tests.functional.continuous.handler_env import (
    BUCKET,
    HandlerEnv,
    eventbridge_body,
    handler_env,
    url_of,
)

BUILD = BuildOptions(image_sequences=("live/drone/*",), image_groups=("live/site/*",))


@pytest.fixture
def env(tmp_path: Path, offline_aws: str) -> Iterator[HandlerEnv]:
    with handler_env(tmp_path, build=BUILD) as running:
        yield running


def _by_title(env: HandlerEnv) -> dict[str, dict[str, object]]:
    return {str(i["title"]): i for i in env.items()}


def test_a_dicom_series_and_an_image_sequence_register_once_after_their_quiet_period(
    env: HandlerEnv,
) -> None:
    frames = [f"live/drone/f1/frame{n}.jpg" for n in (10, 2, 1, 33)]
    slices = ["live/scans/p1/s3/b.dcm", "live/scans/p1/s3/a.dcm", "live/scans/p1/s3/IM0001"]
    for key in frames + slices:
        env.put(key, b"pixels")
    poller = env.poller(batch_size=3)  # a group's files arrive over several invocations

    assert env.drain([poller], until=lambda: len(env.items()) == 2)

    items = _by_title(env)
    sequence, series = items["live/drone/f1"], items["live/scans/p1/s3"]
    assert sequence["type"] == "imageSequence"
    assert sequence["urls"] == [url_of(f"live/drone/f1/frame{n}.jpg") for n in (1, 2, 10, 33)]
    assert series["type"] == "dicomSeries"
    # The extension-less file is a slice of the series, as `manifest` decides.
    assert sorted(series["urls"]) == sorted(url_of(k) for k in slices)
    group = env.record(t.group_pk(BUCKET, "live/drone/f1"), t.GROUP_SK)
    assert group is not None and group[t.STATE] == t.REGISTERED
    assert group[t.ITEM] == sequence["uuid"] and t.LISTING not in group
    assert group[t.MEMBERS] == len(frames)
    assert env.listed(t.LISTING_GROUP) == []  # nothing in progress any more
    assert sum(m[metrics.GROUPS_REGISTERED] for m in env.metric_lines()) == 2
    assert len(env.encord.standin.jobs()) == 2


def test_a_group_is_not_registered_before_its_folder_is_quiet(tmp_path: Path) -> None:
    with handler_env(tmp_path, build=BUILD, quiet_seconds=60) as env:
        for n in range(3):
            env.put(f"live/site/a/{n}.png", b"x")
        poller = env.poller()
        while poller.poll_once():
            pass
        assert env.items() == []
        group = env.record(t.group_pk(BUCKET, "live/site/a"), t.GROUP_SK)
        assert group is not None and group[t.STATE] == t.OPEN
        assert [r[t.FOLDER] for r in env.listed(t.LISTING_GROUP)] == ["live/site/a"]
        assert group[t.CHECK_DUE] > group[t.LAST_SEEN]  # one check waits in the queue


def test_a_late_member_is_reported_not_dropped(env: HandlerEnv) -> None:
    for n in range(3):
        env.put(f"live/site/a/{n}.png", b"x")
    assert env.drain([env.poller()], until=lambda: len(env.items()) == 1)
    item = env.items()[0]

    env.put("live/site/a/9.png", b"late")
    assert env.drain([env.poller()])

    assert env.items() == [item]  # the item is as registered
    late = env.listed(t.LISTING_LATE)
    assert [(r[t.KEY], r[t.FOLDER], r[t.GROUP_STATE]) for r in late] == [
        ("live/site/a/9.png", "live/site/a", t.REGISTERED)
    ]
    assert [(e["key"], e["folder"]) for e in env.events("late_arrival")] == [
        ("live/site/a/9.png", "live/site/a")
    ]
    assert sum(m[metrics.LATE_ARRIVALS] for m in env.metric_lines()) == 1
    # The same late event again: recorded once, counted once.
    etag = str(late[0][t.ETAG])
    env.send(eventbridge_body(BUCKET, "live/site/a/9.png", 4, etag))
    assert env.drain([env.poller()])
    assert len(env.listed(t.LISTING_LATE)) == 1
    assert sum(m[metrics.LATE_ARRIVALS] for m in env.metric_lines()) == 1


def test_a_marker_completes_its_group_at_once_with_every_file_of_the_folder(
    tmp_path: Path,
) -> None:
    with handler_env(tmp_path, build=BUILD, quiet_seconds=600) as env:
        for n in range(4):
            env.put(f"live/site/b/{n}.png", b"x")
        env.put("live/site/b/_COMPLETE", b"")
        bodies = []
        while batch := env.sqs.receive_message(QueueUrl=env.queue_url, MaxNumberOfMessages=10).get(
            "Messages"
        ):
            for message in batch:
                bodies.append(message["Body"])
                env.sqs.delete_message(
                    QueueUrl=env.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        # The marker's event comes first; two files' events come only after it.
        marker = next(b for b in bodies if "_COMPLETE" in b)
        rest = [b for b in bodies if b != marker]
        env.send(marker)
        env.send(rest[0])
        env.send(rest[1])
        poller = env.poller(batch_size=3)
        assert poller.poll_once() == 3
        assert len(env.items()) == 1
        for body in rest[2:]:
            env.send(body)
        assert env.drain([poller], delayed=False)  # the first members' check waits 600 s

        (item,) = env.items()
        assert item["urls"] == [url_of(f"live/site/b/{n}.png") for n in range(4)]
        marker_record = env.record(t.object_pk(BUCKET, "live/site/b/_COMPLETE"), t.OBJECT_SK)
        assert marker_record is not None
        assert (marker_record[t.STATE], marker_record[t.REASON]) == (t.SKIPPED, skips.GROUP_MARKER)
        assert env.listed(t.LISTING_LATE) == []  # the later events were already members


def test_a_folder_of_files_without_extension_is_skipped_then_reopened_by_a_dicom_file(
    env: HandlerEnv,
) -> None:
    env.put("live/misc/README", b"text")
    assert env.drain([env.poller()], until=lambda: bool(env.events("group_skipped")))
    assert env.items() == []
    readme = env.record(t.object_pk(BUCKET, "live/misc/README"), t.OBJECT_SK)
    assert readme is not None and readme[t.REASON] == skips.UNKNOWN_TYPE
    group = env.record(t.group_pk(BUCKET, "live/misc"), t.GROUP_SK)
    assert group is not None and group[t.STATE] == t.SKIPPED

    env.put("live/misc/scan.dcm", b"dicom")
    assert env.drain([env.poller()], until=lambda: len(env.items()) == 1)
    (series,) = env.items()
    assert series["type"] == "dicomSeries"
    assert sorted(series["urls"]) == sorted(
        [url_of("live/misc/README"), url_of("live/misc/scan.dcm")]
    )
    assert json.dumps(env.events("late_arrival")) == "[]"
