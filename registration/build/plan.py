"""Turn a `SourceSpec` into the buckets to read: records, URL builder and sidecar reader each.

The access stack's outputs (when the spec names a stack) supply buckets, prefixes, regions
and Multi-Region Access Points; explicit values in the spec win. One S3 client is created
on first use, from boto3's standard credential chain.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from registration.build.bulk_metadata import MetadataFile, load_metadata_file
from registration.build.chunking import check_max_bytes, check_max_items
from registration.build.classify import Classifier, parse_type_map
from registration.build.grouping import GroupRules
from registration.build.keyframes import KeyframeConverter, KeyframeDefaults
from registration.build.pipeline import BucketSource, PipelineOptions, SplittableRows
from registration.build.sidecars import BodyReader, check_sidecar_suffixes
from registration.build.sources import ObjectRecord
from registration.build.spec import BuildOptions, SourceSpec
from registration.build.urls import UrlBuilder
from registration.encord.limits import (
    DEFAULT_ITEMS_PER_FILE,
    DEFAULT_MAX_BYTES,
    MAX_FILE_BYTES,
    PLANS,
)
from registration.errors import InputError, UsageError
from registration.stack_outputs import AccessStackOutputs, load_stack_outputs


def pipeline_options(options: BuildOptions) -> PipelineOptions:
    """Item-building options, checked (bad values raise UsageError naming the flag)."""
    max_items, max_bytes = file_limits(options)
    keyframes = KeyframeConverter(
        KeyframeDefaults(options.keyframe_sampling_rate, options.keyframe_mode)
    )
    metadata = (
        load_metadata_file(options.metadata_file, keyframes, duplicates=options.metadata_duplicates)
        if options.metadata_file
        else MetadataFile()
    )
    return PipelineOptions(
        classifier=Classifier(parse_type_map(options.type_map)),
        rules=GroupRules(
            dicom_series=options.dicom_series,
            image_sequence=options.image_sequences,
            image_group=options.image_groups,
        ),
        title_mode=options.title,
        metadata=metadata.documents,
        metadata_file=metadata,
        max_items=max_items,
        max_bytes=max_bytes,
        sidecar_suffixes=check_sidecar_suffixes(options.sidecar_suffixes),
        keyframes=keyframes,
    )


def file_limits(options: BuildOptions) -> tuple[int, int]:
    """`max_items` and `max_bytes`: explicit values win over the plan's, the plan's over ours.

    An explicit `--max-bytes` is still held to the plan's documented file size.
    """
    plan = None
    if options.plan is not None:
        plan = PLANS.get(options.plan)
        if plan is None:
            raise UsageError(f"--plan {options.plan!r}: choose one of {', '.join(PLANS)}")
    max_items = options.max_items
    if max_items is None:
        max_items = plan.max_items if plan else DEFAULT_ITEMS_PER_FILE
    max_bytes = options.max_bytes
    if max_bytes is None:
        max_bytes = plan.max_bytes if plan else DEFAULT_MAX_BYTES
    limit = plan.file_bytes_limit if plan else MAX_FILE_BYTES
    name = plan.name if plan else None
    return check_max_items(max_items), check_max_bytes(max_bytes, limit, name)


class SourcePlan:
    """The buckets a `SourceSpec` names, as `BucketSource`s (one S3 client, made on demand)."""

    def __init__(
        self,
        spec: SourceSpec,
        options: BuildOptions,
        s3_client: Any = None,
        keyframes: KeyframeConverter | None = None,
    ) -> None:
        self.spec = spec
        self.options = options
        self.keyframes = keyframes
        """Brings a keys file's metadata to the `$encord` key-frame form (None: as given)."""
        self._client = s3_client
        self.stack: AccessStackOutputs | None = load_stack_outputs(
            spec.stack_outputs, spec.stack, spec.region
        )

    @property
    def client(self) -> Any:
        """The S3 client (boto3's credential chain), created on first use."""
        if self._client is None:
            from registration.build.sources.s3_access import make_s3_client

            self._client = make_s3_client(self.spec.region)
        return self._client

    def _body_reader(self) -> BodyReader:
        from registration.build.sources.s3_access import s3_error

        def read(record: ObjectRecord) -> bytes:
            try:
                body: bytes = self.client.get_object(Bucket=record.bucket, Key=record.key)[
                    "Body"
                ].read()
            except Exception as exc:
                raise s3_error(exc, bucket=record.bucket, action="reading a sidecar from") from exc
            return body

        return read

    def _url_builder(self, bucket: str) -> UrlBuilder:
        from registration.build.sources.s3_access import bucket_region

        spec = self.spec
        stack_bucket = self.stack.bucket(bucket) if self.stack else None
        mrap = spec.mrap_arn
        if mrap is None and self.stack is not None:
            found = self.stack.mrap_for_bucket(bucket)
            mrap = found.arn if found else None
        region = spec.region or (stack_bucket.region if stack_bucket else None)
        if region is None and mrap is None:
            region = bucket_region(self.client, bucket)
        return UrlBuilder(bucket, region or "", style=self.options.url_style, mrap_arn=mrap)

    def _prefixes(self, bucket: str) -> list[str]:
        if self.spec.prefixes:
            return list(self.spec.prefixes)
        stack_bucket = self.stack.bucket(bucket) if self.stack else None
        return list(stack_bucket.prefixes) if stack_bucket else [""]

    def sources(self) -> list[BucketSource]:
        """One BucketSource per bucket to read, in a deterministic order."""
        spec = self.spec
        if spec.inventory and spec.keys_file:
            raise UsageError("give --inventory or --keys-file, not both")
        if spec.list_workers < 1:
            raise UsageError(f"--list-workers {spec.list_workers}: must be at least 1")
        if spec.inventory:
            return [self._inventory_source(spec.inventory)]
        buckets = [spec.bucket] if spec.bucket else []
        if not buckets and self.stack is not None:
            buckets = [b.name for b in self.stack.buckets]
        if not buckets:
            raise UsageError(
                "no source: give --bucket NAME, --inventory MANIFEST, --keys-file PATH "
                "(with --bucket), or --stack-outputs cdk-outputs.json",
            )
        if spec.keys_file:
            if len(buckets) != 1:
                raise UsageError(
                    f"--keys-file needs one bucket; the stack has {len(buckets)}: give --bucket"
                )
            return [self._keys_source(buckets[0])]
        return [self._listing_source(bucket) for bucket in buckets]

    def _listing_source(self, bucket: str) -> BucketSource:
        from registration.build.sources.s3_listing import BucketLister

        prefixes = self._prefixes(bucket)
        urls = self._url_builder(bucket)
        lister = BucketLister(
            self.client,
            bucket,
            workers=self.spec.list_workers,
            head_intelligent_tiering=self.spec.head_intelligent_tiering,
        )
        return BucketSource(
            bucket,
            lambda: lister.iter_objects(prefixes),
            urls,
            self._body_reader(),
            notes=lister.tiers.notes,
        )

    def _keys_source(self, bucket: str) -> BucketSource:
        from registration.build.sources.key_check import KeyChecker
        from registration.build.sources.keys_file import KeysFileCounts, read_keys_file

        path = self.spec.keys_file
        assert path is not None
        if not path.is_file():  # before any network call: a typo should not look like AWS trouble
            raise InputError(f"keys file {path} does not exist or is not a file", source=str(path))
        prefixes = tuple(self._prefixes(bucket))
        urls = self._url_builder(bucket)
        counts = KeysFileCounts()

        def records() -> Iterator[ObjectRecord]:
            return read_keys_file(
                path, bucket, convert=self.keyframes, prefixes=prefixes, counts=counts
            )

        if self.spec.trust_keys:
            return BucketSource(bucket, records, urls, self._body_reader(), notes=counts.notes)
        checker = KeyChecker(self.client, bucket, workers=self.spec.list_workers)
        return BucketSource(
            bucket,
            records,
            urls,
            self._body_reader(),
            notes=lambda: {**counts.notes(), **checker.notes()},
            screen=checker.check,
        )

    def _inventory_source(self, location: str) -> BucketSource:
        from registration.build.sources.inventory import InventoryReader

        remote = location.startswith("s3://")
        reader = InventoryReader(location, s3_client=self._client if remote else None)
        if remote and reader.s3_client is None:
            reader.s3_client = self.client
        bucket = reader.bucket
        if self.spec.bucket and self.spec.bucket != bucket:
            raise UsageError(
                f"--bucket {self.spec.bucket} does not match the inventory's bucket {bucket}"
            )
        prefixes = tuple(self._prefixes(bucket))
        urls = self._url_builder(bucket)

        def records() -> Iterator[ObjectRecord]:
            if prefixes == ("",):
                return reader.records()
            return (r for r in reader.records() if r.key.startswith(prefixes))

        def ignored(count: int) -> None:
            reader.ignored_rows += count

        return BucketSource(
            bucket,
            records,
            urls,
            self._body_reader(),
            notes=lambda: {"inventory_rows_not_current": reader.ignored_rows},
            splittable=SplittableRows(
                files=len(reader.manifest.files),
                spill=lambda index, directory, run_rows: reader.spill(
                    index, directory, run_rows, prefixes
                ),
                ignored=ignored,
            ),
        )
