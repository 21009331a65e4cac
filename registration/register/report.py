"""What a register run achieved, per file and in total: JSON for machines, lines for people.

Built from the state store only, so a report after a resume covers earlier runs too.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from operator import itemgetter
from pathlib import Path
from typing import Any

import orjson

from registration.exit_codes import ExitStatus
from registration.register.files import ManifestFile
from registration.register.state import Status, Submission
from registration.reporter import Reporter

MAX_FAILURES_SHOWN = 20
"""Failed units listed in the human summary; the report file lists them all."""
MAX_FILES_SHOWN = 20
"""Past this many files, the human summary shows only files not completely registered."""


class FileState(StrEnum):
    """A registration file's fate, as the report gives it."""

    REGISTERED = "registered"
    PARTIAL = "partial"
    REJECTED = "rejected"
    REFUSED = "refused"
    """The SDK's models refused the file before anything of it was sent (see `problems`)."""
    IN_FLIGHT = "in_flight"
    NOT_SENT = "not_sent"
    WOULD_SEND = "would_send"


UNFINISHED = frozenset({FileState.IN_FLIGHT, FileState.NOT_SENT})


def skipped_duplicates(result: dict[str, Any]) -> int:
    """Units a finished job skipped as duplicates.

    **Unconfirmed** how Encord reports them: the poll result has no such count. The
    decision here: a skipped duplicate counts as a done unit that created no item, so
    skipped = done units - items listed in `itemsWithNames`.
    """
    return max(0, int(result.get("done", 0)) - len(result.get("items", [])))


@dataclass
class FailedUnit:
    """A unit Encord could not register."""

    urls: list[str]
    error: str


@dataclass
class FileReport:
    """One registration file's fate."""

    file: str
    units: int
    state: FileState
    registered: int = 0
    skipped_duplicates: int = 0
    cancelled: int = 0
    failed: list[FailedUnit] = field(default_factory=list)
    item_uuids: list[str] = field(default_factory=list)
    """The registered items: those the file's jobs made and kept, each once (after a lost answer,
    the item kept per unit, whichever of this tool's jobs made it)."""
    jobs: list[str] = field(default_factory=list)
    forced_skip_duplicates: bool = False
    sent_this_run: bool = False
    error: str | None = None
    problems: list[dict[str, str | None]] = field(default_factory=list)
    """For a refused file: every item the SDK's models refused (item, JSON path, error)."""
    removed_duplicates: list[dict[str, Any]] = field(default_factory=list)
    """Items a re-send after a lost answer created twice, removed (`uuid`, `urls`, `kept`)."""
    past_deadline: bool = False
    """Its job was still running at `--job-deadline`: the next run polls it again."""


@dataclass
class RunReport:
    """The whole run."""

    folder: str
    folder_uuid: str | None
    integration: str
    integration_id: str
    dry_run: bool = False
    interrupted: bool = False
    files: list[FileReport] = field(default_factory=list)
    would_create_folders: list[str] = field(default_factory=list)
    created_folders: list[str] = field(default_factory=list)

    def totals(self) -> dict[str, int]:
        """Sums over every file."""
        return {
            "files": len(self.files),
            "units": sum(f.units for f in self.files),
            "registered": sum(f.registered for f in self.files),
            "skipped_duplicates": sum(f.skipped_duplicates for f in self.files),
            "failed": sum(len(f.failed) for f in self.files),
            "cancelled": sum(f.cancelled for f in self.files),
            "removed_duplicates": sum(len(f.removed_duplicates) for f in self.files),
            "past_deadline_files": sum(1 for f in self.files if f.past_deadline),
            "rejected_files": sum(1 for f in self.files if f.state == FileState.REJECTED),
            "refused_files": sum(1 for f in self.files if f.state == FileState.REFUSED),
            "unfinished_files": sum(1 for f in self.files if f.state in UNFINISHED),
            "files_sent_this_run": sum(1 for f in self.files if f.sent_this_run),
        }

    def exit_status(self) -> ExitStatus:
        """OK when everything is registered; PARTIAL when some units failed.

        A file the SDK's models refused is an invalid registration file: USAGE, the exit
        code of any other invalid file, ahead of PARTIAL. A file still in flight (its job
        outlived `--job-deadline`) is REMOTE, ahead of PARTIAL: re-running is what it needs.
        """
        if self.interrupted:
            return ExitStatus.INTERRUPTED
        totals = self.totals()
        if totals["refused_files"]:
            return ExitStatus.USAGE
        if self.dry_run:
            return ExitStatus.OK
        if totals["unfinished_files"]:
            return ExitStatus.REMOTE
        if totals["failed"] or totals["cancelled"] or totals["rejected_files"]:
            return ExitStatus.PARTIAL
        return ExitStatus.OK

    def to_dict(self) -> dict[str, Any]:
        """The JSON report: what `dataclasses.asdict` gives, plus `totals` and `exit_status`.

        Built field by field, sharing the report's lists instead of deep-copying them as
        `asdict` does: a run of 100 files of 10,000 items holds a million item UUIDs, and
        copying them took about a second at the end of every run. Serialise it before the
        report changes.
        """
        body = _shallow(self)
        body["files"] = [
            {**_shallow(f), "failed": [_shallow(u) for u in f.failed]} for f in self.files
        ]
        body["totals"] = self.totals()
        body["exit_status"] = int(self.exit_status())
        return body


def _shallow(record: Any) -> dict[str, Any]:
    """A dataclass's fields as a dict, the values themselves (not copies)."""
    return {f.name: getattr(record, f.name) for f in fields(record)}


def file_report(
    manifest: ManifestFile, chain: list[Submission], sent: bool, overdue: bool = False
) -> FileReport:
    """Fold a file's submissions (first send, then re-sends of failures) into its fate.

    After a lost answer, the item kept per unit (`Submission.kept`: created by this tool's
    calls after the lost answer, by the lost job or a re-send) counts as registered, with its
    UUID, whichever job made it; a copy removed as a duplicate leaves `item_uuids`, and a done
    unit with no item of its own or kept counts as skipped (a baseline item held it). A state
    written before `kept` existed counts the removed copies as skipped, as that version did.
    Every done unit counts once: registered + skipped + failed + cancelled = units once the
    file is final. `overdue`: this run stopped polling its job at the deadline.
    """
    report = FileReport(file=manifest.key, units=manifest.units, state=FileState.NOT_SENT)
    report.sent_this_run = sent
    report.past_deadline = overdue
    if not chain:
        return report
    report.forced_skip_duplicates = any(s.forced_skip_duplicates for s in chain)
    report.jobs = [s.job_uuid for s in chain if s.job_uuid]
    last_final: Submission | None = None
    counted: set[str] = set()
    for sub in chain:
        if sub.status is Status.FINISHED and sub.result is not None:
            removed = {str(r["uuid"]) for r in sub.removed or []}
            created = list(map(str, map(itemgetter(0), sub.result.get("items", []))))
            own = [uid for uid in created if uid not in removed] if removed else created
            # Kept after a lost answer but made by another of this tool's jobs (the lost one);
            # an item an earlier submission of the file counted is not counted again.
            kept = dict.fromkeys(str(k["uuid"]) for k in sub.kept or [])
            mine = set(own) if kept else set()
            theirs = [uid for uid in kept if uid not in counted and uid not in mine]
            report.registered += len(own) + len(theirs)
            report.item_uuids += own + theirs
            counted.update(own, theirs)
            # A done unit without an item of its own or kept: skipped (another item holds it).
            done_without = skipped_duplicates(sub.result) + len(created) - len(own)
            report.skipped_duplicates += max(0, done_without - len(theirs))
            report.removed_duplicates += list(sub.removed or [])
            last_final = sub
        elif sub.status in (Status.REJECTED, Status.REFUSED):
            last_final = sub
    if chain[-1].status in (Status.NEW, Status.STARTING, Status.STARTED):
        report.state = FileState.IN_FLIGHT
    if last_final is None:
        return report
    if last_final.status is Status.REFUSED:
        report.error = last_final.error
        report.problems = list((last_final.result or {}).get("problems", []))
        if report.state != FileState.IN_FLIGHT:
            report.state = FileState.REFUSED
        return report
    if last_final.status is Status.REJECTED:
        report.error = last_final.error
        if report.state != FileState.IN_FLIGHT:
            report.state = FileState.REJECTED
        return report
    result = last_final.result or {}
    report.failed = [FailedUnit(list(e["urls"]), e["error"]) for e in result.get("unit_errors", [])]
    report.cancelled = int(result.get("cancelled", 0))
    if report.state != FileState.IN_FLIGHT:
        failed = report.failed or report.cancelled
        report.state = FileState.PARTIAL if failed else FileState.REGISTERED
    return report


def write_report(report: RunReport, path: Path) -> None:
    """Write the JSON report (atomically: a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2))
    partial.replace(path)


def render_summary(
    report: RunReport,
    console: Reporter,
    max_failures: int = MAX_FAILURES_SHOWN,
    max_files: int = MAX_FILES_SHOWN,
) -> None:
    """The human summary: a line per file, failures with their URLs, then totals.

    Past `max_files` files, only those not completely registered get a line.
    """
    where = report.folder + (f" ({report.folder_uuid})" if report.folder_uuid else "")
    console.info(f"folder: {where}; integration: {report.integration} ({report.integration_id})")
    if report.would_create_folders:
        console.info("dry run: would create folders " + ", ".join(report.would_create_folders))
    for folder in report.created_folders:
        console.info(f"created folder {folder}")
    shown = 0
    quiet = len(report.files) > max_files
    for f in report.files:
        if quiet and f.state == FileState.REGISTERED:
            continue
        line = (
            f"{f.file}: {f.state}; units {f.units}, registered {f.registered}, "
            f"skipped as duplicates {f.skipped_duplicates}, failed {len(f.failed)}"
        )
        if f.cancelled:
            line += f", cancelled {f.cancelled} (sent again by the next run)"
        if f.removed_duplicates:
            line += f", duplicates removed {len(f.removed_duplicates)}"
        if f.past_deadline:
            line += "; its job was still running at --job-deadline (the next run polls it again)"
        if f.error:
            line += f"; error: {f.error}"
        console.info(line)
        for unit in f.failed:
            if shown < max_failures:
                console.info(f"  failed {' '.join(unit.urls)}: {unit.error}")
            shown += 1
    if shown > max_failures:
        console.info(f"  ... and {shown - max_failures} more failures (see the --report file)")
    t = report.totals()
    if quiet:
        done = sum(1 for f in report.files if f.state == FileState.REGISTERED)
        console.info(f"{done} of {len(report.files)} files registered completely")
    console.info(
        f"total: {t['files']} files, {t['units']} units: registered {t['registered']}, "
        f"skipped as duplicates {t['skipped_duplicates']}, failed {t['failed']}, "
        f"cancelled {t['cancelled']}, rejected files {t['rejected_files']}; "
        f"files sent this run {t['files_sent_this_run']}"
    )
    if t["removed_duplicates"]:
        console.info(
            f"{t['removed_duplicates']} duplicate items made by re-sending after a lost answer "
            "were removed (the report lists each with the item kept)"
        )
    if t["past_deadline_files"]:
        console.info(
            f"{t['past_deadline_files']} files are still being registered by Encord after "
            "--job-deadline: run the same command again later to follow their jobs"
        )
    if t["refused_files"]:
        console.info(
            f"{t['refused_files']} files were refused by the encord SDK's models and not sent: "
            "fix the items named above (the --report file lists every one) and run again"
        )
    if t["failed"]:
        console.info("re-run with --retry-failed to send only the failed units again")
