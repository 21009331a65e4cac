"""The stand-in's schema endpoints enforce Encord's rules, seen through the real SDK."""

from __future__ import annotations

from pathlib import Path

import pytest
from encord.exceptions import InvalidArgumentsError
from encord.metadata_schema import (
    _ClientMetadataSchemaOption,
    _ClientMetadataSchemaTypeEmbedding,
    _ClientMetadataSchemaTypeEnum,
    _ClientMetadataSchemaTypeVariant,
    _ClientMetadataSchemaTypeVariantHint,
)

from registration.encord.connection import connect
from tests.standin.testing import encord_env

pytestmark = pytest.mark.e2e


def test_schema_round_trips_and_invalid_definitions_are_refused(tmp_path: Path) -> None:
    with encord_env(tmp_path) as env:
        client = connect(ssh_key_file=env.key_file, domain=env.standin.domain)
        schema = client.metadata_schema()
        assert list(schema.keys()) == []  # GET answered null: no schema yet

        schema.add_scalar("score", data_type="number")
        schema.add_enum("weather", values=["rain", "sun"])
        schema.add_embedding("clip", size=512)
        schema.save()
        stored = env.standin.store.metadata_schema
        assert stored["score"] == {"ty": "variant", "hint": "number"}
        assert client.metadata_schema().get_embedding_size("clip") == 512

        # Definitions the SDK itself would refuse, pushed past its checks, get a 400.
        bad_cases = {
            "$price": _ClientMetadataSchemaTypeVariant(
                hint=_ClientMetadataSchemaTypeVariantHint.NUMBER
            ),
            "keyframes": _ClientMetadataSchemaTypeVariant(
                hint=_ClientMetadataSchemaTypeVariantHint.TEXT
            ),
            "too_many": _ClientMetadataSchemaTypeEnum.model_construct(
                ty="enum", values=[str(i) for i in range(300)]
            ),
            "too_big": _ClientMetadataSchemaTypeEmbedding.model_construct(
                ty="embedding", size=5000, api=None
            ),
        }
        for key, definition in bad_cases.items():
            fresh = client.metadata_schema()
            fresh._schema[key] = _ClientMetadataSchemaOption.model_construct(root=definition)
            fresh._dirty = True
            with pytest.raises(InvalidArgumentsError, match=key.replace("$", r"\$")):
                fresh.save()
            assert env.standin.store.metadata_schema == stored, key
