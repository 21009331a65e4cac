"""Items for Encord from arriving objects, through the build stage's own code.

The same chain as `manifest`: `attach_sidecars` (pairing, reading, key frames brought to the
`$encord` form), the `Grouper` (classification, groups, skips), the `ItemBuilder` (URLs,
titles, metadata, URL and dot-segment skips). Nothing about items is decided here; this module
only feeds the chain one object, one object with its sidecars, or one group's members.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from registration.build.grouping import Grouper
from registration.build.items import BuiltItem, ItemBuilder
from registration.build.pipeline import PipelineOptions
from registration.build.sidecars import BodyReader, Entry, attach_sidecars
from registration.build.skips import SkipSink
from registration.build.sources import ObjectRecord
from registration.build.urls import UrlBuilder
from registration.continuous.settings import HandlerSettings
from registration.encord import formats as f
from registration.encord.files import unit_urls


def item_title(built: BuiltItem) -> str:
    """The title of a built item."""
    return str(built.item.get(f.TITLE, ""))


def item_urls(built: BuiltItem) -> tuple[str, ...]:
    """The URL(s) of a built item, in order."""
    return unit_urls(built.top_key, built.item)


class Items:
    """Builds items for the watched buckets (one URL builder per bucket)."""

    def __init__(
        self, settings: HandlerSettings, options: PipelineOptions, reader: BodyReader | None
    ) -> None:
        self.options = options
        self.reader = reader
        self.urls = {
            b.name: UrlBuilder(b.name, b.region, style=settings.build.url_style)
            for b in settings.buckets
        }

    def entry(
        self, record: ObjectRecord, sidecars: Sequence[ObjectRecord], skip: SkipSink
    ) -> Entry:
        """`record` with the metadata of its sidecar (the pairing rule picks one of `sidecars`;
        the others are reported to `skip` as superseded)."""
        if not sidecars:
            return Entry(record, None, record.metadata)
        ordered = sorted([record, *sidecars], key=lambda r: r.key)
        entries = attach_sidecars(
            ordered,
            self.reader,
            suffixes=self.options.sidecar_suffixes,
            convert=self.options.keyframes,
            workers=1,
        )
        for entry in entries:
            if entry.record.key == record.key:
                for line in entry.sidecar_skips:
                    skip(*line)
                return entry._replace(sidecar_skips=())
        return Entry(record, None, record.metadata)

    def build(self, bucket: str, entries: Iterable[Entry], skip: SkipSink) -> list[BuiltItem]:
        """The items the build stage makes of `entries` (one bucket's, any order)."""
        ordered = sorted(entries, key=lambda e: e.record.key)
        grouper = Grouper(self.options.classifier, self.options.rules, skip)
        builder = ItemBuilder(
            self.urls[bucket], skip, title_mode=self.options.title_mode, metadata={}
        )
        built = (builder.build(unit) for unit in grouper.units(iter(ordered)))
        return [item for item in built if item is not None]

    def single(self, entry: Entry, skip: SkipSink) -> BuiltItem | None:
        """The item of one single-file object (None when skipped: reported to `skip`)."""
        found = self.build(entry.record.bucket, [entry], skip)
        return found[0] if found else None

    def group(
        self, bucket: str, members: Iterable[ObjectRecord], skip: SkipSink
    ) -> list[BuiltItem]:
        """The item(s) of one group folder's members (the Grouper orders the frames
        naturally and decides about extension-less files, as for `manifest`)."""
        return self.build(bucket, (Entry(m, None, None) for m in members), skip)
