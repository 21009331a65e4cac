"""Where one arriving object belongs, decided by the build stage's own rules.

`manifest` sees a whole sorted listing; the handler sees one object at a time. So each object
is put through the build stage's `Grouper` alone, and what the Grouper does with it says where
it belongs: a unit of its own (a single file), a unit of a group folder (a member: image group,
image sequence, DICOM series), or a skip with `manifest`'s reason. An extension-less file the
Grouper drops alone as ``unknown_type`` is a *tentative* DICOM slice: `manifest` includes it in
its folder's series when the folder has DICOM files, so it is collected with the folder and the
Grouper decides when the group completes, exactly as `manifest` does. Before that, a key ending
in a sidecar suffix is a sidecar (`sidecar_candidates`: the data keys it may belong to, longest
suffix first) and an object named like the group marker is the marker of its folder.
"""

from __future__ import annotations

from dataclasses import dataclass

from registration.build import skips
from registration.build.classify import extension_of
from registration.build.grouping import Grouper
from registration.build.pipeline import PipelineOptions
from registration.build.sidecars import Entry
from registration.build.sources import ObjectRecord
from registration.encord import formats as f


@dataclass(frozen=True)
class Single:
    """A file that is one item of its own."""

    kind: str


@dataclass(frozen=True)
class Member:
    """A file of a group folder."""

    folder: str
    kind: str
    """The group kind (`formats.DICOM_SERIES`, `IMAGE_GROUP` or `IMAGE_SEQUENCE`)."""
    tentative: bool = False
    """An extension-less file: a slice only if its folder turns out to be a DICOM series."""


@dataclass(frozen=True)
class Skip:
    """A file `manifest` would skip, with its reason."""

    reason: str
    detail: str | None = None


@dataclass(frozen=True)
class Sidecar:
    """A key ending in a sidecar suffix: the data keys it may belong to, in pairing order."""

    candidates: tuple[str, ...]


@dataclass(frozen=True)
class Marker:
    """The group marker object of `folder`."""

    folder: str


Placement = Single | Member | Skip | Sidecar | Marker


def folder_of(key: str) -> str:
    """The folder of `key` without its trailing '/' ('' at the top of the bucket)."""
    slash = key.rfind("/")
    return key[:slash] if slash >= 0 else ""


class Placer:
    """Places objects by `manifest`'s options and the group marker's name."""

    def __init__(self, options: PipelineOptions, marker: str | None = None) -> None:
        self.options = options
        self.marker = marker
        self.suffixes = options.sidecar_suffixes  # checked, longest first

    def place(self, record: ObjectRecord) -> Placement:
        """Where `record` belongs (marker and sidecar rules first, then the Grouper's)."""
        key = record.key
        if self.marker and not key.endswith("/") and key.rsplit("/", 1)[-1] == self.marker:
            return Marker(folder_of(key))
        candidates = self.sidecar_candidates(key)
        if candidates:
            return Sidecar(candidates)
        return self.place_data(record)

    def sidecar_candidates(self, key: str) -> tuple[str, ...]:
        """The data keys `key` is a sidecar of, if they exist (longest suffix first)."""
        found = []
        for suffix in self.suffixes:
            if key.endswith(suffix):
                base = key[: len(key) - len(suffix)]
                if base and not base.endswith("/"):
                    found.append(base)
        return tuple(found)

    def place_data(self, record: ObjectRecord) -> Single | Member | Skip:
        """What the Grouper does with `record` alone (not asking the sidecar rules)."""
        skipped: list[tuple[str, str | None]] = []

        def sink(bucket: str, key: str, reason: str, detail: str | None) -> None:
            skipped.append((reason, detail))

        grouper = Grouper(self.options.classifier, self.options.rules, sink)
        for unit in grouper.units(iter([Entry(record, None, record.metadata)])):
            if unit.kind in f.MULTI_FILE_KINDS:
                return Member(unit.name, unit.kind)
            return Single(unit.kind)
        reason, detail = skipped[0] if skipped else (skips.UNKNOWN_TYPE, None)
        if (
            reason == skips.UNKNOWN_TYPE
            and not record.key.endswith("/")
            and extension_of(record.key) == ""
        ):
            return Member(folder_of(record.key), f.DICOM_SERIES, tentative=True)
        return Skip(reason, detail)
