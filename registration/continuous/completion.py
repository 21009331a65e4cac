"""A group check: wait more, or freeze the group and turn its members into one unit to send.

An `open` group whose folder was quiet for the quiet period (or whose marker landed) is frozen
(open -> registering, owned by this invocation); its members are then read with a consistent
query, exactly the set committed before the freeze, and built by the build stage (natural
order, tentative DICOM slices decided, skips). A group that is not quiet yet gets the next
check, for the rest of its quiet period. A `registering` group whose owner's lease ran out is
taken over: its stored job is polled, or, with none stored, the same frozen members are sent
again (fate unknown: `claims`). A group with nothing to register (all its files skipped) is
closed as `skipped`, and opens again if a new file arrives.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from registration.build.sources import ObjectRecord
from registration.continuous import table as t
from registration.continuous.claims import Claim
from registration.continuous.clock import iso
from registration.continuous.invocation import Invocation
from registration.continuous.messages import group_check_body
from registration.continuous.settings import MAX_SQS_DELAY_SECONDS
from registration.continuous.submit import Unit

FREEZE_TRIES: Final = 3
"""Reads of a group whose record keeps changing under the check (members still arriving)."""
NOTHING_TO_REGISTER: Final = "nothing_to_register"
"""The reason of a group closed as `skipped`: every file of it was skipped."""


def checks(inv: Invocation, found: Mapping[tuple[str, str], set[str]]) -> None:
    """Handle the batch's group checks."""
    inv.each(
        lambda item: complete(inv, item[0][0], item[0][1], item[1]),
        list(found.items()),
        lambda item: item[1],
    )


def complete(inv: Invocation, bucket: str, folder: str, messages: set[str]) -> None:
    """Register the group of `folder` if it is complete (see the module docstring)."""
    services = inv.services
    groups, quiet = services.groups, services.settings.quiet_seconds
    pk = t.group_pk(bucket, folder)
    claim: Claim | None = None
    record = groups.get(bucket, folder)
    for _ in range(FREEZE_TRIES):
        state = record.get(t.STATE) if record else None
        if record is None or state in (t.REGISTERED, t.SKIPPED, t.FAILED):
            return
        if state == t.OPEN:
            quiet_until = float(record.get(t.LAST_SEEN, 0)) + quiet
            if not record.get(t.MARKER) and quiet_until > inv.now:
                due = min(quiet_until, inv.now + MAX_SQS_DELAY_SECONDS)
                if groups.reschedule(bucket, folder, due, messages):
                    inv.send_check(group_check_body(bucket, folder), due - inv.now)
                return
            if groups.freeze(bucket, folder, record, inv.owner, inv.lease_until, inv.now):
                claim = Claim(pk, t.GROUP_SK, bucket, folder, inv.owner)
                break
        elif state == t.REGISTERING:
            lease = float(record.get(t.LEASE_UNTIL, 0))
            if lease >= inv.now:
                inv.busy(
                    messages,
                    f"group {folder!r} of bucket {bucket!r} is being registered by another "
                    f"invocation (until {iso(lease)})",
                    lease,
                )
                return
            taken = services.claims.take_over(
                pk, t.GROUP_SK, record, inv.owner, inv.lease_until, inv.now
            )
            if taken is not None:
                claim = Claim(
                    pk,
                    t.GROUP_SK,
                    bucket,
                    folder,
                    inv.owner,
                    job=taken.get(t.JOB),
                    baseline=taken.get(t.BASELINE),
                    taken_over=True,
                )
                break
        record = groups.get(bucket, folder)
    if claim is None:
        inv.busy(messages, f"group {folder!r} kept changing; checked again")
        return
    inv.hold(claim, messages)
    _build(inv, claim)


def _build(inv: Invocation, claim: Claim) -> None:
    """The frozen group's unit(s), or the group closed as skipped."""
    services = inv.services
    bucket, folder = claim.bucket, claim.name
    members = [
        ObjectRecord(
            bucket,
            str(m[t.KEY]),
            int(m[t.SIZE]) if int(m.get(t.SIZE, -1)) >= 0 else None,
            m.get(t.STORAGE_CLASS),
            m.get(t.RESTORED),
            m.get(t.ACCESS_TIER),
        )
        for m in services.groups.members(bucket, folder)
    ]
    found: list[tuple[str, str, str, str | None]] = []

    def sink(bucket: str, key: str, reason: str, detail: str | None) -> None:
        found.append((bucket, key, reason, detail))

    built = services.items.group(bucket, members, sink)
    for skipped in found:
        inv.skip(*skipped)
    if not built:
        services.claims.finish(
            claim,
            t.SKIPPED,
            inv.now,
            sets={t.REASON: NOTHING_TO_REGISTER},
            removes=(t.LISTING, t.JOB),
        )
        claim.done = True
        inv.journal.event(
            "group_skipped", bucket=bucket, folder=folder, members=len(members), skipped=len(found)
        )
        return
    for item in built:
        inv.units.append(Unit(item, claim))
