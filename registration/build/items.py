"""Build Encord registration items (dicts in the JSON file's shape) from units.

Per bucket the URL prefix is computed once; per object only the key is encoded. Titles
are shortened here (and reported); URLs over the 16 KB limit, and keys with a `.` or `..`
segment (whose URL would point at another object: `urls.has_dot_segment`), are skipped here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from registration.build import skips
from registration.build.grouping import Unit
from registration.build.skips import SkipSink
from registration.build.titles import DEFAULT_TITLE_MODE, base_title, shorten
from registration.build.urls import (
    ENCODING_TABLE,
    UrlBuilder,
    encode_key,
    has_dot_segment,
    needs_no_encoding,
)
from registration.encord import formats as f
from registration.encord.limits import MAX_TITLE_CHARS, MAX_URL_BYTES, MAX_URLS_PER_FILE

_CLIENT_METADATA = f.CLIENT_METADATA
_OBJECT_URL, _OBJECT_URL_N, _TITLE = f.OBJECT_URL, f.OBJECT_URL_N, f.TITLE
_MULTI_FILE_KINDS = f.MULTI_FILE_KINDS
_TOP_LEVEL_KEY = f.TOP_LEVEL_KEY
_new_built = tuple.__new__
_ENCODE = ENCODING_TABLE


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


_MEDIA_FIELD_SPELLING: dict[str, dict[str, str]] = {
    kind: {
        spelling: field
        for field in form.file_fields
        for spelling in (field, _camel(field), _snake(field))
    }
    for kind, form in f.MEDIA_METADATA.items()
}
"""Item kind -> {either spelling of a media-metadata field: its spelling in the file form}."""


def file_form_media_metadata(kind: str, value: Any) -> Any:
    """Media metadata with its field names spelled as the file form spells them for `kind`.

    Sidecars may use either casing (the SDK's field names are snake_case, its wire form
    camelCase); the file follows Encord's own examples (`formats.MEDIA_METADATA`). Fields
    the table does not know are kept as given, for the typed check to name.
    """
    spelling = _MEDIA_FIELD_SPELLING.get(kind)
    if spelling is None or not isinstance(value, dict):
        return value
    return {spelling.get(name, name): v for name, v in value.items()}


class BuiltItem(NamedTuple):
    """One item ready for a file: its kind, top-level key, the dict, and the keys it covers."""

    kind: str
    top_key: str
    item: dict[str, Any]
    urls: int
    keys: tuple[str, ...]
    bucket: str
    sidecar_keys: tuple[str, ...] = ()


@dataclass
class ItemBuilder:
    """Builds items for one bucket."""

    urls: UrlBuilder
    skip: SkipSink
    title_mode: str = DEFAULT_TITLE_MODE
    metadata: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    shortened: list[dict[str, str]] = field(default_factory=list)
    metadata_used: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._prefix = self.urls.prefix
        self._plain_titles = self.title_mode == DEFAULT_TITLE_MODE
        self._bucket = self.urls.bucket

    def _url(self, key: str) -> str | None:
        url = self._prefix + encode_key(key)
        # Encoded keys are ASCII, so characters are bytes.
        return url if len(url) <= MAX_URL_BYTES else None

    def _title(self, name: str) -> str:
        title = base_title(name, self.title_mode) if name else self.urls.bucket
        if len(title) > MAX_TITLE_CHARS:
            short = shorten(title)
            self.shortened.append({"bucket": self.urls.bucket, "name": name, "title": short})
            return short
        return title

    def _bulk_metadata(self, name: str, *, folder: bool) -> dict[str, Any] | None:
        if not self.metadata:
            return None
        names = (name, f"{name}/") if folder else (name,)
        for candidate in names:
            doc = self.metadata.get(candidate)
            if doc is not None:
                self.metadata_used.add(candidate)
                return doc
        return None

    def _apply_metadata(self, item: dict[str, Any], kind: str, doc: dict[str, Any]) -> None:
        """Split a metadata document into clientMetadata and the kind's media metadata."""
        media_key = f.MEDIA_METADATA_KEY.get(kind)
        client: Any = doc
        if media_key is not None and media_key in doc:
            client = {k: v for k, v in doc.items() if k != media_key}
        if set(client) == {_CLIENT_METADATA} and isinstance(client[_CLIENT_METADATA], dict):
            client = client[_CLIENT_METADATA]
        if client:
            item[_CLIENT_METADATA] = client
        if media_key is not None and media_key in doc:
            item[media_key] = file_form_media_metadata(kind, doc[media_key])

    def build(self, unit: Unit) -> BuiltItem | None:
        """The item for `unit`, or None when nothing of it can be registered (reported)."""
        kind, name, entries = unit
        if kind not in _MULTI_FILE_KINDS:
            entry = entries[0]
            url = self._prefix + (name if needs_no_encoding(name) else name.translate(_ENCODE))
            if len(url) > MAX_URL_BYTES:
                self._skip_unit(unit, skips.URL_TOO_LONG)
                return None
            if has_dot_segment(name):
                self._skip_unit(unit, skips.DOT_SEGMENT)
                return None
            title = name if self._plain_titles and len(name) <= MAX_TITLE_CHARS else None
            item: dict[str, Any] = {_OBJECT_URL: url, _TITLE: title or self._title(name)}
            doc = entry.metadata
            if self.metadata:
                bulk = self._bulk_metadata(name, folder=False)
                if bulk is not None:
                    doc = {**doc, **bulk} if doc else bulk
            if doc:
                self._apply_metadata(item, kind, doc)
            sidecars = (entry.sidecar.key,) if entry.sidecar is not None else ()
            return _new_built(
                BuiltItem, (kind, _TOP_LEVEL_KEY[kind], item, 1, (name,), self._bucket, sidecars)
            )
        return self._build_group(unit)

    def _build_group(self, unit: Unit) -> BuiltItem | None:
        kind, folder, entries = unit
        if len(entries) > MAX_URLS_PER_FILE:
            self._skip_unit(unit, skips.GROUP_TOO_LARGE, f"{len(entries)} frames")
            return None
        item: dict[str, Any] = {_TITLE: self._title(folder)}
        keys: list[str] = []
        for entry in entries:
            key = entry.record.key
            url = self._url(key)
            if url is None:
                self.skip(self.urls.bucket, key, skips.URL_TOO_LONG, None)
                continue
            if has_dot_segment(key):
                self.skip(self.urls.bucket, key, skips.DOT_SEGMENT, None)
                continue
            item[f"{_OBJECT_URL_N}{len(keys)}"] = url
            keys.append(key)
        if not keys:
            return None
        if kind == f.IMAGE_SEQUENCE:
            item[f.CREATE_VIDEO] = True
        elif kind == f.IMAGE_GROUP:
            item[f.CREATE_VIDEO] = False
        doc = self._bulk_metadata(folder, folder=True)
        if doc:
            self._apply_metadata(item, kind, doc)
        return BuiltItem(
            kind, f.TOP_LEVEL_KEY[kind], item, len(keys), tuple(keys), self.urls.bucket
        )

    def _skip_unit(self, unit: Unit, reason: str, detail: str | None = None) -> None:
        for entry in unit.entries:
            self.skip(entry.record.bucket, entry.record.key, reason, detail)
            if entry.sidecar is not None and unit.kind not in f.MULTI_FILE_KINDS:
                self.skip(entry.sidecar.bucket, entry.sidecar.key, skips.SIDECAR_OF_SKIPPED, None)
