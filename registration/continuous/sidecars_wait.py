"""Sidecars waiting for their object: ``sidecar#<key>`` records in the object's partition.

Recording a sidecar is two writes, in this order: the ``sidecar#`` record, then the flag
`HAS_SIDECAR` on the object's ``obj`` record (a stub with no state when the object has not
arrived), which returns the object's record as it now is. The object's claim returns the
record as it was, flag included. So whichever comes second sees the other: a claim that saw no
flag was written before the flag, and the sidecar's writer then sees the object `claimed` (and
looks again later, when it is registered, to update its metadata); a claim that saw the flag
reads the waiting sidecars and registers the object with them.
"""

from __future__ import annotations

from registration.build.sources import ObjectRecord
from registration.continuous import table as t
from registration.continuous.clock import iso
from registration.continuous.dynamo import Record, StateTable, Update
from registration.continuous.keys import Head


class Sidecars:
    """Waiting sidecars in the state table."""

    def __init__(self, table: StateTable) -> None:
        self.table = table

    def wait(self, bucket: str, data_key: str, sidecar: Head, now: float) -> Record:
        """Record `sidecar` as waiting for `data_key`; the data object's record as it now is."""
        pk = t.object_pk(bucket, data_key)
        self.table.put(
            pk,
            t.sidecar_sk(sidecar.key),
            {
                t.BUCKET: bucket,
                t.KEY: sidecar.key,
                t.DATA_KEY: data_key,
                t.SIZE: sidecar.size if sidecar.size is not None else -1,
                t.ETAG: sidecar.etag or "",
                t.ARRIVED: now,
            },
        )
        written = self.table.update(
            Update(pk, t.OBJECT_SK, sets={t.HAS_SIDECAR: True, t.UPDATED_AT: iso(now)})
        )
        return written.record or {}

    def waiting(self, bucket: str, data_key: str) -> dict[str, tuple[ObjectRecord, str]]:
        """The sidecars waiting for `data_key`: key -> (the build stage's record, entity tag)."""
        found: dict[str, tuple[ObjectRecord, str]] = {}
        for record in self.table.query(t.object_pk(bucket, data_key), t.SIDECAR_SK_PREFIX):
            size = int(record.get(t.SIZE, -1))
            key = str(record[t.KEY])
            found[key] = (
                ObjectRecord(bucket, key, size if size >= 0 else None),
                str(record.get(t.ETAG) or ""),
            )
        return found

    def arrived(self, bucket: str, data_key: str, sidecar_key: str) -> float | None:
        """When a waiting sidecar arrived (None when it is not waiting)."""
        record = self.table.get(t.object_pk(bucket, data_key), t.sidecar_sk(sidecar_key))
        return float(record[t.ARRIVED]) if record and t.ARRIVED in record else None

    def drop(self, bucket: str, data_key: str, sidecar_key: str) -> None:
        """Forget a waiting sidecar (it became an object of its own)."""
        self.table.delete(t.object_pk(bucket, data_key), t.sidecar_sk(sidecar_key))
