"""What arrives on the continuous-registration queue, parsed once into frozen records.

Four kinds of message body (the queue holds nothing else; anything else is a poison message):

1. **S3 "Object Created" events, as EventBridge delivers them** (`S3_SOURCE`): the body is the
   event itself, ``{"version": "0", "id": ..., "detail-type": "Object Created", "source":
   "aws.s3", ..., "detail": {"bucket": {"name": B}, "object": {"key": K, "size": N, "etag":
   E, "version-id": ..., "sequencer": ...}, "reason": "PutObject", ...}}``. S3 spells the
   entity tag ``etag``; moto spells it ``eTag``: both are read. The event carries no storage
   class, and whether its key is URL-encoded is not documented: the engine asks S3
   (`keys.resolve`), so such an event is `ObjectEvent.exact` False.
2. **Backfill messages** (`BACKFILL_SOURCE`, sent by ``encord-register continuous
   backfill``): one bucket, many objects of a listing or an inventory, keys exact::

       {"source": "encord-register.backfill", "detail-type": "Object Created",
        "detail": {"bucket": {"name": B}, "objects": [{"key": K, "size": N, "etag": E,
                   "storageClass": S, "accessTier": T, "restored": true}, ...]}}

   (`etag`, `storageClass`, `accessTier`, `restored` optional). `backfill_bodies` packs
   records into bodies under `MAX_BODY_BYTES`.
3. **Group checks** (`GROUP_CHECK_SOURCE`), sent by the handler itself with a delay:
   ``{"source": "encord-register.group-check", "detail": {"bucket": B, "folder": F}}``.
4. **Sidecar checks** (`SIDECAR_CHECK_SOURCE`), likewise for a sidecar whose object had not
   arrived: ``{"source": "encord-register.sidecar-check", "detail": {"bucket": B, "key": K}}``.

`parse(body)` returns a list of `ObjectEvent` (kinds 1 and 2), a `GroupCheck` or a
`SidecarCheck`, and raises `BadMessage` with the reason for anything else.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import orjson

from registration.build.sources import ObjectRecord

S3_SOURCE: Final = "aws.s3"
BACKFILL_SOURCE: Final = "encord-register.backfill"
GROUP_CHECK_SOURCE: Final = "encord-register.group-check"
SIDECAR_CHECK_SOURCE: Final = "encord-register.sidecar-check"
SOURCES: Final = (S3_SOURCE, BACKFILL_SOURCE, GROUP_CHECK_SOURCE, SIDECAR_CHECK_SOURCE)
"""Every `source` a message on the queue may have."""
OBJECT_CREATED: Final = "Object Created"
"""The EventBridge detail-type of S3's object-created events (and of backfill messages)."""

MAX_BODY_BYTES: Final = 256 * 1024
"""SQS's classic limit on a message (body and attributes). Larger bodies are accepted by SQS
since 2025, but not by every client and event source: backfill stays under this."""
BACKFILL_BODY_BYTES: Final = MAX_BODY_BYTES - 6 * 1024
"""What `backfill_bodies` fills a body to at most: room left for message attributes."""
MAX_BACKFILL_OBJECTS: Final = 100
"""Objects per backfill message at most: a Lambda batch of the construct's default 100
messages is then at most 10,000 objects, one Encord job of Encord's recommended size
(`limits.DEFAULT_ITEMS_PER_FILE`), and well within one invocation's time."""


class BadMessage(ValueError):
    """A message that is none of the kinds the queue carries (a poison message)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ObjectEvent:
    """One object that was created (an S3 event) or listed (a backfill message)."""

    bucket: str
    key: str
    """The key as the message spells it (`exact` False: maybe URL-encoded)."""
    size: int | None = None
    etag: str | None = None
    """The entity tag without quotes (None when the message does not say)."""
    storage_class: str | None = None
    access_tier: str | None = None
    restored: bool | None = None
    exact: bool = True
    """True when `key` is the exact S3 key and the other fields can be trusted (backfill);
    False for S3 events (the engine resolves the key and storage class with HeadObject)."""
    source: str = BACKFILL_SOURCE

    def record(self, key: str | None = None) -> ObjectRecord:
        """The build stage's record of this object (under `key` when resolved)."""
        return ObjectRecord(
            self.bucket,
            self.key if key is None else key,
            self.size,
            self.storage_class,
            self.restored,
            self.access_tier,
        )


@dataclass(frozen=True)
class GroupCheck:
    """Is the group of `folder` complete (quiet for long enough, or its marker landed)?"""

    bucket: str
    folder: str


@dataclass(frozen=True)
class SidecarCheck:
    """Has the data object of sidecar `key` arrived? If not, the sidecar is an object itself."""

    bucket: str
    key: str


Parsed = list[ObjectEvent] | GroupCheck | SidecarCheck


def parse(body: str) -> Parsed:
    """The message `body` as records; `BadMessage` naming what is wrong otherwise."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadMessage(f"the body is not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise BadMessage(f"the body is a JSON {type(doc).__name__}, not an event object")
    source = doc.get("source")
    if source == S3_SOURCE:
        return [_s3_event(doc)]
    if source == BACKFILL_SOURCE:
        return list(_backfill(doc))
    if source == GROUP_CHECK_SOURCE:
        detail = _object(doc, "detail")
        return GroupCheck(_text(detail, "bucket"), _text(detail, "folder", empty=True))
    if source == SIDECAR_CHECK_SOURCE:
        detail = _object(doc, "detail")
        return SidecarCheck(_text(detail, "bucket"), _text(detail, "key"))
    if "Records" in doc:
        raise BadMessage(
            "an S3 event notification (Records[...]) sent straight to the queue: the queue "
            "takes S3 events through EventBridge (the stack's rule), backfill messages and "
            "its own checks"
        )
    raise BadMessage(f"unknown source {source!r}: expected one of {', '.join(SOURCES)}")


def _s3_event(doc: dict[str, Any]) -> ObjectEvent:
    kind = doc.get("detail-type")
    if kind != OBJECT_CREATED:
        raise BadMessage(
            f"an S3 event of type {kind!r}: only {OBJECT_CREATED!r} is registered (the rule "
            "sends nothing else; deletions are ignored)"
        )
    detail = _object(doc, "detail")
    bucket = _text(_object(detail, "bucket"), "name")
    obj = _object(detail, "object")
    etag = obj.get("etag", obj.get("eTag"))
    return ObjectEvent(
        bucket=bucket,
        key=_text(obj, "key"),
        size=_size(obj),
        etag=_unquoted(etag) if isinstance(etag, str) else None,
        exact=False,
        source=S3_SOURCE,
    )


def _backfill(doc: dict[str, Any]) -> Iterator[ObjectEvent]:
    detail = _object(doc, "detail")
    bucket = _text(_object(detail, "bucket"), "name")
    objects = detail.get("objects")
    if not isinstance(objects, list) or not objects:
        raise BadMessage("a backfill message without detail.objects (a non-empty list)")
    for obj in objects:
        if not isinstance(obj, dict):
            raise BadMessage("a backfill message whose detail.objects holds a non-object")
        etag = obj.get("etag")
        restored = obj.get("restored")
        yield ObjectEvent(
            bucket=bucket,
            key=_text(obj, "key"),
            size=_size(obj),
            etag=_unquoted(etag) if isinstance(etag, str) else None,
            storage_class=_optional_text(obj, "storageClass"),
            access_tier=_optional_text(obj, "accessTier"),
            restored=restored if isinstance(restored, bool) else None,
        )


def _object(doc: dict[str, Any], name: str) -> dict[str, Any]:
    value = doc.get(name)
    if not isinstance(value, dict):
        raise BadMessage(f"{name!r} is missing or not an object")
    return value


def _text(doc: dict[str, Any], name: str, *, empty: bool = False) -> str:
    value = doc.get(name)
    if not isinstance(value, str) or (not value and not empty):
        raise BadMessage(f"{name!r} is missing or not a non-empty string")
    return value


def _optional_text(doc: dict[str, Any], name: str) -> str | None:
    value = doc.get(name)
    return value if isinstance(value, str) and value else None


def _size(doc: dict[str, Any]) -> int | None:
    value = doc.get("size")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadMessage(f"'size' is {value!r}, not a number of bytes")
    return value


def _unquoted(etag: str) -> str:
    return etag.strip('"')


def _body(doc: dict[str, Any]) -> str:
    return orjson.dumps(doc).decode("utf-8")


def group_check_body(bucket: str, folder: str) -> str:
    """The body of a group check for `folder` of `bucket`."""
    return _body({"source": GROUP_CHECK_SOURCE, "detail": {"bucket": bucket, "folder": folder}})


def sidecar_check_body(bucket: str, key: str) -> str:
    """The body of a sidecar check for sidecar `key` of `bucket`."""
    return _body({"source": SIDECAR_CHECK_SOURCE, "detail": {"bucket": bucket, "key": key}})


def backfill_object(record: ObjectRecord, etag: str | None = None) -> dict[str, Any]:
    """One object of a backfill message (only the fields that are known)."""
    obj: dict[str, Any] = {"key": record.key}
    if record.size is not None:
        obj["size"] = record.size
    if etag:
        obj["etag"] = _unquoted(etag)
    if record.storage_class:
        obj["storageClass"] = record.storage_class
    if record.access_tier:
        obj["accessTier"] = record.access_tier
    if record.restored is not None:
        obj["restored"] = record.restored
    return obj


def backfill_bodies(
    records: Iterable[ObjectRecord],
    *,
    max_bytes: int = BACKFILL_BODY_BYTES,
    max_objects: int = MAX_BACKFILL_OBJECTS,
) -> Iterator[str]:
    """Backfill message bodies for `records`, in order: each one bucket's, within `max_bytes`
    (UTF-8) and `max_objects`; a new body starts when the bucket changes."""
    head: bytes = b""
    parts: list[bytes] = []
    size = 0
    bucket: str | None = None
    tail = b"]}}"

    def close() -> str:
        return (head + b",".join(parts) + tail).decode("utf-8")

    for record in records:
        part = orjson.dumps(backfill_object(record))
        if bucket != record.bucket or len(parts) >= max_objects or size + len(part) > max_bytes:
            if parts:
                yield close()
            bucket = record.bucket
            opening = {
                "source": BACKFILL_SOURCE,
                "detail-type": OBJECT_CREATED,
                "detail": {"bucket": {"name": bucket}, "objects": []},
            }
            head = orjson.dumps(opening)[: -len(tail)]
            parts = []
            size = len(head) + len(tail)
            if size + len(part) > max_bytes:
                raise ValueError(
                    f"key {record.key!r} of bucket {bucket!r} does not fit a backfill message "
                    f"of {max_bytes:,} bytes"
                )
        parts.append(part)
        size += len(part) + 1
    if parts:
        yield close()
