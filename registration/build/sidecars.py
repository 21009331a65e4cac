"""Sidecar metadata: a `<key>.metadata.json` or `<key>.json` object becomes `<key>`'s metadata.

Two naming conventions are paired by default (`--sidecar-suffix` chooses): Encord's own
cloud-synced folders pair `<file>.metadata.json` with `<file>` (the SDK's
`SidecarMatcherSuffix` default), and this tool has always paired `<file>.json`.

The pairing rule, for a key ending in one of the suffixes:

- the longest suffix whose data file exists wins: `a.jpg.metadata.json` is the sidecar of
  `a.jpg` when `a.jpg` exists, else of `a.jpg.metadata` when that exists, else it is an
  object of its own (a JSON document, registered as text);
- an object has one sidecar: when `x.jpg.json` and `x.jpg.metadata.json` both exist, the one
  with the longer suffix (`x.jpg.metadata.json`) is used and the other is reported in
  skipped.jsonl as `sidecar_superseded`, naming the one used (two chosen suffixes of one
  length: the first in key order is used); a sidecar key listed twice is a `duplicate_key`.

Pairing streams over keys in sorted order: every key between ``K`` and ``K + suffix`` starts
with ``K``, so an object still waiting for its sidecar is always on a short stack of keys
that are prefixes of each other, and every data file a sidecar could belong to is on it.
Sidecar bodies are fetched by a small thread pool with a bounded window, in order; their key
frames are brought to Encord's ``$encord`` form there (`keyframes.KeyframeConverter`), and a
sidecar whose key frames are bad is dropped with its reason, never its object.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Final, NamedTuple

import orjson

from registration.build import skips
from registration.build.keyframes import KeyframeError
from registration.build.sources import ObjectRecord
from registration.errors import UsageError

ENCORD_SIDECAR_SUFFIX: Final = ".metadata.json"
"""Encord's cloud-synced folders' convention (`SidecarMatcherSuffix` default)."""
PLAIN_SIDECAR_SUFFIX: Final = ".json"
"""This tool's original convention."""
DEFAULT_SIDECAR_SUFFIXES: Final = (ENCORD_SIDECAR_SUFFIX, PLAIN_SIDECAR_SUFFIX)
SIDECAR_SUFFIX_FLAG: Final = "--sidecar-suffix"
MAX_SIDECAR_BYTES = 1024 * 1024
"""Our own guard: a sidecar larger than this is reported, not read."""
SIDECAR_FETCH_WORKERS = 16
_WINDOW = 256

Note = tuple[str, str, str, str | None]
"""One skip line of a sidecar: (bucket, key, reason, detail)."""
Notes = tuple[Note, ...]
BodyReader = Callable[[ObjectRecord], bytes]
Convert = Callable[[dict[str, Any]], dict[str, Any]]
"""Brings a metadata document's key frames to the `$encord` form (`KeyframeConverter`)."""
"""Reads an object's bytes (a sidecar): S3 GetObject in production."""


class SidecarProblem(NamedTuple):
    """Why a sidecar is dropped (its object stays): a skip reason and the detail."""

    reason: str
    detail: str


class Entry(NamedTuple):
    """An object on its way to an item, with what its sidecar said."""

    record: ObjectRecord
    sidecar: ObjectRecord | None = None
    metadata: dict[str, Any] | None = None
    sidecar_problem: SidecarProblem | None = None
    sidecar_skips: Notes = ()
    """Other sidecars of this object, reported (bucket, key, reason, detail) when the entry
    is grouped: a duplicate sidecar key, or one superseded by a longer suffix."""


def check_sidecar_suffixes(suffixes: Sequence[str]) -> tuple[str, ...]:
    """The suffixes, longest first (the order pairing tries them); UsageError naming the flag."""
    if not suffixes:
        raise UsageError(f"{SIDECAR_SUFFIX_FLAG}: give at least one suffix")
    for suffix in suffixes:
        if not suffix or "/" in suffix or suffix.strip() != suffix:
            raise UsageError(
                f"{SIDECAR_SUFFIX_FLAG} {suffix!r}: expected the end of a key, such as "
                f"{ENCORD_SIDECAR_SUFFIX} or {PLAIN_SIDECAR_SUFFIX} (no '/', no spaces around)"
            )
    return tuple(sorted(set(suffixes), key=lambda s: (-len(s), s)))


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
    reader: BodyReader, sidecar: ObjectRecord, convert: Convert | None
) -> tuple[dict[str, Any] | None, SidecarProblem | None]:
    if sidecar.size is not None and sidecar.size > MAX_SIDECAR_BYTES:
        return None, SidecarProblem(
            skips.BAD_SIDECAR, f"sidecar larger than {MAX_SIDECAR_BYTES} bytes"
        )
    try:
        raw = reader(sidecar)
    except Exception as exc:  # an unreadable sidecar is reported, the object still listed
        return None, SidecarProblem(skips.BAD_SIDECAR, f"cannot read sidecar: {exc}")
    if len(raw) > MAX_SIDECAR_BYTES:
        return None, SidecarProblem(
            skips.BAD_SIDECAR, f"sidecar larger than {MAX_SIDECAR_BYTES} bytes"
        )
    try:
        doc = parse_metadata_document(raw)
    except ValueError as exc:
        return None, SidecarProblem(skips.BAD_SIDECAR, str(exc))
    if convert is None:
        return doc, None
    try:
        return convert(doc), None
    except KeyframeError as exc:
        return None, SidecarProblem(skips.BAD_KEYFRAMES, str(exc))


def attach_sidecars(
    records: Iterable[ObjectRecord],
    reader: BodyReader | None,
    *,
    suffixes: Sequence[str] = DEFAULT_SIDECAR_SUFFIXES,
    convert: Convert | None = None,
    workers: int = SIDECAR_FETCH_WORKERS,
    clean: Callable[[ObjectRecord], None] | None = None,
) -> Generator[Entry, None, None]:
    """Entries for one bucket's records (sorted by key), each with its sidecar's metadata.

    A key ending in one of `suffixes` is attached to the object it names (the module's
    pairing rule) and is then not an entry itself; other records pass through. A sidecar
    that loses to another of the same object is carried in its object's entry
    (`Entry.sidecar_skips`), and reported when the entry is grouped: the order of
    skipped.jsonl depends on the keys only, never on when a body arrived. Sidecar bodies are
    fetched by a thread pool with a bounded window and passed through `convert`; entries come
    out in a deterministic order. `clean(record)` is called for each record read while no
    earlier object waits for a sidecar (no earlier key is a prefix of its key): the entries of
    all earlier records come out before its own (the parallel build's cut points, `segment`).
    """
    ordered = check_sidecar_suffixes(suffixes)
    pending: list[ObjectRecord] = []  # objects that may still get a sidecar
    sidecar_at: dict[int, ObjectRecord] = {}  # index in `pending` -> its sidecar
    notes_at: dict[int, list[Note]] = {}  # index in `pending` -> its other sidecars' skips
    window: deque[tuple[ObjectRecord, ObjectRecord | None, Future[Any] | None, Notes]] = deque()
    pool: ThreadPoolExecutor | None = None
    new_entry = tuple.__new__

    def fetch(sidecar: ObjectRecord) -> Future[Any] | None:
        nonlocal pool
        if reader is None:
            return None
        if pool is None:
            pool = ThreadPoolExecutor(workers, thread_name_prefix="sidecar")
        return pool.submit(_load_sidecar, reader, sidecar, convert)

    def pair(record: ObjectRecord) -> bool:
        """Attach `record` as a sidecar when an object it names is pending; True if taken."""
        key = record.key
        for suffix in ordered:  # longest first: the longer suffix whose data file exists wins
            if not key.endswith(suffix):
                continue
            base = key[: len(key) - len(suffix)]
            for i in range(len(pending) - 1, -1, -1):
                candidate = pending[i].key
                if candidate == base:
                    current = sidecar_at.get(i)
                    if current is None:
                        sidecar_at[i] = record
                        return True
                    notes = notes_at.setdefault(i, [])
                    if current.key == key:
                        notes.append((record.bucket, key, skips.DUPLICATE_KEY, None))
                    elif len(current.key) < len(key):
                        sidecar_at[i] = record
                        notes.append((current.bucket, current.key, skips.SIDECAR_SUPERSEDED, key))
                    else:
                        notes.append((record.bucket, key, skips.SIDECAR_SUPERSEDED, current.key))
                    return True
                if len(candidate) < len(base):
                    break
        return False

    try:
        for record in records:
            key = record.key
            while pending and not key.startswith(pending[-1].key):
                done = pending.pop()
                sidecar = sidecar_at.pop(len(pending), None) if sidecar_at else None
                notes = tuple(notes_at.pop(len(pending), ())) if notes_at else ()
                if sidecar is None and not window:
                    yield new_entry(Entry, (done, None, done.metadata, None, notes))
                    continue
                window.append((done, sidecar, None if sidecar is None else fetch(sidecar), notes))
                while window and (
                    len(window) > _WINDOW or window[0][2] is None or window[0][2].done()
                ):
                    yield _resolve(*window.popleft())
            if pending:
                if key.endswith(ordered) and pair(record):
                    continue
            elif clean is not None:
                clean(record)
            pending.append(record)
        while pending:
            done = pending.pop()
            sidecar = sidecar_at.pop(len(pending), None)
            notes = tuple(notes_at.pop(len(pending), ()))
            window.append((done, sidecar, None if sidecar is None else fetch(sidecar), notes))
        while window:
            yield _resolve(*window.popleft())
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _resolve(
    record: ObjectRecord, sidecar: ObjectRecord | None, future: Future[Any] | None, notes: Notes
) -> Entry:
    if sidecar is None:
        return Entry(record, None, record.metadata, None, notes)
    if future is None:
        problem = SidecarProblem(skips.BAD_SIDECAR, "no way to read sidecars")
        return Entry(record, sidecar, record.metadata, problem, notes)
    doc, problem = future.result()
    if record.metadata:
        doc = {**(doc or {}), **record.metadata}
    return Entry(record, sidecar, doc, problem, notes)
