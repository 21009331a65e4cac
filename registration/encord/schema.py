"""Validate registration files against THE shipped JSON Schema of Encord's format.

The hot path runs `jsonschema-rs` (compiled from `schemas/registration.schema.json`);
only when a document fails is it re-validated with `jsonschema` to name the item and
the JSON path of the first error. Both read the same file.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from registration.errors import InputError

SCHEMA_RESOURCE = "schemas/registration.schema.json"


class ManifestInvalid(InputError):
    """A registration document does not match the schema; names file, item and path."""

    def __init__(self, message: str, *, source: str, item: str | None, path: str) -> None:
        super().__init__(message, source=source)
        self.item = item
        self.path = path


@cache
def registration_schema() -> dict[str, Any]:
    """The shipped JSON Schema of Encord's registration format."""
    text = resources.files("registration.encord").joinpath(SCHEMA_RESOURCE).read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _fast_validator() -> Any:
    import jsonschema_rs

    return jsonschema_rs.validator_for(registration_schema())


def json_path(parts: Any) -> str:
    """A JSON path from its parts: ``("images", 3, "title")`` is ``$.images[3].title``."""
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def item_label(document: Any, list_key: str, index: int) -> str:
    """How messages name an item: ``images[3] (its title or URL)``."""
    entries = document.get(list_key) if isinstance(document, dict) else None
    entry = entries[index] if isinstance(entries, list) and 0 <= index < len(entries) else None
    name = entry.get("title") or entry.get("objectUrl") if isinstance(entry, dict) else None
    return f"{list_key}[{index}]" + (f" ({name})" if name else "")


def explain(document: Any, source: str) -> ManifestInvalid | None:
    """The first schema error in `document` with its item and JSON path, or None."""
    import jsonschema  # type: ignore[import-untyped]

    validator = jsonschema.Draft202012Validator(registration_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is None:
        return None
    parts = list(error.absolute_path)
    item: str | None = None
    if len(parts) >= 2 and isinstance(parts[1], int):
        item = item_label(document, parts[0], parts[1])
    where = f"item {item}, " if item else ""
    path = json_path(parts)
    return ManifestInvalid(
        f"{source}: {where}at {path}: {error.message}", source=source, item=item, path=path
    )


_ARRAY_KEYWORDS = frozenset({"type", "maxItems", "items"})


@cache
def _split_schema() -> tuple[Any, dict[str, tuple[Any, Any]]]:
    """The schema in two parts that together accept exactly what it accepts: the file's
    shape (its item lists' items left unconstrained) and, per list, the items' schema.

    Holds because each list's only constraints are its type, its length and `items`; checked
    here, so that a schema edit that breaks the split fails loudly, not silently.
    """
    import jsonschema_rs

    schema = registration_schema()
    envelope = json.loads(json.dumps(schema))
    items: dict[str, tuple[Any, Any]] = {}
    for name, prop in envelope["properties"].items():
        if "items" not in prop:
            continue
        if set(prop) - _ARRAY_KEYWORDS:
            raise RuntimeError(f"schema: list {name} has constraints beyond {_ARRAY_KEYWORDS}")
        defs = schema.get("$defs", {})
        items[name] = (
            jsonschema_rs.validator_for({"$defs": defs, "type": "array", "items": prop["items"]}),
            jsonschema_rs.validator_for({"$defs": defs, **prop["items"]}),
        )
        del prop["items"]
    return jsonschema_rs.validator_for(envelope), items


def item_list_validators() -> dict[str, tuple[Any, Any]]:
    """Per item list of the file (`images`, ...): validators of a list of its items and of
    one item, against the shipped schema's `items` of that list."""
    return _split_schema()[1]


def envelope_valid(lengths: dict[str, int], flags: dict[str, bool]) -> bool:
    """True when a file with these lists (name -> number of items) and flags has the shape
    the schema asks for; its items are checked by `item_list_validators`."""
    document: dict[str, Any] = {name: [None] * count for name, count in lengths.items()}
    document.update(flags)
    return bool(_split_schema()[0].is_valid(document))


def validate_document(document: Any, source: str) -> None:
    """Raise `ManifestInvalid` naming `source`, the item and the path when invalid."""
    if _fast_validator().is_valid(document):
        return
    problem = explain(document, source)
    if problem is None:  # the two validators disagree: report rather than pass silently
        problem = ManifestInvalid(
            f"{source}: rejected by the schema", source=source, item=None, path="$"
        )
    raise problem
