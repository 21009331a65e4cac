"""`--out`: checked before anything is read, and filled only by a run that finished.

An unwritable `--out` used to end in "internal error ... (a bug)"; a run that failed half way
left skipped.jsonl (and manifest files) behind, so the corrected re-run refused the "non-empty"
directory unless given `--force`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

import registration.cli.core as cli
from registration.build.writer import STAGING_PREFIX
from registration.exit_codes import ExitStatus
from tests.functional.build.test_s3 import deny_listing

BUCKET = "out-dir-bucket"
REGION = "eu-west-1"


@pytest.fixture
def aws(offline_aws: str) -> Iterator[Any]:
    """An in-process S3 with a few images; yields a client."""
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        for n in range(5):
            s3.put_object(Bucket=BUCKET, Key=f"images/{n}.jpg", Body=b"jpg")
        yield s3


def _manifest(out: Path, *extra: str) -> int:
    return cli.main(["manifest", "--bucket", BUCKET, "--region", REGION, "--out", str(out), *extra])


@pytest.mark.parametrize("kind", ["under-a-file", "in-proc"])
def test_an_unwritable_out_is_a_usage_error_before_any_s3_call(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    kind: str,
) -> None:
    from registration.build.sources import s3_access

    def no_s3(region: str | None = None) -> Any:
        raise AssertionError("S3 was called before --out was checked")

    monkeypatch.setattr(s3_access, "make_s3_client", no_s3)
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory")
    out = a_file / "sub" if kind == "under-a-file" else Path("/proc/nope")

    assert _manifest(out) == ExitStatus.USAGE
    err = capsys.readouterr().err
    assert err.startswith(f"error: --out {out}: cannot create or write the directory (")
    assert "internal error" not in err and "Traceback" not in err
    assert "hint: choose a directory you can write to" in err
    if kind == "under-a-file":
        assert f"{a_file} is a file" in err


def test_a_run_that_fails_half_way_leaves_nothing_that_blocks_the_rerun(
    aws: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from registration.build import pipeline

    out = tmp_path / "out"
    real_write = pipeline.ManifestWriter.write_chunk
    calls = []

    def fail_on_second_file(self: Any, chunk: Any, **kwargs: Any) -> Any:
        calls.append(len(chunk))
        if len(calls) == 2:  # one file and skipped lines are written by now
            raise KeyboardInterrupt
        return real_write(self, chunk, **kwargs)

    monkeypatch.setattr(pipeline.ManifestWriter, "write_chunk", fail_on_second_file)
    assert _manifest(out, "--max-items", "2") == ExitStatus.INTERRUPTED
    assert list(out.iterdir()) == []  # nothing half-written, no staging directory

    monkeypatch.setattr(pipeline.ManifestWriter, "write_chunk", real_write)
    capsys.readouterr()
    assert _manifest(out, "--max-items", "2") == ExitStatus.OK, capsys.readouterr().err
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"manifest-0000{n}.json" for n in (1, 2, 3)] + [
        "skipped.jsonl",
        "summary.json",
    ]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["files"] == names[:3] and summary["objects_included"] == 5


def test_force_keeps_the_earlier_files_when_the_new_run_fails(
    aws: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert _manifest(out) == ExitStatus.OK
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    deny_listing(monkeypatch)

    assert _manifest(out, "--force", "--list-workers", "1") == ExitStatus.AUTH
    assert "access denied while listing" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_the_staging_directory_of_a_killed_run_is_ignored_then_removed(
    aws: Any, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    leftover = out / f"{STAGING_PREFIX}{int(dead.stdout)}-x1y2"
    leftover.mkdir(parents=True)
    (leftover / "manifest-00001.json").write_text("{}")
    alive = out / f"{STAGING_PREFIX}{os.getpid()}-busy"  # a run still going: left alone
    alive.mkdir()

    assert _manifest(out) == ExitStatus.OK  # not "not empty": the leftovers are no output
    assert not leftover.exists() and alive.exists()
    assert (out / "manifest-00001.json").is_file()
