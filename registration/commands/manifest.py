"""`encord-register manifest`: write Encord registration files for a bucket, prefix or inventory.

Other commands reuse this one: `add_source_arguments` adds every source and
item-building option to their parser, and `build_manifests` runs the pipeline.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from registration.chunking import check_max_items
from registration.classify import Classifier, parse_type_map
from registration.console import Console
from registration.errors import InputError, UsageError
from registration.grouping import GroupRules
from registration.limits import DEFAULT_ITEMS_PER_FILE
from registration.metadata import BodyReader, load_metadata_file
from registration.pipeline import (
    BucketSource,
    ItemCheck,
    ManifestSummary,
    PipelineOptions,
    run_pipeline,
)
from registration.sources.s3_listing import DEFAULT_LIST_WORKERS
from registration.sources.tiering import NOTE_UNKNOWN
from registration.stack_outputs import AccessStackOutputs
from registration.titles import TITLE_MODES
from registration.urls import URL_STYLES, UrlBuilder
from registration.writer import FORMATS, ManifestWriter, prepare_out_dir

HELP = "write Encord registration files (JSON/CSV) for objects in S3"
DESCRIPTION = (
    "List a bucket (or read an S3 Inventory report or a keys file), classify and group the "
    "objects, and write validated, chunked Encord registration files, skipped.jsonl (every "
    "object not included, with its reason) and summary.json into --out."
)

__all__ = [
    "DESCRIPTION",
    "HELP",
    "ItemCheck",
    "ManifestSummary",
    "add_arguments",
    "add_source_arguments",
    "build_manifests",
    "run",
]


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """Add every source and item-building option of `manifest` to `parser`.

    Everything except ``--out``, ``--force``, ``--format`` and ``--json``; pass the parsed
    namespace to `build_manifests`.
    """
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
        "--inventory",
        metavar="PATH_OR_S3_URI",
        help="an S3 Inventory report's manifest.json (CSV or Parquet), local or s3://",
    )
    src.add_argument(
        "--keys-file",
        type=Path,
        metavar="PATH",
        help="one key per line, or JSON Lines with key and optional size, storage_class, metadata",
    )
    src.add_argument(
        "--stack-outputs",
        type=Path,
        metavar="FILE",
        help="cdk-outputs.json of the access stack: its buckets, prefixes, regions and MRAPs",
    )
    src.add_argument(
        "--stack", metavar="NAME", help="the access stack's name (read from CloudFormation)"
    )
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
        "--title", choices=TITLE_MODES, default="key", help="item titles (default: the key)"
    )
    items.add_argument(
        "--url-style",
        choices=URL_STYLES,
        default="virtual",
        help="virtual-hosted (default) or path-style URLs (dotted bucket names use path style)",
    )
    items.add_argument(
        "--max-items",
        type=int,
        default=DEFAULT_ITEMS_PER_FILE,
        metavar="N",
        help=f"items per file (default {DEFAULT_ITEMS_PER_FILE:,}; at most 500,000)",
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `encord-register manifest`."""
    add_source_arguments(parser)
    out = parser.add_argument_group("output")
    out.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory")
    out.add_argument("--force", action="store_true", help="replace the files of an earlier run")
    out.add_argument(
        "--format", choices=FORMATS, default="json", help="json (default), csv or both"
    )
    out.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    from registration.commands.schema import add_schema_check_argument

    add_schema_check_argument(parser)


def _stack_outputs(args: argparse.Namespace) -> AccessStackOutputs | None:
    from registration.stack_outputs import load_outputs_file, load_outputs_from_cloudformation

    if getattr(args, "stack_outputs", None):
        return load_outputs_file(args.stack_outputs, args.stack)
    if getattr(args, "stack", None):
        import boto3

        try:
            client = boto3.session.Session().client("cloudformation", region_name=args.region)
        except Exception as exc:
            raise UsageError(f"cannot create a CloudFormation client: {exc}") from exc
        return load_outputs_from_cloudformation(args.stack, client)
    return None


class _Sources:
    """Turns parsed arguments into `BucketSource`s (one S3 client, created on demand)."""

    def __init__(self, args: argparse.Namespace, s3_client: Any = None) -> None:
        self.args = args
        self._client = s3_client
        self.stack = _stack_outputs(args)

    @property
    def client(self) -> Any:
        if self._client is None:
            from registration.sources.s3_access import make_s3_client

            self._client = make_s3_client(self.args.region)
        return self._client

    def _body_reader(self) -> BodyReader:
        from registration.sources.s3_access import s3_error

        def read(record: Any) -> bytes:
            try:
                body: bytes = self.client.get_object(Bucket=record.bucket, Key=record.key)[
                    "Body"
                ].read()
            except Exception as exc:
                raise s3_error(exc, bucket=record.bucket, action="reading a sidecar from") from exc
            return body

        return read

    def _url_builder(self, bucket: str) -> UrlBuilder:
        from registration.sources.s3_access import bucket_region

        args = self.args
        stack_bucket = self.stack.bucket(bucket) if self.stack else None
        mrap = args.mrap_arn
        if mrap is None and self.stack is not None:
            found = self.stack.mrap_for_bucket(bucket)
            mrap = found.arn if found else None
        region = args.region or (stack_bucket.region if stack_bucket else None)
        if region is None and mrap is None:
            region = bucket_region(self.client, bucket)
        return UrlBuilder(bucket, region or "", style=args.url_style, mrap_arn=mrap)

    def _prefixes(self, bucket: str) -> list[str]:
        if self.args.prefix:
            return list(self.args.prefix)
        stack_bucket = self.stack.bucket(bucket) if self.stack else None
        return list(stack_bucket.prefixes) if stack_bucket else [""]

    def build(self) -> list[BucketSource]:
        """One BucketSource per bucket to read, in a deterministic order."""
        args = self.args
        if args.inventory and args.keys_file:
            raise UsageError("give --inventory or --keys-file, not both")
        if args.list_workers < 1:
            raise UsageError(f"--list-workers {args.list_workers}: must be at least 1")
        if args.inventory:
            return [self._inventory_source()]
        buckets = [args.bucket] if args.bucket else []
        if not buckets and self.stack is not None:
            buckets = [b.name for b in self.stack.buckets]
        if not buckets:
            raise UsageError(
                "no source: give --bucket NAME, --inventory MANIFEST, --keys-file PATH "
                "(with --bucket), or --stack-outputs cdk-outputs.json",
            )
        if args.keys_file:
            if len(buckets) != 1:
                raise UsageError(
                    f"--keys-file needs one bucket; the stack has {len(buckets)}: give --bucket"
                )
            return [self._keys_source(buckets[0])]
        return [self._listing_source(bucket) for bucket in buckets]

    def _listing_source(self, bucket: str) -> BucketSource:
        from registration.sources.s3_listing import BucketLister

        prefixes = self._prefixes(bucket)
        urls = self._url_builder(bucket)
        lister = BucketLister(
            self.client,
            bucket,
            workers=self.args.list_workers,
            head_intelligent_tiering=self.args.head_intelligent_tiering,
        )
        return BucketSource(
            bucket,
            lambda: lister.iter_objects(prefixes),
            urls,
            self._body_reader(),
            notes=lister.tiers.notes,
        )

    def _keys_source(self, bucket: str) -> BucketSource:
        from registration.sources.keys_file import read_keys_file

        path: Path = self.args.keys_file
        if not path.is_file():  # before any network call: a typo should not look like AWS trouble
            raise InputError(f"keys file {path} does not exist or is not a file", source=str(path))
        prefixes = tuple(self._prefixes(bucket))
        urls = self._url_builder(bucket)

        def records() -> Any:
            return (r for r in read_keys_file(path, bucket) if r.key.startswith(prefixes))

        return BucketSource(bucket, records, urls, self._body_reader())

    def _inventory_source(self) -> BucketSource:
        from registration.sources.inventory import InventoryReader

        location = str(self.args.inventory)
        reader = InventoryReader(
            location, s3_client=self._client if location.startswith("s3://") else None
        )
        if location.startswith("s3://") and reader.s3_client is None:
            reader.s3_client = self.client
        bucket = reader.bucket
        if self.args.bucket and self.args.bucket != bucket:
            raise UsageError(
                f"--bucket {self.args.bucket} does not match the inventory's bucket {bucket}"
            )
        prefixes = tuple(self._prefixes(bucket))
        urls = self._url_builder(bucket)

        def records() -> Any:
            if prefixes == ("",):
                return reader.records()
            return (r for r in reader.records() if r.key.startswith(prefixes))

        return BucketSource(
            bucket,
            records,
            urls,
            self._body_reader(),
            notes=lambda: {"inventory_rows_not_current": reader.ignored_rows},
        )


def pipeline_options(args: argparse.Namespace) -> PipelineOptions:
    """Item-building options from parsed arguments (validated: bad values raise UsageError)."""
    return PipelineOptions(
        classifier=Classifier(parse_type_map(args.type_map)),
        rules=GroupRules(
            dicom_series=args.dicom_series,
            image_sequence=args.image_sequence,
            image_group=args.image_group,
        ),
        title_mode=args.title,
        metadata=load_metadata_file(args.metadata) if args.metadata else {},
        max_items=check_max_items(args.max_items),
    )


def build_manifests(
    args: argparse.Namespace,
    out_dir: Path,
    console: Console,
    *,
    fmt: str = "json",
    force: bool = False,
    item_checks: Sequence[ItemCheck] = (),
    s3_client: Any = None,
    body_reader: BodyReader | None = None,
) -> ManifestSummary:
    """Run the manifest pipeline for the source options in `args`, writing into `out_dir`.

    Writes ``manifest-NNNNN.json`` (and ``.csv`` with ``fmt`` csv/both), ``skipped.jsonl``
    and ``summary.json``. `item_checks` run on every built item before chunking; an item
    a check refuses goes to skipped.jsonl with the check's reason. `s3_client` and
    `body_reader` replace the default boto3 client and the S3 GetObject of sidecars.
    """
    options = pipeline_options(args)
    if args.upsert_metadata and not args.skip_duplicate_urls:
        raise UsageError("--upsert-metadata needs --skip-duplicate-urls (the default)")
    sources = _Sources(args, s3_client).build()
    if body_reader is not None:
        for source in sources:
            source.body_reader = body_reader
    prepare_out_dir(out_dir, force=force)
    writer = ManifestWriter(
        out_dir,
        fmt=fmt,
        skip_duplicate_urls=args.skip_duplicate_urls,
        upsert_metadata=args.upsert_metadata,
    )
    try:
        summary = run_pipeline(sources, options, writer, console, item_checks=item_checks)
    finally:
        writer.close()
    writer.write_summary(summary.to_json())
    return summary


def run(args: argparse.Namespace) -> int:
    """Entry of `encord-register manifest`."""
    console = Console(json_mode=args.json)
    from registration.commands.schema import schema_item_checks

    summary = build_manifests(
        args,
        args.out,
        console,
        fmt=args.format,
        force=args.force,
        item_checks=schema_item_checks(args),
    )
    if not summary.items:
        console.warn(
            "no items to register: check the source and prefixes "
            f"(every object seen is listed in {args.out / 'skipped.jsonl'} with its reason)"
        )
    unknown_tier = summary.notes.get(NOTE_UNKNOWN, 0)
    if unknown_tier:
        console.warn(
            f"{unknown_tier} object(s) are INTELLIGENT_TIERING: a listing cannot tell whether "
            "they sit in an archive tier (Encord would get 403 until they are restored). Run "
            "again with --head-intelligent-tiering, or use --inventory with the "
            "IntelligentTieringAccessTier field, to skip the archived ones"
        )
    if args.json:
        sys.stdout.write(orjson.dumps(summary.to_json(), option=orjson.OPT_SORT_KEYS).decode())
        sys.stdout.write("\n")
        return 0
    console.info(
        f"{summary.objects_seen} objects seen: {summary.objects_included} included "
        f"({summary.items} items, {summary.urls} URLs), {summary.objects_skipped} skipped"
    )
    for kind, count in sorted(summary.items_by_type.items()):
        console.info(f"  items {kind}: {count}")
    for reason, count in sorted(summary.skipped_by_reason.items()):
        console.info(f"  skipped {reason}: {count}")
    if summary.shortened_titles:
        console.info(f"  titles shortened to 300 characters: {len(summary.shortened_titles)}")
    console.info(f"wrote {len(summary.files)} file(s) to {args.out}")
    return 0
