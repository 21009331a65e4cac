"""Sources: S3 Inventory (CSV and Parquet, unsorted, versioned, corrupt) and keys files."""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path
from urllib.parse import quote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registration.build.sources.inventory import InventoryReader, external_sort
from registration.build.sources.keys_file import KeysFileCounts, read_keys_file
from registration.errors import InputError

KEYS = ["b/2.jpg", "a b/1.jpg", "c+d/ü.png", "a b/10.jpg", "z%/x.mp4"]


def write_csv_inventory(root: Path, rows: list[list[str]], schema: str, parts: int = 2) -> Path:
    """An inventory report laid out like S3 writes it: manifest + data/*.csv.gz."""
    (root / "data").mkdir(parents=True)
    files = []
    for n in range(parts):
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows[n::parts])
        name = f"data/part-{n}.csv.gz"
        (root / name).write_bytes(gzip.compress(buffer.getvalue().encode()))
        files.append({"key": f"inv/src/config/{name}", "size": 1, "MD5checksum": "x"})
    manifest = root / "2026-01-01T00-00Z" / "manifest.json"
    manifest.parent.mkdir()
    manifest.write_text(
        json.dumps(
            {
                "sourceBucket": "src",
                "destinationBucket": "arn:aws:s3:::dest",
                "fileFormat": "CSV",
                "fileSchema": schema,
                "files": files,
            }
        )
    )
    return manifest


def test_csv_inventory_is_decoded_sorted_and_current_only(tmp_path: Path) -> None:
    schema = "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, StorageClass"
    rows = [["src", quote_plus(k), "v1", "true", "false", "10", "STANDARD"] for k in KEYS]
    rows.append(["src", "old.jpg", "v0", "false", "false", "5", "STANDARD"])
    rows.append(["src", "gone.jpg", "v2", "true", "true", "", ""])
    rows.append(["src", "deep.jpg", "v1", "true", "false", "7", "DEEP_ARCHIVE"])
    reader = InventoryReader(str(write_csv_inventory(tmp_path, rows, schema)), run_rows=2)
    records = list(reader.records())
    assert [r.key for r in records] == sorted([*KEYS, "deep.jpg"])
    assert all(r.bucket == "src" for r in records)
    assert next(r for r in records if r.key == "deep.jpg").storage_class == "DEEP_ARCHIVE"
    assert reader.ignored_rows == 2


def test_parquet_inventory(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    (tmp_path / "data").mkdir()
    table = pa.table(
        {
            "bucket": ["src"] * len(KEYS),
            "key": KEYS,  # Parquet keys are not URL-encoded
            "size": [1, 2, 3, 4, 5],
            "storage_class": ["STANDARD", "GLACIER", "STANDARD", "INTELLIGENT_TIERING", None],
            "intelligent_tiering_access_tier": [None, None, None, "ARCHIVE_ACCESS", None],
        }
    )
    pq.write_table(table, tmp_path / "data" / "part-0.parquet")
    manifest = tmp_path / "manifest.json"
    manifest.write_text(
        json.dumps(
            {
                "sourceBucket": "src",
                "destinationBucket": "arn:aws:s3:::dest",
                "fileFormat": "Parquet",
                "fileSchema": "message s3.inventory {}",
                "files": [{"key": "inv/src/cfg/data/part-0.parquet", "size": 1}],
            }
        )
    )
    records = list(InventoryReader(str(manifest)).records())
    assert [r.key for r in records] == sorted(KEYS)
    by_key = {r.key: r for r in records}
    assert by_key["a b/1.jpg"].storage_class == "GLACIER"
    assert by_key["a b/10.jpg"].access_tier == "ARCHIVE_ACCESS"
    assert by_key["z%/x.mp4"].storage_class is None


def test_unreadable_inventory_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read inventory"):
        list(InventoryReader(str(tmp_path / "missing.json")).records())
    bad = tmp_path / "manifest.json"
    bad.write_text('{"files": []}')
    with pytest.raises(InputError, match="not an S3 Inventory manifest"):
        list(InventoryReader(str(bad)).records())
    manifest = write_csv_inventory(tmp_path / "r", [["src", "a.jpg"]], "Bucket, Key", parts=1)
    (tmp_path / "r" / "data" / "part-0.csv.gz").write_bytes(b"not gzip at all")
    with pytest.raises(InputError, match=r"part-0\.csv\.gz is unreadable"):
        list(InventoryReader(str(manifest)).records())
    (tmp_path / "r" / "data" / "part-0.csv.gz").unlink()
    with pytest.raises(InputError, match="was not found locally"):
        list(InventoryReader(str(manifest)).records())


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.text(max_size=8), max_size=80),
    st.integers(min_value=1, max_value=7),
    st.integers(min_value=2, max_value=5),
)
def test_external_sort_sorts_in_bounded_runs(keys: list[str], run_rows: int, fan_in: int) -> None:
    rows = [(k, i) for i, k in enumerate(keys)]
    result = list(external_sort(rows, run_rows, fan_in=fan_in))
    assert [r[0] for r in result] == sorted(keys)
    assert sorted(result) == sorted(rows)


def test_external_sort_of_presorted_runs_and_many_runs() -> None:
    keys = [f"k{i:05d}" for i in range(5_000)]
    rows = [(k, None) for k in keys]
    assert list(external_sort(rows, run_rows=100)) == rows  # consecutive runs: chained
    shuffled = rows[::7] + rows[1::7] + rows[2::7] + rows[3::7] + rows[4::7] + rows[5::7]
    shuffled += rows[6::7]
    assert list(external_sort(shuffled, run_rows=37, fan_in=4)) == rows  # 136 runs


def test_keys_file_plain_lines_keep_spaces(tmp_path: Path) -> None:
    path = tmp_path / "keys.txt"
    path.write_text("b.jpg\n a.jpg \n\nc d.png\r\n", encoding="utf-8")
    assert [r.key for r in read_keys_file(path, "bkt")] == [" a.jpg ", "b.jpg", "c d.png"]


def _read(path: Path, prefixes: tuple[str, ...] = ()) -> tuple[list[str], dict[str, int]]:
    counts = KeysFileCounts()
    keys = [r.key for r in read_keys_file(path, "bkt", prefixes=prefixes, counts=counts)]
    return keys, counts.notes()


@pytest.mark.parametrize(
    ("data", "keys", "blank"),
    [
        # A CR inside a key is part of the key; CRLF and LF both end a line.
        (b"a\rb.jpg\nc.jpg\r\nd.jpg", ["a\rb.jpg", "c.jpg", "d.jpg"], 0),
        # Whitespace-only keys are legal in S3: kept, even first; empty lines are counted.
        (b"   \n\nx.jpg\n\t\n\r\n", ["\t", "   ", "x.jpg"], 2),
        (b"\n\n\n", [], 3),
        (b"  \n \n", [" ", "  "], 0),  # whitespace only, no '{': plain keys
        # One CR before the LF is the line end; a CR at the end of the file is the key's.
        (b"k.jpg\r\r\nend\r", ["end\r", "k.jpg\r"], 0),
        # A byte order mark (Windows editors) is not part of the first key.
        (b"\xef\xbb\xbfa.jpg\r\nb.jpg\r\n", ["a.jpg", "b.jpg"], 0),
        # JSON Lines: whitespace-only lines are blank, even before the first object.
        (b'  \n{"key": " "}\n\t\n\n{"key": "a\\rb"}\n', [" ", "a\rb"], 3),
        (b'\xef\xbb\xbf{"key": "bom.jpg"}\n', ["bom.jpg"], 0),
    ],
)
def test_keys_file_lines_are_read_exactly_as_documented(
    tmp_path: Path, data: bytes, keys: list[str], blank: int
) -> None:
    path = tmp_path / "keys"
    path.write_bytes(data)
    read, notes = _read(path)
    assert read == keys
    assert notes.get("keys_file_blank_lines", 0) == blank
    lines = data.count(b"\n") + (not data.endswith(b"\n"))
    assert len(read) + blank == lines  # every line: an object, or counted


def test_keys_file_keys_outside_the_prefixes_are_counted(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text("a/1.jpg\nb/2.jpg\nc/3.jpg\n\n")
    assert _read(path, ("a/", "c/")) == (
        ["a/1.jpg", "c/3.jpg"],
        {"keys_file_blank_lines": 1, "keys_file_outside_prefix": 1},
    )
    assert _read(path, ("",))[0] == ["a/1.jpg", "b/2.jpg", "c/3.jpg"]
    path.write_text('{"key": "a/1.jpg"}\n{"key": "z.jpg"}\n')
    assert _read(path, ("a/",)) == (["a/1.jpg"], {"keys_file_outside_prefix": 1})


def test_keys_file_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "keys.jsonl"
    path.write_text(
        '{"key": "b.mp4", "size": 3, "storage_class": "GLACIER"}\n'
        '{"key": "a.jpg", "metadata": {"site": "x"}}\n'
    )
    records = list(read_keys_file(path, "bkt"))
    assert [(r.key, r.size, r.storage_class, r.metadata) for r in records] == [
        ("a.jpg", None, None, {"site": "x"}),
        ("b.mp4", 3, "GLACIER", None),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"key": "a"}\n{"key": 1}\n', "line 2"),
        ('{"key": "a", "size": -1}\n', "non-negative"),
        ('{"key": "a", "metadata": [1]}\n', "JSON object"),
        ('{"key": "a"\n', "not valid JSON"),
    ],
)
def test_bad_keys_file_lines_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "keys.jsonl"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        list(read_keys_file(path, "bkt"))
