"""Key frames through `manifest` (keys file, no S3): what the written files, skipped.jsonl and
summary.json say for deprecated lists, per-frame embeddings, the config flags, bad frame keys,
and bulk metadata."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from registration.build.manifests import build_manifests
from registration.build.sources import ObjectRecord
from registration.build.spec import OutputSpec
from registration.cli import build_parser, options
from registration.errors import InputError, UsageError
from tests.manifest_output import read_output


class Recorder:
    """A reporter that keeps what it was told."""

    def __init__(self) -> None:
        self.warnings: list[str] = []

    def info(self, message: str) -> None:
        pass

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def progress(self, label: str, done: int, total: int | None = None) -> None:
        pass


EMBEDDED: dict[str, Any] = {
    "$encord": {
        "frames": {
            "0": {"clip": [0.015625, -0.25, 0.5, 1e-07], "scene": "dock"},
            "30": {"$encord": {"keyframe": False}, "clip": [0.0, 0.0, 1.0, -1.0]},
            "90": {},
        }
    },
    "site": "harbour",
}


def build(
    tmp_path: Path,
    objects: dict[str, bytes | None],
    *flags: str,
    keys_metadata: dict[str, dict[str, Any]] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any], Recorder]:
    """Run `manifest` on `objects` (key -> sidecar body, None for a data file); return the
    written items by title, skipped.jsonl, summary.json and the reporter."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    keys = tmp_path / "keys.jsonl"
    lines = []
    for key in objects:
        line: dict[str, Any] = {"key": key, "size": 10}
        if keys_metadata and key in keys_metadata:
            line["metadata"] = keys_metadata[key]
        lines.append(json.dumps(line) + "\n")
    keys.write_text("".join(lines))
    argv = ["manifest", "--keys-file", str(keys), "--trust-keys", "--bucket", "bkt"]
    argv += ["--region", "eu-west-1"]
    args = build_parser().parse_args([*argv, "--out", "unused", *flags])
    out = tmp_path / "out"
    reporter = Recorder()

    def read(record: ObjectRecord) -> bytes:
        body = objects[record.key]
        assert body is not None, f"{record.key} read as a sidecar"
        return body

    build_manifests(
        options.source_spec(args),
        options.build_options(args),
        OutputSpec(out),
        reporter,
        body_reader=read,
    )
    items, skipped, summary = read_output(out)
    assert summary["objects_seen"] == summary["objects_included"] + summary["objects_skipped"]
    return items, skipped, summary, reporter


def test_deprecated_keyframes_are_written_as_encord_frames_and_counted_once(
    tmp_path: Path,
) -> None:
    objects: dict[str, bytes | None] = {}
    for n in range(3):
        objects[f"v/clip{n}.mp4"] = None
        objects[f"v/clip{n}.mp4.json"] = json.dumps({"keyframes": [0, 10 * (n + 1)]}).encode()
    objects["v/modern.mp4"] = None
    objects["v/modern.mp4.metadata.json"] = b'{"$encord": {"frames": [5]}}'

    items, skipped, summary, reporter = build(tmp_path, objects)

    assert items["v/clip0.mp4"]["clientMetadata"] == {"$encord": {"frames": [0, 10]}}
    assert items["v/clip2.mp4"]["clientMetadata"] == {"$encord": {"frames": [0, 30]}}
    assert items["v/modern.mp4"]["clientMetadata"] == {"$encord": {"frames": [5]}}
    assert not any("keyframes" in item.get("clientMetadata", {}) for item in items.values())
    assert summary["keyframes_converted"] == 3
    assert skipped == []
    notes = [w for w in reporter.warnings if "deprecated" in w]
    assert len(notes) == 1 and notes[0].startswith("3 metadata document(s)")


def test_nothing_converted_means_no_note_and_a_zero_count(tmp_path: Path) -> None:
    _, _, summary, reporter = build(tmp_path, {"a.jpg": None, "a.jpg.json": b'{"x": 1}'})
    assert summary["keyframes_converted"] == 0
    assert reporter.warnings == []


def test_per_frame_embeddings_in_the_dict_form_are_kept_exactly(tmp_path: Path) -> None:
    body = json.dumps(EMBEDDED).encode()
    items, _, summary, _ = build(tmp_path, {"v/dock.mp4": None, "v/dock.mp4.json": body})
    assert items["v/dock.mp4"]["clientMetadata"] == EMBEDDED
    assert summary["keyframes_converted"] == 0
    assert summary["included_as_metadata"] == 1


def test_config_flags_apply_only_where_the_source_gives_none(tmp_path: Path) -> None:
    objects: dict[str, bytes | None] = {
        "v/bare.mp4": None,
        "v/bare.mp4.json": b'{"keyframes": [1, 2]}',
        "v/own.mp4": None,
        "v/own.mp4.json": b'{"$encord": {"frames": [4], "config": {"sampling_rate": 5}}}',
        "v/none.mp4": None,
        "v/none.mp4.json": b'{"site": "x"}',
    }
    items, _, _, _ = build(
        tmp_path, objects, "--keyframe-sampling-rate", "3", "--keyframe-mode", "frame"
    )
    assert items["v/bare.mp4"]["clientMetadata"]["$encord"] == {
        "frames": [1, 2],
        "config": {"sampling_rate": 3, "keyframe_mode": "frame"},
    }
    assert items["v/own.mp4"]["clientMetadata"]["$encord"]["config"] == {"sampling_rate": 5}
    assert items["v/none.mp4"]["clientMetadata"] == {"site": "x"}


def test_seconds_mode_flag_accepts_seconds_keys(tmp_path: Path) -> None:
    objects: dict[str, bytes | None] = {
        "v/s.mp4": None,
        "v/s.mp4.json": b'{"$encord": {"frames": {"0.5": {"tag": "a"}, "2": {}}}}',
    }
    items, skipped, _, _ = build(tmp_path, objects, "--keyframe-mode", "seconds")
    assert skipped == []
    assert items["v/s.mp4"]["clientMetadata"]["$encord"] == {
        "frames": {"0.5": {"tag": "a"}, "2": {}},
        "config": {"sampling_rate": 1, "keyframe_mode": "seconds"},
    }


@pytest.mark.parametrize(
    ("sidecar", "flags", "where"),
    [
        (b'{"$encord": {"frames": {"-1": {}}}, "site": "x"}', (), "$encord.frames['-1']"),
        (b'{"$encord": {"frames": {"x": {}}}}', (), "$encord.frames['x']"),
        (b'{"$encord": {"frames": {"1.5": {}}}}', (), "$encord.frames['1.5']"),
        (b'{"keyframes": [0, -4]}', (), "keyframes[1]"),
        (b'{"$encord": {"frames": {"-1": {}}}}', ("--keyframe-mode", "seconds"), "['-1']"),
        (
            b'{"$encord": {"frames": {"x": {}}, "config": {"keyframe_mode": "seconds"}}}',
            (),
            "$encord.frames['x']",
        ),
    ],
)
def test_bad_frame_keys_skip_the_sidecar_never_the_object(
    tmp_path: Path, sidecar: bytes, flags: tuple[str, ...], where: str
) -> None:
    objects: dict[str, bytes | None] = {"v/a.mp4": None, "v/a.mp4.json": sidecar}
    items, skipped, summary, _ = build(tmp_path, objects, *flags)

    assert "clientMetadata" not in items["v/a.mp4"]  # registered, without the sidecar's data
    (line,) = skipped
    assert (line["key"], line["reason"]) == ("v/a.mp4.json", "bad_keyframes")
    assert where in line["detail"]
    assert summary["skipped_by_reason"] == {"bad_keyframes": 1}
    assert summary["objects_included"] == 1


def test_bulk_jsonl_metadata_is_converted_and_counted(tmp_path: Path) -> None:
    bulk = tmp_path / "meta.jsonl"
    bulk.write_text(
        json.dumps({"key": "v/a.mp4", "keyframes": [7], "site": "n"})
        + "\n"
        + json.dumps({"key": "v/b.mp4", "metadata": EMBEDDED})
        + "\n"
    )
    items, _, summary, _ = build(
        tmp_path, {"v/a.mp4": None, "v/b.mp4": None}, "--metadata", str(bulk)
    )
    assert items["v/a.mp4"]["clientMetadata"] == {"$encord": {"frames": [7]}, "site": "n"}
    assert items["v/b.mp4"]["clientMetadata"] == EMBEDDED
    assert summary["keyframes_converted"] == 1


def test_bulk_csv_metadata_is_converted(tmp_path: Path) -> None:
    bulk = tmp_path / "meta.csv"
    bulk.write_text(
        'key,keyframes,$encord,site\nv/a.mp4,"[0, 5]",,n\nv/b.mp4,,"{""frames"": [9]}",s\n'
    )
    items, _, summary, _ = build(
        tmp_path, {"v/a.mp4": None, "v/b.mp4": None}, "--metadata", str(bulk)
    )
    assert items["v/a.mp4"]["clientMetadata"] == {"$encord": {"frames": [0, 5]}, "site": "n"}
    assert items["v/b.mp4"]["clientMetadata"] == {"$encord": {"frames": [9]}, "site": "s"}
    assert summary["keyframes_converted"] == 1


def test_bulk_metadata_with_bad_key_frames_names_file_line_and_key(tmp_path: Path) -> None:
    bulk = tmp_path / "meta.jsonl"
    bulk.write_text(
        json.dumps({"key": "v/a.mp4", "keyframes": [1]})
        + "\n"
        + json.dumps({"key": "v/b.mp4", "$encord": {"frames": {"x": {}}}})
        + "\n"
    )
    with pytest.raises(InputError) as raised:
        build(tmp_path, {"v/a.mp4": None, "v/b.mp4": None}, "--metadata", str(bulk))
    message = str(raised.value)
    assert f"{bulk}, line 2, key 'v/b.mp4'" in message
    assert "$encord.frames['x']" in message
    assert not (tmp_path / "out").exists()  # nothing is built


def test_bulk_csv_with_bad_key_frames_names_the_line(tmp_path: Path) -> None:
    bulk = tmp_path / "meta.csv"
    bulk.write_text('key,keyframes\nv/a.mp4,"[0]"\nv/b.mp4,"[-1]"\n')
    with pytest.raises(InputError, match=r"line 3, key 'v/b.mp4'.*keyframes\[0\]"):
        build(tmp_path, {"v/a.mp4": None, "v/b.mp4": None}, "--metadata", str(bulk))


def test_keys_file_metadata_is_converted_and_bad_ones_refuse_the_file(tmp_path: Path) -> None:
    items, _, summary, _ = build(
        tmp_path, {"v/a.mp4": None}, keys_metadata={"v/a.mp4": {"keyframes": [2, 4]}}
    )
    assert items["v/a.mp4"]["clientMetadata"] == {"$encord": {"frames": [2, 4]}}
    assert summary["keyframes_converted"] == 1
    with pytest.raises(InputError, match=r"line 1: key 'v/a.mp4': bad key frames"):
        build(
            tmp_path / "again",
            {"v/a.mp4": None},
            keys_metadata={"v/a.mp4": {"$encord": {"frames": [-1]}}},
        )


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (("--keyframe-sampling-rate", "-2"), "--keyframe-sampling-rate"),
        (("--keyframe-sampling-rate", "fast"), "--keyframe-sampling-rate"),
        (("--sidecar-suffix", "meta/x.json"), "--sidecar-suffix"),
    ],
)
def test_bad_flag_values_are_usage_errors_naming_the_flag(
    tmp_path: Path, flags: tuple[str, ...], named: str
) -> None:
    with pytest.raises(UsageError, match=named):
        build(tmp_path, {"a.jpg": None}, *flags)


def test_a_sampling_rate_of_zero_is_written_and_passes_the_shipped_schema(tmp_path: Path) -> None:
    # Encord recommends 0 (only the first frame and the key frames are imported).
    objects: dict[str, bytes | None] = {
        "v/zero.mp4": None,
        "v/zero.mp4.json": b'{"keyframes": [0, 3]}',
    }
    items, skipped, _, _ = build(tmp_path, objects, "--keyframe-sampling-rate", "0")
    assert skipped == []
    assert items["v/zero.mp4"]["clientMetadata"]["$encord"] == {
        "frames": [0, 3],
        "config": {"sampling_rate": 0, "keyframe_mode": "frame"},
    }
