"""Importing an inferred schema into Encord without deleting or retyping anything.

`plan_apply` compares the organisation's schema with the inferred one and returns
what `--apply` would do: keys to add, enum options to add, and clashes (a key the
organisation already declares with another type, or has deleted) that are reported
and left alone. `execute_plan` carries the additions out through the SDK's
`MetadataSchema` object (`user_client.metadata_schema()`), which this module only
sees through the `MetadataSchemaBackend` protocol: the SDK is imported elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from registration.metadata_schema import rules
from registration.metadata_schema.model import STRING_TYPES, KeySpec, KeyType, Schema
from registration.metadata_schema.wire import SCALAR_TYPES, WireSchema

ScalarName = Literal["boolean", "datetime", "number", "uuid", "varchar", "text"]


class MetadataSchemaBackend(Protocol):
    """The part of the SDK's `encord.metadata_schema.MetadataSchema` this module uses."""

    def keys(self) -> Sequence[str]: ...

    def is_key_deleted(self, k: str) -> bool: ...

    def get_key_type(self, k: str) -> str | None: ...

    def get_enum_options(self, k: str) -> Sequence[str]: ...

    def get_embedding_size(self, k: str) -> int: ...

    def add_scalar(self, k: str, *, data_type: ScalarName) -> None: ...

    def add_enum(self, k: str, *, values: Sequence[str]) -> None: ...

    def add_enum_options(self, k: str, *, values: Sequence[str]) -> None: ...

    def add_embedding(self, k: str, *, size: int) -> None: ...

    def add_geospatial(self, k: str) -> None: ...

    def save(self) -> None: ...


@dataclass(frozen=True)
class Clash:
    """A key the organisation already has in a form the inferred schema cannot join."""

    key: str
    theirs: str
    ours: str
    reason: str

    def describe(self) -> str:
        """One report line."""
        return f"{self.key}: organisation has {self.theirs}, inferred {self.ours}: {self.reason}"

    def to_json(self) -> dict[str, Any]:
        """JSON form for `--json` reports."""
        return {"key": self.key, "theirs": self.theirs, "ours": self.ours, "reason": self.reason}


@dataclass(frozen=True)
class ApplyPlan:
    """What `--apply` changes: additions only; clashes are reported, never overwritten."""

    add: tuple[KeySpec, ...]
    extend: tuple[tuple[str, tuple[str, ...]], ...]
    unchanged: tuple[str, ...]
    clashes: tuple[Clash, ...]
    local_only: tuple[str, ...]

    @property
    def changes(self) -> int:
        """Number of keys `--apply` would add or extend."""
        return len(self.add) + len(self.extend)

    def describe(self) -> list[str]:
        """Report lines, one per change or clash."""
        lines = [f"  + {s.name}: {s.describe()}" for s in self.add]
        lines += [f"  ~ {key}: add enum options {', '.join(v)}" for key, v in self.extend]
        lines += [f"  ! {c.describe()}" for c in self.clashes]
        return lines

    def to_json(self) -> dict[str, Any]:
        """JSON form for `--json` reports."""
        return {
            "add": {s.name: s.to_json() for s in self.add},
            "extend_enum": {key: list(values) for key, values in self.extend},
            "unchanged": list(self.unchanged),
            "clashes": [c.to_json() for c in self.clashes],
            "local_only": list(self.local_only),
        }


def _join(key: str, theirs: KeySpec, ours: KeySpec) -> tuple[str, tuple[str, ...]] | Clash | None:
    """How `ours` joins `theirs`: None (already covered), enum options to add, or a clash."""

    def clash(reason: str) -> Clash:
        return Clash(key, theirs.describe(), ours.describe(), reason)

    if theirs.type is KeyType.ENUM and ours.type is KeyType.ENUM:
        new = tuple(sorted(set(ours.values) - set(theirs.values)))
        if not new:
            return None
        if len(theirs.values) + len(new) > rules.ENUM_MAX_VALUES:
            return clash(f"adding {len(new)} options would pass Encord's {rules.ENUM_MAX_VALUES}")
        return key, new
    if theirs.type is KeyType.EMBEDDING and ours.type is KeyType.EMBEDDING:
        return None if theirs.size == ours.size else clash("embedding sizes differ")
    if theirs.type is ours.type:
        return None
    # A wider string type already holds every value the narrower one would.
    if theirs.type is KeyType.TEXT and ours.type in STRING_TYPES:
        return None
    if theirs.type is KeyType.VARCHAR and ours.type in {
        KeyType.UUID,
        KeyType.DATETIME,
        KeyType.ENUM,
    }:
        return None
    return clash("not retyped; change the metadata or the organisation's schema in Encord")


def plan_apply(current: WireSchema, desired: Schema) -> ApplyPlan:
    """Compare the organisation's schema with `desired`: additions, extensions, clashes."""
    add: list[KeySpec] = []
    extend: list[tuple[str, tuple[str, ...]]] = []
    unchanged: list[str] = []
    clashes: list[Clash] = []
    local_only: list[str] = []
    for spec in desired:
        key = spec.name
        if spec.type is KeyType.KEYFRAMES:
            local_only.append(key)
        elif key in current.deleted:
            clashes.append(
                Clash(key, "a deleted key", spec.describe(), "restore or rename it in Encord first")
            )
        elif key in current.unsupported:
            clashes.append(
                Clash(key, current.unsupported[key], spec.describe(), "type not handled here")
            )
        elif (theirs := current.schema.get(key)) is None:
            add.append(spec)
        else:
            joined = _join(key, theirs, spec)
            if joined is None:
                unchanged.append(key)
            elif isinstance(joined, Clash):
                clashes.append(joined)
            else:
                extend.append(joined)
    return ApplyPlan(tuple(add), tuple(extend), tuple(unchanged), tuple(clashes), tuple(local_only))


def read_backend(backend: MetadataSchemaBackend) -> WireSchema:
    """The organisation's schema as the SDK object holds it (public methods only)."""
    specs: list[KeySpec] = []
    deleted: set[str] = set()
    unsupported: dict[str, str] = {}
    for key in list(backend.keys()):
        try:
            if backend.is_key_deleted(key):
                deleted.add(key)
                continue
            ty = backend.get_key_type(key)
            if ty == "enum":
                specs.append(
                    KeySpec(key, KeyType.ENUM, values=tuple(backend.get_enum_options(key)))
                )
            elif ty == "embedding":
                specs.append(KeySpec(key, KeyType.EMBEDDING, size=backend.get_embedding_size(key)))
            elif ty is not None and ty in KeyType.__members__.values():
                specs.append(KeySpec(key, KeyType(ty)))
            else:
                unsupported[key] = str(ty)
        except (RuntimeError, ValueError) as exc:
            # The SDK raises MetadataSchemaError (a RuntimeError) for types it cannot name.
            unsupported[key] = f"unreadable ({exc})"
    return WireSchema(Schema.of(specs), frozenset(deleted), unsupported)


def stage_plan(plan: ApplyPlan, backend: MetadataSchemaBackend) -> None:
    """Make the plan's additions on the SDK object (local until `save()`)."""
    for spec in plan.add:
        if spec.type in SCALAR_TYPES:
            scalar: ScalarName = spec.type.value  # type: ignore[assignment]
            backend.add_scalar(spec.name, data_type=scalar)
        elif spec.type is KeyType.ENUM:
            backend.add_enum(spec.name, values=list(spec.values))
        elif spec.type is KeyType.EMBEDDING:
            assert spec.size is not None  # guaranteed by KeySpec validation
            backend.add_embedding(spec.name, size=spec.size)
        elif spec.type is KeyType.GEOSPATIAL:
            backend.add_geospatial(spec.name)
    for key, values in plan.extend:
        backend.add_enum_options(key, values=list(values))
