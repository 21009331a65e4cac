"""A state file written before the lost-answer clean-up existed keeps working."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from registration.register.state import StateStore

OLD_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta VALUES ('schema_version', '1');
CREATE TABLE submissions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, folder_uuid TEXT NOT NULL, file_key TEXT NOT NULL,
    content_sha256 TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('file', 'retry')),
    parent_id INTEGER REFERENCES submissions(id), document BLOB, unit_count INTEGER NOT NULL,
    status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    forced_skip_duplicates INTEGER NOT NULL DEFAULT 0, job_uuid TEXT, created_at TEXT NOT NULL,
    submitted_at TEXT, started_at TEXT, finished_at TEXT, job_status TEXT, result BLOB, error TEXT
);
INSERT INTO submissions (folder_uuid, file_key, content_sha256, kind, unit_count, status,
    attempts, job_uuid, created_at) VALUES ('f', 'a.json', 'h', 'file', 2, 'started', 1, 'j', 'x');
"""


def test_an_older_state_file_gains_the_new_columns(tmp_path: Path):
    path = tmp_path / "state.sqlite"
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA)
    db.close()

    store = StateStore(path)

    (row,) = store.chain("f", "a.json", "h")
    assert (row.status, row.job_uuid, row.lost_answer, row.baseline, row.removed) == (
        "started",
        "j",
        False,
        None,
        None,
    )
    store.mark_starting(row.id, forced_skip_duplicates=True, lost_answer=True)
    store.mark_baseline(row.id, {"search": "cam/", "items": {"i1": ["u1"]}})
    store.mark_baseline(row.id, {"search": None, "items": {}})  # the first one is kept
    assert row.kept is None
    kept = [{"uuid": "i3", "urls": ["u2"]}]
    store.mark_reconcile_plan(row.id, [{"uuid": "i2", "urls": ["u1"], "kept": "i1"}], kept)
    store.mark_reconciled(row.id, [{"uuid": "i2", "urls": ["u1"], "kept": "i1"}])
    store.close()
    row = StateStore(path).get(row.id)
    assert row.lost_answer is True
    assert row.baseline == {"search": "cam/", "items": {"i1": ["u1"]}}
    assert row.removed == row.reconcile_plan == [{"uuid": "i2", "urls": ["u1"], "kept": "i1"}]
    assert row.kept == kept


def test_an_older_state_file_gains_the_cuts_table_and_resumes_as_before(tmp_path: Path):
    path = tmp_path / "state.sqlite"
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA)
    db.close()

    store = StateStore(path)

    assert store.cuts("f") == []
    (row,) = store.chain("f", "a.json", "h")
    assert row.status == "started"  # its job is polled again, as before
    store.add_cut(
        folder_uuid="f",
        stream="s",
        start=0,
        stop=500,
        file_key="cut-s-000000000-000000500.json",
        content_sha256="c",
        unit_count=500,
    )
    store.close()
    (cut,) = StateStore(path).cuts("f")
    assert (cut.start, cut.stop, cut.file_key, cut.unit_count) == (
        0,
        500,
        "cut-s-000000000-000000500.json",
        500,
    )
