"""The manifest pipeline: source -> sidecars -> classify/group -> items -> checks -> files.

Each stage is an iterator over the previous one; nothing holds a whole bucket. Chunking
measures each item once (its orjson bytes) and asks `refusals` about the large ones: an item
that fits no file of `--max-bytes`, or whose clientMetadata is over Encord's 10 MB, is skipped
with its own reason. `run_pipeline` is the build in one process; `parallel` builds an
inventory in several, byte for byte the same; both return the `Totals` that `summary` makes
the summary of.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from registration.build import skips
from registration.build.bulk_metadata import MetadataFile
from registration.build.chunking import chunks, surely_fits
from registration.build.classify import Classifier
from registration.build.grouping import Grouper, GroupRules
from registration.build.items import BuiltItem, ItemBuilder
from registration.build.keyframes import KeyframeConverter
from registration.build.refusals import refused, too_large
from registration.build.sidecars import DEFAULT_SIDECAR_SUFFIXES, BodyReader, attach_sidecars
from registration.build.sources import ObjectRecord
from registration.build.sources.sorted_runs import SortedRun
from registration.build.summary import Totals
from registration.build.titles import DEFAULT_TITLE_MODE
from registration.build.urls import UrlBuilder
from registration.build.writer import ManifestWriter
from registration.encord.formats import ItemCheck
from registration.encord.limits import (
    DEFAULT_ITEMS_PER_FILE,
    DEFAULT_MAX_BYTES,
    MAX_CLIENT_METADATA_BYTES,
)
from registration.reporter import Reporter

_PROGRESS_EVERY = 8192


@dataclass
class BucketSource:
    """One bucket's records (sorted by key) and how to address and read its objects."""

    bucket: str
    records: Callable[[], Iterator[ObjectRecord]]
    urls: UrlBuilder
    body_reader: BodyReader | None = None
    notes: Callable[[], dict[str, int]] = field(default=lambda: {})
    screen: Callable[[Iterator[ObjectRecord], skips.SkipSink], Iterator[ObjectRecord]] | None = None
    """Checks the records as they are read (`key_check`: keys-file keys that are not in the
    bucket); what it drops it reports through the skip sink, so it is still counted."""
    splittable: SplittableRows | None = None
    """The same records per data file (an inventory), for the parallel build."""


@dataclass(frozen=True)
class SplittableRows:
    """A source whose rows can be read one data file at a time, in any process.

    `spill(index, directory, run_rows)` sorts data file `index`'s rows (key, size, storage
    class, access tier; only those `records` would give) into runs under `directory` and
    returns them with the count of rows it ignored; `ignored(count)` reports the total back
    to the source, whose `notes` count them.
    """

    files: int
    spill: Callable[[int, Path, int], tuple[list[SortedRun], int]]
    ignored: Callable[[int], None]


@dataclass
class PipelineOptions:
    """Item-building options (everything but where the records come from)."""

    classifier: Classifier = field(default_factory=Classifier)
    rules: GroupRules = field(default_factory=GroupRules)
    title_mode: str = DEFAULT_TITLE_MODE
    metadata: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    metadata_file: MetadataFile | None = None
    """Where `metadata` came from (`--metadata FILE`): its duplicate rows are reported."""
    max_items: int = DEFAULT_ITEMS_PER_FILE
    max_bytes: int = DEFAULT_MAX_BYTES
    """The most bytes a JSON file may take (`--max-bytes`, or the `--plan`'s default)."""
    sidecar_suffixes: tuple[str, ...] = DEFAULT_SIDECAR_SUFFIXES
    keyframes: KeyframeConverter = field(default_factory=KeyframeConverter)
    """Brings sidecars' key frames to the `$encord` form; it also converted `metadata` and
    keys-file metadata, and counts every deprecated document converted for this run."""


class _Counting:
    def __init__(self, records: Iterator[ObjectRecord], reporter: Reporter) -> None:
        self.records = records
        self.reporter = reporter
        self.count = 0

    def __iter__(self) -> Iterator[ObjectRecord]:
        count = self.count
        progress = self.reporter.progress
        try:
            for record in self.records:
                count += 1
                if not count % _PROGRESS_EVERY:
                    progress("objects", count)
                yield record
        finally:
            self.count = count


def run_pipeline(
    sources: Sequence[BucketSource],
    options: PipelineOptions,
    writer: ManifestWriter,
    reporter: Reporter,
    *,
    item_checks: Sequence[ItemCheck] = (),
) -> Totals:
    """Run every source through the pipeline into `writer`, in this process; the totals."""
    totals = Totals()
    skipped, checks_failed = totals.skipped, totals.checks_failed
    write_skip = writer.skip

    def skip(bucket: str, key: str, reason: str, detail: str | None) -> None:
        skipped[reason] += 1
        write_skip(bucket, key, reason, detail)

    builders: list[ItemBuilder] = []
    groupers: list[Grouper] = []
    counters: list[_Counting] = []
    layout = writer.layout
    max_bytes = options.max_bytes

    def check_size(built: BuiltItem, size: int) -> bool:
        return too_large(built, size, layout, max_bytes, skip)

    def count_failure(detail: str) -> None:
        checks_failed[detail] += 1

    def items() -> Iterator[BuiltItem]:
        for source in sources:
            counted = _Counting(source.records(), reporter)
            counters.append(counted)
            entries = attach_sidecars(
                source.screen(iter(counted), skip) if source.screen else counted,
                source.body_reader,
                suffixes=options.sidecar_suffixes,
                convert=options.keyframes,
            )
            grouper = Grouper(options.classifier, options.rules, skip)
            groupers.append(grouper)
            builder = ItemBuilder(
                source.urls, skip, title_mode=options.title_mode, metadata=options.metadata
            )
            builders.append(builder)
            build = builder.build
            for unit in grouper.units(entries):
                built = build(unit)
                if built is None:
                    continue
                if item_checks and refused(built, item_checks, skip, count_failure):
                    continue
                yield built

    by_type = totals.by_type
    # Items up to this size need no check: they fit a file alone whatever their list, and
    # their clientMetadata (a part of them) is within Encord's limit.
    check_above = min(MAX_CLIENT_METADATA_BYTES, surely_fits(layout, max_bytes))
    for chunk in chunks(
        items(),
        layout,
        options.max_items,
        max_bytes=max_bytes,
        too_large=check_size,
        check_above=check_above,
    ):
        writer.write_chunk(chunk.items, max_bytes=max_bytes)
        totals.cuts[chunk.cut] += 1
        for built in chunk.items:
            by_type[built.kind] += 1
            totals.urls += built.urls
            totals.included += len(built.keys)
            totals.metadata_objects += len(built.sidecar_keys)
        totals.items += len(chunk.items)
        reporter.progress("items", totals.items)
    totals.objects_seen = sum(c.count for c in counters)
    for builder in builders:
        totals.shortened += builder.shortened
        totals.metadata_used |= builder.metadata_used
    for grouper in groupers:
        totals.matched |= grouper.matched
        totals.grouped |= grouper.grouped
    return totals
