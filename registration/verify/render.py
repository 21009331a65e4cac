"""How a `verify` report is shown: one line per check for people, one JSON document for CI."""

from __future__ import annotations

from typing import Any

from registration.verify.model import Report, Status


def human_lines(report: Report) -> list[str]:
    """``PASS|FAIL|SKIP  name  subject: message``, then ``  fix: ...``; notes; a count line."""
    width = max((len(r.name) for r in report.results), default=0)
    lines: list[str] = []
    for result in report.results:
        method = f" [{result.method}]" if result.method else ""
        lines.append(
            f"{result.status.label}  {result.name.ljust(width)}  "
            f"{result.subject}: {result.message}{method}"
        )
        if result.fix:
            lines.append(f"  fix: {result.fix}")
    lines.extend(f"note: {note}" for note in report.notes)
    lines.append(summary_line(report))
    return lines


def summary_line(report: Report) -> str:
    """``N passed, N failed, N not checked``."""
    return (
        f"{report.count(Status.PASSED)} passed, {report.count(Status.FAILED)} failed, "
        f"{report.count(Status.NOT_CHECKED)} not checked"
    )


def to_json(report: Report, exit_status: int) -> dict[str, Any]:
    """The report as one JSON document."""
    return {
        "ok": report.ok,
        "exit_status": exit_status,
        "summary": {
            "passed": report.count(Status.PASSED),
            "failed": report.count(Status.FAILED),
            "not_checked": report.count(Status.NOT_CHECKED),
        },
        "checks": [r.to_json() for r in report.results],
        "notes": list(report.notes),
    }
