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
just before it is sent; one the SDK's models refuse is recorded `refused` with every
problem and never sent (the next run checks it again).
"""

from __future__ import annotations

import functools
import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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
from registration.encord.retry import Stopped
from registration.encord.upload_items import ItemsRefused, upload_items
from registration.register.duplicates import DuplicateCleanup, cancelled_urls, failed_urls
from registration.register.files import ManifestFile
from registration.register.spec import DEFAULT_JOB_DEADLINE, DEFAULT_SUBMIT_FORM, SubmitForm
from registration.register.state import FINAL_STATUSES, Kind, StateStore, Status, Submission


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


class Registrar:
    """Registers manifest files into one folder, resumably."""

    def __init__(
        self,
        session: EncordSession,
        state: StateStore,
        folder: FolderRef,
        options: SubmitOptions,
        on_progress: Callable[[int, int], None] | None = None,
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
        self.cleanup = DuplicateCleanup(session, state, folder)
        self._progress_lock = threading.Lock()
        self._units_done = 0
        self._units_total = 0
        self._failure: BaseException | None = None

    # -- the run --------------------------------------------------------------------------
    def run(self, files: list[ManifestFile]) -> None:
        """Process every file with `jobs` workers; raise the first fatal error."""
        self._units_total = sum(f.units for f in files)
        work: queue.Queue[ManifestFile] = queue.Queue()
        for manifest in files:
            work.put(manifest)
        workers = [
            threading.Thread(target=self._worker, args=(work,), daemon=True, name=f"register-{n}")
            for n in range(max(1, min(self.options.jobs, len(files))))
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

    def _worker(self, work: queue.Queue[ManifestFile]) -> None:
        while not self.stop.is_set():
            try:
                manifest = work.get_nowait()
            except queue.Empty:
                return
            try:
                self.process(manifest)
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
    def process(self, manifest: ManifestFile) -> None:
        """Bring one file to a final state (registered, partially failed, rejected or refused)."""
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
        tail = self._drive(chain[-1], manifest)
        if tail.status in FINAL_STATUSES:
            self._resend(tail, manifest, cancelled=resumed or self.options.retry_failed)
        for sub in self.state.chain(self.folder_uuid, manifest.key, manifest.sha256):
            self.cleanup.reconcile(sub, functools.partial(self._document, manifest=manifest))
        self._progress(manifest.units)

    def _drive(self, sub: Submission, manifest: ManifestFile) -> Submission:
        """Send and poll until final; a job still running at the deadline is left in flight."""
        while sub.status not in FINAL_STATUSES:
            if self.stop.is_set():
                raise Stopped
            if sub.status in (Status.NEW, Status.STARTING):
                self._submit(sub, manifest)
            elif sub.status is Status.STARTED and not self._await(sub):
                self.overdue.add(manifest.key)
                return sub
            sub = self.state.get(sub.id)
        return sub

    def _document(self, sub: Submission, manifest: ManifestFile) -> dict[str, Any]:
        return sub.document if sub.document is not None else manifest.load()

    def _submit(self, sub: Submission, manifest: ManifestFile) -> None:
        document = self._document(sub, manifest)
        fate_unknown = sub.status is Status.STARTING
        typed = None
        if self.options.form is SubmitForm.TYPED:
            try:
                typed = upload_items(document, manifest.key)
            except ItemsRefused as exc:
                problems = [p.to_json() for p in exc.problems]
                self.state.mark_refused(sub.id, exc.message, problems)
                return
        self.sent.add(manifest.key)

        def payload(forced: bool) -> Any:
            if typed is not None:
                if forced and not typed.skip_duplicate_urls:
                    return typed.model_copy(update={"skip_duplicate_urls": True})
                return typed
            return with_skip_duplicates(document) if forced else document

        def attempt(number: int) -> str:
            # Any earlier attempt may have reached Encord: from then on, skip duplicates,
            # and check for duplicates once this job is final (`DuplicateCleanup`).
            unknown = fate_unknown or number > 1
            if unknown:
                self.cleanup.record_baseline(sub, document)
            forced = sub.forced_skip_duplicates or unknown
            self.state.mark_starting(sub.id, forced_skip_duplicates=forced, lost_answer=unknown)
            return self.session.start_job_once(
                self.folder.handle,
                self.options.integration_id,
                payload(forced),
                self.options.ignore_errors,
            )

        try:
            job_uuid = self.session.call(f"starting registration of {manifest.key}", attempt)
        except RequestRejected as exc:
            self.state.mark_rejected(sub.id, exc.message)
            return
        self.state.mark_started(sub.id, job_uuid)

    def _await(self, sub: Submission) -> bool:
        """Poll until the job is final or lost (True), or `job_deadline` passed (False)."""
        assert sub.job_uuid is not None
        deadline = time.monotonic() + self.options.job_deadline
        while True:
            if self.stop.is_set():
                raise Stopped
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                outcome = self.session.poll_job(
                    self.folder.handle,
                    sub.job_uuid,
                    min(self.options.poll_seconds, max(1, math.ceil(left))),
                )
            except JobLost:
                self.state.mark_lost(sub.id)
                return True
            if outcome.finished:
                self.state.mark_finished(sub.id, outcome.status.value, outcome_to_result(outcome))
                return True

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
        document = self._document(tail, manifest)
        urls = failed_urls(tail) if self.options.retry_failed else []
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
        return self._drive(self.state.get(sid), manifest)
