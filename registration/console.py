"""Human output of the CLI: progress on a terminal, quiet parseable lines otherwise.

Commands build a `Console` from their parsed arguments and use it for everything
they tell the user; `--json` switches human lines off (stderr still gets errors).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import TextIO


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

    def progress(self, label: str, done: int, total: int | None = None) -> None:
        """Report progress: a live line on a terminal, a plain line at most every 5 s otherwise."""
        now = time.monotonic()
        if self.interactive:
            if now - self._last_progress < 0.1:
                return
            text = f"{label}: {done:,}" + (f"/{total:,}" if total else "")
            print(f"\r\x1b[2K{text}", end="", file=self.err, flush=True)
            self._progress_open = True
        else:
            if now - self._last_progress < 5.0:
                return
            text = f"progress {label} {done}" + (f"/{total}" if total else "")
            print(text, file=self.err, flush=True)
        self._last_progress = now

    def _end_progress(self) -> None:
        if self._progress_open:
            print(file=self.err, flush=True)
            self._progress_open = False
