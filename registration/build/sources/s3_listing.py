"""List a bucket with ListObjectsV2, several prefixes at once, keys in sorted order.

With more than one worker each prefix is first split one level at the delimiter '/', and
the sub-prefixes are listed concurrently; their pages are read back in key order, so the
output is the same as a plain sequential listing. Each worker buffers at most a few pages
(bounded memory).
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from registration.build.sources import ObjectRecord
from registration.build.sources.s3_access import s3_error
from registration.build.sources.tiering import TierResolver

DEFAULT_LIST_WORKERS = 8
_PAGES_BUFFERED_PER_WORKER = 4
_MAX_PENDING_UNITS = 2_000  # direct objects held while waiting for sub-prefixes
_END = object()


def normalise_prefixes(prefixes: Iterable[str]) -> list[str]:
    """Sorted prefixes with every prefix covered by a shorter one dropped (no duplicates)."""
    result: list[str] = []
    for prefix in sorted(set(prefixes)):
        if result and prefix.startswith(result[-1]):
            continue
        result.append(prefix)
    return result or [""]


def _record(bucket: str, obj: dict[str, Any]) -> ObjectRecord:
    restore = obj.get("RestoreStatus")
    restored: bool | None = None
    if restore is not None:
        restored = not restore.get("IsRestoreInProgress", False) and bool(
            restore.get("RestoreExpiryDate")
        )
    return ObjectRecord(
        bucket=bucket,
        key=obj["Key"],
        size=obj.get("Size"),
        storage_class=obj.get("StorageClass"),
        restored=restored,
    )


class BucketLister:
    """Lists one bucket through a boto3 S3 client."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        *,
        workers: int = DEFAULT_LIST_WORKERS,
        head_intelligent_tiering: bool = False,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.workers = max(1, workers)
        self.tiers = TierResolver(client, bucket, head=head_intelligent_tiering)

    def _make(self, obj: dict[str, Any]) -> ObjectRecord:
        return self.tiers.resolve(_record(self.bucket, obj))

    def _pages(self, prefix: str, delimiter: str | None = None) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "Bucket": self.bucket,
            "Prefix": prefix,
            "OptionalObjectAttributes": ["RestoreStatus"],
        }
        if delimiter:
            kwargs["Delimiter"] = delimiter
        try:
            yield from self.client.get_paginator("list_objects_v2").paginate(**kwargs)
        except Exception as exc:
            raise s3_error(exc, bucket=self.bucket, action="listing") from exc

    def _objects(self, prefix: str) -> Iterator[ObjectRecord]:
        for page in self._pages(prefix):
            for obj in page.get("Contents", ()):
                yield self._make(obj)

    def iter_objects(self, prefixes: Iterable[str] = ("",)) -> Iterator[ObjectRecord]:
        """Every object under `prefixes`, sorted by key."""
        prefixes = normalise_prefixes(prefixes)
        if self.workers == 1:
            for prefix in prefixes:
                yield from self._objects(prefix)
            return
        yield from self._concurrent(self._units(prefixes))

    def _units(self, prefixes: list[str]) -> Iterator[ObjectRecord | str]:
        """Objects directly under each prefix and the sub-prefixes (str), in key order.

        Disjoint units sorted by their key/prefix concatenate to a sorted listing, and
        S3 returns Contents and CommonPrefixes of a page in one lexicographic order.
        """
        for prefix in prefixes:
            for page in self._pages(prefix, delimiter="/"):
                direct = [self._make(o) for o in page.get("Contents", ())]
                subs = [p["Prefix"] for p in page.get("CommonPrefixes", ())]
                units: list[tuple[str, ObjectRecord | str]] = [(r.key, r) for r in direct]
                units += [(p, p) for p in subs]
                units.sort(key=lambda unit: unit[0])
                for _, unit in units:
                    yield unit

    def _concurrent(self, units: Iterator[ObjectRecord | str]) -> Iterator[ObjectRecord]:
        stop = threading.Event()

        def produce(prefix: str, out: queue.Queue[Any]) -> None:
            try:
                for page in self._pages(prefix):
                    batch = [self._make(o) for o in page.get("Contents", ())]
                    while not stop.is_set():
                        try:
                            out.put(batch, timeout=0.2)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
                out.put(_END)
            except BaseException as exc:  # handed to the consumer, re-raised there
                out.put(exc)

        pending: deque[ObjectRecord | queue.Queue[Any]] = deque()
        with ThreadPoolExecutor(self.workers, thread_name_prefix="s3-list") as pool:
            try:
                started = 0
                for unit in units:
                    if isinstance(unit, str):
                        q: queue.Queue[Any] = queue.Queue(_PAGES_BUFFERED_PER_WORKER)
                        pool.submit(produce, unit, q)
                        pending.append(q)
                        started += 1
                    else:
                        pending.append(unit)
                    # Drain from the front while the pool has enough work queued.
                    while pending and (
                        started >= self.workers or len(pending) > _MAX_PENDING_UNITS
                    ):
                        head = pending.popleft()
                        if isinstance(head, ObjectRecord):
                            yield head
                            continue
                        yield from self._drain(head)
                        started -= 1
                for head in pending:
                    if isinstance(head, ObjectRecord):
                        yield head
                    else:
                        yield from self._drain(head)
            finally:
                stop.set()

    @staticmethod
    def _drain(q: queue.Queue[Any]) -> Iterator[ObjectRecord]:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield from item
