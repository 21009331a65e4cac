"""`encord-register register`: register the registration files into an Encord folder."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Any

import orjson

from registration.console import Console
from registration.errors import UsageError
from registration.exit_codes import ExitStatus
from registration.report import RunReport, file_report, render_summary, write_report

HELP = "register registration files into an Encord folder (resumable, exactly once)"
DESCRIPTION = """\
Find or create the folder, resolve the cloud integration, then submit every
registration file with add_private_data_to_folder_start and follow each job with
add_private_data_to_folder_get_result, several at a time. A state file records every
step: re-running the same command resumes, never registering anything twice.

Input: --manifests DIR (the output of `encord-register manifest`), or the source
options of `manifest` to build the files on the fly (kept under the state directory).
Credentials: --ssh-key-file, or ENCORD_SSH_KEY_FILE / ENCORD_SSH_KEY as the SDK reads
them; the key is never printed. Domain: --encord-domain or ENCORD_DOMAIN
(default https://api.encord.com; US: https://api.us.encord.com).
"""

STATE_DIR = ".encord-register"
STATE_FILE = "register-state.sqlite"
REPORT_FILE = "register-report.json"


def _manifest_command() -> Any | None:
    """The manifest command module, when it offers source options to reuse."""
    try:
        module = importlib.import_module("registration.commands.manifest")
    except ModuleNotFoundError:
        return None
    if hasattr(module, "add_source_arguments") and hasattr(module, "build_manifests"):
        return module
    return None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The register command's flags."""
    source = parser.add_argument_group("input")
    source.add_argument(
        "--manifests",
        type=Path,
        metavar="DIR",
        help="directory of registration files (*.json) from `encord-register manifest`",
    )
    manifest = _manifest_command()
    if manifest is not None:
        manifest.add_source_arguments(parser)
    enc = parser.add_argument_group("Encord")
    enc.add_argument("--ssh-key-file", type=Path, metavar="PATH", help="Encord SSH private key")
    enc.add_argument("--encord-domain", metavar="URL", help="API domain (default: ENCORD_DOMAIN)")
    enc.add_argument(
        "--integration",
        required=True,
        metavar="TITLE_OR_UUID",
        help="the cloud integration (exact title or UUID) Encord reads the bucket with",
    )
    enc.add_argument(
        "--folder",
        required=True,
        metavar="PATH",
        help="target folder, `parent/child` for nested folders (exact names), or its UUID",
    )
    enc.add_argument("--folder-description", metavar="TEXT", help="description for a new folder")
    enc.add_argument(
        "--no-create-folder",
        dest="create_folder",
        action="store_false",
        help="fail unless the folder already exists",
    )
    run = parser.add_argument_group("run")
    run.add_argument("--jobs", type=int, default=4, metavar="N", help="files in flight (default 4)")
    run.add_argument(
        "--ignore-errors",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="let a job finish when single units fail; they are reported (default on)",
    )
    run.add_argument(
        "--retry-failed", action="store_true", help="re-submit only the units that failed, by URL"
    )
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="resolve the integration and folder, create nothing, print what would be sent",
    )
    run.add_argument(
        "--state",
        type=Path,
        metavar="PATH",
        help=f"state file (default: {STATE_DIR}/{STATE_FILE} in the manifests directory, "
        "or in the current directory when the files are built on the fly)",
    )
    run.add_argument("--report", type=Path, metavar="PATH", help="write the JSON report here")
    run.add_argument("--json", action="store_true", help="print the JSON report on stdout")
    from registration.commands.schema import add_schema_check_argument

    add_schema_check_argument(parser)
    run.add_argument(
        "--max-retries",
        type=int,
        default=8,
        metavar="N",
        help="attempts per call on rate limits, 5xx, timeouts, dropped connections (default 8)",
    )
    run.add_argument(
        "--retry-base-delay",
        type=float,
        default=0.5,
        metavar="SECONDS",
        help="first backoff delay; doubles per attempt, with jitter (default 0.5)",
    )


def _check_args(args: argparse.Namespace) -> None:
    if args.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {args.jobs}")
    if args.max_retries < 1:
        raise UsageError(f"--max-retries must be at least 1, got {args.max_retries}")
    if args.retry_base_delay < 0:
        raise UsageError("--retry-base-delay must not be negative")


def _manifest_dir(args: argparse.Namespace, console: Console) -> Path:
    """The directory of registration files: given, or built now from the source options."""
    from registration.commands.schema import schema_checked_manifests, schema_item_checks

    checks = schema_item_checks(args)
    if args.manifests is not None:
        if checks:
            # Refused items are left out of copies of the files (originals untouched),
            # before anything is sent; the state stays beside the original files.
            args.state = args.state or Path(args.manifests) / STATE_DIR / STATE_FILE
            return schema_checked_manifests(
                Path(args.manifests), args.state.parent / "schema-checked", checks, console
            )
        return Path(args.manifests)
    manifest = _manifest_command()
    if manifest is None:
        raise UsageError("pass --manifests DIR (the output of `encord-register manifest`)")
    base = args.state.parent if args.state else Path(STATE_DIR)
    out_dir = base / "manifests"
    try:
        manifest.build_manifests(args, out_dir, console, fmt="json", force=True, item_checks=checks)
    except TypeError as exc:
        raise UsageError(
            f"pass --manifests DIR, or the source options of `manifest` ({exc})"
        ) from None
    return out_dir


def run(args: argparse.Namespace) -> int:
    """Register; return the exit status (PARTIAL when some units failed)."""
    from registration.encord_client import EncordSession, connect
    from registration.register_input import iter_manifest_files
    from registration.registrar import RegisterOptions, Registrar
    from registration.retry import RetryPolicy, Stopped
    from registration.state import StateStore

    _check_args(args)
    console = Console(json_mode=bool(args.json))
    manifests_dir = _manifest_dir(args, console)
    files = list(iter_manifest_files(manifests_dir))
    if args.state is not None:
        state_path = Path(args.state)
    elif args.manifests is not None:
        state_path = manifests_dir / STATE_DIR / STATE_FILE
    else:
        state_path = Path(STATE_DIR) / STATE_FILE  # beside the files built on the fly
    client = connect(ssh_key_file=args.ssh_key_file, domain=args.encord_domain)
    session = EncordSession(
        client,
        policy=RetryPolicy(max_attempts=args.max_retries, base_delay=args.retry_base_delay),
        on_retry=lambda action, attempt, exc, wait: console.warn(
            f"{action}: {type(exc).__name__}, retrying in {wait:.1f}s (attempt {attempt})"
        ),
    )
    integration = session.resolve_integration(args.integration)
    folder = session.resolve_folder(
        args.folder,
        description=args.folder_description,
        create=args.create_folder,
        dry_run=args.dry_run,
    )
    report = RunReport(
        folder=folder.path,
        folder_uuid=folder.uuid,
        integration=integration.title,
        integration_id=integration.id,
        dry_run=args.dry_run,
        would_create_folders=folder.would_create,
        created_folders=folder.created,
    )
    if args.dry_run:
        state = StateStore(state_path) if state_path.exists() and folder.uuid else None
        for manifest in files:
            chain = (
                state.chain(folder.uuid, manifest.key, manifest.sha256)
                if state and folder.uuid
                else []
            )
            entry = file_report(manifest, chain, sent=False)
            if entry.state == "not_sent":
                entry.state = "would_send"
            report.files.append(entry)
        return _finish(report, args, console)

    state = StateStore(state_path)
    registrar = Registrar(
        session,
        state,
        folder,
        RegisterOptions(
            integration_id=integration.id,
            ignore_errors=args.ignore_errors,
            retry_failed=args.retry_failed,
            jobs=args.jobs,
        ),
        on_progress=lambda done, total: console.progress("units", done, total),
    )

    def build() -> None:
        report.files = [
            file_report(
                m, state.chain(registrar.folder_uuid, m.key, m.sha256), m.key in registrar.sent
            )
            for m in files
        ]

    try:
        registrar.run(files)
    except (KeyboardInterrupt, Stopped):
        session.stop.set()
        report.interrupted = True
        build()
        if args.report:
            write_report(report, args.report)
        raise KeyboardInterrupt from None
    except BaseException:
        session.stop.set()
        build()
        if args.report:
            write_report(report, args.report)
        raise
    build()
    return _finish(report, args, console)


def _finish(report: RunReport, args: argparse.Namespace, console: Console) -> int:
    if args.report:
        write_report(report, args.report)
    if args.json:
        sys.stdout.write(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        render_summary(report, console)
    return int(report.exit_status() if not report.dry_run else ExitStatus.OK)
