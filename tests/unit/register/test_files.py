"""Fingerprinting registration files: worker processes give what one process gives."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import orjson
import pytest

from registration.errors import InputError
from registration.register.files import PARALLEL_FILES, iter_manifest_files

BUCKET = "https://b.s3.eu-west-1.amazonaws.com"


def _write(directory: Path, files: int) -> None:
    directory.mkdir()
    for f in range(1, files + 1):
        images = [
            {"objectUrl": f"{BUCKET}/c{f}/{n}.jpg", "title": f"c{f}/{n}.jpg"} for n in range(f)
        ]
        doc = {"images": images, "videos": [{"objectUrl": f"{BUCKET}/v{f}.mp4"}]}
        (directory / f"manifest-{f:05d}.json").write_bytes(orjson.dumps(doc))


def test_workers_fingerprint_the_files_as_one_process_does(tmp_path: Path):
    _write(tmp_path / "m", PARALLEL_FILES + 3)
    one = list(iter_manifest_files(tmp_path / "m", workers=1))
    two = list(iter_manifest_files(tmp_path / "m", workers=2))
    assert two == one
    assert [m.units for m in one] == [f + 1 for f in range(1, PARALLEL_FILES + 4)]
    assert one[0].key == "manifest-00001.json"


def test_the_first_bad_file_in_order_is_reported_whatever_the_workers(tmp_path: Path):
    _write(tmp_path / "m", PARALLEL_FILES + 3)
    (tmp_path / "m" / "manifest-00004.json").write_bytes(b'{"images": [{"title": 3}]}')
    (tmp_path / "m" / "manifest-00009.json").write_bytes(b"{not json")
    errors = []
    for workers in (1, 2):
        with pytest.raises(InputError) as caught:
            list(iter_manifest_files(tmp_path / "m", workers=workers))
        errors.append(caught.value)
    assert type(errors[1]) is type(errors[0])
    assert (str(errors[1]), errors[1].source) == (str(errors[0]), errors[0].source)
    assert "manifest-00004.json" in str(errors[0])


def test_meanwhile_runs_while_the_workers_read_the_files(tmp_path: Path):
    """The CLI imports the SDK in `meanwhile`: it must run with the workers already started
    (forked before it, so they do not inherit a half-done import), and change no result."""
    _write(tmp_path / "m", PARALLEL_FILES + 3)
    seen: list[int] = []

    def meanwhile() -> None:
        seen.append(len(multiprocessing.active_children()))

    with_it = list(iter_manifest_files(tmp_path / "m", workers=2, meanwhile=meanwhile))
    assert len(seen) == 1 and seen[0] >= 2  # called once, both workers running
    assert with_it == list(iter_manifest_files(tmp_path / "m", workers=1))


def test_meanwhile_is_not_called_when_the_files_are_read_here(tmp_path: Path):
    _write(tmp_path / "m", PARALLEL_FILES + 3)
    seen: list[int] = []
    files = list(iter_manifest_files(tmp_path / "m", workers=1, meanwhile=lambda: seen.append(1)))
    assert len(files) == PARALLEL_FILES + 3 and seen == []
