"""Sort rows by key with bounded memory: sorted runs spilled to temporary files, then merged.

Inventory data files and keys files are not documented to be sorted, and grouping needs
keys in order. Runs of at most `run_rows` rows are sorted in memory (Timsort is linear on
rows that already come sorted) and, when there is more than one run, spilled to temporary
files and merged back; memory stays flat in the number of rows.
"""

from __future__ import annotations

import heapq
import pickle
import tempfile
from collections.abc import Iterable, Iterator
from operator import itemgetter
from typing import IO, Any, Final, TypeVar

DEFAULT_RUN_ROWS: Final = 250_000
"""Rows sorted in memory at once (one run)."""
_BLOCK_ROWS: Final = 4_096
MAX_FAN_IN: Final = 64
"""At most this many sorted runs are merged at once (one block of each in memory)."""

T = TypeVar("T", bound=tuple[Any, ...])


def _spill(run: Iterable[T]) -> IO[bytes]:
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed by _unspill
    block: list[T] = []
    for row in run:
        block.append(row)
        if len(block) >= _BLOCK_ROWS:
            pickle.dump(block, spool, pickle.HIGHEST_PROTOCOL)
            block = []
    if block:
        pickle.dump(block, spool, pickle.HIGHEST_PROTOCOL)
    spool.seek(0)
    return spool


def _unspill(spool: IO[bytes]) -> Iterator[Any]:
    with spool:
        while True:
            try:
                block: list[Any] = pickle.load(spool)  # noqa: S301 - our own temp file
            except EOFError:
                return
            yield from block


def external_sort(
    rows: Iterable[T], run_rows: int = DEFAULT_RUN_ROWS, *, fan_in: int = MAX_FAN_IN
) -> Iterator[T]:
    """`rows` sorted by key (their first field), holding at most `run_rows` rows at once.

    Runs are spilled to temporary files; at most `fan_in` runs are merged at a time (more
    runs are first merged into longer ones), so memory stays bounded by `run_rows` plus
    `fan_in` blocks whatever the number of rows.
    """
    by_key = itemgetter(0)
    runs: list[tuple[IO[bytes], str, str]] = []  # spool, first key, last key
    run: list[T] = []
    for row in rows:
        run.append(row)
        if len(run) >= run_rows:
            run.sort(key=by_key)
            runs.append((_spill(run), run[0][0], run[-1][0]))
            run = []
    run.sort(key=by_key)
    if not runs:
        yield from run
        return
    if run:
        runs.append((_spill(run), run[0][0], run[-1][0]))
        run = []
    if all(runs[i][2] < runs[i + 1][1] for i in range(len(runs) - 1)):
        # Runs that follow each other (inventory files already in key order): no merge.
        for spool, _, _ in runs:
            yield from _unspill(spool)
        return
    while len(runs) > fan_in:
        head, runs = runs[:fan_in], runs[fan_in:]
        merged = heapq.merge(*(_unspill(s) for s, _, _ in head), key=by_key)
        runs.append((_spill(merged), min(r[1] for r in head), max(r[2] for r in head)))
    yield from heapq.merge(*(_unspill(s) for s, _, _ in runs), key=by_key)
