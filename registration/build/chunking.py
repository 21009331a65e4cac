"""Cut the stream of items into files within Encord's limits.

A file closes when it holds `max_items` items, or when the next item's URLs would take
it over `MAX_URLS_PER_FILE` (frames of a group count as URLs; a group is never split).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from registration.build.items import BuiltItem
from registration.encord.limits import DEFAULT_ITEMS_PER_FILE, MAX_ITEMS_PER_FILE, MAX_URLS_PER_FILE
from registration.errors import UsageError


def check_max_items(value: int) -> int:
    """`--max-items` within 1..MAX_ITEMS_PER_FILE; UsageError otherwise."""
    if not 1 <= value <= MAX_ITEMS_PER_FILE:
        raise UsageError(
            f"--max-items {value}: must be between 1 and {MAX_ITEMS_PER_FILE:,} "
            f"(Encord's per-file limit; {DEFAULT_ITEMS_PER_FILE:,} is the recommended size)"
        )
    return value


def chunks(
    items: Iterable[BuiltItem],
    max_items: int = DEFAULT_ITEMS_PER_FILE,
    max_urls: int = MAX_URLS_PER_FILE,
) -> Iterator[list[BuiltItem]]:
    """Lists of items, each list one registration file."""
    check_max_items(max_items)
    chunk: list[BuiltItem] = []
    urls = 0
    for built in items:
        if chunk and (len(chunk) >= max_items or urls + built.urls > max_urls):
            yield chunk
            chunk, urls = [], 0
        chunk.append(built)
        urls += built.urls
    if chunk:
        yield chunk
