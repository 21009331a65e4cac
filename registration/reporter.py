"""How the stages tell a person what happens: a small protocol, so no stage prints.

The CLI's `Console` implements it (progress on a terminal, plain lines in CI); a Lambda or
a library caller can pass `SILENT` or its own logger-backed object.
"""

from __future__ import annotations

from typing import Protocol


class Reporter(Protocol):
    """Where a stage sends what it wants a person to know."""

    def info(self, message: str) -> None:
        """A line of normal output."""

    def warn(self, message: str) -> None:
        """Something the user should look at; the run goes on."""

    def progress(self, label: str, done: int, total: int | None = None) -> None:
        """How far a long step is (`done` of `total`, when known)."""


class Silent:
    """A reporter that says nothing."""

    def info(self, message: str) -> None:
        """Ignored."""

    def warn(self, message: str) -> None:
        """Ignored."""

    def progress(self, label: str, done: int, total: int | None = None) -> None:
        """Ignored."""


SILENT: Reporter = Silent()
