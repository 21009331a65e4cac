"""Registration files cut on the fly from the built files, sized by `adaptive.SizeController`.

When `register` builds the files itself (`--bucket`, `--inventory`, ...), it builds them in full
under the state directory, as without `--adaptive`; the built files, in order, are one stream of
items. `AdaptiveCuts` cuts the files it sends from that stream, in order, each as large as the
controller says (and within `--max-bytes` and Encord's URL limit), and writes each under
`<state dir>/cuts/` before recording it in the state (`StateStore.add_cut`: the stream's
fingerprint, the range of items it covers, its name and content hash) and handing it to the
registrar, which records and sends it like any registration file. So every item of the stream
is in exactly one cut, and a cut is recorded before anything of it is sent.

A re-run builds the files again. If they are the same (same fingerprint), it resumes the cuts
already recorded (their files are kept; a missing one is cut again from the same items and must
hash the same) and goes on cutting from where they stop, at the size the last cut had. If the
source changed, the cuts of the old stream are still brought to an end, and the new stream is
cut from its start with `skip_duplicate_urls` on, so that what was registered from the old one
is skipped, not registered twice (as a changed file is re-sent without `--adaptive`).
Whether to cut at all is decided once per state and folder (`run._adaptive`): a state that
sent the built files as they are goes on that way, and one that cut goes on cutting.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from registration.build.writer import FileLayout
from registration.encord import formats as f
from registration.encord.files import iter_items, unit_urls
from registration.encord.limits import MAX_URLS_PER_FILE
from registration.errors import InputError
from registration.register.adaptive import SizeController
from registration.register.files import ManifestFile
from registration.register.state import Cut, StateStore

log = logging.getLogger(__name__)

CUTS_DIR = "cuts"
"""Under the state directory: the files cut adaptively (kept: a re-run resumes them)."""


def stream_fingerprint(files: Sequence[ManifestFile]) -> str:
    """Identifies a stream of built files: their names, contents and sizes, in order."""
    digest = hashlib.sha256()
    for manifest in files:
        digest.update(f"{manifest.key}\0{manifest.sha256}\0{manifest.units}\n".encode())
    return digest.hexdigest()


class ItemStream:
    """The items of the built files in order, read one file at a time from any position."""

    def __init__(self, files: Sequence[ManifestFile]) -> None:
        self.files = tuple(files)
        self.total = sum(m.units for m in self.files)
        self.fingerprint = stream_fingerprint(self.files)

    def items_from(self, start: int) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
        """`(list key, item, the flags of its file)` for items `start`, `start + 1`, ..."""
        position = 0
        for manifest in self.files:
            if position + manifest.units <= start:
                position += manifest.units
                continue
            document = manifest.load()
            flags: dict[str, Any] = {
                key: document[key]
                for key in (f.SKIP_DUPLICATE_URLS_KEY, f.UPSERT_METADATA_KEY)
                if key in document
            }
            for list_key, item in iter_items(document):
                if position >= start:
                    yield list_key, item, flags
                position += 1


class AdaptiveCuts:
    """The registrar's files when cutting adaptively: resumed cuts first, then new ones.

    Iterate it to get the next file (thread-safe); `files()` lists every cut so far, for the
    report; `observe` and `failed` pass what the jobs showed on to the controller.
    """

    def __init__(
        self,
        state: StateStore,
        folder_uuid: str,
        built: Sequence[ManifestFile],
        directory: Path,
        controller: SizeController,
        max_bytes: int,
        max_urls: int = MAX_URLS_PER_FILE,
    ) -> None:
        self.state = state
        self.folder_uuid = folder_uuid
        self.stream = ItemStream(built)
        self.directory = directory
        self.controller = controller
        self.max_bytes = max_bytes
        self.max_urls = max_urls
        self._lock = threading.Lock()
        recorded = state.cuts(folder_uuid)
        current = [c for c in recorded if c.stream == self.stream.fingerprint]
        self._position = max((c.stop for c in current), default=0)
        # A stream other than this one was cut into this folder: its items may be there.
        self._forced = len(current) < len(recorded)
        if current:
            controller.resume_at(current[-1].unit_count)
        self._resumed = [self._manifest(c) for c in recorded]
        self._cut: list[ManifestFile] = list(self._resumed)
        self._items: Iterator[tuple[str, dict[str, Any], dict[str, Any]]] | None = None
        self._pending: tuple[str, dict[str, Any], dict[str, Any]] | None = None

    @property
    def total_units(self) -> int:
        """Units of the cuts already recorded and of the rest of the stream."""
        return sum(m.units for m in self._resumed) + self.stream.total - self._position

    def files(self) -> list[ManifestFile]:
        """Every cut so far (resumed ones first), in order."""
        with self._lock:
            return list(self._cut)

    def observe(self, manifest: ManifestFile, seconds: float) -> None:
        """A cut's job took `seconds` from start to end."""
        self.controller.observe(manifest.units, seconds)

    def failed(self, manifest: ManifestFile, why: str) -> None:
        """A cut was rejected, or its job outlived the deadline."""
        self.controller.failed(manifest.units, why)

    def __iter__(self) -> Iterator[ManifestFile]:
        yield from self._resumed
        while True:
            with self._lock:
                manifest = self._next_cut()
            if manifest is None:
                return
            yield manifest

    # -- cutting ----------------------------------------------------------------------------
    def _next_cut(self) -> ManifestFile | None:
        if self._position >= self.stream.total:
            return None
        if self._items is None:
            self._items = self.stream.items_from(self._position)
        size = self.controller.next_size()
        layout: _Layout | None = None
        lists: dict[str, list[bytes]] = {}
        count = urls = 0
        total = 0
        while count < size:
            entry = self._pending if self._pending is not None else next(self._items, None)
            self._pending = None
            if entry is None:
                break
            list_key, item, flags = entry
            if layout is None:
                layout = _Layout(
                    skip_duplicate_urls=bool(flags.get(f.SKIP_DUPLICATE_URLS_KEY)) or self._forced,
                    upsert_metadata=bool(flags.get(f.UPSERT_METADATA_KEY)),
                )
                total = layout.empty
            raw = orjson.dumps(item)
            add = len(raw) + 1 + (0 if list_key in lists else layout.list_bytes[list_key])
            item_urls = len(unit_urls(list_key, item))
            if count and (total + add > self.max_bytes or urls + item_urls > self.max_urls):
                self._pending = entry  # the next cut starts with it
                break
            lists.setdefault(list_key, []).append(raw)
            count += 1
            urls += item_urls
            total += add
        if not count or layout is None:
            return None
        start, stop = self._position, self._position + count
        key = f"cut-{self.stream.fingerprint[:8]}-{start:09d}-{stop:09d}.json"
        body = _encode(lists, layout)
        path = self.directory / key
        _write_file(path, body)
        sha = hashlib.sha256(body).hexdigest()
        self.state.add_cut(
            folder_uuid=self.folder_uuid,
            stream=self.stream.fingerprint,
            start=start,
            stop=stop,
            file_key=key,
            content_sha256=sha,
            unit_count=count,
        )
        self._position = stop
        if count < size and stop < self.stream.total:
            log.info("cut %s at %d items (bytes or URLs), not %d", key, count, size)
        manifest = ManifestFile(key=key, path=path, sha256=sha, units=count)
        self._cut.append(manifest)
        return manifest

    def _manifest(self, cut: Cut) -> ManifestFile:
        """A recorded cut's file; cut again from the stream when missing (it must hash the same)."""
        path = self.directory / cut.file_key
        if not path.exists() and cut.stream == self.stream.fingerprint:
            layout: _Layout | None = None
            lists: dict[str, list[bytes]] = {}
            items = self.stream.items_from(cut.start)
            for _ in range(cut.stop - cut.start):
                list_key, item, flags = next(items)
                if layout is None:
                    forced = bool(flags.get(f.SKIP_DUPLICATE_URLS_KEY))
                    layout = _Layout(
                        skip_duplicate_urls=forced or self._forced_when(cut),
                        upsert_metadata=bool(flags.get(f.UPSERT_METADATA_KEY)),
                    )
                lists.setdefault(list_key, []).append(orjson.dumps(item))
            if layout is not None:
                body = _encode(lists, layout)
                if hashlib.sha256(body).hexdigest() == cut.content_sha256:
                    _write_file(path, body)
        if not path.exists():
            raise InputError(
                f"{path}: a file cut by an earlier run is missing; the state says it holds "
                f"items {cut.start}-{cut.stop} of the files built then",
                source=str(path),
                hint="restore it from a backup of the state directory, or pass another --state "
                "path (items it holds may then be registered again)",
            )
        return ManifestFile(
            key=cut.file_key, path=path, sha256=cut.content_sha256, units=cut.unit_count
        )

    def _forced_when(self, cut: Cut) -> bool:
        """Whether `cut` was cut with duplicates skipped because another stream came before."""
        for earlier in self.state.cuts(self.folder_uuid):
            if earlier.file_key == cut.file_key:
                return False
            if earlier.stream != cut.stream:
                return True
        return False


def _encode(lists: dict[str, list[bytes]], layout: _Layout) -> bytes:
    """A cut file's bytes, as the build writes a file (`writer.FileLayout` counts them):
    `{"<top key>":[item,...],...,<flags>}` and a newline, compact, lists in Encord's order."""
    parts = [b"{"]
    for key in f.TOP_LEVEL_ORDER:
        items = lists.get(key)
        if items:
            parts += (orjson.dumps(key), b":[", b",".join(items), b"],")
    parts += (orjson.dumps(layout.flags)[1:-1], b"}\n")
    return b"".join(parts)


class _Layout(FileLayout):
    """`FileLayout`'s sizes, and the flags a cut file carries."""

    def __init__(self, *, skip_duplicate_urls: bool, upsert_metadata: bool) -> None:
        super().__init__(skip_duplicate_urls=skip_duplicate_urls, upsert_metadata=upsert_metadata)
        flags: dict[str, bool] = {f.SKIP_DUPLICATE_URLS_KEY: skip_duplicate_urls}
        if upsert_metadata:
            flags[f.UPSERT_METADATA_KEY] = True
        self.flags = flags


def _write_file(path: Path, body: bytes) -> None:
    """Write `body` whole (a reader never sees half a file), and to disk before it is recorded."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as out:
        out.write(body)
        out.flush()
        os.fsync(out.fileno())
    partial.replace(path)
