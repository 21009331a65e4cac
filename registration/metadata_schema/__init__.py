"""Metadata schemas for clientMetadata: infer, check, and import into Encord.

- `inference`: stream items, infer one declaration per key, report conflicts.
- `model`: the declarations; `files`: their JSON file form; `wire`: Encord's wire form.
- `check`: `make_schema_check(schema)`, the `--schema` item check.
- `filtering`: copies of registration files without the items a check refuses.
- `apply`: add keys / enum options to the organisation's schema, never delete or retype.
- `organisation`: the organisation's schema in Encord (read, check against, apply).
- `reading`: the metadata of registration files, or of a source built on the fly.
- `rules`: every limit, threshold and unconfirmed assumption, in one place.

Import from the modules themselves; this package's `__init__` imports nothing, so that
importing one part never loads the others.
"""
