"""Checking items against a schema before anything is sent: `make_schema_check`.

The check plugs into the manifest builder's `item_checks` hook: it takes the
top-level type key (`videos`, `images` ...) and one registration item, and returns
the reason the item is refused (it then goes to skipped.jsonl) or None.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from registration.metadata_schema import limits
from registration.metadata_schema.model import KeySpec, KeyType, Schema
from registration.metadata_schema.values import (
    is_datetime,
    is_keyframe_list,
    is_number,
    is_number_list,
    is_uuid,
    kind_name,
    preview,
)

#: The manifest builder's hook: (top-level type key, item) -> skip reason or None.
ItemCheck = Callable[[str, dict[str, Any]], str | None]


@dataclass(frozen=True)
class Violation:
    """One clientMetadata value that breaks the schema: the key, the rule, what was there."""

    key: str
    expected: str
    found: str
    value: str = ""

    @property
    def reason(self) -> str:
        """The skip reason recorded in skipped.jsonl: the key, the rule and the kind found.

        The value itself is left out so that summaries group refusals by key and rule
        (the item's object key in skipped.jsonl leads to the value).
        """
        return (
            f"clientMetadata key {self.key!r} breaks the metadata schema: "
            f"{self.expected}, got {self.found}"
        )


def _value_problem(spec: KeySpec, value: Any) -> str | None:
    """What `value` lacks to be a valid `spec` value (the expectation), or None."""
    ty = spec.type
    if ty is KeyType.NUMBER:
        return None if is_number(value) else "expected a number"
    if ty is KeyType.BOOLEAN:
        return None if type(value) is bool else "expected a boolean"
    if ty is KeyType.GEOSPATIAL:
        return None  # Encord's geospatial value format is not documented: not checked here
    if ty is KeyType.EMBEDDING:
        if is_number_list(value) and len(value) == spec.size:
            return None
        return f"expected an embedding: a list of {spec.size} numbers"
    if ty is KeyType.KEYFRAMES:
        return None if is_keyframe_list(value) else "expected a list of non-negative frame numbers"
    if not isinstance(value, str):
        return f"expected a string ({ty.value})"
    if ty is KeyType.VARCHAR:
        if len(value) <= limits.VARCHAR_MAX_LENGTH:
            return None
        return f"expected a varchar of at most {limits.VARCHAR_MAX_LENGTH} characters"
    if ty is KeyType.TEXT:
        return None
    if ty is KeyType.UUID:
        return None if is_uuid(value) else "expected a UUID (8-4-4-4-12 hex digits)"
    if ty is KeyType.DATETIME:
        return None if is_datetime(value) else "expected an ISO 8601 date-time"
    if ty is KeyType.ENUM:
        if value in spec.values:
            return None
        shown = ", ".join(spec.values[:8]) + (", ..." if len(spec.values) > 8 else "")
        return f"expected one of the enum values ({shown})"
    return None


def _violation(key: str, expected: str, value: Any) -> Violation:
    kind = kind_name(value)
    article = "an" if kind[:1] in "aeiou" else "a"
    return Violation(key, expected, f"{article} {kind}", preview(value))


def check_metadata(schema: Schema, media_type: str, item: dict[str, Any]) -> Violation | None:
    """The first clientMetadata value of `item` that breaks `schema`, or None.

    Keys are flattened exactly as inference flattens them (dotted paths); keys the
    schema does not declare and null values are accepted (see limits.ASSUMPTIONS).
    The reserved `keyframes` rule applies whatever the schema says.
    """
    metadata = item.get("clientMetadata")
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        return _violation("clientMetadata", "expected a JSON object", metadata)
    keyframes = metadata.get(limits.KEYFRAMES_KEY)
    if keyframes is not None:
        if media_type != limits.KEYFRAMES_MEDIA_TYPE:
            return Violation(
                limits.KEYFRAMES_KEY,
                "key frames are for videos only",
                f"an item under {media_type!r}",
            )
        if not is_keyframe_list(keyframes):
            return _violation(
                limits.KEYFRAMES_KEY, "expected a list of non-negative frame numbers", keyframes
            )
    return _walk(schema, metadata, "", 0, media_type)


def _walk(
    schema: Schema, metadata: dict[str, Any], prefix: str, depth: int, media_type: str
) -> Violation | None:
    keys = schema.keys
    for key, value in metadata.items():
        if depth == 0 and key == limits.KEYFRAMES_KEY:
            continue  # checked by check_metadata
        if (
            depth == 0
            and key == limits.KEYFRAME_CONFIG_KEY
            and media_type == limits.KEYFRAMES_MEDIA_TYPE
            and isinstance(value, dict)
        ):
            continue  # reserved beside keyframes on videos
        if value is None:
            continue
        name = prefix + key if prefix else key
        spec = keys.get(name)
        if spec is not None:
            problem = _value_problem(spec, value)
            if problem:
                return _violation(name, problem, value)
        elif isinstance(value, dict) and depth + 1 < limits.MAX_NESTING_DEPTH:
            found = _walk(schema, value, name + limits.KEY_PATH_SEPARATOR, depth + 1, media_type)
            if found:
                return found
    return None


def make_schema_check(schema: Schema) -> ItemCheck:
    """An `ItemCheck` for the manifest builder: refuse items whose metadata breaks `schema`."""

    def check(media_type: str, item: dict[str, Any]) -> str | None:
        violation = check_metadata(schema, media_type, item)
        return violation.reason if violation else None

    return check
