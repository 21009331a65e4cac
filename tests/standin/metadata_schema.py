"""The organisation's client-metadata schema endpoints (GET/POST).

Kept apart so that validation rules for the schema feature live here alone.
`validate_schema` applies Encord's rules as the SDK states them (its pydantic models
for each key's type, and its key-name check), independently of the helper's own
implementation: a request the helper gets wrong is refused here with a 400.
"""

from __future__ import annotations

from typing import Any

from tests.standin.store import BadRequest, Store


def validate_schema(schema: Any) -> None:
    """Raise BadRequest when Encord would reject `schema`.

    Rules: a JSON object; every key a valid metadata key name (letters, digits, space,
    `-`, `_`, `.`; not starting with `$`; not the reserved `keyframes`); every value one
    of Encord's typed forms (`variant` with a known hint, `number`, `boolean`, `varchar`
    with max_length <= 8192, `datetime`, `text`, `uuid`, `enum` with 1-256 values,
    `embedding` with size 1-4096, `geospatial`, `user`, `tombstone`).
    """
    from encord.metadata_schema import _ClientMetadataSchemaOption, _is_valid_metadata_key
    from pydantic import ValidationError

    if not isinstance(schema, dict):
        raise BadRequest("the metadata schema must be a JSON object")
    for key, entry in schema.items():
        if not _is_valid_metadata_key(key):
            raise BadRequest(f"invalid metadata key name: {key!r}")
        try:
            _ClientMetadataSchemaOption.model_validate(entry)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            raise BadRequest(
                f"invalid definition for metadata key {key!r}: {first.get('msg')} ({where})"
            ) from None


def get_schema(store: Store) -> Any:
    """GET: the stored schema, or null when none was saved."""
    with store.lock:
        return store.metadata_schema


def post_schema(store: Store, body: Any) -> None:
    """POST: replace the organisation's schema with `body` (after validation)."""
    validate_schema(body)
    with store.lock:
        store.metadata_schema = body
