"""Read an S3 Inventory report (manifest.json + CSV.gz or Parquet data files) as records.

Inventory data files are not documented to be sorted, and grouping needs keys in order,
so rows go through `external_sort` (bounded memory, whatever the bucket size).

Only current versions are read: rows with IsLatest=false or IsDeleteMarker=true (in
versioned inventories) are not objects you can register, and are counted in
`InventoryReader.ignored_rows`.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote

from registration.build.sources import ObjectRecord
from registration.build.sources.external_sort import DEFAULT_RUN_ROWS, external_sort
from registration.build.sources.sorted_runs import SortedRun, spill_runs
from registration.errors import InputError, UsageError

_CSV_FIELDS = {
    "key": "Key",
    "size": "Size",
    "storage_class": "StorageClass",
    "access_tier": "IntelligentTieringAccessTier",
    "is_latest": "IsLatest",
    "is_delete_marker": "IsDeleteMarker",
}
_PARQUET_FIELDS = {
    "key": "key",
    "size": "size",
    "storage_class": "storage_class",
    "access_tier": "intelligent_tiering_access_tier",
    "is_latest": "is_latest",
    "is_delete_marker": "is_delete_marker",
}

Row = tuple[str, int | None, str | None, str | None]


@dataclass(frozen=True)
class InventoryManifest:
    """The parts of an inventory `manifest.json` this tool uses."""

    source: str
    source_bucket: str
    destination_bucket: str
    file_format: str
    file_schema: str
    files: tuple[str, ...]


def _split_s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket or not key:
        raise UsageError(f"{uri!r} is not an s3://BUCKET/KEY URI")
    return bucket, key


def parse_manifest(text: bytes | str, source: str) -> InventoryManifest:
    """Parse and check an inventory manifest.json; InputError naming `source` when unusable."""
    try:
        data = json.loads(text)
        fmt = str(data["fileFormat"]).upper()
        files = tuple(str(entry["key"]) for entry in data["files"])
        dest = str(data.get("destinationBucket", ""))
        manifest = InventoryManifest(
            source=source,
            source_bucket=str(data["sourceBucket"]),
            destination_bucket=dest.rsplit(":", 1)[-1],
            file_format=fmt,
            file_schema=str(data.get("fileSchema", "")),
            files=files,
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"{source} is not an S3 Inventory manifest.json ({type(exc).__name__}: {exc})",
            source=source,
            hint="point --inventory at the manifest.json of one inventory report",
        ) from exc
    if fmt not in ("CSV", "PARQUET"):
        raise InputError(
            f"{source}: inventory format {fmt} is not supported (use CSV or Parquet)",
            source=source,
        )
    if fmt == "CSV" and "Key" not in [c.strip() for c in manifest.file_schema.split(",")]:
        raise InputError(f"{source}: fileSchema has no Key column", source=source)
    return manifest


@dataclass
class InventoryReader:
    """Reads one inventory report; local paths or s3:// URIs (with `s3_client`)."""

    location: str
    s3_client: Any = None
    run_rows: int = DEFAULT_RUN_ROWS
    ignored_rows: int = 0
    _manifest: InventoryManifest | None = field(default=None, repr=False)

    @property
    def manifest(self) -> InventoryManifest:
        """The parsed manifest.json (read on first use)."""
        if self._manifest is None:
            self._manifest = parse_manifest(self._read_bytes(self.location), self.location)
        return self._manifest

    @property
    def bucket(self) -> str:
        """The bucket the inventory describes."""
        return self.manifest.source_bucket

    def _read_bytes(self, location: str) -> bytes:
        if location.startswith("s3://"):
            bucket, key = _split_s3_uri(location)
            return self._s3_get(bucket, key).read()  # type: ignore[no-any-return]
        try:
            return Path(location).read_bytes()
        except OSError as exc:
            raise InputError(
                f"cannot read inventory {location}: {exc.strerror or exc}", source=location
            ) from exc

    def _s3_get(self, bucket: str, key: str) -> Any:
        from registration.build.sources.s3_access import make_s3_client, s3_error

        if self.s3_client is None:
            self.s3_client = make_s3_client()
        try:
            return self.s3_client.get_object(Bucket=bucket, Key=key)["Body"]
        except Exception as exc:
            raise s3_error(exc, bucket=bucket, action=f"reading inventory file {key} from") from exc

    def _local_data_file(self, key: str) -> Path:
        """Find a data file of a local copy: tried under each ancestor of the manifest."""
        parts = Path(key).parts
        manifest_dir = Path(self.location).resolve().parent
        for ancestor in [manifest_dir, *manifest_dir.parents][:8]:
            for start in range(len(parts)):
                candidate = ancestor.joinpath(*parts[start:])
                if candidate.is_file():
                    return candidate
        raise InputError(
            f"inventory data file {key} (listed in {self.location}) was not found locally",
            source=self.location,
            hint="copy the whole inventory report (manifest.json and its data/ files), "
            "or pass its s3:// URI",
        )

    def _open_data(self, key: str) -> IO[bytes]:
        if self.location.startswith("s3://"):
            dest = self.manifest.destination_bucket or _split_s3_uri(self.location)[0]
            body = self._s3_get(dest, key)
            if self.manifest.file_format == "PARQUET":
                spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the caller
                for chunk in iter(lambda: body.read(1 << 20), b""):
                    spool.write(chunk)
                spool.seek(0)
                return spool
            return body  # type: ignore[no-any-return]
        return self._local_data_file(key).open("rb")

    def _csv_rows(self, key: str) -> Iterator[Row]:
        columns = [c.strip() for c in self.manifest.file_schema.split(",")]
        index = {name: columns.index(col) for name, col in _CSV_FIELDS.items() if col in columns}
        ik = index["key"]
        isz, isc, iat = index.get("size"), index.get("storage_class"), index.get("access_tier")
        ilatest, idm = index.get("is_latest"), index.get("is_delete_marker")
        with self._open_data(key) as raw:
            text = io.TextIOWrapper(gzip.GzipFile(fileobj=raw), encoding="utf-8", newline="")
            try:
                for row in csv.reader(text):
                    if not row:
                        continue
                    if (ilatest is not None and row[ilatest] == "false") or (
                        idm is not None and row[idm] == "true"
                    ):
                        self.ignored_rows += 1
                        continue
                    k = row[ik]
                    # Same as unquote_plus (inventory CSV keys are form-encoded), minus
                    # its cost on the common keys that hold no escapes.
                    if "+" in k:
                        k = k.replace("+", " ")
                    if "%" in k:
                        k = unquote(k)
                    size = row[isz] if isz is not None else ""
                    yield (
                        k,
                        int(size) if size else None,
                        (row[isc] or None) if isc is not None else None,
                        (row[iat] or None) if iat is not None else None,
                    )
            except (OSError, EOFError, csv.Error, IndexError, ValueError, UnicodeError) as exc:
                raise InputError(
                    f"inventory data file {key} is unreadable ({type(exc).__name__}: {exc})",
                    source=self.location,
                ) from exc

    def _parquet_rows(self, key: str) -> Iterator[Row]:
        try:
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise UsageError(
                "reading a Parquet inventory needs pyarrow",
                hint="pip install 'encord-s3-register[parquet]'",
            ) from exc
        with self._open_data(key) as raw:
            try:
                pf = pq.ParquetFile(raw)
                names = set(pf.schema_arrow.names)
                wanted = {n: c for n, c in _PARQUET_FIELDS.items() if c in names}
                if "key" not in wanted:
                    raise InputError(f"inventory data file {key} has no key column", source=key)
                for batch in pf.iter_batches(batch_size=65_536, columns=list(wanted.values())):
                    cols = {n: batch.column(c).to_pylist() for n, c in wanted.items()}
                    keys = cols["key"]
                    none = [None] * len(keys)
                    latest = cols.get("is_latest", none)
                    marker = cols.get("is_delete_marker", none)
                    for k, sz, sc, at, lt, dm in zip(
                        keys,
                        cols.get("size", none),
                        cols.get("storage_class", none),
                        cols.get("access_tier", none),
                        latest,
                        marker,
                        strict=True,
                    ):
                        if lt is False or dm is True:
                            self.ignored_rows += 1
                            continue
                        yield (k, sz, sc or None, at or None)
            except InputError:
                raise
            except Exception as exc:  # pyarrow raises many kinds on corrupt input
                raise InputError(
                    f"inventory data file {key} is unreadable ({type(exc).__name__}: {exc})",
                    source=self.location,
                ) from exc

    def spill(
        self, index: int, directory: Path, run_rows: int, prefixes: tuple[str, ...] = ("",)
    ) -> tuple[list[SortedRun], int]:
        """Sort data file `index`'s current rows under `prefixes` into runs under
        `directory` (the parallel build's first step); the runs, and the rows ignored."""
        reader = self._parquet_rows if self.manifest.file_format == "PARQUET" else self._csv_rows
        before = self.ignored_rows
        rows = reader(self.manifest.files[index])
        if prefixes != ("",):
            rows = (row for row in rows if row[0].startswith(prefixes))
        runs = spill_runs(rows, run_rows, directory, f"file-{index:06d}")
        return runs, self.ignored_rows - before

    def _all_rows(self) -> Iterator[Row]:
        reader = self._parquet_rows if self.manifest.file_format == "PARQUET" else self._csv_rows
        for key in self.manifest.files:
            yield from reader(key)

    def sorted_rows(self) -> Iterator[Row]:
        """(key, size, storage class, access tier) of every current object, sorted by key."""
        return external_sort(self._all_rows(), self.run_rows)

    def records(self) -> Iterator[ObjectRecord]:
        """Every current object of the inventory, sorted by key (bounded memory)."""
        bucket = self.bucket
        new_record = tuple.__new__
        for key, size, storage_class, tier in self.sorted_rows():
            yield new_record(ObjectRecord, (bucket, key, size, storage_class, None, tier, None))
