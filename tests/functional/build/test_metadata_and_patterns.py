"""What `manifest` says about `--metadata` rows and grouping patterns that did not do their job.

Through the CLI against S3 (moto in-process): a duplicated `key` column used to attach
metadata to the wrong object with exit 0; rows for one key silently let the last win;
entries that matched nothing and grouping globs that matched no folder were silent.
"""

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

BUCKET = "meta-bucket"
REGION = "eu-west-1"
KEYS = ["images/0.jpg", "images/1.jpg", "clips/a.mp4", "frames/s1/1.jpg", "frames/s1/2.jpg"]


@pytest.fixture
def aws(offline_aws: str) -> Iterator[Any]:
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        for key in KEYS:
            s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
        yield s3


def _manifest(out: Path, *extra: str) -> int:
    return cli.main(["manifest", "--bucket", BUCKET, "--region", REGION, "--out", str(out), *extra])


def test_a_duplicated_key_column_is_refused(
    aws: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    meta = tmp_path / "meta.csv"
    # Read as a dict, the second `key` column decided the object: images/1.jpg got "paris".
    meta.write_text("key,site,key\nimages/0.jpg,paris,images/1.jpg\n")
    out = tmp_path / "out"

    assert _manifest(out, "--metadata", str(meta)) == ExitStatus.USAGE
    err = capsys.readouterr().err
    assert err.startswith(
        f"error: metadata file {meta}: the header names the column(s) 'key' more than once; "
        "refusing to guess which is meant\n  hint: give every column of the header a distinct name"
    )
    assert not out.exists() or list(out.iterdir()) == []


def test_rows_for_one_key_are_refused_unless_a_winner_is_named(
    aws: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    meta = tmp_path / "meta.jsonl"
    meta.write_text(
        '{"key": "images/0.jpg", "site": "paris"}\n{"key": "images/0.jpg", "site": "lyon"}\n'
    )
    out = tmp_path / "out"
    assert _manifest(out, "--metadata", str(meta)) == ExitStatus.USAGE
    err = capsys.readouterr().err
    assert "1 key(s) have rows that differ ('images/0.jpg' (lines 1, 2))" in err
    assert "--metadata-duplicates first|last" in err

    assert _manifest(out, "--metadata", str(meta), "--metadata-duplicates", "last") == 0
    err = capsys.readouterr().err
    assert (
        "warning: --metadata: 1 key(s) have rows that differ ('images/0.jpg' (lines 1, 2)); "
        "the last row of each was used (--metadata-duplicates last)"
    ) in err
    items, _, summary = read_output(out)
    assert items["images/0.jpg"]["clientMetadata"] == {"site": "lyon"}
    assert summary["metadata_duplicate_keys"] == 1


def test_metadata_rows_that_match_no_object_are_counted_on_the_terminal(
    aws: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    meta = tmp_path / "meta.csv"
    meta.write_text("key,site\nimages/0.jpg,paris\nimage/1.jpg,typo\nframes/s9,nowhere\n")
    out = tmp_path / "out"

    assert _manifest(out, "--metadata", str(meta)) == ExitStatus.OK
    err = capsys.readouterr().err
    assert (
        "warning: 2 of 3 --metadata entries matched no object ('image/1.jpg', 'frames/s9')"
    ) in err
    assert "metadata_entries_unmatched in summary.json" in err
    assert json.loads((out / "summary.json").read_text())["metadata_entries_unmatched"] == 2


def test_every_grouping_pattern_that_made_no_group_is_warned_about(
    aws: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    patterns = [
        *("--image-group", "nomatch/*"),  # no such folder
        *("--dicom-series", "re:scans/.*"),  # no such folder
        *("--image-sequence", "clips"),  # a folder, but no images in it
        *("--image-group", "frames/*"),  # groups frames/s1
    ]

    assert _manifest(out, *patterns) == ExitStatus.OK
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert warnings == [
        "warning: --dicom-series 're:scans/.*' matched no folder: nothing was grouped by it "
        "(patterns match the whole folder path without a trailing '/', e.g. 'scans/*' for "
        "scans/a/1.jpg)",
        "warning: --image-sequence 'clips' matched folders but made no group: none of them "
        "held files of its type, or an earlier pattern took them",
        "warning: --image-group 'nomatch/*' matched no folder: nothing was grouped by it "
        "(patterns match the whole folder path without a trailing '/', e.g. 'scans/*' for "
        "scans/a/1.jpg)",
    ]
    items, _, summary = read_output(out)
    assert items["frames/s1"]["objectUrl_0"].endswith("frames/s1/1.jpg")  # the one that worked
    assert summary["group_patterns_unused"] == [
        {"pattern": "--dicom-series 're:scans/.*'", "folders_matched": False},
        {"pattern": "--image-sequence 'clips'", "folders_matched": True},
        {"pattern": "--image-group 'nomatch/*'", "folders_matched": False},
    ]
