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

from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import accumulate
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


class FileCutter:
    """The rule that closes files, item by item: `add` says whether an item starts a new file.

    One place for both builds: `chunks` (items as objects) and the parallel build (items as
    sizes). A file closes when it holds `max_items` items, when the next item's URLs would
    take it over `max_urls`, or its bytes over `max_bytes`; `layout` gives a file's exact
    bytes from its items' sizes.
    """

    def __init__(self, layout: FileLayout, max_items: int, max_urls: int, max_bytes: int) -> None:
        self._list_bytes = layout.list_bytes
        self._empty = layout.empty
        self._max_items, self._max_urls, self._max_bytes = max_items, max_urls, max_bytes
        self._lists: set[str] = set()
        self.items = 0
        self.urls = 0
        self.size = self._empty
        """Bytes of the file being filled."""
        self.closed_size = 0
        """Bytes of the file the last cut closed."""
        self.cut = CUT_END
        """Why the last cut closed its file."""

    def add(self, size: int, top_key: str, urls: int) -> str | None:
        """Count an item of `size` bytes; the reason the file closes before it, or None."""
        lists = self._lists
        add = size + 1 if top_key in lists else size + 1 + self._list_bytes[top_key]
        cut = None
        if self.items:
            if self.items >= self._max_items:
                cut = CUT_ITEMS
            elif self.urls + urls > self._max_urls:
                cut = CUT_URLS
            elif self.size + add > self._max_bytes:
                cut = CUT_BYTES
            if cut is not None:
                self.cut = cut
                self.closed_size = self.size
                lists = self._lists = set()
                self.items = self.urls = 0
                self.size = self._empty
                add = size + 1 + self._list_bytes[top_key]
        lists.add(top_key)
        self.items += 1
        self.urls += urls
        self.size += add
        return cut

    def place(
        self,
        sizes: Sequence[int],
        tops: Sequence[int],
        urls: Sequence[int],
        names: Sequence[str],
    ) -> list[tuple[int, str]]:
        """`add` for a run of items given as columns (`tops` index `names`): the positions
        where a new file starts, with why the one before closed.

        Stretches that surely fit are counted at once (sums and a search, not a loop over
        the items); the item at a limit goes through `add`, so the result is `add`'s.
        """
        cuts: list[tuple[int, str]] = []
        count, i = len(sizes), 0
        while i < count:
            fits = self._fitting(sizes, tops, urls, names, i, count)
            if fits:
                i += fits
                continue
            cut = self.add(sizes[i], names[tops[i]], urls[i])
            if cut is not None:
                cuts.append((i, cut))
            i += 1
        return cuts

    def _fitting(
        self,
        sizes: Sequence[int],
        tops: Sequence[int],
        urls: Sequence[int],
        names: Sequence[str],
        i: int,
        count: int,
    ) -> int:
        """How many items from `i` join the file with no limit in sight (counted in)."""
        room = min(count - i, self._max_items - self.items)
        if room <= 0:
            return 0
        added_urls = list(accumulate(urls[i : i + room]))
        room = bisect_right(added_urls, self._max_urls - self.urls)
        if room <= 0:
            return 0
        added = list(accumulate(sizes[i : i + room]))
        new_lists = {names[top] for top in set(tops[i : i + room])} - self._lists
        heads = sum(self._list_bytes[name] for name in new_lists)
        # Each item takes its bytes and a separator; every new list counted as if at the start.
        budget = self._max_bytes - self.size - heads
        room = min(room, bisect_right([b + n for n, b in enumerate(added, 1)], budget))
        if room <= 0:
            return 0
        new_lists = {names[top] for top in set(tops[i : i + room])} - self._lists
        self._lists |= new_lists
        self.items += room
        self.urls += added_urls[room - 1]
        self.size += added[room - 1] + room + sum(self._list_bytes[name] for name in new_lists)
        return room


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
    if check_above is None:
        check_above = surely_fits(layout, max_bytes)
    dumps = orjson.dumps
    cutter = FileCutter(layout, max_items, max_urls, max_bytes)
    add = cutter.add
    chunk: list[BuiltItem] = []
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
        cut = add(measured, built.top_key, built.urls)
        if cut is not None:
            yield Chunk(chunk, cutter.closed_size, cut)
            chunk = []
        chunk.append(built)
    if chunk:
        yield Chunk(chunk, cutter.size, CUT_END)
