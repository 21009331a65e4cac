"""The submit/poll/resume engine of `encord-register register`.

Each registration file goes through: record -> start a job (state written before and
after the call) -> long-poll until the job is final -> record the result. `jobs`
files are in flight at once, each on its own worker thread. Any file found half-way
(a start whose answer never arrived, a job never polled to the end) is resumed:
- `starting`: re-sent with `skip_duplicate_urls` forced on, so whatever the first
  attempt registered is skipped, not duplicated;
- `started`: its job is polled again.
With `retry_failed`, the units that failed in a file's last job are re-sent (by URL)
as a new submission.
On the typed path (the default) a document is turned into the SDK's `DataUploadItems`
just before it is sent; one the SDK's models refuse is recorded `refused` with every
problem and never sent (the next run checks it again).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from registration.encord.client import POLL_SECONDS, EncordSession, FolderRef, JobOutcome
from registration.encord.failures import JobLost, RequestRejected
from registration.encord.files import count_units, select_units, with_skip_duplicates
from registration.encord.retry import Stopped
from registration.encord.upload_items import ItemsRefused, upload_items
from registration.register.files import ManifestFile
from registration.register.spec import DEFAULT_SUBMIT_FORM, SubmitForm
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


def failed_urls(sub: Submission) -> list[str]:
    """Every URL of the units that failed in a finished submission."""
    result = sub.result or {}
    return [url for error in result.get("unit_errors", []) for url in error["urls"]]


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
        self._on_progress = on_progress
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
        tail = self._drive(chain[-1], manifest)
        if self.options.retry_failed:
            tail = self._retry_failures(tail, manifest)
        self._progress(manifest.units)

    def _drive(self, sub: Submission, manifest: ManifestFile) -> Submission:
        while sub.status not in FINAL_STATUSES:
            if self.stop.is_set():
                raise Stopped
            if sub.status in (Status.NEW, Status.STARTING):
                self._submit(sub, manifest)
            elif sub.status is Status.STARTED:
                self._await(sub)
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
            # Any earlier attempt may have reached Encord: from then on, skip duplicates.
            forced = sub.forced_skip_duplicates or fate_unknown or number > 1
            self.state.mark_starting(sub.id, forced_skip_duplicates=forced)
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

    def _await(self, sub: Submission) -> None:
        assert sub.job_uuid is not None
        while True:
            if self.stop.is_set():
                raise Stopped
            try:
                outcome = self.session.poll_job(
                    self.folder.handle, sub.job_uuid, self.options.poll_seconds
                )
            except JobLost:
                self.state.mark_lost(sub.id)
                return
            if outcome.finished:
                self.state.mark_finished(sub.id, outcome.status.value, outcome_to_result(outcome))
                return

    def _retry_failures(self, tail: Submission, manifest: ManifestFile) -> Submission:
        if tail.status is Status.REJECTED:
            document: dict[str, Any] = manifest.load()
        elif tail.status is Status.FINISHED and failed_urls(tail):
            document = select_units(self._document(tail, manifest), failed_urls(tail))
        else:
            return tail
        units = count_units(document)
        if units == 0:
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
