"""Intelligent-Tiering archive tiers, which an S3 listing cannot see.

Objects in the Archive Access and Deep Archive Access tiers of S3 Intelligent-Tiering answer
403 ``InvalidObjectState`` until restored, like GLACIER objects. An S3 Inventory report
carries the tier (``IntelligentTieringAccessTier``); ListObjectsV2 only says
``INTELLIGENT_TIERING``. With ``--head-intelligent-tiering`` each such object gets one
HeadObject, whose ``ArchiveStatus`` and ``Restore`` headers tell; without it the objects are
counted, and `manifest` warns how many could be unreadable.
"""

from __future__ import annotations

import threading
from typing import Any

from registration.build.sources import INTELLIGENT_TIERING, ObjectRecord, restore_done
from registration.build.sources.s3_access import s3_error

NOTE_UNKNOWN = "intelligent_tiering_tier_unknown"
NOTE_CHECKED = "intelligent_tiering_tier_checked"


def tier_from_head(head: dict[str, Any]) -> tuple[str | None, bool | None]:
    """(archive access tier or None, restored or None) from a HeadObject answer."""
    tier = head.get("ArchiveStatus")
    restore = head.get("Restore")
    restored = None if not restore else restore_done(str(restore))
    return (str(tier) if tier else None), restored


class TierResolver:
    """Fills in the archive tier of Intelligent-Tiering records (thread-safe counters)."""

    def __init__(self, client: Any, bucket: str, *, head: bool) -> None:
        self.client = client
        self.bucket = bucket
        self.head = head
        self._lock = threading.Lock()
        self.unknown = 0
        self.checked = 0

    def resolve(self, record: ObjectRecord) -> ObjectRecord:
        """`record`, with its tier and restore state when it is Intelligent-Tiering."""
        if record.storage_class != INTELLIGENT_TIERING or record.access_tier is not None:
            return record
        if not self.head:
            with self._lock:
                self.unknown += 1
            return record
        try:
            answer = self.client.head_object(Bucket=self.bucket, Key=record.key)
        except Exception as exc:
            raise s3_error(
                exc, bucket=self.bucket, action="checking the tier of objects in"
            ) from exc
        tier, restored = tier_from_head(answer)
        with self._lock:
            self.checked += 1
        return record._replace(
            access_tier=tier, restored=restored if restored is not None else record.restored
        )

    def notes(self) -> dict[str, int]:
        """Counters for summary.json (only those that are not zero)."""
        counts = {NOTE_UNKNOWN: self.unknown, NOTE_CHECKED: self.checked}
        return {name: value for name, value in counts.items() if value}
