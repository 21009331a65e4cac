"""The organisation's client-metadata schema endpoints (GET/POST).

Kept apart so that validation rules for the schema feature can be added here alone:
`validate_schema` is the one hook; it accepts everything for now and stores the
schema exactly as sent.
"""

from __future__ import annotations

from typing import Any

from tests.standin.store import BadRequest, Store


def validate_schema(schema: Any) -> None:
    """Raise BadRequest when Encord would reject `schema` (no rules yet)."""
    if not isinstance(schema, dict):
        raise BadRequest("the metadata schema must be a JSON object")


def get_schema(store: Store) -> Any:
    """GET: the stored schema, or null when none was saved."""
    with store.lock:
        return store.metadata_schema


def post_schema(store: Store, body: Any) -> None:
    """POST: replace the organisation's schema with `body`."""
    validate_schema(body)
    with store.lock:
        store.metadata_schema = body
