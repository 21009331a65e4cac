"""Streaming inference of one metadata schema from the clientMetadata of many items.

`SchemaInferrer.add()` sees one registration item at a time and keeps only counters
per key (kinds of values, string shapes, list lengths, a bounded set of distinct
strings for enum detection), so memory stays flat however many items stream past.
`SchemaInferrer.result()` turns the counters into one declaration per key, or a
`Conflict` that names the clashing kinds with counts and the first item of each.

Key frames are never schema keys: `clientMetadata["$encord"]` (and the deprecated
`keyframes` list) is checked for its structure, on videos only, and the keys of its
per-frame objects (custom metadata, embeddings) are inferred like item keys.

Long: the per-key counters (`_KeyStats`), the hot `add()` loop that fills them and the
rules that turn them into a type are one piece of logic; each rule reads the counters
the loop keeps, so splitting them would only scatter it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from registration.build.keyframes import (
    FRAMES_KEY,
    KeyframeError,
    check_block,
    check_deprecated,
    is_keyframe_config,
)
from registration.errors import UsageError
from registration.metadata_schema import rules
from registration.metadata_schema.conflicts import (
    NOT_AN_OBJECT_KEY,
    Conflict,
    KindCount,
    counted,
)
from registration.metadata_schema.model import (
    KeySpec,
    KeyType,
    Schema,
    active_embedding_note,
    invalid_key_name,
)
from registration.metadata_schema.refs import item_ref
from registration.metadata_schema.values import is_datetime, is_uuid, kind_name

# Kinds of observed values, as they read in reports.
NUMBERS: Final = "numbers"
BOOLEANS: Final = "booleans"
STRINGS: Final = "strings"
NUMBER_LISTS: Final = "lists of numbers"
OBJECTS: Final = "objects"
TOO_DEEP: Final = "objects nested too deep"

#: `--coerce KEY=ignore`: leave the key out of the schema (its values are not checked) and out
#: of what is sent: the schema file lists it, and `--schema FILE` drops it from every item.
IGNORE: Final = "ignore"
#: Types `--coerce` accepts (geospatial cannot be inferred from values, so it is not offered;
#: key frames are checked, never typed).
COERCIBLE_TYPES: Final = (
    *(t.value for t in KeyType if t not in (KeyType.GEOSPATIAL, KeyType.KEYFRAMES)),
    IGNORE,
)

TOO_MANY_KEYS_KEY: Final = "<too many keys>"
_INT_FLOAT: Final = frozenset({int, float})
# Module-level copies for the hot loop (global lookups are cheaper than attributes).
_CONFIG_KEY: Final = rules.KEYFRAME_CONFIG_KEY
_VIDEOS: Final = rules.KEYFRAMES_MEDIA_TYPE
_KEYFRAMES: Final = rules.KEYFRAMES_KEY
_ENCORD: Final = rules.ENCORD_KEY
_VARCHAR_MAX: Final = rules.VARCHAR_MAX_LENGTH
_ENUM_VALUE_MAX: Final = rules.ENUM_VALUE_MAX_LENGTH
_MAX_DEPTH: Final = rules.MAX_NESTING_DEPTH
_SEPARATOR: Final = rules.KEY_PATH_SEPARATOR
_MAX_LENGTHS: Final = rules.MAX_TRACKED_LIST_LENGTHS


def parse_coercion(text: str) -> tuple[str, str]:
    """Parse one `--coerce KEY=TYPE`; raises UsageError saying what is accepted."""
    key, sep, ty = text.rpartition("=")
    if not sep or not key or ty not in COERCIBLE_TYPES:
        raise UsageError(
            f"--coerce expects KEY=TYPE with TYPE one of {', '.join(COERCIBLE_TYPES)}; got {text!r}"
        )
    if key in rules.RESERVED_KEYS:
        raise UsageError(
            f"--coerce {text}: {key!r} holds key frames, which are checked (videos only, valid "
            "frames), never typed; fix them in the metadata source"
        )
    return key, ty


@dataclass(frozen=True)
class InferenceOptions:
    """Thresholds of the inference, and the user's `--coerce` decisions (key -> type)."""

    enum_max_values: int = rules.DEFAULT_ENUM_MAX_VALUES
    enum_min_repeats: float = rules.DEFAULT_ENUM_MIN_REPEATS
    text_threshold: int = rules.DEFAULT_TEXT_THRESHOLD
    coercions: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 1 <= self.enum_max_values <= rules.ENUM_MAX_VALUES:
            raise UsageError(
                f"--enum-max-values must be 1 to {rules.ENUM_MAX_VALUES} (Encord's enum limit); "
                f"got {self.enum_max_values}"
            )
        if self.enum_min_repeats < 1:
            raise UsageError(f"--enum-min-repeats must be at least 1; got {self.enum_min_repeats}")
        if not 1 <= self.text_threshold <= rules.VARCHAR_MAX_LENGTH:
            raise UsageError(
                f"--text-threshold must be 1 to {rules.VARCHAR_MAX_LENGTH} "
                f"(Encord's varchar limit); got {self.text_threshold}"
            )


class _KeyStats:
    """Counters for one (flattened) key. Bounded whatever the number of items."""

    __slots__ = (
        "distinct",
        "distinct_cap",
        "first",
        "length_first",
        "lengths",
        "max_len",
        "n_booleans",
        "n_datetime",
        "n_long",
        "n_number_lists",
        "n_numbers",
        "n_objects",
        "n_over_varchar",
        "n_strings",
        "n_uuid",
        "other",
    )

    def __init__(self, distinct_cap: int) -> None:
        self.n_strings = 0
        self.n_numbers = 0
        self.n_booleans = 0
        self.n_number_lists = 0
        self.n_objects = 0
        self.other: dict[str, int] = {}  # rare kinds: lists of strings, objects too deep ...
        self.first: dict[str, str] = {}
        self.n_uuid = 0
        self.n_datetime = 0
        self.n_long = 0
        self.n_over_varchar = 0
        self.max_len = 0
        self.distinct_cap = distinct_cap
        self.distinct: set[str] | None = set()
        self.lengths: dict[int, int] = {}
        self.length_first: dict[int, str] = {}

    def count_other(self, kind: str, item: dict[str, Any]) -> None:
        """Count a value of a rare kind."""
        seen = self.other.get(kind)
        if seen is None:
            self.other[kind] = 1
            self.first[kind] = item_ref(item)
        else:
            self.other[kind] = seen + 1

    @property
    def kinds(self) -> dict[str, int]:
        """Values seen per kind (kinds never seen left out)."""
        common = {
            STRINGS: self.n_strings,
            NUMBERS: self.n_numbers,
            BOOLEANS: self.n_booleans,
            NUMBER_LISTS: self.n_number_lists,
            OBJECTS: self.n_objects,
        }
        return {k: n for k, n in {**common, **self.other}.items() if n}

    @property
    def count(self) -> int:
        """Values seen (nulls excluded)."""
        return sum(self.kinds.values())


class _KeyframeStats:
    """Counters for one reserved key-frame form (`$encord`, or the deprecated `keyframes`)."""

    __slots__ = ("bad", "bad_first", "bad_message", "count", "media", "media_first")

    def __init__(self) -> None:
        self.count = 0
        self.media: dict[str, int] = {}
        self.media_first: dict[str, str] = {}
        self.bad = 0
        self.bad_first = ""
        self.bad_message = ""

    def seen(self, media: str, item: dict[str, Any]) -> None:
        """Count one item carrying this form under top-level key `media`."""
        self.count += 1
        seen = self.media.get(media)
        if seen is None:
            self.media[media] = 1
            self.media_first[media] = item_ref(item)
        else:
            self.media[media] = seen + 1

    def invalid(self, problem: KeyframeError, item: dict[str, Any]) -> None:
        """Count one item whose key frames Encord would not read."""
        if not self.bad:
            self.bad_first, self.bad_message = item_ref(item), str(problem)
        self.bad += 1

    def conflict(self, name: str) -> Conflict | None:
        """The conflict these counters amount to (videos only, then validity), or None."""
        others = tuple(
            KindCount(f"items under {media}", n, self.media_first[media])
            for media, n in sorted(self.media.items())
            if media != _VIDEOS
        )
        if others:
            return Conflict(
                name,
                "key frames are for videos only",
                others,
                "remove the key frames from non-video items in the metadata source",
            )
        if self.bad:
            return Conflict(
                name,
                f"key frames Encord would not read (first: {self.bad_message})",
                (KindCount("invalid values", self.bad, self.bad_first),),
                "fix the metadata source (frame keys: non-negative integers in frame mode, "
                "non-negative numbers in seconds mode); `manifest` drops such a sidecar",
            )
        return None


@dataclass(frozen=True)
class KeyDecision:
    """What inference decided for one key.

    `spec` is the declaration (None for an ignored or conflicting key); `unfit` counts
    values that break `spec` (non-zero only after `--coerce`: those items will be
    refused at registration); `note` explains a widening worth knowing about.
    """

    key: str
    count: int
    counts: tuple[KindCount, ...]
    spec: KeySpec | None = None
    conflict: Conflict | None = None
    coerced: bool = False
    ignored: bool = False
    unfit: int = 0
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON form for `--json` reports."""
        return {
            "key": self.key,
            "values": self.count,
            "type": self.spec.to_json() if self.spec else None,
            "coerced": self.coerced,
            "ignored": self.ignored,
            "unfit": self.unfit,
            "note": self.note,
            "conflict": self.conflict.to_json() if self.conflict else None,
        }


@dataclass(frozen=True)
class InferenceResult:
    """The inferred schema, a decision per key, and the conflicts that remain."""

    items: int
    items_with_metadata: int
    decisions: tuple[KeyDecision, ...]
    conflicts: tuple[Conflict, ...]
    schema: Schema
    #: `--coerce` keys no item had (a typo, or metadata that changed).
    unused_coercions: tuple[str, ...] = ()
    #: Items carrying each key-frame form (`$encord`, deprecated `keyframes`): checked,
    #: never declared.
    keyframe_items: tuple[tuple[str, int], ...] = ()

    @property
    def unfit(self) -> int:
        """Values that break a coerced type (their items will be refused at registration)."""
        return sum(d.unfit for d in self.decisions)


class SchemaInferrer:
    """Feed items with `add(media_type, item)`, then read `result()`."""

    def __init__(self, options: InferenceOptions | None = None) -> None:
        self.options = options or InferenceOptions()
        self.items = 0
        self.items_with_metadata = 0
        self._keys: dict[str, _KeyStats] = {}
        self._not_object: list[Any] = [0, None, None]  # count, first ref, first kind
        self._untracked: list[Any] = [0, None, None]  # count, first ref, first key
        self._keyframes: dict[str, _KeyframeStats] = {}

    def add(self, media_type: str, item: dict[str, Any]) -> None:
        """Count the clientMetadata of one item of top-level type `media_type` (`videos` ...)."""
        self.items += 1
        metadata = item.get("clientMetadata")
        if metadata is None:
            return
        if type(metadata) is not dict:
            tally = self._not_object
            if tally[0] == 0:
                tally[1], tally[2] = item_ref(item), kind_name(metadata)
            tally[0] += 1
            return
        if metadata:
            self.items_with_metadata += 1
            if _ENCORD in metadata or _KEYFRAMES in metadata:
                metadata = self._key_frames(metadata, media_type, item)
            self._walk(metadata, "", 0, media_type, item)

    def _key_frames(
        self, metadata: dict[str, Any], media: str, item: dict[str, Any]
    ) -> dict[str, Any]:
        """Check the key-frame forms of one item, walk its per-frame objects, and return its
        metadata without them (they are never schema keys)."""
        rest = dict(metadata)
        block = rest.pop(_ENCORD, None)
        legacy = rest.pop(_KEYFRAMES, None)
        if block is not None:  # null is "no value"
            stats = self._keyframes.setdefault(_ENCORD, _KeyframeStats())
            stats.seen(media, item)
            try:
                check_block(block)
            except KeyframeError as problem:
                stats.invalid(problem, item)
            else:
                frames = block.get(FRAMES_KEY)
                if type(frames) is dict:
                    for frame in frames.values():
                        if _ENCORD in frame:
                            frame = {k: v for k, v in frame.items() if k != _ENCORD}
                        if frame:
                            self._walk(frame, "", 0, media, item)
        if legacy is not None:
            stats = self._keyframes.setdefault(_KEYFRAMES, _KeyframeStats())
            stats.seen(media, item)
            config = rest.get(_CONFIG_KEY)
            if is_keyframe_config(config):
                del rest[_CONFIG_KEY]  # the list's sampling config, not a key
            try:
                check_deprecated(legacy, config)
            except KeyframeError as problem:
                stats.invalid(problem, item)
        return rest

    def add_all(self, items: Iterable[tuple[str, dict[str, Any]]]) -> SchemaInferrer:
        """Add every `(media_type, item)` of `items`; returns self."""
        add = self.add
        for media_type, item in items:
            add(media_type, item)
        return self

    def _new_key(self, name: str, item: dict[str, Any]) -> _KeyStats | None:
        if len(self._keys) >= rules.MAX_DISTINCT_KEYS:
            tally = self._untracked
            if tally[0] == 0:
                tally[1], tally[2] = item_ref(item), name
            tally[0] += 1
            return None
        cap = self.options.enum_max_values
        if self.options.coercions.get(name) == KeyType.ENUM.value:
            cap = rules.ENUM_MAX_VALUES
        stats = self._keys[name] = _KeyStats(cap)
        return stats

    def _walk(
        self, metadata: dict[str, Any], prefix: str, depth: int, media: str, item: dict[str, Any]
    ) -> None:
        # The hot loop of a 1M-item run: common kinds are counted in slots, constants are
        # module globals, and an item is only named (`item_ref`) the first time a key
        # sees a kind of value.
        keys = self._keys
        text_threshold = self.options.text_threshold
        for key, value in metadata.items():
            name = prefix + key if prefix else key
            t = type(value)
            if value is None:
                continue
            stats = keys.get(name)
            if stats is None:
                stats = self._new_key(name, item)
                if stats is None:
                    continue
            if t is str:
                if not stats.n_strings:
                    stats.first[STRINGS] = item_ref(item)
                stats.n_strings += 1
                n = len(value)
                if n > stats.max_len:
                    stats.max_len = n
                if n > text_threshold:
                    stats.n_long += 1
                    if n > _VARCHAR_MAX:
                        stats.n_over_varchar += 1
                if n == 36 and is_uuid(value):
                    stats.n_uuid += 1
                elif n >= 10 and value[4] == "-" and is_datetime(value):
                    stats.n_datetime += 1
                distinct = stats.distinct
                if distinct is not None and value not in distinct:
                    if n > _ENUM_VALUE_MAX or len(distinct) >= stats.distinct_cap:
                        stats.distinct = None
                    else:
                        distinct.add(value)
            elif t is float or t is int:
                if not stats.n_numbers:
                    stats.first[NUMBERS] = item_ref(item)
                stats.n_numbers += 1
            elif t is bool:
                if not stats.n_booleans:
                    stats.first[BOOLEANS] = item_ref(item)
                stats.n_booleans += 1
            elif t is dict:
                # Counted under its own name too, so that a key which is an object in one
                # item and a value in another is caught here, not at registration.
                if depth + 1 < _MAX_DEPTH:
                    if not stats.n_objects:
                        stats.first[OBJECTS] = item_ref(item)
                    stats.n_objects += 1
                    if value:
                        self._walk(value, name + _SEPARATOR, depth + 1, media, item)
                else:
                    stats.count_other(TOO_DEEP, item)
            elif t is list:
                if not value or set(map(type, value)) <= _INT_FLOAT:
                    if not stats.n_number_lists:
                        stats.first[NUMBER_LISTS] = item_ref(item)
                    stats.n_number_lists += 1
                    n = len(value)
                    seen = stats.lengths.get(n)
                    if seen is not None:
                        stats.lengths[n] = seen + 1
                    elif len(stats.lengths) < _MAX_LENGTHS:
                        stats.lengths[n] = 1
                        stats.length_first[n] = item_ref(item)
                else:
                    stats.count_other(kind_name(value).replace("list", "lists", 1), item)
            else:
                stats.count_other(kind_name(value) + "s", item)

    def result(self) -> InferenceResult:
        """Decide a type for every key seen; collect the conflicts that remain."""
        decisions = []
        for name in sorted(self._keys):
            stats = self._keys[name]
            if stats.kinds.keys() == {OBJECTS}:
                continue  # only ever a container: its leaves are the keys
            decisions.append(_decide(name, stats, self.options))
        conflicts = [d.conflict for d in decisions if d.conflict]
        for name in sorted(self._keyframes):
            found = self._keyframes[name].conflict(name)
            if found is not None:
                conflicts.append(found)
        count, first, detail = self._not_object
        if count:
            conflicts.append(
                Conflict(
                    NOT_AN_OBJECT_KEY,
                    "clientMetadata must be a JSON object",
                    (KindCount(f"items whose metadata is a {detail}", count, first),),
                    "fix the metadata source so each item's metadata is an object of key/values",
                )
            )
        count, first, key = self._untracked
        if count:
            conflicts.append(
                Conflict(
                    TOO_MANY_KEYS_KEY,
                    f"more than {rules.MAX_DISTINCT_KEYS:,} distinct keys (are ids used as "
                    f"keys? first untracked key {key!r})",
                    (KindCount("untracked values", count, first),),
                    "put variable names in values, not keys: {'camera': 'cam-17'} "
                    "rather than {'cam-17': true}",
                )
            )
        ignored = [key for key, ty in self.options.coercions.items() if ty == IGNORE]
        schema = Schema.of([d.spec for d in decisions if d.spec is not None], ignored)
        return InferenceResult(
            items=self.items,
            items_with_metadata=self.items_with_metadata,
            decisions=tuple(decisions),
            conflicts=tuple(conflicts),
            schema=schema,
            unused_coercions=tuple(sorted(set(self.options.coercions) - set(self._keys))),
            keyframe_items=tuple(
                (name, self._keyframes[name].count) for name in sorted(self._keyframes)
            ),
        )


def infer_schema(
    items: Iterable[tuple[str, dict[str, Any]]], options: InferenceOptions | None = None
) -> InferenceResult:
    """Infer one schema from `(media_type, item)` pairs (streamed, never held)."""
    return SchemaInferrer(options).add_all(items).result()


# --- deciding a type from the counters ----------------------------------------------------


def _counts(stats: _KeyStats) -> tuple[KindCount, ...]:
    ordered = sorted(stats.kinds.items(), key=lambda kv: (-kv[1], kv[0]))
    return tuple(KindCount(kind, n, stats.first[kind]) for kind, n in ordered)


def _length_counts(stats: _KeyStats) -> tuple[KindCount, ...]:
    ordered = sorted(stats.lengths.items(), key=lambda kv: (-kv[1], kv[0]))
    return tuple(KindCount(f"lists of {n} numbers", c, stats.length_first[n]) for n, c in ordered)


def _string_type(stats: _KeyStats, options: InferenceOptions) -> tuple[KeyType, str]:
    strings = stats.kinds.get(STRINGS, 0)
    if stats.n_uuid == strings:
        return (KeyType.UUID, "")
    if stats.n_datetime == strings:
        return (KeyType.DATETIME, "")
    distinct = stats.distinct
    if (
        distinct
        and len(distinct) <= options.enum_max_values
        and strings >= options.enum_min_repeats * len(distinct)
    ):
        return (KeyType.ENUM, "")
    widened = ""
    for label, n in (("datetimes", stats.n_datetime), ("UUIDs", stats.n_uuid)):
        if n * 2 > strings:
            widened = f"{n:,} of {strings:,} values are {label}; the others make it a string"
    if stats.n_long == 0:
        return (KeyType.VARCHAR, widened)
    longest = f"longest value {stats.max_len:,} characters > --text-threshold"
    return (KeyType.TEXT, f"{widened}; {longest}" if widened else longest)


def _spec(name: str, ty: KeyType, stats: _KeyStats) -> KeySpec:
    if ty is KeyType.ENUM:
        return KeySpec(name, ty, values=tuple(sorted(stats.distinct or ())))
    if ty is KeyType.EMBEDDING:
        sizes = [
            (c, n)
            for n, c in stats.lengths.items()
            if rules.EMBEDDING_MIN_SIZE <= n <= rules.EMBEDDING_MAX_SIZE
        ]
        return KeySpec(name, ty, size=max(sizes)[1])
    return KeySpec(name, ty)


def _fitting(spec: KeySpec, stats: _KeyStats) -> int:
    kinds = stats.kinds
    strings = kinds.get(STRINGS, 0)
    fits = {
        KeyType.NUMBER: kinds.get(NUMBERS, 0),
        KeyType.BOOLEAN: kinds.get(BOOLEANS, 0),
        KeyType.TEXT: strings,
        KeyType.VARCHAR: strings - stats.n_over_varchar,
        KeyType.UUID: stats.n_uuid,
        KeyType.DATETIME: stats.n_datetime,
        KeyType.ENUM: strings,
        KeyType.EMBEDDING: stats.lengths.get(spec.size or 0, 0),
    }
    return fits.get(spec.type, stats.count)


def _decide(name: str, stats: _KeyStats, options: InferenceOptions) -> KeyDecision:
    counts = _counts(stats)
    coercion = options.coercions.get(name)
    if coercion == IGNORE:
        return KeyDecision(name, stats.count, counts, coerced=True, ignored=True)

    def conflict(reason: str, hint: str, tally: tuple[KindCount, ...] = counts) -> KeyDecision:
        return KeyDecision(name, stats.count, counts, conflict=Conflict(name, reason, tally, hint))

    bad_name = invalid_key_name(name)
    if bad_name:
        return conflict(
            f"not a valid Encord metadata key ({bad_name})",
            f"rename the key in the metadata source, or --coerce {name}=ignore",
        )
    if coercion is not None:
        ty = KeyType(coercion)
        if ty is KeyType.ENUM and not stats.distinct:
            return conflict(
                f"cannot be an enum: more than {rules.ENUM_MAX_VALUES} distinct values or "
                f"values longer than {rules.ENUM_VALUE_MAX_LENGTH} characters",
                f"--coerce {name}=varchar (or text) instead",
            )
        if ty is KeyType.EMBEDDING and not any(
            rules.EMBEDDING_MIN_SIZE <= n <= rules.EMBEDDING_MAX_SIZE for n in stats.lengths
        ):
            return conflict(
                "cannot be an embedding: no list of numbers of a valid size "
                f"({rules.EMBEDDING_MIN_SIZE}-{rules.EMBEDDING_MAX_SIZE})",
                "fix the metadata source, or choose another --coerce type",
            )
        spec = _spec(name, ty, stats)
        unfit = stats.count - _fitting(spec, stats)
        note = (
            f"{counted(unfit, 'values')} outside the type: their items will be refused"
            if unfit
            else active_embedding_note(spec)
        )
        return KeyDecision(
            name, stats.count, counts, spec=spec, coerced=True, unfit=unfit, note=note
        )

    resolve = f"fix the metadata source, or --coerce {name}=TYPE (items that break it are refused)"
    if len(counts) > 1:
        return conflict("values of different types", resolve)
    kind = counts[0].label
    if kind == NUMBERS:
        return KeyDecision(name, stats.count, counts, spec=KeySpec(name, KeyType.NUMBER))
    if kind == BOOLEANS:
        return KeyDecision(name, stats.count, counts, spec=KeySpec(name, KeyType.BOOLEAN))
    if kind == STRINGS:
        ty, note = _string_type(stats, options)
        return KeyDecision(
            name, stats.count, counts, spec=_spec(name, ty, stats), note=note or None
        )
    if kind == NUMBER_LISTS:
        lengths = list(stats.lengths)
        if len(lengths) == 1 and rules.EMBEDDING_MIN_SIZE <= lengths[0] <= rules.EMBEDDING_MAX_SIZE:
            spec = _spec(name, KeyType.EMBEDDING, stats)
            return KeyDecision(
                name, stats.count, counts, spec=spec, note=active_embedding_note(spec)
            )
        if len(lengths) == 1:
            return conflict(
                f"an embedding must have {rules.EMBEDDING_MIN_SIZE} to "
                f"{rules.EMBEDDING_MAX_SIZE:,} numbers (Encord Index's limit)",
                f"fix the metadata source, or --coerce {name}=ignore",
                _length_counts(stats),
            )
        return conflict(
            "embeddings of different lengths (an embedding key has one size)",
            f"fix the metadata source, or --coerce {name}=embedding (the most common size; "
            "other items are refused)",
            _length_counts(stats),
        )
    if kind == TOO_DEEP:
        return conflict(
            f"objects nested deeper than {rules.MAX_NESTING_DEPTH} levels cannot be flattened",
            f"flatten the metadata source, or --coerce {name}=ignore",
        )
    return conflict(
        "lists are not a metadata schema type (only embeddings: lists of numbers, and the "
        "video keyframes)",
        f"join the values into one string in the metadata source, or --coerce {name}=ignore",
    )
