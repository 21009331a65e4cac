"""Group members collected, late arrivals reported, checks scheduled; markers complete groups.

Members of one folder are joined one after the other (their transactions all touch the group
record); folders side by side. After a folder's members, a chain of group checks is started if
none is alive (`groups.Groups.schedule`): the first check is due a quiet period from now (at
most SQS's 15-minute delay; a check that is early waits again for the rest).

A marker (`HandlerSettings.marker`, such as ``_COMPLETE``) is skipped as `group_marker` and
completes its folder's group at once. Because events arrive in any order, the folder is listed
first (s3:ListBucket) and every object in it that belongs to the group joins it; the group is
then frozen with all of them. Without permission to list, the members that already arrived are
used (and logged).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from registration.aws_errors import DENIED_CODES, error_code
from registration.build.skips import GROUP_MARKER
from registration.build.sources import ObjectRecord
from registration.build.sources.key_check import STANDARD
from registration.continuous import completion, metrics
from registration.continuous.arrivals import Arrival
from registration.continuous.groups import ADDED, CHECK_STALE_SECONDS, DUPLICATE, LATE, REUPLOADED
from registration.continuous.invocation import Invocation
from registration.continuous.keys import Head
from registration.continuous.messages import group_check_body
from registration.continuous.placement import Marker, Member
from registration.continuous.settings import MAX_SQS_DELAY_SECONDS

LIST_PAGE_SIZE: Final = 1000


def join(inv: Invocation, members: Iterable[tuple[Arrival, Member]]) -> None:
    """Add members to their groups (and report late arrivals)."""
    by_folder: dict[tuple[str, str], list[tuple[Arrival, Member]]] = {}
    for arrival, member in members:
        by_folder.setdefault((arrival.bucket, member.folder), []).append((arrival, member))

    def messages_of(entries: list[tuple[Arrival, Member]]) -> set[str]:
        return set().union(*(arrival.messages for arrival, _ in entries))

    def folder_work(entries: list[tuple[Arrival, Member]]) -> None:
        bucket, folder = entries[0][0].bucket, entries[0][1].folder
        open_seen = False
        for arrival, member in sorted(entries, key=lambda e: e[0].head.key):
            open_seen |= _join_one(inv, bucket, folder, member.kind, arrival.head)
        if open_seen:
            schedule(inv, bucket, folder, messages_of(entries))

    inv.each(folder_work, list(by_folder.values()), messages_of)


def _join_one(inv: Invocation, bucket: str, folder: str, kind: str, head: Head) -> bool:
    """Join one member; True when its group may be open (a check chain should exist)."""
    joined = inv.services.groups.join(bucket, folder, kind, head, inv.now)
    if joined.result == ADDED:
        return True
    if joined.result == DUPLICATE:
        inv.journal.count(metrics.DUPLICATE_EVENTS)
        return joined.group_state in (None, "open")
    if joined.result == REUPLOADED:
        inv.journal.event("member_rewritten", bucket=bucket, key=head.key, folder=folder)
        return False
    assert joined.result == LATE
    if inv.services.groups.record_late(bucket, folder, head, joined.group_state, inv.now):
        inv.journal.event(
            "late_arrival",
            bucket=bucket,
            key=head.key,
            folder=folder,
            group_state=joined.group_state,
            hint="the group was registered without it: see docs/continuous.md#late-arrivals",
        )
        inv.journal.count(metrics.LATE_ARRIVALS)
    else:
        inv.journal.count(metrics.DUPLICATE_EVENTS)
    return False


def schedule(inv: Invocation, bucket: str, folder: str, tokens: set[str]) -> None:
    """Start a chain of checks for the group if none is alive."""
    delay = min(inv.services.settings.quiet_seconds, MAX_SQS_DELAY_SECONDS)
    due = inv.now + delay
    stale = inv.now - CHECK_STALE_SECONDS
    if inv.services.groups.schedule(bucket, folder, due, tokens, stale):
        inv.send_check(group_check_body(bucket, folder), delay)


def markers(inv: Invocation, found: Iterable[tuple[Arrival, Marker]]) -> None:
    """Skip each marker and complete its folder's group now."""
    inv.each(lambda item: _marker(inv, *item), list(found), lambda item: item[0].messages)


def _marker(inv: Invocation, arrival: Arrival, marker: Marker) -> None:
    bucket, folder = arrival.bucket, marker.folder
    inv.skip(bucket, arrival.head.key, GROUP_MARKER, folder, arrival.head)
    for head in _listed(inv, bucket, folder):
        if head.key == arrival.head.key:
            continue
        placed = inv.services.placer.place(head.record(bucket))
        if isinstance(placed, Member) and placed.folder == folder:
            _join_one(inv, bucket, folder, placed.kind, head)
    if inv.services.groups.mark(bucket, folder, inv.now) is None:
        inv.journal.event("marker_after_freeze", bucket=bucket, key=arrival.head.key, folder=folder)
    # Frozen already: `complete` finishes a registering group whose owner died (or waits).
    completion.complete(inv, bucket, folder, arrival.messages)


def _listed(inv: Invocation, bucket: str, folder: str) -> list[Head]:
    """The objects directly in `folder` (not in its subfolders), as S3 lists them."""
    s3 = inv.services.aws.s3
    prefix = f"{folder}/" if folder else ""
    found: list[Head] = []
    request = {"Bucket": bucket, "Prefix": prefix, "Delimiter": "/", "MaxKeys": LIST_PAGE_SIZE}
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(**request):
            for obj in page.get("Contents", []):
                record = ObjectRecord(bucket, obj["Key"], obj.get("Size"), obj.get("StorageClass"))
                found.append(
                    Head(
                        record.key,
                        record.size,
                        str(obj.get("ETag") or "").strip('"') or None,
                        record.storage_class or STANDARD,
                        None,
                        None,
                    )
                )
    except Exception as exc:
        if error_code(exc) not in DENIED_CODES:
            raise
        inv.journal.event(
            "marker_listing_denied",
            bucket=bucket,
            folder=folder,
            hint="grant s3:ListBucket on the prefix, or members still on their way are late",
        )
        return []
    return found
