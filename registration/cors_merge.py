"""Keep one owned CORS rule on a bucket without clobbering anyone else's: the one implementation.

``PutBucketCors`` replaces a bucket's whole CORS configuration, and S3 has no conditional
write for it, so adding "our" rule is a read-modify-write that can lose a concurrent writer's
change. Two parts:

- pure functions on the ``CORSRules`` list (`merge_rule`, `remove_rules`): add or replace one
  rule by its ``ID`` in place, keep every other rule in its order, never exceed S3's limit;
- `put_rule` and `delete_rules`: read, change, write, then *confirm*: wait `Bounds.settle_seconds`
  (longer than another writer's read-to-write gap), read again and check that what this call
  wanted holds (its rule there and as wanted, the rules it removes gone). When another writer
  overwrote it, start again from a fresh read, within `Bounds` (attempts and seconds); past
  them `CorsConflictError` says so. Two writers that both confirm (two stacks, a stack and
  ``encord-register cors``) therefore both end up with their rule in place.

Used by the stack's custom resource (``stacks/cors_handler``: this file is bundled into the
Lambda asset) and by ``encord-register cors apply|remove``. It depends only on the standard
library and botocore, so that both can carry it.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

LOG = logging.getLogger(__name__)

#: S3 accepts at most this many CORS rules per bucket.
MAX_CORS_RULES = 100

# --- the bounds of one merge (the custom resource's timeouts are derived from these) --------

#: Read-change-write-confirm rounds before giving up on a bucket another writer keeps changing.
MAX_ATTEMPTS = 5
#: Seconds between a write and its confirming read: longer than another writer's gap between
#: its read and its write, so that a write which raced ours is visible when we confirm.
SETTLE_SECONDS = 2.0
#: Seconds one merge may take in all, confirmation and waits between attempts included.
DEADLINE_SECONDS = 60.0

CorsRule = dict[str, Any]


class CorsMergeError(Exception):
    """The rule could not be put in place (or removed); the message says what to do."""


class CorsLimitError(CorsMergeError):
    """Adding the rule would exceed S3's limit of `MAX_CORS_RULES` rules."""


class CorsConflictError(CorsMergeError):
    """Another writer kept overwriting the bucket's CORS configuration past the bounds."""


@dataclass(frozen=True)
class Bounds:
    """How hard one merge tries: attempts, total seconds, and the settle wait before confirming."""

    attempts: int = MAX_ATTEMPTS
    deadline_seconds: float = DEADLINE_SECONDS
    settle_seconds: float = SETTLE_SECONDS


#: The bounds the custom resource and the CLI use.
DEFAULT_BOUNDS = Bounds()


@dataclass(frozen=True)
class Outcome:
    """What a merge left on the bucket (as confirmed) and whether it had to write."""

    rules: tuple[CorsRule, ...]
    changed: bool
    attempts: int

    def others(self, rule_id: str) -> int:
        """How many rules on the bucket are not `rule_id`."""
        return sum(1 for r in self.rules if r.get("ID") != rule_id)


# --- pure merge -----------------------------------------------------------------------------


def merge_rule(
    existing: Sequence[Mapping[str, Any]], rule: Mapping[str, Any], replaces: Iterable[str] = ()
) -> list[CorsRule]:
    """`existing` with `rule` added, or replacing the rule with its ID in place.

    Rules whose ID is in `replaces` (former IDs of the same owner) are removed; `rule` then
    takes the place of the first of them. Every other rule keeps its place.
    """
    gone = {str(r) for r in replaces} | {str(rule["ID"])}
    merged: list[CorsRule] = []
    placed = False
    for current in existing:
        if current.get("ID") in gone:
            if not placed:
                merged.append(dict(rule))
                placed = True
            continue
        merged.append(dict(current))
    if not placed:
        merged.append(dict(rule))
    if len(merged) > MAX_CORS_RULES:
        raise CorsLimitError(
            f"the bucket already has {len(existing)} CORS rules and S3 allows {MAX_CORS_RULES}: "
            "remove a rule that is no longer used, then try again"
        )
    return merged


def remove_rules(existing: Sequence[Mapping[str, Any]], rule_ids: Iterable[str]) -> list[CorsRule]:
    """`existing` without the rules whose IDs are in `rule_ids`."""
    gone = {str(r) for r in rule_ids}
    return [dict(r) for r in existing if r.get("ID") not in gone]


# --- S3 -------------------------------------------------------------------------------------


def read_rules(s3: Any, bucket: str) -> list[CorsRule]:
    """The bucket's CORS rules (empty when it has no CORS configuration)."""
    # Imported here: `encord-register` imports this module at start-up, botocore only on use.
    from botocore.exceptions import ClientError

    try:
        return [dict(r) for r in s3.get_bucket_cors(Bucket=bucket).get("CORSRules", [])]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchCORSConfiguration":
            return []
        raise


def write_rules(s3: Any, bucket: str, rules: Sequence[CorsRule]) -> None:
    """Store `rules` as the bucket's CORS configuration (deleting it when empty)."""
    if rules:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": list(rules)})
    else:
        s3.delete_bucket_cors(Bucket=bucket)


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Rules equal as S3 stores them (omitted lists are empty; MaxAgeSeconds is a number)."""

    def norm(rule: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "ID": rule.get("ID"),
            "AllowedOrigins": list(rule.get("AllowedOrigins") or []),
            "AllowedMethods": list(rule.get("AllowedMethods") or []),
            "AllowedHeaders": list(rule.get("AllowedHeaders") or []),
            "ExposeHeaders": list(rule.get("ExposeHeaders") or []),
            "MaxAgeSeconds": None
            if rule.get("MaxAgeSeconds") is None
            else int(rule["MaxAgeSeconds"]),
        }

    return norm(a) == norm(b)


def put_rule(
    s3: Any,
    bucket: str,
    rule: Mapping[str, Any],
    *,
    replaces: Iterable[str] = (),
    bounds: Bounds = DEFAULT_BOUNDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Outcome:
    """Put `rule` on `bucket` (replacing former IDs in `replaces`), keeping every other rule.

    Idempotent: when the rule is already in place nothing is written. Raises `CorsLimitError`
    at S3's rule limit and `CorsConflictError` when another writer keeps overwriting it.
    """
    former = tuple(str(r) for r in replaces if r != rule["ID"])

    def holds(rules: Sequence[CorsRule]) -> bool:
        mine = [r for r in rules if r.get("ID") == rule["ID"]]
        return (
            len(mine) == 1
            and _same(mine[0], rule)
            and not any(r.get("ID") in former for r in rules)
        )

    return _converge(
        s3,
        bucket,
        f"rule {rule['ID']}",
        lambda rules: merge_rule(rules, rule, former),
        holds,
        bounds,
        sleep,
        clock,
    )


def delete_rules(
    s3: Any,
    bucket: str,
    rule_ids: Iterable[str],
    *,
    bounds: Bounds = DEFAULT_BOUNDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Outcome:
    """Remove the rules with `rule_ids` from `bucket`, keeping every other rule (idempotent)."""
    ids = tuple(str(r) for r in rule_ids)
    return _converge(
        s3,
        bucket,
        f"removal of rule {', '.join(ids)}",
        lambda rules: remove_rules(rules, ids),
        lambda rules: not any(r.get("ID") in ids for r in rules),
        bounds,
        sleep,
        clock,
    )


def _converge(
    s3: Any,
    bucket: str,
    what: str,
    change: Callable[[list[CorsRule]], list[CorsRule]],
    holds: Callable[[Sequence[CorsRule]], bool],
    bounds: Bounds,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> Outcome:
    """Read, change, write and confirm until `holds` is true of a confirming read."""
    start = clock()
    wrote = False
    for attempt in range(1, bounds.attempts + 1):
        current = read_rules(s3, bucket)
        if holds(current):
            return Outcome(tuple(current), wrote, attempt)
        desired = change(current)
        write_rules(s3, bucket, desired)
        wrote = True
        sleep(bounds.settle_seconds)
        confirmed = read_rules(s3, bucket)
        if holds(confirmed):
            return Outcome(tuple(confirmed), wrote, attempt)
        LOG.warning(
            "bucket %s: another writer changed the CORS configuration while the %s was "
            "written (attempt %d of %d); reading it again",
            bucket,
            what,
            attempt,
            bounds.attempts,
        )
        if clock() - start + bounds.settle_seconds > bounds.deadline_seconds:
            break
        sleep(random.uniform(0.0, bounds.settle_seconds))  # noqa: S311 - jitter, not secrecy
    raise CorsConflictError(
        f"bucket {bucket}: another writer kept overwriting its CORS configuration, so the "
        f"{what} was not in place after {attempt} attempt(s) in {clock() - start:.0f} s: "
        "find what else changes this bucket's CORS rules (another stack, a script, a person), "
        "let it finish, then run again"
    )
