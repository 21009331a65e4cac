"""Job slots, granted in the order files were taken: how `--jobs` bounds the jobs in flight.

The registrar runs more threads than `--jobs` so that, while `jobs` registration jobs run,
the next files are already loaded, checked and serialised (`Registrar`): each thread takes
a `Ticket` when it takes a file, prepares it, then waits for a slot. Slots go to tickets
strictly in the order they were issued, so files are started in the order they are listed
(with `--jobs 1`, one after the other, as without the prefetch). A ticket that needs no slot
(its file is already registered, or refused before anything is sent) is passed, and the
tickets after it move up.

Preparing a file is CPU work under one interpreter lock, so the threads prepare one file at
a time, the earliest ticket waiting first (`preparing`): at the start of a run the first
file is ready after one file's work, not after all the prefetched files' work shared out.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from registration.encord.retry import Stopped

WAIT_SECONDS = 0.2
"""How often a thread waiting for a slot checks whether the run is stopping."""


@dataclass
class Ticket:
    """One place in the line for a slot; used at most once (acquired or passed)."""

    number: int
    used: bool = field(default=False)


class JobSlots:
    """`slots` slots, granted in ticket order; `acquire` raises `Stopped` once `stop` is set."""

    def __init__(self, slots: int, stop: threading.Event) -> None:
        if slots < 1:
            raise ValueError("at least one slot")
        self._cond = threading.Condition()
        self._free = slots
        self._issued = 0
        self._next = 0
        self._passed: set[int] = set()
        self._stop = stop
        self._preparing = False
        self._to_prepare: set[int] = set()

    def ticket(self) -> Ticket:
        """A place at the end of the line."""
        with self._cond:
            ticket = Ticket(self._issued)
            self._issued += 1
            return ticket

    def acquire(self, ticket: Ticket) -> None:
        """Wait until every earlier ticket is served and a slot is free; take the slot."""
        if ticket.used:
            raise ValueError("a ticket is used once")
        with self._cond:
            while not (ticket.number == self._next and self._free > 0):
                if self._stop.is_set():
                    raise Stopped
                self._cond.wait(WAIT_SECONDS)
            ticket.used = True
            self._free -= 1
            self._next += 1
            self._skip_passed()
            self._cond.notify_all()

    @contextmanager
    def preparing(self, ticket: Ticket) -> Iterator[None]:
        """Hold the one preparation turn: granted to the earliest ticket waiting for it.

        Only the tickets waiting are compared (a ticket that prepares nothing never blocks
        another), so the turn is never held up; `Stopped` once `stop` is set.
        """
        with self._cond:
            self._to_prepare.add(ticket.number)
            try:
                while self._preparing or ticket.number != min(self._to_prepare):
                    if self._stop.is_set():
                        raise Stopped
                    self._cond.wait(WAIT_SECONDS)
            finally:
                self._to_prepare.discard(ticket.number)
            self._preparing = True
        try:
            yield
        finally:
            with self._cond:
                self._preparing = False
                self._cond.notify_all()

    def release(self) -> None:
        """Give a slot back."""
        with self._cond:
            self._free += 1
            self._cond.notify_all()

    def pass_on(self, ticket: Ticket) -> None:
        """Give up a ticket that will not take a slot (no-op when it was used)."""
        with self._cond:
            if ticket.used:
                return
            ticket.used = True
            self._passed.add(ticket.number)
            self._skip_passed()
            self._cond.notify_all()

    def _skip_passed(self) -> None:
        while self._next in self._passed:
            self._passed.discard(self._next)
            self._next += 1
