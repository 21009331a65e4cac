"""The organisation's metadata schema in Encord: read it, check items against it, add to it.

Everything that needs an Encord connection for the metadata schema is here; the SDK itself
is reached only through `registration.encord.client`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Final

from registration.encord.client import EncordSession
from registration.encord.connection import EncordConnection
from registration.encord.formats import ItemCheck
from registration.metadata_schema.apply import (
    ApplyPlan,
    MetadataSchemaBackend,
    plan_apply,
    read_backend,
    stage_plan,
)
from registration.metadata_schema.check import make_schema_check
from registration.metadata_schema.files import read_schema_file
from registration.metadata_schema.model import Schema, embedding_warnings
from registration.reporter import SILENT, Reporter

ORG_SCHEMA: Final = "encord"
"""`--schema encord`: check against the organisation's schema, fetched from Encord."""


def open_organisation_schema(
    connection: EncordConnection,
) -> tuple[EncordSession, MetadataSchemaBackend]:
    """A session and the organisation's schema as the SDK's `MetadataSchema` object (one GET)."""
    session = EncordSession(connection.client())
    client = session.client
    backend: MetadataSchemaBackend = session.call(
        "reading the organisation's metadata schema", lambda _: client.metadata_schema()
    )
    return session, backend


def schema_item_checks(
    schema: str | None, connection: EncordConnection, reporter: Reporter = SILENT
) -> list[ItemCheck]:
    """The item checks `--schema FILE|encord` asks for (none without it).

    Embedding keys larger than Encord Active uses are reported to `reporter` (a warning:
    Index still takes them).
    """
    if not schema:
        return []
    if schema == ORG_SCHEMA and not Path(schema).exists():
        _, backend = open_organisation_schema(connection)
        loaded = read_backend(backend).schema
    else:
        loaded = read_schema_file(Path(schema))
    for line in embedding_warnings(loaded):
        reporter.warn(f"--schema {schema}: {line}")
    return [make_schema_check(loaded)]


def plan_organisation_change(
    connection: EncordConnection, schema: Schema
) -> tuple[ApplyPlan, Callable[[], None]]:
    """Plan `schema` against the organisation's; return the plan and how to carry it out."""
    session, backend = open_organisation_schema(connection)
    plan = plan_apply(read_backend(backend), schema)

    def carry_out() -> None:
        stage_plan(plan, backend)
        # The POST replaces the whole schema with the SDK object's state (the organisation's
        # keys plus our additions), so sending it again after a transient failure is safe.
        session.call("saving the organisation's metadata schema", lambda _: backend.save())

    return plan, carry_out
