"""Chunk boundaries: exactly N items, N+1, and groups that would straddle a URL limit."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pytest

from registration.build.chunking import check_max_items
from registration.build.chunking import chunks as file_chunks
from registration.build.items import BuiltItem
from registration.build.writer import FileLayout
from registration.encord.limits import MAX_ITEMS_PER_FILE
from registration.errors import UsageError


def _item(n: int, urls: int = 1) -> BuiltItem:
    if urls == 1:
        item = {"objectUrl": f"https://b.s3.eu-west-1.amazonaws.com/{n}.jpg", "title": str(n)}
        return BuiltItem("image", "images", item, 1, (f"{n}.jpg",), "b")
    frames = {
        f"objectUrl_{i}": f"https://b.s3.eu-west-1.amazonaws.com/{n}/{i}.jpg" for i in range(urls)
    }
    keys = tuple(f"{n}/{i}.jpg" for i in range(urls))
    return BuiltItem("image_group", "image_groups", {"title": str(n), **frames}, urls, keys, "b")


def chunks(items: Iterable[BuiltItem], **limits: int) -> Iterator[list[BuiltItem]]:
    layout = FileLayout(skip_duplicate_urls=True, upsert_metadata=False)
    for chunk in file_chunks(items, layout, **limits):
        yield chunk.items


def _sizes(result: list[list[BuiltItem]]) -> list[int]:
    return [len(c) for c in result]


def test_exactly_n_items_make_one_file() -> None:
    assert _sizes(list(chunks((_item(i) for i in range(5)), max_items=5))) == [5]


def test_n_plus_one_items_make_two_files() -> None:
    assert _sizes(list(chunks((_item(i) for i in range(6)), max_items=5))) == [5, 1]


def test_order_is_preserved_across_files() -> None:
    result = list(chunks((_item(i) for i in range(7)), max_items=3))
    assert [b.item["title"] for c in result for b in c] == [str(i) for i in range(7)]


def test_a_group_is_never_split_and_frames_count_as_urls() -> None:
    items = [_item(0), _item(1, urls=4), _item(2, urls=4), _item(3)]
    result = list(chunks(items, max_items=10, max_urls=6))
    # 1 + 4 = 5 URLs; the next group (4) would make 9 > 6, so it starts a new file.
    assert [[b.item["title"] for b in c] for c in result] == [["0", "1"], ["2", "3"]]
    assert all(sum(b.urls for b in c) <= 6 for c in result)


def test_group_exactly_filling_the_url_budget() -> None:
    result = list(chunks([_item(0, urls=3), _item(1, urls=3), _item(2)], max_urls=6))
    assert _sizes(result) == [2, 1]


def test_no_items_no_files() -> None:
    assert list(chunks(iter(()))) == []


@pytest.mark.parametrize("value", [0, -1, MAX_ITEMS_PER_FILE + 1])
def test_max_items_out_of_range(value: int) -> None:
    with pytest.raises(UsageError, match="--max-items"):
        check_max_items(value)
