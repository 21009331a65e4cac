"""Which Encord job holds an object: the job pages of the invocation that sent it.

An object's claim names the invocation holding it (``owner``). Once that invocation has started
a job, it writes the job's UUID and the ``obj`` partition keys of the objects the job holds on
pages under ``run#<owner>`` (`RUN_PAGE_BYTES` of keys a page; one BatchWriteItem writes up to 25
pages, so a job of 10,000 objects costs one request instead of 10,000 updates), and only then
polls the job. An invocation that takes a claim over once its owner's lease ran out reads the
owner's pages (one consistent Query per owner, kept for the next claims of the same owner) and
polls the job named there instead of sending again. No page names the object: its owner died
before its pages were written (or before it sent anything), so the object's fate is unknown and
`duplicates` handles it (baseline first, then a re-send, then the clean-up).

Pages are never changed once written (a job's objects are fixed when it starts) and expire
after `RUN_TTL_SECONDS`. A claim can be taken over only once its page is written (its owner is
dead, or released it after writing its pages), so the pages read for one owner are kept for the
rest of the invocation (`forget` at the start of the next).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any, Final

from registration.continuous import table as t
from registration.continuous.clock import iso
from registration.continuous.dynamo import StateTable

OWNERS_KEPT: Final = 4
"""Owners whose pages stay in memory (a retry takes over from one or two dead invocations)."""


def pages(job: str, pks: Iterable[str], now: float) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """The page records (key, record) of `job` holding `pks`: `RUN_PAGE_BYTES` of keys each."""
    chunk: list[str] = []
    size = 0
    number = 0

    def page() -> dict[str, Any]:
        return {
            t.JOB: job,
            t.KEYS: list(chunk),
            t.UPDATED_AT: iso(now),
            t.TTL: int(now) + t.RUN_TTL_SECONDS,
        }

    for pk in pks:
        weight = len(pk.encode("utf-8")) + 3  # the list's own bytes per entry, roughly
        if chunk and size + weight > t.RUN_PAGE_BYTES:
            yield t.run_job_sk(job, number), job, page()
            chunk, size, number = [], 0, number + 1
        chunk.append(pk)
        size += weight
    if chunk:
        yield t.run_job_sk(job, number), job, page()


class RunPages:
    """Job pages in the state table (thread-safe)."""

    def __init__(self, table: StateTable) -> None:
        self.table = table
        self._lock = threading.Lock()
        self._kept: OrderedDict[str, dict[str, str]] = OrderedDict()

    def forget(self) -> None:
        """Drop the pages kept in memory (a new invocation begins)."""
        with self._lock:
            self._kept.clear()

    def write(self, owner: str, job: str, pks: Iterable[str], now: float) -> None:
        """Record that `job`, started by `owner`, holds the objects `pks` (before polling it)."""
        pk = t.run_pk(owner)
        self.table.write_many(puts=[(pk, sk, record) for sk, _, record in pages(job, pks, now)])

    def job_of(self, owner: str, pk: str) -> str | None:
        """The job `owner` sent the object `pk` in (None when no page of it says so)."""
        with self._lock:
            jobs = self._kept.get(owner)
            if jobs is None:
                jobs = {}
                for page in self.table.query(t.run_pk(owner), t.RUN_JOB_SK_PREFIX):
                    for key in page.get(t.KEYS) or []:
                        jobs[str(key)] = str(page[t.JOB])
                self._kept[owner] = jobs
                while len(self._kept) > OWNERS_KEPT:
                    self._kept.popitem(last=False)
            else:
                self._kept.move_to_end(owner)
            return jobs.get(pk)
