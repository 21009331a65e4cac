"""`ignore` in a schema: the keys `--coerce KEY=ignore` left out are dropped from every item."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from registration.metadata_schema.check import make_schema_check
from registration.metadata_schema.files import read_schema_file, write_schema_file
from registration.metadata_schema.model import KeySpec, KeyType, Schema

SCHEMA = Schema.of([KeySpec("score", KeyType.NUMBER)], ignored=["tags", "camera.serial"])


def test_the_schema_file_keeps_the_ignored_keys(tmp_path: Path) -> None:
    path = tmp_path / "schema.json"
    write_schema_file(SCHEMA, path)
    assert read_schema_file(path) == SCHEMA


def test_ignored_keys_are_dropped_in_nested_objects_and_frames_and_nothing_else() -> None:
    frames = {"0": {"tags": ["a"], "scene": "dock"}, "9": {"tags": ["b"]}}
    metadata: dict[str, Any] = {
        "tags": ["x", "y"],  # a list of strings: no schema type, so the user ignored it
        "score": 1,
        "camera": {"serial": "S1", "model": "M3E"},
        "lens": {"serial": "kept: not camera.serial"},
        "$encord": {"frames": frames, "config": {"sampling_rate": 0}},
    }
    item = {"objectUrl": "u", "clientMetadata": metadata}

    assert make_schema_check(SCHEMA)("videos", item) is None
    assert item["clientMetadata"] == {
        "score": 1,
        "camera": {"model": "M3E"},
        "lens": {"serial": "kept: not camera.serial"},
        "$encord": {"frames": {"0": {"scene": "dock"}, "9": {}}, "config": {"sampling_rate": 0}},
    }
    assert metadata["tags"] == ["x", "y"] and frames["0"]["tags"] == ["a"]  # copied, not changed


def test_an_item_left_without_metadata_has_no_client_metadata() -> None:
    item = {"objectUrl": "u", "clientMetadata": {"tags": ["x"]}}
    assert make_schema_check(SCHEMA)("images", item) is None
    assert item == {"objectUrl": "u"}


def test_the_remaining_keys_are_still_checked() -> None:
    item = {"objectUrl": "u", "clientMetadata": {"tags": ["x"], "score": "high"}}
    reason = make_schema_check(SCHEMA)("images", item)
    assert reason is not None and "'score'" in reason
