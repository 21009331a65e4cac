"""Sidecars: metadata for an item, whichever of the two lands first.

A sidecar belongs to the first of its data keys (longest suffix first, `manifest`'s pairing
rule) that exists: in the table (arrived) or in S3. Then, by the data object's state:

- `registered`: the item is sent again with the sidecar's metadata and `upsert_metadata`
  (Encord replaces the item's metadata) unless this very sidecar (same entity tag) was already
  applied, or a sidecar with a longer suffix was (this one is then `sidecar_superseded`);
- `claimed`: it is being registered now; the sidecar waits (recorded) and its message comes
  back later, when the metadata is either in the item or sent as an update;
- not arrived yet, or no data object at all: the sidecar waits, and a sidecar check is sent
  for after the quiet period (for a sidecar listed in the same batch as its object, only if
  this invocation does not send the object: when it does, its claim saw the sidecar's flag and
  the item goes out with the metadata). The check finds the object registered (nothing left
  to do, or an update), or existing in S3 without ever having arrived (it predates the watch:
  it is claimed and sent with the metadata, as an update in case Encord already holds it), or
  missing: the sidecar is then an object of its own (a JSON document), as `manifest` would
  treat it.

A sidecar of a group frame or of a skipped object is skipped with `manifest`'s reason.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from registration.build import skips
from registration.build.items import BuiltItem
from registration.build.sources import ObjectRecord
from registration.continuous import keys, metrics
from registration.continuous import table as t
from registration.continuous.arrivals import Arrival
from registration.continuous.claims import Held, Settled, Taken
from registration.continuous.dynamo import Record
from registration.continuous.invocation import Invocation, Upsert
from registration.continuous.keys import Head
from registration.continuous.messages import sidecar_check_body
from registration.continuous.placement import Member, Sidecar, Skip
from registration.continuous.submit import Unit


@dataclass(frozen=True)
class Waiting:
    """A sidecar waiting for an object of the same batch: its check is sent only if this
    invocation does not send the object (`after_claims`)."""

    bucket: str
    key: str
    data_key: str
    messages: frozenset[str]


def arrive(
    inv: Invocation,
    arrivals: Iterable[tuple[Arrival, Sidecar]],
    present: Collection[tuple[str, str]] = (),
) -> list[Waiting]:
    """Handle sidecars that just landed (`present`: the batch's objects, which exist); those
    that wait for an object of the batch are returned, for `after_claims`."""
    waiting: list[Waiting] = []
    inv.each(
        lambda item: _arrive(inv, item[0], item[1].candidates, present, waiting),
        list(arrivals),
        lambda item: item[0].messages,
    )
    return waiting


def after_claims(inv: Invocation, waiting: Iterable[Waiting]) -> None:
    """Once the batch's objects are claimed: a sidecar whose object this invocation sends
    (built with the sidecar, which its claim saw flagged) needs no check; the others get
    theirs, as if their object were not in the batch (it may be held by another invocation,
    or come back later)."""
    sent = {(u.claim.bucket, u.claim.name) for u in inv.units if u.claim and not u.claim.is_group}
    due = inv.services.settings.quiet_seconds
    inv.each(
        lambda w: inv.send_check(sidecar_check_body(w.bucket, w.key), due),
        [w for w in waiting if (w.bucket, w.data_key) not in sent],
        lambda w: w.messages,
    )


def check(inv: Invocation, checks: Mapping[tuple[str, str], set[str]]) -> list[Arrival]:
    """Handle sidecar checks; the sidecars that are objects of their own (to be placed)."""
    own: list[Arrival] = []

    def one(item: tuple[tuple[str, str], set[str]]) -> None:
        (bucket, key), messages = item
        head = keys.exists(inv.services.aws.s3, bucket, key)
        if head is None:
            return  # the sidecar is gone: nothing to wait for
        candidates = inv.services.placer.sidecar_candidates(key)
        found = _locate(inv, bucket, candidates)
        if found is None:
            waited = inv.services.sidecars.arrived(bucket, candidates[0], key)
            rest = (waited or inv.now) + inv.services.settings.quiet_seconds - inv.now
            if waited is not None and rest > 0:  # a quiet period longer than SQS's delay
                inv.send_check(sidecar_check_body(bucket, key), rest)
                return
            for data_key in candidates:
                inv.services.sidecars.drop(bucket, data_key, key)
            own.append(Arrival(bucket, head, set(messages)))
            return
        data_key, record = found
        _attach(inv, messages, bucket, head, data_key, record, checking=True)

    inv.each(one, list(checks.items()), lambda item: item[1])
    return own


def _locate(
    inv: Invocation,
    bucket: str,
    candidates: Iterable[str],
    present: Collection[tuple[str, str]] = (),
) -> tuple[str, Record] | None:
    """The first data key that exists (in the table, in the batch, or in S3), with its record
    ({} if none)."""
    services = inv.services
    for data_key in candidates:
        record = services.table.get(t.object_pk(bucket, data_key), t.OBJECT_SK) or {}
        if (
            record.get(t.STATE)
            or (bucket, data_key) in present
            or keys.exists(services.aws.s3, bucket, data_key) is not None
        ):
            return data_key, record
    return None


def _arrive(
    inv: Invocation,
    arrival: Arrival,
    candidates: tuple[str, ...],
    present: Collection[tuple[str, str]],
    waiting: list[Waiting],
) -> None:
    found = _locate(inv, arrival.bucket, candidates, present)
    if found is None:  # no data object yet: wait for the first candidate
        _attach(inv, arrival.messages, arrival.bucket, arrival.head, candidates[0], None)
        return
    data_key, record = found
    in_batch = waiting if (arrival.bucket, data_key) in present else None
    _attach(inv, arrival.messages, arrival.bucket, arrival.head, data_key, record, batch=in_batch)


def _attach(
    inv: Invocation,
    messages: set[str],
    bucket: str,
    sidecar: Head,
    data_key: str,
    before: Record | None,
    *,
    checking: bool = False,
    batch: list[Waiting] | None = None,
) -> None:
    """Attach `sidecar` to `data_key` (`before`: its record when the object exists, None when
    it does not exist yet; `batch`: where to note the sidecar when its object is in the
    batch, instead of sending its check now)."""
    services = inv.services
    if before is not None:
        placed = services.placer.place_data(ObjectRecord(bucket, data_key))
        if isinstance(placed, Member):  # a frame of a group (or a maybe-slice of a series)
            inv.skip(bucket, sidecar.key, skips.SIDECAR_OF_FRAME, data_key, sidecar)
            return
        if isinstance(placed, Skip) or before.get(t.STATE) == t.SKIPPED:
            inv.skip(bucket, sidecar.key, skips.SIDECAR_OF_SKIPPED, data_key, sidecar)
            return
    record = services.sidecars.wait(bucket, data_key, sidecar, inv.now)
    state = record.get(t.STATE)
    if state == t.REGISTERED:
        _update(inv, messages, bucket, data_key, record, sidecar)
    elif state == t.CLAIMED:
        inv.busy(
            messages,
            f"sidecar s3://{bucket}/{sidecar.key} waits for its object {data_key!r}, "
            "which is being registered",
            float(record.get(t.LEASE_UNTIL, 0)) or None,
        )
    elif state == t.SKIPPED:
        inv.skip(bucket, sidecar.key, skips.SIDECAR_OF_SKIPPED, data_key, sidecar)
    elif state == t.FAILED:
        inv.journal.event(
            "sidecar_waits", bucket=bucket, key=sidecar.key, object=data_key, object_state=state
        )
    elif checking:
        _claim_unarrived(inv, messages, bucket, data_key, sidecar)
    else:
        inv.journal.event("sidecar_waits", bucket=bucket, key=sidecar.key, object=data_key)
        if batch is not None:
            batch.append(Waiting(bucket, sidecar.key, data_key, frozenset(messages)))  # atomic
        else:
            inv.send_check(sidecar_check_body(bucket, sidecar.key), services.settings.quiet_seconds)


def _update(
    inv: Invocation,
    messages: set[str],
    bucket: str,
    data_key: str,
    record: Record,
    sidecar: Head,
) -> None:
    """Queue the metadata update of a registered item (unless it is applied or superseded)."""
    used, used_etag = record.get(t.SIDECAR), record.get(t.SIDECAR_ETAG)
    if used == sidecar.key and (used_etag or "") == (sidecar.etag or ""):
        inv.journal.count(metrics.DUPLICATE_EVENTS)
        return
    if used and used != sidecar.key and len(str(used)) > len(sidecar.key):
        inv.skip(bucket, sidecar.key, skips.SIDECAR_SUPERSEDED, str(used), sidecar)
        return
    size = int(record.get(t.SIZE, -1))
    data = ObjectRecord(bucket, data_key, size if size >= 0 else None, record.get(t.STORAGE_CLASS))
    built = _built(inv, data, sidecar)
    if built is not None:
        inv.upserts.append(
            Upsert(Unit(built), bucket, data_key, sidecar.key, sidecar.etag or "", set(messages))
        )


def _built(inv: Invocation, data: ObjectRecord, sidecar: Head) -> BuiltItem | None:
    found: list[tuple[str, str, str, str | None]] = []

    def sink(bucket: str, key: str, reason: str, detail: str | None) -> None:
        found.append((bucket, key, reason, detail))

    items = inv.services.items
    entry = items.entry(data, [ObjectRecord(data.bucket, sidecar.key, sidecar.size)], sink)
    built = items.single(entry, sink) if entry.sidecar is not None else None
    for skipped in found:
        inv.skip(*skipped)
    if entry.sidecar is None or entry.sidecar_problem is not None:
        return None
    return built


def _claim_unarrived(
    inv: Invocation, messages: set[str], bucket: str, data_key: str, sidecar: Head
) -> None:
    """The data object exists but never arrived (it predates the watch): claim it and send it
    with its sidecar's metadata, as an update (Encord may hold it from an earlier run)."""
    services = inv.services
    head = keys.exists(services.aws.s3, bucket, data_key)
    if head is None:
        return
    result = services.claims.claim_object(head, bucket, inv.owner, inv.now, inv.lease_until)
    if isinstance(result, Held):
        inv.busy(messages, f"{data_key!r} is being registered", result.lease_until)
        return
    if isinstance(result, Settled):
        if result.state == t.REGISTERED:
            _update(inv, messages, bucket, data_key, result.record, sidecar)
        return
    assert isinstance(result, Taken)
    held = inv.hold(result.claim, messages)
    waiting = services.sidecars.waiting(bucket, data_key)
    found: list[tuple[str, str, str, str | None]] = []

    def sink(bucket: str, key: str, reason: str, detail: str | None) -> None:
        found.append((bucket, key, reason, detail))

    entry = services.items.entry(head.record(bucket), [r for r, _ in waiting.values()], sink)
    built = services.items.single(entry, sink)
    for skipped in found:
        inv.skip(*skipped)
    if built is None:
        services.claims.release(held, inv.now, in_flight=False)
        held.done = True
        return
    if entry.sidecar is not None and entry.sidecar_problem is None:
        held.finish_sets = {
            t.SIDECAR: entry.sidecar.key,
            t.SIDECAR_ETAG: waiting[entry.sidecar.key][1],
        }
    inv.upserts.append(
        Upsert(Unit(built, held), bucket, data_key, sidecar.key, sidecar.etag or "", set(messages))
    )
