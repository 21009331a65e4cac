"""The manifest pipeline: source -> sidecars -> classify/group -> items -> checks -> files.

Each stage is an iterator over the previous one; nothing holds a whole bucket. Chunking
measures each item once (its orjson bytes) and asks this module about the large ones: an item
that fits no file of `--max-bytes`, or whose clientMetadata is over Encord's 10 MB, is skipped
here with its own reason. The accounting invariant is checked at the end of every run:
objects seen = objects included + objects skipped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from registration.build import skips
from registration.build.bulk_metadata import MetadataFile
from registration.build.chunking import CUT_REASONS, chunks, fits_alone, surely_fits
from registration.build.classify import Classifier
from registration.build.grouping import Grouper, GroupRules, UnusedPattern, unused_patterns
from registration.build.items import BuiltItem, ItemBuilder
from registration.build.keyframes import DEPRECATED_KEYFRAMES_KEY, ENCORD_KEY, KeyframeConverter
from registration.build.sidecars import DEFAULT_SIDECAR_SUFFIXES, BodyReader, attach_sidecars
from registration.build.sources import ObjectRecord
from registration.build.titles import DEFAULT_TITLE_MODE
from registration.build.urls import UrlBuilder
from registration.build.writer import FileLayout, ManifestWriter
from registration.encord.formats import CLIENT_METADATA, ItemCheck
from registration.encord.limits import (
    DEFAULT_ITEMS_PER_FILE,
    DEFAULT_MAX_BYTES,
    MAX_CLIENT_METADATA_BYTES,
)
from registration.errors import RegisterError
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


@dataclass
class ManifestSummary:
    """What a manifest run produced and skipped; written as summary.json."""

    files: list[Path] = field(default_factory=list)
    objects_seen: int = 0
    objects_included: int = 0
    objects_skipped: int = 0
    included_as_metadata: int = 0
    items: int = 0
    urls: int = 0
    items_by_type: dict[str, int] = field(default_factory=dict)
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    shortened_titles: list[dict[str, str]] = field(default_factory=list)
    metadata_entries_unmatched: int = 0
    metadata_duplicate_keys: int = 0
    """`--metadata` keys whose rows differ (`--metadata-duplicates` chose one of them)."""
    metadata_repeated_rows: int = 0
    """`--metadata` rows that repeat an earlier row of the same key exactly."""
    group_patterns_unused: list[UnusedPattern] = field(default_factory=list)
    """`--image-group` / `--image-sequence` / `--dicom-series` patterns that made no group."""
    item_checks_failed: dict[str, int] = field(default_factory=dict)
    """Items refused by an item check (`--schema`), per the check's reason."""
    notes: dict[str, int] = field(default_factory=dict)
    files_cut_by: dict[str, int] = field(default_factory=dict)
    """Files per reason they were closed (`chunking.CUT_REASONS`: items, urls, bytes, end)."""
    keyframes_converted: int = 0
    """Metadata documents (sidecars, `--metadata` entries, keys-file metadata) whose
    deprecated `keyframes` list was written as `clientMetadata["$encord"]["frames"]`."""

    @property
    def skipped(self) -> int:
        """Objects not included (alias of `objects_skipped`)."""
        return self.objects_skipped

    def to_json(self) -> dict[str, Any]:
        """The summary as plain JSON (file names relative to the output directory)."""
        return {
            "files": [p.name for p in self.files],
            "objects_seen": self.objects_seen,
            "objects_included": self.objects_included,
            "objects_skipped": self.objects_skipped,
            "included_as_metadata": self.included_as_metadata,
            "items": self.items,
            "urls": self.urls,
            "items_by_type": dict(sorted(self.items_by_type.items())),
            "skipped_by_reason": dict(sorted(self.skipped_by_reason.items())),
            "shortened_titles": self.shortened_titles,
            "metadata_entries_unmatched": self.metadata_entries_unmatched,
            "metadata_duplicate_keys": self.metadata_duplicate_keys,
            "metadata_repeated_rows": self.metadata_repeated_rows,
            "group_patterns_unused": [p.to_json() for p in self.group_patterns_unused],
            "item_checks_failed": dict(sorted(self.item_checks_failed.items())),
            "notes": dict(sorted(self.notes.items())),
            "files_cut_by": dict(sorted(self.files_cut_by.items())),
            "keyframes_converted": self.keyframes_converted,
        }


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
) -> ManifestSummary:
    """Run every source through the pipeline into `writer`; return the summary."""
    summary = ManifestSummary()
    skipped: Counter[str] = Counter()
    checks_failed: Counter[str] = Counter()
    metadata_file = options.metadata_file
    if metadata_file is not None:
        for line in metadata_file.warnings():
            reporter.warn(line)
    by_type: Counter[str] = Counter()
    write_skip = writer.skip

    def skip(bucket: str, key: str, reason: str, detail: str | None) -> None:
        skipped[reason] += 1
        write_skip(bucket, key, reason, detail)

    builders: list[ItemBuilder] = []
    groupers: list[Grouper] = []
    counters: list[_Counting] = []
    layout = writer.layout
    max_bytes = options.max_bytes

    def too_large(built: BuiltItem, size: int) -> bool:
        return _too_large(built, size, layout, max_bytes, skip)

    def items() -> Iterator[BuiltItem]:
        for source in sources:
            counted = _Counting(source.records(), reporter)
            counters.append(counted)
            entries = attach_sidecars(
                source.screen(iter(counted), skip) if source.screen else counted,
                source.body_reader,
                skip,
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
                if item_checks and _refused(built, item_checks, skip, checks_failed):
                    continue
                yield built

    included = metadata_objects = 0
    cuts: Counter[str] = Counter()
    # Items up to this size need no check: they fit a file alone whatever their list, and
    # their clientMetadata (a part of them) is within Encord's limit.
    check_above = min(MAX_CLIENT_METADATA_BYTES, surely_fits(layout, max_bytes))
    for chunk in chunks(
        items(),
        layout,
        options.max_items,
        max_bytes=max_bytes,
        too_large=too_large,
        check_above=check_above,
    ):
        writer.write_chunk(chunk.items, max_bytes=max_bytes)
        cuts[chunk.cut] += 1
        for built in chunk.items:
            by_type[built.kind] += 1
            summary.urls += built.urls
            included += len(built.keys)
            metadata_objects += len(built.sidecar_keys)
        summary.items += len(chunk.items)
        reporter.progress("items", summary.items)
    summary.files = list(writer.files)
    summary.objects_seen = sum(c.count for c in counters)
    summary.objects_included = included + metadata_objects
    summary.included_as_metadata = metadata_objects
    summary.objects_skipped = sum(skipped.values())
    summary.items_by_type = dict(by_type)
    summary.files_cut_by = {cut: cuts[cut] for cut in CUT_REASONS if cuts[cut]}
    summary.skipped_by_reason = dict(skipped)
    for builder in builders:
        summary.shortened_titles += builder.shortened
    summary.item_checks_failed = dict(checks_failed)
    _report_metadata(summary, options, builders, reporter)
    _report_groups(summary, options.rules, groupers, reporter)
    for source in sources:
        for name, value in source.notes().items():
            summary.notes[name] = summary.notes.get(name, 0) + value
    summary.keyframes_converted = converted = options.keyframes.converted
    if converted:
        reporter.warn(
            f"{converted:,} metadata document(s) gave key frames in Encord's deprecated "
            f"`{DEPRECATED_KEYFRAMES_KEY}` list: written as clientMetadata"
            f'["{ENCORD_KEY}"]["frames"] (keyframes_converted in summary.json)'
        )
    if summary.objects_seen != summary.objects_included + summary.objects_skipped:
        raise RegisterError(
            f"internal accounting error: {summary.objects_seen} objects seen but "
            f"{summary.objects_included} included + {summary.objects_skipped} skipped"
        )
    return summary


def _too_large(
    built: BuiltItem,
    size: int,
    layout: FileLayout,
    max_bytes: int,
    skip: Callable[[str, str, str, str | None], None],
) -> bool:
    """Skip (and report) an item whose metadata is over Encord's limit or that fits no file."""
    metadata = built.item.get(CLIENT_METADATA)
    if metadata is not None and size > MAX_CLIENT_METADATA_BYTES:
        metadata_size = len(orjson.dumps(metadata))
        if metadata_size > MAX_CLIENT_METADATA_BYTES:
            detail = (
                f"clientMetadata is {metadata_size:,} bytes; "
                f"Encord allows {MAX_CLIENT_METADATA_BYTES:,}"
            )
            _skip_item(built, skips.METADATA_TOO_LARGE, detail, skip)
            return True
    if not fits_alone(built, size, layout, max_bytes):
        detail = f"the item is {size:,} bytes; a file may take {max_bytes:,} (--max-bytes)"
        _skip_item(built, skips.ITEM_TOO_LARGE, detail, skip)
        return True
    return False


def _skip_item(
    built: BuiltItem, reason: str, detail: str, skip: Callable[[str, str, str, str | None], None]
) -> None:
    for key in built.keys:
        skip(built.bucket, key, reason, detail)
    for key in built.sidecar_keys:
        skip(built.bucket, key, skips.SIDECAR_OF_SKIPPED, reason)


def _refused(
    built: BuiltItem,
    checks: Sequence[ItemCheck],
    skip: Callable[[str, str, str, str | None], None],
    failed: Counter[str],
) -> bool:
    """Skip `built` when a check refuses it: reason `item_check`, the check's words as detail."""
    for check in checks:
        detail = check(built.top_key, built.item)
        if detail is not None:
            failed[detail] += 1
            for key in built.keys:
                skip(built.bucket, key, skips.CHECK_FAILED, detail)
            for key in built.sidecar_keys:
                skip(built.bucket, key, skips.SIDECAR_OF_SKIPPED, skips.CHECK_FAILED)
            return True
    return False


_EXAMPLES = 3
"""Keys named in a warning about many (the rest are counted)."""


def _report_metadata(
    summary: ManifestSummary,
    options: PipelineOptions,
    builders: Sequence[ItemBuilder],
    reporter: Reporter,
) -> None:
    """Count the `--metadata` entries no object used, and warn about them."""
    used = set().union(*(b.metadata_used for b in builders)) if builders else set()
    unmatched = [key for key in options.metadata if key not in used]
    summary.metadata_entries_unmatched = len(unmatched)
    if options.metadata_file is not None:
        summary.metadata_duplicate_keys = len(options.metadata_file.conflicts)
        summary.metadata_repeated_rows = options.metadata_file.repeated_rows
    if unmatched:
        shown = ", ".join(map(repr, unmatched[:_EXAMPLES]))
        more = f" and {len(unmatched) - _EXAMPLES:,} more" if len(unmatched) > _EXAMPLES else ""
        reporter.warn(
            f"{len(unmatched):,} of {len(options.metadata):,} --metadata entries matched no "
            f"object ({shown}{more}): no object read has that key (a group: that folder), or "
            "it was skipped (metadata_entries_unmatched in summary.json; skipped.jsonl)"
        )


def _report_groups(
    summary: ManifestSummary, rules: GroupRules, groupers: Sequence[Grouper], reporter: Reporter
) -> None:
    """Warn about every grouping pattern that made no group, in any bucket."""
    if not rules.labels:
        return
    matched = set().union(*(g.matched for g in groupers)) if groupers else set()
    grouped = set().union(*(g.grouped for g in groupers)) if groupers else set()
    summary.group_patterns_unused = unused_patterns(rules, matched, grouped)
    for pattern in summary.group_patterns_unused:
        reporter.warn(pattern.message())
