"""`encord-register register`: register the registration files into an Encord folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from registration.cli import options
from registration.cli.console import Console
from registration.encord.connection import load_sdk
from registration.encord.retry import DEFAULT_BASE_DELAY, DEFAULT_MAX_ATTEMPTS
from registration.errors import UsageError
from registration.metadata_schema.organisation import schema_item_checks
from registration.register.adaptive import ADAPTIVE_START_ITEMS
from registration.register.lock import hold_state_lock
from registration.register.report import render_summary
from registration.register.run import prepare_files, register, state_path
from registration.register.spec import (
    DEFAULT_JOB_DEADLINE,
    DEFAULT_JOBS,
    DEFAULT_SUBMIT_FORM,
    STATE_DIR,
    STATE_FILE,
    EncordTarget,
    RegisterOptions,
    SubmitForm,
)

HELP = "register registration files into an Encord folder (resumable, exactly once)"
DESCRIPTION = """\
Find or create the folder, resolve the cloud integration, then submit every
registration file with add_private_data_to_folder_start (as the SDK's typed
DataUploadItems, checked by its models before anything is sent) and follow each job
with add_private_data_to_folder_get_result, several at a time. A state file records every
step: re-running the same command resumes, never registering anything twice.

Input: --manifests DIR (the output of `encord-register manifest`), or the source
options of `manifest` to build the files on the fly (kept under the state directory);
those are sent as files cut from them, small at first and growing while Encord gets
faster per item (--no-adaptive: as built).
Credentials: --ssh-key-file, or ENCORD_SSH_KEY_FILE / ENCORD_SSH_KEY as the SDK reads
them; the key is never printed. Domain: --encord-domain or ENCORD_DOMAIN
(default https://api.encord.com; US: https://api.us.encord.com).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The register command's flags."""
    source = parser.add_argument_group("input")
    source.add_argument(
        "--manifests",
        type=Path,
        metavar="DIR",
        help="directory of registration files (*.json) from `encord-register manifest`",
    )
    options.add_source_options(parser)
    enc = options.add_encord_options(parser)
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
    run_group = parser.add_argument_group("run")
    run_group.add_argument(
        "--jobs",
        type=int,
        default=DEFAULT_JOBS,
        metavar="N",
        help=f"files in flight (default {DEFAULT_JOBS})",
    )
    run_group.add_argument(
        "--ignore-errors",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="let a job finish when single units fail; they are reported (default on)",
    )
    run_group.add_argument(
        "--retry-failed", action="store_true", help="re-submit only the units that failed, by URL"
    )
    run_group.add_argument(
        "--job-deadline",
        type=float,
        default=DEFAULT_JOB_DEADLINE,
        metavar="SECONDS",
        help="how long one run follows a registration job; a job still running then leaves its "
        "file in_flight (exit 5) and the next run polls the same job again "
        f"(default {DEFAULT_JOB_DEADLINE:.0f})",
    )
    run_group.add_argument(
        "--adaptive",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="when register builds the files itself (a source option, not --manifests): send "
        f"files cut from them, starting at {ADAPTIVE_START_ITEMS} items and growing, up to "
        "--max-items and --max-bytes, while Encord's time per item falls; shrinking after "
        "rejections and jobs past --job-deadline (default on; --no-adaptive sends the built "
        "files as they are)",
    )
    run_group.add_argument(
        "--dry-run",
        action="store_true",
        help="resolve the integration and folder, create nothing, print what would be sent",
    )
    run_group.add_argument(
        "--state",
        type=Path,
        metavar="PATH",
        help=f"state file (default: {STATE_DIR}/{STATE_FILE} in the manifests directory, "
        "or in the current directory when the files are built on the fly)",
    )
    run_group.add_argument("--report", type=Path, metavar="PATH", help="write the JSON report here")
    run_group.add_argument(
        "--submit-form",
        choices=[form.value for form in SubmitForm],
        default=DEFAULT_SUBMIT_FORM.value,
        help="send each file as the SDK's typed DataUploadItems, checked by its models before "
        "anything is sent (typed, the default), or as the JSON file itself (file)",
    )
    options.add_json_option(run_group, "the report")
    options.add_schema_option(parser)
    run_group.add_argument(
        "--max-retries",
        type=int,
        default=DEFAULT_MAX_ATTEMPTS,
        metavar="N",
        help="attempts per call on rate limits, 5xx, timeouts, dropped connections "
        f"(default {DEFAULT_MAX_ATTEMPTS})",
    )
    run_group.add_argument(
        "--retry-base-delay",
        type=float,
        default=DEFAULT_BASE_DELAY,
        metavar="SECONDS",
        help="first backoff delay; doubles per attempt, with jitter "
        f"(default {DEFAULT_BASE_DELAY})",
    )


def run(args: argparse.Namespace, console: Console) -> int:
    """Register; return the exit status (PARTIAL when some units failed)."""
    if args.adaptive and args.manifests is not None:
        raise UsageError(
            "--adaptive sizes the files register builds itself; the files in --manifests "
            f"{args.manifests} are sent as they are",
            hint="drop --adaptive, or give a source option (such as --bucket) instead of "
            "--manifests to let register build and cut the files",
        )
    run_options = RegisterOptions(
        jobs=args.jobs,
        ignore_errors=args.ignore_errors,
        retry_failed=args.retry_failed,
        dry_run=args.dry_run,
        max_retries=args.max_retries,
        retry_base_delay=args.retry_base_delay,
        report=args.report,
        submit_form=SubmitForm(args.submit_form),
        job_deadline=args.job_deadline,
        adaptive=args.adaptive is not False,
    )
    run_options.check()
    connection = options.encord_connection(args)
    source = options.source_spec(args)
    state = state_path(args.manifests, source, args.state)
    target = EncordTarget(
        integration=args.integration,
        folder=args.folder,
        folder_description=args.folder_description,
        create_folder=args.create_folder,
    )
    # One run per state file, from before the first remote call (listing, schema, folder).
    with hold_state_lock(state, console, create=not run_options.dry_run):
        prepared = prepare_files(
            args.manifests,
            source,
            options.build_options(args),
            state,
            schema_item_checks(args.schema, connection, console),
            console,
            meanwhile=load_sdk,
        )
        report = register(prepared, target, run_options, connection, console)
    if args.json:
        console.emit_json(report.to_dict())
    else:
        render_summary(report, console)
    return int(report.exit_status())
