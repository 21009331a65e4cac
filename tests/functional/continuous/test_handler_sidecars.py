"""Sidecar metadata, whichever lands first: the item ends with the sidecar's metadata."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from registration.build import skips
from registration.build.sources import ObjectRecord
from registration.build.spec import BuildOptions
from registration.continuous import metrics
from registration.continuous import table as t
from registration.continuous.messages import backfill_bodies
from tests.functional.continuous.handler_env import BUCKET, HandlerEnv, handler_env, url_of


@pytest.fixture
def env(tmp_path: Path, offline_aws: str) -> Iterator[HandlerEnv]:
    with handler_env(tmp_path, build=BuildOptions(image_groups=("live/site/*",))) as running:
        yield running


def _item(env: HandlerEnv, key: str) -> dict[str, object]:
    (found,) = [i for i in env.items() if i["url"] == url_of(key)]
    return found


def test_a_sidecar_after_its_image_updates_the_items_metadata(env: HandlerEnv) -> None:
    env.put("live/cat.jpg", b"img")
    assert env.drain([env.poller()])
    before = _item(env, "live/cat.jpg")
    assert before["clientMetadata"] == {}

    env.put("live/cat.jpg.metadata.json", json.dumps({"animal": "cat"}).encode())
    assert env.drain([env.poller()])

    after = _item(env, "live/cat.jpg")
    assert after["uuid"] == before["uuid"]  # the same item, updated
    assert after["clientMetadata"] == {"animal": "cat"}
    assert len(env.items()) == 1
    upserts = [j for j in env.encord.standin.jobs() if j["upsertMetadata"]]
    assert len(upserts) == 1 and upserts[0]["skipDuplicateUrls"]
    record = env.record(t.object_pk(BUCKET, "live/cat.jpg"), t.OBJECT_SK)
    assert record is not None and record[t.SIDECAR] == "live/cat.jpg.metadata.json"
    assert sum(m[metrics.SIDECARS_APPLIED] for m in env.metric_lines()) == 1

    # The sidecar changes: the item follows; the same event again changes nothing.
    env.put("live/cat.jpg.metadata.json", json.dumps({"animal": "lion"}).encode())
    assert env.drain([env.poller()])
    assert _item(env, "live/cat.jpg")["clientMetadata"] == {"animal": "lion"}
    jobs = len(env.encord.standin.jobs())
    env.send(_sidecar_event(env, "live/cat.jpg.metadata.json"))
    assert env.drain([env.poller()])
    assert len(env.encord.standin.jobs()) == jobs


def _sidecar_event(env: HandlerEnv, key: str) -> str:
    from tests.functional.continuous.handler_env import eventbridge_body

    head = env.s3.head_object(Bucket=BUCKET, Key=key)
    return eventbridge_body(BUCKET, key, head["ContentLength"], head["ETag"].strip('"'))


def test_a_sidecar_before_its_image_waits_and_the_image_registers_with_it(
    env: HandlerEnv,
) -> None:
    env.put("live/dog.jpg.json", json.dumps({"animal": "dog"}).encode())
    poller = env.poller()
    while poller.poll_once():
        pass
    assert env.items() == []
    waiting = env.record(t.object_pk(BUCKET, "live/dog.jpg"), t.sidecar_sk("live/dog.jpg.json"))
    assert waiting is not None

    env.put("live/dog.jpg", b"img")
    assert env.drain([env.poller()])

    (item,) = env.items()
    assert item["url"] == url_of("live/dog.jpg") and item["clientMetadata"] == {"animal": "dog"}
    assert not any(j["upsertMetadata"] for j in env.encord.standin.jobs())


def test_a_sidecar_whose_object_never_comes_is_an_object_of_its_own(env: HandlerEnv) -> None:
    env.put("live/orphan.json", b'{"just": "json"}')

    assert env.drain([env.poller()], until=lambda: len(env.items()) == 1)

    (item,) = env.items()
    assert item["url"] == url_of("live/orphan.json") and item["type"] == "plainText"


def test_the_longer_suffix_wins_and_a_frames_sidecar_is_skipped(env: HandlerEnv) -> None:
    env.put("live/owl.jpg", b"img")
    env.put("live/owl.jpg.json", json.dumps({"from": "json"}).encode())
    env.put("live/owl.jpg.metadata.json", json.dumps({"from": "metadata.json"}).encode())
    env.put("live/site/g/1.png", b"frame")
    env.put("live/site/g/1.png.json", b'{"frame": 1}')

    assert env.drain([env.poller()], until=lambda: len(env.items()) == 2)

    assert _item(env, "live/owl.jpg")["clientMetadata"] == {"from": "metadata.json"}
    reasons = {e["key"]: e["reason"] for e in env.events("skipped") if e["key"].endswith(".json")}
    assert reasons == {
        "live/owl.jpg.json": skips.SIDECAR_SUPERSEDED,
        "live/site/g/1.png.json": skips.SIDECAR_OF_FRAME,
    }


def test_images_and_their_sidecars_backfilled_together_register_with_their_metadata(
    env: HandlerEnv,
) -> None:
    animals = ["ant", "bee", "cow"]
    for animal in animals:
        env.put(f"live/zoo/{animal}.jpg", b"img")
        env.put(f"live/zoo/{animal}.jpg.json", json.dumps({"animal": animal}).encode())
    while batch := env.sqs.receive_message(QueueUrl=env.queue_url, MaxNumberOfMessages=10).get(
        "Messages"
    ):  # the objects predate the watch: no events, a backfill lists them
        for message in batch:
            env.sqs.delete_message(QueueUrl=env.queue_url, ReceiptHandle=message["ReceiptHandle"])
    listed = env.s3.list_objects_v2(Bucket=BUCKET, Prefix="live/zoo/")["Contents"]
    records = [ObjectRecord(BUCKET, o["Key"], o["Size"], o["StorageClass"]) for o in listed]
    heads: list[str] = []
    env.s3.meta.events.register(
        "request-created.s3.HeadObject", lambda **kwargs: heads.append("HeadObject")
    )
    for body in backfill_bodies(records):
        env.send(body)

    assert env.drain([env.poller()])

    items = env.items()
    assert sorted(i["url"] for i in items) == sorted(url_of(f"live/zoo/{a}.jpg") for a in animals)
    assert {i["url"]: i["clientMetadata"] for i in items} == {
        url_of(f"live/zoo/{a}.jpg"): {"animal": a} for a in animals
    }
    assert not any(j["upsertMetadata"] for j in env.encord.standin.jobs())  # sent with it
    assert heads == []  # the listing says the objects exist: S3 was not asked
