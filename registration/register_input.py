"""The registration files `register` submits: find them, fingerprint them, read them.

Listing and validation are the manifest command's (`registration.manifest_files`);
this module adds what registering needs: a content hash per file, unit counts, and
documents derived from a file (failed units only; `skip_duplicate_urls` forced on).
Each file is Encord's JSON registration format (reference, section 2).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from registration.errors import InputError
from registration.manifest_files import iter_manifest_paths, load_manifest

# Top-level keys of a registration file that list units, and whether a unit lists its
# files as objectUrl_0..N (multi-file items) rather than one objectUrl.
UNIT_LISTS: dict[str, bool] = {
    "videos": False,
    "images": False,
    "audio": False,
    "text": False,
    "pdf": False,
    "nifti": False,
    "image_groups": True,
    "dicom_series": True,
}
FLAGS = ("skip_duplicate_urls", "upsert_metadata")
SKIP_DUPLICATES = "skip_duplicate_urls"


@dataclass(frozen=True)
class ManifestFile:
    """One registration file: its name in the run, path, content hash and unit count."""

    key: str
    path: Path
    sha256: str
    units: int

    def load(self) -> dict[str, Any]:
        """The document, checked to be the same content that was fingerprinted."""
        raw = _read(self.path)
        if hashlib.sha256(raw).hexdigest() != self.sha256:
            raise InputError(
                f"{self.path} changed while registering",
                source=str(self.path),
                hint="re-run the command",
            )
        return load_manifest(self.path)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}", source=str(path)) from None


def unit_urls(kind: str, entry: dict[str, Any]) -> tuple[str, ...]:
    """The object URLs of one unit, in order."""
    if not UNIT_LISTS[kind]:
        url = entry.get("objectUrl")
        return (url,) if isinstance(url, str) and url else ()
    numbered = sorted(
        (int(k[len("objectUrl_") :]), v)
        for k, v in entry.items()
        if k.startswith("objectUrl_") and k[len("objectUrl_") :].isdigit()
    )
    return tuple(str(v) for _, v in numbered)


def count_units(doc: dict[str, Any]) -> int:
    """How many units (items Encord registers) a document holds."""
    return sum(len(doc.get(kind) or []) for kind in UNIT_LISTS)


def iter_unit_urls(doc: dict[str, Any]) -> Iterator[tuple[str, ...]]:
    """The URL tuple of every unit, in document order."""
    for kind in UNIT_LISTS:
        for entry in doc.get(kind) or []:
            yield unit_urls(kind, entry)


def select_units(doc: dict[str, Any], urls: Iterable[str]) -> dict[str, Any]:
    """A copy of `doc` holding only the units that reference any of `urls` (flags kept)."""
    wanted = set(urls)
    out: dict[str, Any] = {flag: doc[flag] for flag in FLAGS if flag in doc}
    for kind in UNIT_LISTS:
        kept = [e for e in doc.get(kind) or [] if wanted.intersection(unit_urls(kind, e))]
        if kept:
            out[kind] = kept
    return out


def with_skip_duplicates(doc: dict[str, Any]) -> dict[str, Any]:
    """A shallow copy with `skip_duplicate_urls` forced on."""
    return {**doc, SKIP_DUPLICATES: True}


def iter_manifest_files(directory: Path) -> Iterator[ManifestFile]:
    """The registration files in `directory` (`manifest-NNNNN.json`, in order).

    Each is read, validated and fingerprinted; a corrupt file raises InputError naming
    it before anything is sent.
    """
    for path in iter_manifest_paths(directory):
        raw = _read(path)
        doc = load_manifest(path)
        yield ManifestFile(
            key=path.relative_to(directory).as_posix(),
            path=path,
            sha256=hashlib.sha256(raw).hexdigest(),
            units=count_units(doc),
        )
