"""Sidecar metadata: a `<key>.json` object next to an object becomes its metadata.

Pairing streams over keys in sorted order: every key between ``K`` and ``K.json`` starts
with ``K``, so an object still waiting for its sidecar is always on a short stack of
keys that are prefixes of each other. Sidecar bodies are fetched by a small thread pool
with a bounded window, in order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, NamedTuple

import orjson

from registration.build.sources import ObjectRecord

SIDECAR_SUFFIX = ".json"
MAX_SIDECAR_BYTES = 1024 * 1024
"""Our own guard: a sidecar `<key>.json` larger than this is reported, not read."""
SIDECAR_FETCH_WORKERS = 16
_WINDOW = 256

BodyReader = Callable[[ObjectRecord], bytes]
"""Reads an object's bytes (a sidecar): S3 GetObject in production."""


class Entry(NamedTuple):
    """An object on its way to an item, with what its sidecar said."""

    record: ObjectRecord
    sidecar: ObjectRecord | None = None
    metadata: dict[str, Any] | None = None
    sidecar_problem: str | None = None


def parse_metadata_document(raw: bytes) -> dict[str, Any]:
    """A metadata document (a JSON object); ValueError saying why otherwise."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise ValueError(f"expected a JSON object, got {type(doc).__name__}")
    return doc


def _load_sidecar(
    reader: BodyReader, sidecar: ObjectRecord
) -> tuple[dict[str, Any] | None, str | None]:
    if sidecar.size is not None and sidecar.size > MAX_SIDECAR_BYTES:
        return None, f"sidecar larger than {MAX_SIDECAR_BYTES} bytes"
    try:
        raw = reader(sidecar)
    except Exception as exc:  # an unreadable sidecar is reported, the object still listed
        return None, f"cannot read sidecar: {exc}"
    if len(raw) > MAX_SIDECAR_BYTES:
        return None, f"sidecar larger than {MAX_SIDECAR_BYTES} bytes"
    try:
        return parse_metadata_document(raw), None
    except ValueError as exc:
        return None, str(exc)


def attach_sidecars(
    records: Iterable[ObjectRecord],
    reader: BodyReader | None,
    *,
    workers: int = SIDECAR_FETCH_WORKERS,
) -> Iterator[Entry]:
    """Entries for one bucket's records (sorted by key), each with its sidecar's metadata.

    ``K.json`` is attached to object ``K`` when ``K`` exists (and is then not an entry
    itself); other records pass through. Sidecar bodies are fetched by a thread pool with
    a bounded window; entries come out in a deterministic order.
    """
    pending: list[ObjectRecord] = []  # objects that may still get a sidecar
    sidecar_at: dict[int, ObjectRecord] = {}  # index in `pending` -> its sidecar
    window: deque[tuple[ObjectRecord, ObjectRecord | None, Future[Any] | None]] = deque()
    pool: ThreadPoolExecutor | None = None
    new_entry = tuple.__new__
    suffix, suffix_len = SIDECAR_SUFFIX, len(SIDECAR_SUFFIX)

    def fetch(sidecar: ObjectRecord) -> Future[Any] | None:
        nonlocal pool
        if reader is None:
            return None
        if pool is None:
            pool = ThreadPoolExecutor(workers, thread_name_prefix="sidecar")
        return pool.submit(_load_sidecar, reader, sidecar)

    try:
        for record in records:
            key = record.key
            while pending and not key.startswith(pending[-1].key):
                done = pending.pop()
                sidecar = sidecar_at.pop(len(pending), None) if sidecar_at else None
                if sidecar is None and not window:
                    yield new_entry(Entry, (done, None, done.metadata, None))
                    continue
                window.append((done, sidecar, None if sidecar is None else fetch(sidecar)))
                while window and (
                    len(window) > _WINDOW or window[0][2] is None or window[0][2].done()
                ):
                    yield _resolve(*window.popleft())
            if pending and key.endswith(suffix):
                base = key[:-suffix_len]
                for i in range(len(pending) - 1, -1, -1):
                    candidate = pending[i].key
                    if candidate == base:
                        if i not in sidecar_at:
                            sidecar_at[i] = record
                            record = None  # type: ignore[assignment]
                        break
                    if len(candidate) < len(base):
                        break
                if record is None:
                    continue
            pending.append(record)
        while pending:
            done = pending.pop()
            sidecar = sidecar_at.pop(len(pending), None)
            window.append((done, sidecar, None if sidecar is None else fetch(sidecar)))
        while window:
            yield _resolve(*window.popleft())
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _resolve(
    record: ObjectRecord, sidecar: ObjectRecord | None, future: Future[Any] | None
) -> Entry:
    if sidecar is None:
        return Entry(record, None, record.metadata)
    if future is None:
        return Entry(record, sidecar, record.metadata, "no way to read sidecars")
    doc, problem = future.result()
    if record.metadata:
        doc = {**(doc or {}), **record.metadata}
    return Entry(record, sidecar, doc, problem)
