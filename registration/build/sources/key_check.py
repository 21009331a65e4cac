"""Check that the keys of a keys file exist: one HeadObject each, several at once, in order.

A keys file is a list someone wrote; a key that is not in the bucket would become a URL that
answers 404 in Encord. Each key gets one HeadObject (bounded concurrency, order kept, so the
stream stays sorted): a missing key is skipped as `not_found`; an existing one takes its size,
storage class, Intelligent-Tiering archive tier and restore state from the answer (what S3
says wins over the line), so empty and archived objects get their own skip reasons as in a
listing. `--trust-keys` turns the check off.

S3 answers 403, not 404, for a missing key when the caller lacks s3:ListBucket, so a 403 is
never read as "missing": the run stops with the permissions to add, or `--trust-keys`.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from registration.aws_errors import (
    DENIED_CODES,
    MISSING_BUCKET_CODES,
    MISSING_KEY_CODES,
    error_code,
)
from registration.build.skips import NOT_FOUND, SkipSink
from registration.build.sources import ObjectRecord
from registration.build.sources.s3_access import s3_error
from registration.build.sources.tiering import tier_from_head
from registration.build.urls import has_dot_segment
from registration.errors import AuthError

STANDARD = "STANDARD"
"""HeadObject leaves out x-amz-storage-class for STANDARD objects."""
NOTE_CHECKED = "keys_file_keys_checked"
_AHEAD_PER_WORKER = 4
"""HeadObject calls queued per worker ahead of the one the stream waits for (bounded memory)."""

_Answer = dict[str, Any] | None
"""A HeadObject answer, or None when the key is not in the bucket."""


class KeyChecker:
    """Checks one bucket's keys with HeadObject through a boto3 S3 client."""

    def __init__(self, client: Any, bucket: str, *, workers: int) -> None:
        self.client = client
        self.bucket = bucket
        self.workers = max(1, workers)
        self.checked = 0
        self._lock = threading.Lock()
        self._bucket_seen = False

    def _head(self, key: str) -> _Answer:
        try:
            answer: dict[str, Any] = self.client.head_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            code = error_code(exc)
            if code in MISSING_KEY_CODES:
                return None
            if code in DENIED_CODES:
                raise AuthError(
                    f"access denied while checking that key {key!r} of the keys file exists "
                    f"in s3://{self.bucket} (HeadObject)",
                    hint="the credentials need s3:GetObject on the keys, and s3:ListBucket on "
                    "the bucket (without it S3 answers 403, not 404, for a missing key); or "
                    "pass --trust-keys to use the keys file without checking it",
                ) from exc
            raise s3_error(
                exc, bucket=self.bucket, action="checking the keys of the keys file in"
            ) from exc
        finally:
            with self._lock:
                self.checked += 1
        return answer

    def check(self, records: Iterable[ObjectRecord], skip: SkipSink) -> Iterator[ObjectRecord]:
        """`records` that exist, in their order, with what S3 says about each; the others
        reported to `skip` as `not_found`.

        Keys with a dot segment are passed on unchecked: no request can name them (clients
        normalise the path), and the item builder skips them with their own reason.
        """
        window: deque[tuple[ObjectRecord, Future[_Answer] | None]] = deque()
        ahead = self.workers * _AHEAD_PER_WORKER
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="s3-head")
        last: tuple[str, Future[_Answer]] | None = None
        try:
            for record in records:
                future: Future[_Answer] | None = None
                if not has_dot_segment(record.key):
                    if last is not None and last[0] == record.key:  # sorted: duplicates adjoin
                        future = last[1]
                    else:
                        future = pool.submit(self._head, record.key)
                        last = (record.key, future)
                window.append((record, future))
                while len(window) > ahead:
                    yield from self._settle(*window.popleft(), skip)
            while window:
                yield from self._settle(*window.popleft(), skip)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _settle(
        self, record: ObjectRecord, future: Future[_Answer] | None, skip: SkipSink
    ) -> Iterator[ObjectRecord]:
        if future is None:
            yield record
            return
        answer = future.result()
        if answer is None:
            if not self._bucket_seen:
                self._bucket_exists()
            skip(record.bucket, record.key, NOT_FOUND, "HeadObject: 404 Not Found")
            return
        tier, restored = tier_from_head(answer)
        size = answer.get("ContentLength")
        yield record._replace(
            size=size if isinstance(size, int) else record.size,
            storage_class=str(answer.get("StorageClass") or STANDARD),
            access_tier=tier,
            restored=restored,
        )

    def _bucket_exists(self) -> None:
        """Raise when the bucket itself is missing: HeadObject answers 404 for that too, and
        a typo in --bucket must not look like a file of missing keys."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except Exception as exc:
            if error_code(exc) in MISSING_BUCKET_CODES:
                raise s3_error(
                    exc, bucket=self.bucket, action="checking the keys of the keys file in"
                ) from exc
        self._bucket_seen = True

    def notes(self) -> dict[str, int]:
        """How many keys were checked (summary.json `notes`; nothing when none)."""
        return {NOTE_CHECKED: self.checked} if self.checked else {}
