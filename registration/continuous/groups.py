"""Groups (image groups, image sequences, DICOM series) collected in the table until complete.

A member joins with one transaction: put ``m#<key>`` (absent, or there with another entity tag:
a re-upload) and update the ``grp`` record (`open`, created if absent, `last_seen`, one more
member), on condition that the group is still open (or `skipped`/`failed`, which a new member
opens again). Membership is thus atomic with the group being open: freezing the group
(`freeze`, open -> registering) and then reading its members with a consistent query gives
exactly the members committed before the freeze, and a file whose transaction finds the group
frozen is a late arrival (`record_late`), never in the item and never lost.

Completion is decided by delayed group checks (`messages.GroupCheck`). At most one chain of
checks is meant to be pending per group: a check is scheduled by a conditional write of
`check_due` and `check_message` (the gate) *before* the message is sent, and a gate passes
again for the same message, so a send that failed is repeated by the message's retry. A chain
whose message was lost counts as dead once its due time is `CHECK_STALE_SECONDS` past; the
next member starts a new one. Two chains that both pass (a race) collapse at their next link:
only one of them can move `check_due` forward.
"""

from __future__ import annotations

import random
import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Final

from registration.continuous import table as t
from registration.continuous.clock import iso
from registration.continuous.dynamo import Conflict, Record, StateTable, Update, Written
from registration.continuous.keys import Head

CHECK_STALE_SECONDS: Final = 900
"""A pending check this long past its due time is taken as lost (a backlogged queue delays
checks too, so this is generous): the next member of the group schedules a new one."""

CONFLICT_TRIES: Final = 6
"""Tries of a member's transaction while other members' transactions hold its group."""
CONFLICT_PAUSE_SECONDS: Final = 0.05
"""Up to this times the attempt number is waited between tries (jittered)."""

MAX_TOKENS: Final = 100
"""Messages named in one gate condition (DynamoDB's limit on an IN list)."""

ADDED: Final = "added"
DUPLICATE: Final = "duplicate"
"""The member was already collected (the same entity tag): nothing changes."""
LATE: Final = "late"
REUPLOADED: Final = "reuploaded"
"""A member of a frozen group written again: the item already points at its URL."""


@dataclass(frozen=True)
class Joined:
    """What adding one member did, and the group's state when it was refused."""

    result: str
    group_state: str | None = None


def _tokens(tokens: Collection[str]) -> tuple[str, dict[str, Any]]:
    """`:k0, :k1, ...` and their values, for an IN clause (DynamoDB takes up to 100)."""
    chosen = sorted(tokens)[:MAX_TOKENS]
    values = {f":k{n}": token for n, token in enumerate(chosen)}
    return ", ".join(values), values


class Groups:
    """Group and member records in the state table."""

    def __init__(self, table: StateTable) -> None:
        self.table = table

    def get(self, bucket: str, folder: str) -> Record | None:
        """The group record of `folder` (consistent)."""
        return self.table.get(t.group_pk(bucket, folder), t.GROUP_SK)

    def _open_update(self, bucket: str, folder: str, now: float, kind: str | None) -> Update:
        sets: dict[str, Any] = {
            t.STATE: t.OPEN,
            t.BUCKET: bucket,
            t.FOLDER: folder,
            t.LISTING: t.LISTING_GROUP,
            t.UPDATED_AT: iso(now),
        }
        if kind is not None:
            sets[t.KIND] = kind
        return Update(
            t.group_pk(bucket, folder),
            t.GROUP_SK,
            sets=sets,
            raw_sets={
                t.FIRST_SEEN: "if_not_exists(#first_seen, :now)",
                t.AT: "if_not_exists(#at, :at)",
            },
            removes=(t.REASON, t.ITEM, t.JOB),
            condition="attribute_not_exists(#state) OR #state IN (:open, :skipped, :failed)",
            values={
                ":now": now,
                ":at": t.listing_at(iso(now), folder),
                ":open": t.OPEN,
                ":skipped": t.SKIPPED,
                ":failed": t.FAILED,
            },
        )

    def join(self, bucket: str, folder: str, kind: str, head: Head, now: float) -> Joined:
        """Add `head` to the group of `folder` (see the module docstring)."""
        member: dict[str, Any] = {
            t.BUCKET: bucket,
            t.KEY: head.key,
            t.SIZE: head.size if head.size is not None else -1,
            t.ETAG: head.etag or "",
            t.STORAGE_CLASS: head.storage_class,
            t.ARRIVED: now,
        }
        if head.access_tier:
            member[t.ACCESS_TIER] = head.access_tier
        if head.restored is not None:
            member[t.RESTORED] = head.restored
        pk = t.group_pk(bucket, folder)
        put = Update(
            pk,
            t.member_sk(head.key),
            sets=member,
            condition="attribute_not_exists(#pk) OR #etag <> :etag",
            values={":etag": head.etag or ""},
        )
        group = self._open_update(bucket, folder, now, kind)
        group.sets[t.LAST_SEEN] = now
        group.adds = {t.MEMBERS: 1}
        member_written, group_written = self._transact(put, group)
        if member_written.ok and group_written.ok:
            return Joined(ADDED)
        state = (group_written.record or {}).get(t.STATE)
        if not member_written.ok:
            return Joined(DUPLICATE, state)
        existing = self.table.get(pk, t.member_sk(head.key))
        return Joined(REUPLOADED if existing is not None else LATE, state)

    def _transact(self, put: Update, group: Update) -> list[Written]:
        """The member's transaction, tried again when another transaction held the group."""
        rng = random.Random()  # noqa: S311 - jitter, not cryptography
        for attempt in range(1, CONFLICT_TRIES + 1):
            try:
                return self.table.transact([put, group])
            except Conflict:
                if attempt == CONFLICT_TRIES:
                    raise
                time.sleep(rng.uniform(0, CONFLICT_PAUSE_SECONDS * attempt))
        raise AssertionError("unreachable")

    def record_late(
        self, bucket: str, folder: str, head: Head, group_state: str | None, now: float
    ) -> bool:
        """Record a late arrival; False when it was recorded before (a repeated event)."""
        record = {
            t.LISTING: t.LISTING_LATE,
            t.AT: t.listing_at(iso(now), head.key),
            t.BUCKET: bucket,
            t.KEY: head.key,
            t.FOLDER: folder,
            t.GROUP_STATE: group_state or "",
            t.ETAG: head.etag or "",
            t.SIZE: head.size if head.size is not None else -1,
            t.ARRIVED: now,
        }
        return self.table.put(t.late_pk(bucket, head.key), t.LATE_SK, record, if_absent=True).ok

    def mark(self, bucket: str, folder: str, now: float) -> Record | None:
        """Note that the group's marker landed (creating the group when it has no member yet);
        the group record, or None when the group is already frozen."""
        update = self._open_update(bucket, folder, now, None)
        update.sets[t.MARKER] = True
        update.raw_sets = {
            **(update.raw_sets or {}),
            t.LAST_SEEN: "if_not_exists(#last_seen, :now)",
        }
        written = self.table.update(update)
        return written.record if written.ok else None

    def schedule(
        self, bucket: str, folder: str, due: float, tokens: Collection[str], stale_before: float
    ) -> bool:
        """The gate of a new chain of checks: True when no live chain exists (or one of
        `tokens`, the messages at hand, opened it); the caller then sends a check for `due`."""
        return self._move_check(bucket, folder, due, tokens, unless_due_at_or_after=stale_before)

    def reschedule(self, bucket: str, folder: str, due: float, tokens: Collection[str]) -> bool:
        """The gate of the next link of a chain: True when this check moves `check_due`
        forward (or moved it before: a retry); False when another chain already did."""
        return self._move_check(bucket, folder, due, tokens, unless_due_at_or_after=due)

    def _move_check(
        self,
        bucket: str,
        folder: str,
        due: float,
        tokens: Collection[str],
        *,
        unless_due_at_or_after: float,
    ) -> bool:
        """Set the group's check to `due` (by the first of `tokens`) while the group is open,
        unless a check is already due at or after `unless_due_at_or_after` and was sent by a
        message other than `tokens`."""
        names, values = _tokens(tokens)
        written = self.table.update(
            Update(
                t.group_pk(bucket, folder),
                t.GROUP_SK,
                sets={t.CHECK_DUE: due, t.CHECK_MESSAGE: min(tokens)},
                condition="#state = :open AND (attribute_not_exists(#check_due) OR "
                f"#check_due < :bound OR #check_message IN ({names}))",
                values={":open": t.OPEN, ":bound": unless_due_at_or_after, **values},
            )
        )
        return written.ok

    def freeze(
        self,
        bucket: str,
        folder: str,
        record: Record,
        owner: str,
        lease_until: float,
        now: float,
    ) -> bool:
        """open -> registering, owned by `owner`, if nothing changed since `record` was read
        (no member joined: `last_seen` is the same)."""
        condition = "#state = :open AND #last_seen = :seen"
        values: dict[str, Any] = {":open": t.OPEN, ":seen": record.get(t.LAST_SEEN, 0)}
        if record.get(t.MARKER):
            condition = "#state = :open AND #marker = :true"
            values = {":open": t.OPEN, ":true": True}
        written = self.table.update(
            Update(
                t.group_pk(bucket, folder),
                t.GROUP_SK,
                sets={
                    t.STATE: t.REGISTERING,
                    t.OWNER: owner,
                    t.LEASE_UNTIL: lease_until,
                    t.FROZEN_AT: now,
                    t.UPDATED_AT: iso(now),
                },
                removes=(t.CHECK_DUE, t.CHECK_MESSAGE, t.BASELINE),
                condition=condition,
                values=values,
            )
        )
        return written.ok

    def members(self, bucket: str, folder: str) -> list[Record]:
        """The frozen group's members (consistent: exactly those committed before the freeze)."""
        return list(self.table.query(t.group_pk(bucket, folder), t.MEMBER_SK_PREFIX))
