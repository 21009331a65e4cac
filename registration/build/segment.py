"""One key range of a parallel manifest build, run in a worker process.

`process_segment` reads the sorted rows from a start key, runs the chain of the sequential
build (`pipeline.run_pipeline`: sidecars, grouping, items, item checks, size checks) and
returns what the main process needs to write the files (`SegmentResult`): each item's JSON
bytes and size, the skipped.jsonl lines, and the counters. It does not cut files: that needs
every earlier item, so the main process does it (`parallel`).

Cut points. The chain carries state from key to key: objects waiting for a sidecar (keys
that are prefixes of later keys) and open groups (a folder's frames stay open while keys
under it arrive). A key C is a cut point when, as its entry reaches the grouper, no object
read before C still waits for a sidecar (no earlier key is a prefix of C) and no group is
open (every group before it closed and was reported). Whatever the chain produces from a cut
point on depends only on the keys from C on, so a run that starts fresh at C produces
exactly what a run from the very first key produces after C.

A segment covers the keys from `start` to `stop`, but its state at `start` may be wrong (it
did not see the keys before). So:
- it records its cut points near its start (`SegmentResult.markers`), with the counters at
  each;
- it runs past `stop` to its first cut point at or after `stop`, and stops there
  (`SegmentResult.stop`). Its own state is right from the cut point where the previous
  segment stopped, so the stop it reports is a cut point of the sequential build.
The main process takes each segment's output from the previous segment's stop to its own;
when a segment has no marker at that key, the range is run again from it.

Counters (objects read, sidecars whose key frames were converted, shortened titles, item
checks failed) are snapshot at markers so that a window of the output can be counted;
`metadata_used` and the grouping patterns matched are sets, merged by union.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, NamedTuple

import orjson

from registration.build.cut_points import Candidates, ConversionLog
from registration.build.grouping import Grouper
from registration.build.items import BuiltItem, ItemBuilder
from registration.build.keyframes import KeyframeConverter
from registration.build.pipeline import BucketSource, PipelineOptions
from registration.build.refusals import refused, too_large
from registration.build.sidecars import attach_sidecars
from registration.build.sources.sorted_runs import SortedRun, rows_from
from registration.build.writer import FileLayout, skip_line
from registration.encord import formats as f
from registration.encord.formats import ItemCheck
from registration.encord.schema import item_list_validators

MAX_MARKERS = 4_096
"""Cut points recorded from a segment's start: the previous segment stops at its first cut
point at or after this segment's start, nearly always one of the first few."""
_VALIDATE_BATCH = 1_024
"""Items of one list validated against the schema at once."""

TOP_KEYS: tuple[str, ...] = f.TOP_LEVEL_ORDER
KINDS: tuple[str, ...] = tuple(f.TOP_LEVEL_KEY)
FIELDS = ("size", "top", "kind", "urls", "keys", "sidecars")
"""The integers `SegmentResult.table` holds per item, in order."""
_COMMA = ord(",")
_TOP_INDEX = {key: i for i, key in enumerate(TOP_KEYS)}
_KIND_INDEX = {kind: i for i, kind in enumerate(KINDS)}


class Marker(NamedTuple):
    """The counters of a segment's output before one cut point (or at its end)."""

    key: str | None
    items: int
    skips: int
    skip_bytes: int
    records: int
    converted: int
    shortened: int
    checks: int


ZERO = Marker(None, 0, 0, 0, 0, 0, 0, 0)
"""The counters at the very start of a segment."""


@dataclass
class SegmentJob:
    """What every segment of one build shares (inherited by the worker processes)."""

    source: BucketSource
    options: PipelineOptions
    layout: FileLayout
    max_bytes: int
    check_above: int
    item_checks: Sequence[ItemCheck] = ()
    runs: list[SortedRun] = field(default_factory=list)


@dataclass
class SegmentResult:
    """A segment's output, readable from any of its markers to `end`."""

    start: str | None
    stop: str | None
    """The cut point it stopped at, at or after the range's end; None: the data ran out."""
    markers: dict[str, Marker]
    end: Marker
    blobs: list[bytes]
    """Per item list (index in `TOP_KEYS`): its items' JSON (orjson, as the writer writes
    it), each followed by a comma, so that any run of them is one slice."""
    starts: list[array[int]]
    """Per item list: where each of its items starts in its blob, then the blob's length."""
    table: array[int]
    """`FIELDS` integers per item: its size in bytes, its list (index in `TOP_KEYS`), its
    kind (index in `KINDS`), its URLs, the objects it covers (frames of a group, or 1) and
    the sidecars it includes as metadata."""

    def joined(self, top: int, first: int, last: int) -> bytes:
        """Items `first` to `last` (excluded) of list `top`, comma-separated."""
        starts = self.starts[top]
        return self.blobs[top][starts[first] : starts[last] - 1]

    def item(self, top: int, index: int) -> bytes:
        """The JSON of item `index` of list `top`."""
        return self.joined(top, index, index + 1)

    def column(self, name: str, first: int, last: int) -> array[int]:
        """One field of items `first` to `last` (excluded)."""
        at = FIELDS.index(name)
        width = len(FIELDS)
        return self.table[first * width + at : last * width : width]

    invalid: list[int]
    """Items the schema refuses (the main process then names them as the writer does)."""
    skip_blob: bytes
    skip_reasons: array[int]
    reason_names: list[str]
    shortened: list[dict[str, str]]
    checks_failed: list[str]
    metadata_used: set[str]
    matched: set[int]
    grouped: set[int]


class _Stop(Exception):
    def __init__(self, marker: Marker) -> None:
        super().__init__(marker.key)
        self.marker = marker


class _Output:
    """Collects a segment's items and skip lines in the compact form of `SegmentResult`."""

    def __init__(self, job: SegmentJob) -> None:
        self.job = job
        self.blobs = [bytearray() for _ in TOP_KEYS]
        """Per item list: its items' JSON, each followed by a comma. Copied at once: orjson
        gives each result a buffer of about 4 KB, too much to keep a segment's worth."""
        self.starts: list[list[int]] = [[] for _ in TOP_KEYS]
        self.rows: list[tuple[int, int, int, int, int, int]] = []
        """Per item: the `FIELDS` of `SegmentResult.table`."""
        self.skip_blob = bytearray()
        self.skip_reasons: array[int] = array("h")
        self.reason_names: list[str] = []
        self._reason_index: dict[str, int] = {}
        self.shortened: list[dict[str, str]] = []
        """The titles shortened (the item builder appends to this list)."""
        self.checks_failed: list[str] = []
        self.invalid: list[int] = []
        self._unchecked: list[list[tuple[int, dict[str, Any]]]] = [[] for _ in TOP_KEYS]
        validators = item_list_validators()
        self._validators = [validators[key] for key in TOP_KEYS]

    def skip(self, bucket: str, key: str, reason: str, detail: str | None) -> None:
        """The skip sink of the chain: one skipped.jsonl line."""
        self.skip_blob += skip_line(bucket, key, reason, detail)
        index = self._reason_index.get(reason)
        if index is None:
            index = self._reason_index[reason] = len(self.reason_names)
            self.reason_names.append(reason)
        self.skip_reasons.append(index)

    def failed(self, detail: str) -> None:
        """An item check refused an item with `detail`."""
        self.checks_failed.append(detail)

    def add(self, built: BuiltItem) -> None:
        """Measure, size-check and keep one item (skipped, with its reason, when too large)."""
        item = built.item
        data = orjson.dumps(item)
        size = len(data)
        job = self.job
        if size > job.check_above and too_large(built, size, job.layout, job.max_bytes, self.skip):
            return
        rows = self.rows
        index = len(rows)
        top = _TOP_INDEX[built.top_key]
        blob = self.blobs[top]
        self.starts[top].append(len(blob))
        blob += data
        blob.append(_COMMA)
        rows.append(
            (
                size,
                top,
                _KIND_INDEX[built.kind],
                built.urls,
                len(built.keys),
                len(built.sidecar_keys),
            )
        )
        batch = self._unchecked[top]
        batch.append((index, item))
        if len(batch) >= _VALIDATE_BATCH:
            self._validate(top)

    def _validate(self, top: int) -> None:
        batch, self._unchecked[top] = self._unchecked[top], []
        lists, single = self._validators[top]
        if batch and not lists.is_valid([item for _, item in batch]):
            self.invalid += [index for index, item in batch if not single.is_valid(item)]

    def marker(self, key: str | None, records: int, converted: int) -> Marker:
        """The counters now, before `key`."""
        return Marker(
            key,
            len(self.rows),
            len(self.skip_reasons),
            len(self.skip_blob),
            records,
            converted,
            len(self.shortened),
            len(self.checks_failed),
        )

    def result(
        self,
        start: str | None,
        end: Marker,
        markers: dict[str, Marker],
        builder: ItemBuilder,
        grouper: Grouper,
    ) -> SegmentResult:
        """The segment's output (validating the items not yet checked)."""
        for top in range(len(TOP_KEYS)):
            self._validate(top)
        return SegmentResult(
            start=start,
            stop=end.key,
            markers=markers,
            end=end,
            blobs=[bytes(blob) for blob in self.blobs],
            starts=[
                array("q", [*starts, len(blob)])
                for starts, blob in zip(self.starts, self.blobs, strict=True)
            ],
            table=array("q", chain.from_iterable(self.rows)),
            invalid=sorted(self.invalid),
            skip_blob=bytes(self.skip_blob),
            skip_reasons=self.skip_reasons,
            reason_names=self.reason_names,
            shortened=self.shortened,
            checks_failed=self.checks_failed,
            metadata_used=builder.metadata_used,
            matched=grouper.matched,
            grouped=grouper.grouped,
        )


def process_segment(job: SegmentJob, start: str | None, stop: str | None) -> SegmentResult:
    """Run the chain over the rows from `start`; stop at the first cut point >= `stop`."""
    source, options = job.source, job.options
    reader = source.body_reader
    # A converter of its own: the run's counts the documents converted before the build.
    converter = KeyframeConverter(options.keyframes.defaults)
    log = ConversionLog(reader, converter) if reader is not None else None
    candidates = Candidates(stop)
    out = _Output(job)
    markers: dict[str, Marker] = {}

    def watch(key: str) -> None:
        if len(markers) >= MAX_MARKERS and (stop is None or key < stop):
            return
        records = candidates.take(key)
        if records is None:
            return
        marker = out.marker(key, records, log.before(key) if log is not None else 0)
        if stop is not None and key >= stop:
            raise _Stop(marker)
        markers[key] = marker
        if len(markers) >= MAX_MARKERS:
            candidates.active = False

    grouper = Grouper(options.classifier, options.rules, out.skip)
    builder = ItemBuilder(
        source.urls,
        out.skip,
        title_mode=options.title_mode,
        metadata=options.metadata,
        shortened=out.shortened,
    )
    paired = attach_sidecars(
        candidates.count(rows_from(job.runs, start), source.bucket),
        log.read if log is not None else None,
        suffixes=options.sidecar_suffixes,
        convert=log.convert if log is not None else None,
        clean=candidates.clean,
    )
    units = grouper.units(paired, watch)
    build, add, checks = builder.build, out.add, job.item_checks
    try:
        for unit in units:
            built = build(unit)
            if built is None:
                continue
            if checks and refused(built, checks, out.skip, out.failed):
                continue
            add(built)
        end = out.marker(None, candidates.read, log.before(None) if log is not None else 0)
    except _Stop as stopped:
        end = stopped.marker
    finally:
        units.close()
        paired.close()
    return out.result(start, end, markers, builder, grouper)
