"""`encord-register schema`, and `--schema` on manifest and register, end to end.

Registration files are built by the real `manifest` command from a keys file (JSON
Lines with metadata, so no S3 call is needed); Encord is the local stand-in, reached
through the real SDK, which verifies every request's signature.
"""

from __future__ import annotations

import copy
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from registration.cli import main
from registration.exit_codes import ExitStatus
from tests.standin.testing import EncordEnv, encord_env

BUCKET = "survey-data"
REGION = "eu-west-1"


def write_keys_file(path: Path, n_images: int = 120, bad_scores: int = 3) -> Path:
    """Drone-survey keys with realistic metadata; `bad_scores` images carry a string score."""
    rng = random.Random(11)
    lines = []
    for i in range(n_images):
        metadata: dict[str, Any] = {
            "score": round(rng.random(), 4),
            "weather": rng.choice(["sunny", "rain"]),
            "captured_at": f"2024-05-{1 + i % 28:02d}T10:00:00Z",
            "flight_id": str(uuid.UUID(int=rng.getrandbits(128))),
            "camera": {"model": rng.choice(["M3E", "P4"])},
            "clip": [round(rng.uniform(-1, 1), 5) for _ in range(512)],
        }
        if i < bad_scores:
            metadata["score"] = "high"
        lines.append({"key": f"survey/img_{i:04d}.jpg", "size": 1000, "metadata": metadata})
    for i in range(4):
        lines.append(
            {
                "key": f"clips/c{i}.mp4",
                "size": 5000,
                "metadata": {"keyframes": [0, 25 * (i + 1)], "weather": "sunny", "score": 0.5},
            }
        )
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    return path


def source_args(keys_file: Path) -> list[str]:
    return ["--keys-file", str(keys_file), "--trust-keys", "--bucket", BUCKET, "--region", REGION]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def manifest_items(directory: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted(directory.glob("manifest-*.json")):
        doc = orjson.loads(path.read_bytes())
        for kind in ("images", "videos"):
            for item in doc.get(kind, []):
                yield kind, item


@pytest.fixture
def keys_file(tmp_path: Path) -> Path:
    return write_keys_file(tmp_path / "keys.jsonl")


def test_conflicts_exit_non_zero_with_counts_and_first_item(
    keys_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = tmp_path / "schema.json"
    code = main(["schema", *source_args(keys_file), "--write", str(out_file)])
    captured = capsys.readouterr()

    assert code == ExitStatus.CHECKS_FAILED
    assert (
        "score: values of different types: 121 numbers, 3 strings (first at survey/img_0000.jpg)"
        in captured.out
    )
    assert "--coerce score=" in captured.out
    assert "1 metadata key(s) in conflict" in captured.err
    assert not out_file.exists()


def test_show_and_write_after_coerce(
    keys_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = tmp_path / "schema.json"
    code = main(
        [
            "schema",
            *source_args(keys_file),
            "--coerce",
            "score=number",
            "--show",
            "--write",
            str(out_file),
        ]
    )
    captured = capsys.readouterr()

    assert code == ExitStatus.OK, captured.err
    assert orjson.loads(out_file.read_bytes())["keys"] == {
        "camera.model": {"type": "enum", "values": ["M3E", "P4"]},
        "captured_at": {"type": "datetime"},
        "clip": {"type": "embedding", "size": 512},
        "flight_id": {"type": "uuid"},
        "score": {"type": "number"},
        "weather": {"type": "enum", "values": ["rain", "sunny"]},
    }
    assert "embedding(512)" in captured.out
    assert "3 values outside their --coerce type" in captured.err


def test_schema_reads_manifests_dir_and_reports_json(
    keys_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifests = tmp_path / "m"
    assert main(["manifest", *source_args(keys_file), "--out", str(manifests)]) == 0
    capsys.readouterr()
    code = main(["schema", "--manifests", str(manifests), "--json", "--coerce", "score=number"])
    report = orjson.loads(capsys.readouterr().out)

    assert code == 0
    assert report["items"] == 124 and report["items_with_metadata"] == 124
    assert report["unfit_values"] == 3
    assert report["schema"]["keys"]["flight_id"] == {"type": "uuid"}


def test_manifest_with_schema_refuses_breaking_items_into_skipped_jsonl(
    keys_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schema_file = tmp_path / "schema.json"
    assert (
        main(
            [
                "schema",
                *source_args(keys_file),
                "--coerce",
                "score=number",
                "--write",
                str(schema_file),
            ]
        )
        == 0
    )
    out = tmp_path / "m"
    code = main(
        ["manifest", *source_args(keys_file), "--out", str(out), "--schema", str(schema_file)]
    )

    assert code == 0
    skipped = read_jsonl(out / "skipped.jsonl")
    assert sorted(s["key"] for s in skipped) == [f"survey/img_{i:04d}.jpg" for i in range(3)]
    assert {(s["reason"], s["detail"]) for s in skipped} == {
        (
            "item_check",
            "clientMetadata key 'score' breaks the metadata schema: expected a number, "
            "got a string",
        )
    }
    registered = [item["clientMetadata"]["score"] for _, item in manifest_items(out)]
    assert len(registered) == 121 and "high" not in registered


def test_bad_schema_option_values_are_usage_errors(
    keys_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["schema", *source_args(keys_file), "--coerce", "score"]) == ExitStatus.USAGE
    assert main(["schema"]) == ExitStatus.USAGE
    assert (
        main(
            [
                "manifest",
                *source_args(keys_file),
                "--out",
                str(tmp_path / "m"),
                "--schema",
                str(tmp_path / "none.json"),
            ]
        )
        == ExitStatus.USAGE
    )
    err = capsys.readouterr().err
    assert "--coerce expects KEY=TYPE" in err
    assert "no metadata source" in err
    assert "cannot read schema file" in err
    assert "Traceback" not in err


# --- against the Encord stand-in -------------------------------------------------------------

ORG_SCHEMA: dict[str, Any] = {
    "score": {"ty": "variant", "hint": "number"},
    "weather": {"ty": "enum", "values": ["overcast", "sunny"]},
    "site": {"ty": "varchar", "max_length": 8192},
    "legacy_flag": {"ty": "tombstone", "deleted_ty": {"ty": "boolean"}},
}


def encord_args(env: EncordEnv) -> list[str]:
    return ["--ssh-key-file", str(env.key_file), "--encord-domain", env.standin.domain]


def org_schema(env: EncordEnv) -> Any:
    with env.standin.store.lock:
        return copy.deepcopy(env.standin.store.metadata_schema)


def set_org_schema(env: EncordEnv, schema: Any) -> None:
    with env.standin.store.lock:
        env.standin.store.metadata_schema = copy.deepcopy(schema)


@pytest.mark.e2e
def test_apply_adds_keys_and_enum_options_and_never_deletes_or_retypes(
    keys_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with encord_env(tmp_path) as env:
        set_org_schema(env, ORG_SCHEMA)
        base = ["schema", *source_args(keys_file), "--coerce", "score=number", *encord_args(env)]

        assert main([*base, "--dry-run"]) == 0
        dry = capsys.readouterr().out
        assert org_schema(env) == ORG_SCHEMA  # a dry run changes nothing
        assert "+ clip: embedding(512)" in dry
        assert "~ weather: add enum options rain" in dry

        assert main([*base, "--apply"]) == 0
        after = org_schema(env)

    # Every key the organisation had is still there, with the same definition.
    for key in ("score", "site", "legacy_flag"):
        assert after[key] == ORG_SCHEMA[key]
    assert after["weather"] == {"ty": "enum", "values": ["overcast", "rain", "sunny"]}
    assert after["clip"] == {"ty": "embedding", "size": 512, "api": None}
    assert after["captured_at"] == {"ty": "variant", "hint": "datetime"}
    assert after["flight_id"] == {"ty": "variant", "hint": "uuid"}
    assert after["camera.model"] == {"ty": "enum", "values": ["M3E", "P4"]}
    assert "keyframes" not in after  # reserved: checked locally, never declared


@pytest.mark.e2e
def test_apply_reports_clashes_and_leaves_those_keys_alone(
    keys_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = {
        **ORG_SCHEMA,
        "clip": {"ty": "embedding", "size": 768, "api": None},
        "flight_id": {"ty": "variant", "hint": "number"},
        "captured_at": {"ty": "tombstone", "deleted_ty": None},
    }
    with encord_env(tmp_path) as env:
        set_org_schema(env, existing)
        code = main(
            [
                "schema",
                *source_args(keys_file),
                "--coerce",
                "score=number",
                *encord_args(env),
                "--apply",
            ]
        )
        after = org_schema(env)
    captured = capsys.readouterr()

    assert code == ExitStatus.CHECKS_FAILED
    for key, definition in existing.items():
        if key != "weather":  # the enum gains options; everything else is as it was
            assert after[key] == definition, key
    assert after["weather"]["values"] == ["overcast", "rain", "sunny"]
    assert "! clip: organisation has embedding(768), inferred embedding(512)" in captured.out
    assert "! flight_id: organisation has number, inferred uuid" in captured.out
    assert "! captured_at: organisation has a deleted key" in captured.out
    assert "3 key(s) clash with the organisation's schema" in captured.err
    # The additions that do not clash were still made.
    assert after["camera.model"] == {"ty": "enum", "values": ["M3E", "P4"]}


@pytest.mark.e2e
def test_apply_to_an_organisation_without_a_schema(
    keys_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with encord_env(tmp_path) as env:
        assert org_schema(env) is None
        code = main(
            [
                "schema",
                *source_args(keys_file),
                "--coerce",
                "score=ignore",
                *encord_args(env),
                "--apply",
            ]
        )
        after = org_schema(env)
    assert code == 0
    assert sorted(after) == ["camera.model", "captured_at", "clip", "flight_id", "weather"]


@pytest.mark.e2e
def test_register_refuses_items_breaking_the_schema_before_sending(
    keys_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schema_file = tmp_path / "schema.json"
    manifests = tmp_path / "m"
    assert (
        main(
            [
                "schema",
                *source_args(keys_file),
                "--coerce",
                "score=number",
                "--write",
                str(schema_file),
            ]
        )
        == 0
    )
    assert main(["manifest", *source_args(keys_file), "--out", str(manifests)]) == 0
    original = (manifests / "manifest-00001.json").read_bytes()
    with encord_env(tmp_path) as env:
        code = main(env.args(manifests, "survey/2024", "--schema", str(schema_file)))
        items = env.items("survey/2024")
    captured = capsys.readouterr()

    assert code == 0, captured.err
    titles = sorted(item["title"] for item in items)
    assert len(titles) == 121
    assert not any(t.startswith(f"survey/img_000{i}") for t in titles for i in range(3))
    skipped = read_jsonl(manifests / ".encord-register" / "schema-checked" / "skipped.jsonl")
    assert sorted(s["key"] for s in skipped) == [f"survey/img_{i:04d}.jpg" for i in range(3)]
    assert all(s["reason"] == "item_check" and "'score'" in s["detail"] for s in skipped)
    assert (manifests / "manifest-00001.json").read_bytes() == original  # never rewritten
    assert "3 item(s) refused by the metadata schema" in captured.err


@pytest.mark.e2e
def test_register_checks_against_the_organisations_schema(
    keys_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifests = tmp_path / "m"
    assert main(["manifest", *source_args(keys_file), "--out", str(manifests)]) == 0
    with encord_env(tmp_path) as env:
        # The organisation says weather is one of overcast/sunny: rainy items are refused.
        set_org_schema(env, ORG_SCHEMA)
        code = main(env.args(manifests, "survey", "--schema", "encord"))
        items = env.items("survey")
    skipped = read_jsonl(manifests / ".encord-register" / "schema-checked" / "skipped.jsonl")

    assert code == 0
    refused = {s["key"] for s in skipped}
    assert all(item["clientMetadata"].get("weather") != "rain" for item in items)
    assert len(items) + len(refused) == 124
    assert {s["reason"] for s in skipped} == {"item_check"}
    reasons = {s["detail"] for s in skipped}
    assert any("'weather'" in r and "enum values (overcast, sunny)" in r for r in reasons)
    assert any("'score'" in r and "expected a number" in r for r in reasons)


@pytest.mark.e2e
def test_register_from_a_source_refuses_breaking_items_while_building(
    keys_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schema_file = tmp_path / "schema.json"
    assert (
        main(
            [
                "schema",
                *source_args(keys_file),
                "--coerce",
                "score=number",
                "--write",
                str(schema_file),
            ]
        )
        == 0
    )
    state = tmp_path / "run" / "state.sqlite"
    with encord_env(tmp_path) as env:
        args = [
            "register",
            *source_args(keys_file),
            "--ssh-key-file",
            str(env.key_file),
            "--encord-domain",
            env.standin.domain,
            "--integration",
            env.integration_title,
            "--folder",
            "survey",
            "--state",
            str(state),
            "--schema",
            str(schema_file),
        ]
        code = main(args)
        items = env.items("survey")
    assert code == 0, capsys.readouterr().err
    assert len(items) == 121
    skipped = read_jsonl(state.parent / "manifests" / "skipped.jsonl")
    assert sorted(s["key"] for s in skipped) == [f"survey/img_{i:04d}.jpg" for i in range(3)]
