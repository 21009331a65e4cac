"""Everything the CLI writes goes through one `Console`: lines, progress, errors and JSON.

On a terminal progress is a live line; otherwise it is a plain line at most every few
seconds. With `--json`, stdout carries exactly one JSON document (`emit_json`) and the human
lines go to stderr. The console implements `registration.reporter.Reporter`, so the stages
report through it without printing themselves.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

import orjson

PROGRESS_INTERVAL_TERMINAL = 0.1
"""Seconds between redraws of the live progress line on a terminal."""
PROGRESS_INTERVAL_PLAIN = 5.0
"""Seconds between plain progress lines when stderr is not a terminal (CI logs)."""
JSON_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
"""How every JSON document the CLI prints is formatted: indented, keys sorted."""


@dataclass
class Console:
    """Where a command's human-facing output goes."""

    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    json_mode: bool = False
    interactive: bool | None = None
    _last_progress: float = 0.0
    _progress_open: bool = False

    def __post_init__(self) -> None:
        if self.interactive is None:
            self.interactive = bool(getattr(self.err, "isatty", lambda: False)())

    def info(self, message: str) -> None:
        """A line for people (suppressed with --json, where stdout carries JSON only)."""
        self._end_progress()
        print(message, file=self.err if self.json_mode else self.out, flush=True)

    def warn(self, message: str) -> None:
        """A warning, always on stderr."""
        self._end_progress()
        print(f"warning: {message}", file=self.err, flush=True)

    def error(self, message: str) -> None:
        """An error (the command's last word before its exit code), always on stderr."""
        self._end_progress()
        print(f"error: {message}", file=self.err, flush=True)

    def notice(self, message: str) -> None:
        """A line about the run itself (interrupted, ...), always on stderr."""
        self._end_progress()
        print(message, file=self.err, flush=True)

    def emit_json(self, document: Any) -> None:
        """Print `document` as the command's one JSON document on stdout."""
        self._end_progress()
        self.out.write(orjson.dumps(document, option=JSON_OPTIONS).decode() + "\n")
        self.out.flush()

    def progress(self, label: str, done: int, total: int | None = None) -> None:
        """Report progress: a live line on a terminal, a plain line at most every 5 s otherwise."""
        now = time.monotonic()
        if self.interactive:
            if now - self._last_progress < PROGRESS_INTERVAL_TERMINAL:
                return
            text = f"{label}: {done:,}" + (f"/{total:,}" if total else "")
            print(f"\r\x1b[2K{text}", end="", file=self.err, flush=True)
            self._progress_open = True
        else:
            if now - self._last_progress < PROGRESS_INTERVAL_PLAIN:
                return
            text = f"progress {label} {done}" + (f"/{total}" if total else "")
            print(text, file=self.err, flush=True)
        self._last_progress = now

    def _end_progress(self) -> None:
        if self._progress_open:
            print(file=self.err, flush=True)
            self._progress_open = False
