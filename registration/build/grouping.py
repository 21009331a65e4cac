"""Classify entries and group folders into multi-file items, streaming.

Keys arrive sorted, so every key under a folder ``F/`` is contiguous: a group for ``F``
stays open until the first key outside ``F/`` arrives. Open groups are nested folders,
kept on a stack; memory is bounded by the groups currently open (the largest group,
times the folder nesting depth at worst), never by the bucket.

Which folders group: ``--dicom-series``, ``--image-sequence``, ``--image-group`` patterns
(tried in that order, matched against the folder path without a trailing '/'), and by
default every folder holding ``.dcm`` files is one DICOM series, extension-less files in
it included as slices.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from registration.build import skips
from registration.build.classify import Classifier, extension_of
from registration.build.sidecars import Entry
from registration.build.skips import SkipSink
from registration.build.sources import ARCHIVE_ACCESS_TIERS, ARCHIVE_STORAGE_CLASSES
from registration.encord import formats as f
from registration.errors import UsageError

_NUMBER_RUNS = re.compile(r"(\d+)")


class Unit(NamedTuple):
    """What becomes one item: a kind, its name (key, or folder of a group), its objects."""

    kind: str
    name: str
    entries: tuple[Entry, ...]


def natural_key(key: str) -> tuple[tuple[object, ...], str]:
    """Sort key putting ``frame2`` before ``frame10`` (digit runs compared as numbers)."""
    parts = _NUMBER_RUNS.split(key)
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts)), key


_DIGITS_AS_ZERO = str.maketrans("123456789", "000000000")


def _natural_sort(members: list[Entry]) -> None:
    """Sort a group's members by `natural_key` of their keys.

    When every key is ASCII with its digits at the same places (``frame_07``, ``frame_12``),
    the natural order is the plain order of the keys, which is much cheaper to sort by.
    """
    keys = [entry.record.key for entry in members]
    if (
        all(key.isascii() for key in keys)
        and len({k.translate(_DIGITS_AS_ZERO) for k in keys}) == 1
    ):
        members.sort(key=lambda e: e.record.key)
    else:
        members.sort(key=lambda e: natural_key(e.record.key))


def compile_pattern(pattern: str, flag: str) -> Callable[[str], bool]:
    """A folder matcher: a glob (`*`, `?`, `[...]`), or a regular expression after `re:`."""
    if not pattern.strip() or pattern.strip() in ("/", "re:"):
        raise UsageError(f"{flag} {pattern!r}: empty pattern")
    if pattern.startswith("re:"):
        try:
            regex = re.compile(pattern[3:])
        except re.error as exc:
            raise UsageError(f"{flag} {pattern!r}: bad regular expression ({exc})") from exc
        return lambda folder: regex.fullmatch(folder) is not None
    if pattern.count("[") != pattern.count("]"):
        raise UsageError(f"{flag} {pattern!r}: unbalanced '[' ']' in glob pattern")
    regex = re.compile(fnmatch.translate(pattern.rstrip("/")))
    return lambda folder: regex.match(folder) is not None


@dataclass
class GroupRules:
    """Which folders become which kind of multi-file item."""

    dicom_series: Sequence[str] = ()
    image_sequence: Sequence[str] = ()
    image_group: Sequence[str] = ()
    matchers: list[tuple[str, Callable[[str], bool]]] = field(default_factory=list, init=False)
    labels: list[str] = field(default_factory=list, init=False)
    """Each matcher as the user gave it (`--image-group 'frames/*'`), for messages."""

    def __post_init__(self) -> None:
        for kind, flag, patterns in (
            (f.DICOM_SERIES, "--dicom-series", self.dicom_series),
            (f.IMAGE_SEQUENCE, "--image-sequence", self.image_sequence),
            (f.IMAGE_GROUP, "--image-group", self.image_group),
        ):
            self.matchers += [(kind, compile_pattern(p, flag)) for p in patterns]
            self.labels += [f"{flag} {p!r}" for p in patterns]

    def match(self, folder: str, matched: set[int]) -> tuple[str | None, int]:
        """The group kind for `folder` and the index of the pattern that decided it (-1: none).

        Adds the index of every pattern matching `folder` to `matched` (patterns already in it
        are not tried again), so that patterns that match no folder can be reported.
        """
        mode, decided = None, -1
        for index, (kind, matches) in enumerate(self.matchers):
            if (mode is not None and index in matched) or not matches(folder):
                continue
            matched.add(index)
            if mode is None:
                mode, decided = kind, index
        return mode, decided


@dataclass(frozen=True)
class UnusedPattern:
    """A grouping pattern that made no group: it matched no folder, or none with its files."""

    label: str
    """The flag and the pattern, as given (`--image-group 'nomatch/*'`)."""
    folders_matched: bool

    def message(self) -> str:
        """One line for the terminal."""
        if not self.folders_matched:
            return (
                f"{self.label} matched no folder: nothing was grouped by it (patterns match the "
                "whole folder path without a trailing '/', e.g. 'scans/*' for scans/a/1.jpg)"
            )
        return (
            f"{self.label} matched folders but made no group: none of them held files of its "
            "type, or an earlier pattern took them"
        )

    def to_json(self) -> dict[str, Any]:
        """JSON form for summary.json."""
        return {"pattern": self.label, "folders_matched": self.folders_matched}


def unused_patterns(rules: GroupRules, matched: set[int], grouped: set[int]) -> list[UnusedPattern]:
    """The patterns of `rules` that made no group, given the indices that matched / grouped."""
    return [
        UnusedPattern(label, index in matched)
        for index, label in enumerate(rules.labels)
        if index not in grouped
    ]


@dataclass
class _OpenGroup:
    folder: str
    prefix: str
    mode: str
    explicit: bool
    members: list[Entry] = field(default_factory=list)
    tentative: list[Entry] = field(default_factory=list)  # extension-less, maybe DICOM


class Grouper:
    """Turns one bucket's sorted stream of entries into units; reports what it skips."""

    def __init__(self, classifier: Classifier, rules: GroupRules, skip: SkipSink) -> None:
        self.classifier = classifier
        self.rules = rules
        self.skip = skip
        self.matched: set[int] = set()
        """Indices of `rules`' patterns that matched a folder holding objects."""
        self.grouped: set[int] = set()
        """Indices of `rules`' patterns that made a group."""

    def _skip_entry(self, entry: Entry, reason: str, detail: str | None = None) -> None:
        record = entry.record
        self.skip(record.bucket, record.key, reason, detail)
        if entry.sidecar is not None:
            self.skip(entry.sidecar.bucket, entry.sidecar.key, skips.SIDECAR_OF_SKIPPED, None)

    def _close(self, group: _OpenGroup) -> Iterator[Unit]:
        members = group.members
        if group.tentative:
            if members or group.explicit:
                members = members + group.tentative
            else:
                for entry in group.tentative:
                    self._skip_entry(entry, skips.UNKNOWN_TYPE, "no extension")
        if not members:
            return
        _natural_sort(members)
        for entry in members:
            if entry.sidecar is not None:
                self.skip(entry.sidecar.bucket, entry.sidecar.key, skips.SIDECAR_OF_FRAME, None)
        yield Unit(group.mode, group.folder, tuple(members))

    def units(
        self, entries: Iterator[Entry], watch: Callable[[str], None] | None = None
    ) -> Generator[Unit, None, None]:
        """Units in a deterministic order: singles as they come, groups when they close.

        `watch(key)` is called when an entry arrives and no group is open around it (every
        earlier group closed and reported): the parallel build's cut points
        (`registration.build.segment`).
        """
        # The hot loop of the pipeline: lookups are bound to locals on purpose.
        stack: list[_OpenGroup] = []
        last: str | None = None
        kind_of_extension = self.classifier.kind_of_extension
        table_get = self.classifier.table.get
        skip_entry = self._skip_entry
        archive_classes, archive_tiers = ARCHIVE_STORAGE_CLASSES, ARCHIVE_ACCESS_TIERS
        dicom = f.DICOM
        new_unit = tuple.__new__
        match, has_rules = self.rules.match, bool(self.rules.matchers)
        matched, grouped = self.matched, self.grouped
        mode_folder: str | None = None
        mode: str | None = None
        decided = -1
        for entry in entries:
            record = entry.record
            key = record.key
            if stack and not key.startswith(stack[-1].prefix):
                while stack and not key.startswith(stack[-1].prefix):
                    yield from self._close(stack.pop())
            if watch is not None and not stack:
                watch(key)
            if entry.sidecar_skips:
                for line in entry.sidecar_skips:
                    self.skip(*line)
            if key == last:
                skip_entry(entry, skips.DUPLICATE_KEY)
                continue
            last = key
            if (problem := entry.sidecar_problem) is not None and (
                sidecar := entry.sidecar
            ) is not None:
                self.skip(sidecar.bucket, sidecar.key, problem.reason, problem.detail)
                entry = Entry(record, None, record.metadata)
            if key.endswith("/"):
                skip_entry(entry, skips.FOLDER_MARKER)
                continue
            if record.size == 0:
                skip_entry(entry, skips.EMPTY_OBJECT)
                continue
            if (
                record.storage_class in archive_classes or record.access_tier in archive_tiers
            ) and not record.restored:
                skip_entry(entry, skips.ARCHIVED, record.access_tier or record.storage_class)
                continue
            slash = key.rfind("/")
            dot = key.rfind(".")
            if dot > slash:
                ext = key[dot + 1 :].lower()
                if ext == "gz":
                    ext = extension_of(key)
            else:
                ext = ""
            kind = table_get(ext)
            if kind is None and "." in ext:
                kind = kind_of_extension(ext)
            folder = key[:slash] if slash >= 0 else ""
            if folder != mode_folder:
                mode_folder = folder
                if has_rules:
                    mode, decided = match(folder, matched)
            if kind is not None and mode is None and kind != dicom:
                yield new_unit(Unit, (kind, key, (entry,)))
                continue
            no_extension = kind is None and ext == ""
            if (mode in (f.IMAGE_GROUP, f.IMAGE_SEQUENCE) and kind == f.IMAGE) or (
                mode == f.DICOM_SERIES and (kind == f.DICOM or no_extension)
            ):
                group_mode, tentative = mode, False
            elif kind == f.DICOM:
                group_mode, tentative = f.DICOM_SERIES, False
            elif no_extension:
                group_mode, tentative = f.DICOM_SERIES, True
            elif kind is None:
                skip_entry(entry, skips.UNKNOWN_TYPE, ext)
                continue
            else:
                yield Unit(kind, key, (entry,))
                continue
            if not stack or stack[-1].folder != folder or not key.startswith(stack[-1].prefix):
                prefix = f"{folder}/" if slash >= 0 else ""
                stack.append(_OpenGroup(folder, prefix, group_mode, explicit=mode is not None))
                if mode is not None and group_mode == mode:
                    grouped.add(decided)
            group = stack[-1]
            (group.tentative if tentative else group.members).append(entry)
        while stack:
            yield from self._close(stack.pop())
