"""What the queue carries, parsed into records, and the bodies the handler and backfill send."""

from __future__ import annotations

import json

import pytest

from registration.build.sources import ObjectRecord
from registration.continuous import messages as m

# An S3 event as EventBridge delivers it (AWS's documented example, one object).
S3_EVENT = {
    "version": "0",
    "id": "17793124-05d4-b198-2fde-7ededc63b103",
    "detail-type": "Object Created",
    "source": "aws.s3",
    "account": "123456789012",
    "time": "2021-11-12T00:00:00Z",
    "region": "ca-central-1",
    "resources": ["arn:aws:s3:::example-bucket"],
    "detail": {
        "version": "0",
        "bucket": {"name": "example-bucket"},
        "object": {
            "key": "example-key",
            "size": 5,
            "etag": "b1946ac92492d2347c6235b4d2611184",
            "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
            "sequencer": "617f08299329d189",
        },
        "request-id": "N4N7GDK58NMKJ12R",
        "requester": "123456789012",
        "source-ip-address": "1.2.3.4",
        "reason": "PutObject",
    },
}


def test_an_s3_event_is_one_object_whose_key_still_needs_resolving() -> None:
    (event,) = m.parse(json.dumps(S3_EVENT))  # type: ignore[misc]
    assert event == m.ObjectEvent(
        bucket="example-bucket",
        key="example-key",
        size=5,
        etag="b1946ac92492d2347c6235b4d2611184",
        exact=False,
        source=m.S3_SOURCE,
    )
    assert event.storage_class is None  # S3 does not say: HeadObject will


def test_mottos_etag_spelling_and_quoted_etags_are_read() -> None:
    doc = json.loads(json.dumps(S3_EVENT))
    del doc["detail"]["object"]["etag"]
    doc["detail"]["object"]["eTag"] = '"abc"'
    (event,) = m.parse(json.dumps(doc))  # type: ignore[misc]
    assert event.etag == "abc"


def test_a_backfill_message_is_many_exact_objects() -> None:
    records = [
        ObjectRecord("bkt", "a.jpg", 3, "STANDARD"),
        ObjectRecord("bkt", "b c+é.jpg", 0, "DEEP_ARCHIVE", restored=True),
        ObjectRecord("bkt", "d.jpg", None, "INTELLIGENT_TIERING", access_tier="ARCHIVE_ACCESS"),
    ]
    (body,) = m.backfill_bodies(records)
    events = m.parse(body)
    assert isinstance(events, list)
    assert [(e.key, e.size, e.storage_class, e.restored, e.access_tier) for e in events] == [
        ("a.jpg", 3, "STANDARD", None, None),
        ("b c+é.jpg", 0, "DEEP_ARCHIVE", True, None),
        ("d.jpg", None, "INTELLIGENT_TIERING", None, "ARCHIVE_ACCESS"),
    ]
    assert all(e.exact and e.bucket == "bkt" and e.source == m.BACKFILL_SOURCE for e in events)
    assert [e.record() for e in events][:1] == [ObjectRecord("bkt", "a.jpg", 3, "STANDARD")]


def test_backfill_bodies_stay_within_their_limits_and_one_bucket_each() -> None:
    records = [ObjectRecord("one", f"k/{n:05d}-" + "x" * 80 + ".jpg", n) for n in range(3000)]
    records += [ObjectRecord("two", "a.jpg", 1)]
    bodies = list(m.backfill_bodies(records, max_bytes=64_000, max_objects=500))
    assert all(len(body.encode()) <= 64_000 for body in bodies)
    parsed = [m.parse(body) for body in bodies]
    assert all(isinstance(p, list) and len(p) <= 500 for p in parsed)
    keys = [e.key for p in parsed for e in p]  # type: ignore[union-attr]
    assert keys == [r.key for r in records]  # every record once, in order
    assert {e.bucket for e in parsed[-1]} == {"two"}  # type: ignore[union-attr]
    defaults = [m.parse(b) for b in m.backfill_bodies(records)]
    assert [len(p) for p in defaults] == [100] * 30 + [1]  # type: ignore[arg-type]
    assert m.MAX_BACKFILL_OBJECTS == 100
    assert all(len(b.encode()) <= m.BACKFILL_BODY_BYTES for b in m.backfill_bodies(records))


def test_a_key_too_long_for_any_body_is_refused() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        list(m.backfill_bodies([ObjectRecord("b", "x" * 500)], max_bytes=300))


def test_checks_round_trip() -> None:
    assert m.parse(m.group_check_body("bkt", "scans/p1")) == m.GroupCheck("bkt", "scans/p1")
    assert m.parse(m.group_check_body("bkt", "")) == m.GroupCheck("bkt", "")
    assert m.parse(m.sidecar_check_body("bkt", "a.jpg.json")) == m.SidecarCheck("bkt", "a.jpg.json")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "JSON list"),
        ('{"source": "my.app"}', "unknown source 'my.app'"),
        ('{"Records": [{"eventName": "ObjectCreated:Put"}]}', "through EventBridge"),
        (json.dumps({**S3_EVENT, "detail-type": "Object Deleted"}), "deletions are ignored"),
        (json.dumps({**S3_EVENT, "detail": {"bucket": {"name": "b"}}}), "'object'"),
        (
            json.dumps({"source": m.BACKFILL_SOURCE, "detail": {"bucket": {"name": "b"}}}),
            "detail.objects",
        ),
        (json.dumps({"source": m.GROUP_CHECK_SOURCE, "detail": {"folder": "f"}}), "'bucket'"),
    ],
)
def test_anything_else_is_a_poison_message_with_its_reason(body: str, reason: str) -> None:
    with pytest.raises(m.BadMessage) as caught:
        m.parse(body)
    assert reason in caught.value.reason


def test_a_negative_or_textual_size_is_refused() -> None:
    doc = json.loads(json.dumps(S3_EVENT))
    doc["detail"]["object"]["size"] = "5"
    with pytest.raises(m.BadMessage, match="size"):
        m.parse(json.dumps(doc))
