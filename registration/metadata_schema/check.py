"""Checking items against a schema before anything is sent: `make_schema_check`.

The check plugs into the manifest builder's `item_checks` hook: it takes the
top-level type key (`videos`, `images` ...) and one registration item, and returns
the reason the item is refused (it then goes to skipped.jsonl) or None.

Whatever the schema says, key frames (`$encord`, or the deprecated `keyframes` list) must be
on a video and readable, per-frame metadata is checked like item metadata, and no list of
numbers may be longer than an embedding Encord Index takes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from registration.build.keyframes import (
    FRAMES_KEY,
    KeyframeError,
    check_block,
    check_deprecated,
    is_keyframe_config,
)
from registration.encord.formats import CLIENT_METADATA, ItemCheck
from registration.metadata_schema import rules
from registration.metadata_schema.model import KeySpec, KeyType, Schema
from registration.metadata_schema.values import (
    is_datetime,
    is_keyframe_list,
    is_uuid,
    kind_name,
    preview,
)

_ENCORD = rules.ENCORD_KEY
_KEYFRAMES = rules.KEYFRAMES_KEY
_VIDEOS = rules.KEYFRAMES_MEDIA_TYPE
_CONFIG_KEY = rules.KEYFRAME_CONFIG_KEY
_MAX_DEPTH = rules.MAX_NESTING_DEPTH
_SEPARATOR = rules.KEY_PATH_SEPARATOR
_EMBEDDING_MAX = rules.EMBEDDING_MAX_SIZE
_TOO_LONG = (
    f"an embedding of at most {_EMBEDDING_MAX:,} numbers (Encord Index's limit; "
    f"Active uses at most {rules.ACTIVE_EMBEDDING_MAX_SIZE:,})"
)


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
        got = f", got {self.found}" if self.found else ""
        return f"clientMetadata key {self.key!r} breaks the metadata schema: {self.expected}{got}"


Validator = Callable[[Any], str | None]
"""A compiled rule for one key: value -> what was expected (the problem), or None."""

_NUMBER_TYPES = frozenset({int, float})
#: Known-good strings remembered per UUID/datetime key (ids and timestamps repeat a lot).
_MEMO_LIMIT = 65_536


def _memoised(test: Callable[[str], bool], problem: str) -> Validator:
    good: set[str] = set()

    def validate(value: Any) -> str | None:
        if type(value) is not str:
            return problem
        if value in good:
            return None
        if not test(value):
            return problem
        if len(good) < _MEMO_LIMIT:
            good.add(value)
        return None

    return validate


def compile_spec(spec: KeySpec) -> Validator:
    """The validator of one declaration (the rules of each type, written once)."""
    ty = spec.type
    if ty is KeyType.NUMBER:
        return lambda v: None if type(v) in _NUMBER_TYPES else "expected a number"
    if ty is KeyType.BOOLEAN:
        return lambda v: None if type(v) is bool else "expected a boolean"
    if ty is KeyType.GEOSPATIAL:
        # Encord's geospatial value format is not documented: not checked here.
        return lambda v: None
    if ty is KeyType.EMBEDDING:
        size = spec.size
        embedding = f"expected an embedding: a list of {size} numbers"
        return lambda v: (
            None
            if type(v) is list and len(v) == size and set(map(type, v)) <= _NUMBER_TYPES
            else embedding
        )
    if ty is KeyType.KEYFRAMES:
        frames = "expected a list of non-negative frame numbers"
        return lambda v: None if is_keyframe_list(v) else frames
    string = f"expected a string ({ty.value})"
    if ty is KeyType.VARCHAR:
        cap = rules.VARCHAR_MAX_LENGTH
        too_long = f"expected a varchar of at most {cap} characters"
        return lambda v: string if type(v) is not str else (None if len(v) <= cap else too_long)
    if ty is KeyType.TEXT:
        return lambda v: None if type(v) is str else string
    if ty is KeyType.UUID:
        return _memoised(is_uuid, "expected a UUID (8-4-4-4-12 hex digits)")
    if ty is KeyType.DATETIME:
        return _memoised(is_datetime, "expected an ISO 8601 date-time")
    if ty is KeyType.ENUM:
        allowed = frozenset(spec.values)
        shown = ", ".join(spec.values[:8]) + (", ..." if len(spec.values) > 8 else "")
        not_listed = f"expected one of the enum values ({shown})"
        return lambda v: string if type(v) is not str else (None if v in allowed else not_listed)
    raise AssertionError(f"no validator for {ty}")  # every KeyType is handled above


def _violation(key: str, expected: str, value: Any) -> Violation:
    kind = kind_name(value)
    article = "an" if kind[:1] in "aeiou" else "a"
    return Violation(key, expected, f"{article} {kind}", preview(value))


class SchemaChecker:
    """A schema compiled for checking many items: one validator per declared key."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self._validators = {spec.name: compile_spec(spec) for spec in schema}

    def check(self, media_type: str, item: dict[str, Any]) -> Violation | None:
        """The first clientMetadata value of `item` that breaks the schema, or None.

        Keys are flattened exactly as inference flattens them (dotted paths); keys the
        schema does not declare and null values are accepted (see rules.ASSUMPTIONS).
        The key-frame rules and the embedding limit apply whatever the schema says.
        """
        metadata = item.get("clientMetadata")
        if metadata is None:
            return None
        if type(metadata) is not dict:
            return _violation("clientMetadata", "expected a JSON object", metadata)
        if _ENCORD in metadata or _KEYFRAMES in metadata:
            return self._key_frames(metadata, media_type)
        return self._walk(metadata, "", 0, media_type)

    def _key_frames(self, metadata: dict[str, Any], media_type: str) -> Violation | None:
        rest = dict(metadata)
        block = rest.pop(_ENCORD, None)
        legacy = rest.pop(_KEYFRAMES, None)
        if block is None and legacy is None:
            return self._walk(rest, "", 0, media_type)
        if media_type != _VIDEOS:
            key = _ENCORD if block is not None else _KEYFRAMES
            return Violation(key, "key frames are for videos only", f"an item under {media_type!r}")
        try:
            if block is not None:
                check_block(block)
            if legacy is not None:
                config = rest.get(_CONFIG_KEY)
                if is_keyframe_config(config):
                    del rest[_CONFIG_KEY]  # the list's sampling config, not a key
                check_deprecated(legacy, config)
        except KeyframeError as problem:
            return Violation(problem.path, problem.message, "")
        frames = block.get(FRAMES_KEY) if block is not None else None
        if type(frames) is dict:
            for frame in frames.values():
                found = self._walk(frame, "", 0, media_type)
                if found:
                    return found
        return self._walk(rest, "", 0, media_type)

    def _walk(
        self, metadata: dict[str, Any], prefix: str, depth: int, media_type: str
    ) -> Violation | None:
        validators = self._validators
        for key, value in metadata.items():
            if value is None:
                continue
            if depth == 0 and key == _ENCORD:
                continue  # a frame's own flags, checked with its block
            name = prefix + key if prefix else key
            validate = validators.get(name)
            if validate is not None:
                problem = validate(value)
                if problem:
                    return _violation(name, problem, value)
            elif type(value) is dict:
                if depth + 1 < _MAX_DEPTH:
                    found = self._walk(value, name + _SEPARATOR, depth + 1, media_type)
                    if found:
                        return found
            elif (
                type(value) is list
                and len(value) > _EMBEDDING_MAX
                and set(map(type, value)) <= _NUMBER_TYPES
            ):
                return Violation(name, _TOO_LONG, f"a list of {len(value):,} numbers")
        return None


def check_metadata(schema: Schema, media_type: str, item: dict[str, Any]) -> Violation | None:
    """The first clientMetadata value of `item` that breaks `schema`, or None (one-off use;
    `SchemaChecker` compiles the schema once for many items)."""
    return SchemaChecker(schema).check(media_type, item)


def without_ignored(
    metadata: dict[str, Any], ignored: frozenset[str], prefix: str = "", depth: int = 0
) -> dict[str, Any]:
    """`metadata` without the `ignored` keys (dotted paths, as inference names them), in
    nested objects and per-frame metadata too (an object left empty goes with them);
    `metadata` itself when none is there."""
    out: dict[str, Any] | None = None
    for key, value in metadata.items():
        name = prefix + key
        if name in ignored:
            out = dict(metadata) if out is None else out
            del out[key]
            continue
        new = value
        if type(value) is dict:
            if depth == 0 and key == _ENCORD:
                new = _frames_without_ignored(value, ignored)
            elif depth + 1 < _MAX_DEPTH:
                new = without_ignored(value, ignored, name + _SEPARATOR, depth + 1)
        if new is not value:
            out = dict(metadata) if out is None else out
            if new:
                out[key] = new
            else:  # an object that held only ignored keys goes too
                del out[key]
    return metadata if out is None else out


def _frames_without_ignored(block: dict[str, Any], ignored: frozenset[str]) -> dict[str, Any]:
    """A `$encord` block whose per-frame metadata (same namespace as the item's) is pruned."""
    frames = block.get(FRAMES_KEY)
    if type(frames) is not dict:
        return block
    pruned = {
        frame: without_ignored(meta, ignored) if type(meta) is dict else meta
        for frame, meta in frames.items()
    }
    if all(pruned[frame] is frames[frame] for frame in frames):
        return block
    return {**block, FRAMES_KEY: pruned}


def make_schema_check(schema: Schema) -> ItemCheck:
    """An `ItemCheck` for the manifest builder: refuse items whose metadata breaks `schema`.

    The schema's ignored keys (`--coerce KEY=ignore`) are first dropped from the item's
    clientMetadata, in place (the nested objects are copied, never changed): the files
    written, and what `register` sends, never carry them.
    """
    checker = SchemaChecker(schema)
    ignored = schema.ignored

    def check(media_type: str, item: dict[str, Any]) -> str | None:
        if ignored:
            metadata = item.get(CLIENT_METADATA)
            if type(metadata) is dict:
                kept = without_ignored(metadata, ignored)
                if kept is not metadata:
                    if kept:
                        item[CLIENT_METADATA] = kept
                    else:
                        del item[CLIENT_METADATA]
        violation = checker.check(media_type, item)
        return violation.reason if violation else None

    return check
