"""The parallel manifest build writes exactly what the sequential one writes, byte for byte.

Every output file (manifest-*.json and .csv, skipped.jsonl, summary.json) of `--workers 2`
and `--workers 3` is compared with `--workers 1` on inventories made to be awkward for key
ranges: groups and DICOM series cut by data files and by segments, sidecars (superseded,
repeated, with deprecated or bad key frames, unreadable) on both sides of a cut, keys that
are prefixes of other keys, duplicates across data files, rows that are not current, folder
markers, archived and empty objects, long titles, item checks and `--metadata`. The segments
are made tiny (a few dozen rows) so that every one of those lands on a cut somewhere.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import registration.build.parallel as parallel
import registration.build.segment as segment
import registration.build.sources.sorted_runs as sorted_runs
from registration.build.manifests import build_manifests
from registration.build.sources import ObjectRecord
from registration.build.spec import BuildOptions, OutputSpec, SourceSpec
from registration.build.summary import ManifestSummary
from registration.processes import default_workers
from registration.reporter import SILENT

SCHEMA = "Bucket, Key, Size, StorageClass, IsLatest"
CONVERTED = json.dumps({"site": "a", "keyframes": [0, 5, 9]}).encode()
PLAIN = json.dumps({"site": "b", "camera": 3}).encode()
BAD_FRAMES = json.dumps({"keyframes": "every"}).encode()


def _rows() -> Iterator[tuple[str, int, str, str]]:
    """(key, size, storage class, is latest) of an awkward bucket, in key order."""
    for g in range(40):  # image groups of 1 to 23 frames, natural order frame_2 < frame_10
        for k in range(1 + (g * 7) % 23):
            yield f"frames/g{g:03d}/frame_{k}.png", 100, "STANDARD", "true"
            if k == 1 and g % 3 == 0:  # a frame's sidecar: reported, not used
                yield f"frames/g{g:03d}/frame_{k}.png.json", 10, "STANDARD", "true"
    for s in range(25):  # DICOM series with extension-less slices
        for k in range(1 + s % 9):
            yield f"scans/s{s:02d}/slice_{k:03d}.dcm", 100, "STANDARD", "true"
        yield f"scans/s{s:02d}/LOCALIZER", 100, "STANDARD", "true"
    for i in range(300):  # images, some with one or two sidecars or a repeated one
        key = f"shots/d{i // 37:02d}/img {i:04d}+ü.jpg"
        yield key, 100 + i, "STANDARD", "true"
        if i % 5 == 0:
            yield key + ".json", 10, "STANDARD", "true"
        if i % 11 == 0:
            yield key + ".metadata.json", 10, "STANDARD", "true"
        if i % 13 == 0:
            yield key + ".json", 10, "STANDARD", "true"  # listed twice
    for i in range(60):  # keys that are prefixes of other keys
        yield f"stack/v{i:02d}", 50, "STANDARD", "true"
        yield f"stack/v{i:02d}.mp4", 5000, "STANDARD", "true"
        yield f"stack/v{i:02d}.mp4.json", 10, "STANDARD", "true"
        yield f"stack/v{i:02d}.mp4/", 0, "STANDARD", "true"
        yield f"stack/v{i:02d}.mp4/inner.wav", 70, "STANDARD", "true"
    for i in range(80):  # whatever else a bucket holds
        yield (
            f"misc/m{i:03d}{('.bin', '.jpg', '.txt', '/', '.pdf')[i % 5]}",
            i % 3,
            ("GLACIER" if i % 7 == 0 else "STANDARD"),
            "false" if i % 17 == 0 else "true",
        )
    for i in range(30):  # long titles, shortened
        yield f"long/{'x' * 320}-{i:02d}.jpg", 10, "STANDARD", "true"


def _sidecar_body(record: ObjectRecord) -> bytes:
    key = record.key
    if "shots/d03/" in key and key.endswith(".json"):
        return b"{not json"
    if "stack/v1" in key:
        return BAD_FRAMES
    if "0" in key.rsplit("/", 1)[-1]:
        return CONVERTED
    return PLAIN


def _write_inventory(root: Path, rows_per_file: int, *, unsorted: bool, readme: bool) -> Path:
    rows = list(_rows())
    rows += [("shots/d01/img 0040+ü.jpg", 140, "STANDARD", "true")]  # in another data file
    if readme:  # an extension-less file at the root opens a group that closes at the end
        rows += [("README", 10, "STANDARD", "true")]
    rows.sort(key=lambda r: r[0])
    files = [rows[i : i + rows_per_file] for i in range(0, len(rows), rows_per_file)]
    if unsorted:
        generator = random.Random(7)
        for part in files:
            generator.shuffle(part)
        files.reverse()
    (root / "data").mkdir(parents=True)
    entries = []
    for n, part in enumerate(files):
        buffer = io.StringIO()
        out = csv.writer(buffer, lineterminator="\n")
        for key, size, storage_class, latest in part:
            encoded = key.replace("%", "%25").replace("+", "%2B").replace(" ", "+")
            out.writerow(["src", encoded, size, storage_class, latest])
        (root / f"data/part-{n:03d}.csv.gz").write_bytes(gzip.compress(buffer.getvalue().encode()))
        entries.append({"key": f"inv/src/cfg/data/part-{n:03d}.csv.gz", "size": 1})
    manifest = root / "manifest.json"
    manifest.write_text(
        json.dumps(
            {
                "sourceBucket": "src",
                "destinationBucket": "arn:aws:s3:::inv",
                "fileFormat": "CSV",
                "fileSchema": SCHEMA,
                "files": entries,
            }
        )
    )
    return manifest


def _refuse(top_key: str, item: dict[str, Any]) -> str | None:
    return "refused by test" if item.get("title", "").endswith("7+ü.jpg") else None


def _build(
    manifest: Path, out: Path, workers: int, metadata: Path | None, **options: Any
) -> ManifestSummary:
    return build_manifests(
        SourceSpec(inventory=str(manifest), region="eu-west-1"),
        BuildOptions(
            image_groups=("frames/*",),
            metadata_file=metadata,
            workers=workers,
            **options,
        ),
        OutputSpec(out, fmt="both"),
        SILENT,
        item_checks=[_refuse],
        body_reader=_sidecar_body,
    )


def _files(out: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(out.iterdir())}


@pytest.fixture
def tiny_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    """Segments of a few dozen rows, runs of 40 rows in blocks of 8: cuts everywhere."""
    monkeypatch.setattr(parallel, "SEGMENT_ROWS", 29)
    monkeypatch.setattr(parallel, "RUN_ROWS", 40)
    monkeypatch.setattr(sorted_runs, "BLOCK_ROWS", 8)


@pytest.mark.parametrize(
    ("unsorted", "readme", "options"),
    [
        (False, False, {}),
        (True, False, {}),
        (False, True, {}),
        (True, False, {"max_items": 7}),
        (False, False, {"max_bytes": 2_500, "title": "basename"}),
    ],
    ids=["sorted", "unsorted", "root-group-open-to-the-end", "7-items-a-file", "by-bytes"],
)
def test_the_parallel_build_writes_the_sequential_files_byte_for_byte(
    tmp_path: Path, tiny_segments: None, unsorted: bool, readme: bool, options: dict[str, Any]
) -> None:
    manifest = _write_inventory(tmp_path / "inv", 97, unsorted=unsorted, readme=readme)
    metadata = tmp_path / "metadata.jsonl"
    metadata.write_text(
        '{"key": "frames/g004/", "clientMetadata": {"rig": 4}}\n'
        '{"key": "shots/d02/img 0080+ü.jpg", "clientMetadata": {"q": 1}}\n'
        '{"key": "nowhere.jpg", "clientMetadata": {"q": 2}}\n'
    )
    sequential = _build(manifest, tmp_path / "w1", 1, metadata, **options)
    expected = _files(tmp_path / "w1")
    assert sequential.objects_seen > 1_000 and len(sequential.files) >= 2
    assert sequential.keyframes_converted and sequential.shortened_titles
    assert sequential.item_checks_failed and sequential.skipped_by_reason["sidecar_superseded"]
    for workers in (2, 3):
        summary = _build(manifest, tmp_path / f"w{workers}", workers, metadata, **options)
        assert _files(tmp_path / f"w{workers}") == expected, workers
        assert summary.to_json() == sequential.to_json()


def test_a_segment_without_the_previous_stop_among_its_markers_is_run_again_from_it(
    tmp_path: Path, tiny_segments: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With one marker kept per segment, the previous segment's stop is seldom among them:
    the range is run again here from that stop, and the files are still the same."""
    monkeypatch.setattr(segment, "MAX_MARKERS", 1)
    reruns: list[str | None] = []
    original = parallel.process_segment

    def counted(job: Any, start: str | None, stop: str | None) -> Any:
        reruns.append(start)
        return original(job, start, stop)

    monkeypatch.setattr(parallel, "process_segment", counted)
    manifest = _write_inventory(tmp_path / "inv", 211, unsorted=False, readme=False)
    _build(manifest, tmp_path / "w1", 1, None)
    _build(manifest, tmp_path / "w2", 2, None)
    assert reruns, "no range was run again: the test no longer covers that path"
    assert _files(tmp_path / "w2") == _files(tmp_path / "w1")


def test_one_worker_per_cpu_by_default_and_zero_is_refused(tmp_path: Path) -> None:
    from registration.errors import UsageError

    manifest = _write_inventory(tmp_path / "inv", 500, unsorted=False, readme=False)
    assert default_workers() >= 1
    with pytest.raises(UsageError, match="--workers 0: must be at least 1"):
        build_manifests(
            SourceSpec(inventory=str(manifest)),
            BuildOptions(workers=0),
            OutputSpec(tmp_path / "out"),
            SILENT,
        )


def test_an_inventory_in_s3_with_sidecars_in_s3_through_the_cli(
    offline_aws: str, tmp_path: Path, tiny_segments: None
) -> None:
    """The workers read the data files and the sidecars from S3 themselves (moto,
    in-process), and `--workers` reaches the build from the command line."""
    import boto3
    from moto import mock_aws

    import registration.cli.core as cli

    rows = [row for row in _rows() if row[0].startswith(("frames/", "shots/", "stack/"))]
    with mock_aws():
        s3 = boto3.client("s3", region_name=offline_aws)
        for bucket in ("src", "inv"):
            s3.create_bucket(Bucket=bucket)
        entries = []
        for n in range(0, len(rows), 150):
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            for key, size, storage_class, latest in rows[n : n + 150]:
                writer.writerow(["src", key.replace(" ", "+"), size, storage_class, latest])
            name = f"r/data/part-{n:05d}.csv.gz"
            s3.put_object(Bucket="inv", Key=name, Body=gzip.compress(buffer.getvalue().encode()))
            entries.append({"key": name, "size": 1})
        for key, *_ in rows:
            if key.endswith(".json"):
                body = _sidecar_body(ObjectRecord("src", key))
                s3.put_object(Bucket="src", Key=key, Body=body)
        manifest = {
            "sourceBucket": "src",
            "destinationBucket": "arn:aws:s3:::inv",
            "fileFormat": "CSV",
            "fileSchema": SCHEMA,
            "files": entries,
        }
        s3.put_object(Bucket="inv", Key="r/manifest.json", Body=json.dumps(manifest).encode())
        for workers in ("1", "3"):
            argv = ["manifest", "--inventory", "s3://inv/r/manifest.json", "--workers", workers]
            argv += ["--image-group", "frames/*", "--out", str(tmp_path / workers)]
            assert cli.main(argv) == 0
    expected = _files(tmp_path / "1")
    assert _files(tmp_path / "3") == expected
    summary = json.loads(expected["summary.json"])
    assert summary["objects_seen"] == len(rows) and summary["keyframes_converted"] > 0
    assert summary["skipped_by_reason"]["bad_sidecar"] > 0


def test_an_unreadable_data_file_is_the_same_error_from_a_worker(
    tmp_path: Path, tiny_segments: None
) -> None:
    """The worker's InputError reaches the command with its message, source and hint (an
    error that could not be unpickled would hang the pool)."""
    from registration.errors import InputError

    manifest = _write_inventory(tmp_path / "inv", 97, unsorted=False, readme=False)
    (tmp_path / "inv" / "data" / "part-002.csv.gz").write_bytes(b"not gzip at all")
    errors = []
    for workers in (1, 2):
        with pytest.raises(InputError) as raised:
            _build(manifest, tmp_path / f"w{workers}", workers, None)
        errors.append((str(raised.value), raised.value.source, raised.value.exit_status))
    assert errors[0] == errors[1]
    assert "part-002.csv.gz is unreadable" in errors[0][0]
    assert not (tmp_path / "w2" / "summary.json").exists()
