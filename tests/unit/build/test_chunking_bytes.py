"""Cutting files by bytes: exact sizes, the cap's boundary, why files close, the plans' defaults."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from registration.build.chunking import (
    CUT_BYTES,
    CUT_END,
    CUT_ITEMS,
    CUT_URLS,
    MIN_MAX_BYTES,
    Chunk,
    check_max_bytes,
    chunks,
    item_size,
)
from registration.build.items import BuiltItem
from registration.build.plan import pipeline_options
from registration.build.spec import BuildOptions
from registration.build.writer import FileLayout, ManifestWriter, build_document
from registration.encord import limits
from registration.encord.formats import TOP_LEVEL_ORDER
from registration.errors import RegisterError, UsageError

URL = "https://b.s3.eu-west-1.amazonaws.com/"
LAYOUT = FileLayout(skip_duplicate_urls=True, upsert_metadata=False)


def _image(n: int, metadata: Any = None, kind: str = "image", top_key: str = "images") -> BuiltItem:
    item: dict[str, Any] = {"objectUrl": f"{URL}{n}.jpg", "title": f"{n}.jpg"}
    if metadata is not None:
        item["clientMetadata"] = metadata
    return BuiltItem(kind, top_key, item, 1, (f"{n}.jpg",), "b")


def _group(n: int, frames: int) -> BuiltItem:
    urls = {f"objectUrl_{i}": f"{URL}g{n}/{i}.jpg" for i in range(frames)}
    keys = tuple(f"g{n}/{i}.jpg" for i in range(frames))
    item = {"title": f"g{n}", "createVideo": False, **urls}
    return BuiltItem("image_group", "image_groups", item, frames, keys, "b")


def _mixed(count: int, seed: int = 7) -> list[BuiltItem]:
    """Items of every list kind, with awkward metadata: unicode, escapes, floats, nesting."""
    rng = random.Random(seed)
    kinds = [("video", "videos"), ("image", "images"), ("audio", "audio"), ("pdf", "pdf")]
    built: list[BuiltItem] = []
    for n in range(count):
        if n % 5 == 4:
            built.append(_group(n, rng.randint(1, 4)))
            continue
        kind, top_key = kinds[n % len(kinds)]
        metadata = {
            "name": f'caf\u00e9 "{n}" \\ \n\t\u0001 \U0001f600',
            "embedding": [rng.uniform(-1e6, 1e6) for _ in range(rng.randint(0, 20))],
            "tiny": rng.random() * 1e-9,
            "nested": {"ok": n % 2 == 0, "none": None, "int": rng.randint(-(2**53), 2**53)},
        }
        built.append(_image(n, metadata if n % 3 else None, kind, top_key))
    return built


def _file_size(chunk: list[BuiltItem], layout_flags: dict[str, bool]) -> int:
    document = build_document(chunk, **layout_flags)
    return len(orjson.dumps(document) + b"\n")


def _cut(items: list[BuiltItem], **limits_: Any) -> list[Chunk]:
    return list(chunks(items, LAYOUT, **limits_))


@pytest.mark.parametrize("skip_duplicate_urls", [True, False])
@pytest.mark.parametrize("upsert_metadata", [True, False])
def test_predicted_size_is_the_written_size(
    tmp_path: Path, skip_duplicate_urls: bool, upsert_metadata: bool
) -> None:
    flags = {"skip_duplicate_urls": skip_duplicate_urls, "upsert_metadata": upsert_metadata}
    layout = FileLayout(**flags)
    writer = ManifestWriter(tmp_path, **flags)
    try:
        result = list(chunks(_mixed(200), layout, max_items=37, max_bytes=6_000))
        for chunk in result:
            (path,) = writer.write_chunk(chunk.items, max_bytes=6_000)
            assert chunk.size == path.stat().st_size == _file_size(chunk.items, flags)
    finally:
        writer.close()
    assert len(result) > 5


def test_an_empty_layout_and_every_list_are_counted() -> None:
    assert LAYOUT.empty == len(b'{"skip_duplicate_urls":true}\n')
    assert set(LAYOUT.list_bytes) == set(TOP_LEVEL_ORDER)
    # One item: `{"images":[ITEM],"skip_duplicate_urls":true}\n`.
    one = _image(1)
    flags = {"skip_duplicate_urls": True, "upsert_metadata": False}
    assert LAYOUT.empty + LAYOUT.list_bytes["images"] + item_size(one) + 1 == _file_size(
        [one], flags
    )


def test_no_file_exceeds_the_cap_and_no_item_is_lost_or_split() -> None:
    items = _mixed(500)
    result = _cut(items, max_bytes=4_000)
    flags = {"skip_duplicate_urls": True, "upsert_metadata": False}
    assert all(_file_size(c.items, flags) <= 4_000 for c in result)
    assert [b for c in result for b in c.items] == items
    assert {c.cut for c in result[:-1]} == {CUT_BYTES} and result[-1].cut == CUT_END


def test_the_cap_is_inclusive_to_the_byte() -> None:
    items = [_image(n, {"v": n}) for n in range(6)]
    three = _cut(items[:3])[0].size
    assert [len(c.items) for c in _cut(items, max_bytes=three)] == [3, 3]
    assert [len(c.items) for c in _cut(items, max_bytes=three - 1)] == [2, 2, 2]


@pytest.mark.parametrize(
    ("items", "limits_", "expected"),
    [
        ([_image(n) for n in range(3)], {"max_items": 2}, [(2, CUT_ITEMS), (1, CUT_END)]),
        ([_group(0, 5), _group(1, 5)], {"max_urls": 6}, [(1, CUT_URLS), (1, CUT_END)]),
        (
            [_image(n, {"blob": "x" * 2_000}) for n in range(2)],
            {"max_bytes": 3_000},
            [(1, CUT_BYTES), (1, CUT_END)],
        ),
    ],
    ids=["items", "urls", "bytes"],
)
def test_each_file_says_which_limit_closed_it(
    items: list[BuiltItem], limits_: dict[str, int], expected: list[tuple[int, str]]
) -> None:
    assert [(len(c.items), c.cut) for c in _cut(items, **limits_)] == expected


def test_an_item_that_fits_no_file_goes_to_the_check_or_is_an_error() -> None:
    big = _image(1, {"blob": "x" * 5_000})
    items = [_image(0), big, _image(2)]
    with pytest.raises(RegisterError, match="does not fit a file of 3,000 bytes"):
        _cut(items, max_bytes=3_000)
    asked: list[tuple[str, int]] = []

    def too_large(built: BuiltItem, size: int) -> bool:
        asked.append((built.item["title"], size))
        return True

    result = list(chunks(items, LAYOUT, max_bytes=3_000, too_large=too_large))
    assert [b.item["title"] for c in result for b in c.items] == ["0.jpg", "2.jpg"]
    assert asked == [("1.jpg", item_size(big))]


def test_the_check_sees_only_items_above_its_threshold() -> None:
    items = [_image(n, {"blob": "x" * (100 * n)}) for n in range(5)]
    asked: list[int] = []

    def too_large(built: BuiltItem, size: int) -> bool:
        asked.append(size)
        return False

    list(chunks(items, LAYOUT, too_large=too_large, check_above=item_size(items[2])))
    assert asked == [item_size(items[3]), item_size(items[4])]


@pytest.mark.parametrize("value", [0, MIN_MAX_BYTES - 1, limits.MAX_FILE_BYTES + 1, -5])
def test_max_bytes_out_of_range(value: int) -> None:
    with pytest.raises(UsageError, match=r"--max-bytes .*between 1,000 and 100,000,000"):
        check_max_bytes(value)


@pytest.mark.parametrize(
    ("options", "items", "max_bytes"),
    [
        (BuildOptions(), 10_000, 99_000_000),
        (BuildOptions(plan="enterprise"), 10_000, 99_000_000),
        (BuildOptions(plan="team"), 2_500, 99_000_000),
        (BuildOptions(plan="free"), 2_500, 9_900_000),
        (BuildOptions(plan="team", max_items=1_000), 1_000, 99_000_000),
        (BuildOptions(plan="team", max_items=20_000), 20_000, 99_000_000),
        (BuildOptions(plan="free", max_bytes=10_000_000), 2_500, 10_000_000),
        (BuildOptions(max_items=7, max_bytes=5_000), 7, 5_000),
    ],
)
def test_explicit_flags_win_over_the_plan_and_the_plan_over_the_defaults(
    options: BuildOptions, items: int, max_bytes: int
) -> None:
    resolved = pipeline_options(options)
    assert (resolved.max_items, resolved.max_bytes) == (items, max_bytes)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (BuildOptions(plan="free", max_bytes=10_000_001), "--max-bytes 10000001: .*free plan's"),
        (BuildOptions(max_bytes=100_000_001), r"--max-bytes 100000001: .*100,000,000"),
        (BuildOptions(plan="pro"), "--plan 'pro': choose one of free, team, enterprise"),
        (BuildOptions(plan="team", max_items=0), "--max-items 0"),
    ],
)
def test_bad_values_name_the_flag_and_the_range(options: BuildOptions, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        pipeline_options(options)


def test_the_plans_table_says_where_each_value_comes_from() -> None:
    assert limits.with_margin(limits.MAX_FILE_BYTES) == limits.DEFAULT_MAX_BYTES
    assert limits.PLANS["enterprise"].max_items == limits.DEFAULT_ITEMS_PER_FILE
    assert limits.PLANS["enterprise"].max_bytes == limits.DEFAULT_MAX_BYTES
    assert limits.PLANS["free"].file_bytes_limit == limits.MAX_FILE_BYTES_FREE
    for plan in limits.PLANS.values():
        assert plan.items_source and plan.bytes_source
        assert plan.max_bytes < plan.file_bytes_limit
    # Encord does not document the Free plan's entries: the smallest documented count is used.
    assert not limits.PLANS["free"].items_confirmed
    assert limits.PLANS["free"].max_items == min(p.max_items for p in limits.PLANS.values())
