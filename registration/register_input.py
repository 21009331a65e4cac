"""The registration files `register` submits: find them, fingerprint them, read them.

Until the manifest command's own reader is in place this is the one function that
reads a manifest directory; everything else goes through `ManifestFile`.
Each file is Encord's JSON registration format (reference, section 2).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from registration.errors import InputError

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
        return parse_document(raw, str(self.path))


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}", source=str(path)) from None


def parse_document(raw: bytes, source: str) -> dict[str, Any]:
    """Parse and structurally check one registration file; InputError names what is wrong."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InputError(
            f"{source} is not valid JSON ({exc})",
            source=source,
            hint="rebuild it with `encord-register manifest`",
        ) from None
    if not isinstance(doc, dict):
        raise InputError(f"{source}: the top level must be a JSON object", source=source)
    for key, value in doc.items():
        if key in FLAGS:
            if not isinstance(value, bool):
                raise InputError(f"{source}: {key} must be true or false", source=source)
            continue
        if key not in UNIT_LISTS:
            known = ", ".join([*UNIT_LISTS, *FLAGS])
            raise InputError(
                f"{source}: unknown top-level key {key!r} (expected one of {known})",
                source=source,
            )
        if not isinstance(value, list):
            raise InputError(f"{source}: {key} must be a list", source=source)
        for index, entry in enumerate(value):
            if not isinstance(entry, dict) or not unit_urls(key, entry):
                raise InputError(
                    f"{source}: {key}[{index}] must be an object with "
                    + ("objectUrl_0..N" if UNIT_LISTS[key] else "objectUrl"),
                    source=source,
                )
    return doc


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
    """The registration files in `directory` (`*.json`, sorted, hidden entries skipped).

    Each is read, checked and fingerprinted; a corrupt file raises InputError before
    anything is sent.
    """
    if not directory.is_dir():
        raise InputError(
            f"--manifests {directory} is not a directory",
            source=str(directory),
            hint="pass the output directory of `encord-register manifest`",
        )
    paths = sorted(
        p
        for p in directory.rglob("*.json")
        if not any(part.startswith(".") for part in p.relative_to(directory).parts)
    )
    if not paths:
        raise InputError(
            f"no registration files (*.json) in {directory}",
            source=str(directory),
            hint="build them with `encord-register manifest`",
        )
    for path in paths:
        raw = _read(path)
        doc = parse_document(raw, str(path))
        yield ManifestFile(
            key=path.relative_to(directory).as_posix(),
            path=path,
            sha256=hashlib.sha256(raw).hexdigest(),
            units=count_units(doc),
        )
