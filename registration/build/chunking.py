"""Cut the stream of items into files within Encord's limits: items, URLs and bytes.

A file closes when it holds `max_items` items, when the next item's URLs would take it over
`max_urls` (frames of a group count as URLs; a group is never split), or when the next item's
bytes would take the file over `max_bytes`. Sizes are exact: each item is measured once, as
the length of its orjson bytes (what the writer writes), and `writer.FileLayout` adds the
wrapper, the separators and the flags, so a file is never one byte over the cap. Each `Chunk`
says which limit closed it.

The bytes are measured, not kept: orjson gives each result a buffer of about 4 KB whatever its
length, so holding a file's worth of them cost 90 MB more peak memory at 1M objects and more
time than the writer serialising each file again (about 0.05 s per 700,000 items).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple

import orjson

from registration.build.items import BuiltItem
from registration.build.writer import FileLayout
from registration.encord.limits import (
    DEFAULT_ITEMS_PER_FILE,
    DEFAULT_MAX_BYTES,
    MAX_FILE_BYTES,
    MAX_ITEMS_PER_FILE,
    MAX_URLS_PER_FILE,
)
from registration.errors import RegisterError, UsageError

MIN_MAX_BYTES = 1_000
"""The smallest `--max-bytes` accepted (ours, not Encord's): below it hardly one item fits."""

CUT_ITEMS = "items"
CUT_URLS = "urls"
CUT_BYTES = "bytes"
CUT_END = "end"
CUT_REASONS = (CUT_ITEMS, CUT_URLS, CUT_BYTES, CUT_END)
"""Why a file was closed: `max_items` reached, the next item's URLs or bytes would not fit,
or the items ran out."""

SizeCheck = Callable[[BuiltItem, int], bool]
"""too_large(item, its size in bytes) -> True to drop the item (the caller reports it)."""


class Chunk(NamedTuple):
    """One registration file's items, the file's size and why it was closed."""

    items: list[BuiltItem]
    size: int
    """Bytes of the JSON file as `writer.ManifestWriter` writes it."""
    cut: str
    """One of `CUT_REASONS`."""


def item_size(built: BuiltItem) -> int:
    """Bytes of `built` in a file (its orjson serialisation, as the writer writes it)."""
    return len(orjson.dumps(built.item))


def check_max_items(value: int) -> int:
    """`--max-items` within 1..MAX_ITEMS_PER_FILE; UsageError otherwise."""
    if not 1 <= value <= MAX_ITEMS_PER_FILE:
        raise UsageError(
            f"--max-items {value}: must be between 1 and {MAX_ITEMS_PER_FILE:,} "
            f"(Encord's per-file limit; {DEFAULT_ITEMS_PER_FILE:,} is the recommended size)"
        )
    return value


def check_max_bytes(value: int, limit: int = MAX_FILE_BYTES, plan: str | None = None) -> int:
    """`--max-bytes` within MIN_MAX_BYTES..`limit` (the plan's documented file size)."""
    if not MIN_MAX_BYTES <= value <= limit:
        whose = f"the {plan} plan's" if plan else "Encord's"
        raise UsageError(
            f"--max-bytes {value}: must be between {MIN_MAX_BYTES:,} and {limit:,} "
            f"({whose} documented file size)"
        )
    return value


def fits_alone(built: BuiltItem, size: int, layout: FileLayout, max_bytes: int) -> bool:
    """True when a file holding only `built` (of `size` bytes) is within `max_bytes`."""
    return layout.empty + layout.list_bytes[built.top_key] + size + 1 <= max_bytes


def surely_fits(layout: FileLayout, max_bytes: int) -> int:
    """The largest item size that fits a file alone whatever its top-level list."""
    return max_bytes - layout.empty - max(layout.list_bytes.values()) - 1


def chunks(
    items: Iterable[BuiltItem],
    layout: FileLayout,
    max_items: int = DEFAULT_ITEMS_PER_FILE,
    max_urls: int = MAX_URLS_PER_FILE,
    max_bytes: int = DEFAULT_MAX_BYTES,
    *,
    too_large: SizeCheck | None = None,
    check_above: int | None = None,
) -> Iterator[Chunk]:
    """The chunks of `items`, each one registration file, in order.

    `too_large(item, size)` is asked about every item of more than `check_above` bytes
    (default: `surely_fits`); it reports and drops an item by returning True. The pipeline's
    checks (an item that fits no file, metadata over Encord's limit) come in this way, so each
    item is serialised once. An item kept that fits no file alone is an internal error.
    """
    check_max_items(max_items)
    list_bytes = layout.list_bytes
    empty = layout.empty
    if check_above is None:
        check_above = surely_fits(layout, max_bytes)
    dumps = orjson.dumps
    chunk: list[BuiltItem] = []
    append = chunk.append
    keys: set[str] = set()
    urls = 0
    size = empty
    for built in items:
        measured = len(dumps(built.item))
        if measured > check_above:
            if too_large is not None and too_large(built, measured):
                continue
            if not fits_alone(built, measured, layout, max_bytes):
                raise RegisterError(
                    f"internal error: item {built.item.get('title')!r} ({measured:,} bytes) "
                    f"does not fit a file of {max_bytes:,} bytes and was not skipped"
                )
        top_key = built.top_key
        add = measured + 1 if top_key in keys else measured + 1 + list_bytes[top_key]
        item_urls = built.urls
        if chunk and (
            len(chunk) >= max_items or urls + item_urls > max_urls or size + add > max_bytes
        ):
            if len(chunk) >= max_items:
                cut = CUT_ITEMS
            elif urls + item_urls > max_urls:
                cut = CUT_URLS
            else:
                cut = CUT_BYTES
            yield Chunk(chunk, size, cut)
            chunk = []
            append = chunk.append
            keys = set()
            urls = 0
            size = empty
            add = measured + 1 + list_bytes[top_key]
        if top_key not in keys:
            keys.add(top_key)
        append(built)
        urls += item_urls
        size += add
    if chunk:
        yield Chunk(chunk, size, CUT_END)
