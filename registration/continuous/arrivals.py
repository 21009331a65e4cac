"""The batch's messages read: objects resolved against S3 and merged, checks set aside.

Every SQS record is parsed once (`messages.parse`); a body that is none of the known kinds
fails its message as poison (it ends in the dead-letter queue with its reason). An object of
a bucket or prefix the handler does not watch fails the same way (the stack's rule never sends
one: it is a wiring mistake). S3 events are resolved with HeadObject (`keys.resolve`: the
exact key, the storage class); backfill objects are trusted as listed, except
Intelligent-Tiering ones, whose archive tier only HeadObject tells (so a backfill message of
1,000 objects costs no S3 request). Events of the same object are merged into one `Arrival`
that remembers every message naming it; an object gone by now is skipped as `not_found`.

`look_up` reads the ``obj`` records of many arrivals at once (BatchGetItem, strongly
consistent, 100 a request), so that objects already registered, failed or skipped cost no write
(`claims`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Final

from registration.build import skips
from registration.build.sources import INTELLIGENT_TIERING
from registration.build.sources.key_check import STANDARD
from registration.continuous import metrics
from registration.continuous import table as t
from registration.continuous.claims import UNREAD, Known
from registration.continuous.invocation import Invocation
from registration.continuous.keys import Head, resolve
from registration.continuous.messages import (
    BadMessage,
    GroupCheck,
    ObjectEvent,
    SidecarCheck,
    parse,
)
from registration.errors import AuthError, RegisterError

GONE_DETAIL = "deleted before it was registered (HeadObject: 404 Not Found)"
LOOKED_UP: Final = (
    t.STATE,
    t.ETAG,
    t.LEASE_UNTIL,
    t.OWNER,
    t.JOB,
    t.LOST_JOB,
    t.REASON,
    t.DETAIL,
    t.HAS_SIDECAR,
)
"""What `look_up` reads of an object's record: what settles it, claims it, or says its skip
(fewer attributes read, fewer to carry)."""


@dataclass(eq=False)
class Arrival:
    """One object of the batch, as S3 holds it, and the messages that named it."""

    bucket: str
    head: Head
    messages: set[str] = field(default_factory=set)
    known: Known = UNREAD
    """Its ``obj`` record as `look_up` read it."""


@dataclass
class Batch:
    """The batch sorted by kind."""

    arrivals: list[Arrival] = field(default_factory=list)
    group_checks: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    sidecar_checks: dict[tuple[str, str], set[str]] = field(default_factory=dict)


def _watched(inv: Invocation, event: ObjectEvent) -> str | None:
    """Why `event` is not the handler's to register (None when it is)."""
    bucket = inv.services.settings.bucket(event.bucket)
    if bucket is None:
        return f"bucket {event.bucket!r} is not watched by this function (a wiring mistake)"
    if not any(event.key.startswith(prefix) for prefix in bucket.prefixes):
        return (
            f"key {event.key!r} is outside the watched prefixes of bucket {event.bucket!r} "
            f"({', '.join(repr(p) for p in bucket.prefixes)})"
        )
    return None


def read(inv: Invocation) -> Batch:
    """Parse the batch's messages and resolve its objects."""
    batch = Batch()
    events: dict[tuple[str, str], tuple[ObjectEvent, set[str]]] = {}
    for message in inv.ledger.messages.values():
        try:
            parsed = parse(message.body)
        except BadMessage as exc:
            inv.journal.event("poison", message=message.message_id, reason=exc.reason)
            inv.journal.count(metrics.POISON_MESSAGES)
            inv.ledger.fail([message.message_id], t.ERROR_POISON, exc.reason)
            continue
        if isinstance(parsed, GroupCheck):
            message.source = "group-check"
            batch.group_checks.setdefault((parsed.bucket, parsed.folder), set()).add(
                message.message_id
            )
            continue
        if isinstance(parsed, SidecarCheck):
            message.source = "sidecar-check"
            batch.sidecar_checks.setdefault((parsed.bucket, parsed.key), set()).add(
                message.message_id
            )
            continue
        for event in parsed:
            message.source = event.source
            inv.ledger.name(message.message_id, event.bucket, event.key)
            problem = _watched(inv, event)
            if problem is not None:
                inv.journal.event("poison", message=message.message_id, reason=problem)
                inv.journal.count(metrics.POISON_MESSAGES)
                inv.ledger.fail([message.message_id], t.ERROR_POISON, problem)
                continue
            known = events.get((event.bucket, event.key))
            if known is None:
                events[(event.bucket, event.key)] = (event, {message.message_id})
            else:  # the same object again in this batch: one arrival, a duplicate event
                known[1].add(message.message_id)
                inv.journal.count(metrics.DUPLICATE_EVENTS)
    resolved: dict[tuple[str, str], Arrival] = {}
    lock = threading.Lock()

    def settle(entry: tuple[ObjectEvent, set[str]]) -> None:
        event, ids = entry
        head = _given(event) or _head(inv, event)
        if head is None:
            inv.skip(event.bucket, event.key, skips.NOT_FOUND, GONE_DETAIL)
            return
        with lock:
            arrival = resolved.get((event.bucket, head.key))
            if arrival is None:
                resolved[(event.bucket, head.key)] = Arrival(event.bucket, head, set(ids))
            else:  # another spelling of the same key
                arrival.messages |= ids
                inv.journal.count(metrics.DUPLICATE_EVENTS)

    asking: list[tuple[ObjectEvent, set[str]]] = []
    for entry in events.values():  # what the message tells needs no thread
        if _given(entry[0]) is None:
            asking.append(entry)
        else:
            settle(entry)
    inv.each(settle, asking, lambda entry: entry[1])
    batch.arrivals = list(resolved.values())
    return batch


def _given(event: ObjectEvent) -> Head | None:
    """What a backfill message says of its object, when S3 need not be asked."""
    if event.exact and event.storage_class != INTELLIGENT_TIERING:
        return Head(
            event.key,
            event.size,
            event.etag,
            event.storage_class or STANDARD,
            event.access_tier,
            event.restored,
        )
    return None


def _head(inv: Invocation, event: ObjectEvent) -> Head | None:
    """What S3 holds for `event` (HeadObject)."""
    return resolve(inv.services.aws.s3, event.bucket, event.key, event.etag)


def look_up(inv: Invocation, arrivals: list[Arrival]) -> None:
    """Read the ``obj`` records of `arrivals` (left unread when the read fails: the writes that
    follow find out for themselves)."""
    keys = [(t.object_pk(a.bucket, a.head.key), t.OBJECT_SK) for a in arrivals]
    try:
        records = inv.services.table.get_many(keys, LOOKED_UP)
    except AuthError:
        raise
    except RegisterError as exc:
        inv.journal.event("lookup_failed", reason=exc.message, objects=len(arrivals))
        return
    for arrival, key in zip(arrivals, keys, strict=True):
        arrival.known = records.get(key)


def skip(inv: Invocation, arrival: Arrival, reason: str, detail: str | None) -> None:
    """Record and log `arrival` as skipped (no write when its record says so already)."""
    bucket, head = arrival.bucket, arrival.head
    inv.services.claims.skip_object(
        bucket, head.key, reason, detail, inv.now, head, known=arrival.known
    )
    inv.journal.event("skipped", bucket=bucket, key=head.key, reason=reason, detail=detail)
    inv.journal.count(metrics.SKIPPED)
