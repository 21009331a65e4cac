"""Cut points of one key range of the parallel build (`segment` says what a cut point is).

`Candidates` follows the records that may be cut points from the moment they are read to the
moment their entry reaches the grouper; `ConversionLog` counts the sidecars whose key frames
were converted before any cut point, though sidecars are read ahead by threads.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterator
from typing import Any, Final

from registration.build.keyframes import KeyframeConverter
from registration.build.sidecars import BodyReader
from registration.build.sources import ObjectRecord

MAX_CANDIDATES: Final = 65_536
"""Candidates kept while a group is open (a missed one only costs a cut point)."""


class ConversionLog:
    """Which sidecars' key frames were converted, by sidecar key (reads run in threads)."""

    def __init__(self, reader: BodyReader, converter: KeyframeConverter) -> None:
        self._reader = reader
        self._converter = converter
        self._local = threading.local()
        self._lock = threading.Lock()
        self._keys: list[str] = []

    def read(self, record: ObjectRecord) -> bytes:
        """Read a sidecar (remembering, for this thread, whose document is converted next)."""
        self._local.key = record.key
        return self._reader(record)

    def convert(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Convert a sidecar document; log its key when its key frames were converted."""
        with self._lock:
            before = self._converter.converted
            out = self._converter(doc)
            if self._converter.converted != before:
                insort(self._keys, self._local.key)
        return out

    def before(self, key: str | None) -> int:
        """Sidecars converted whose key sorts before `key` (None: all of them).

        The entries before a cut point are those of the keys before it, and each entry's
        sidecar was read (and logged) before the entry came out.
        """
        with self._lock:
            return len(self._keys) if key is None else bisect_left(self._keys, key)


class Candidates:
    """Records read with no object waiting for a sidecar (`attach_sidecars`' `clean`), until
    their entry reaches the grouper with no group open (`Grouper.units`' `watch`): a cut
    point. Entries come in key order except that an entry follows those of the keys it is a
    prefix of, so a candidate is passed once an entry neither before it nor under it comes."""

    def __init__(self, stop: str | None) -> None:
        self.waiting: deque[tuple[str, int]] = deque(maxlen=MAX_CANDIDATES)
        self.read = 0
        self.stop = stop
        self.active = True
        """False between the markers kept near the start and the range's end: no candidate
        there can be used."""

    def count(self, rows: Iterator[tuple[Any, ...]], bucket: str) -> Iterator[ObjectRecord]:
        """`rows` as records, counted (candidates are kept again from the range's end)."""
        new_record = tuple.__new__
        stop = self.stop
        for read, (key, size, storage_class, tier) in enumerate(rows, 1):
            self.read = read
            if not self.active and stop is not None and key >= stop:
                self.active = True
            yield new_record(ObjectRecord, (bucket, key, size, storage_class, None, tier, None))

    def clean(self, record: ObjectRecord) -> None:
        """A candidate: `record`, with the records read before it."""
        if self.active:
            self.waiting.append((record.key, self.read - 1))

    def take(self, key: str) -> int | None:
        """Records before `key` when it is a candidate (its entry just came), else None."""
        waiting = self.waiting
        while waiting:
            head = waiting[0][0]
            if head == key:
                return waiting.popleft()[1]
            if key < head or key.startswith(head):
                return None
            waiting.popleft()  # its entry came while a group was open
        return None
