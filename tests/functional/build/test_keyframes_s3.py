"""Key frames and sidecar naming through `encord-register manifest` against S3 (moto in-process):
sidecars read with GetObject under both conventions, deprecated lists converted, flags."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

import registration.cli.core as cli
from registration.exit_codes import ExitStatus
from tests.manifest_output import read_output

BUCKET = "clips-bucket"
REGION = "eu-west-1"
EMBEDDING = [round(i / 7, 6) for i in range(16)]

OBJECTS: dict[str, bytes] = {
    "videos/old.mp4": b"mp4",
    "videos/old.mp4.json": b'{"keyframes": [0, 24, 48], "camera": "front"}',
    "videos/synced.mp4": b"mp4",
    "videos/synced.mp4.metadata.json": json.dumps(
        {"$encord": {"frames": {"0": {"clip": EMBEDDING}, "24": {"clip": EMBEDDING[::-1]}}}}
    ).encode(),
    "videos/both.mp4": b"mp4",
    "videos/both.mp4.json": b'{"keyframes": [1]}',
    "videos/both.mp4.metadata.json": b'{"$encord": {"frames": [2]}}',
    "videos/bad.mp4": b"mp4",
    "videos/bad.mp4.metadata.json": b'{"$encord": {"frames": {"-1": {}}}, "camera": "rear"}',
    "images/a.jpg": b"jpg",
    "images/a.jpg.metadata.json": b'{"site": "north"}',
}


@pytest.fixture
def aws(offline_aws: str) -> Iterator[Any]:
    """An in-process S3 with the bucket filled; yields a client."""
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        for key, body in OBJECTS.items():
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        yield s3


def _manifest(
    out: Path, *flags: str
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    code = cli.main(["manifest", "--bucket", BUCKET, "--region", REGION, "--out", str(out), *flags])
    assert code == ExitStatus.OK
    return read_output(out)


def test_sidecars_of_both_conventions_land_in_encord_form(
    aws: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    items, skipped, summary = _manifest(tmp_path / "out")

    assert items["videos/old.mp4"]["clientMetadata"] == {
        "$encord": {"frames": [0, 24, 48]},
        "camera": "front",
    }
    synced = items["videos/synced.mp4"]["clientMetadata"]
    assert synced == json.loads(OBJECTS["videos/synced.mp4.metadata.json"])
    assert synced["$encord"]["frames"]["24"]["clip"] == EMBEDDING[::-1]
    assert items["videos/both.mp4"]["clientMetadata"] == {"$encord": {"frames": [2]}}
    assert "clientMetadata" not in items["videos/bad.mp4"]
    assert items["images/a.jpg"]["clientMetadata"] == {"site": "north"}
    assert set(items) == {k for k in OBJECTS if not k.endswith(".json")}

    assert {(s["key"], s["reason"]) for s in skipped} == {
        ("videos/both.mp4.json", "sidecar_superseded"),
        ("videos/bad.mp4.metadata.json", "bad_keyframes"),
    }
    assert summary["keyframes_converted"] == 1  # both.mp4.json was superseded, never read
    assert summary["objects_seen"] == len(OBJECTS)
    assert summary["objects_seen"] == summary["objects_included"] + summary["objects_skipped"]
    err = capsys.readouterr().err
    assert err.count("deprecated `keyframes` list") == 1


def test_config_flags_and_one_suffix(aws: Any, tmp_path: Path) -> None:
    items, skipped, summary = _manifest(
        tmp_path / "out",
        "--sidecar-suffix",
        ".json",
        "--keyframe-sampling-rate",
        "2",
        "--keyframe-mode",
        "frame",
    )
    assert items["videos/old.mp4"]["clientMetadata"]["$encord"] == {
        "frames": [0, 24, 48],
        "config": {"sampling_rate": 2, "keyframe_mode": "frame"},
    }
    assert items["videos/both.mp4"]["clientMetadata"]["$encord"]["frames"] == [1]
    # With `.json` only, a `.metadata.json` is no sidecar: it is a JSON document (text).
    assert "videos/synced.mp4.metadata.json" in items
    assert "clientMetadata" not in items["videos/synced.mp4"]
    assert skipped == []
    assert summary["keyframes_converted"] == 2


def test_bad_flag_values_exit_with_the_usage_code(
    aws: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["manifest", "--bucket", BUCKET, "--region", REGION, "--out", str(tmp_path / "o")]
    assert cli.main([*argv, "--keyframe-sampling-rate", "-1"]) == ExitStatus.USAGE
    assert "--keyframe-sampling-rate" in capsys.readouterr().err
    assert cli.main([*argv, "--sidecar-suffix", " .json"]) == ExitStatus.USAGE
    assert "--sidecar-suffix" in capsys.readouterr().err
