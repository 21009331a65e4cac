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
ARCHIVE_ACCESS_TIERS = frozenset({"ARCHIVE_ACCESS", "DEEP_ARCHIVE_ACCESS"})


def is_archived(record: ObjectRecord) -> bool:
    """True when the object sits in an archive tier and is not known to be restored."""
    if record.restored:
        return False
    return (
        record.storage_class in ARCHIVE_STORAGE_CLASSES
        or record.access_tier in ARCHIVE_ACCESS_TIERS
    )
