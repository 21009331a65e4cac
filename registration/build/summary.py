"""What a manifest run counted, and the summary (summary.json) made of it.

Both builds (`pipeline`, one process; `parallel`, several) count into `Totals`;
`summarise` turns them into the `ManifestSummary`, warns about what the user should look at
(unused `--metadata` entries and grouping patterns, converted key frames) and checks the
accounting invariant: objects seen = objects included + objects skipped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from registration.build.bulk_metadata import MetadataFile
from registration.build.chunking import CUT_REASONS
from registration.build.grouping import GroupRules, UnusedPattern, unused_patterns
from registration.build.keyframes import DEPRECATED_KEYFRAMES_KEY, ENCORD_KEY
from registration.errors import RegisterError
from registration.reporter import Reporter


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


@dataclass
class Totals:
    """What a run counted on its way, from which `summarise` makes the summary."""

    objects_seen: int = 0
    included: int = 0
    metadata_objects: int = 0
    items: int = 0
    urls: int = 0
    converted: int = 0
    """Sidecar documents whose key frames were converted (the build's own count)."""
    skipped: Counter[str] = field(default_factory=Counter)
    checks_failed: Counter[str] = field(default_factory=Counter)
    by_type: Counter[str] = field(default_factory=Counter)
    cuts: Counter[str] = field(default_factory=Counter)
    shortened: list[dict[str, str]] = field(default_factory=list)
    metadata_used: set[str] = field(default_factory=set)
    matched: set[int] = field(default_factory=set)
    grouped: set[int] = field(default_factory=set)


def summarise(
    totals: Totals,
    files: Sequence[Path],
    *,
    rules: GroupRules,
    metadata: Mapping[str, Any],
    metadata_file: MetadataFile | None,
    converted_before: int,
    notes: Iterable[dict[str, int]],
    reporter: Reporter,
) -> ManifestSummary:
    """The run's summary from its totals; warns about what the user should look at, and
    checks the accounting invariant (objects seen = included + skipped).

    `metadata` and `metadata_file` are `--metadata`'s entries and file, `converted_before`
    the documents whose key frames were converted before the build (`--metadata`, keys-file
    metadata), `notes` each source's counters.
    """
    summary = ManifestSummary()
    summary.files = list(files)
    summary.items = totals.items
    summary.urls = totals.urls
    summary.objects_seen = totals.objects_seen
    summary.objects_included = totals.included + totals.metadata_objects
    summary.included_as_metadata = totals.metadata_objects
    summary.objects_skipped = sum(totals.skipped.values())
    summary.items_by_type = dict(totals.by_type)
    summary.files_cut_by = {cut: totals.cuts[cut] for cut in CUT_REASONS if totals.cuts[cut]}
    summary.skipped_by_reason = dict(totals.skipped)
    summary.shortened_titles = totals.shortened
    summary.item_checks_failed = dict(totals.checks_failed)
    _report_metadata(summary, metadata, metadata_file, totals.metadata_used, reporter)
    _report_groups(summary, rules, totals.matched, totals.grouped, reporter)
    for counters in notes:
        for name, value in counters.items():
            summary.notes[name] = summary.notes.get(name, 0) + value
    summary.keyframes_converted = converted = converted_before + totals.converted
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


_EXAMPLES = 3
"""Keys named in a warning about many (the rest are counted)."""


def _report_metadata(
    summary: ManifestSummary,
    metadata: Mapping[str, Any],
    metadata_file: MetadataFile | None,
    used: set[str],
    reporter: Reporter,
) -> None:
    """Count the `--metadata` entries no object used, and warn about them."""
    unmatched = [key for key in metadata if key not in used]
    summary.metadata_entries_unmatched = len(unmatched)
    if metadata_file is not None:
        summary.metadata_duplicate_keys = len(metadata_file.conflicts)
        summary.metadata_repeated_rows = metadata_file.repeated_rows
    if unmatched:
        shown = ", ".join(map(repr, unmatched[:_EXAMPLES]))
        more = f" and {len(unmatched) - _EXAMPLES:,} more" if len(unmatched) > _EXAMPLES else ""
        reporter.warn(
            f"{len(unmatched):,} of {len(metadata):,} --metadata entries matched no "
            f"object ({shown}{more}): no object read has that key (a group: that folder), or "
            "it was skipped (metadata_entries_unmatched in summary.json; skipped.jsonl)"
        )


def _report_groups(
    summary: ManifestSummary,
    rules: GroupRules,
    matched: set[int],
    grouped: set[int],
    reporter: Reporter,
) -> None:
    """Warn about every grouping pattern that made no group, in any bucket."""
    if not rules.labels:
        return
    summary.group_patterns_unused = unused_patterns(rules, matched, grouped)
    for pattern in summary.group_patterns_unused:
        reporter.warn(pattern.message())
