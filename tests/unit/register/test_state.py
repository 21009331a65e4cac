"""The state store's lifecycle, report folding, and documents derived for re-sends."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from registration.encord.files import (
    count_units,
    iter_unit_urls,
    select_units,
    with_skip_duplicates,
)
from registration.errors import UsageError
from registration.exit_codes import ExitStatus
from registration.register.files import ManifestFile
from registration.register.report import RunReport, file_report, skipped_duplicates
from registration.register.state import Kind, StateStore, Status

DOC = {
    "images": [{"objectUrl": "u1"}, {"objectUrl": "u2"}],
    "image_groups": [{"title": "g", "objectUrl_1": "g1", "objectUrl_0": "g0"}],
    "skip_duplicate_urls": False,
}


def test_lifecycle_survives_reopening(tmp_path: Path):
    path = tmp_path / "s" / "state.sqlite"
    store = StateStore(path)
    sid = store.create(folder_uuid="f", file_key="a.json", content_sha256="h1", unit_count=3)
    store.mark_starting(sid, forced_skip_duplicates=False)
    store.close()

    reopened = StateStore(path)
    (row,) = reopened.chain("f", "a.json", "h1")
    assert (row.status, row.attempts, row.forced_skip_duplicates) == ("starting", 1, False)
    reopened.mark_starting(sid, forced_skip_duplicates=True)
    reopened.mark_starting(sid, forced_skip_duplicates=False)  # never un-forced
    reopened.mark_started(sid, "job-1")
    result = {"status": "DONE", "items": [["i1", "u1"]], "done": 3, "unit_errors": []}
    reopened.mark_finished(sid, "DONE", result)
    row = reopened.get(sid)
    assert (row.status, row.attempts, row.forced_skip_duplicates) == ("finished", 3, True)
    assert (row.job_uuid, row.result) == ("job-1", result)
    assert reopened.chain("f", "a.json", "other") == []
    assert reopened.other_versions("f", "a.json", "other") is True
    assert reopened.other_versions("f", "a.json", "h1") is False


def test_concurrent_writers(tmp_path: Path):
    store = StateStore(tmp_path / "state.sqlite")

    def work(n: int) -> None:
        for k in range(20):
            sid = store.create(
                folder_uuid="f", file_key=f"{n}-{k}", content_sha256="h", unit_count=1
            )
            store.mark_starting(sid, forced_skip_duplicates=False)
            store.mark_started(sid, f"job-{n}-{k}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = list(store.iter_all())
    assert len(rows) == 80 and {r.status for r in rows} == {"started"}


def test_report_folds_a_file_and_its_retry(tmp_path: Path):
    store = StateStore(tmp_path / "state.sqlite")
    first = store.create(folder_uuid="f", file_key="a", content_sha256="h", unit_count=3)
    store.mark_finished(
        first,
        "DONE",
        {
            "items": [["i1", "u1"]],
            "done": 2,
            "unit_errors": [{"urls": ["u2"], "error": "denied"}],
            "cancelled": 0,
        },
    )
    manifest = ManifestFile("a", tmp_path / "a", "h", 3)
    partial = file_report(manifest, store.chain("f", "a", "h"), sent=True)
    assert (partial.state, partial.registered, partial.skipped_duplicates) == ("partial", 1, 1)
    assert [(u.urls, u.error) for u in partial.failed] == [(["u2"], "denied")]
    report = RunReport("p", "f", "i", "iid", files=[partial])
    assert report.exit_status() == ExitStatus.PARTIAL

    retry = store.create(
        folder_uuid="f",
        file_key="a",
        content_sha256="h",
        unit_count=1,
        kind="retry",
        parent_id=first,
        document={"images": [{"objectUrl": "u2"}]},
        forced_skip_duplicates=True,
    )
    store.mark_finished(retry, "DONE", {"items": [["i2", "u2"]], "done": 1, "unit_errors": []})
    healed = file_report(manifest, store.chain("f", "a", "h"), sent=True)
    assert (healed.state, healed.registered, healed.failed) == ("registered", 2, [])
    assert healed.item_uuids == ["i1", "i2"] and healed.forced_skip_duplicates
    assert RunReport("p", "f", "i", "iid", files=[healed]).exit_status() == ExitStatus.OK


def _lost_answer_resend(store: StateStore, kept: list[dict] | None) -> None:
    """A file of 4 units re-sent after a lost answer: the lost job registered u1, u2 and u3
    (i1-i3, never in the result), the re-send made its own copy of u3 (r3, removed as the
    duplicate) and u4 (r4); a baseline item held u2. `kept`: None as an older version wrote."""
    sid = store.create(folder_uuid="f", file_key="a", content_sha256="h", unit_count=4)
    store.mark_starting(sid, forced_skip_duplicates=True, lost_answer=True)
    result = {"items": [["r3", "u3"], ["r4", "u4"]], "done": 4, "unit_errors": []}
    store.mark_finished(sid, "DONE", result)
    removed = [{"uuid": "r3", "urls": ["u3"], "kept": "i3"}]
    if kept is not None:
        store.mark_reconcile_plan(sid, removed, kept)
    store.mark_reconciled(sid, removed)


def test_report_counts_the_items_kept_after_a_lost_answer_as_registered(tmp_path: Path):
    store = StateStore(tmp_path / "state.sqlite")
    kept = [{"uuid": u, "urls": [f"u{u[1]}"]} for u in ("i1", "i3", "r4")]
    _lost_answer_resend(store, kept)
    manifest = ManifestFile("a", tmp_path / "a", "h", 4)

    entry = file_report(manifest, store.chain("f", "a", "h"), sent=True)

    assert (entry.state, entry.registered, entry.skipped_duplicates) == ("registered", 3, 1)
    assert entry.item_uuids == ["r4", "i1", "i3"]
    assert entry.registered + entry.skipped_duplicates + len(entry.failed) == entry.units


def test_report_of_a_state_without_kept_items_counts_as_before(tmp_path: Path):
    store = StateStore(tmp_path / "state.sqlite")
    _lost_answer_resend(store, None)
    manifest = ManifestFile("a", tmp_path / "a", "h", 4)

    entry = file_report(manifest, store.chain("f", "a", "h"), sent=True)

    assert (entry.registered, entry.skipped_duplicates, entry.item_uuids) == (1, 3, ["r4"])


def test_in_flight_and_rejected_files(tmp_path: Path):
    store = StateStore(tmp_path / "state.sqlite")
    manifest = ManifestFile("a", tmp_path / "a", "h", 2)
    sid = store.create(folder_uuid="f", file_key="a", content_sha256="h", unit_count=2)
    store.mark_starting(sid, forced_skip_duplicates=False)
    assert file_report(manifest, store.chain("f", "a", "h"), sent=True).state == "in_flight"
    store.mark_rejected(sid, "bad file")
    rejected = file_report(manifest, store.chain("f", "a", "h"), sent=True)
    assert (rejected.state, rejected.error) == ("rejected", "bad file")
    assert file_report(manifest, [], sent=False).state == "not_sent"


def test_skipped_duplicates_assumption():
    assert skipped_duplicates({"done": 5, "items": [["a", "b"]] * 2}) == 3
    assert skipped_duplicates({"done": 0, "items": []}) == 0


def test_select_units_keeps_only_failed_units_and_flags():
    picked = select_units(DOC, ["u2", "g1"])
    assert picked == {
        "skip_duplicate_urls": False,
        "images": [{"objectUrl": "u2"}],
        "image_groups": DOC["image_groups"],
    }
    assert count_units(picked) == 2
    assert list(iter_unit_urls(DOC)) == [("u1",), ("u2",), ("g0", "g1")]
    assert select_units(DOC, ["nothing"]) == {"skip_duplicate_urls": False}


def test_forcing_skip_duplicates_copies():
    forced = with_skip_duplicates(DOC)
    assert forced["skip_duplicate_urls"] is True
    assert DOC["skip_duplicate_urls"] is False


def test_summary_of_many_files_lists_only_the_incomplete_ones(tmp_path: Path):
    import io

    from registration.cli.console import Console
    from registration.register.report import FailedUnit, FileReport, FileState, render_summary

    files = [
        FileReport(f"manifest-{n:05d}.json", 1, FileState.REGISTERED, registered=1)
        for n in range(30)
    ]
    files[7] = FileReport(
        "manifest-00007.json", 1, FileState.PARTIAL, failed=[FailedUnit(["u"], "bad")]
    )
    out = io.StringIO()
    render_summary(RunReport("p", "f", "i", "iid", files=files), Console(out=out, err=out))
    text = out.getvalue()
    assert "manifest-00007.json: partial" in text and "failed u: bad" in text
    assert "manifest-00003.json" not in text
    assert "29 of 30 files registered completely" in text


def test_statuses_are_enums_checked_on_read(tmp_path: Path):
    path = tmp_path / "state.sqlite"
    store = StateStore(path)
    sid = store.create(folder_uuid="f", file_key="a", content_sha256="h", unit_count=1)
    row = store.get(sid)
    assert row.status is Status.NEW and row.kind is Kind.FILE
    store.close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE submissions SET status='half-done' WHERE id=?", (sid,))
    with pytest.raises(UsageError, match="unknown status 'half-done'"):
        StateStore(path).get(sid)


def test_a_state_file_of_another_format_version_is_refused(tmp_path: Path):
    path = tmp_path / "state.sqlite"
    StateStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value='2' WHERE key='schema_version'")
    with pytest.raises(UsageError, match="format version '2'"):
        StateStore(path)
    StateStore(tmp_path / "fresh.sqlite").close()  # a new file is written at this version


def test_report_dict_is_what_asdict_gives_with_totals():
    """`to_dict` builds the report without deep copies; the JSON is what `asdict` gave."""
    from dataclasses import asdict

    import orjson

    from registration.register.report import FailedUnit, FileReport, FileState

    files = [
        FileReport(
            "manifest-00001.json",
            3,
            FileState.PARTIAL,
            registered=1,
            skipped_duplicates=1,
            cancelled=0,
            failed=[FailedUnit(["s3://b/a.jpg", "s3://b/b.jpg"], "unreadable")],
            item_uuids=["u-1"],
            jobs=["j-1", "j-2"],
            forced_skip_duplicates=True,
            sent_this_run=True,
            removed_duplicates=[{"uuid": "u-2", "urls": ["s3://b/c.jpg"], "kept": "u-1"}],
        ),
        FileReport(
            "manifest-00002.json",
            2,
            FileState.REFUSED,
            error="refused",
            problems=[{"item": "images[0]", "path": "$.title", "error": "too long"}],
            past_deadline=True,
        ),
    ]
    report = RunReport("p", "f", "i", "iid", interrupted=False, files=files, created_folders=["p"])
    expected = {**asdict(report), "totals": report.totals()}
    expected["exit_status"] = int(report.exit_status())
    assert report.to_dict() == expected
    assert orjson.dumps(report.to_dict()) == orjson.dumps(expected)
