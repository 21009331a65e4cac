"""`--metadata FILE`: metadata for many objects at once, keyed by object key (or folder).

CSV with a `key` column, or JSON Lines with a `key` field. The file is read whole: it maps
keys to documents the item builder looks up. Key frames in a document are brought to Encord's
``$encord`` form as the file is read (`keyframes.KeyframeConverter`); bad ones refuse the
file, naming the line and the key.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import orjson

from registration.build.keyframes import KeyframeConverter, KeyframeError
from registration.build.sidecars import parse_metadata_document
from registration.errors import InputError


def _json_cell(cell: str) -> Any:
    """A CSV cell: a JSON number, boolean, object or array when it parses as one, else text."""
    if cell[:1] in "-0123456789tf[{":
        try:
            return orjson.loads(cell)
        except orjson.JSONDecodeError:
            pass
    return cell


def load_metadata_file(
    path: Path, convert: KeyframeConverter | None = None
) -> dict[str, dict[str, Any]]:
    """`--metadata FILE`: object key -> metadata document (CSV with a `key` column, or JSON Lines).

    In JSON Lines every field but ``key`` is metadata (a sole ``metadata`` object is
    unwrapped). In CSV every non-empty cell but ``key`` is, parsed as JSON when it is a
    JSON number, boolean, object or array (``007`` stays text). Each document goes through
    `convert` (key frames); an `InputError` names the file, line and key of a bad one. The
    file is held in memory.
    """
    source = str(path)

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
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read metadata file {path}: {exc}", source=source) from exc
    result: dict[str, dict[str, Any]] = {}
    first = text.lstrip()[:1]
    if first == "{":
        for line_no, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                doc = parse_metadata_document(line.encode())
            except ValueError as exc:
                raise InputError(f"{path}, line {line_no}: {exc}", source=source) from exc
            key = doc.pop("key", None)
            if not isinstance(key, str):
                raise InputError(f'{path}, line {line_no}: no string "key"', source=source)
            if set(doc) == {"metadata"} and isinstance(doc["metadata"], dict):
                doc = doc["metadata"]
            result[key] = converted(doc, line_no, key)
        return result
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames or "key" not in reader.fieldnames:
        raise InputError(
            f"metadata file {path} has no `key` column",
            source=source,
            hint="CSV with a header row including `key`, or JSON Lines with a `key` field",
        )
    for row in reader:
        key = row.pop("key")
        doc = {k: _json_cell(v) for k, v in row.items() if k and v not in ("", None)}
        result[key] = converted(doc, reader.line_num, key)
    return result
