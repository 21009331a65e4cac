"""The plan of a concurrent listing: pieces of the key space, in key order, shared by the
workers that list them and the reader that reads them back (`s3_listing`)."""

from __future__ import annotations

import queue
import threading
from typing import Any

from registration.build.sources import ObjectRecord

PAGES_BUFFERED_PER_PIECE = 4
"""Pages a piece holds before its worker waits for the reader."""
END = object()
"""Put in a piece's queue after its last page."""


class Siblings:
    """What the sub-prefixes found by one delimiter page learn from each other.

    Sub-prefixes side by side tend to look alike (``part-000/`` .. ``part-023/``): once one
    has shown its first keys and its last, the next ones are cut into pieces from the
    start instead of after a few pages.
    """

    def __init__(self, count: int) -> None:
        self.count = max(1, count)
        self.sample: list[str] | None = None
        """The keys (after their sub-prefix) of a sibling's first full page."""
        self.last: str | None = None
        """The last key (after its sub-prefix) of a sibling listed to its end."""


class Unit:
    """One prefix or sub-prefix, shared by its pieces."""

    def __init__(self, prefix: str, siblings: Siblings) -> None:
        self.prefix = prefix
        self.siblings = siblings
        self.expect: str | None = None
        """Where a sibling says this sub-prefix probably ends."""
        self.rounds = 0
        """How many times its open end was cut (how far ahead the next cut reaches)."""


class Piece:
    """Keys under `prefix` in ``(after, upto]`` (None: from the start, to the end).

    `expand`: list one delimiter page instead (from `token` when given) and replace the
    piece by what it shows. `sampled`: cut an open-ended piece after its first page.
    """

    def __init__(
        self,
        prefix: str,
        unit: Unit,
        *,
        after: str | None = None,
        upto: str | None = None,
        expand: bool = False,
        token: str | None = None,
        sampled: bool = False,
    ) -> None:
        self.prefix, self.unit, self.after, self.upto = prefix, unit, after, upto
        self.expand, self.token, self.sampled = expand, token, sampled
        self.started = False
        self.pages = 0
        self.queue: queue.Queue[Any] = queue.Queue(PAGES_BUFFERED_PER_PIECE)


Entry = Piece | list[ObjectRecord]


class Plan:
    """The pieces and direct objects still to be read, in key order (shared, locked)."""

    def __init__(self, entries: list[Entry], window: int) -> None:
        self.order = entries
        self.window = window
        self.cond = threading.Condition()
        self.active = 0
        self.stop = False

    def take(self) -> Piece | None:
        """An unstarted piece among the first `window` pieces (lock held): the first one
        that is `sampled` (an open stretch, whose first page decides how what follows is
        cut), so that the next pieces are known before the workers run out of them; else
        the first one."""
        counted = 0
        first: Piece | None = None
        for entry in self.order:
            if isinstance(entry, list):
                continue
            counted += 1
            if counted > self.window:
                break
            if entry.started:
                continue
            if entry.sampled:
                first = entry
                break
            if first is None:
                first = entry
        if first is not None:
            first.started = True
        return first

    def finished(self) -> bool:
        """Nothing is being listed and nothing is left to start (lock held)."""
        return self.active == 0 and not any(
            isinstance(e, Piece) and not e.started for e in self.order
        )

    def replace(self, piece: Piece, entries: list[Entry]) -> None:
        """Put `entries` right after `piece`, which they continue (lock taken here)."""
        with self.cond:
            at = next(i for i, e in enumerate(self.order) if e is piece)
            self.order[at + 1 : at + 1] = entries
            self.cond.notify_all()

    def put(self, piece: Piece, item: Any) -> bool:
        """Hand `item` to the reader; False when the reader has gone."""
        while not self.stop:
            try:
                piece.queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False
