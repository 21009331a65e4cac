"""Bounded retries with exponential backoff and full jitter.

The caller says which exceptions are transient (and whether the server asked for a
delay, as a 429's `Retry-After` does); everything else is raised at once. The wait
between attempts can be cut short by a stop event (Ctrl-C), which raises `Stopped`.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_BASE_DELAY = 0.5
DEFAULT_MAX_DELAY = 30.0


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a transient failure."""

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    base_delay: float = DEFAULT_BASE_DELAY
    max_delay: float = DEFAULT_MAX_DELAY

    def delay(self, attempt: int, hint: float | None, rng: random.Random) -> float:
        """Seconds to wait after failed `attempt` (1-based): full jitter, at least `hint`."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        jittered = rng.uniform(0, ceiling)
        return max(jittered, min(hint, self.max_delay)) if hint else jittered


@dataclass(frozen=True)
class Verdict:
    """How the classifier sees one exception."""

    transient: bool
    retry_after: float | None = None


class RetriesExhausted(Exception):
    """A transient failure persisted through every attempt."""

    def __init__(self, attempts: int, last: BaseException) -> None:
        super().__init__(f"gave up after {attempts} attempts: {last}")
        self.attempts = attempts
        self.last = last


class Stopped(Exception):
    """The stop event was set while waiting to retry."""


def call_with_retry(
    fn: Callable[[int], T],
    *,
    classify: Callable[[BaseException], Verdict],
    policy: RetryPolicy,
    stop: threading.Event | None = None,
    on_retry: Callable[[int, BaseException, float], None] | None = None,
    rng: random.Random | None = None,
) -> T:
    """Call `fn(attempt)` until it succeeds, a failure is not transient, or attempts run out."""
    generator = rng or random.Random()  # noqa: S311 - jitter, not cryptography
    attempt = 1
    while True:
        if stop is not None and stop.is_set():
            raise Stopped
        try:
            return fn(attempt)
        except Exception as exc:
            verdict = classify(exc)
            if not verdict.transient:
                raise
            if attempt >= policy.max_attempts:
                raise RetriesExhausted(attempt, exc) from exc
            wait = policy.delay(attempt, verdict.retry_after, generator)
            if on_retry is not None:
                on_retry(attempt, exc, wait)
            if stop is not None:
                if stop.wait(wait):
                    raise Stopped from exc
            else:
                threading.Event().wait(wait)
            attempt += 1
