"""A listing cut into key ranges gives exactly the plain sequential listing.

moto's S3 in-process with small pages (``MaxKeys``) and small pieces, so that buckets of a
few thousand keys go through every path: delimiter split, flat ranges cut from a sample,
sub-prefixes cut after a few pages, ladders past the last key, continued delimiter pages.
The expected listing comes from botocore's own paginator, not from the code under test.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from registration.build.sources import ObjectRecord, s3_listing, s3_pages
from registration.build.sources.s3_access import make_s3_client
from registration.build.sources.s3_listing import BucketLister, normalise_prefixes
from registration.build.sources.s3_pages import page_from_parsed
from registration.errors import RegisterError

BUCKET = "ranges-bucket"
WORKERS = [1, 2, 3, 8]


@pytest.fixture
def s3(offline_aws: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setattr(s3_listing, "_MAX_KEYS", 20)
    monkeypatch.setattr(s3_listing, "_PIECE_KEYS", 70)
    monkeypatch.setattr(s3_listing, "_PAGES_BEFORE_CUT", 2)
    with mock_aws():
        client = make_s3_client("us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def _fill(keys: list[str], glacier_every: int = 7) -> None:
    from moto.s3.models import s3_backends

    backend = s3_backends["123456789012"]["aws"]
    for i, key in enumerate(keys):
        storage = "GLACIER" if i % glacier_every == 0 else "STANDARD"
        backend.put_object(BUCKET, key, b"x" * (i % 13), storage=storage)


def _expected(client: Any, prefixes: list[str]) -> list[ObjectRecord]:
    """The plain listing, by botocore's paginator."""
    records: list[ObjectRecord] = []
    for prefix in normalise_prefixes(prefixes):
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(
            Bucket=BUCKET, Prefix=prefix, OptionalObjectAttributes=["RestoreStatus"]
        ):
            records += page_from_parsed(BUCKET, page).objects
    return records


def _check(client: Any, prefixes: list[str], workers: list[int] = WORKERS) -> None:
    expected = _expected(client, prefixes)
    assert expected, "the case lists nothing"
    for count in workers:
        got = list(BucketLister(client, BUCKET, workers=count).iter_objects(prefixes))
        assert got == expected, f"{count} workers, prefixes {prefixes}"


def flat(n: int) -> list[str]:
    return [f"object {i:06d}.jpg" for i in range(n)]


def nested() -> list[str]:
    sizes = [1, 5, 19, 20, 21, 60, 150, 400, 0, 3, 250, 41]
    keys = [f"part-{p:03d}/object {i:05d}.jpg" for p, n in enumerate(sizes) for i in range(n)]
    keys += [f"part-{p:03d}.json" for p in range(12)]  # direct objects between prefixes
    keys += [f"part-{p:03d}-a.jpg" for p in range(12)]  # '-' sorts before '.' and '/'
    keys += [f"deep/{a}/{b}/{c}.png" for a in range(3) for b in range(5) for c in range(30)]
    return keys


def awkward() -> list[str]:
    keys = []
    for i in range(120):
        keys += [
            f"café/ü {i:03d}.jpg",
            f"emoji/📷{i}😀.png",
            f"a+b/{i} + {i}.jpg",
            f"pct/%2F{i}%20.jpg",
            f"amp/&<>\"'{i}.jpg",
            f"Case{i}.JPG",
            f"case{i}.jpg",
            f"ctrl/\t\x01{i}",
            f"max/\U0010fffd{i}",
            f"max/\uffef{i}",
            f"long/{'ü' * 200}{i:04d}",
        ]
    return keys


def hexes(n: int) -> list[str]:
    rng = random.Random(7)
    return [f"{rng.getrandbits(64):016x}.bin" for _ in range(n)]


def test_flat_bucket(s3: Any) -> None:
    _fill(flat(1_500))
    _check(s3, [""])
    _check(s3, ["object 0002", "object 0009", "object 0013"])


def test_flat_bucket_of_random_hex_names(s3: Any) -> None:
    _fill(hexes(1_200))
    _check(s3, [""])
    _check(s3, ["0", "8", "f"])


def test_nested_bucket(s3: Any) -> None:
    _fill(nested())
    _check(s3, [""])
    _check(s3, ["part-007/", "part-010/", "deep/1/", "part-003"])


def test_sub_prefixes_alike_and_not(s3: Any) -> None:
    """Sub-prefixes are cut like their siblings: right when alike, harmlessly when not."""
    keys = [f"day={d:02d}/frame {i:05d}.png" for d in range(16) for i in range(150)]
    keys += [f"day={d:02d}/frame {i:05d}.png" for d in range(16, 19) for i in range(d * 3)]
    keys += [f"day={d:02d}/z{i:04d}" for d in range(19, 21) for i in range(500)]
    _fill(keys)
    _check(s3, [""])
    _check(s3, ["day=0", "day=17/", "day=2"])


def test_awkward_keys(s3: Any) -> None:
    _fill(awkward())
    _check(s3, [""])
    _check(s3, ["café/", "emoji/📷1", "max/", "amp/&<"])


def test_more_sub_prefixes_than_one_delimiter_page(s3: Any) -> None:
    keys = [f"d{i:04d}/x{j}.jpg" for i in range(90) for j in range(i % 4)]
    keys += [f"d{i:04d}.jpg" for i in range(0, 90, 3)] + flat(200)
    _fill(keys)
    _check(s3, [""])


def test_empty_bucket_and_empty_prefix(s3: Any) -> None:
    for workers in WORKERS:
        assert list(BucketLister(s3, BUCKET, workers=workers).iter_objects()) == []
    _fill(flat(30))
    for workers in WORKERS:
        lister = BucketLister(s3, BUCKET, workers=workers)
        assert list(lister.iter_objects(["nothing/", "zzz"])) == []


def test_keys_deleted_and_added_while_listing(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Deleting the keys a range starts after, or a page ends on, loses nothing else and
    repeats nothing: ranges are bounds, not keys."""
    keys = flat(1_200)
    _fill(keys)
    deleted = set(keys[19::20]) | set(keys[::97])  # every page's last key, and more
    added = [k + "~new" for k in keys[::50]]
    fetch = s3_pages.fetch_page
    calls = 0
    moto_lock = threading.Lock()  # moto's in-process backend is not safe for concurrent writes

    def racing(client: Any, bucket: str, params: dict[str, Any]) -> Any:
        nonlocal calls
        with moto_lock:
            calls += 1
            if calls == 3:
                for key in sorted(deleted):
                    client.delete_object(Bucket=BUCKET, Key=key)
                for key in added:
                    client.put_object(Bucket=BUCKET, Key=key, Body=b"")
            return fetch(client, bucket, params)

    monkeypatch.setattr(s3_listing, "fetch_page", racing)
    got = [r.key for r in BucketLister(s3, BUCKET, workers=8).iter_objects()]
    assert got == sorted(set(got)), "out of order or repeated"
    assert set(keys) - deleted <= set(got) <= set(keys) | set(added)


def test_errors_are_the_sequential_listings(offline_aws: str) -> None:
    with mock_aws():
        client = make_s3_client("us-east-1")
        messages = set()
        for workers in WORKERS:
            with pytest.raises(RegisterError) as caught:
                list(BucketLister(client, "no-such-bucket", workers=workers).iter_objects())
            messages.add((type(caught.value), str(caught.value)))
        assert len(messages) == 1, messages


def _requests(client: Any, prefixes: list[str], workers: int) -> int:
    """ListObjectsV2 calls made by one listing."""
    calls = [0]

    def count(**_: Any) -> None:
        calls[0] += 1

    client.meta.events.register("before-call.s3.ListObjectsV2", count)
    try:
        list(BucketLister(client, BUCKET, workers=workers).iter_objects(prefixes))
    finally:
        client.meta.events.unregister("before-call.s3.ListObjectsV2", count)
    return calls[0]


def test_guesses_cost_few_extra_requests(s3: Any) -> None:
    """Sub-prefixes a little over a page, whose keys all start late in the alphabet: cuts
    guessed from a sibling land only where its keys lie, not in empty pieces before them
    (once, dozens of requests per sub-prefix)."""
    keys = [f"cam{c:02d}/img{i:06d}.jpg" for c in range(12) for i in range(c, 12 * 150, 12)]
    keys += [f"cam{c:02d}/img{i:06d}-new.jpg" for c in range(12) for i in range(c, 240, 12)]
    _fill(keys)
    _check(s3, [""], [8])
    sequential = _requests(s3, [""], 1)
    assert _requests(s3, [""], 8) <= 1.5 * sequential + 8


def _asked(client: Any, prefixes: list[str], workers: int, seed: int) -> list[tuple[Any, ...]]:
    """The ListObjectsV2 requests of one listing (token values aside), pages answered
    after random delays so that pieces finish in a different order each time."""
    asked: list[tuple[Any, ...]] = []
    jitter = random.Random(seed)
    lock = threading.Lock()
    real = s3_listing.fetch_page

    def slow(client: Any, bucket: str, params: dict[str, Any]) -> Any:
        with lock:
            asked.append(
                (
                    params.get("Prefix"),
                    params.get("Delimiter"),
                    params.get("StartAfter"),
                    "ContinuationToken" in params,
                )
            )
            delay = jitter.random() * 0.004
        threading.Event().wait(delay)
        return real(client, bucket, params)

    s3_listing.fetch_page = slow  # type: ignore[assignment]
    try:
        list(BucketLister(client, BUCKET, workers=workers).iter_objects(prefixes))
    finally:
        s3_listing.fetch_page = real  # type: ignore[assignment]
    return sorted(asked, key=repr)


def test_a_flat_stretch_is_cut_at_the_same_points_whatever_the_timing(s3: Any) -> None:
    """Cut points of a flat stretch depend on its keys alone, not on how far other pieces
    have got: the same requests on every run (the listing benchmark caches the server's
    answers by request). Sub-prefixes cut like a sibling depend on which sibling was read
    first, by design, and are not compared."""
    _fill([f"flat-{i:05d}.jpg" for i in range(2_500)])
    for prefixes in ([""], ["flat-01"]):
        first = _asked(s3, prefixes, 8, seed=1)
        assert len(first) > 30, "too few requests to show anything"
        for seed in (2, 3):
            assert _asked(s3, prefixes, 8, seed=seed) == first
