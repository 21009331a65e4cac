"""`KeyframeConverter`: the deprecated list becomes `$encord`, frames and config are checked."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from registration.build.keyframes import (
    KeyframeConverter,
    KeyframeDefaults,
    KeyframeError,
    parse_sampling_rate,
)
from registration.errors import UsageError

PER_FRAME: dict[str, Any] = {
    "$encord": {
        "frames": {
            "0": {"clip": [0.25, -0.5, 0.125], "weather": "rain"},
            "12": {"$encord": {"keyframe": False}, "clip": [0.0, 1.0, -1.0]},
            "48": {},
        },
        "config": {"sampling_rate": 0, "keyframe_mode": "frame"},
    },
    "site": "north",
}


def test_deprecated_list_becomes_encord_frames_and_is_counted() -> None:
    convert = KeyframeConverter()
    out = convert({"keyframes": [0, 12, 48], "site": "north"})
    assert out == {"$encord": {"frames": [0, 12, 48]}, "site": "north"}
    assert convert.converted == 1
    convert({"site": "south"})
    convert(copy.deepcopy(PER_FRAME))
    assert convert.converted == 1  # only deprecated documents count


def test_config_beside_the_deprecated_list_moves_into_encord() -> None:
    out = KeyframeConverter()(
        {"keyframes": [1.5, 3], "config": {"sampling_rate": 0, "keyframe_mode": "seconds"}}
    )
    assert out == {
        "$encord": {"frames": [1.5, 3], "config": {"sampling_rate": 0, "keyframe_mode": "seconds"}}
    }


def test_a_custom_config_key_is_not_mistaken_for_the_key_frame_config() -> None:
    out = KeyframeConverter()({"keyframes": [2], "config": {"lens": "wide"}})
    assert out == {"$encord": {"frames": [2]}, "config": {"lens": "wide"}}


def test_per_frame_metadata_and_embeddings_are_kept_exactly() -> None:
    doc = copy.deepcopy(PER_FRAME)
    out = KeyframeConverter(KeyframeDefaults(sampling_rate=5, mode="seconds"))(doc)
    assert out == PER_FRAME  # the source's config wins over the flags


def test_flags_write_a_config_only_where_the_source_gives_none() -> None:
    convert = KeyframeConverter(KeyframeDefaults(sampling_rate=2.0))
    assert convert({"$encord": {"frames": [3]}}) == {
        "$encord": {"frames": [3], "config": {"sampling_rate": 2, "keyframe_mode": "frame"}}
    }
    assert convert({"keyframes": [3]}) == {
        "$encord": {"frames": [3], "config": {"sampling_rate": 2, "keyframe_mode": "frame"}}
    }
    given = {"$encord": {"frames": [3], "config": {"sampling_rate": 7}}}
    assert convert(copy.deepcopy(given)) == given
    assert convert({"site": "x"}) == {"site": "x"}  # no key frames: nothing added


def test_seconds_mode_from_the_flags_reads_frame_keys_as_seconds() -> None:
    convert = KeyframeConverter(KeyframeDefaults(mode="seconds"))
    out = convert({"$encord": {"frames": {"1.5": {"score": 1}}}})
    assert out["$encord"]["config"] == {"sampling_rate": 1, "keyframe_mode": "seconds"}
    with pytest.raises(KeyframeError):
        KeyframeConverter()({"$encord": {"frames": {"1.5": {}}}})


def test_wrapped_client_metadata_is_converted_inside_the_wrapper() -> None:
    out = KeyframeConverter()({"clientMetadata": {"keyframes": [4]}, "videoMetadata": {"fps": 25}})
    assert out == {"clientMetadata": {"$encord": {"frames": [4]}}, "videoMetadata": {"fps": 25}}


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        ({"$encord": {"frames": {"-1": {}}}}, "$encord.frames['-1']"),
        ({"$encord": {"frames": {"x": {}}}}, "$encord.frames['x']"),
        ({"$encord": {"frames": {"1.5": {}}}}, "$encord.frames['1.5']"),
        ({"$encord": {"frames": {"03": {}}}}, "$encord.frames['03']"),
        ({"$encord": {"frames": [0, -3]}}, "$encord.frames[1]"),
        ({"$encord": {"frames": [0, 2.5]}}, "$encord.frames[1]"),
        ({"$encord": {"frames": [True]}}, "$encord.frames[0]"),
        ({"$encord": {"frames": {"2": [1]}}}, "$encord.frames['2']"),
        ({"$encord": {"frames": {"2": {"$encord": {"keyframe": "no"}}}}}, "keyframe"),
        ({"$encord": {"frame": [1]}}, "$encord"),
        ({"$encord": [1, 2]}, "$encord"),
        ({"$encord": {"config": {"keyframe_mode": "minutes"}}}, "$encord.config.keyframe_mode"),
        ({"$encord": {"config": {"sampling_rate": -1}}}, "$encord.config.sampling_rate"),
        ({"keyframes": [1, -2]}, "keyframes[1]"),
        ({"keyframes": "0,12"}, "keyframes"),
        ({"keyframes": [1], "$encord": {"frames": [1]}}, "keyframes"),
    ],
)
def test_bad_key_frames_name_the_path(doc: dict[str, Any], path: str) -> None:
    convert = KeyframeConverter()
    with pytest.raises(KeyframeError) as raised:
        convert(doc)
    assert path in raised.value.path
    assert convert.converted == 0


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({"$encord": {"frames": {"0": {}, "1.25": {}}}}, None),
        ({"$encord": {"frames": [0, 0.5, 7]}}, None),
        ({"$encord": {"frames": {"-0.5": {}}}}, "$encord.frames['-0.5']"),
        ({"$encord": {"frames": {"1e3": {}}}}, "$encord.frames['1e3']"),
        ({"$encord": {"frames": [-0.5]}}, "$encord.frames[0]"),
    ],
)
def test_seconds_mode_takes_non_negative_numbers(doc: dict[str, Any], expected: str | None) -> None:
    doc["$encord"]["config"] = {"keyframe_mode": "seconds"}
    if expected is None:
        assert KeyframeConverter()(doc) is doc
        return
    with pytest.raises(KeyframeError) as raised:
        KeyframeConverter()(doc)
    assert raised.value.path == expected


@pytest.mark.parametrize(
    ("defaults", "flag"),
    [
        ({"sampling_rate": -1}, "--keyframe-sampling-rate"),
        ({"sampling_rate": float("nan")}, "--keyframe-sampling-rate"),
        ({"mode": "minutes"}, "--keyframe-mode"),
    ],
)
def test_bad_flag_values_raise_usage_errors_naming_the_flag(
    defaults: dict[str, Any], flag: str
) -> None:
    with pytest.raises(UsageError, match=flag):
        KeyframeDefaults(**defaults)


def test_sampling_rate_text_is_parsed_or_refused() -> None:
    assert parse_sampling_rate(None) is None
    assert parse_sampling_rate("0") == 0
    assert parse_sampling_rate("2.5") == 2.5
    for bad in ("-1", "x", "inf", "nan", ""):
        with pytest.raises(UsageError, match="--keyframe-sampling-rate"):
            parse_sampling_rate(bad)


def test_the_count_is_safe_across_threads() -> None:
    from concurrent.futures import ThreadPoolExecutor

    convert = KeyframeConverter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: convert({"keyframes": [i]}), range(2000)))
    assert convert.converted == 2000
