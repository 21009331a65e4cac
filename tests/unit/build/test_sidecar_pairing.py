"""Sidecar pairing: `<file>.metadata.json` (Encord's convention) and `<file>.json` (ours), the
ambiguous cases, and `--sidecar-suffix`. Every object listed is included or in skipped.jsonl."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from registration.build.sidecars import check_sidecar_suffixes
from tests.unit.build.test_keyframe_files import build


def meta(tag: str) -> bytes:
    return f'{{"from": "{tag}"}}'.encode()


def reasons(skipped: list[dict[str, Any]]) -> dict[str, str]:
    return {line["key"]: line["reason"] for line in skipped}


def test_both_conventions_pair_by_default(tmp_path: Path) -> None:
    objects = {
        "a.jpg": None,
        "a.jpg.metadata.json": meta("metadata.json"),
        "b.jpg": None,
        "b.jpg.json": meta("json"),
    }
    items, skipped, summary, _ = build(tmp_path, objects)
    assert items["a.jpg"]["clientMetadata"] == {"from": "metadata.json"}
    assert items["b.jpg"]["clientMetadata"] == {"from": "json"}
    assert set(items) == {"a.jpg", "b.jpg"}  # sidecars are not items
    assert skipped == []
    assert summary["included_as_metadata"] == 2


def test_an_object_with_both_sidecars_uses_the_longer_suffix_and_reports_the_other(
    tmp_path: Path,
) -> None:
    objects = {"x.jpg": None, "x.jpg.json": meta("json"), "x.jpg.metadata.json": meta("md")}
    items, skipped, summary, _ = build(tmp_path, objects)
    assert items["x.jpg"]["clientMetadata"] == {"from": "md"}
    (line,) = skipped
    assert (line["key"], line["reason"], line["detail"]) == (
        "x.jpg.json",
        "sidecar_superseded",
        "x.jpg.metadata.json",
    )
    assert summary["objects_seen"] == 3 and summary["objects_included"] == 2


def test_the_longer_suffix_whose_data_file_exists_wins(tmp_path: Path) -> None:
    # `a.jpg.metadata.json` could be the .metadata.json sidecar of `a.jpg` or the .json
    # sidecar of `a.jpg.metadata`: both exist, so the longer suffix (a.jpg) wins.
    objects = {"a.jpg": None, "a.jpg.metadata": None, "a.jpg.metadata.json": meta("md")}
    items, skipped, _, _ = build(tmp_path, objects)
    assert items["a.jpg"]["clientMetadata"] == {"from": "md"}
    assert reasons(skipped) == {"a.jpg.metadata": "unknown_type"}


def test_without_the_longer_suffixs_data_file_the_shorter_one_pairs(tmp_path: Path) -> None:
    # No `c.txt`: `c.txt.metadata.json` is the .json sidecar of `c.txt.metadata`, an object
    # of an unknown type, so both are reported (neither silently dropped).
    objects = {"c.txt.metadata": None, "c.txt.metadata.json": meta("md")}
    items, skipped, _, _ = build(tmp_path, objects)
    assert items == {}
    assert reasons(skipped) == {
        "c.txt.metadata": "unknown_type",
        "c.txt.metadata.json": "sidecar_of_skipped_object",
    }


def test_a_sidecar_without_its_data_file_is_an_object_of_its_own(tmp_path: Path) -> None:
    objects = {"orphan.jpg.metadata.json": meta("md"), "notes.json": meta("doc")}
    items, skipped, summary, _ = build(tmp_path, objects)
    assert set(items) == {"orphan.jpg.metadata.json", "notes.json"}  # JSON documents: text
    assert skipped == [] and summary["items_by_type"] == {"text": 2}


def test_a_sidecar_listed_twice_is_a_duplicate(tmp_path: Path) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text("v.mp4\nv.mp4.json\nv.mp4.json\n")
    from registration.build.manifests import build_manifests
    from registration.build.spec import BuildOptions, OutputSpec, SourceSpec
    from registration.reporter import SILENT

    out = tmp_path / "out"
    summary = build_manifests(
        SourceSpec(bucket="bkt", keys_file=keys, region="eu-west-1", trust_keys=True),
        BuildOptions(),
        OutputSpec(out),
        SILENT,
        body_reader=lambda record: b'{"k": 1}',
    )
    assert summary.skipped_by_reason == {"duplicate_key": 1}
    assert summary.items == 1 and summary.objects_seen == 3


def test_sidecar_suffix_chooses_one_convention(tmp_path: Path) -> None:
    objects = {
        "a.jpg": None,
        "a.jpg.metadata.json": meta("md"),
        "b.jpg": None,
        "b.jpg.json": meta("json"),
    }
    items, _, _, _ = build(tmp_path / "md", objects, "--sidecar-suffix", ".metadata.json")
    assert items["a.jpg"]["clientMetadata"] == {"from": "md"}
    assert "clientMetadata" not in items["b.jpg"]
    assert "b.jpg.json" in items  # not a sidecar under this convention: a text item

    items, _, _, _ = build(tmp_path / "json", objects, "--sidecar-suffix", ".json")
    assert items["b.jpg"]["clientMetadata"] == {"from": "json"}
    assert "clientMetadata" not in items["a.jpg"]
    assert "a.jpg.metadata.json" in items


def test_a_custom_suffix_pairs(tmp_path: Path) -> None:
    objects = {
        "scan.png": None,
        "scan.png.sidecar": meta("sidecar"),
        "scan.png.json": meta("json"),
        "tie.png": None,
        "tie.png.json": meta("json"),
        "tie.png.meta": meta("meta"),
    }
    flags = ("--sidecar-suffix", ".sidecar", "--sidecar-suffix", ".json")
    items, skipped, _, _ = build(tmp_path, objects, *flags, "--sidecar-suffix", ".meta")
    # Both are sidecars of scan.png: the longer suffix (.sidecar) wins, though listed later.
    assert items["scan.png"]["clientMetadata"] == {"from": "sidecar"}
    # Suffixes of one length: the first in key order wins.
    assert items["tie.png"]["clientMetadata"] == {"from": "json"}
    assert reasons(skipped) == {
        "scan.png.json": "sidecar_superseded",
        "tie.png.meta": "sidecar_superseded",
    }


def test_many_objects_stream_with_mixed_conventions(tmp_path: Path) -> None:
    objects: dict[str, bytes | None] = {}
    for n in range(300):
        objects[f"d/{n:03d}.jpg"] = None
        suffix = ".metadata.json" if n % 2 else ".json"
        objects[f"d/{n:03d}.jpg{suffix}"] = f'{{"n": {n}}}'.encode()
        if n % 7 == 0:
            objects[f"d/{n:03d}.jpg.metadata.json"] = f'{{"n": {n}, "md": true}}'.encode()
            objects[f"d/{n:03d}.jpg.json"] = meta("loser")
    items, skipped, summary, _ = build(tmp_path, objects)
    assert len(items) == 300
    for n in range(300):
        expected: dict[str, Any] = {"n": n, "md": True} if n % 7 == 0 else {"n": n}
        assert items[f"d/{n:03d}.jpg"]["clientMetadata"] == expected
    assert {line["reason"] for line in skipped} == {"sidecar_superseded"}
    assert len(skipped) == len([n for n in range(300) if n % 7 == 0])
    assert summary["objects_seen"] == len(objects)


def test_suffixes_are_tried_longest_first() -> None:
    assert check_sidecar_suffixes([".json", ".metadata.json", ".json"]) == (
        ".metadata.json",
        ".json",
    )
