"""The register stage's entry points: which files to send, and sending them.

`state_path` decides where the state lives (first, so that its lock is taken before any
remote call); `prepare_files` decides what is sent (the given directory, a `--schema`-checked
copy of it, or files built on the fly from a source); `register` holds the state's lock,
resolves the integration and folder and drives the registrar; both take frozen records.
Files built on the fly are sent as files cut from them adaptively (`cuts`, `adaptive`)
unless `RegisterOptions.adaptive` is off; the report then lists the cut files.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from registration.build.manifests import build_manifests
from registration.build.plan import file_limits
from registration.build.spec import BuildOptions, OutputSpec, SourceSpec
from registration.encord.client import EncordSession
from registration.encord.connection import EncordConnection
from registration.encord.formats import ItemCheck
from registration.encord.limits import DEFAULT_ITEMS_PER_FILE, DEFAULT_MAX_BYTES
from registration.encord.retry import RetryPolicy, Stopped
from registration.encord.upload_items import ItemsRefused, upload_items
from registration.errors import UsageError
from registration.metadata_schema.filtering import schema_checked_manifests
from registration.register.adaptive import SizeController
from registration.register.cuts import CUTS_DIR, AdaptiveCuts
from registration.register.files import ManifestFile, iter_manifest_files
from registration.register.lock import hold_state_lock
from registration.register.registrar import Registrar, SubmitOptions
from registration.register.report import (
    FileReport,
    FileState,
    RunReport,
    file_report,
    write_report,
)
from registration.register.spec import (
    STATE_DIR,
    STATE_FILE,
    EncordTarget,
    RegisterOptions,
    SubmitForm,
)
from registration.register.state import StateStore
from registration.reporter import Reporter

SCHEMA_CHECKED_DIR = "schema-checked"
"""Under the state directory: copies of the files without the items `--schema` refuses."""
BUILT_DIR = "manifests"
"""Under the state directory: files built on the fly from a source."""


@dataclass(frozen=True)
class PreparedFiles:
    """The registration files to send and the state file that remembers them."""

    directory: Path
    files: tuple[ManifestFile, ...]
    state: Path
    built: bool = False
    """The files were built by this run from a source (then they may be cut adaptively)."""
    max_items: int = DEFAULT_ITEMS_PER_FILE
    max_bytes: int = DEFAULT_MAX_BYTES
    """The file limits they were built with (`--max-items`, `--max-bytes`, `--plan`)."""


def state_path(manifests: Path | None, source: SourceSpec, state: Path | None) -> Path:
    """Where the state lives: `state`, else beside `manifests`, else in the current directory.

    Decided before anything else, so that its lock (`lock.hold_state_lock`) can be taken
    before any remote call; raises UsageError when there is no input at all.
    """
    if manifests is not None:
        return state or manifests / STATE_DIR / STATE_FILE
    if not source.given:
        raise UsageError(
            "no input: give --manifests DIR (the output of `encord-register manifest`), "
            "or a source option of `manifest` such as --bucket NAME or --stack-outputs FILE"
        )
    return state or Path(STATE_DIR) / STATE_FILE


def prepare_files(
    manifests: Path | None,
    source: SourceSpec,
    build: BuildOptions,
    state: Path | None,
    checks: Sequence[ItemCheck],
    reporter: Reporter,
    meanwhile: Callable[[], object] | None = None,
) -> PreparedFiles:
    """The files to send: `manifests`, or built from `source`; `checks` applied to either.

    Refused items are left out of copies of the files (the originals are never
    rewritten), before anything is sent; the state stays beside the original files.
    `meanwhile`: work to do while worker processes read the files (`iter_manifest_files`).
    """
    state = state_path(manifests, source, state)
    if manifests is not None:
        directory = manifests
        if checks:
            directory = schema_checked_manifests(
                manifests, state.parent / SCHEMA_CHECKED_DIR, checks, reporter
            )
    else:
        directory = state.parent / BUILT_DIR
        build_manifests(
            source, build, OutputSpec(directory, force=True), reporter, item_checks=checks
        )
        max_items, max_bytes = file_limits(build)
        files = tuple(iter_manifest_files(directory, meanwhile=meanwhile))
        return PreparedFiles(directory, files, state, True, max_items, max_bytes)
    files = tuple(iter_manifest_files(directory, meanwhile=meanwhile))
    return PreparedFiles(directory, files, state)


def register(
    prepared: PreparedFiles,
    target: EncordTarget,
    options: RegisterOptions,
    connection: EncordConnection,
    reporter: Reporter,
) -> RunReport:
    """Resolve the integration and folder, then register every file (or plan it, dry run).

    The report is built from the state file, so it covers earlier runs too; with
    `options.report` it is written there on every exit once the folder is known, including
    Ctrl-C (then `KeyboardInterrupt` is raised) and failures (the error is raised).
    The state file's lock is held throughout (`StateInUse` when another run has it); a
    caller that builds the files (`prepare_files`) takes it before that, as the CLI does.
    """
    with hold_state_lock(prepared.state, reporter, create=not options.dry_run):
        return _register(prepared, target, options, connection, reporter)


def _register(
    prepared: PreparedFiles,
    target: EncordTarget,
    options: RegisterOptions,
    connection: EncordConnection,
    reporter: Reporter,
) -> RunReport:
    options.check()
    session = EncordSession(
        connection.client(),
        policy=RetryPolicy(max_attempts=options.max_retries, base_delay=options.retry_base_delay),
        on_retry=lambda action, attempt, exc, wait: reporter.warn(
            f"{action}: {type(exc).__name__}, retrying in {wait:.1f}s (attempt {attempt})"
        ),
    )
    integration = session.resolve_integration(target.integration)
    folder = session.resolve_folder(
        target.folder,
        description=target.folder_description,
        create=target.create_folder,
        dry_run=options.dry_run,
    )
    report = RunReport(
        folder=folder.path,
        folder_uuid=folder.uuid,
        integration=integration.title,
        integration_id=integration.id,
        dry_run=options.dry_run,
        would_create_folders=folder.would_create,
        created_folders=folder.created,
    )
    if options.dry_run:
        _plan(prepared, folder.uuid, report, options.submit_form)
        _write(report, options)
        return report

    state = StateStore(prepared.state)
    cuts = None
    if _adaptive(prepared, options, state, folder.uuid, reporter):
        assert folder.uuid is not None
        cuts = AdaptiveCuts(
            state,
            folder.uuid,
            prepared.files,
            prepared.state.parent / CUTS_DIR,
            SizeController(maximum=prepared.max_items),
            max_bytes=prepared.max_bytes,
        )
    # Each file's report is folded from the state as soon as the run is done with it (by the
    # thread that sent it, while other jobs run), not all at the end: reading 100 files'
    # results back took about a second after the last job.
    finished: dict[str, FileReport] = {}
    registrar = Registrar(
        session,
        state,
        folder,
        SubmitOptions(
            integration_id=integration.id,
            ignore_errors=options.ignore_errors,
            retry_failed=options.retry_failed,
            jobs=options.jobs,
            form=options.submit_form,
            job_deadline=options.job_deadline,
        ),
        on_progress=lambda done, total: reporter.progress("units", done, total),
        on_job=cuts,
        on_file=lambda m: finished.__setitem__(m.key, file_report_of(m)),
    )

    def file_report_of(m: ManifestFile) -> FileReport:
        return file_report(
            m,
            state.chain(registrar.folder_uuid, m.key, m.sha256),
            m.key in registrar.sent,
            overdue=m.key in registrar.overdue,
        )

    def fold() -> None:
        sent = cuts.files() if cuts is not None else prepared.files
        report.files = [finished.get(m.key) or file_report_of(m) for m in sent]
        if cuts is not None:
            for decision in cuts.controller.decisions:
                reporter.info(f"adaptive file size: {decision.reason}")
            cuts.controller.decisions.clear()

    try:
        if cuts is not None:
            registrar.run(cuts, cuts.total_units)
        else:
            registrar.run(list(prepared.files))
    except (KeyboardInterrupt, Stopped):
        session.stop.set()
        report.interrupted = True
        fold()
        _write(report, options)
        raise KeyboardInterrupt from None
    except BaseException:
        session.stop.set()
        fold()
        _write(report, options)
        raise
    fold()
    _write(report, options)
    return report


def _adaptive(
    prepared: PreparedFiles,
    options: RegisterOptions,
    state: StateStore,
    folder_uuid: str | None,
    reporter: Reporter,
) -> bool:
    """Whether to cut the built files adaptively: as asked, unless this state already sent
    into this folder the other way (switching would send items again), which is then kept."""
    if not prepared.built or folder_uuid is None:
        return False
    if state.cuts(folder_uuid):
        if not options.adaptive:
            reporter.info(
                "--no-adaptive: an earlier run cut the files it sent into this folder "
                "adaptively; this one goes on the same way, so that no item is sent twice"
            )
        return True
    if options.adaptive and state.sent_any(folder_uuid, [m.key for m in prepared.files]):
        reporter.info(
            "an earlier run sent the built files into this folder as they are (--no-adaptive); "
            "this one goes on the same way, so that no item is sent twice"
        )
        return False
    return options.adaptive


def _write(report: RunReport, options: RegisterOptions) -> None:
    if options.report is not None:
        write_report(report, options.report)


def _plan(
    prepared: PreparedFiles, folder_uuid: str | None, report: RunReport, form: SubmitForm
) -> None:
    """A dry run's report: what each file's state says, unsent files marked `would_send`.

    On the typed path an unsent file is checked by the SDK's models as a real run would:
    one they refuse is reported `refused`, with its problems.
    """
    state = StateStore(prepared.state) if prepared.state.exists() and folder_uuid else None
    for manifest in prepared.files:
        chain = (
            state.chain(folder_uuid, manifest.key, manifest.sha256) if state and folder_uuid else []
        )
        entry = file_report(manifest, chain, sent=False)
        if entry.state is FileState.NOT_SENT:
            entry.state = FileState.WOULD_SEND
            if form is SubmitForm.TYPED:
                try:
                    upload_items(manifest.load(), manifest.key)
                except ItemsRefused as exc:
                    entry.state = FileState.REFUSED
                    entry.error = exc.message
                    entry.problems = [p.to_json() for p in exc.problems]
        report.files.append(entry)
