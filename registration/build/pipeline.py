"""The manifest pipeline: source -> sidecars -> classify/group -> items -> checks -> files.

Each stage is an iterator over the previous one; nothing holds a whole bucket. The
accounting invariant is checked at the end of every run: objects seen = objects
included + objects skipped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from registration.build import skips
from registration.build.chunking import chunks
from registration.build.classify import Classifier
from registration.build.grouping import Grouper, GroupRules
from registration.build.items import BuiltItem, ItemBuilder
from registration.build.sidecars import BodyReader, attach_sidecars
from registration.build.sources import ObjectRecord
from registration.build.titles import DEFAULT_TITLE_MODE
from registration.build.urls import UrlBuilder
from registration.build.writer import ManifestWriter
from registration.encord.formats import ItemCheck
from registration.encord.limits import DEFAULT_ITEMS_PER_FILE
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


@dataclass
class PipelineOptions:
    """Item-building options (everything but where the records come from)."""

    classifier: Classifier = field(default_factory=Classifier)
    rules: GroupRules = field(default_factory=GroupRules)
    title_mode: str = DEFAULT_TITLE_MODE
    metadata: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    max_items: int = DEFAULT_ITEMS_PER_FILE


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
    notes: dict[str, int] = field(default_factory=dict)

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
            "notes": dict(sorted(self.notes.items())),
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
    by_type: Counter[str] = Counter()
    write_skip = writer.skip

    def skip(bucket: str, key: str, reason: str, detail: str | None) -> None:
        skipped[reason] += 1
        write_skip(bucket, key, reason, detail)

    builders: list[ItemBuilder] = []
    counters: list[_Counting] = []

    def items() -> Iterator[BuiltItem]:
        for source in sources:
            counted = _Counting(source.records(), reporter)
            counters.append(counted)
            entries = attach_sidecars(counted, source.body_reader)
            grouper = Grouper(options.classifier, options.rules, skip)
            builder = ItemBuilder(
                source.urls, skip, title_mode=options.title_mode, metadata=options.metadata
            )
            builders.append(builder)
            build = builder.build
            for unit in grouper.units(entries):
                built = build(unit)
                if built is None:
                    continue
                if item_checks and _refused(built, item_checks, skip):
                    continue
                yield built

    included = metadata_objects = 0
    for chunk in chunks(items(), options.max_items):
        writer.write_chunk(chunk)
        for built in chunk:
            by_type[built.kind] += 1
            summary.urls += built.urls
            included += len(built.keys)
            metadata_objects += len(built.sidecar_keys)
        summary.items += len(chunk)
        reporter.progress("items", summary.items)
    summary.files = list(writer.files)
    summary.objects_seen = sum(c.count for c in counters)
    summary.objects_included = included + metadata_objects
    summary.included_as_metadata = metadata_objects
    summary.objects_skipped = sum(skipped.values())
    summary.items_by_type = dict(by_type)
    summary.skipped_by_reason = dict(skipped)
    for builder in builders:
        summary.shortened_titles += builder.shortened
    used = set().union(*(b.metadata_used for b in builders)) if builders else set()
    summary.metadata_entries_unmatched = len(set(options.metadata) - used)
    for source in sources:
        for name, value in source.notes().items():
            summary.notes[name] = summary.notes.get(name, 0) + value
    if summary.objects_seen != summary.objects_included + summary.objects_skipped:
        raise RegisterError(
            f"internal accounting error: {summary.objects_seen} objects seen but "
            f"{summary.objects_included} included + {summary.objects_skipped} skipped"
        )
    return summary


def _refused(
    built: BuiltItem,
    checks: Sequence[ItemCheck],
    skip: Callable[[str, str, str, str | None], None],
) -> bool:
    for check in checks:
        reason = check(built.top_key, built.item)
        if reason is not None:
            for key in built.keys:
                skip(built.bucket, key, reason, skips.CHECK_FAILED)
            for key in built.sidecar_keys:
                skip(built.bucket, key, skips.SIDECAR_OF_SKIPPED, reason)
            return True
    return False
