"""Copying registration files without the items a schema refuses (register --manifests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from registration.errors import InputError
from registration.metadata_schema.check import make_schema_check
from registration.metadata_schema.filtering import filter_manifests
from registration.metadata_schema.model import KeySpec, KeyType, Schema

URL = "https://b.s3.eu-west-1.amazonaws.com/"
CHECK = make_schema_check(Schema.of([KeySpec("score", KeyType.NUMBER)]))


def write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_bytes(orjson.dumps(doc))
    return path


def image(key: str, score: Any) -> dict[str, Any]:
    return {"objectUrl": URL + key, "title": key, "clientMetadata": {"score": score}}


def load(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = orjson.loads(path.read_bytes())
    return doc


def test_refused_items_are_dropped_listed_and_originals_untouched(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    first = write(
        src / "manifest-00001.json",
        {
            "images": [image("a.jpg", 1), image("b.jpg", "x")],
            "image_groups": [
                {"title": "g", "objectUrl_0": URL + "g/0.jpg", "clientMetadata": {"score": "y"}}
            ],
            "skip_duplicate_urls": True,
        },
    )
    second = write(src / "manifest-00002.json", {"images": [image("c.jpg", "z")]})
    before = first.read_bytes(), second.read_bytes()
    out = tmp_path / "checked"

    summary = filter_manifests([first, second], load, out, CHECK)

    assert (first.read_bytes(), second.read_bytes()) == before
    assert summary.kept == 1 and summary.refused == 3
    assert [p.name for p in summary.files] == ["manifest-00001.json"]  # 00002 kept nothing
    assert load(out / "manifest-00001.json") == {
        "images": [image("a.jpg", 1)],
        "skip_duplicate_urls": True,
    }
    lines = [orjson.loads(x) for x in (out / "skipped.jsonl").read_bytes().splitlines()]
    assert [(x["file"], x["type"], x["key"], x["urls"]) for x in lines] == [
        ("manifest-00001.json", "images", "b.jpg", [URL + "b.jpg"]),
        ("manifest-00001.json", "image_groups", "g/0.jpg", [URL + "g/0.jpg"]),
        ("manifest-00002.json", "images", "c.jpg", [URL + "c.jpg"]),
    ]
    # As in every other skipped.jsonl: the reason is the code, the detail says why.
    assert all(x["reason"] == "item_check" and "'score'" in x["detail"] for x in lines)


def test_a_rerun_replaces_stale_files(tmp_path: Path) -> None:
    out = tmp_path / "checked"
    out.mkdir()
    write(out / "manifest-00009.json", {"images": [image("old.jpg", 1)]})
    src = write(tmp_path / "manifest-00001.json", {"images": [image("a.jpg", 1)]})
    summary = filter_manifests([src], load, out, CHECK)
    assert sorted(p.name for p in out.glob("manifest-*.json")) == ["manifest-00001.json"]
    assert summary.refused == 0 and (out / "skipped.jsonl").read_bytes() == b""


def test_everything_refused_is_an_input_error(tmp_path: Path) -> None:
    src = write(tmp_path / "manifest-00001.json", {"images": [image("a.jpg", "no")]})
    with pytest.raises(InputError, match="every item was refused"):
        filter_manifests([src], load, tmp_path / "checked", CHECK)
    assert (tmp_path / "checked" / "skipped.jsonl").exists()
