"""Single files through S3 -> EventBridge -> SQS -> the handler -> the Encord stand-in.

Everything is real but the managed services' hosts: boto3 against in-process moto (the bucket
sends its events to EventBridge, the rule sends them to the queue), the real encord SDK against
the stand-in, the handler run by the emulated event source mapping.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from urllib.parse import quote_plus

import pytest

from registration.build import skips
from registration.continuous import metrics
from registration.continuous import table as t
from tests.functional.continuous.handler_env import (
    BUCKET,
    FOLDER,
    HandlerEnv,
    eventbridge_body,
    handler_env,
    url_of,
)


@pytest.fixture
def env(tmp_path: Path, offline_aws: str) -> HandlerEnv:
    with handler_env(tmp_path) as running:
        yield running


def _received_bodies(env: HandlerEnv) -> list[str]:
    """Every message body on the queue now (taken off it)."""
    bodies = []
    while True:
        batch = env.sqs.receive_message(QueueUrl=env.queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        if not batch:
            return bodies
        for message in batch:
            bodies.append(message["Body"])
            env.sqs.delete_message(QueueUrl=env.queue_url, ReceiptHandle=message["ReceiptHandle"])


def test_new_objects_are_registered_once_despite_duplicated_and_reordered_events(
    env: HandlerEnv,
) -> None:
    keys = ["live/a.jpg", "live/clips/b.mp4", "live/docs/c.pdf", "live/sound/d.wav"]
    etags = {key: env.put(key, key.encode()) for key in keys}
    bodies = _received_bodies(env)
    assert len(bodies) == len(keys)  # EventBridge delivered one event per object
    event = json.loads(bodies[0])
    assert event["source"] == "aws.s3" and event["detail-type"] == "Object Created"
    # Every event three times, in another order.
    replayed = bodies * 3
    random.Random(7).shuffle(replayed)
    for body in replayed:
        env.send(body)

    assert env.drain([env.poller(batch_size=5)])

    items = env.items()
    assert sorted(i["url"] for i in items) == sorted(url_of(k) for k in keys)
    assert {i["type"] for i in items} == {"image", "video", "pdf", "audio"}
    for key in keys:
        record = env.record(t.object_pk(BUCKET, key), t.OBJECT_SK)
        assert record is not None and record[t.STATE] == t.REGISTERED
        assert record[t.ETAG] == etags[key]
        assert record[t.ITEM] in {i["uuid"] for i in items}
    assert sum(m[metrics.REGISTERED] for m in env.metric_lines()) == len(keys)
    assert sum(m[metrics.DUPLICATE_EVENTS] for m in env.metric_lines()) == 2 * len(keys)
    jobs = env.encord.standin.jobs()
    assert all(job["skipDuplicateUrls"] for job in jobs)
    assert sum(job["units"] for job in jobs) == len(keys)  # nothing was sent twice

    # The same events once more, much later: nothing is sent.
    for body in bodies:
        env.send(body)
    assert env.drain([env.poller()])
    assert len(env.encord.standin.jobs()) == len(jobs)
    assert len(env.items()) == len(keys)


def test_keys_with_spaces_plus_and_unicode_in_either_spelling(env: HandlerEnv) -> None:
    raw = "live/red flower+1 é.jpg"
    encoded = "live/blue sky+2 ü.jpg"
    both_a, both_b = "live/x+y.jpg", "live/x y.jpg"
    env.put(raw, b"1")
    env.put(encoded, b"2")
    env.put(both_a, b"plus")
    etag_b = env.put(both_b, b"space")
    _received_bodies(env)  # moto's events carry the raw keys; replace them by hand
    env.send(eventbridge_body(BUCKET, raw, 1, "x"))  # the key as stored
    # The key URL-encoded form-style (as S3 notifications spell it): resolved with HeadObject.
    env.send(eventbridge_body(BUCKET, quote_plus(encoded, safe="/"), 1, "x"))
    # `x+y.jpg` names both spellings: the event's ETag says it is `x y.jpg`.
    env.send(eventbridge_body(BUCKET, both_a, 5, etag_b, etag_field="eTag"))

    assert env.drain([env.poller()])

    urls = sorted(i["url"] for i in env.items())
    assert urls == sorted(url_of(k) for k in (raw, encoded, both_b))
    assert "%20" in url_of(raw) and "%2B" in url_of(raw) and "%C3%A9" in url_of(raw)
    record = env.record(t.object_pk(BUCKET, encoded), t.OBJECT_SK)
    assert record is not None and record[t.STATE] == t.REGISTERED
    assert env.record(t.object_pk(BUCKET, both_a), t.OBJECT_SK) is None


def test_archived_empty_folder_marker_and_unknown_objects_are_skipped_with_their_reason(
    env: HandlerEnv,
) -> None:
    env.put("live/cold.jpg", b"x", StorageClass="DEEP_ARCHIVE")
    env.put("live/glacier-ir.jpg", b"x", StorageClass="GLACIER_IR")
    env.put("live/empty.jpg", b"")
    env.put("live/folder/", b"")
    env.put("live/notes.xyz", b"x")
    env.put("live/a/../b.jpg", b"x")

    assert env.drain([env.poller()])

    assert [i["url"] for i in env.items()] == [url_of("live/glacier-ir.jpg")]
    expected = {
        "live/cold.jpg": skips.ARCHIVED,
        "live/empty.jpg": skips.EMPTY_OBJECT,
        "live/folder/": skips.FOLDER_MARKER,
        "live/notes.xyz": skips.UNKNOWN_TYPE,
        "live/a/../b.jpg": skips.DOT_SEGMENT,
    }
    for key, reason in expected.items():
        record = env.record(t.object_pk(BUCKET, key), t.OBJECT_SK)
        assert record is not None, key
        assert (record[t.STATE], record[t.REASON]) == (t.SKIPPED, reason)
    logged = {line["key"]: line["reason"] for line in env.events("skipped")}
    assert logged == expected
    assert logged["live/cold.jpg"] == "archived_not_restored"  # manifest's name for it
    assert [e["detail"] for e in env.events("skipped") if e["key"] == "live/cold.jpg"] == [
        "DEEP_ARCHIVE"
    ]


def test_an_object_re_uploaded_with_content_after_an_empty_one_is_registered(
    env: HandlerEnv,
) -> None:
    env.put("live/later.jpg", b"")
    assert env.drain([env.poller()])
    assert env.items() == []
    env.put("live/later.jpg", b"now with content")
    assert env.drain([env.poller()])
    assert [i["url"] for i in env.items()] == [url_of("live/later.jpg")]


def test_a_poison_message_ends_in_the_dead_letter_queue_with_its_reason(
    env: HandlerEnv,
) -> None:
    poison = env.send("this is not an event")
    wrong_bucket = env.send(eventbridge_body("someone-elses-bucket", "live/a.jpg", 1, "x"))
    env.put("live/fine.jpg", b"x")

    assert env.drain([env.poller()])

    dead = env.sqs.receive_message(QueueUrl=env.dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["MessageId"] for m in dead) == sorted([poison, wrong_bucket])
    errors = {r[t.MESSAGE_ID]: r for r in env.listed(t.LISTING_ERROR)}
    assert set(errors) == {poison, wrong_bucket}
    assert errors[poison][t.ERROR_KIND] == t.ERROR_POISON
    assert "not JSON" in errors[poison][t.REASON]
    assert "not watched" in errors[wrong_bucket][t.REASON]
    assert errors[poison][t.TTL] > 0
    assert [i["url"] for i in env.items()] == [url_of("live/fine.jpg")]
    assert sum(m[metrics.POISON_MESSAGES] for m in env.metric_lines()) >= 1


def test_encord_refusing_one_item_marks_it_failed_and_the_others_registered(
    env: HandlerEnv,
) -> None:
    env.encord.standin.fail_units([url_of("live/bad.jpg")], error="Access denied to object")
    env.put("live/good.jpg", b"1")
    env.put("live/bad.jpg", b"2")

    assert env.drain([env.poller()])

    assert [i["url"] for i in env.items()] == [url_of("live/good.jpg")]
    record = env.record(t.object_pk(BUCKET, "live/bad.jpg"), t.OBJECT_SK)
    assert record is not None and record[t.STATE] == t.FAILED
    assert "Access denied" in record[t.REASON]
    assert [e["key"] for e in env.events("failed")] == ["live/bad.jpg"]
    # A repeated event does not send it again (reported, not retried for ever)...
    jobs = len(env.encord.standin.jobs())
    env.send(eventbridge_body(BUCKET, "live/bad.jpg", 1, str(record[t.ETAG])))
    assert env.drain([env.poller()])
    assert len(env.encord.standin.jobs()) == jobs
    # ...a new upload (a new ETag) does.
    env.encord.standin.clear_unit_failures()
    env.put("live/bad.jpg", b"fixed")
    assert env.drain([env.poller()])
    assert sorted(i["url"] for i in env.items()) == sorted(
        [url_of("live/good.jpg"), url_of("live/bad.jpg")]
    )
    assert env.encord.standin.folder_uuid(FOLDER) is not None
