"""`encord-register cloud-sync create`: an Encord cloud-synced folder on a listable prefix."""

from __future__ import annotations

import argparse

from registration.cli import options
from registration.cli.console import Console
from registration.encord.cloud_sync import (
    DEFAULT_METADATA_SUFFIX,
    MAX_FILES_PER_SYNCED_FOLDER,
    SyncedFolder,
    check_metadata_suffix,
    create_cloud_synced_folder,
    sync_target,
)
from registration.errors import UsageError
from registration.exit_codes import ExitStatus
from registration.stack_outputs import load_stack_outputs

HELP = "create an Encord cloud-synced folder on a bucket prefix the stack lets Encord list"
DESCRIPTION = f"""\
Create an Encord cloud-synced folder: Encord itself lists the bucket prefix on a schedule and
registers what it finds (single files, at most {MAX_FILES_PER_SYNCED_FOLDER:,} per folder), and
attaches sidecar metadata (KEY + --metadata-suffix). Image groups, image sequences, DICOM series
and immediate registration need the continuous construct instead (docs/continuous.md).

The stack must let Encord list the prefix (`"allowListing": true` in cdk.json); the bucket and
prefix must be ones it grants. Running the command again reports the folder, unchanged; a plain
folder already at --folder is refused.

  create  find or create the folder, then switch on sidecar metadata
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `encord-register cloud-sync create`."""
    actions = parser.add_subparsers(dest="cloud_sync_action", metavar="ACTION", required=True)
    create = actions.add_parser(
        "create",
        help="find or create the cloud-synced folder and switch on sidecar metadata",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    src = create.add_argument_group("what to sync (the access stack says what Encord may list)")
    options.add_stack_options(src)
    src.add_argument(
        "--bucket", metavar="NAME", help="the bucket (default: the stack's only bucket)"
    )
    src.add_argument(
        "--prefix",
        action="append",
        default=None,
        metavar="P",
        help="the folder of the bucket to mirror (a trailing / is added; default: the bucket's "
        "only granted prefix); one per cloud-synced folder",
    )
    enc = options.add_encord_options(create)
    enc.add_argument(
        "--integration",
        required=True,
        metavar="TITLE_OR_UUID",
        help="the cloud integration (exact title or UUID) Encord lists and reads the bucket with",
    )
    enc.add_argument(
        "--folder",
        required=True,
        metavar="PATH",
        help="the cloud-synced folder, `parent/child` (missing parents are created as plain "
        "folders), or the UUID of one that exists",
    )
    enc.add_argument("--folder-description", metavar="TEXT", help="description for a new folder")
    enc.add_argument(
        "--metadata-suffix",
        default=DEFAULT_METADATA_SUFFIX,
        metavar="SUFFIX",
        help="an object named KEY+SUFFIX is KEY's metadata (default "
        f"{DEFAULT_METADATA_SUFFIX}, Encord's own)",
    )
    options.add_json_option(create, "the folder")


def run(args: argparse.Namespace, console: Console) -> int:
    """Entry of `encord-register cloud-sync create`."""
    from registration.encord.client import EncordSession

    outputs = load_stack_outputs(args.stack_outputs, args.stack)
    if outputs is None:
        raise UsageError(
            "name the access stack with --stack-outputs cdk-outputs.json or --stack NAME: it "
            "says which buckets and prefixes Encord may list"
        )
    prefixes = args.prefix or []
    if len(prefixes) > 1:
        raise UsageError(
            f"--prefix given {len(prefixes)} times; a cloud-synced folder mirrors one prefix: "
            "run the command once per prefix, each with its own --folder"
        )
    target = sync_target(outputs, bucket=args.bucket, prefix=prefixes[0] if prefixes else None)
    suffix = check_metadata_suffix(args.metadata_suffix)
    session = EncordSession(options.encord_connection(args).client())
    integration = session.resolve_integration(args.integration)
    folder = create_cloud_synced_folder(
        session,
        path=args.folder,
        target=target,
        integration=integration,
        metadata_suffix=suffix,
        description=args.folder_description,
    )
    if args.json:
        console.emit_json(folder.to_json())
    else:
        for line in describe(folder):
            console.info(line)
    return int(ExitStatus.OK)


def describe(folder: SyncedFolder) -> list[str]:
    """Human lines for the outcome."""
    lines = [f"created folder {p!r} (plain)" for p in folder.parents_created]
    what = "created" if folder.created else "already there, nothing created:"
    lines.append(
        f"cloud-synced folder {folder.path!r} ({folder.uuid}) {what} {folder.remote_url} through "
        f"integration {folder.integration.title!r}"
    )
    if not folder.metadata_changed:
        lines.append(f"sidecar metadata: on, suffix {folder.metadata_suffix} (unchanged)")
    elif folder.metadata_before is None:
        lines.append(f"sidecar metadata: switched on, suffix {folder.metadata_suffix}")
    else:
        lines.append(
            f"sidecar metadata: suffix changed from {folder.metadata_before} to "
            f"{folder.metadata_suffix}"
        )
    lines.append(
        "Encord lists the prefix on its own schedule; new files appear after its next sync"
    )
    return lines
