"""An event's object as S3 holds it: the exact key, its size, storage class and archive state.

S3 event notifications sent straight to SQS carry the key URL-encoded, form-style (``red
flower.jpg`` arrives as ``red+flower.jpg``); whether EventBridge's ``detail.object.key`` is
encoded is not documented. So the key is never guessed: HeadObject is asked for the key as
the event spells it, then for its form-decoded spelling (`spellings`). When the event gives an
entity tag, a spelling whose object has another tag is passed over (both ``a+b.jpg`` and
``a b.jpg`` may exist). The same answer says what the event does not: the storage class
(an object can be written straight into GLACIER or DEEP_ARCHIVE), the Intelligent-Tiering
archive tier and whether a restore finished. HeadObject on a missing key answers 404 only
when the caller may list the bucket (s3:ListBucket), else 403. So a spelling answered 403 is
passed over, but an event none of whose spellings is found, one of them with 403, fails with
that reason (`Denied`) instead of being skipped as missing: a role that may not read the
objects must not look like deleted objects. Existence probes (a sidecar's data object) read
403 as missing (`exists`).
"""

from __future__ import annotations

from typing import Any, NamedTuple
from urllib.parse import unquote_plus

from registration.aws_errors import DENIED_CODES, MISSING_KEY_CODES, error_code
from registration.build.sources import ObjectRecord
from registration.build.sources.key_check import STANDARD
from registration.build.sources.tiering import tier_from_head
from registration.build.urls import has_dot_segment
from registration.errors import RemoteError


class Denied(RemoteError):
    """HeadObject answered 403: the key is missing (and the caller may not list the bucket),
    or the object may not be read. Its messages fail with this reason; others go on."""


class Head(NamedTuple):
    """What HeadObject said about one object."""

    key: str
    """The exact key (the spelling that exists)."""
    size: int | None
    etag: str | None
    storage_class: str
    access_tier: str | None
    restored: bool | None

    def record(self, bucket: str) -> ObjectRecord:
        """The build stage's record of this object."""
        return ObjectRecord(
            bucket, self.key, self.size, self.storage_class, self.restored, self.access_tier
        )


def spellings(key: str) -> list[str]:
    """The key as given, then its form-decoded spelling when that differs."""
    decoded = unquote_plus(key)
    return [key] if decoded == key else [key, decoded]


def head(client: Any, bucket: str, key: str) -> Head | None:
    """HeadObject of exactly `key`; None when S3 says it is not there (404)."""
    if has_dot_segment(key):
        # No request can name it (clients normalise the path); the item builder skips it.
        return Head(key, None, None, STANDARD, None, None)
    try:
        answer: dict[str, Any] = client.head_object(Bucket=bucket, Key=key)
    except Exception as exc:
        code = error_code(exc)
        if code in MISSING_KEY_CODES:
            return None
        if code in DENIED_CODES:
            raise Denied(
                f"access denied reading s3://{bucket}/{key} (HeadObject): the object was "
                "deleted, or the function may not read it (it needs s3:GetObject on the "
                "watched prefixes; with s3:ListBucket on the bucket S3 answers 404 for a "
                "deleted object, which is then skipped as not_found)"
            ) from None
        raise RemoteError(
            f"S3 HeadObject of s3://{bucket}/{key} failed ({code or type(exc).__name__})"
        ) from None
    tier, restored = tier_from_head(answer)
    size = answer.get("ContentLength")
    etag = answer.get("ETag")
    return Head(
        key=key,
        size=size if isinstance(size, int) else None,
        etag=str(etag).strip('"') if etag else None,
        storage_class=str(answer.get("StorageClass") or STANDARD),
        access_tier=tier,
        restored=restored,
    )


def exists(client: Any, bucket: str, key: str) -> Head | None:
    """HeadObject of `key` as a probe: a 403 counts as missing (without s3:ListBucket S3
    answers 403 for a key that is not there; the function may read its watched prefixes)."""
    try:
        return head(client, bucket, key)
    except Denied:
        return None


def resolve(client: Any, bucket: str, key: str, etag: str | None = None) -> Head | None:
    """The object an event names: its first spelling that exists (and has `etag`, when given
    and another spelling has it); None when no spelling exists (deleted since). A spelling
    answered with 403 is passed over; `Denied` when no spelling was found and one was 403."""
    found: Head | None = None
    denied: Denied | None = None
    for spelling in spellings(key):
        try:
            answer = head(client, bucket, spelling)
        except Denied as exc:
            denied = denied or exc
            continue
        if answer is None:
            continue
        if etag is None or answer.etag is None or answer.etag == etag:
            return answer
        found = found or answer
    if found is None and denied is not None:
        raise denied
    return found
