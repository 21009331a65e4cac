"""`encord-register manifest`: write Encord registration files for a bucket, prefix or inventory."""

from __future__ import annotations

import argparse
from pathlib import Path

from registration.build.manifests import build_manifests
from registration.build.skips import CHECK_FAILED, SKIPPED_FILE
from registration.build.sources.tiering import NOTE_UNKNOWN
from registration.build.spec import OutputSpec
from registration.build.summary import ManifestSummary
from registration.build.writer import DEFAULT_FORMAT, FORMATS
from registration.cli import options
from registration.cli.console import Console
from registration.encord.connection import EncordConnection
from registration.encord.limits import MAX_TITLE_CHARS
from registration.exit_codes import ExitStatus
from registration.metadata_schema.organisation import schema_item_checks

HELP = "write Encord registration files (JSON/CSV) for objects in S3"
DESCRIPTION = (
    "List a bucket (or read an S3 Inventory report or a keys file), classify and group the "
    "objects, and write validated, chunked Encord registration files, skipped.jsonl (every "
    "object not included, with its reason) and summary.json into --out."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `encord-register manifest`."""
    options.add_source_options(parser)
    out = parser.add_argument_group("output")
    out.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory")
    out.add_argument("--force", action="store_true", help="replace the files of an earlier run")
    out.add_argument(
        "--format",
        choices=FORMATS,
        default=DEFAULT_FORMAT,
        help=f"{DEFAULT_FORMAT} (default), csv or both",
    )
    options.add_json_option(out, "the summary")
    options.add_schema_option(parser)


def run(args: argparse.Namespace, console: Console) -> int:
    """Entry of `encord-register manifest`."""
    # `--schema encord` reads the organisation's schema with the ENCORD_* variables.
    checks = schema_item_checks(args.schema, EncordConnection(), console)
    summary = build_manifests(
        options.source_spec(args),
        options.build_options(args),
        OutputSpec(args.out, fmt=args.format, force=args.force),
        console,
        item_checks=checks,
    )
    _warn(summary, args.out, console)
    if args.json:
        console.emit_json(summary.to_json())
        return ExitStatus.OK
    console.info(
        f"{summary.objects_seen} objects seen: {summary.objects_included} included "
        f"({summary.items} items, {summary.urls} URLs), {summary.objects_skipped} skipped"
    )
    for kind, count in sorted(summary.items_by_type.items()):
        console.info(f"  items {kind}: {count}")
    for reason, count in sorted(summary.skipped_by_reason.items()):
        console.info(f"  skipped {reason}: {count}")
        if reason == CHECK_FAILED:
            for detail, refused in sorted(summary.item_checks_failed.items()):
                console.info(f"    {refused} x {detail}")
    if summary.shortened_titles:
        console.info(
            f"  titles shortened to {MAX_TITLE_CHARS} characters: {len(summary.shortened_titles)}"
        )
    console.info(f"wrote {len(summary.files)} file(s) to {args.out}")
    return ExitStatus.OK


def _warn(summary: ManifestSummary, out: Path, console: Console) -> None:
    if not summary.items:
        console.warn(
            "no items to register: check the source and prefixes "
            f"(every object seen is listed in {out / SKIPPED_FILE} with its reason)"
        )
    unknown_tier = summary.notes.get(NOTE_UNKNOWN, 0)
    if unknown_tier:
        console.warn(
            f"{unknown_tier} object(s) are INTELLIGENT_TIERING: a listing cannot tell whether "
            "they sit in an archive tier (Encord would get 403 until they are restored). Run "
            "again with --head-intelligent-tiering, or use --inventory with the "
            "IntelligentTieringAccessTier field, to skip the archived ones"
        )
