"""Every limit, threshold and assumption the metadata-schema feature relies on, in one place.

Encord's documented limits come from the SDK's own validation (encord 0.1.211,
`encord/metadata_schema.py`); the inference thresholds are this project's defaults
and can be changed per run from the command line. Assumptions Encord does not
document are in `ASSUMPTIONS` with the decision taken, so each can be changed in
one line when Encord's live documentation says otherwise.
"""

from __future__ import annotations

import re
from typing import Final

from registration.build import keyframes
from registration.encord import formats

# --- Encord's limits (from the SDK's pydantic models and checks) -------------------------

#: Smallest and largest embedding size `add_embedding(size=...)` accepts: Encord Index takes
#: 1 to 4,096 dimensions; larger embeddings are refused by `schema` and `--schema`.
EMBEDDING_MIN_SIZE: Final = 1
EMBEDDING_MAX_SIZE: Final = 4096
#: Encord Active uses embeddings of at most 2,000 dimensions (documented): larger ones are
#: accepted (Index reads them) with a warning naming Active.
ACTIVE_EMBEDDING_MAX_SIZE: Final = 2000

#: `add_enum` accepts 1 to 255 values: the SDK raises when `len(values) >= 256`.
ENUM_MIN_VALUES: Final = 1
ENUM_MAX_VALUES: Final = 255

#: Longest string a `varchar` key holds (`max_length` is at most 8192 on the wire).
VARCHAR_MAX_LENGTH: Final = 8192

#: The SDK refuses key names it does not consider valid; these characters are allowed
#: besides letters and digits, a key may not start with `$` (so `$encord` is never a schema
#: key), and `keyframes` is reserved (it cannot be declared in the schema).
KEY_EXTRA_CHARACTERS: Final = ("-", "_", " ", ".")
KEY_FORBIDDEN_PREFIX: Final = "$"
KEYS_NOT_DECLARABLE: Final = frozenset({keyframes.DEPRECATED_KEYFRAMES_KEY})

# --- Reserved clientMetadata keys (names and rules in `registration.build.keyframes`) ---

#: Key frames in Encord's current form: `{"frames": [...] or {"<frame>": {...}}, "config":
#: {...}}`, on videos only. Its structure is checked whatever the schema says; the keys of
#: per-frame objects are inferred and checked like item keys (see ASSUMPTIONS).
ENCORD_KEY: Final = keyframes.ENCORD_KEY
#: The deprecated key-frame list (non-negative frame numbers, videos only), still understood
#: in files written by hand or by earlier versions (`manifest` converts it to `$encord`).
KEYFRAMES_KEY: Final = keyframes.DEPRECATED_KEYFRAMES_KEY
#: The top-level registration key whose items may carry key frames.
KEYFRAMES_MEDIA_TYPE: Final = formats.TOP_LEVEL_KEY[formats.VIDEO]
#: The deprecated sampling config beside `keyframes` (see ASSUMPTIONS).
KEYFRAME_CONFIG_KEY: Final = keyframes.CONFIG_KEY
#: Reserved keys, never schema keys: the key-frame forms.
RESERVED_KEYS: Final = frozenset({ENCORD_KEY, KEYFRAMES_KEY})

# --- Inference defaults (overridable per run) ---------------------------------------------

#: A string key becomes an enum when it has at most this many distinct values ...
DEFAULT_ENUM_MAX_VALUES: Final = 32
#: ... and every distinct value is seen, on average, at least this many times.
DEFAULT_ENUM_MIN_REPEATS: Final = 2.0
#: Strings longer than this cannot be enum values.
ENUM_VALUE_MAX_LENGTH: Final = 128
#: Strings up to this length are `varchar` (short, filterable); longer ones make the key `text`.
DEFAULT_TEXT_THRESHOLD: Final = 256

#: Nested objects deeper than this are reported instead of flattened.
MAX_NESTING_DEPTH: Final = 8
#: Separator of flattened key paths (`camera.model`); the SDK accepts `.` in key names.
KEY_PATH_SEPARATOR: Final = "."
#: More distinct keys than this is almost always ids used as keys: inference stops
#: tracking new keys (keeping memory flat) and reports it.
MAX_DISTINCT_KEYS: Final = 10_000
#: Distinct list lengths remembered per key (for the embedding-length report).
MAX_TRACKED_LIST_LENGTHS: Final = 16

#: ISO 8601 dates and date-times (`2024-05-01`, `2024-05-01T10:00:00Z`, offsets, fractions).
#: A dash-separated date is required so that numeric ids such as `20240501` stay strings.
DATETIME_PATTERN: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}"
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?"
)
#: Canonical 8-4-4-4-12 hex UUIDs, any case.
UUID_PATTERN: Final = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)

# --- Assumptions Encord does not document (unconfirmed), with the decision taken -------

ASSUMPTIONS: Final[dict[str, str]] = {
    "nested_objects": (
        "Nested objects in clientMetadata are flattened into dotted keys (`camera.model`): "
        "the SDK's key-name check accepts `.`, but that Encord resolves a dotted schema key "
        "into a nested object is unconfirmed."
    ),
    "null_values": (
        "A JSON null is treated as 'no value': it neither shapes the inferred type nor "
        "breaks a schema (unconfirmed how Encord validates nulls)."
    ),
    "undeclared_keys": (
        "Keys the schema does not declare are accepted (Encord stores them untyped); "
        "unconfirmed whether Encord rejects them."
    ),
    "keyframe_config": (
        "Beside the deprecated `keyframes` list, a `config` object holding only sampling_rate "
        "and/or keyframe_mode is the key-frame config, neither inferred nor checked as a key "
        "(`manifest` moves it into $encord.config); elsewhere `config` is an ordinary key."
    ),
    "frame_keys": (
        "Per-frame metadata in $encord.frames shares the organisation's one schema with item "
        "metadata: a per-frame `score` is inferred together with, and checked against the same "
        "declaration as, an item's `score` (unconfirmed that Encord keeps them apart)."
    ),
    "scalar_wire_form": (
        "Scalars are declared as the SDK's `add_scalar` does ({'ty': 'variant', 'hint': T}); "
        "the plain forms ({'ty': 'number'} ...) are read back as the same types."
    ),
}
