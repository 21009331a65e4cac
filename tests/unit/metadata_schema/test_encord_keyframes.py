"""`schema` and `--schema` on Encord's `$encord` key frames: per-frame keys inferred and checked,
`$encord` never a schema key, and the embedding limits (4,096 refused, over 2,000 a warning)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from registration.cli import main
from registration.exit_codes import ExitStatus
from registration.metadata_schema import rules
from registration.metadata_schema.check import check_metadata, make_schema_check
from registration.metadata_schema.files import write_schema_file
from registration.metadata_schema.inference import infer_schema
from registration.metadata_schema.model import KeySpec, KeyType, Schema, embedding_warnings

URL = "https://b.s3.eu-west-1.amazonaws.com/"


def video(key: str, metadata: Any) -> tuple[str, dict[str, Any]]:
    return "videos", {"objectUrl": URL + key, "clientMetadata": metadata}


def image(key: str, metadata: Any) -> tuple[str, dict[str, Any]]:
    return "images", {"objectUrl": URL + key, "clientMetadata": metadata}


def frames(n: int, size: int = 8) -> dict[str, Any]:
    return {
        str(f * 10): {"clip": [f / 10] * size, "scene": "dock" if f % 2 else "sea"}
        for f in range(n)
    }


def test_per_frame_keys_and_embeddings_are_inferred_and_encord_is_never_a_key() -> None:
    items = [
        video(f"v/{i}.mp4", {"$encord": {"frames": frames(4)}, "site": "north"}) for i in range(6)
    ]
    items.append(
        video("v/list.mp4", {"$encord": {"frames": [0, 5], "config": {"sampling_rate": 0}}})
    )
    items.append(
        video("v/off.mp4", {"$encord": {"frames": {"3": {"$encord": {"keyframe": False}}}}})
    )
    result = infer_schema(items)

    assert result.conflicts == ()
    assert result.schema.get("clip") == KeySpec("clip", KeyType.EMBEDDING, size=8)
    assert result.schema.get("scene") == KeySpec("scene", KeyType.ENUM, values=("dock", "sea"))
    assert result.schema.get("site") == KeySpec("site", KeyType.ENUM, values=("north",))
    assert not [k for k in result.schema.keys if k.startswith("$") or "frames" in k]
    assert result.keyframe_items == (("$encord", 8),)
    clip = next(d for d in result.decisions if d.key == "clip")
    assert clip.count == 24  # one value per frame


def test_per_frame_and_item_values_of_one_key_share_its_type() -> None:
    items = [video("v/a.mp4", {"$encord": {"frames": {"0": {"score": "high"}}}, "score": 0.5})]
    (conflict,) = infer_schema(items).conflicts
    assert conflict.key == "score"
    assert conflict.reason == "values of different types"


def test_key_frames_on_an_image_are_a_conflict() -> None:
    items = [video("v/a.mp4", {"$encord": {"frames": [1]}})]
    items.append(image("stills/cover.jpg", {"$encord": {"frames": [0]}}))
    (conflict,) = infer_schema(items).conflicts
    assert (conflict.key, conflict.reason) == ("$encord", "key frames are for videos only")
    assert [(c.label, c.count, c.first_ref) for c in conflict.counts] == [
        ("items under images", 1, "stills/cover.jpg")
    ]


@pytest.mark.parametrize(
    ("block", "where"),
    [
        ({"frames": {"-1": {}}}, "$encord.frames['-1']"),
        ({"frames": {"x": {"clip": [1.0]}}}, "$encord.frames['x']"),
        ({"frames": {"1.5": {}}}, "$encord.frames['1.5']"),
        ({"frames": {"1.5": {}}, "config": {"keyframe_mode": "frame"}}, "['1.5']"),
        ({"frames": [-2]}, "$encord.frames[0]"),
        ({"frames": [1], "mode": "seconds"}, "unknown key 'mode'"),
    ],
)
def test_bad_key_frames_are_a_conflict_naming_the_first_item(
    block: dict[str, Any], where: str
) -> None:
    items = [
        video(
            "v/ok.mp4", {"$encord": {"frames": {"2.5": {}}, "config": {"keyframe_mode": "seconds"}}}
        )
    ]
    items.append(video("v/bad.mp4", {"$encord": block}))
    (conflict,) = infer_schema(items).conflicts
    assert conflict.key == "$encord"
    assert where in conflict.reason
    assert (conflict.counts[0].count, conflict.counts[0].first_ref) == (1, "v/bad.mp4")


SCHEMA = Schema.of(
    [
        KeySpec("clip", KeyType.EMBEDDING, size=4),
        KeySpec("scene", KeyType.ENUM, values=("dock", "sea")),
        KeySpec("site", KeyType.VARCHAR),
    ]
)


def item(metadata: Any) -> dict[str, Any]:
    return {"objectUrl": URL + "v/a.mp4", "clientMetadata": metadata}


def test_conforming_per_frame_metadata_passes_the_check() -> None:
    metadata = {
        "$encord": {
            "frames": {"0": {"clip": [0.1, 0.2, 0.3, 0.4], "scene": "sea"}, "9": {}},
            "config": {"sampling_rate": 2, "keyframe_mode": "frame"},
        },
        "site": "north",
    }
    assert check_metadata(SCHEMA, "videos", item(metadata)) is None


@pytest.mark.parametrize(
    ("metadata", "media", "key", "expected"),
    [
        (
            {"$encord": {"frames": {"0": {"clip": [0.1, 0.2]}}}},
            "videos",
            "clip",
            "a list of 4 numbers",
        ),
        ({"$encord": {"frames": {"0": {"scene": "fog"}}}}, "videos", "scene", "enum values"),
        ({"$encord": {"frames": {"-1": {}}}}, "videos", "$encord.frames['-1']", "frame key"),
        ({"$encord": {"frames": [0]}}, "images", "$encord", "videos only"),
        ({"keyframes": [0, -1]}, "videos", "keyframes[1]", "non-negative integer"),
        ({"keyframes": [0]}, "images", "keyframes", "videos only"),
    ],
)
def test_check_refuses_bad_key_frames_and_per_frame_values(
    metadata: dict[str, Any], media: str, key: str, expected: str
) -> None:
    violation = check_metadata(SCHEMA, media, item(metadata))
    assert violation is not None
    assert violation.key == key
    assert expected in violation.reason
    assert f"clientMetadata key {key!r} breaks the metadata schema" in violation.reason


def test_deprecated_keyframes_with_their_config_still_pass() -> None:
    metadata = {"keyframes": [0.5, 2], "config": {"keyframe_mode": "seconds"}, "site": "x"}
    assert check_metadata(SCHEMA, "videos", item(metadata)) is None


OVER = rules.EMBEDDING_MAX_SIZE + 1


def test_an_embedding_over_4096_is_a_conflict_per_frame_too() -> None:
    items = [video("v/a.mp4", {"$encord": {"frames": {"0": {"big": [0.5] * OVER}}}})]
    (conflict,) = infer_schema(items).conflicts
    assert conflict.key == "big"
    assert "1 to 4,096 numbers (Encord Index's limit)" in conflict.reason


@pytest.mark.parametrize(
    "metadata",
    [{"big": [0.5] * OVER}, {"$encord": {"frames": {"0": {"big": [0.5] * OVER}}}}],
)
def test_the_check_refuses_any_embedding_over_4096_even_undeclared(
    metadata: dict[str, Any],
) -> None:
    reason = make_schema_check(Schema())("videos", item(metadata))
    assert reason is not None
    assert "clientMetadata key 'big'" in reason and "4,096 numbers (Encord Index's limit" in reason
    assert make_schema_check(Schema())("videos", item({"big": [0.5] * 4096})) is None


def test_an_embedding_over_2000_is_typed_with_a_note_naming_active() -> None:
    result = infer_schema([image(f"a/{i}.jpg", {"vec": [0.1] * 2048}) for i in range(3)])
    assert result.conflicts == ()
    assert result.schema.get("vec") == KeySpec("vec", KeyType.EMBEDDING, size=2048)
    (decision,) = result.decisions
    assert decision.note is not None and "Encord Active uses at most 2,000" in decision.note
    assert embedding_warnings(result.schema) == [
        "vec: an embedding of 2,048 numbers: Encord Active uses at most 2,000 "
        "(Index takes up to 4,096)"
    ]
    assert embedding_warnings(Schema.of([KeySpec("v", KeyType.EMBEDDING, size=2000)])) == []


# --- through the commands (a keys file: no S3, no Encord) ---------------------------------


def write_keys(path: Path, size: int) -> Path:
    lines = [
        {
            "key": f"v/{i}.mp4",
            "size": 10,
            "metadata": {"$encord": {"frames": {"0": {"vec": [0.25] * size}}}, "site": "n"},
        }
        for i in range(3)
    ]
    lines.append({"key": "v/legacy.mp4", "size": 10, "metadata": {"keyframes": [4]}})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def source(keys: Path) -> list[str]:
    return ["--keys-file", str(keys), "--trust-keys", "--bucket", "bkt", "--region", "eu-west-1"]


def test_schema_warns_about_active_and_never_names_encord_as_invalid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = write_keys(tmp_path / "keys.jsonl", 2048)
    out = tmp_path / "schema.json"
    code = main(["schema", *source(keys), "--show", "--write", str(out)])
    captured = capsys.readouterr()

    assert code == ExitStatus.OK, captured.err
    assert json.loads(out.read_text())["keys"] == {
        "site": {"type": "enum", "values": ["n"]},
        "vec": {"type": "embedding", "size": 2048},
    }
    assert "vec: an embedding of 2,048 numbers: Encord Active uses at most 2,000" in captured.err
    assert "$encord: key frames on 4 items" in captured.out
    assert "not a valid Encord metadata key" not in captured.out


def test_schema_refuses_an_embedding_over_4096(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = write_keys(tmp_path / "keys.jsonl", OVER)
    assert main(["schema", *source(keys)]) == ExitStatus.CHECKS_FAILED
    assert "vec: an embedding must have 1 to 4,096 numbers" in capsys.readouterr().out


def test_manifest_schema_refuses_over_4096_and_warns_over_2000(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schema_file = tmp_path / "schema.json"
    write_schema_file(Schema.of([KeySpec("vec", KeyType.EMBEDDING, size=3000)]), schema_file)
    keys = write_keys(tmp_path / "keys.jsonl", OVER)
    out = tmp_path / "out"
    code = main(["manifest", *source(keys), "--out", str(out), "--schema", str(schema_file)])
    captured = capsys.readouterr()

    assert code == ExitStatus.OK
    assert "vec: an embedding of 3,000 numbers: Encord Active uses at most 2,000" in captured.err
    skipped = [json.loads(line) for line in (out / "skipped.jsonl").read_text().splitlines()]
    assert {s["key"] for s in skipped} == {f"v/{i}.mp4" for i in range(3)}
    assert all(s["reason"] == "item_check" and "'vec'" in s["detail"] for s in skipped)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["items"] == 1 and summary["keyframes_converted"] == 1
