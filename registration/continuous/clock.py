"""Time as the engine sees it: an injectable clock (tests use a fake one) and one spelling of it.

Leases, quiet periods and record times read `Clock.now()` (epoch seconds); how long this
invocation may still run is Lambda's business (`Deadline`, from the invocation's context).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from registration.continuous.settings import FUNCTION_TIMEOUT_SECONDS


class Clock(Protocol):
    """Where the engine reads the time."""

    def now(self) -> float:
        """Seconds since the epoch."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        """Seconds since the epoch."""
        return time.time()


def iso(moment: float) -> str:
    """`moment` as ISO-8601 UTC with milliseconds (``2026-01-02T03:04:05.678Z``)."""
    text = datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


@dataclass(frozen=True)
class Deadline:
    """When this invocation must be done (monotonic seconds), from Lambda's context."""

    at: float

    @classmethod
    def from_context(cls, context: Any) -> Deadline:
        """The deadline `context.get_remaining_time_in_millis()` gives (without a context: the
        function timeout the construct deploys)."""
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        seconds = remaining() / 1000.0 if callable(remaining) else float(FUNCTION_TIMEOUT_SECONDS)
        return cls(time.monotonic() + seconds)

    def left(self) -> float:
        """Seconds left (negative once past)."""
        return self.at - time.monotonic()
