"""Items refused after they are built: too large for a file or for Encord's metadata limit,
or refused by an item check (`--schema`). Each object of a refused item is reported with the
reason, and its sidecar as the sidecar of a skipped object."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import orjson

from registration.build import skips
from registration.build.chunking import fits_alone
from registration.build.items import BuiltItem
from registration.build.writer import FileLayout
from registration.encord.formats import CLIENT_METADATA, ItemCheck
from registration.encord.limits import (
    MAX_CLIENT_METADATA_BYTES,
)


def too_large(
    built: BuiltItem,
    size: int,
    layout: FileLayout,
    max_bytes: int,
    skip: Callable[[str, str, str, str | None], None],
) -> bool:
    """Skip (and report) an item whose metadata is over Encord's limit or that fits no file."""
    metadata = built.item.get(CLIENT_METADATA)
    if metadata is not None and size > MAX_CLIENT_METADATA_BYTES:
        metadata_size = len(orjson.dumps(metadata))
        if metadata_size > MAX_CLIENT_METADATA_BYTES:
            detail = (
                f"clientMetadata is {metadata_size:,} bytes; "
                f"Encord allows {MAX_CLIENT_METADATA_BYTES:,}"
            )
            _skip_item(built, skips.METADATA_TOO_LARGE, detail, skip)
            return True
    if not fits_alone(built, size, layout, max_bytes):
        detail = f"the item is {size:,} bytes; a file may take {max_bytes:,} (--max-bytes)"
        _skip_item(built, skips.ITEM_TOO_LARGE, detail, skip)
        return True
    return False


def _skip_item(
    built: BuiltItem, reason: str, detail: str, skip: Callable[[str, str, str, str | None], None]
) -> None:
    for key in built.keys:
        skip(built.bucket, key, reason, detail)
    for key in built.sidecar_keys:
        skip(built.bucket, key, skips.SIDECAR_OF_SKIPPED, reason)


def refused(
    built: BuiltItem,
    checks: Sequence[ItemCheck],
    skip: Callable[[str, str, str, str | None], None],
    failed: Callable[[str], None],
) -> bool:
    """Skip `built` when a check refuses it: reason `item_check`, the check's words as detail
    (also given to `failed`)."""
    for check in checks:
        detail = check(built.top_key, built.item)
        if detail is not None:
            failed(detail)
            for key in built.keys:
                skip(built.bucket, key, skips.CHECK_FAILED, detail)
            for key in built.sidecar_keys:
                skip(built.bucket, key, skips.SIDECAR_OF_SKIPPED, skips.CHECK_FAILED)
            return True
    return False
