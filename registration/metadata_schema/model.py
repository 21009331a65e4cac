"""The metadata schema: one typed declaration per clientMetadata key, and its JSON file form.

The file form (`--write FILE`, `--schema FILE`) is this project's own, small and
explicit::

    {"format": "encord-register/metadata-schema/1",
     "keys": {"score": {"type": "number"},
              "weather": {"type": "enum", "values": ["rain", "sun"]},
              "clip": {"type": "embedding", "size": 512}},
     "ignore": ["tags"]}

`ignore` (optional) lists the keys `--coerce KEY=ignore` left out: `--schema FILE` drops them
from every item's clientMetadata, so Encord never receives them.
`files.read_schema_file` reads it, and also Encord's wire form (see `wire.py`). Key frames
(`$encord`) are never schema keys: they are checked whatever the schema says.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from registration.metadata_schema import rules

SCHEMA_FILE_FORMAT = "encord-register/metadata-schema/1"
IGNORE_FIELD = "ignore"
"""The schema file's list of keys to leave out of clientMetadata (`--coerce KEY=ignore`)."""


class KeyType(StrEnum):
    """The types a clientMetadata key can be declared as."""

    NUMBER = "number"
    BOOLEAN = "boolean"
    VARCHAR = "varchar"
    TEXT = "text"
    DATETIME = "datetime"
    UUID = "uuid"
    ENUM = "enum"
    EMBEDDING = "embedding"
    GEOSPATIAL = "geospatial"
    #: The deprecated key-frame list, as schema files of earlier versions declared it: still
    #: read, never inferred or sent (key frames are checked whatever the schema says).
    KEYFRAMES = "keyframes"


#: Types whose values are strings (any of them accepts what `VARCHAR`/`TEXT` would, or less).
STRING_TYPES = frozenset(
    {KeyType.VARCHAR, KeyType.TEXT, KeyType.DATETIME, KeyType.UUID, KeyType.ENUM}
)


class SchemaError(ValueError):
    """A schema declaration is invalid (bad key name, enum or embedding size out of range)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


@dataclass(frozen=True)
class KeySpec:
    """The declaration of one key: its type, enum values or embedding size."""

    name: str
    type: KeyType
    values: tuple[str, ...] = ()
    size: int | None = None

    def __post_init__(self) -> None:
        problem = validate_spec(self)
        if problem:
            raise SchemaError(self.name, problem)

    def describe(self) -> str:
        """The type in one short human phrase: `number`, `enum(3 values)`, `embedding(512)`."""
        if self.type is KeyType.ENUM:
            return f"enum({', '.join(self.values)})"
        if self.type is KeyType.EMBEDDING:
            return f"embedding({self.size})"
        return self.type.value

    def to_json(self) -> dict[str, Any]:
        """This declaration in the schema file form."""
        out: dict[str, Any] = {"type": self.type.value}
        if self.type is KeyType.ENUM:
            out["values"] = list(self.values)
        if self.type is KeyType.EMBEDDING:
            out["size"] = self.size
        return out


def active_embedding_note(spec: KeySpec) -> str | None:
    """The warning for an embedding larger than Encord Active uses, or None."""
    if spec.type is not KeyType.EMBEDDING or (spec.size or 0) <= rules.ACTIVE_EMBEDDING_MAX_SIZE:
        return None
    return (
        f"an embedding of {spec.size:,} numbers: Encord Active uses at most "
        f"{rules.ACTIVE_EMBEDDING_MAX_SIZE:,} (Index takes up to {rules.EMBEDDING_MAX_SIZE:,})"
    )


def embedding_warnings(schema: Schema) -> list[str]:
    """One line per embedding key of `schema` larger than Encord Active uses."""
    return [f"{s.name}: {note}" for s in schema if (note := active_embedding_note(s))]


def invalid_key_name(name: str) -> str | None:
    """Why Encord's SDK would refuse `name` as a schema key, or None when it is valid."""
    if name == "" or name.startswith(rules.KEY_FORBIDDEN_PREFIX):
        return f"key names may not be empty or start with {rules.KEY_FORBIDDEN_PREFIX!r}"
    stripped = name
    for ch in rules.KEY_EXTRA_CHARACTERS:
        stripped = stripped.replace(ch, "")
    if stripped in rules.KEYS_NOT_DECLARABLE:
        return f"{name!r} is reserved by Encord and cannot be declared in the schema"
    if not stripped or not stripped.isalnum():
        return (
            "key names may contain only letters, digits, spaces and - _ . "
            f"(got {name!r}); rename the key in the metadata source"
        )
    return None


def validate_spec(spec: KeySpec) -> str | None:
    """What is wrong with `spec` by Encord's rules, or None."""
    if spec.type is KeyType.KEYFRAMES:
        if spec.name != rules.KEYFRAMES_KEY:
            return f"only the reserved key {rules.KEYFRAMES_KEY!r} can have type keyframes"
        return None
    bad_name = invalid_key_name(spec.name)
    if bad_name:
        return bad_name
    if spec.type is KeyType.ENUM:
        if not rules.ENUM_MIN_VALUES <= len(spec.values) <= rules.ENUM_MAX_VALUES:
            return (
                f"an enum needs {rules.ENUM_MIN_VALUES} to {rules.ENUM_MAX_VALUES} values, "
                f"got {len(spec.values)}"
            )
        if len(set(spec.values)) != len(spec.values):
            return "enum values must be distinct"
        if not all(isinstance(v, str) for v in spec.values):
            return "enum values must be strings"
    elif spec.values:
        return "only enums have values"
    if spec.type is KeyType.EMBEDDING:
        if (
            not isinstance(spec.size, int)
            or not rules.EMBEDDING_MIN_SIZE <= spec.size <= rules.EMBEDDING_MAX_SIZE
        ):
            return (
                f"an embedding size must be {rules.EMBEDDING_MIN_SIZE} to "
                f"{rules.EMBEDDING_MAX_SIZE}, got {spec.size!r}"
            )
    elif spec.size is not None:
        return "only embeddings have a size"
    return None


@dataclass(frozen=True)
class Schema:
    """A metadata schema: key name -> declaration, in key order; and the keys to leave out."""

    keys: Mapping[str, KeySpec] = field(default_factory=dict)
    ignored: frozenset[str] = frozenset()
    """Keys (dotted paths, as inference names them) never sent: `--coerce KEY=ignore`."""

    def __iter__(self) -> Iterator[KeySpec]:
        return iter(self.keys.values())

    def __len__(self) -> int:
        return len(self.keys)

    def get(self, name: str) -> KeySpec | None:
        """The declaration of `name`, or None."""
        return self.keys.get(name)

    def to_json(self) -> dict[str, Any]:
        """The schema file form (keys sorted, so files diff cleanly)."""
        out: dict[str, Any] = {
            "format": SCHEMA_FILE_FORMAT,
            "keys": {name: self.keys[name].to_json() for name in sorted(self.keys)},
        }
        if self.ignored:
            out[IGNORE_FIELD] = sorted(self.ignored)
        return out

    @classmethod
    def of(cls, specs: Iterator[KeySpec] | list[KeySpec], ignored: Iterable[str] = ()) -> Schema:
        """A schema from declarations (sorted by key name), leaving out the `ignored` keys."""
        by_name = {s.name: s for s in specs}
        return cls({name: by_name[name] for name in sorted(by_name)}, frozenset(ignored))


def spec_from_json(name: str, data: Any) -> KeySpec:
    """A declaration from the file form; raises SchemaError with the reason."""
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise SchemaError(name, 'expected an object such as {"type": "number"}')
    try:
        ty = KeyType(data["type"])
    except ValueError:
        known = ", ".join(t.value for t in KeyType)
        raise SchemaError(name, f"unknown type {data['type']!r} (known: {known})") from None
    values = data.get("values", [])
    if not isinstance(values, list):
        raise SchemaError(name, "enum values must be a list of strings")
    return KeySpec(name, ty, values=tuple(values), size=data.get("size"))
