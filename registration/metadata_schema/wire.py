"""Encord's wire form of the metadata schema (GET/POST organisation/client-metadata-schema-v2).

The body maps each key to a typed object. The SDK writes scalars as
`{"ty": "variant", "hint": "number"}`; the API may also answer the plain forms
(`{"ty": "number", "format": "F64"}`, `{"ty": "varchar", "max_length": 8192}` ...),
deleted keys as `{"ty": "tombstone", "deleted_ty": ...}`, and types this project
does not handle (`user`). `schema_from_wire` reads all of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from registration.metadata_schema.model import KeySpec, KeyType, Schema, SchemaError

#: Plain wire `ty` -> type. Scalars may also come as {"ty": "variant", "hint": ...}.
_PLAIN_TYPES: dict[str, KeyType] = {
    "number": KeyType.NUMBER,
    "boolean": KeyType.BOOLEAN,
    "varchar": KeyType.VARCHAR,
    "text": KeyType.TEXT,
    "datetime": KeyType.DATETIME,
    "uuid": KeyType.UUID,
    "geospatial": KeyType.GEOSPATIAL,
}
#: Variant hints, with the SDK's aliases (`string` is varchar, `long_string` is text).
_HINTS: dict[str, KeyType] = {
    "number": KeyType.NUMBER,
    "boolean": KeyType.BOOLEAN,
    "varchar": KeyType.VARCHAR,
    "string": KeyType.VARCHAR,
    "text": KeyType.TEXT,
    "long_string": KeyType.TEXT,
    "datetime": KeyType.DATETIME,
    "uuid": KeyType.UUID,
}
#: The scalar types `add_scalar(data_type=...)` declares.
SCALAR_TYPES = frozenset(_HINTS.values())


@dataclass(frozen=True)
class WireSchema:
    """An organisation's schema as read from Encord.

    `schema` holds the keys this project understands; `deleted` the keys Encord keeps
    as tombstones (they cannot be re-declared here); `unsupported` maps other keys to
    their wire type.
    """

    schema: Schema = field(default_factory=Schema)
    deleted: frozenset[str] = frozenset()
    unsupported: Mapping[str, str] = field(default_factory=dict)

    def names(self) -> frozenset[str]:
        """Every key the organisation's schema mentions, in any state."""
        return frozenset(self.schema.keys) | self.deleted | frozenset(self.unsupported)


def to_wire(spec: KeySpec) -> dict[str, Any]:
    """The wire object the SDK sends for `spec` (as `add_scalar`/`add_enum`/... build it)."""
    if spec.type in SCALAR_TYPES:
        return {"ty": "variant", "hint": spec.type.value}
    if spec.type is KeyType.ENUM:
        return {"ty": "enum", "values": sorted(spec.values)}
    if spec.type is KeyType.EMBEDDING:
        return {"ty": "embedding", "size": spec.size, "api": None}
    if spec.type is KeyType.GEOSPATIAL:
        return {"ty": "geospatial"}
    raise SchemaError(spec.name, f"type {spec.type.value} is checked locally, never sent to Encord")


def schema_to_wire(schema: Schema) -> dict[str, Any]:
    """The wire body for every declarable key of `schema` (reserved keys left out)."""
    return {s.name: to_wire(s) for s in schema if s.type is not KeyType.KEYFRAMES}


def _spec_from_wire(name: str, entry: dict[str, Any]) -> KeySpec | str:
    ty = entry.get("ty")
    if ty == "variant":
        hint = entry.get("hint", "text")
        if hint not in _HINTS:
            raise SchemaError(name, f"unknown scalar hint {hint!r}")
        return KeySpec(name, _HINTS[hint])
    if ty in _PLAIN_TYPES:
        return KeySpec(name, _PLAIN_TYPES[str(ty)])
    if ty == "enum":
        values = entry.get("values")
        if not isinstance(values, list):
            raise SchemaError(name, "an enum needs a list of values")
        return KeySpec(name, KeyType.ENUM, values=tuple(sorted(values)))
    if ty == "embedding":
        return KeySpec(name, KeyType.EMBEDDING, size=entry.get("size"))
    if isinstance(ty, str):
        return ty  # tombstone, user, or a type newer than this project
    raise SchemaError(name, 'expected an object with a "ty" field')


def schema_from_wire(data: Mapping[str, Any] | None) -> WireSchema:
    """Read Encord's wire form (None when the organisation has no schema yet)."""
    if data is None:
        return WireSchema()
    specs: list[KeySpec] = []
    deleted: set[str] = set()
    unsupported: dict[str, str] = {}
    for name, entry in data.items():
        if not isinstance(entry, dict):
            raise SchemaError(str(name), 'expected an object with a "ty" field')
        try:
            parsed = _spec_from_wire(str(name), entry)
        except SchemaError as exc:
            # Keep reading: one odd key in the organisation's schema must not hide the rest.
            parsed = f"unreadable ({exc})"
        if isinstance(parsed, KeySpec):
            specs.append(parsed)
        elif parsed == "tombstone":
            deleted.add(str(name))
        else:
            unsupported[str(name)] = parsed
    return WireSchema(Schema.of(specs), frozenset(deleted), unsupported)
