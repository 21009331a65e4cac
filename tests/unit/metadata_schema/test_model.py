"""The schema file form, Encord's wire form, and Encord's own rules (checked with the SDK)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from encord.metadata_schema import _ClientMetadataSchema, _is_valid_metadata_key
from hypothesis import given
from hypothesis import strategies as st

from registration.errors import InputError
from registration.metadata_schema.files import read_schema_file, write_schema_file
from registration.metadata_schema.model import (
    KeySpec,
    KeyType,
    Schema,
    SchemaError,
    invalid_key_name,
)
from registration.metadata_schema.wire import schema_from_wire, schema_to_wire

FULL = Schema.of(
    [
        KeySpec("score", KeyType.NUMBER),
        KeySpec("is_night", KeyType.BOOLEAN),
        KeySpec("site", KeyType.VARCHAR),
        KeySpec("notes", KeyType.TEXT),
        KeySpec("captured_at", KeyType.DATETIME),
        KeySpec("flight_id", KeyType.UUID),
        KeySpec("weather", KeyType.ENUM, values=("rain", "sun")),
        KeySpec("clip", KeyType.EMBEDDING, size=512),
        KeySpec("gps", KeyType.GEOSPATIAL),
        KeySpec("keyframes", KeyType.KEYFRAMES),
    ]
)


def test_file_form_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "schema.json"
    write_schema_file(FULL, path)
    assert read_schema_file(path) == FULL
    data = orjson.loads(path.read_bytes())
    assert data["keys"]["clip"] == {"type": "embedding", "size": 512}
    assert data["keys"]["weather"] == {"type": "enum", "values": ["rain", "sun"]}


def test_wire_form_is_what_the_sdk_accepts_and_reads_back() -> None:
    wire = schema_to_wire(FULL)
    assert "keyframes" not in wire  # reserved: never declared to Encord
    assert wire["score"] == {"ty": "variant", "hint": "number"}
    # The SDK's own model parses it, and dumps exactly what we built.
    sdk = _ClientMetadataSchema.model_validate(wire)
    assert sdk.model_dump(mode="json") == wire
    back = schema_from_wire(wire).schema
    assert back == Schema.of([s for s in FULL if s.type is not KeyType.KEYFRAMES])


def test_wire_form_reads_plain_types_tombstones_and_unknown_types() -> None:
    current = schema_from_wire(
        {
            "n": {"ty": "number", "format": "F64"},
            "s": {"ty": "varchar", "max_length": 8192},
            "alias": {"ty": "variant", "hint": "long_string"},
            "gone": {"ty": "tombstone", "deleted_ty": {"ty": "boolean"}},
            "who": {"ty": "user"},
        }
    )
    assert {s.name: s.type for s in current.schema} == {
        "n": KeyType.NUMBER,
        "s": KeyType.VARCHAR,
        "alias": KeyType.TEXT,
    }
    assert current.deleted == {"gone"}
    assert dict(current.unsupported) == {"who": "user"}
    assert schema_from_wire(None).names() == frozenset()


def test_load_schema_accepts_encords_wire_form(tmp_path: Path) -> None:
    path = tmp_path / "exported.json"
    path.write_bytes(orjson.dumps({"clip": {"ty": "embedding", "size": 3, "api": None}}))
    assert read_schema_file(path) == Schema.of([KeySpec("clip", KeyType.EMBEDDING, size=3)])


def declared(key: str, declaration: str) -> bytes:
    return b'{"format": "encord-register/metadata-schema/1", "keys": {"%s": %s}}' % (
        key.encode(),
        declaration.encode(),
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not valid JSON"),
        (
            declared("a", '{"type": "float"}'),
            "unknown type 'float'",
        ),
        (
            declared("a", '{"type": "embedding", "size": 4097}'),
            "1 to 4096",
        ),
        (
            declared("a", '{"type": "enum", "values": []}'),
            "1 to 255 values",
        ),
        (
            declared("$a", '{"type": "number"}'),
            "start with '$'",
        ),
        (b"[1, 2]", "expected a JSON object"),
    ],
)
def test_bad_schema_files_say_what_is_wrong(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "schema.json"
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        read_schema_file(path)
    assert str(path) in str(err.value)
    assert message in str(err.value)


def test_missing_schema_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read schema file"):
        read_schema_file(tmp_path / "nope.json")


def test_enum_limit_matches_the_sdk() -> None:
    KeySpec("e", KeyType.ENUM, values=tuple(str(i) for i in range(255)))
    with pytest.raises(SchemaError):
        KeySpec("e", KeyType.ENUM, values=tuple(str(i) for i in range(256)))


@given(st.text(alphabet=st.sampled_from("ab1_-. $/é:keyframs"), max_size=12))
def test_key_name_rule_matches_the_sdk(name: str) -> None:
    assert (invalid_key_name(name) is None) == _is_valid_metadata_key(name)
