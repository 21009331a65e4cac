"""Single-file objects: checked by the build stage, claimed, and turned into units to send.

The item is built once before the claim (an object the item builder skips, such as a URL over
Encord's limit or a key with a dot segment, is skipped without a claim), and built again after
it only when its claim says sidecars wait for it (`has_sidecar`: their records are then read,
one Query; no other object costs a read). An object already `registered` is a duplicate event;
one claimed by a live invocation comes back later (`ERROR_BUSY`). The claim starts from the
record `arrivals.look_up` read, so such objects cost no write (`claims`).
"""

from __future__ import annotations

from collections.abc import Iterable

from registration.build.items import BuiltItem
from registration.build.sidecars import Entry
from registration.continuous import arrivals, metrics
from registration.continuous import table as t
from registration.continuous.arrivals import Arrival
from registration.continuous.claims import Claim, Held, Settled, Taken
from registration.continuous.clock import iso
from registration.continuous.invocation import Invocation
from registration.continuous.submit import Unit


def claim(inv: Invocation, found: Iterable[Arrival]) -> None:
    """Claim every single-file arrival and add its unit to the invocation's job."""
    inv.each(lambda arrival: _one(inv, arrival), list(found), lambda a: a.messages)


def _one(inv: Invocation, arrival: Arrival) -> None:
    services = inv.services
    bucket, head = arrival.bucket, arrival.head
    found: list[tuple[str, str, str, str | None]] = []

    def sink(bucket: str, key: str, reason: str, detail: str | None) -> None:
        found.append((bucket, key, reason, detail))

    built = services.items.single(Entry(head.record(bucket)), sink)
    if built is None:
        for skipped in found:
            if skipped[1] == head.key:
                arrivals.skip(inv, arrival, skipped[2], skipped[3])
            else:
                inv.skip(*skipped)
        return
    result = services.claims.claim_object(
        head, bucket, inv.owner, inv.now, inv.lease_until, arrival.known
    )
    if isinstance(result, Settled):
        inv.journal.count(metrics.DUPLICATE_EVENTS)
        if result.state == t.FAILED:
            inv.journal.event(
                "already_failed",
                bucket=bucket,
                key=head.key,
                reason=result.record.get(t.REASON),
                hint="upload the object again (a new ETag) or backfill its prefix to retry it",
            )
        return
    if isinstance(result, Held):
        inv.busy(
            arrival.messages,
            f"s3://{bucket}/{head.key} is being registered by another invocation "
            f"(until {iso(result.lease_until)})",
            result.lease_until,
        )
        return
    assert isinstance(result, Taken)
    held = inv.hold(result.claim, arrival.messages)
    if held.has_sidecar:
        built = _with_sidecars(inv, held)
        if built is None:
            return
    inv.units.append(Unit(built, held))


def _with_sidecars(inv: Invocation, held: Claim) -> BuiltItem | None:
    """The item of a claimed object built again with the sidecars waiting for it (None: the
    item builder skipped it after all, and the claim records why)."""
    services = inv.services
    assert held.head is not None
    bucket, head = held.bucket, held.head
    found: list[tuple[str, str, str, str | None]] = []

    def sink(bucket: str, key: str, reason: str, detail: str | None) -> None:
        found.append((bucket, key, reason, detail))

    entry = Entry(head.record(bucket))
    waiting = services.sidecars.waiting(bucket, head.key)
    if waiting:
        entry = services.items.entry(entry.record, [r for r, _ in waiting.values()], sink)
        if entry.sidecar is not None and entry.sidecar_problem is None:
            held.finish_sets = {
                t.SIDECAR: entry.sidecar.key,
                t.SIDECAR_ETAG: waiting[entry.sidecar.key][1],
            }
    built = services.items.single(entry, sink)
    for skipped in found:
        if skipped[1] != head.key:  # the sidecars' skips (superseded, unreadable)
            inv.skip(*skipped)
    if built is None:  # the item builder skipped it after all: the claim records why
        reason, detail = next(((r, d) for _, k, r, d in found if k == head.key), ("", None))
        services.claims.finish(
            held, t.SKIPPED, inv.now, sets={t.REASON: reason, t.DETAIL: detail or ""}
        )
        held.done = True
        inv.journal.event("skipped", bucket=bucket, key=head.key, reason=reason, detail=detail)
        inv.journal.count(metrics.SKIPPED)
    return built
