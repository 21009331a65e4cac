"""Read object keys from a file: one key per line, or JSON Lines.

JSON Lines (a file whose first non-blank line starts with '{') give ``key`` and optional
``size``, ``storage_class`` and ``metadata`` per line (its key frames brought to Encord's
``$encord`` form as the line is read; bad ones refuse the file). Plain lines are keys taken as they
are (no trimming but the line end: spaces are legal in S3 keys). The file is not assumed
to be sorted: records go through the same bounded-memory external sort as inventories.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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


def _rows(path: Path, convert: MetadataHook | None = None) -> Iterator[Row]:
    try:
        handle = path.open("r", encoding="utf-8", newline="")
    except OSError as exc:
        raise InputError(
            f"cannot read keys file {path}: {exc.strerror or exc}", source=str(path)
        ) from exc
    with handle:
        json_lines: bool | None = None
        try:
            for line_no, line in enumerate(handle, 1):
                line = line.removesuffix("\n").removesuffix("\r")
                if not line.strip():
                    continue
                if json_lines is None:
                    json_lines = line.lstrip().startswith("{")
                if not json_lines:
                    yield (line, None, None, None)
                    continue
                try:
                    doc = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    raise _bad(path, line_no, f"not valid JSON ({exc})") from exc
                if not isinstance(doc, dict) or not isinstance(doc.get("key"), str):
                    raise _bad(path, line_no, 'expected an object with a string "key"')
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
                        why = f"key {doc['key']!r}: bad key frames at {exc}"
                        raise _bad(path, line_no, why) from exc
                storage_class = doc.get("storage_class")
                yield (doc["key"], size, storage_class, metadata)
        except UnicodeDecodeError as exc:
            raise InputError(
                f"keys file {path} is not UTF-8 text ({exc})", source=str(path)
            ) from exc


def read_keys_file(
    path: Path,
    bucket: str,
    *,
    run_rows: int = DEFAULT_RUN_ROWS,
    convert: MetadataHook | None = None,
) -> Iterator[ObjectRecord]:
    """Records for every key in `path`, sorted by key, all in `bucket`; each line's metadata
    through `convert`."""
    for key, size, storage_class, metadata in external_sort(_rows(path, convert), run_rows):
        yield ObjectRecord(bucket, key, size, storage_class, None, None, metadata)
