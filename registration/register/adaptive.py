"""How many items the next registration file holds, when `register` cuts the files itself.

Encord's guide: "start with smaller uploads and gradually increase the size based on how
quickly jobs are processed". `SizeController` does that, and only that: it is pure (no
clock, no I/O; fed the jobs' timings), so its rule is tested by feeding it numbers.

- It starts at `start` items (`ADAPTIVE_START_ITEMS`), so the first items reach Encord soon.
- While growing, each new file is `GROWTH` times the last (a slow start, as TCP's): the
  size is not held back waiting for the jobs already sent, which would leave the first
  round of `--jobs` files all small. It never exceeds `maximum` (`--max-items`; the cutter
  also keeps each file within `--max-bytes` and Encord's URL limit).
- Each finished job gives a time per item (job wall time / its items). Growth stops as soon
  as a larger size is not at least `MIN_GAIN` faster per item than a smaller one already
  measured: the size then settles on the fastest size measured, and stays there.
- A file rejected for its size, or still running at `--job-deadline`, halves the size, and
  nothing larger than that is cut again in this run (never below `minimum`).
Every decision is logged with its reason (`Decision`), as the build's chunking says why it cut.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from statistics import median
from typing import Final

ADAPTIVE_START_ITEMS: Final = 500
"""Items in the first file cut adaptively: small enough to show up in Encord within the first
job's fixed cost, large enough that the time per item it measures means something."""
ADAPTIVE_MIN_ITEMS: Final = 50
"""The size never shrinks below this (ours): smaller files cost more per item than they save."""
GROWTH: Final = 4
"""Each file while growing holds this many times the items of the last: from 500 to 10,000
in three files. Each step has to pay for itself: while a job's fixed cost dominates (as it
does below thousands of items), every small file sent is a job's worth of time spent on few
items, and with doubling the first round of `--jobs` files is mostly small ones (about 20%
slower overall than 10,000-item files at 4 jobs, 2 s per job and 0.1 ms per item; about
even with quadrupling)."""
MIN_GAIN: Final = 0.05
"""A size must be at least this much faster per item than a smaller one to keep growing:
below it the difference is noise, and smaller files show up in Encord sooner."""


@dataclass(frozen=True)
class Decision:
    """A change of size and why (for the log)."""

    size: int
    reason: str


class SizeController:
    """The size of the next file: grows while the time per item falls, shrinks on failures.

    Thread-safe: the registrar's threads report jobs (`observe`, `failed`) while the cutter
    asks for sizes (`next_size`).
    """

    def __init__(
        self,
        maximum: int,
        start: int = ADAPTIVE_START_ITEMS,
        minimum: int = ADAPTIVE_MIN_ITEMS,
    ) -> None:
        if maximum < 1:
            raise ValueError("maximum must be at least 1")
        self.maximum = maximum
        self.minimum = max(1, min(minimum, maximum))
        self.ceiling = maximum
        """The largest size still allowed (lowered by failures)."""
        self.growing = True
        self._last: int | None = None
        self._start = max(self.minimum, min(start, maximum))
        self._per_item: dict[int, list[float]] = {}
        self._lock = threading.Lock()
        self.decisions: list[Decision] = []

    def resume_at(self, size: int) -> None:
        """Continue from an earlier run's last size (its measurements are not kept)."""
        with self._lock:
            self._last = max(self.minimum, min(size, self.ceiling))

    def next_size(self) -> int:
        """The items of the next file (the cutter may cut it shorter, at the end or on bytes)."""
        with self._lock:
            if self._last is None:
                size = self._start
            elif self.growing:
                size = min(self._last * GROWTH, self.ceiling)
            else:
                size = min(self._last, self.ceiling)
            self._last = size
            return size

    def observe(self, items: int, seconds: float) -> None:
        """A job of `items` items (as cut) took `seconds` from its start to its end."""
        if items < 1 or seconds <= 0:
            return
        with self._lock:
            self._per_item.setdefault(items, []).append(seconds / items)
            if not self.growing:
                return
            rate = median(self._per_item[items])
            smaller = [
                (median(rates), size) for size, rates in self._per_item.items() if size < items
            ]
            if smaller and rate > min(smaller)[0] * (1 - MIN_GAIN):
                best = min(
                    (median(rates), size)
                    for size, rates in self._per_item.items()
                    if size <= self.ceiling
                )[1]
                self.growing = False
                self._last = best
                self.decisions.append(
                    Decision(
                        best,
                        f"{items:,} items took {rate * 1000:.3f} ms per item, not "
                        f"{MIN_GAIN:.0%} less than {min(smaller)[1]:,} items "
                        f"({min(smaller)[0] * 1000:.3f} ms): settling on {best:,}",
                    )
                )

    def failed(self, items: int, why: str) -> None:
        """A file of `items` items was rejected for its size or outlived the job deadline."""
        with self._lock:
            size = max(self.minimum, items // 2)
            if size >= self.ceiling and self.ceiling <= self.minimum:
                return
            self.ceiling = max(self.minimum, min(self.ceiling, size))
            self.growing = False
            self._last = self.ceiling if self._last is None else min(self._last, self.ceiling)
            self.decisions.append(
                Decision(self.ceiling, f"a file of {items:,} items {why}: at most {size:,} now")
            )
