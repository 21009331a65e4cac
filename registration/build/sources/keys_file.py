r"""Read object keys from a file: one key per line, or JSON Lines.

The format, exactly (docs/manifest.md says the same):
- UTF-8 text; a byte order mark at the very start is not part of the first key.
- Lines end at `\n` only; one `\r` right before it (a CRLF ending) is part of the line end.
  Every other character is part of the key: a `\r` inside a key, leading and trailing spaces,
  a line of spaces only (all legal in S3 keys). A key ending in `\r`, or holding a `\n`,
  can be given in JSON Lines.
- An empty line is not a key (S3 keys have at least one character): it is counted
  (`keys_file_blank_lines` in summary.json), as is every key outside `--prefix`
  (`keys_file_outside_prefix`). Every other line becomes an object.
- JSON Lines (a file whose first line that is not only whitespace starts with '{') give
  ``key`` and optional ``size``, ``storage_class`` and ``metadata`` per line (its key frames
  brought to Encord's ``$encord`` form as the line is read; bad ones refuse the file); there a
  line of whitespace only is blank too.

The file is not assumed to be sorted: records go through the same bounded-memory external sort
as inventories.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from registration.build.sources import ObjectRecord
from registration.build.sources.external_sort import DEFAULT_RUN_ROWS, external_sort
from registration.errors import InputError

Row = tuple[str, Any, Any, Any]


def _bad(path: Path, line_no: int, why: str) -> InputError:
    return InputError(
        f"{path}, line {line_no}: {why}",
        source=str(path),
        hint="each line is a key, or a JSON object like "
        '{"key": "a/b.jpg", "size": 12, "storage_class": "STANDARD", "metadata": {}}',
    )


MetadataHook = Callable[[dict[str, Any]], dict[str, Any]]
"""Brings a line's metadata to the written form (`keyframes.KeyframeConverter`); ValueError
when it cannot."""


NOTE_BLANK = "keys_file_blank_lines"
NOTE_OUTSIDE_PREFIX = "keys_file_outside_prefix"


@dataclass
class KeysFileCounts:
    """Lines of a keys file that became no object, by why (summary.json `notes`)."""

    blank_lines: int = 0
    outside_prefix: int = 0

    def notes(self) -> dict[str, int]:
        """The counts that are not zero, named as in summary.json."""
        counts = {NOTE_BLANK: self.blank_lines, NOTE_OUTSIDE_PREFIX: self.outside_prefix}
        return {name: value for name, value in counts.items() if value}


def _line_text(line: str) -> str:
    r"""A line without its end: `\n`, or `\r\n` (a `\r` anywhere else is kept)."""
    if line.endswith("\n"):
        line = line[:-1]
        if line.endswith("\r"):
            line = line[:-1]
    return line


def _rows(
    path: Path,
    convert: MetadataHook | None,
    prefixes: tuple[str, ...],
    counts: KeysFileCounts,
) -> Iterator[Row]:
    try:
        # newline="\n": split on LF only (the default would also split on a lone CR).
        handle = path.open("r", encoding="utf-8-sig", newline="\n")
    except OSError as exc:
        raise InputError(
            f"cannot read keys file {path}: {exc.strerror or exc}", source=str(path)
        ) from exc
    with handle:
        json_lines: bool | None = None
        pending: list[str] = []  # whitespace-only lines read before the format is known

        def plain(key: str) -> Iterator[Row]:
            if prefixes and not key.startswith(prefixes):
                counts.outside_prefix += 1
            else:
                yield (key, None, None, None)

        try:
            for line_no, raw in enumerate(handle, 1):
                line = _line_text(raw)
                if not line:
                    counts.blank_lines += 1
                    continue
                if json_lines is None:
                    if line.isspace():
                        pending.append(line)
                        continue
                    json_lines = line.lstrip().startswith("{")
                    for waiting in pending:
                        if json_lines:
                            counts.blank_lines += 1
                        else:
                            yield from plain(waiting)
                if not json_lines:  # `plain`, inline: no generator per key on this path
                    if prefixes and not line.startswith(prefixes):
                        counts.outside_prefix += 1
                    else:
                        yield (line, None, None, None)
                    continue
                if line.isspace():
                    counts.blank_lines += 1
                    continue
                row = _json_row(path, line_no, line, convert, prefixes)
                if row is None:
                    counts.outside_prefix += 1
                    continue
                yield row
            if json_lines is None:  # only whitespace: each such line is a key
                for waiting in pending:
                    yield from plain(waiting)
        except UnicodeDecodeError as exc:
            raise InputError(
                f"keys file {path} is not UTF-8 text ({exc})", source=str(path)
            ) from exc


def _json_row(
    path: Path,
    line_no: int,
    line: str,
    convert: MetadataHook | None,
    prefixes: tuple[str, ...],
) -> Row | None:
    """One JSON Lines row, checked; None when its key is outside `prefixes`."""
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise _bad(path, line_no, f"not valid JSON ({exc})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("key"), str):
        raise _bad(path, line_no, 'expected an object with a string "key"')
    key: str = doc["key"]
    if prefixes and not key.startswith(prefixes):
        return None
    size = doc.get("size")
    if size is not None and (not isinstance(size, int) or size < 0):
        raise _bad(path, line_no, f'"size" must be a non-negative integer: {size!r}')
    metadata = doc.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise _bad(path, line_no, '"metadata" must be a JSON object')
    if metadata and convert is not None:
        try:
            metadata = convert(metadata)
        except ValueError as exc:
            raise _bad(path, line_no, f"key {key!r}: bad key frames at {exc}") from exc
    return (key, size, doc.get("storage_class"), metadata)


def read_keys_file(
    path: Path,
    bucket: str,
    *,
    run_rows: int = DEFAULT_RUN_ROWS,
    convert: MetadataHook | None = None,
    prefixes: tuple[str, ...] = (),
    counts: KeysFileCounts | None = None,
) -> Iterator[ObjectRecord]:
    """Records for every key in `path` under `prefixes` (all when empty), sorted by key, all
    in `bucket`; each line's metadata through `convert`. Lines that give no object are
    counted in `counts`."""
    counts = counts if counts is not None else KeysFileCounts()
    wanted = () if "" in prefixes else tuple(prefixes)  # "" (the whole bucket) takes all
    rows = _rows(path, convert, wanted, counts)
    for key, size, storage_class, metadata in external_sort(rows, run_rows):
        yield ObjectRecord(bucket, key, size, storage_class, None, None, metadata)
