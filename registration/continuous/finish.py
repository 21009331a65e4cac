"""What Encord did, written back: claims finished or released, messages failed or done, metrics.

Per claim (an object, or a group with its unit): `Registered` -> `registered` with the item
UUID and job (a group also leaves the `group` listing); `Failed` -> `failed` with Encord's text
(reported, not retried: a re-upload tries again); `Skipped` -> `skipped`; `Retry` -> the claim
is released (`in_flight` keeps the job for the retry to poll) and its messages come back.

The results of objects are written together, as whole records in batches (`Claims.settle`:
why no condition is needed is said there), before they are logged; if they cannot be written
the claims stay unfinished and the engine releases them (the retry polls the same job). A
group's result is a conditional update: a finish that finds the group taken over changes
nothing (the new owner polls the same job and writes the same result). A metadata update
(`Upsert`) records the sidecar applied on the object.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from registration.continuous import metrics
from registration.continuous import table as t
from registration.continuous.claims import Claim
from registration.continuous.clock import iso
from registration.continuous.dynamo import Update
from registration.continuous.invocation import Invocation, Upsert
from registration.continuous.submit import Failed, Registered, Result, Retry, Skipped, Unit
from registration.errors import AuthError, RegisterError


class RetryLater(Exception):
    """Why a unit goes back to the queue (logged as the messages' error)."""


def _verdict(results: list[Result]) -> Result:
    """One claim's result from its units' (a group is normally one unit)."""
    for kind in (Retry, Failed, Registered):
        found = [r for r in results if isinstance(r, kind)]
        if found:
            return found[0]
    return results[0]


def claims(inv: Invocation, results: Mapping[Unit, Result]) -> None:
    """Write the results of units owned by claims."""
    per_claim: dict[Claim, list[Result]] = {}
    for unit, result in results.items():
        if unit.claim is not None:
            per_claim.setdefault(unit.claim, []).append(result)
    verdicts = [(claim, _verdict(found)) for claim, found in per_claim.items()]
    final = (Registered, Failed, Skipped)
    objects = [(c, r) for c, r in verdicts if not c.is_group and isinstance(r, final)]
    _settle(inv, objects)
    inv.each(
        lambda item: _finish(inv, item[0], item[1]),
        [(c, r) for c, r in verdicts if c.is_group or not isinstance(r, final)],
        lambda item: item[0].messages,
    )


def _settle(inv: Invocation, found: Sequence[tuple[Claim, Result]]) -> None:
    """Write the final results of object claims in batches, then log them."""
    if not found:
        return
    writes = []
    for claim, result in found:
        if isinstance(result, Registered):
            sets: dict[str, Any] = {t.JOB: result.job}
            if result.duplicate:
                sets[t.DUPLICATE] = True
            if result.item:
                sets[t.ITEM] = result.item
            sets.update(claim.finish_sets)
            writes.append((claim, t.REGISTERED, sets))
        elif isinstance(result, Failed):
            writes.append((claim, t.FAILED, {t.REASON: result.reason}))
        elif isinstance(result, Skipped):
            writes.append((claim, t.SKIPPED, {t.REASON: result.reason, t.DETAIL: result.detail}))
    try:
        inv.services.claims.settle(writes, inv.now)
    except AuthError:
        raise
    except RegisterError as exc:  # left unfinished: released (in flight) by the engine
        inv.journal.event("results_not_written", reason=exc.message, objects=len(writes))
        return
    for claim, result in found:
        claim.done = True
        _log(inv, claim, result)


def _log(inv: Invocation, claim: Claim, result: Result) -> None:
    """The log line and metrics of one finished claim."""
    journal = inv.journal
    where: dict[str, Any] = {"bucket": claim.bucket}
    where["folder" if claim.is_group else "key"] = claim.name
    if isinstance(result, Registered):
        journal.event(
            "registered", item=result.item, job=result.job, duplicate=result.duplicate, **where
        )
        journal.count(metrics.REGISTERED)
        if claim.is_group:
            journal.count(metrics.GROUPS_REGISTERED)
    elif isinstance(result, Failed):
        journal.event("failed", reason=result.reason, **where)
        journal.count(metrics.FAILED)
    elif isinstance(result, Skipped):
        journal.event("skipped", reason=result.reason, detail=result.detail, **where)
        journal.count(metrics.SKIPPED)


def _finish(inv: Invocation, claim: Claim, result: Result) -> None:
    """Finish a group's claim (a conditional update), or release a claim to retry."""
    claims = inv.services.claims
    closing = (t.LISTING, t.CHECK_DUE, t.CHECK_MESSAGE) if claim.is_group else ()
    claim.done = True
    if isinstance(result, Registered):
        sets: dict[str, Any] = {t.JOB: result.job, t.DUPLICATE: result.duplicate}
        if result.item:
            sets[t.ITEM] = result.item
        sets.update(claim.finish_sets)
        claims.finish(claim, t.REGISTERED, inv.now, sets=sets, removes=closing)
    elif isinstance(result, Failed):
        claims.finish(claim, t.FAILED, inv.now, sets={t.REASON: result.reason})
    elif isinstance(result, Skipped):
        sets = {t.REASON: result.reason, t.DETAIL: result.detail}
        claims.finish(claim, t.SKIPPED, inv.now, sets=sets, removes=closing)
    else:
        claims.release(claim, inv.now, in_flight=result.in_flight)
        inv.failed(claim.messages, RetryLater(result.reason))
        return
    _log(inv, claim, result)


def upserts(inv: Invocation, updates: list[Upsert], results: Mapping[Unit, Result]) -> None:
    """Write the results of metadata updates (and of objects sent with their sidecar)."""
    owned = {u.unit: results[u.unit] for u in updates if u.unit.claim is not None}
    claims(inv, owned)

    def one(update: Upsert) -> None:
        result = results[update.unit]
        where = {"bucket": update.bucket, "key": update.sidecar_key, "object": update.data_key}
        if isinstance(result, Retry):
            if update.unit.claim is None:
                inv.failed(update.messages, RetryLater(result.reason))
            return
        if isinstance(result, Failed | Skipped):
            inv.journal.event("sidecar_not_applied", reason=result.reason, **where)
            return
        if update.unit.claim is None:
            inv.services.table.update(
                Update(
                    t.object_pk(update.bucket, update.data_key),
                    t.OBJECT_SK,
                    sets={
                        t.SIDECAR: update.sidecar_key,
                        t.SIDECAR_ETAG: update.sidecar_etag,
                        t.UPDATED_AT: iso(inv.now),
                    },
                    condition="#state = :registered",
                    values={":registered": t.REGISTERED},
                )
            )
        inv.journal.event("sidecar_applied", job=result.job, **where)
        inv.journal.count(metrics.SIDECARS_APPLIED)

    inv.each(one, updates, lambda update: update.messages)
