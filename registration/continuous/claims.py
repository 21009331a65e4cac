"""Claims: which invocation may send an object (or a group) to Encord, and what became of it.

An object's ``obj`` record is claimed with a conditional write (a put when there is no record,
else an update): it must have no state (absent, or a stub holding only a waiting sidecar's
flag), be `skipped` (a skip is decided afresh for every event: an object re-uploaded with
content is registered), or be `failed` with another entity tag (a re-upload is tried again).
A record `claimed` by an invocation whose lease ran out is taken over with a second
conditional write naming the old owner and lease, so two invocations never both take it. The
records of a batch's objects are read first in a few strongly consistent BatchGetItem calls
(`known`): an object already registered, failed with the same tag, or held by a live lease is
settled without a write, and the first write is the one that fits the record (a stale read
costs one more write: the conditions decide, never the read).

The claim is one small write per object, and the only per-object write of a single file that
reaches Encord; everything after it is written in batches:

- The job: a claim names its owner, and the owner's job pages (`runs`) name the job holding
  each object, written once per job before the job is polled. A takeover reads the old owner's
  pages (and writes the job on the claim it takes, so the next takeover finds it there).
- The result (`settle`): `registered`, `failed` or `skipped` written as whole records with
  BatchWriteItem, without a condition. This is safe because of the lease: it is the owner's
  remaining time plus `LEASE_MARGIN_SECONDS`, so no other invocation can take the claim over
  while its owner runs (Lambda stops a function at its timeout; the margin covers the clocks
  of different hosts). While the owner runs, nothing else changes its record: other claimers
  and `skip_object` are refused by their conditions; a sidecar's `has_sidecar` flag may be
  added, and its writer, seeing the object claimed, comes back later and adds it again (see
  `sidecars_wait`). Once the owner is dead, its taker polls the same job (or, without a page,
  treats the object's fate as unknown) and writes the same result. So the result an owner
  writes is never written over a claim it lost, and a duplicate event afterwards reads the same
  final record a conditional update would have left.

A group's ``grp`` record in state `registering` is a claim too (`groups` takes it); its job and
result are written on it with conditional updates (one group, one write each). Everything an
owner writes with a condition names it as the owner: an invocation that outlived its lease
changes nothing through these.

A takeover finds either a job (polled, never sent again) or none: then the first owner may
have died after Encord accepted the job but before its UUID was stored, so the unit's fate is
unknown (`Claim.fate_unknown`), and it is sent again only after the items holding its URLs were
recorded (the baseline: `duplicates`).

Long: a claim's whole life (taken, taken over, its job recorded, its result written, released)
stays in one module with the argument above that makes it exactly-once; split, the argument
would be spread over several files.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final, Literal

from registration.continuous import table as t
from registration.continuous.clock import iso
from registration.continuous.dynamo import Record, StateTable, Update
from registration.continuous.keys import Head
from registration.continuous.runs import RunPages

LEASE_MARGIN_SECONDS: Final = 60
"""Added to the invocation's remaining time to make a lease (clock differences between
functions are far smaller)."""
TAKEOVER_TRIES: Final = 3
"""Attempts at claiming one object when its record keeps changing under us."""
CLEARED_ON_CLAIM: Final = (
    t.JOB,
    t.BASELINE,
    t.ITEM,
    t.REASON,
    t.DETAIL,
    t.DUPLICATE,
    t.SIDECAR,
    t.SIDECAR_ETAG,
    t.LOST_JOB,
)
"""What a new claim removes from a record that held an earlier result."""


class _Unread(Enum):
    UNREAD = "unread"


UNREAD: Final = _Unread.UNREAD
"""The object's record was not read before claiming (the first write finds out)."""
Known = Record | None | Literal[_Unread.UNREAD]
"""An object's record as read before claiming: the record, None (no record), or `UNREAD`."""


@dataclass(eq=False)
class Claim:
    """A unit this invocation may send: an object's ``obj`` record or a group's ``grp``."""

    pk: str
    sk: str
    bucket: str
    name: str
    """The object's key, or the group's folder."""
    owner: str
    job: str | None = None
    baseline: list[str] | None = None
    taken_over: bool = False
    has_sidecar: bool = False
    messages: set[str] = field(default_factory=set)
    """The batch's messages that wait for this unit."""
    finish_sets: dict[str, Any] = field(default_factory=dict)
    """Written with the result (the sidecar the item was built with)."""
    done: bool = False
    """Finished or released by this invocation."""
    head: Head | None = None
    """An object's size, tag and storage class (written with its result)."""

    @property
    def is_group(self) -> bool:
        """True for a group's claim."""
        return self.sk == t.GROUP_SK

    @property
    def fate_unknown(self) -> bool:
        """An earlier owner may have sent it without storing the job (or Encord lost it)."""
        return self.baseline is not None or (self.taken_over and self.job is None)


@dataclass(frozen=True)
class Taken:
    """The claim was taken (fresh, or from an owner whose lease ran out)."""

    claim: Claim
    record: Record | None


@dataclass(frozen=True)
class Held:
    """Another invocation holds the claim until `lease_until`: look again later."""

    lease_until: float


@dataclass(frozen=True)
class Settled:
    """Nothing to send: the object is already `registered`, or `failed` with this tag."""

    state: str
    record: Record


ClaimResult = Taken | Held | Settled


def _owned(claim: Claim) -> tuple[str, dict[str, Any]]:
    """The condition of every write by a claim's owner: an owner is only ever written with
    a claim (`claimed`) or a frozen group (`registering`), and removed when either ends."""
    return "#owner = :me", {":me": claim.owner}


def _described(claim: Claim, now: float) -> dict[str, Any]:
    """What a result records besides the state: the object as it was sent (for a group, the
    time alone). The bucket and key are in the partition key (`table.split_pk`)."""
    described: dict[str, Any] = {t.UPDATED_AT: iso(now)}
    head = claim.head
    if head is not None:
        described.update(
            {
                t.ETAG: head.etag or "",
                t.SIZE: head.size if head.size is not None else -1,
                t.STORAGE_CLASS: head.storage_class,
            }
        )
    return described


class Claims:
    """Claim records in the state table."""

    def __init__(self, table: StateTable) -> None:
        self.table = table
        self.runs = RunPages(table)

    def claim_object(
        self,
        head: Head,
        bucket: str,
        owner: str,
        now: float,
        lease_until: float,
        known: Known = UNREAD,
    ) -> ClaimResult:
        """Claim the object `head` describes for `owner` until `lease_until`.

        Without a record (`known` None, or unread) a put if there is none is tried first (the
        common case: one write; for a repeated event its failure returns the record that
        settles it). An existing record without state, skipped, or failed with another entity
        tag is claimed with an update that clears the previous result.
        """
        pk = t.object_pk(bucket, head.key)
        claimed = {
            t.STATE: t.CLAIMED,
            t.OWNER: owner,
            t.LEASE_UNTIL: lease_until,
            t.UPDATED_AT: iso(now),
        }
        fresh = Update(
            pk,
            t.OBJECT_SK,
            sets=claimed,
            removes=CLEARED_ON_CLAIM,
            condition="attribute_not_exists(#state) OR #state = :skipped OR "
            "(#state = :failed AND (attribute_not_exists(#etag) OR #etag <> :etag))",
            values={":skipped": t.SKIPPED, ":failed": t.FAILED, ":etag": head.etag or ""},
        )

        def claim(**fields: Any) -> Claim:
            return Claim(pk, t.OBJECT_SK, bucket, head.key, owner, head=head, **fields)

        if known is UNREAD or known is None:
            written = self.table.put(pk, t.OBJECT_SK, claimed, if_absent=True)
            if written.ok:
                return Taken(claim(), None)
            current = written.record or {}
        else:
            current = known
        for _ in range(TAKEOVER_TRIES):
            state = current.get(t.STATE)
            if state == t.REGISTERED or (
                state == t.FAILED and (current.get(t.ETAG) or "") == (head.etag or "")
            ):
                return Settled(str(state), current)
            if state == t.CLAIMED:
                lease = float(current.get(t.LEASE_UNTIL, 0))
                if lease >= now:
                    return Held(lease)
                job = current.get(t.JOB) or self.runs.job_of(str(current.get(t.OWNER)), pk)
                if job is not None and job == current.get(t.LOST_JOB):
                    job = None  # Encord lost it: the object's fate is unknown
                taken = self.take_over(pk, t.OBJECT_SK, current, owner, lease_until, now, job)
                if taken is not None:
                    found = claim(
                        job=job,
                        baseline=taken.get(t.BASELINE),
                        taken_over=True,
                        has_sidecar=bool(taken.get(t.HAS_SIDECAR)),
                    )
                    return Taken(found, taken)
            elif not current:  # gone since it was read
                written = self.table.put(pk, t.OBJECT_SK, claimed, if_absent=True)
                if written.ok:
                    return Taken(claim(), None)
                current = written.record or {}
                continue
            else:
                written = self.table.update(fresh, old=True)
                if written.ok:
                    old = written.record or {}
                    return Taken(claim(has_sidecar=bool(old.get(t.HAS_SIDECAR))), written.record)
            # Changed in between: look again at the record as it is now.
            current = self.table.get(pk, t.OBJECT_SK) or {}
        return Held(now)

    def take_over(
        self,
        pk: str,
        sk: str,
        current: Record,
        owner: str,
        lease_until: float,
        now: float,
        job: str | None = None,
    ) -> Record | None:
        """Take a claim (or a registering group) whose lease ran out from its owner, writing
        `job` on it when given (found on the old owner's pages); the record as it was, or None
        when it changed in between."""
        sets: dict[str, Any] = {t.OWNER: owner, t.LEASE_UNTIL: lease_until, t.UPDATED_AT: iso(now)}
        if job:
            sets[t.JOB] = job
        written = self.table.update(
            Update(
                pk,
                sk,
                sets=sets,
                condition="#state = :state AND #owner = :old AND #lease_until = :lease",
                values={
                    ":state": current.get(t.STATE),
                    ":old": current.get(t.OWNER),
                    ":lease": current.get(t.LEASE_UNTIL),
                },
            ),
            old=True,
        )
        return written.record if written.ok else None

    def store_job(self, claim: Claim, job: str, now: float) -> bool:
        """Write the job UUID on the claim (before the job is polled); False: not ours any more."""
        condition, values = _owned(claim)
        written = self.table.update(
            Update(
                claim.pk,
                claim.sk,
                sets={t.JOB: job, t.UPDATED_AT: iso(now)},
                condition=condition,
                values=values,
            )
        )
        if written.ok:
            claim.job = job
        return written.ok

    def store_jobs(self, claims: Iterable[Claim], job: str, now: float) -> dict[Claim, bool]:
        """Record that `job` holds `claims` (before it is polled): objects on their owner's job
        pages (one batch), groups on their record; per claim, False when it is not ours any
        more. Raises `RegisterError` when the pages could not be written."""
        stored: dict[Claim, bool] = {}
        objects: dict[str, list[Claim]] = {}
        for claim in claims:
            if claim.is_group:
                stored[claim] = self.store_job(claim, job, now)
            else:
                objects.setdefault(claim.owner, []).append(claim)
        for owner, owned in objects.items():
            self.runs.write(owner, job, (claim.pk for claim in owned), now)
            for claim in owned:
                claim.job = job
                stored[claim] = True
        return stored

    def settle(self, results: Iterable[tuple[Claim, str, dict[str, Any]]], now: float) -> None:
        """Write the results of object claims (state, and what to record with it) as whole
        records in batches, without a condition: see the module docstring for why this is safe.
        Raises `RegisterError` when they could not all be written (they are then still claimed
        and are released by the caller)."""
        records = []
        for claim, state, sets in results:
            assert not claim.is_group, "a group finishes with a conditional update"
            record: dict[str, Any] = {t.STATE: state, **_described(claim, now)}
            if claim.has_sidecar:
                record[t.HAS_SIDECAR] = True
            record.update({k: v for k, v in sets.items() if v is not None and v != ""})
            records.append((claim.pk, claim.sk, record))
        self.table.write_many(puts=records)

    def forget_job(self, claim: Claim, now: float) -> bool:
        """Drop a job Encord no longer knows: the unit's fate is unknown from now on (the job
        is noted as lost, so that a takeover does not take it from the job pages again)."""
        condition, values = _owned(claim)
        lost = {t.LOST_JOB: claim.job} if claim.job else {}
        written = self.table.update(
            Update(
                claim.pk,
                claim.sk,
                sets={t.UPDATED_AT: iso(now), **lost},
                removes=(t.JOB,),
                condition=condition,
                values=values,
            )
        )
        if written.ok:
            claim.job = None
            claim.taken_over = True
        return written.ok

    def store_baseline(self, claim: Claim, items: list[str], now: float) -> bool:
        """Record the baseline once (a baseline already recorded is kept, never replaced)."""
        condition, values = _owned(claim)
        written = self.table.update(
            Update(
                claim.pk,
                claim.sk,
                sets={t.UPDATED_AT: iso(now)},
                raw_sets={t.BASELINE: "if_not_exists(#baseline, :items)"},
                condition=condition,
                values={**values, ":items": items},
            )
        )
        if written.ok and written.record is not None:
            claim.baseline = list(written.record.get(t.BASELINE) or [])
        return written.ok

    def finish(
        self,
        claim: Claim,
        state: str,
        now: float,
        *,
        sets: dict[str, Any] | None = None,
        removes: tuple[str, ...] = (),
    ) -> bool:
        """End the claim in `state` (registered, failed or skipped), with `sets`; False when it
        is not ours any more (the owner that took it over finishes it)."""
        condition, values = _owned(claim)
        written = self.table.update(
            Update(
                claim.pk,
                claim.sk,
                sets={t.STATE: state, **_described(claim, now), **(sets or {})},
                removes=(t.OWNER, t.LEASE_UNTIL, t.BASELINE, *removes),
                condition=condition,
                values=values,
            )
        )
        return written.ok

    def release(self, claim: Claim, now: float, *, in_flight: bool) -> None:
        """Give the claim up so that a retry need not wait for the lease.

        `in_flight`: a job may hold the unit (the job, if stored, and the baseline stay; the
        retry takes the claim over and polls or reconciles). Otherwise nothing of it can still
        be running: an object that was never sent, or whose job ended without doing it, goes
        back to no state (a baseline, when there is one, stays, with the claim); a group stays
        `registering` for its next check to take over, without the job.
        """
        condition, values = _owned(claim)
        if claim.is_group or in_flight or claim.baseline is not None:
            update = Update(
                claim.pk,
                claim.sk,
                sets={t.LEASE_UNTIL: 0, t.UPDATED_AT: iso(now)},
                removes=() if in_flight else (t.JOB,),
                condition=condition,
                values=values,
            )
        else:
            update = Update(
                claim.pk,
                claim.sk,
                sets={t.UPDATED_AT: iso(now)},
                removes=(t.STATE, t.OWNER, t.LEASE_UNTIL, t.JOB),
                condition=condition,
                values=values,
            )
        self.table.update(update)

    def skip_object(
        self,
        bucket: str,
        key: str,
        reason: str,
        detail: str | None,
        now: float,
        head: Head | None = None,
        known: Known = UNREAD,
    ) -> bool:
        """Record `key` as skipped, unless it is claimed or registered (then False). With the
        record `known` (read before), nothing is written when it already says the same."""
        sets: dict[str, Any] = {t.STATE: t.SKIPPED, t.REASON: reason, t.UPDATED_AT: iso(now)}
        if detail:
            sets[t.DETAIL] = detail
        if head is not None:
            sets[t.ETAG] = head.etag or ""
            sets[t.SIZE] = head.size if head.size is not None else -1
        pk = t.object_pk(bucket, key)
        if known is not UNREAD and known is not None:
            state = known.get(t.STATE)
            if state in (t.CLAIMED, t.REGISTERED):
                return False
            said = {t.REASON: reason, t.DETAIL: detail or None}
            if head is not None:  # the same tag is the same content (and size)
                said[t.ETAG] = sets[t.ETAG]
            if state == t.SKIPPED and all(known.get(k) == v for k, v in said.items()):
                return True  # a repeated event: the record says it already
        elif known is None and self.table.put(pk, t.OBJECT_SK, sets, if_absent=True).ok:
            return True
        written = self.table.update(
            Update(
                pk,
                t.OBJECT_SK,
                sets=sets,
                removes=() if detail else (t.DETAIL,),
                condition="attribute_not_exists(#state) OR #state IN (:skipped, :failed)",
                values={":skipped": t.SKIPPED, ":failed": t.FAILED},
            )
        )
        return written.ok
