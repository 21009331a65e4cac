"""Schema inference from realistic clientMetadata: every type, conflicts, coercions."""

from __future__ import annotations

import random
import tracemalloc
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from registration.errors import UsageError
from registration.metadata_schema import rules
from registration.metadata_schema.conflicts import NOT_AN_OBJECT_KEY
from registration.metadata_schema.inference import InferenceOptions, infer_schema, parse_coercion
from registration.metadata_schema.model import KeySpec, KeyType

BUCKET_URL = "https://survey-data.s3.eu-west-1.amazonaws.com/"


def image(key: str, metadata: Any) -> tuple[str, dict[str, Any]]:
    return "images", {"objectUrl": BUCKET_URL + key, "clientMetadata": metadata}


def video(key: str, metadata: Any) -> tuple[str, dict[str, Any]]:
    return "videos", {"objectUrl": BUCKET_URL + key, "clientMetadata": metadata}


def realistic_images(n: int, seed: int = 7) -> Iterator[tuple[str, dict[str, Any]]]:
    """Drone-survey style metadata: numbers, flags, times, ids, labels, nested camera info."""
    rng = random.Random(seed)
    for i in range(n):
        yield image(
            f"survey/2024/img_{i:06d}.jpg",
            {
                "altitude_m": rng.uniform(20, 120),
                "frame_index": i,
                "is_night": rng.random() < 0.2,
                "captured_at": f"2024-05-{1 + i % 28:02d}T{i % 24:02d}:15:00Z",
                "flight_id": str(uuid.UUID(int=rng.getrandbits(128))),
                "weather": rng.choice(["sunny", "overcast", "rain"]),
                "operator_note": f"pass {i} over field {rng.randint(1, 10_000)}",
                "camera": {"model": rng.choice(["DJI-M3E", "DJI-P4"]), "iso": 100 * (1 + i % 4)},
            },
        )


def types_of(result: Any) -> dict[str, str]:
    return {spec.name: spec.describe() for spec in result.schema}


def test_infers_every_scalar_type_and_flattens_nested_objects() -> None:
    result = infer_schema(realistic_images(500))

    assert result.conflicts == ()
    assert types_of(result) == {
        "altitude_m": "number",
        "frame_index": "number",
        "is_night": "boolean",
        "captured_at": "datetime",
        "flight_id": "uuid",
        "weather": "enum(overcast, rain, sunny)",
        "operator_note": "varchar",
        "camera.model": "enum(DJI-M3E, DJI-P4)",
        "camera.iso": "number",
    }
    assert result.items == 500
    assert result.items_with_metadata == 500


def test_embeddings_of_512_and_1536_floats() -> None:
    rng = random.Random(1)
    items = [image(f"a/{i}.jpg", {"clip": [rng.random() for _ in range(512)]}) for i in range(20)]
    items += [
        image(f"b/{i}.jpg", {"ada_002": [rng.uniform(-1, 1) for _ in range(1536)]})
        for i in range(20)
    ]
    result = infer_schema(items)

    assert result.conflicts == ()
    assert result.schema.get("clip") == KeySpec("clip", KeyType.EMBEDDING, size=512)
    assert result.schema.get("ada_002") == KeySpec("ada_002", KeyType.EMBEDDING, size=1536)


def test_embedding_lengths_that_differ_are_a_conflict_with_counts() -> None:
    items = [image(f"a/{i}.jpg", {"clip": [0.5] * 512}) for i in range(9)]
    items.append(image("a/odd one.jpg", {"clip": [0.5] * 511}))
    result = infer_schema(items)

    (conflict,) = result.conflicts
    assert conflict.key == "clip"
    assert [(c.label, c.count, c.first_ref) for c in conflict.counts] == [
        ("lists of 512 numbers", 9, "a/0.jpg"),
        ("lists of 511 numbers", 1, "a/odd one.jpg"),
    ]
    assert "clip" not in result.schema.keys


def test_embedding_longer_than_encords_limit_is_a_conflict() -> None:
    result = infer_schema([image("x.jpg", {"vec": [0.0] * (rules.EMBEDDING_MAX_SIZE + 1)})])
    (conflict,) = result.conflicts
    assert "1 to 4,096 numbers (Encord Index's limit)" in conflict.reason


def test_deprecated_keyframes_on_videos_are_checked_never_declared() -> None:
    items = [video(f"clips/{i}.mp4", {"keyframes": [0, 12, 48], "site": "north"}) for i in range(5)]
    items.append(video("clips/none.mp4", {"keyframes": [], "config": {"sampling_rate": 0}}))
    result = infer_schema(items)

    assert result.conflicts == ()
    assert "keyframes" not in result.schema.keys
    assert result.keyframe_items == (("keyframes", 6),)
    assert result.schema.get("site") == KeySpec("site", KeyType.ENUM, values=("north",))
    # `config` beside keyframes is their sampling config: not inferred as config.sampling_rate.
    assert "config.sampling_rate" not in result.schema.keys


def test_keyframes_on_an_image_is_a_conflict_naming_the_item() -> None:
    items = [video(f"clips/{i}.mp4", {"keyframes": [1, 2]}) for i in range(3)]
    items.append(image("stills/cover.jpg", {"keyframes": [0]}))
    result = infer_schema(items)

    (conflict,) = result.conflicts
    assert conflict.key == "keyframes"
    assert conflict.reason == "key frames are for videos only"
    assert [(c.label, c.count, c.first_ref) for c in conflict.counts] == [
        ("items under images", 1, "stills/cover.jpg")
    ]


@pytest.mark.parametrize("bad", [[1, -2], [1.5], ["3"], "0,12"])
def test_keyframes_must_be_non_negative_frame_numbers(bad: Any) -> None:
    items = [
        video("clips/ok.mp4", {"keyframes": [0, 3]}),
        video("clips/bad.mp4", {"keyframes": bad}),
    ]
    (conflict,) = infer_schema(items).conflicts
    assert conflict.key == "keyframes"
    assert conflict.reason.startswith("key frames Encord would not read (first: keyframes")
    assert conflict.counts[0].first_ref == "clips/bad.mp4"
    assert conflict.counts[0].count == 1


def test_number_and_string_clash_reports_counts_and_first_item_of_each_kind() -> None:
    items = [image(f"images/{i}.jpg", {"score": i / 10}) for i in range(9812)]
    items.insert(4000, image("images/a.jpg", {"score": "high"}))
    items += [image(f"images/late{i}.jpg", {"score": "low"}) for i in range(2)]
    result = infer_schema(items)

    (conflict,) = result.conflicts
    assert conflict.key == "score"
    assert [(c.label, c.count, c.first_ref) for c in conflict.counts] == [
        ("numbers", 9812, "images/0.jpg"),
        ("strings", 3, "images/a.jpg"),
    ]
    assert conflict.describe() == (
        "score: values of different types: 9,812 numbers, 3 strings (first at images/a.jpg)"
    )
    assert "--coerce score=" in conflict.hint
    assert "score" not in result.schema.keys


def test_coerce_resolves_a_conflict_and_counts_the_values_that_will_be_refused() -> None:
    items = [image(f"images/{i}.jpg", {"score": float(i)}) for i in range(50)]
    items.append(image("images/a.jpg", {"score": "high"}))
    options = InferenceOptions(coercions=dict([parse_coercion("score=number")]))
    result = infer_schema(items, options)

    assert result.conflicts == ()
    assert result.schema.get("score") == KeySpec("score", KeyType.NUMBER)
    (decision,) = result.decisions
    assert decision.coerced and decision.unfit == 1 and result.unfit == 1


def test_coerce_of_a_key_never_seen_is_reported_not_declared() -> None:
    result = infer_schema(
        [image("a.jpg", {"score": 1})], InferenceOptions(coercions={"scor": "number"})
    )
    assert result.unused_coercions == ("scor",)
    assert set(result.schema.keys) == {"score"}


def test_coerce_ignore_leaves_the_key_out() -> None:
    items = [image("a.jpg", {"tags": ["car", "person"], "site": "n1"})] * 3
    assert [c.key for c in infer_schema(items).conflicts] == ["tags"]
    result = infer_schema(items, InferenceOptions(coercions={"tags": "ignore"}))
    assert result.conflicts == ()
    assert set(result.schema.keys) == {"site"}


def test_coerce_embedding_takes_the_most_common_size() -> None:
    items = [image(f"{i}.jpg", {"v": [0.1] * 8}) for i in range(5)] + [image("x.jpg", {"v": [0.1]})]
    result = infer_schema(items, InferenceOptions(coercions={"v": "embedding"}))
    assert result.schema.get("v") == KeySpec("v", KeyType.EMBEDDING, size=8)
    assert result.unfit == 1


def test_coerce_enum_on_a_key_with_too_many_values_stays_a_conflict() -> None:
    items = [image(f"{i}.jpg", {"name": f"n{i}"}) for i in range(rules.ENUM_MAX_VALUES + 5)]
    result = infer_schema(items, InferenceOptions(coercions={"name": "enum"}))
    (conflict,) = result.conflicts
    assert "cannot be an enum" in conflict.reason


@pytest.mark.parametrize(
    "text", ["score", "score=", "=number", "score=float", "keyframes=number", "x=keyframes"]
)
def test_bad_coerce_values_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        parse_coercion(text)


def test_enum_thresholds_are_configurable() -> None:
    items = [image(f"{i}.jpg", {"lane": f"L{i % 5}"}) for i in range(50)]
    assert types_of(infer_schema(items))["lane"].startswith("enum(")
    few = InferenceOptions(enum_max_values=4)
    assert types_of(infer_schema(items, few))["lane"] == "varchar"
    rare = InferenceOptions(enum_min_repeats=20)
    assert types_of(infer_schema(items, rare))["lane"] == "varchar"


def test_unique_strings_are_varchar_not_enum() -> None:
    items = [image(f"{i}.jpg", {"serial": f"SN-{i:08d}"}) for i in range(40)]
    assert types_of(infer_schema(items)) == {"serial": "varchar"}


def test_long_strings_make_text_and_the_threshold_is_configurable() -> None:
    items = [image("a.jpg", {"notes": "x" * 300}), image("b.jpg", {"notes": "short"})]
    result = infer_schema(items)
    assert types_of(result) == {"notes": "text"}
    assert "300 characters" in (result.decisions[0].note or "")
    assert types_of(infer_schema(items, InferenceOptions(text_threshold=1000))) == {
        "notes": "varchar"
    }


def test_mostly_datetimes_widen_to_string_with_a_note() -> None:
    items = [image(f"{i}.jpg", {"taken": f"2023-01-{1 + i:02d}"}) for i in range(20)]
    items.append(image("odd.jpg", {"taken": "yesterday"}))
    result = infer_schema(items)
    assert types_of(result) == {"taken": "varchar"}
    assert "20 of 21 values are datetimes" in (result.decisions[0].note or "")


@pytest.mark.parametrize(
    "value",
    ["2024-05-01", "2024-05-01T10:00:00Z", "2024-05-01 10:00", "2024-05-01T10:00:00.123+02:00"],
)
def test_iso_8601_forms_are_datetimes(value: str) -> None:
    items = [image(f"{i}.jpg", {"t": value}) for i in range(3)]
    assert types_of(infer_schema(items, InferenceOptions(enum_max_values=1))) == {"t": "datetime"}


@pytest.mark.parametrize("value", ["20240501", "2024-13-01", "2024-05-01T25:00", "May 1 2024"])
def test_strings_that_only_look_like_dates_are_not_datetimes(value: str) -> None:
    items = [image(f"{i}.jpg", {"t": value}) for i in range(3)]
    assert types_of(infer_schema(items, InferenceOptions(enum_min_repeats=10))) == {"t": "varchar"}


def test_nulls_are_no_value_and_booleans_are_not_numbers() -> None:
    items = [image("a.jpg", {"flag": True, "n": None}), image("b.jpg", {"flag": None, "n": 3})]
    assert types_of(infer_schema(items)) == {"flag": "boolean", "n": "number"}
    clash = infer_schema([image("a.jpg", {"x": True}), image("b.jpg", {"x": 1})])
    assert [c.key for c in clash.conflicts] == ["x"]


def test_nested_objects_too_deep_are_rejected_with_a_reason() -> None:
    deep: dict[str, Any] = {"leaf": 1}
    for level in range(rules.MAX_NESTING_DEPTH):
        deep = {f"l{level}": deep}
    result = infer_schema([image("deep.jpg", deep), image("ok.jpg", {"a": {"b": 2}})])
    (conflict,) = result.conflicts
    assert "nested deeper than" in conflict.reason
    assert conflict.counts[0].first_ref == "deep.jpg"
    assert types_of(result) == {"a.b": "number"}


def test_key_names_encord_refuses_are_conflicts() -> None:
    result = infer_schema([image("a.jpg", {"$price": 1, "size/px": 3, "ok key": 2})])
    assert sorted(c.key for c in result.conflicts) == ["$price", "size/px"]
    assert set(result.schema.keys) == {"ok key"}


def test_metadata_that_is_not_an_object_is_reported() -> None:
    result = infer_schema([image("a.jpg", ["x"]), image("b.jpg", {"k": 1})])
    (conflict,) = result.conflicts
    assert conflict.key == NOT_AN_OBJECT_KEY
    assert conflict.counts[0].first_ref == "a.jpg"


def test_items_are_named_by_decoded_object_key_or_title() -> None:
    group_url = "https://s3.eu-west-1.amazonaws.com/my.bucket/g/0.jpg"  # path style
    items = [
        image("images/a%20b.jpg", {"v": 1}),
        ("image_groups", {"title": "grp", "objectUrl_0": group_url, "clientMetadata": {"v": "x"}}),
        ("videos", {"title": "untitled clip", "clientMetadata": {"v": True}}),
    ]
    (conflict,) = infer_schema(items).conflicts
    assert {c.label: c.first_ref for c in conflict.counts} == {
        "numbers": "images/a b.jpg",
        "strings": "g/0.jpg",
        "booleans": "untitled clip",
    }


def test_too_many_distinct_keys_stops_tracking_and_is_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(rules, "MAX_DISTINCT_KEYS", 50)
    items = [image(f"{i}.jpg", {f"cam-{i}": True}) for i in range(80)]
    result = infer_schema(items)
    assert len(result.schema) == 50
    assert [c.key for c in result.conflicts] == ["<too many keys>"]
    assert result.conflicts[0].counts[0].count == 30


def _unique_items(n: int) -> Iterator[tuple[str, dict[str, Any]]]:
    for i in range(n):
        yield image(f"u/{i}.jpg", {"serial": f"SN-{i:09d}", "v": float(i), "tag": f"t{i % 3}"})


def _peak_bytes(n: int) -> int:
    tracemalloc.start()
    try:
        infer_schema(_unique_items(n))
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_stays_flat_as_items_grow() -> None:
    small, large = _peak_bytes(5_000), _peak_bytes(50_000)
    # Ten times the items (each with a unique string) must not cost ten times the memory.
    assert large < small * 1.5 + 64 * 1024, (small, large)
