"""Where object listings come from: S3 listing, S3 Inventory, a keys file.

Every source yields `ObjectRecord`s sorted by key (per bucket), as an iterator.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class ObjectRecord(NamedTuple):
    """One S3 object as a source saw it. Unknown fields are None."""

    bucket: str
    key: str
    size: int | None = None
    storage_class: str | None = None
    restored: bool | None = None
    """True when an archived object has a finished restore; None when not known."""
    access_tier: str | None = None
    """Intelligent-Tiering access tier (from an inventory), e.g. ARCHIVE_ACCESS."""
    metadata: dict[str, Any] | None = None
    """A metadata document given by the source itself (keys file `metadata`)."""


ARCHIVE_STORAGE_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})
"""Storage classes whose objects answer 403 InvalidObjectState until restored (not GLACIER_IR)."""
ARCHIVE_ACCESS_TIERS = frozenset({"ARCHIVE_ACCESS", "DEEP_ARCHIVE_ACCESS"})
"""Intelligent-Tiering access tiers that behave the same way."""
INTELLIGENT_TIERING = "INTELLIGENT_TIERING"
RESTORED_MARK = 'ongoing-request="false"'
"""In a HeadObject `Restore` header: the restore finished (a temporary copy exists)."""


def restore_done(restore_header: str | None) -> bool:
    """True when a HeadObject `Restore` header says a restore finished."""
    return bool(restore_header) and RESTORED_MARK in str(restore_header).replace(" ", "")


def is_archived(record: ObjectRecord) -> bool:
    """True when the object sits in an archive tier and is not known to be restored."""
    if record.restored:
        return False
    return (
        record.storage_class in ARCHIVE_STORAGE_CLASSES
        or record.access_tier in ARCHIVE_ACCESS_TIERS
    )
