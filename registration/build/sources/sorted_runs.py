"""Sorted runs on disk with a block index, and reading any key range of them back in order.

The parallel manifest build (`registration.build.parallel`) sorts each inventory data file
in a worker process into runs (`spill_runs`), then lets each worker read one key range of all
the runs at once (`rows_from`). A run is blocks of `BLOCK_ROWS` rows marshalled one after the
other; its index keeps each block's first key and file offset, so reading from a key seeks
to the one block that may hold it instead of reading the run from its start.

Rows are tuples whose first field is the key. Ties between runs keep the order of the runs as
given (runs of earlier data files first), as `external_sort` does, so duplicate keys come
out in the same order as in the sequential build.
"""

from __future__ import annotations

import heapq
import marshal
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import Any, Final

BLOCK_ROWS: Final = 4_096
"""Rows per block (the unit of seeking)."""
_MARSHAL_VERSION: Final = 4
"""Blocks are written with `marshal` (rows are strings, integers and None; written and read
by this run only): about three times faster than pickle both ways."""


@dataclass(frozen=True)
class SortedRun:
    """One sorted run in a file: its blocks' first keys, offsets (and the file's end) and
    row counts."""

    path: Path
    first_keys: tuple[str, ...]
    offsets: tuple[int, ...]
    counts: tuple[int, ...]
    last_key: str

    @property
    def first_key(self) -> str:
        """The smallest key of the run."""
        return self.first_keys[0]

    @property
    def rows(self) -> int:
        """Rows in the run."""
        return sum(self.counts)


def write_run(rows: Sequence[tuple[Any, ...]], path: Path) -> SortedRun:
    """Write `rows` (sorted by key, not empty) to `path` as one run; return its index."""
    first_keys: list[str] = []
    offsets: list[int] = []
    counts: list[int] = []
    with path.open("wb") as out:
        for start in range(0, len(rows), BLOCK_ROWS):
            block = rows[start : start + BLOCK_ROWS]
            first_keys.append(block[0][0])
            offsets.append(out.tell())
            counts.append(len(block))
            out.write(marshal.dumps(list(block), _MARSHAL_VERSION))
        offsets.append(out.tell())
    return SortedRun(path, tuple(first_keys), tuple(offsets), tuple(counts), rows[-1][0])


def spill_runs(
    rows: Iterable[tuple[Any, ...]], run_rows: int, directory: Path, name: str
) -> list[SortedRun]:
    """Sort `rows` by key in runs of at most `run_rows`, each written under `directory`.

    Rows of one key keep their input order (the sort is stable). Memory: one run.
    """
    by_key = itemgetter(0)
    runs: list[SortedRun] = []
    run: list[tuple[Any, ...]] = []
    for row in rows:
        run.append(row)
        if len(run) >= run_rows:
            run.sort(key=by_key)
            runs.append(write_run(run, directory / f"{name}-{len(runs):05d}.run"))
            run = []
    if run:
        run.sort(key=by_key)
        runs.append(write_run(run, directory / f"{name}-{len(runs):05d}.run"))
    return runs


def _read_from(run: SortedRun, start: str | None) -> Iterator[tuple[Any, ...]]:
    """The rows of `run` with keys >= `start` (all rows when None), in order."""
    # The block before the first one starting at `start` or later may end with such keys.
    block = 0 if start is None else max(0, bisect_left(run.first_keys, start) - 1)
    if start is not None and run.last_key < start:
        return
    offsets = run.offsets
    with run.path.open("rb") as spool:
        spool.seek(offsets[block])
        for at in range(block, len(offsets) - 1):
            data = spool.read(offsets[at + 1] - offsets[at])
            rows: list[tuple[Any, ...]] = marshal.loads(data)  # noqa: S302 - our own file
            if start is not None and rows[0][0] < start:
                rows = [row for row in rows if row[0] >= start]
                start = None
            yield from rows


def rows_from(runs: Sequence[SortedRun], start: str | None) -> Iterator[tuple[Any, ...]]:
    """Every row of `runs` with a key >= `start`, sorted by key, lazily.

    Runs whose key ranges do not overlap are read one after the other; overlapping ones are
    merged (ties: the earlier run first).
    """
    live = [run for run in runs if start is None or run.last_key >= start]
    if not live:
        return iter(())
    # Clusters of runs whose ranges overlap, in key order; each cluster is merged.
    order = sorted(range(len(live)), key=lambda i: (live[i].first_key, i))
    clusters: list[list[int]] = []
    high = ""
    for i in order:
        if clusters and live[i].first_key <= high:
            clusters[-1].append(i)
            high = max(high, live[i].last_key)
        else:
            clusters.append([i])
            high = live[i].last_key
    by_key = itemgetter(0)
    parts: list[Iterator[tuple[Any, ...]]] = []
    for cluster in clusters:
        members = sorted(cluster)  # ties: the run given first comes first
        if len(members) == 1:
            parts.append(_read_from(live[members[0]], start))
        else:
            parts.append(heapq.merge(*(_read_from(live[i], start) for i in members), key=by_key))
    return chain.from_iterable(parts)


def boundaries(runs: Sequence[SortedRun], rows_per_segment: int) -> list[str]:
    """Keys that cut the rows of `runs` into key ranges of about `rows_per_segment` rows.

    Taken from the blocks' first keys (no reading): sorted, distinct, never the smallest key
    of all (the first range starts at the beginning).
    """
    marks = sorted(
        (key, count) for run in runs for key, count in zip(run.first_keys, run.counts, strict=True)
    )
    if not marks:
        return []
    result: list[str] = []
    lowest = marks[0][0]
    filled = 0
    for key, count in marks:
        if filled >= rows_per_segment and key != lowest and (not result or key > result[-1]):
            result.append(key)
            filled = 0
        filled += count
    return result
