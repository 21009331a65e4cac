"""The register command's memory: a SQLite file that makes every run resumable.

One row per submission (a registration file, or the failed units of one being
re-sent). A row is written before every remote call and after it, so that after a
crash at any instant the next run knows, for each file, whether:
- it was never sent (`new`),
- a start call was under way and its fate is unknown (`starting`: re-send with
  `skip_duplicate_urls` forced on),
- Encord accepted it and gave a job UUID (`started`: poll that job again),
- the job finished (`finished`, with the job's final result) or Encord refused the
  file outright (`rejected`);
- the SDK's models refused the file before anything was sent (`refused`, with the
  problems): checked again on the next run, in case the file or the SDK changed.

A submission sent again after a start whose answer was lost carries `lost_answer`, and the
folder's items its units could be confused with as they were before it was first sent again
(`baseline`, written once, before that send). Once its job is final, duplicates made by the
lost job and the re-sends are removed (`reconcile_plan` is written before any item is
deleted, with `kept`: the item kept per unit, which the report counts as registered; `removed`
once done; see `registration.register.reconcile`).

Files cut adaptively (`registration.register.cuts`) are recorded in `cuts` before anything of
them is sent: the stream of items they come from, the range they cover, their name and content
hash. The table is created on opening: an older state file gains it, and an older version of
encord-register ignores it.

Long: the schema, its upgrades and every read and write of it, in one place.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import orjson

from registration.errors import UsageError, troubleshooting

SCHEMA_VERSION = "1"
"""Written into a new state file; a file of another version is refused, not misread."""


class Status(StrEnum):
    """Where one submission stands (see the module docstring)."""

    NEW = "new"
    STARTING = "starting"
    STARTED = "started"
    FINISHED = "finished"
    REJECTED = "rejected"
    REFUSED = "refused"


FINAL_STATUSES = frozenset({Status.FINISHED, Status.REJECTED, Status.REFUSED})
"""Statuses after which nothing is sent or polled for a submission any more."""


class Kind(StrEnum):
    """What a submission sends: a whole file, or the failed units of an earlier one."""

    FILE = "file"
    RETRY = "retry"


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS submissions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    folder_uuid TEXT NOT NULL,
    file_key TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('file', 'retry')),
    parent_id INTEGER REFERENCES submissions(id),
    document BLOB,
    unit_count INTEGER NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    forced_skip_duplicates INTEGER NOT NULL DEFAULT 0,
    job_uuid TEXT,
    created_at TEXT NOT NULL,
    submitted_at TEXT,
    started_at TEXT,
    finished_at TEXT,
    job_status TEXT,
    result BLOB,
    error TEXT,
    lost_answer INTEGER NOT NULL DEFAULT 0,
    reconcile_plan BLOB,
    removed BLOB,
    baseline BLOB,
    kept BLOB
);
CREATE INDEX IF NOT EXISTS submissions_file ON submissions (folder_uuid, file_key);
CREATE TABLE IF NOT EXISTS cuts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    folder_uuid TEXT NOT NULL,
    stream TEXT NOT NULL,
    start INTEGER NOT NULL,
    stop INTEGER NOT NULL,
    file_key TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    unit_count INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
"""

_ADDED_COLUMNS = (
    ("lost_answer", "INTEGER NOT NULL DEFAULT 0"),
    ("reconcile_plan", "BLOB"),
    ("removed", "BLOB"),
    ("baseline", "BLOB"),
    ("kept", "BLOB"),
)
"""Columns added after format version 1 first shipped, in order: a file written before them
gains them on opening (an older version still reads the file: it ignores trailing columns)."""


def _add_columns(db: sqlite3.Connection) -> None:
    present = {row[1] for row in db.execute("PRAGMA table_info(submissions)")}
    for name, declaration in _ADDED_COLUMNS:
        if name not in present:
            db.execute(f"ALTER TABLE submissions ADD COLUMN {name} {declaration}")


StatusOrKind = TypeVar("StatusOrKind", Status, Kind)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Submission:
    """One row of the state store."""

    id: int
    folder_uuid: str
    file_key: str
    content_sha256: str
    kind: Kind
    parent_id: int | None
    document: dict[str, Any] | None
    unit_count: int
    status: Status
    attempts: int
    forced_skip_duplicates: bool
    job_uuid: str | None
    submitted_at: str | None
    finished_at: str | None
    job_status: str | None
    result: dict[str, Any] | None
    error: str | None
    lost_answer: bool = False
    """An earlier start of this submission may have reached Encord unanswered."""
    reconcile_plan: list[dict[str, Any]] | None = None
    """Duplicates this submission's job created, to remove (written before removing them)."""
    removed: list[dict[str, Any]] | None = None
    """Duplicates removed after the job finished; None until that check is done."""
    baseline: dict[str, Any] | None = None
    """Before the first re-send: the listing `search` and the `items` (uuid -> URLs) seen."""
    kept: list[dict[str, Any]] | None = None
    """Per unit, the item created after the lost answer and kept (`uuid`, `urls`): registered
    by this file's calls. Written with `reconcile_plan`; None before it, or in a state written
    by a version without it (the report then counts as that version did)."""


@dataclass(frozen=True)
class Cut:
    """A file cut from a stream of items (`registration.register.cuts`): which items it holds."""

    stream: str
    """The fingerprint of the built files the items come from."""
    start: int
    stop: int
    """Items `start` (included) to `stop` (excluded), counted across the built files."""
    file_key: str
    content_sha256: str
    unit_count: int


class StateStore:
    """Thread-safe access to the state file; every write is committed at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            _add_columns(self._db)
            self._db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                (SCHEMA_VERSION,),
            )
            row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.DatabaseError as exc:
            # Never suggest removing the file: "locked" means a live writer holds it, and a
            # damaged one still records what was registered.
            in_use = isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)
            raise UsageError(
                f"cannot use the state file {path}: {exc}",
                hint="another program is writing it (an older encord-register run, or a "
                "database tool): wait until it is done, then run again; never move or delete "
                "a state file in use, it is what stops files being registered twice"
                if in_use
                else "it is not an encord-register state file, or it is damaged: keep it (it "
                "records what was registered) and pass another --state path, then "
                + troubleshooting("resuming"),
            ) from None
        if row is None or row[0] != SCHEMA_VERSION:
            self._db.close()
            raise UsageError(
                f"the state file {path} has format version {row[0] if row else None!r}; "
                f"this version of encord-register reads version {SCHEMA_VERSION!r}",
                hint="use the encord-register version that wrote it, or pass another --state path",
            )
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def _write(self, sql: str, params: tuple[Any, ...]) -> int:
        with self._lock:
            cursor = self._db.execute(sql, params)
            return int(cursor.lastrowid or 0)

    def _rows(self, sql: str, params: tuple[Any, ...]) -> list[Submission]:
        with self._lock:
            cursor = self._db.execute(sql, params)
            return [_row(r) for r in cursor.fetchall()]

    # -- writes --------------------------------------------------------------------------
    def create(
        self,
        *,
        folder_uuid: str,
        file_key: str,
        content_sha256: str,
        unit_count: int,
        kind: Kind = Kind.FILE,
        parent_id: int | None = None,
        document: dict[str, Any] | None = None,
        forced_skip_duplicates: bool = False,
    ) -> int:
        """Record a submission that has not been sent yet; return its id."""
        return self._write(
            "INSERT INTO submissions (folder_uuid, file_key, content_sha256, kind, parent_id,"
            " document, unit_count, status, forced_skip_duplicates, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                folder_uuid,
                file_key,
                content_sha256,
                Kind(kind).value,
                parent_id,
                orjson.dumps(document) if document is not None else None,
                unit_count,
                Status.NEW.value,
                int(forced_skip_duplicates),
                _now(),
            ),
        )

    def mark_starting(
        self, sid: int, *, forced_skip_duplicates: bool, lost_answer: bool = False
    ) -> None:
        """Written just before a start call: from now on its fate is unknown until answered.

        `lost_answer`: an earlier start may have reached Encord (never cleared once set).
        """
        self._write(
            "UPDATE submissions SET status=?, attempts=attempts+1, submitted_at=?,"
            " forced_skip_duplicates=MAX(forced_skip_duplicates, ?),"
            " lost_answer=MAX(lost_answer, ?) WHERE id=?",
            (Status.STARTING.value, _now(), int(forced_skip_duplicates), int(lost_answer), sid),
        )

    def mark_started(self, sid: int, job_uuid: str) -> None:
        """Encord accepted the submission as job `job_uuid`."""
        self._write(
            "UPDATE submissions SET status=?, job_uuid=?, started_at=? WHERE id=?",
            (Status.STARTED.value, job_uuid, _now(), sid),
        )

    def mark_finished(self, sid: int, job_status: str, result: dict[str, Any]) -> None:
        """The job reached a final state; `result` is its outcome."""
        self._write(
            "UPDATE submissions SET status=?, job_status=?, result=?, finished_at=? WHERE id=?",
            (Status.FINISHED.value, job_status, orjson.dumps(result), _now(), sid),
        )

    def mark_rejected(self, sid: int, error: str) -> None:
        """Encord refused the submission itself (invalid file): nothing was registered."""
        self._write(
            "UPDATE submissions SET status=?, error=?, finished_at=? WHERE id=?",
            (Status.REJECTED.value, error, _now(), sid),
        )

    def mark_refused(self, sid: int, error: str, problems: list[dict[str, str | None]]) -> None:
        """The SDK's models refused the document before anything was sent."""
        self._write(
            "UPDATE submissions SET status=?, error=?, result=?, finished_at=? WHERE id=?",
            (Status.REFUSED.value, error, orjson.dumps({"problems": problems}), _now(), sid),
        )

    def mark_unrefused(self, sid: int) -> None:
        """A refused submission is checked again: back to `new` (it was never sent)."""
        self._write(
            "UPDATE submissions SET status=?, error=NULL, result=NULL, finished_at=NULL"
            " WHERE id=? AND status=?",
            (Status.NEW.value, sid, Status.REFUSED.value),
        )

    def mark_baseline(self, sid: int, baseline: dict[str, Any]) -> None:
        """The items seen before the first re-send (kept: a later one would not be a baseline)."""
        self._write(
            "UPDATE submissions SET baseline=? WHERE id=? AND baseline IS NULL",
            (orjson.dumps(baseline), sid),
        )

    def mark_reconcile_plan(
        self, sid: int, plan: list[dict[str, Any]], kept: list[dict[str, Any]]
    ) -> None:
        """The duplicates about to be removed and the items kept, in one write (a crash after
        this resumes the removal, and the report counts the same)."""
        self._write(
            "UPDATE submissions SET reconcile_plan=?, kept=? WHERE id=?",
            (orjson.dumps(plan), orjson.dumps(kept), sid),
        )

    def mark_reconciled(self, sid: int, removed: list[dict[str, Any]]) -> None:
        """The duplicate check after a lost answer is done; `removed` lists what it deleted."""
        self._write("UPDATE submissions SET removed=? WHERE id=?", (orjson.dumps(removed), sid))

    def mark_lost(self, sid: int) -> None:
        """Encord forgot the job: send again (duplicates skipped)."""
        self._write(
            "UPDATE submissions SET status=?, job_uuid=NULL WHERE id=?",
            (Status.STARTING.value, sid),
        )

    # -- reads ---------------------------------------------------------------------------
    def get(self, sid: int) -> Submission:
        """One submission by id."""
        rows = self._rows("SELECT * FROM submissions WHERE id=?", (sid,))
        return rows[0]

    def chain(self, folder_uuid: str, file_key: str, content_sha256: str) -> list[Submission]:
        """Every submission of this exact file content into this folder, oldest first."""
        return self._rows(
            "SELECT * FROM submissions WHERE folder_uuid=? AND file_key=? AND content_sha256=?"
            " ORDER BY id",
            (folder_uuid, file_key, content_sha256),
        )

    def other_versions(self, folder_uuid: str, file_key: str, content_sha256: str) -> bool:
        """True when a different content of this file was submitted into this folder before."""
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM submissions WHERE folder_uuid=? AND file_key=?"
                " AND content_sha256<>? LIMIT 1",
                (folder_uuid, file_key, content_sha256),
            ).fetchone()
        return row is not None

    def add_cut(
        self,
        *,
        folder_uuid: str,
        stream: str,
        start: int,
        stop: int,
        file_key: str,
        content_sha256: str,
        unit_count: int,
    ) -> None:
        """Record a cut file (items `start` to `stop` of `stream`), before it is sent."""
        self._write(
            "INSERT INTO cuts (folder_uuid, stream, start, stop, file_key, content_sha256,"
            " unit_count, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (folder_uuid, stream, start, stop, file_key, content_sha256, unit_count, _now()),
        )

    def cuts(self, folder_uuid: str) -> list[Cut]:
        """Every cut file recorded for this folder, in the order they were cut."""
        with self._lock:
            rows = self._db.execute(
                "SELECT stream, start, stop, file_key, content_sha256, unit_count FROM cuts"
                " WHERE folder_uuid=? ORDER BY id",
                (folder_uuid,),
            ).fetchall()
        return [Cut(*row) for row in rows]

    def sent_any(self, folder_uuid: str, file_keys: list[str]) -> bool:
        """True when any of these files (any content) was submitted into this folder."""
        with self._lock:
            for key in file_keys:
                row = self._db.execute(
                    "SELECT 1 FROM submissions WHERE folder_uuid=? AND file_key=? LIMIT 1",
                    (folder_uuid, key),
                ).fetchone()
                if row is not None:
                    return True
        return False

    def iter_all(self) -> Iterator[Submission]:
        """Every submission, oldest first."""
        yield from self._rows("SELECT * FROM submissions ORDER BY id", ())


def _enum(enum: type[StatusOrKind], value: Any, column: str) -> StatusOrKind:
    try:
        return enum(value)
    except ValueError:
        raise UsageError(
            f"the state file holds an unknown {column} {value!r}",
            hint="it was written by another version of encord-register, or edited by hand; "
            "pass another --state path",
        ) from None


def _row(r: tuple[Any, ...]) -> Submission:
    return Submission(
        id=r[0],
        folder_uuid=r[1],
        file_key=r[2],
        content_sha256=r[3],
        kind=_enum(Kind, r[4], "kind"),
        parent_id=r[5],
        document=orjson.loads(r[6]) if r[6] is not None else None,
        unit_count=r[7],
        status=_enum(Status, r[8], "status"),
        attempts=r[9],
        forced_skip_duplicates=bool(r[10]),
        job_uuid=r[11],
        submitted_at=r[13],
        finished_at=r[15],
        job_status=r[16],
        result=orjson.loads(r[17]) if r[17] is not None else None,
        error=r[18],
        lost_answer=bool(r[19]),
        reconcile_plan=orjson.loads(r[20]) if r[20] is not None else None,
        removed=orjson.loads(r[21]) if r[21] is not None else None,
        baseline=orjson.loads(r[22]) if r[22] is not None else None,
        kept=orjson.loads(r[23]) if r[23] is not None else None,
    )
