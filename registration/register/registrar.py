"""The submit/poll/resume engine of `encord-register register`.

Each registration file goes through: record -> start a job (state written before and
after the call) -> long-poll until the job is final -> record the result. `jobs`
files are in flight at once, each on its own worker thread. Any file found half-way
(a start whose answer never arrived, a job never polled to the end) is resumed:
- `starting`: re-sent with `skip_duplicate_urls` forced on, so whatever the first
  attempt registered is skipped, not duplicated; once the re-sent job is final, the
  duplicates it may still have made (Encord running both jobs side by side) are removed,
  only ever among the items it created itself (`registration.register.duplicates`);
- `started`: its job is polled again, for at most `job_deadline` seconds per run (past
  that the file stays in flight, and the next run polls the same job again).
Units of a CANCELLED job are re-sent as a new submission on the next run; with
`retry_failed`, so are the units that failed (by URL). A rejected re-send is sent again
as it was (only those units), never the whole file.
On the typed path (the default) a document is turned into the SDK's `DataUploadItems`
before it is sent; one the SDK's models refuse is recorded `refused` with every
problem and never sent (the next run checks it again).

Pipelining: a file's client-side work is kept off the path between one job ending and the
next starting. `jobs + PREFETCH_FILES` threads take files in order; each prepares its file
(loads it, checks it with the SDK's models, serialises the start request: `job_requests`)
before it waits for one of `jobs` job slots (`slots.JobSlots`, granted in file order). A
slot is held from the start call until a poll says the job is final; the answer is parsed
and recorded after the slot is given back, while the next prepared file is already being
started. The state is written exactly as before: `starting` before each start call,
`started` after it, `finished` once the final answer is parsed (a crash before that polls
the same job again).

Long: one file's way through start, poll, re-send and clean-up is one state machine, kept in
one place so that its exactly-once reasoning can be read whole.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from dataclasses import dataclass
from typing import Any, Final, Protocol

from registration.encord.client import (
    POLL_SECONDS,
    EncordSession,
    FolderRef,
    JobOutcome,
)
from registration.encord.failures import JobLost, RequestRejected
from registration.encord.files import (
    count_units,
    select_units,
    with_skip_duplicates,
)
from registration.encord.job_requests import (
    JobRequest,
    JobState,
    poll_job_state,
    prepare_job,
    start_prepared_job_once,
)
from registration.encord.retry import Stopped
from registration.encord.upload_items import ItemsRefused, upload_items
from registration.register.duplicates import DuplicateCleanup, cancelled_urls, failed_urls
from registration.register.files import ManifestFile
from registration.register.slots import JobSlots, Ticket
from registration.register.spec import DEFAULT_JOB_DEADLINE, DEFAULT_SUBMIT_FORM, SubmitForm
from registration.register.state import FINAL_STATUSES, Kind, StateStore, Status, Submission

PREFETCH_FILES: Final = 2
"""Files prepared ahead (loaded, checked, serialised) beyond the `jobs` in flight: enough to
start the next file the moment a slot frees, few enough to keep memory to a couple of files."""


@dataclass(frozen=True)
class SubmitOptions:
    """How the registrar submits: the integration, error handling, parallelism, polling."""

    integration_id: str
    ignore_errors: bool = True
    retry_failed: bool = False
    jobs: int = 4
    poll_seconds: int = POLL_SECONDS
    form: SubmitForm = DEFAULT_SUBMIT_FORM
    job_deadline: float = DEFAULT_JOB_DEADLINE
    """Seconds one run polls a job at most; past that the file is left in flight."""


def outcome_to_result(outcome: JobOutcome) -> dict[str, Any]:
    """The JSON kept in the state store for a finished job."""
    return {
        "status": outcome.status.value,
        "items": [list(pair) for pair in outcome.items],
        "errors": list(outcome.errors),
        "unit_errors": [{"urls": list(e.urls), "error": e.error} for e in outcome.unit_errors],
        "pending": outcome.pending,
        "done": outcome.done,
        "failed": outcome.failed,
        "cancelled": outcome.cancelled,
    }


class JobListener(Protocol):
    """Told how each file's first job went (`cuts.AdaptiveCuts` sizes the next files by it)."""

    def observe(self, manifest: ManifestFile, seconds: float) -> None:
        """The job of a file sent in this run took `seconds` from its start to its end."""

    def failed(self, manifest: ManifestFile, why: str) -> None:
        """Encord rejected the file, or its job outlived `job_deadline`."""


@dataclass(frozen=True)
class _Prepared:
    """A submission's first start, ready to send: its document, typed form and request."""

    document: dict[str, Any]
    typed: Any
    forced: bool
    request: JobRequest


class Registrar:
    """Registers manifest files into one folder, resumably."""

    def __init__(
        self,
        session: EncordSession,
        state: StateStore,
        folder: FolderRef,
        options: SubmitOptions,
        on_progress: Callable[[int, int], None] | None = None,
        on_job: JobListener | None = None,
        on_file: Callable[[ManifestFile], None] | None = None,
    ) -> None:
        if folder.uuid is None or folder.handle is None:
            raise ValueError("the folder must exist before registering")
        self.session = session
        self.state = state
        self.folder = folder
        self.folder_uuid: str = folder.uuid
        self.options = options
        self.stop = session.stop
        self.sent: set[str] = set()
        self.overdue: set[str] = set()
        """Files whose job was still running at `job_deadline` (polled again next run)."""
        self._on_progress = on_progress
        self._on_job = on_job
        self._on_file = on_file
        self.cleanup = DuplicateCleanup(session, state, folder)
        self._progress_lock = threading.Lock()
        self._units_done = 0
        self._units_total = 0
        self._failure: BaseException | None = None
        self.slots = JobSlots(max(1, options.jobs), self.stop)
        self._take_lock = threading.Lock()

    # -- the run --------------------------------------------------------------------------
    def run(self, files: Iterable[ManifestFile], total_units: int | None = None) -> None:
        """Process every file with `jobs` job slots; raise the first fatal error.

        `files` may be produced as the run goes (`cuts.AdaptiveCuts`): it is read in order,
        one file at a time, by the thread that will send it; then `total_units` gives the
        progress total.
        """
        if isinstance(files, Sized):
            threads = min(self.options.jobs + PREFETCH_FILES, len(files))
        else:
            threads = self.options.jobs + PREFETCH_FILES
        if total_units is None:
            files = list(files)
            total_units = sum(f.units for f in files)
        self._units_total = total_units
        work = iter(files)
        workers = [
            threading.Thread(target=self._worker, args=(work,), daemon=True, name=f"register-{n}")
            for n in range(max(1, threads))
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            # Short joins keep the main thread responsive to Ctrl-C; the workers are
            # daemons so an interrupt never waits for a long poll to return.
            while worker.is_alive():
                worker.join(timeout=0.2)
        if self._failure is not None:
            raise self._failure

    def _worker(self, work: Iterator[ManifestFile]) -> None:
        while not self.stop.is_set():
            try:
                with self._take_lock:  # files and their places in the line for a slot, in order
                    manifest = next(work, None)
                    if manifest is None:
                        return
                    ticket = self.slots.ticket()
            except BaseException as exc:  # cutting the next file failed: handed to the main thread
                if self._failure is None:
                    self._failure = exc
                self.stop.set()
                return
            try:
                self.process(manifest, ticket)
            except Stopped:
                return
            except BaseException as exc:  # handed to the main thread
                if self._failure is None:
                    self._failure = exc
                self.stop.set()
                return

    def _progress(self, units: int) -> None:
        with self._progress_lock:
            self._units_done += units
            done, total = self._units_done, self._units_total
        if self._on_progress is not None:
            self._on_progress(done, total)

    # -- one file -------------------------------------------------------------------------
    def process(self, manifest: ManifestFile, ticket: Ticket | None = None) -> None:
        """Bring one file to a final state (registered, partially failed, rejected or refused).

        `ticket`: the file's place in the line for a job slot (a new one when None).
        """
        ticket = ticket if ticket is not None else self.slots.ticket()
        try:
            self._process(manifest, ticket)
        finally:
            self.slots.pass_on(ticket)

    def _process(self, manifest: ManifestFile, ticket: Ticket) -> None:
        chain = self.state.chain(self.folder_uuid, manifest.key, manifest.sha256)
        if chain and chain[-1].status is Status.REFUSED:
            # Never sent: check it again (the SDK, or what the file refers to, may differ).
            self.state.mark_unrefused(chain[-1].id)
            chain[-1] = self.state.get(chain[-1].id)
        if not chain:
            changed = self.state.other_versions(self.folder_uuid, manifest.key, manifest.sha256)
            sid = self.state.create(
                folder_uuid=self.folder_uuid,
                file_key=manifest.key,
                content_sha256=manifest.sha256,
                unit_count=manifest.units,
                # A changed file may repeat URLs already registered from its old version.
                forced_skip_duplicates=changed,
            )
            chain = [self.state.get(sid)]
        # Final before this run: a cancellation seen by an earlier run is resumed now.
        resumed = chain[-1].status in FINAL_STATUSES
        tail = self._drive(chain[-1], manifest, ticket)
        self.slots.pass_on(ticket)  # unused: the files after this one need not wait for it
        if tail.status in FINAL_STATUSES:
            self._resend(tail, manifest, cancelled=resumed or self.options.retry_failed)
        for sub in self.state.chain(self.folder_uuid, manifest.key, manifest.sha256):
            self.cleanup.reconcile(sub, functools.partial(self._document, manifest=manifest))
        if self._on_file is not None:  # this run will not change the file's state any more
            self._on_file(manifest)
        self._progress(manifest.units)

    def _drive(self, sub: Submission, manifest: ManifestFile, ticket: Ticket) -> Submission:
        """Send and poll until final; a job still running at the deadline is left in flight.

        The file is prepared before a slot is taken, and the final answer recorded after the
        slot is given back (see the module docstring).
        """
        while sub.status not in FINAL_STATUSES:
            if self.stop.is_set():
                raise Stopped
            prepared: _Prepared | None = None
            if sub.status in (Status.NEW, Status.STARTING):
                with self.slots.preparing(ticket):
                    prepared = self._prepare(sub, manifest)
                if prepared is None:  # refused by the SDK's models, recorded
                    sub = self.state.get(sub.id)
                    continue
            self.slots.acquire(ticket if not ticket.used else self.slots.ticket())
            polled: JobState | None = None
            lost = False
            started: float | None = None
            try:
                if prepared is not None:
                    started = time.monotonic()  # the job's wall time: its upload included
                    self._submit(sub, manifest, prepared)
                    del prepared  # the request's bytes are not needed any more
                    sub = self.state.get(sub.id)
                    if sub.status is not Status.STARTED:
                        self._tell("failed", sub, manifest, "was rejected")
                        continue
                polled = self._await(sub)
            except JobLost:
                lost = True
            finally:
                self.slots.release()
            if lost:
                self.state.mark_lost(sub.id)
            elif polled is None:
                self.overdue.add(manifest.key)
                self._tell("failed", sub, manifest, "outlived the job deadline")
                return sub
            else:
                if started is not None:
                    self._tell("observe", sub, manifest, time.monotonic() - started)
                outcome = polled.outcome()
                self.state.mark_finished(sub.id, outcome.status.value, outcome_to_result(outcome))
            sub = self.state.get(sub.id)
        return sub

    def _tell(self, what: str, sub: Submission, manifest: ManifestFile, detail: Any) -> None:
        """Pass a whole file's job timing or failure on to the listener (not a re-send's)."""
        if self._on_job is None or sub.kind is not Kind.FILE:
            return
        if what == "observe":
            self._on_job.observe(manifest, float(detail))
        else:
            self._on_job.failed(manifest, str(detail))

    def _document(self, sub: Submission, manifest: ManifestFile) -> dict[str, Any]:
        return sub.document if sub.document is not None else manifest.load()

    def _request(self, document: dict[str, Any], typed: Any, forced: bool) -> JobRequest:
        """The start request for `document` (or its `typed` form); `forced`: skip duplicates."""
        if typed is not None:
            if forced and not typed.skip_duplicate_urls:
                typed = typed.model_copy(update={"skip_duplicate_urls": True})
            payload = typed
        else:
            payload = with_skip_duplicates(document) if forced else document
        return prepare_job(self.options.integration_id, payload, self.options.ignore_errors)

    def _prepare(self, sub: Submission, manifest: ManifestFile) -> _Prepared | None:
        """Load, check and serialise what `sub` sends first; None when the SDK refuses it."""
        document = self._document(sub, manifest)
        typed = None
        if self.options.form is SubmitForm.TYPED:
            try:
                typed = upload_items(document, manifest.key)
            except ItemsRefused as exc:
                problems = [p.to_json() for p in exc.problems]
                self.state.mark_refused(sub.id, exc.message, problems)
                return None
        # The first attempt skips duplicates when the file asks to or an earlier start's
        # fate is unknown; a later attempt always does (`_submit`).
        forced = sub.forced_skip_duplicates or sub.status is Status.STARTING
        return _Prepared(document, typed, forced, self._request(document, typed, forced))

    def _submit(self, sub: Submission, manifest: ManifestFile, prepared: _Prepared) -> None:
        document = prepared.document
        fate_unknown = sub.status is Status.STARTING
        self.sent.add(manifest.key)

        def attempt(number: int) -> str:
            # Any earlier attempt may have reached Encord: from then on, skip duplicates,
            # and check for duplicates once this job is final (`DuplicateCleanup`).
            unknown = fate_unknown or number > 1
            if unknown:
                self.cleanup.record_baseline(sub, document)
            forced = sub.forced_skip_duplicates or unknown
            self.state.mark_starting(sub.id, forced_skip_duplicates=forced, lost_answer=unknown)
            request = prepared.request
            if forced != prepared.forced:
                request = self._request(document, prepared.typed, forced)
            return start_prepared_job_once(self.session, self.folder.handle, request)

        try:
            job_uuid = self.session.call(f"starting registration of {manifest.key}", attempt)
        except RequestRejected as exc:
            self.state.mark_rejected(sub.id, exc.message)
            return
        self.state.mark_started(sub.id, job_uuid)

    def _await(self, sub: Submission) -> JobState | None:
        """Poll until the job is final (its answer), or `job_deadline` passed (None).

        `JobLost` when Encord forgot the job. The answer is parsed later (`JobState.outcome`).
        """
        assert sub.job_uuid is not None
        deadline = time.monotonic() + self.options.job_deadline
        while True:
            if self.stop.is_set():
                raise Stopped
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            polled = poll_job_state(
                self.session,
                self.folder.handle,
                sub.job_uuid,
                min(self.options.poll_seconds, max(1, math.ceil(left))),
            )
            if polled.finished:
                return polled

    def _resend_document(
        self, tail: Submission, manifest: ManifestFile, cancelled: bool
    ) -> dict[str, Any] | None:
        """What to send again after a final submission: None when nothing.

        With `retry_failed`: a rejected submission as it was (a re-send holds only its
        units, a file all of it) and the failed units; with `cancelled`: a cancelled job's
        undone units.
        """
        if tail.status is Status.REJECTED:
            if not self.options.retry_failed:
                return None
            if tail.kind is Kind.RETRY and tail.document is not None:
                return tail.document
            return manifest.load()
        if tail.status is not Status.FINISHED:
            return None
        urls = failed_urls(tail) if self.options.retry_failed else []
        cancelled = cancelled and int((tail.result or {}).get("cancelled", 0)) > 0
        if not urls and not cancelled:
            return None  # the usual case, decided without reading the file again
        document = self._document(tail, manifest)
        if cancelled:
            urls += cancelled_urls(document, tail)
        return select_units(document, urls) if urls else None

    def _resend(self, tail: Submission, manifest: ManifestFile, cancelled: bool) -> Submission:
        document = self._resend_document(tail, manifest, cancelled)
        units = count_units(document) if document is not None else 0
        if document is None or units == 0:
            return tail
        sid = self.state.create(
            folder_uuid=self.folder_uuid,
            file_key=manifest.key,
            content_sha256=manifest.sha256,
            unit_count=units,
            kind=Kind.RETRY,
            parent_id=tail.id,
            document=document,
            forced_skip_duplicates=True,
        )
        ticket = self.slots.ticket()
        try:
            return self._drive(self.state.get(sid), manifest, ticket)
        finally:
            self.slots.pass_on(ticket)
