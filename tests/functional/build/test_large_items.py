"""Files cut by bytes through `encord-register manifest`: embeddings, plans, items too large.

The realistic case is 3,000 images, each with a 2,048-float embedding (about 40 KB of JSON, so
about 120 MB in all): with the default cap the files are cut by bytes, not by the 10,000-item
default; with `--plan free` (10 MB files) into a dozen. Smaller cases use small caps.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest
from moto import mock_aws

import registration.cli.core as cli
from registration.encord.limits import DEFAULT_MAX_BYTES, PLANS

BUCKET = "bkt"
REGION = "eu-west-1"
PREFIX = f"https://{BUCKET}.s3.{REGION}.amazonaws.com/"
DIMENSIONS = 2_048


def _embedding(rng: random.Random, dimensions: int = DIMENSIONS) -> list[float]:
    return [rng.random() * 2 - 1 for _ in range(dimensions)]


@pytest.fixture(scope="module")
def embeddings(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Any]]:
    """A keys file of 3,000 images and `--metadata` JSON Lines giving each an embedding."""
    root = tmp_path_factory.mktemp("embeddings")
    rng = random.Random(2048)
    keys = [f"images/{n // 100:02d}/img-{n:04d}.jpg" for n in range(3_000)]
    docs = {key: {"embedding": _embedding(rng), "n": n} for n, key in enumerate(keys)}
    (root / "keys.txt").write_text("".join(k + "\n" for k in keys))
    (root / "meta.jsonl").write_bytes(
        b"".join(orjson.dumps({"key": k, **doc}) + b"\n" for k, doc in docs.items())
    )
    return root / "keys.txt", root / "meta.jsonl", docs


def _manifest(tmp_path: Path, *argv: str) -> Path:
    out = tmp_path / "out"
    base = ["manifest", "--bucket", BUCKET, "--region", REGION, "--out", str(out)]
    assert cli.main([*base, *argv]) == 0
    return out


def _load(out: Path) -> tuple[list[Path], list[dict[str, Any]], dict[str, Any]]:
    files = sorted(out.glob("manifest-*.json"))
    skipped = [json.loads(line) for line in (out / "skipped.jsonl").read_text().splitlines()]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["files"] == [p.name for p in files]
    assert summary["objects_seen"] == summary["objects_included"] + summary["objects_skipped"]
    return files, skipped, summary


def _images(files: list[Path]) -> list[dict[str, Any]]:
    return [item for p in files for item in orjson.loads(p.read_bytes()).get("images", [])]


@pytest.mark.parametrize(
    ("plan", "cap", "at_least"),
    [((), DEFAULT_MAX_BYTES, 2), (("--plan", "free"), PLANS["free"].max_bytes, 12)],
    ids=["default", "free"],
)
def test_embeddings_are_cut_by_bytes_and_every_item_arrives_whole(
    tmp_path: Path,
    embeddings: tuple[Path, Path, dict[str, Any]],
    plan: tuple[str, ...],
    cap: int,
    at_least: int,
) -> None:
    keys_file, metadata, docs = embeddings
    keys = ("--keys-file", str(keys_file), "--trust-keys")  # no S3 here
    out = _manifest(tmp_path, *keys, "--metadata", str(metadata), *plan)
    files, skipped, summary = _load(out)

    assert len(files) >= at_least
    assert all(p.stat().st_size <= cap for p in files)
    assert summary["files_cut_by"] == {"bytes": len(files) - 1, "end": 1}
    titles = Counter(item["title"] for item in _images(files))
    assert set(titles) == set(docs) and set(titles.values()) == {1}
    for item in _images(files):
        assert item["clientMetadata"] == docs[item["title"]]  # floats round-trip exactly
    assert skipped == []
    assert summary["objects_seen"] == summary["objects_included"] == summary["items"] == 3_000


def test_team_plan_files_hold_2500_items_and_max_items_wins(tmp_path: Path) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text("".join(f"img-{n:05d}.jpg\n" for n in range(6_000)))
    team = _manifest(tmp_path / "team", "--keys-file", str(keys), "--trust-keys", "--plan", "team")
    files, _, summary = _load(team)
    assert [len(_images([p])) for p in files] == [2_500, 2_500, 1_000]
    assert summary["files_cut_by"] == {"items": 2, "end": 1}

    explicit = _manifest(
        tmp_path / "explicit",
        *("--keys-file", str(keys), "--trust-keys", "--plan", "team", "--max-items", "4000"),
    )
    assert [len(_images([p])) for p in _load(explicit)[0]] == [4_000, 2_000]


@pytest.fixture
def s3(offline_aws: str) -> Iterator[Any]:
    """An in-process S3 bucket; yields a client."""
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        yield client


def test_items_too_large_are_skipped_with_their_sidecars(tmp_path: Path, s3: Any) -> None:
    """An item that fits no file, and clientMetadata over Encord's 10 MB: each with its reason.

    Sidecars are at most 1 MB (`sidecars.MAX_SIDECAR_BYTES`), so the 10 MB of metadata come
    from `--metadata`, merged over the object's small sidecar.
    """
    rng = random.Random(7)
    objects: dict[str, bytes] = {}
    for n in range(12):  # about 10 KB of sidecar each: a few per 40,000-byte file
        objects[f"ok/{n:02d}.jpg"] = b"jpg"
        objects[f"ok/{n:02d}.jpg.json"] = orjson.dumps({"embedding": _embedding(rng, 512)})
    objects["big/too-large.png"] = b"png"
    objects["big/too-large.png.json"] = orjson.dumps({"embedding": _embedding(rng, 4_096)})
    objects["big/metadata.png"] = b"png"
    objects["big/metadata.png.json"] = b'{"site": "a"}'
    for key, body in objects.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    bulk = tmp_path / "meta.jsonl"
    bulk.write_bytes(orjson.dumps({"key": "big/metadata.png", "blob": "x" * 10_000_000}))

    out = _manifest(tmp_path, "--max-bytes", "40000", "--metadata", str(bulk))
    files, skipped, summary = _load(out)

    assert all(p.stat().st_size <= 40_000 for p in files) and len(files) >= 3
    titles = [item["title"] for item in _images(files)]
    assert sorted(titles) == [f"ok/{n:02d}.jpg" for n in range(12)]
    by_key = {s["key"]: s for s in skipped}
    assert by_key["big/too-large.png"]["reason"] == "item_too_large"
    assert "--max-bytes" in by_key["big/too-large.png"]["detail"]
    assert by_key["big/metadata.png"]["reason"] == "metadata_too_large"
    assert "10,000,000" in by_key["big/metadata.png"]["detail"]
    for sidecar, reason in [
        ("big/too-large.png.json", "item_too_large"),
        ("big/metadata.png.json", "metadata_too_large"),
    ]:
        assert by_key[sidecar]["reason"] == "sidecar_of_skipped_object"
        assert by_key[sidecar]["detail"] == reason
    assert summary["objects_seen"] == len(objects)
    assert summary["objects_skipped"] == 4 and summary["included_as_metadata"] == 12
    assert summary["skipped_by_reason"] == {
        "item_too_large": 1,
        "metadata_too_large": 1,
        "sidecar_of_skipped_object": 2,
    }
