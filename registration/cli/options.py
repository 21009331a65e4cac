"""Options used by more than one command, each defined once, and their parsing into records.

Commands never import each other: `manifest`, `register` and `schema` all take the source
and item options from `add_source_options` (`continuous backfill` the source group alone);
`register` and `schema` the Encord connection from `add_encord_options`; `manifest` and
`register` `--schema` from `add_schema_option`. The `*_spec`/`*_options` functions turn a
parsed namespace into the frozen records the stages take, so nothing past this module sees
an argparse `Namespace`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from registration.build.bulk_metadata import DEFAULT_DUPLICATE_POLICY, DUPLICATE_POLICIES
from registration.build.keyframes import (
    DEFAULT_KEYFRAME_MODE,
    DEFAULT_SAMPLING_RATE,
    KEYFRAME_MODES,
    parse_sampling_rate,
)
from registration.build.sidecars import DEFAULT_SIDECAR_SUFFIXES
from registration.build.sources.s3_listing import DEFAULT_LIST_WORKERS
from registration.build.spec import BuildOptions, SourceSpec
from registration.build.titles import DEFAULT_TITLE_MODE, TITLE_MODES
from registration.build.urls import DEFAULT_URL_STYLE, URL_STYLES
from registration.encord.connection import (
    DEFAULT_DOMAIN,
    ENV_DOMAIN,
    ENV_KEY,
    ENV_KEY_FILE,
    EncordConnection,
)
from registration.encord.limits import (
    DEFAULT_ITEMS_PER_FILE,
    DEFAULT_MAX_BYTES,
    MAX_FILE_BYTES,
    MAX_FILE_BYTES_FREE,
    MAX_ITEMS_PER_FILE,
    PLANS,
)
from registration.metadata_schema.organisation import ORG_SCHEMA


def add_stack_options(group: argparse._ArgumentGroup) -> None:
    """`--stack-outputs FILE` and `--stack NAME`: where the access stack's outputs come from."""
    group.add_argument(
        "--stack-outputs",
        type=Path,
        metavar="FILE",
        help="cdk-outputs.json of the access stack (`cdk deploy --outputs-file`): its buckets, "
        "prefixes, regions and MRAPs",
    )
    group.add_argument(
        "--stack", metavar="NAME", help="the access stack's name (read from CloudFormation)"
    )


def stack_args(args: argparse.Namespace) -> tuple[str, ...]:
    """The stack options as given (``--stack NAME`` ...), to name the stack in a fix command."""
    named: list[str] = []
    if args.stack_outputs is not None:
        named += ["--stack-outputs", str(args.stack_outputs)]
    if args.stack is not None:
        named += ["--stack", args.stack]
    return tuple(named)


def add_source_options(parser: argparse.ArgumentParser) -> None:
    """Every source and item-building option (what `manifest` reads and how it builds items)."""
    add_source_group(parser)
    add_item_options(parser)


def add_source_group(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """Where the objects come from (`continuous backfill` takes these without the item options)."""
    src = parser.add_argument_group(
        "source (one of --bucket, --inventory, --keys-file, or a stack)"
    )
    src.add_argument("--bucket", metavar="NAME", help="list this bucket with ListObjectsV2")
    src.add_argument(
        "--prefix",
        action="append",
        default=None,
        metavar="P",
        help="only keys under this prefix (repeatable; default: the stack's prefixes or all)",
    )
    src.add_argument(
        "--list-workers",
        type=int,
        default=DEFAULT_LIST_WORKERS,
        metavar="N",
        help=f"concurrent listing requests (default {DEFAULT_LIST_WORKERS})",
    )
    src.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="processes building the items of an --inventory (default: one per CPU); the "
        "files are the same whatever the number",
    )
    src.add_argument(
        "--inventory",
        metavar="PATH_OR_S3_URI",
        help="an S3 Inventory report's manifest.json (CSV or Parquet), local or s3://",
    )
    src.add_argument(
        "--keys-file",
        type=Path,
        metavar="PATH",
        help="one key per line, or JSON Lines with key and optional size, storage_class, "
        "metadata; each key is checked with HeadObject (missing ones are skipped as not_found)",
    )
    src.add_argument(
        "--trust-keys",
        action="store_true",
        help="use the --keys-file as it is, without one HeadObject per key (no s3:GetObject "
        "needed; a key that is not in the bucket then becomes a URL that answers 404)",
    )
    add_stack_options(src)
    src.add_argument("--region", help="the bucket's region (default: HeadBucket or the stack)")
    src.add_argument(
        "--head-intelligent-tiering",
        action="store_true",
        help="HeadObject each INTELLIGENT_TIERING object of a listing to find those in an "
        "archive tier (a listing cannot tell; an inventory can)",
    )
    src.add_argument(
        "--mrap-arn",
        metavar="ARN",
        help="address objects through this Multi-Region Access Point (default: the stack's)",
    )
    return src


def add_item_options(parser: argparse.ArgumentParser) -> None:
    """How objects become items: classification, grouping, metadata, titles, URLs, file limits."""
    items = parser.add_argument_group("items")
    items.add_argument(
        "--type-map",
        action="append",
        default=[],
        metavar="EXT=TYPE",
        help="classify extension EXT as TYPE (image, video, audio, text, pdf, nifti, dicom)",
    )
    items.add_argument(
        "--image-group",
        action="append",
        default=[],
        metavar="PATTERN",
        help="folders matching this glob (or re:REGEX) become one image group each",
    )
    items.add_argument(
        "--image-sequence",
        action="append",
        default=[],
        metavar="PATTERN",
        help="folders matching this pattern become one image sequence (createVideo) each",
    )
    items.add_argument(
        "--dicom-series",
        action="append",
        default=[],
        metavar="PATTERN",
        help="folders matching this pattern become one DICOM series each "
        "(default: every folder holding .dcm files)",
    )
    items.add_argument(
        "--metadata",
        type=Path,
        metavar="FILE",
        help="clientMetadata per key (CSV with a `key` column, or JSON Lines with `key`)",
    )
    items.add_argument(
        "--metadata-duplicates",
        choices=DUPLICATE_POLICIES,
        default=DEFAULT_DUPLICATE_POLICY,
        help="rows of --metadata that give one key different metadata: refuse the file "
        f"(default: {DEFAULT_DUPLICATE_POLICY}), or use the first or last row of each key",
    )
    items.add_argument(
        "--sidecar-suffix",
        action="append",
        default=None,
        metavar="SUFFIX",
        help="an object named KEY+SUFFIX is KEY's sidecar metadata (repeatable; default: "
        f"{' and '.join(DEFAULT_SIDECAR_SUFFIXES)}; where two could apply, the longer suffix "
        "whose data file exists wins)",
    )
    items.add_argument(
        "--keyframe-sampling-rate",
        metavar="N",
        help="samples per second written as the key-frame config of videos whose metadata "
        f"gives key frames without one (0: only the key frames; Encord's default "
        f"{DEFAULT_SAMPLING_RATE})",
    )
    items.add_argument(
        "--keyframe-mode",
        choices=KEYFRAME_MODES,
        default=None,
        help="whether key frames are frame numbers or seconds, where the metadata gives no "
        f"config (Encord's default {DEFAULT_KEYFRAME_MODE})",
    )
    items.add_argument(
        "--title",
        choices=TITLE_MODES,
        default=DEFAULT_TITLE_MODE,
        help=f"item titles (default: the {DEFAULT_TITLE_MODE})",
    )
    items.add_argument(
        "--url-style",
        choices=URL_STYLES,
        default=DEFAULT_URL_STYLE,
        help="virtual-hosted (default) or path-style URLs (bucket names with dots, uppercase "
        "letters or '_' always use path style)",
    )
    items.add_argument(
        "--max-items",
        type=int,
        default=None,
        metavar="N",
        help=f"items per file (default {DEFAULT_ITEMS_PER_FILE:,}, or the --plan's; "
        f"at most {MAX_ITEMS_PER_FILE:,})",
    )
    items.add_argument(
        "--max-bytes",
        type=int,
        default=None,
        metavar="N",
        help=f"bytes per JSON file at most (default {DEFAULT_MAX_BYTES:,}, or the --plan's; "
        f"at most {MAX_FILE_BYTES:,}, or {MAX_FILE_BYTES_FREE:,} with --plan free: the plan's "
        "documented file size)",
    )
    items.add_argument(
        "--plan",
        choices=tuple(PLANS),
        default=None,
        help="the Encord plan whose file limits set the defaults of --max-items and "
        "--max-bytes: "
        + "; ".join(
            f"{p.name} {p.max_items:,} items, {p.max_bytes:,} bytes" for p in PLANS.values()
        )
        + f" (default: {DEFAULT_ITEMS_PER_FILE:,} items, {DEFAULT_MAX_BYTES:,} bytes)",
    )
    items.add_argument(
        "--skip-duplicate-urls",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="ask Encord to skip URLs already in the folder (default: on)",
    )
    items.add_argument(
        "--upsert-metadata",
        action="store_true",
        help="with --skip-duplicate-urls, update metadata of items already registered",
    )


def add_encord_options(
    parser: argparse.ArgumentParser, title: str = "Encord"
) -> argparse._ArgumentGroup:
    """`--ssh-key-file` and `--encord-domain`, in a group the caller may add more to."""
    group = parser.add_argument_group(title)
    group.add_argument(
        "--ssh-key-file",
        type=Path,
        metavar="PATH",
        help=f"Encord SSH private key (default: {ENV_KEY_FILE} or {ENV_KEY}); never printed",
    )
    group.add_argument(
        "--encord-domain",
        metavar="URL",
        help=f"Encord API domain (default: {ENV_DOMAIN} or {DEFAULT_DOMAIN})",
    )
    return group


def add_schema_option(parser: argparse.ArgumentParser) -> None:
    """`--schema FILE|encord`: refuse items whose metadata breaks a metadata schema."""
    parser.add_argument(
        "--schema",
        metavar=f"FILE|{ORG_SCHEMA}",
        help="refuse items whose clientMetadata breaks this metadata schema (a file from "
        f"`encord-register schema --write`, or `{ORG_SCHEMA}` for the organisation's schema, "
        "read with the Encord key and domain of --ssh-key-file/--encord-domain or the "
        "ENCORD_* variables); "
        "refused items go to skipped.jsonl with the key and the reason, before anything is sent",
    )


def add_json_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup, what: str) -> None:
    """`--json`: the command's result as one JSON document on stdout."""
    parser.add_argument("--json", action="store_true", help=f"print {what} as JSON on stdout")


# --- parsed arguments -> records ------------------------------------------------------------


def source_spec(args: argparse.Namespace) -> SourceSpec:
    """The source options as a `SourceSpec`."""
    return SourceSpec(
        bucket=args.bucket,
        prefixes=tuple(args.prefix or ()),
        inventory=args.inventory,
        keys_file=args.keys_file,
        stack_outputs=args.stack_outputs,
        stack=args.stack,
        region=args.region,
        mrap_arn=args.mrap_arn,
        list_workers=args.list_workers,
        head_intelligent_tiering=args.head_intelligent_tiering,
        trust_keys=args.trust_keys,
    )


def build_options(args: argparse.Namespace) -> BuildOptions:
    """The item options as `BuildOptions`."""
    return BuildOptions(
        type_map=tuple(args.type_map),
        image_groups=tuple(args.image_group),
        image_sequences=tuple(args.image_sequence),
        dicom_series=tuple(args.dicom_series),
        metadata_file=args.metadata,
        metadata_duplicates=args.metadata_duplicates,
        sidecar_suffixes=tuple(args.sidecar_suffix or DEFAULT_SIDECAR_SUFFIXES),
        keyframe_sampling_rate=parse_sampling_rate(args.keyframe_sampling_rate),
        keyframe_mode=args.keyframe_mode,
        title=args.title,
        url_style=args.url_style,
        max_items=args.max_items,
        max_bytes=args.max_bytes,
        plan=args.plan,
        skip_duplicate_urls=args.skip_duplicate_urls,
        upsert_metadata=args.upsert_metadata,
        workers=args.workers,
    )


def encord_connection(args: argparse.Namespace) -> EncordConnection:
    """The Encord connection options as an `EncordConnection`."""
    return EncordConnection(ssh_key_file=args.ssh_key_file, domain=args.encord_domain)
