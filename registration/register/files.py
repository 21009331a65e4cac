"""The registration files `register` submits: each fingerprinted, so a run can resume.

Listing, loading and walking the files is `registration.encord.files`; this module adds
what registering needs: a content hash and a unit count per file, and a check, when a file
is read again to be sent, that it is still the content that was fingerprinted.

Every file is read, validated and fingerprinted before anything is sent; with many files
that is done by worker processes (about 15 ms a file of 10,000 items here, mostly parsing),
the results taken in file order, so the first invalid file is the one reported either way.
While they work, this process is free for something else the run needs (`meanwhile`: the CLI
imports the Encord SDK then, about 0.8 s of CPU here, instead of after the files are read).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from registration.encord.files import count_units, iter_manifest_paths, parse_manifest, read_bytes
from registration.errors import InputError
from registration.processes import can_fork, default_workers, fork_pool, portable

PARALLEL_FILES: Final = 8
"""Files from which they are fingerprinted by worker processes (fewer: starting them costs more)."""


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


def iter_manifest_files(
    directory: Path,
    workers: int | None = None,
    meanwhile: Callable[[], object] | None = None,
) -> Iterator[ManifestFile]:
    """The registration files in `directory` (`manifest-NNNNN.json`, in order).

    Each is read, validated and fingerprinted; a corrupt file raises InputError naming
    it before anything is sent. `workers`: processes to use (default: one per CPU).
    `meanwhile`: work for this process while worker processes read the files, called once
    they are started (forked before it runs, so they never inherit its half-done state)
    and before their first result is read; not called when the files are read here.
    """
    paths = list(iter_manifest_paths(directory))
    workers = default_workers() if workers is None else workers
    if workers < 2 or len(paths) < PARALLEL_FILES or not can_fork():
        for path in paths:
            yield _manifest_file(directory, path, fingerprint(path))
        return
    with fork_pool(min(workers, len(paths))) as pool:
        results = pool.imap(_fingerprint_task, paths)
        if meanwhile is not None:
            meanwhile()
        for path, found in zip(paths, results, strict=True):
            yield _manifest_file(directory, path, found)


def fingerprint(path: Path) -> tuple[str, int]:
    """A registration file's content hash and unit count, once it is validated."""
    raw = read_bytes(path)
    return hashlib.sha256(raw).hexdigest(), count_units(parse_manifest(raw, path))


def _fingerprint_task(path: Path) -> tuple[str, int]:
    try:
        return fingerprint(path)
    except Exception as exc:
        raise portable(exc, "a worker reading registration files") from None


def _manifest_file(directory: Path, path: Path, found: tuple[str, int]) -> ManifestFile:
    sha256, units = found
    return ManifestFile(
        key=path.relative_to(directory).as_posix(), path=path, sha256=sha256, units=units
    )
