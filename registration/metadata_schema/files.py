"""Schema files: this project's file form (`--write FILE`) and Encord's wire form, read and written.

`read_schema_file` takes either form, so a schema exported from Encord can be used with
`--schema` as it is; `write_schema_file` writes this project's form.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from registration.errors import InputError
from registration.metadata_schema.model import (
    IGNORE_FIELD,
    SCHEMA_FILE_FORMAT,
    Schema,
    SchemaError,
    spec_from_json,
)
from registration.metadata_schema.wire import schema_from_wire


def schema_from_json(data: Any) -> Schema:
    """A schema from its file form, or from Encord's wire form; raises SchemaError."""
    if isinstance(data, dict) and data.get("format") == SCHEMA_FILE_FORMAT:
        keys = data.get("keys")
        if not isinstance(keys, dict):
            raise SchemaError("keys", "expected an object mapping key names to declarations")
        ignored = data.get(IGNORE_FIELD, [])
        if not isinstance(ignored, list) or not all(isinstance(k, str) for k in ignored):
            raise SchemaError(IGNORE_FIELD, "expected a list of key names")
        return Schema.of([spec_from_json(str(k), v) for k, v in keys.items()], ignored)
    if isinstance(data, dict):
        return schema_from_wire(data).schema
    raise SchemaError("schema", "expected a JSON object")


def read_schema_file(path: Path) -> Schema:
    """Read a schema file (this project's form or Encord's wire form).

    Raises InputError naming the file and the problem.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(
            f"cannot read schema file {path}: {exc.strerror or exc}",
            source=str(path),
            hint="write one with `encord-register schema --write FILE`",
        ) from None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"schema file {path} is not valid JSON: {exc}", source=str(path)) from None
    try:
        return schema_from_json(data)
    except SchemaError as exc:
        raise InputError(
            f"schema file {path} is invalid: {exc}",
            source=str(path),
            hint="fix the declaration, or regenerate it with `encord-register schema --write`",
        ) from None


def write_schema_file(schema: Schema, path: Path) -> None:
    """Write `schema` to `path` in the file form (pretty-printed, trailing newline)."""
    path.write_bytes(orjson.dumps(schema.to_json(), option=orjson.OPT_INDENT_2) + b"\n")
