"""Send units to Encord: one job per invocation (per Encord file-size chunk), exactly once.

Units (a single file's item, a group's item, or a sidecar's metadata update) are packed into
registration documents within Encord's file limits (the build stage's `chunks`), turned into
the SDK's typed `DataUploadItems` (`upload_items`), and started with `skip_duplicate_urls`
always on (and `upsert_metadata` for metadata updates). The job UUID is recorded for every claim
of the chunk before the job is polled (`Claims.store_jobs`: objects on a few job pages, a group
on its record), so an invocation that dies while polling leaves it for the next owner, which
polls that job instead of sending again.

A start whose answer may be lost (the SDK's call is retried after a dropped connection or a
timeout, or the unit's claim was taken over with no job stored) is sent again only after its
units' baselines are on their claims; once the job is final, `duplicates.reconcile_unit`
removes what a lost job and the re-send may both have made. A chunk Encord refuses as invalid
(400) is sent again one unit at a time, so one bad item fails alone.

Results: `Registered` (with the item UUID when Encord's answer names it), `Failed` (Encord's
unit error, or the SDK's models refused the item: not retried), `Skipped` (the item fits no
registration file) or `Retry` (back to the queue; `in_flight` when a job may still hold it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Final

from registration.build import skips
from registration.build.chunking import chunks, fits_alone
from registration.build.items import BuiltItem
from registration.build.writer import FileLayout, build_document
from registration.continuous import metrics
from registration.continuous.claims import Claim, Claims
from registration.continuous.clock import Clock, Deadline
from registration.continuous.duplicates import baseline, reconcile_unit
from registration.continuous.items import item_title, item_urls
from registration.continuous.metrics import Journal
from registration.continuous.target import EncordTarget
from registration.encord.client import POLL_SECONDS, JobOutcome, JobStatus
from registration.encord.failures import JobLost, RequestRejected
from registration.encord.upload_items import ItemsRefused, upload_items
from registration.errors import AuthError, RegisterError

POLL_MARGIN_SECONDS: Final = 10
"""Polling stops this long before the invocation's deadline, to write the results (a job still
running then stays on its claims: the retry polls it)."""
START_MARGIN_SECONDS: Final = 15
"""No job is started with less time than this left (its UUID must be written on its claims
before the function is stopped; if it is not, the retry reconciles: `duplicates`)."""
SOURCE: Final = "continuous registration"
"""How refusals name the document (there is no file)."""


@dataclass(eq=False)
class Unit:
    """One item to send, and the claim that owns it (None for a metadata update)."""

    built: BuiltItem
    claim: Claim | None = None

    @property
    def title(self) -> str:
        """The item's title (what Encord's answer names the item by)."""
        return item_title(self.built)

    @property
    def urls(self) -> tuple[str, ...]:
        """The item's URL(s)."""
        return item_urls(self.built)


@dataclass(frozen=True)
class Registered:
    """Encord holds the unit: `item` (None when its answer does not say which item)."""

    job: str
    item: str | None
    duplicate: bool


@dataclass(frozen=True)
class Failed:
    """Encord (or the SDK's models) refused the unit: reported, not retried."""

    reason: str


@dataclass(frozen=True)
class Skipped:
    """The unit cannot be sent at all (a build-stage skip reason)."""

    reason: str
    detail: str


@dataclass(frozen=True)
class Retry:
    """Back to the queue; `in_flight`: a job may still hold the unit (its claim keeps it)."""

    reason: str
    in_flight: bool


Result = Registered | Failed | Skipped | Retry
_LOST: Final = "lost"


class Submitter:
    """Sends units through one `EncordTarget` for one invocation."""

    def __init__(
        self,
        target: EncordTarget,
        claims: Claims,
        journal: Journal,
        clock: Clock,
        deadline: Deadline,
        pool: Executor,
        *,
        max_items: int,
        max_bytes: int,
        poll_seconds: int = POLL_SECONDS,
    ) -> None:
        self.target = target
        self.claims = claims
        self.journal = journal
        self.clock = clock
        self.deadline = deadline
        self.pool = pool
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.poll_seconds = poll_seconds

    def submit(self, units: list[Unit], *, upsert: bool = False) -> dict[Unit, Result]:
        """Send `units` (those whose claim holds a job: poll it) and say what became of each."""
        results: dict[Unit, Result] = {}
        by_job: dict[str, list[Unit]] = {}
        fresh: list[Unit] = []
        for unit in units:
            if unit.claim is not None and unit.claim.job:
                by_job.setdefault(unit.claim.job, []).append(unit)
            else:
                fresh.append(unit)
        jobs = list(by_job.items())
        jobs += self._send(fresh, upsert, results)
        finals = self._await([job for job, _ in jobs])
        for job, members in jobs:
            self._settle(job, members, finals.get(job), results)
        return results

    # -- sending ---------------------------------------------------------------------------
    def _send(
        self, units: list[Unit], upsert: bool, results: dict[Unit, Result]
    ) -> list[tuple[str, list[Unit]]]:
        if not units:
            return []
        layout = FileLayout(skip_duplicate_urls=True, upsert_metadata=upsert)
        by_item = {id(unit.built): unit for unit in units}

        def too_large(built: BuiltItem, size: int) -> bool:
            if fits_alone(built, size, layout, self.max_bytes):
                return False
            detail = f"the item is {size:,} bytes; a registration file may take {self.max_bytes:,}"
            results[by_item[id(built)]] = Skipped(skips.ITEM_TOO_LARGE, detail)
            return True

        started: list[tuple[str, list[Unit]]] = []
        for chunk in chunks(
            (unit.built for unit in units),
            layout,
            self.max_items,
            max_bytes=self.max_bytes,
            too_large=too_large,
        ):
            started += self._start([by_item[id(b)] for b in chunk.items], upsert, results)
        return started

    def _one_by_one(
        self, units: list[Unit], upsert: bool, results: dict[Unit, Result]
    ) -> list[tuple[str, list[Unit]]]:
        started: list[tuple[str, list[Unit]]] = []
        for unit in units:
            started += self._start([unit], upsert, results)
        return started

    def _start(
        self, units: list[Unit], upsert: bool, results: dict[Unit, Result]
    ) -> list[tuple[str, list[Unit]]]:
        if self.deadline.left() < START_MARGIN_SECONDS:
            for unit in units:
                results[unit] = Retry("too little time left in this invocation", False)
            return []
        document = build_document(
            [unit.built for unit in units], skip_duplicate_urls=True, upsert_metadata=upsert
        )
        try:
            typed = upload_items(document, SOURCE)
        except ItemsRefused as exc:
            if len(units) > 1:
                return self._one_by_one(units, upsert, results)
            results[units[0]] = Failed("; ".join(str(p) for p in exc.problems))
            return []
        session, target = self.target.session, self.target
        tried = 0

        def attempt(number: int) -> str:
            nonlocal tried
            tried = number
            for unit in units:
                claim = unit.claim
                if (
                    claim is not None
                    and claim.baseline is None
                    and (number > 1 or claim.fate_unknown)
                ):
                    recorded = baseline(target, unit.title, unit.urls)
                    self.claims.store_baseline(claim, recorded, self.clock.now())
            return session.start_job_once(
                target.folder.handle, target.integration_id, typed, ignore_errors=True
            )

        try:
            job = session.call(f"starting a registration job of {len(units)} item(s)", attempt)
        except RequestRejected as exc:
            if len(units) > 1:
                return self._one_by_one(units, upsert, results)
            results[units[0]] = Failed(exc.message)
            return []
        except AuthError:
            raise
        except RegisterError as exc:
            for unit in units:
                results[unit] = Retry(exc.message, tried > 0)
            return []
        self.journal.count(metrics.JOBS)
        owned = self._store_job(units, job, results)
        return [(job, owned)] if owned else []

    def _store_job(self, units: list[Unit], job: str, results: dict[Unit, Result]) -> list[Unit]:
        claims = list(dict.fromkeys(unit.claim for unit in units if unit.claim is not None))
        try:
            stored = self.claims.store_jobs(claims, job, self.clock.now())
        except AuthError:
            raise
        except RegisterError as exc:  # the job runs; the retry finds no page: fate unknown
            self.journal.event("job_not_recorded", job=job, reason=exc.message)
            stored = {}
        owned = []
        for unit in units:
            if unit.claim is None or stored.get(unit.claim, False):
                owned.append(unit)
            else:
                results[unit] = Retry(f"job {job} could not be recorded on the claim", True)
        return owned

    # -- polling ---------------------------------------------------------------------------
    def _await(self, jobs: list[str]) -> dict[str, JobOutcome | str | None]:
        """Each job's final outcome, `_LOST`, or an error text; missing: still running."""
        finals: dict[str, JobOutcome | str | None] = {}
        pending = list(dict.fromkeys(jobs))
        handle = self.target.folder.handle
        while pending:
            left = self.deadline.left() - POLL_MARGIN_SECONDS
            if left <= 0:
                break
            job = pending.pop(0)
            try:
                outcome = self.target.session.poll_job(
                    handle, job, max(1, min(self.poll_seconds, int(left)))
                )
            except JobLost:
                finals[job] = _LOST
                continue
            except AuthError:
                raise
            except RegisterError as exc:
                finals[job] = exc.message
                continue
            if outcome.finished:
                finals[job] = outcome
            else:
                pending.append(job)
        return finals

    # -- results ---------------------------------------------------------------------------
    def _settle(
        self,
        job: str,
        units: list[Unit],
        final: JobOutcome | str | None,
        results: dict[Unit, Result],
    ) -> None:
        if final is None:
            for unit in units:
                results[unit] = Retry(f"Encord job {job} is still running", True)
            return
        if final == _LOST:
            now = self.clock.now()
            for unit in units:
                if unit.claim is not None:
                    self.claims.forget_job(unit.claim, now)
                results[unit] = Retry(f"Encord does not know job {job} any more", True)
            return
        if isinstance(final, str):
            for unit in units:
                results[unit] = Retry(f"polling Encord job {job}: {final}", True)
            return
        self._map(job, units, final, results)

    def _map(
        self, job: str, units: list[Unit], outcome: JobOutcome, results: dict[Unit, Result]
    ) -> None:
        failed = {url: error.error for error in outcome.unit_errors for url in error.urls}
        created = Counter(name for _, name in outcome.items)
        uuid_of = {name: uuid for uuid, name in outcome.items}
        titles = Counter(unit.title for unit in units)
        stopped = outcome.status in (JobStatus.CANCELLED, JobStatus.ERROR)
        for unit in units:
            title, urls = unit.title, unit.urls
            error = next((failed[url] for url in urls if url in failed), None)
            made = created[title] > 0
            undone = error is not None or (stopped and not made)
            item = uuid_of[title] if made and created[title] == 1 and titles[title] == 1 else None
            duplicate = not made
            claim = unit.claim
            if claim is not None and claim.baseline is not None:
                found = reconcile_unit(self.target, title, urls, claim.baseline, undone=undone)
                if found.removed:
                    self.journal.event(
                        "duplicates_removed", title=title, job=job, items=list(found.removed)
                    )
                item = found.item
                duplicate = item is None or item in claim.baseline
            if error is not None:
                results[unit] = Failed(error)
            elif undone:
                reason = f"Encord job {job} ended {outcome.status.value}"
                if outcome.errors:
                    reason += f": {'; '.join(outcome.errors)}"
                results[unit] = Retry(reason, False)
            else:
                results[unit] = Registered(job, item, duplicate)


def apply_in(pool: Executor, fn: Callable[[Unit], object], units: Iterable[Unit]) -> None:
    """Run `fn` on every unit in `pool` (table writes), raising the first error."""
    for _ in pool.map(fn, list(units)):
        pass
