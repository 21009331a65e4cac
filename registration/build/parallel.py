"""The manifest build on several processes: an inventory's data files and key ranges in
workers, the files cut and written in key order by this process, byte for byte as the
sequential build (`pipeline`) writes them.

1. Each worker sorts whole data files into runs on disk (`sorted_runs.spill_runs`).
2. The runs' block index cuts the key space into segments of about `SEGMENT_ROWS` rows; each
   worker runs the build's chain over one segment (`segment.process_segment`) and sends back
   the items' bytes and sizes, the skip lines and counters.
3. This process takes each segment's output from the cut point where the previous segment
   stopped (`segment` explains cut points), cuts files with the one rule (`FileCutter`) and
   writes them. A segment without a marker at that point is run again from it, here.

At most `workers` + 2 segments are out at once, so memory stays bounded whatever the size of
the inventory. Worker processes are forked: they inherit the build's sources and options
(sidecar readers, item checks) without pickling them; where fork is not available the build
is sequential.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter, deque
from collections.abc import Sequence
from multiprocessing.pool import AsyncResult, Pool
from pathlib import Path
from typing import Final, NamedTuple

from registration.build.chunking import CUT_END, FileCutter, check_max_items, surely_fits
from registration.build.pipeline import BucketSource, PipelineOptions, SplittableRows
from registration.build.segment import (
    KINDS,
    TOP_KEYS,
    ZERO,
    Marker,
    SegmentJob,
    SegmentResult,
    process_segment,
)
from registration.build.sources.sorted_runs import SortedRun, boundaries
from registration.build.summary import Totals
from registration.build.writer import EncodedItem, ManifestWriter
from registration.encord.formats import ItemCheck
from registration.encord.limits import MAX_CLIENT_METADATA_BYTES, MAX_URLS_PER_FILE
from registration.processes import fork_pool, portable
from registration.reporter import Reporter

SEGMENT_ROWS: Final = 65_536
"""Rows per key range given to a worker (the unit of parallel work after sorting)."""
RUN_ROWS: Final = 131_072
"""Rows a worker sorts in memory at once while reading a data file."""
_AHEAD: Final = 2
"""Segments handed out beyond one per worker (results wait here, bounded)."""

_JOB: SegmentJob | None = None
_SPLIT: tuple[SplittableRows, Path] | None = None
"""The build the forked workers serve (set before the pool is made, inherited)."""


def _portable(exc: Exception) -> Exception:
    return portable(exc, "a manifest worker")


def _spill_task(index: int) -> tuple[list[SortedRun], int]:
    assert _SPLIT is not None
    rows, directory = _SPLIT
    try:
        return rows.spill(index, directory, RUN_ROWS)
    except Exception as exc:
        raise _portable(exc) from None


def _segment_task(runs: list[SortedRun], start: str | None, stop: str | None) -> SegmentResult:
    assert _JOB is not None
    _JOB.runs = runs  # sorted after the workers were forked
    try:
        return process_segment(_JOB, start, stop)
    except Exception as exc:
        raise _portable(exc) from None


class _Piece(NamedTuple):
    """Items `first` to `last` (excluded) of one segment's output, in one file."""

    result: SegmentResult
    first: int
    last: int
    before: list[int]
    """Per item list: the segment's items of that list before `first`."""


class _Assembler:
    """Cuts the segments' items into files in order and writes them; keeps the totals.

    A file is a list of pieces (runs of items of one segment); its bytes are, per item list,
    the pieces' slices of that list's blob, so no item is handled alone (except for the CSV
    form, which lists every URL).
    """

    def __init__(self, writer: ManifestWriter, options: PipelineOptions, reporter: Reporter):
        self.writer = writer
        self.reporter = reporter
        self.max_bytes = options.max_bytes
        self.cutter = FileCutter(
            writer.layout, check_max_items(options.max_items), MAX_URLS_PER_FILE, options.max_bytes
        )
        self.pieces: list[_Piece] = []
        self.totals = Totals()

    def take(self, result: SegmentResult, begin: Marker) -> None:
        """Add `result`'s output from `begin` to its end."""
        end, totals = result.end, self.totals
        self.writer.skip_lines(memoryview(result.skip_blob)[begin.skip_bytes : end.skip_bytes])
        names = result.reason_names
        for reason, count in Counter(result.skip_reasons[begin.skips : end.skips]).items():
            totals.skipped[names[reason]] += count
        totals.objects_seen += end.records - begin.records
        totals.converted += end.converted - begin.converted
        totals.shortened += result.shortened[begin.shortened : end.shortened]
        totals.checks_failed.update(result.checks_failed[begin.checks : end.checks])
        totals.metadata_used |= result.metadata_used
        totals.matched |= result.matched
        totals.grouped |= result.grouped
        first, last = begin.items, end.items
        if first == last:
            return
        tops = result.column("top", 0, last)
        for kind, count in Counter(result.column("kind", first, last)).items():
            totals.by_type[KINDS[kind]] += count
        urls = result.column("urls", first, last)
        totals.included += sum(result.column("keys", first, last))
        totals.metadata_objects += sum(result.column("sidecars", first, last))
        totals.urls += sum(urls)
        before = [0] * len(TOP_KEYS)
        for top, count in Counter(tops[:first]).items():
            before[top] = count
        cuts = self.cutter.place(result.column("size", first, last), tops[first:], urls, TOP_KEYS)
        start = first
        for at, cut in [*cuts, (last - first, None)]:
            if first + at > start:
                self.pieces.append(_Piece(result, start, first + at, before.copy()))
                for top, count in Counter(tops[start : first + at]).items():
                    before[top] += count
                start = first + at
            if cut is not None:
                self._write(cut)

    def _write(self, cut: str) -> None:
        lists: dict[str, list[bytes]] = {}
        csv: list[EncodedItem] = []
        suspect = False
        for result, first, last, before in self.pieces:
            tops = result.column("top", first, last)
            for top, count in Counter(tops).items():
                lists.setdefault(TOP_KEYS[top], []).append(
                    result.joined(top, before[top], before[top] + count)
                )
            suspect = suspect or any(first <= i < last for i in result.invalid)
            if self.writer.fmt != "json":
                csv += _items(result, first, last, before)
        ordered = {key: lists[key] for key in TOP_KEYS if key in lists}
        self.writer.write_encoded(ordered, csv, max_bytes=self.max_bytes, suspect=suspect)
        count = sum(piece.last - piece.first for piece in self.pieces)
        self.totals.cuts[cut] += 1
        self.totals.items += count
        self.reporter.progress("items", self.totals.items)
        self.pieces = []

    def finish(self) -> Totals:
        """Write the last file; the totals."""
        if self.pieces:
            self._write(CUT_END)
        return self.totals


def _items(result: SegmentResult, first: int, last: int, before: list[int]) -> list[EncodedItem]:
    """Items `first` to `last` of `result` one by one, in order (for the CSV form)."""
    seen = before.copy()
    items = []
    for top, kind, urls in zip(
        result.column("top", first, last),
        result.column("kind", first, last),
        result.column("urls", first, last),
        strict=True,
    ):
        items.append(EncodedItem(TOP_KEYS[top], result.item(top, seen[top]), KINDS[kind], urls))
        seen[top] += 1
    return items


def run_parallel(
    source: BucketSource,
    options: PipelineOptions,
    writer: ManifestWriter,
    reporter: Reporter,
    item_checks: Sequence[ItemCheck],
    workers: int,
) -> Totals:
    """Build `source` (splittable) with `workers` processes into `writer`; the totals."""
    global _JOB, _SPLIT  # what the forked workers inherit
    rows = source.splittable
    assert rows is not None
    layout = writer.layout
    job = SegmentJob(
        source=source,
        options=options,
        layout=layout,
        max_bytes=options.max_bytes,
        check_above=min(MAX_CLIENT_METADATA_BYTES, surely_fits(layout, options.max_bytes)),
        item_checks=item_checks,
    )
    directory = Path(tempfile.mkdtemp(prefix="encord-manifest-runs-"))
    workers_pool = _LazyPool(workers)
    try:
        _JOB, _SPLIT = job, (rows, directory)
        ignored = 0
        spilled = (
            workers_pool.get().imap(_spill_task, range(rows.files))
            if rows.files > 1
            else map(_spill_task, range(rows.files))
        )
        for runs, count in spilled:
            job.runs += runs
            ignored += count
        rows.ignored(ignored)
        reporter.progress("objects sorted", sum(run.rows for run in job.runs))
        return _assemble(job, workers_pool, writer, options, reporter)
    finally:
        _JOB = _SPLIT = None
        workers_pool.close()
        shutil.rmtree(directory, ignore_errors=True)


class _LazyPool:
    """The worker processes, forked when first needed (a small inventory needs none)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: Pool | None = None

    def get(self) -> Pool:
        """The pool (forked now if not yet: the workers inherit the build as it is)."""
        if self._pool is None:
            self._pool = fork_pool(self.workers)
        return self._pool

    def close(self) -> None:
        """Stop the workers (whatever they were doing: the build is over or failed)."""
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()


class _Ready:
    """A segment run here, shaped like the pool's pending result."""

    def __init__(self, result: SegmentResult) -> None:
        self._result = result

    def get(self) -> SegmentResult:
        """The result."""
        return self._result


def _assemble(
    job: SegmentJob,
    pool: _LazyPool,
    writer: ManifestWriter,
    options: PipelineOptions,
    reporter: Reporter,
) -> Totals:
    cuts = boundaries(job.runs, SEGMENT_ROWS)
    segments = list(zip([None, *cuts], [*cuts, None], strict=True))
    out = _Assembler(writer, options, reporter)
    waiting: deque[AsyncResult[SegmentResult] | _Ready] = deque()
    handed = 0
    stopped_at: str | None = None  # where the previous segment stopped (a cut point)
    for index, (_start, stop) in enumerate(segments):
        while handed < len(segments) and handed < index + pool.workers + _AHEAD:
            if len(segments) == 1:
                waiting.append(_Ready(process_segment(job, None, None)))
            else:
                task = (job.runs, *segments[handed])
                waiting.append(pool.get().apply_async(_segment_task, task))
            handed += 1
        result = waiting.popleft().get()
        if index == 0:
            begin = ZERO
        elif stop is not None and stopped_at is not None and stopped_at >= stop:
            continue  # the previous segment ran through this one
        else:
            assert stopped_at is not None
            found = result.markers.get(stopped_at)
            if found is None:  # no cut point here: run the range again from the one there
                result = process_segment(job, stopped_at, stop)
                found = ZERO
            begin = found
        out.take(result, begin)
        reporter.progress("objects", out.totals.objects_seen)
        stopped_at = result.stop
        if stopped_at is None:  # it ran to the end of the data
            break
    return out.finish()
