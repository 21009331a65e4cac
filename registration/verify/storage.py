"""Is a sample object readable now, or archived and not restored?

Pure functions on HeadObject answers. GLACIER_IR is read instantly; GLACIER and
DEEP_ARCHIVE objects, and Intelligent-Tiering objects in an archive access tier,
answer GetObject with 403 InvalidObjectState until a restore has finished.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from registration.build.sources import (
    ARCHIVE_ACCESS_TIERS,
    ARCHIVE_STORAGE_CLASSES,
    INTELLIGENT_TIERING,
    restore_done,
)


def archive_problem(head: Mapping[str, Any]) -> str | None:
    """Why this object cannot be read now (storage class and restore state), or None.

    `head` is a HeadObject answer: StorageClass (absent for STANDARD), ArchiveStatus
    (Intelligent-Tiering archive tiers) and Restore.
    """
    storage_class = str(head.get("StorageClass") or "STANDARD")
    archive_status = head.get("ArchiveStatus")
    if storage_class in ARCHIVE_STORAGE_CLASSES:
        tier = storage_class
    elif storage_class == INTELLIGENT_TIERING and archive_status in ARCHIVE_ACCESS_TIERS:
        tier = f"INTELLIGENT_TIERING {archive_status}"
    else:
        return None
    restore = head.get("Restore")
    if restore_done(restore):
        return None
    if restore:
        return f"{tier}, restore in progress"
    return f"{tier}, not restored"
