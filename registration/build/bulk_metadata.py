"""`--metadata FILE`: metadata for many objects at once, keyed by object key (or folder).

CSV with a `key` column, or JSON Lines with a `key` field. The file is read whole: it maps
keys to documents the item builder looks up. Key frames in a document are brought to Encord's
``$encord`` form as the file is read (`keyframes.KeyframeConverter`); bad ones refuse the
file, naming the line and the key.

A file whose columns are ambiguous is refused, never guessed at: a CSV header naming a column
twice (with two `key` columns the second one decided which object got the row), a JSON Lines
object giving a field twice, a CSV cell outside the header's columns. Rows for a key already
given are resolved by `--metadata-duplicates` (`DUPLICATE_POLICIES`): rows that repeat an
earlier row exactly are always harmless and only counted.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import orjson

from registration.build.keyframes import KeyframeConverter, KeyframeError
from registration.build.sidecars import parse_metadata_document
from registration.errors import InputError

REFUSE: Final = "refuse"
FIRST: Final = "first"
LAST: Final = "last"
DUPLICATE_POLICIES: Final = (REFUSE, FIRST, LAST)
"""`--metadata-duplicates`: what rows that give one key different metadata do. `refuse` (the
default) stops before anything is listed, naming the keys; `first` / `last` use that row of
each key and warn with the count and the keys."""
DEFAULT_DUPLICATE_POLICY: Final = REFUSE
_SHOWN: Final = 5
"""Keys named in a message about many (the rest are counted)."""


@dataclass
class MetadataFile:
    """What `--metadata FILE` gave: one document per key, and the keys given more than once."""

    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    policy: str = DEFAULT_DUPLICATE_POLICY
    repeated_rows: int = 0
    """Rows that repeat an earlier row of the same key exactly (ignored: nothing to choose)."""
    conflicts: dict[str, list[int]] = field(default_factory=dict)
    """Keys given by rows that differ -> the line numbers of all its rows (`policy` chose)."""

    def warnings(self) -> list[str]:
        """What a person should know about the duplicates (empty when there were none)."""
        lines = []
        if self.conflicts:
            lines.append(
                f"--metadata: {len(self.conflicts):,} key(s) have rows that differ "
                f"({describe_conflicts(self.conflicts)}); the {self.policy} row of each was "
                f"used (--metadata-duplicates {self.policy})"
            )
        if self.repeated_rows:
            lines.append(
                f"--metadata: {self.repeated_rows:,} row(s) repeat an earlier row of the same "
                "key exactly; ignored"
            )
        return lines


def describe_conflicts(conflicts: dict[str, list[int]]) -> str:
    """`'a.jpg' (lines 2, 5), ...` for the first few keys, and how many more."""
    shown = [
        f"{key!r} (lines {', '.join(map(str, lines))})"
        for key, lines in list(conflicts.items())[:_SHOWN]
    ]
    more = len(conflicts) - len(shown)
    return ", ".join(shown) + (f" and {more:,} more" if more > 0 else "")


def _json_cell(cell: str) -> Any:
    """A CSV cell: a JSON number, boolean, object or array when it parses as one, else text."""
    if cell[:1] in "-0123456789tf[{":
        try:
            return orjson.loads(cell)
        except orjson.JSONDecodeError:
            pass
    return cell


class _DuplicateField(ValueError):
    pass


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """`json` object hook: refuse an object that gives a field twice (orjson keeps the last)."""
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise _DuplicateField(name)
            seen.add(name)
    return result


_KEY_LIKE = re.compile(r'"\s*:')
"""A string followed by a colon: every object field, and any `":` inside a string value."""


def _fields(values: Iterable[Any], count: int) -> int:
    """`count` plus the object fields held, at every depth, by `values` (hot: no recursion
    into scalars)."""
    for value in values:
        kind = type(value)
        if kind is dict:
            count = _fields(value.values(), count + len(value))
        elif kind is list:
            count = _fields(value, count)
    return count


def _check_unique_fields(line: str, parsed: dict[str, Any]) -> str | None:
    """The first field a JSON line gives twice (at any depth), or None.

    A parsed object keeps one field per name, so when the line shows no more field-like
    tokens than `parsed` holds fields, none was given twice (the fast path); otherwise the
    line is read again, field by field.
    """
    if len(_KEY_LIKE.findall(line)) == _fields(parsed.values(), len(parsed)):
        return None
    try:
        json.loads(line, object_pairs_hook=_unique_pairs)
    except _DuplicateField as exc:
        return str(exc)
    except ValueError:
        return None  # orjson already read it; forms it accepts and json does not are fine
    return None


def load_metadata_file(
    path: Path,
    convert: KeyframeConverter | None = None,
    *,
    duplicates: str = DEFAULT_DUPLICATE_POLICY,
) -> MetadataFile:
    """`--metadata FILE`: object key -> metadata document (CSV with a `key` column, or JSON Lines).

    In JSON Lines every field but ``key`` is metadata (a sole ``metadata`` object is
    unwrapped). In CSV every non-empty cell but ``key`` is, parsed as JSON when it is a
    JSON number, boolean, object or array (``007`` stays text). Each document goes through
    `convert` (key frames); an `InputError` names the file, line and key of a bad one, of a
    duplicated column or field, and (with `duplicates` ``refuse``) of keys whose rows differ.
    The file is held in memory.
    """
    source = str(path)
    if duplicates not in DUPLICATE_POLICIES:
        raise InputError(
            f"--metadata-duplicates {duplicates!r}: choose one of {', '.join(DUPLICATE_POLICIES)}",
            source=source,
        )

    def converted(doc: dict[str, Any], line_no: int, key: str) -> dict[str, Any]:
        if convert is None:
            return doc
        try:
            return convert(doc)
        except KeyframeError as exc:
            raise InputError(
                f"{path}, line {line_no}, key {key!r}: bad key frames at {exc}",
                source=source,
                hint='key frames go in "$encord": {"frames": [0, 3] or {"3": {...}}, "config": '
                '{"sampling_rate": N, "keyframe_mode": "frame"|"seconds"}} (see docs/manifest.md)',
            ) from exc

    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's byte-order mark
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read metadata file {path}: {exc}", source=source) from exc
    table = MetadataFile(policy=duplicates)
    documents = table.documents  # filled as read: the first (or, `last`, the chosen) row
    first_line: dict[str, int] = {}
    lines_of: dict[str, list[int]] = {}  # keys given more than once -> the lines of all rows

    def add(key: str, doc: dict[str, Any], line_no: int) -> None:
        first_doc = documents.get(key)
        if first_doc is None:
            documents[key] = doc
            first_line[key] = line_no
            return
        lines = lines_of.get(key)
        if lines is None:
            lines = lines_of[key] = [first_line[key]]
        lines.append(line_no)
        if doc == first_doc and key not in table.conflicts:
            table.repeated_rows += 1
            return
        table.conflicts[key] = lines
        if duplicates == LAST:
            documents[key] = doc

    if text.lstrip()[:1] == "{":
        for line_no, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                doc = parse_metadata_document(line.encode())
            except ValueError as exc:
                raise InputError(f"{path}, line {line_no}: {exc}", source=source) from exc
            twice = _check_unique_fields(line, doc)
            if twice is not None:
                raise InputError(
                    f"{path}, line {line_no}: the field {twice!r} is given twice; refusing to "
                    "guess which one is meant",
                    source=source,
                    hint="give each field once per line",
                )
            key = doc.pop("key", None)
            if not isinstance(key, str):
                raise InputError(f'{path}, line {line_no}: no string "key"', source=source)
            if set(doc) == {"metadata"} and isinstance(doc["metadata"], dict):
                doc = doc["metadata"]
            add(key, converted(doc, line_no, key), line_no)
    else:
        _read_csv(path, text, converted, add)
    if table.conflicts and duplicates == REFUSE:
        raise InputError(
            f"metadata file {path}: {len(table.conflicts):,} key(s) have rows that differ "
            f"({describe_conflicts(table.conflicts)}); refusing to guess which row is meant",
            source=source,
            hint="keep one row per key, or pass --metadata-duplicates first|last to use that "
            "row of each key",
        )
    return table


def _read_csv(
    path: Path,
    text: str,
    converted: Callable[[dict[str, Any], int, str], dict[str, Any]],
    add: Callable[[str, dict[str, Any], int], None],
) -> None:
    """Rows of a CSV metadata file into `add(key, document, line)`; ambiguous columns refused."""
    source = str(path)
    reader = csv.DictReader(text.splitlines())
    header = reader.fieldnames
    if not header or "key" not in header:
        raise InputError(
            f"metadata file {path} has no `key` column",
            source=source,
            hint="CSV with a header row including `key`, or JSON Lines with a `key` field",
        )
    named = [name for name in header if name]
    twice = sorted({name for name in named if named.count(name) > 1})
    if twice:
        raise InputError(
            f"metadata file {path}: the header names the column(s) "
            f"{', '.join(map(repr, twice))} more than once; refusing to guess which is meant",
            source=source,
            hint="give every column of the header a distinct name",
        )
    for row in reader:
        key = row.pop("key") or ""  # a row too short to reach the `key` column
        doc: dict[str, Any] = {}
        for name, value in row.items():
            if name is None:  # cells past the header's last column (a list of them)
                value = "".join(value)
            if value in ("", None):
                continue
            if not name:  # under an unnamed column, or past the last one
                raise InputError(
                    f"{path}, line {reader.line_num}: a value in a column the header does not "
                    "name; refusing to guess which column is meant",
                    source=source,
                    hint="name every column in the header, and give no row more cells than it",
                )
            doc[name] = _json_cell(value)
        add(key, converted(doc, reader.line_num, key), reader.line_num)
