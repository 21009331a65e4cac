"""The registration files `register` submits: each fingerprinted, so a run can resume.

Listing, loading and walking the files is `registration.encord.files`; this module adds
what registering needs: a content hash and a unit count per file, and a check, when a file
is read again to be sent, that it is still the content that was fingerprinted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from registration.encord.files import count_units, iter_manifest_paths, parse_manifest, read_bytes
from registration.errors import InputError


@dataclass(frozen=True)
class ManifestFile:
    """One registration file: its name in the run, path, content hash and unit count."""

    key: str
    path: Path
    sha256: str
    units: int

    def load(self) -> dict[str, Any]:
        """The document, checked to be the same content that was fingerprinted.

        Those bytes were validated against the schema when fingerprinted (a `ManifestFile`
        comes from `iter_manifest_files`), so they are not validated again.
        """
        raw = read_bytes(self.path)
        if hashlib.sha256(raw).hexdigest() != self.sha256:
            raise InputError(
                f"{self.path} changed while registering",
                source=str(self.path),
                hint="re-run the command",
            )
        return parse_manifest(raw, self.path, validated=True)


def iter_manifest_files(directory: Path) -> Iterator[ManifestFile]:
    """The registration files in `directory` (`manifest-NNNNN.json`, in order).

    Each is read, validated and fingerprinted; a corrupt file raises InputError naming
    it before anything is sent.
    """
    for path in iter_manifest_paths(directory):
        raw = read_bytes(path)
        yield ManifestFile(
            key=path.relative_to(directory).as_posix(),
            path=path,
            sha256=hashlib.sha256(raw).hexdigest(),
            units=count_units(parse_manifest(raw, path)),
        )
