"""Metadata schemas for clientMetadata: infer, check, and import into Encord.

- `inference`: stream items, infer one declaration per key, report conflicts.
- `model`: the declarations and their JSON file form; `wire`: Encord's wire form.
- `check`: `make_schema_check(schema)`, the manifest builder's per-item hook.
- `apply`: add keys / enum options to the organisation's schema, never delete or retype.
- `limits`: every threshold, limit and unconfirmed assumption, in one place.
"""

from __future__ import annotations

from registration.metadata_schema.check import (
    ItemCheck,
    Violation,
    check_metadata,
    make_schema_check,
)
from registration.metadata_schema.conflicts import Conflict, KindCount
from registration.metadata_schema.inference import (
    InferenceOptions,
    InferenceResult,
    KeyDecision,
    SchemaInferrer,
    infer_schema,
    parse_coercion,
)
from registration.metadata_schema.model import (
    KeySpec,
    KeyType,
    Schema,
    SchemaError,
    dump_schema,
    load_schema,
)

__all__ = [
    "Conflict",
    "InferenceOptions",
    "InferenceResult",
    "ItemCheck",
    "KeyDecision",
    "KeySpec",
    "KeyType",
    "KindCount",
    "Schema",
    "SchemaChecker",
    "SchemaError",
    "SchemaInferrer",
    "Violation",
    "check_metadata",
    "dump_schema",
    "infer_schema",
    "load_schema",
    "make_schema_check",
    "parse_coercion",
]
