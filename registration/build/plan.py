"""Turn a `SourceSpec` into the buckets to read: records, URL builder and sidecar reader each.

The access stack's outputs (when the spec names a stack) supply buckets, prefixes, regions
and Multi-Region Access Points; explicit values in the spec win. One S3 client is created
on first use, from boto3's standard credential chain.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from registration.build.bulk_metadata import load_metadata_file
from registration.build.chunking import check_max_items
from registration.build.classify import Classifier, parse_type_map
from registration.build.grouping import GroupRules
from registration.build.pipeline import BucketSource, PipelineOptions
from registration.build.sidecars import BodyReader
from registration.build.sources import ObjectRecord
from registration.build.spec import BuildOptions, SourceSpec
from registration.build.urls import UrlBuilder
from registration.errors import InputError, UsageError
from registration.stack_outputs import AccessStackOutputs, load_stack_outputs


def pipeline_options(options: BuildOptions) -> PipelineOptions:
    """Item-building options, checked (bad values raise UsageError naming the flag)."""
    return PipelineOptions(
        classifier=Classifier(parse_type_map(options.type_map)),
        rules=GroupRules(
            dicom_series=options.dicom_series,
            image_sequence=options.image_sequences,
            image_group=options.image_groups,
        ),
        title_mode=options.title,
        metadata=load_metadata_file(options.metadata_file) if options.metadata_file else {},
        max_items=check_max_items(options.max_items),
    )


class SourcePlan:
    """The buckets a `SourceSpec` names, as `BucketSource`s (one S3 client, made on demand)."""

    def __init__(self, spec: SourceSpec, options: BuildOptions, s3_client: Any = None) -> None:
        self.spec = spec
        self.options = options
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
        from registration.build.sources.keys_file import read_keys_file

        path = self.spec.keys_file
        assert path is not None
        if not path.is_file():  # before any network call: a typo should not look like AWS trouble
            raise InputError(f"keys file {path} does not exist or is not a file", source=str(path))
        prefixes = tuple(self._prefixes(bucket))
        urls = self._url_builder(bucket)

        def records() -> Iterator[ObjectRecord]:
            return (r for r in read_keys_file(path, bucket) if r.key.startswith(prefixes))

        return BucketSource(bucket, records, urls, self._body_reader())

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

        return BucketSource(
            bucket,
            records,
            urls,
            self._body_reader(),
            notes=lambda: {"inventory_rows_not_current": reader.ignored_rows},
        )
