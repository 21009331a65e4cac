"""Items whose metadata breaks a schema are refused with the key and the reason."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registration.metadata_schema.check import check_metadata, make_schema_check
from registration.metadata_schema.inference import InferenceOptions, infer_schema
from registration.metadata_schema.model import KeySpec, KeyType, Schema

SCHEMA = Schema.of(
    [
        KeySpec("score", KeyType.NUMBER),
        KeySpec("is_night", KeyType.BOOLEAN),
        KeySpec("site", KeyType.VARCHAR),
        KeySpec("notes", KeyType.TEXT),
        KeySpec("captured_at", KeyType.DATETIME),
        KeySpec("flight_id", KeyType.UUID),
        KeySpec("weather", KeyType.ENUM, values=("rain", "sun")),
        KeySpec("clip", KeyType.EMBEDDING, size=4),
        KeySpec("camera.model", KeyType.VARCHAR),
        KeySpec("keyframes", KeyType.KEYFRAMES),
    ]
)
CHECK = make_schema_check(SCHEMA)
GOOD: dict[str, Any] = {
    "score": 0.5,
    "is_night": False,
    "site": "north field",
    "notes": "n" * 10_000,
    "captured_at": "2024-05-01T10:00:00Z",
    "flight_id": "3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b",
    "weather": "rain",
    "clip": [0.1, 0.2, 0.3, 0.4],
    "camera": {"model": "DJI-M3E", "iso": 100},
    "undeclared": {"anything": [1, "x"]},
    "keyframes": [0, 10],
}


def item(metadata: Any, key: str = "clips/a.mp4") -> dict[str, Any]:
    return {"objectUrl": f"https://b.s3.eu-west-1.amazonaws.com/{key}", "clientMetadata": metadata}


def test_conforming_metadata_passes() -> None:
    assert CHECK("videos", item(GOOD)) is None
    assert CHECK("images", item({k: v for k, v in GOOD.items() if k != "keyframes"})) is None
    assert CHECK("images", {"objectUrl": "https://b.s3.eu-west-1.amazonaws.com/x"}) is None


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("score", "0.5", "expected a number"),
        ("score", True, "expected a number"),
        ("is_night", "false", "expected a boolean"),
        ("site", "x" * 8193, "at most 8192 characters"),
        ("site", 17, "expected a string"),
        ("captured_at", "yesterday", "ISO 8601"),
        ("flight_id", "not-a-uuid", "UUID"),
        ("weather", "snow", "enum values (rain, sun)"),
        ("clip", [0.1, 0.2, 0.3], "a list of 4 numbers"),
        ("clip", [0.1, 0.2, 0.3, "x"], "a list of 4 numbers"),
        ("camera", {"model": 3}, "expected a string"),
        ("keyframes", [1, -1], "non-negative integer frame number"),
    ],
)
def test_each_rule_refuses_with_key_and_reason(key: str, value: Any, expected: str) -> None:
    metadata = {**GOOD, key: value}
    reason = CHECK("videos", item(metadata))
    assert reason is not None
    shown_key = {"camera": "camera.model", "keyframes": "keyframes[1]"}.get(key, key)
    assert f"clientMetadata key {shown_key!r} breaks the metadata schema" in reason
    assert expected in reason


def test_object_where_a_scalar_is_declared_is_refused() -> None:
    violation = check_metadata(SCHEMA, "images", item({"site": {"name": "north"}}))
    assert violation is not None
    assert (violation.key, violation.found, violation.value) == (
        "site",
        "an object",
        "{'name': 'north'}",
    )
    assert violation.reason == (
        "clientMetadata key 'site' breaks the metadata schema: expected a string (varchar), "
        "got an object"
    )


def test_keyframes_on_an_image_are_refused_even_without_a_schema() -> None:
    reason = make_schema_check(Schema())("images", item({"keyframes": [1]}, "stills/a.jpg"))
    assert reason is not None and "videos only" in reason


def test_nulls_and_undeclared_keys_are_accepted() -> None:
    assert CHECK("images", item({"score": None, "brand_new_key": [1, 2]})) is None


def test_metadata_that_is_not_an_object_is_refused() -> None:
    reason = CHECK("images", item("score=3"))
    assert reason is not None and "expected a JSON object" in reason


json_scalars = st.one_of(
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.text(max_size=40),
    st.sampled_from(["2024-01-02", "2024-01-02T03:04:05Z", "3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b"]),
    st.sampled_from(["rain", "sun", "fog"]),
    st.lists(st.floats(-1, 1), min_size=1, max_size=6),
    st.lists(st.integers(-2, 50), max_size=4),
    st.none(),
)
values = st.one_of(
    json_scalars, st.dictionaries(st.sampled_from(["x", "y"]), json_scalars, max_size=2)
)
metadata_objects = st.dictionaries(
    st.sampled_from(["a", "b", "c.d", "e f", "keyframes"]), values, max_size=4
)
media_types = st.sampled_from(["images", "videos", "image_groups"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(media_types, metadata_objects), min_size=1, max_size=30))
def test_every_item_passes_the_schema_inferred_from_it(
    metadata: list[tuple[str, dict[str, Any]]],
) -> None:
    items = [(media, item(m, f"p/{i}.jpg")) for i, (media, m) in enumerate(metadata)]
    result = infer_schema(items)
    check = make_schema_check(result.schema)
    conflicting = {c.key for c in result.conflicts}
    for media, it in items:
        reason = check(media, it)
        # Conflicting keys are left out of the schema, so the only rule that can still
        # refuse an item is the reserved keyframes one, and only when inference flagged it.
        if "keyframes" not in conflicting:
            assert reason is None, (reason, conflicting)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(json_scalars, values), min_size=1, max_size=30),
    st.sampled_from(
        ["number", "boolean", "varchar", "text", "datetime", "uuid", "enum", "embedding"]
    ),
)
def test_coerced_values_counted_unfit_are_exactly_the_items_refused(
    scores: list[Any], ty: str
) -> None:
    items = [("images", item({"score": v}, f"p/{i}.jpg")) for i, v in enumerate(scores)]
    result = infer_schema(items, InferenceOptions(coercions={"score": ty}))
    if any(c.key == "score" for c in result.conflicts):  # e.g. enum over too many values
        assert "score" not in result.schema.keys
        return
    check = make_schema_check(result.schema)
    refused = sum(check(media, it) is not None for media, it in items)
    assert refused == result.unfit
