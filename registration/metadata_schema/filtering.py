"""Apply an item check to registration files already written, before they are sent.

`register --manifests DIR --schema FILE` uses this: every file is copied, without the
items the check refuses, into a separate directory (the originals are never touched),
and each refused item is listed in that directory's skipped.jsonl: reason `item_check` (as
`manifest` writes it), the detail naming the key and the rule.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from registration.build.skips import CHECK_FAILED, SKIPPED_FILE
from registration.encord.files import iter_manifest_paths, load_manifest, unit_urls
from registration.encord.formats import ITEM_LISTS, ItemCheck
from registration.errors import InputError
from registration.metadata_schema.refs import item_ref
from registration.reporter import Reporter


@dataclass
class FilterSummary:
    """What filtering kept and refused."""

    out_dir: Path
    files: list[Path] = field(default_factory=list)
    kept: int = 0
    refused: int = 0
    refused_by_reason: dict[str, int] = field(default_factory=dict)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def filter_manifests(
    paths: list[Path],
    documents: Callable[[Path], dict[str, Any]],
    out_dir: Path,
    check: ItemCheck,
) -> FilterSummary:
    """Write each document of `paths` minus refused items into `out_dir`, same file names.

    `documents(path)` loads one file (validated). A file left with no items is not
    written. Output is deterministic, so a re-run resumes against the same files.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("manifest-*.json"):
        stale.unlink()
    summary = FilterSummary(out_dir)
    skipped_tmp = out_dir / (SKIPPED_FILE + ".tmp")
    with skipped_tmp.open("wb") as skipped:
        for path in paths:
            _filter_one(path, documents(path), out_dir, check, summary, skipped)
    skipped_tmp.replace(out_dir / SKIPPED_FILE)
    if not summary.files:
        raise InputError(
            f"every item was refused by the metadata schema ({summary.refused:,}); "
            f"nothing to register (see {out_dir / SKIPPED_FILE})",
            source=str(out_dir),
            hint="fix the metadata, or the schema (`encord-register schema --coerce ...`)",
        )
    return summary


def _filter_one(
    path: Path,
    doc: dict[str, Any],
    out_dir: Path,
    check: ItemCheck,
    summary: FilterSummary,
    skipped: BinaryIO,
) -> None:
    """Copy one document without its refused items; list those in `skipped`."""
    out: dict[str, Any] = {}
    kept_here = 0
    for key, value in doc.items():
        if key not in ITEM_LISTS or not isinstance(value, list):
            out[key] = value
            continue
        kept = []
        for item in value:
            reason = check(key, item) if isinstance(item, dict) else None
            if reason is None:
                kept.append(item)
                continue
            summary.refused += 1
            summary.refused_by_reason[reason] = summary.refused_by_reason.get(reason, 0) + 1
            skipped.write(
                orjson.dumps(
                    {
                        "file": path.name,
                        "type": key,
                        "key": item_ref(item),
                        "urls": list(unit_urls(key, item)),
                        "reason": CHECK_FAILED,
                        "detail": reason,
                    }
                )
                + b"\n"
            )
        if kept:
            out[key] = kept
            kept_here += len(kept)
    summary.kept += kept_here
    if kept_here:
        target = out_dir / path.name
        _write_atomic(target, orjson.dumps(out))
        summary.files.append(target)


def schema_checked_manifests(
    manifests: Path, out_dir: Path, checks: Sequence[ItemCheck], reporter: Reporter
) -> Path:
    """Copies of the registration files in `manifests` without the items `checks` refuse.

    Written to `out_dir` with skipped.jsonl listing each refused item with its reason;
    returns `out_dir` (what `register` then sends). The originals are never rewritten.
    """

    def check(media_type: str, item: dict[str, Any]) -> str | None:
        for one in checks:
            reason = one(media_type, item)
            if reason:
                return reason
        return None

    summary = filter_manifests(iter_manifest_paths(manifests), load_manifest, out_dir, check)
    if summary.refused:
        reporter.warn(
            f"{summary.refused:,} item(s) refused by the metadata schema, not sent "
            f"(listed in {out_dir / SKIPPED_FILE}):"
        )
        for reason, count in sorted(summary.refused_by_reason.items()):
            reporter.warn(f"  {count:,} x {reason}")
    return out_dir
