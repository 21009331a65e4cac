"""`--coerce KEY=ignore` keeps KEY away from Encord; `--schema` skip lines read like all others.

The ignored key used to be left out of the schema only: `manifest --schema` and `register
--schema` still wrote and sent it. Schema refusals put the rule in `reason` and `item_check`
in `detail`, the other way round from every other skip line.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from registration.cli import main
from registration.exit_codes import ExitStatus
from tests.functional.metadata_schema.test_cli import (
    manifest_items,
    read_jsonl,
    source_args,
    write_keys_file,
)
from tests.standin.testing import encord_env

SCORE_RULE = (
    "clientMetadata key 'score' breaks the metadata schema: expected a number, got a string"
)


@pytest.fixture
def keys_file(tmp_path: Path) -> Path:
    return write_keys_file(tmp_path / "keys.jsonl", n_images=20)


def _schema(keys_file: Path, tmp_path: Path, *coerce: str) -> Path:
    path = tmp_path / "schema.json"
    args = [a for c in coerce for a in ("--coerce", c)]
    assert main(["schema", *source_args(keys_file), *args, "--write", str(path)]) == 0
    return path


def test_schema_refusals_print_and_write_the_code_as_reason_and_the_rule_as_detail(
    keys_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = _schema(keys_file, tmp_path, "score=number")
    out = tmp_path / "m"
    capsys.readouterr()

    code = main(["manifest", *source_args(keys_file), "--out", str(out), "--schema", str(schema)])
    printed = capsys.readouterr().out.splitlines()

    assert code == ExitStatus.OK
    at = printed.index("  skipped item_check: 3")
    assert printed[at + 1] == f"    3 x {SCORE_RULE}"
    assert read_jsonl(out / "skipped.jsonl")[0] == {
        "bucket": "survey-data",
        "key": "survey/img_0000.jpg",
        "reason": "item_check",
        "detail": SCORE_RULE,
    }
    summary = orjson.loads((out / "summary.json").read_bytes())
    assert summary["skipped_by_reason"] == {"item_check": 3}
    assert summary["item_checks_failed"] == {SCORE_RULE: 3}


def test_an_ignored_key_is_listed_in_the_schema_file_and_never_written(
    keys_file: Path, tmp_path: Path
) -> None:
    # `score` is a number in 17 images and a string in 3; `camera.model` is nested.
    schema = _schema(keys_file, tmp_path, "score=ignore", "camera.model=ignore")
    assert orjson.loads(schema.read_bytes())["ignore"] == ["camera.model", "score"]
    out = tmp_path / "m"

    code = main(["manifest", *source_args(keys_file), "--out", str(out), "--schema", str(schema)])

    assert code == ExitStatus.OK
    items = [item for _, item in manifest_items(out)]
    assert len(items) == 24  # none refused: the clashing key is gone, not checked
    for item in items:
        metadata = item["clientMetadata"]
        assert "score" not in metadata and "camera" not in metadata  # held only `model`
        assert "weather" in metadata  # the other keys stay
    assert (out / "skipped.jsonl").read_bytes() == b""


@pytest.mark.e2e
def test_register_never_sends_an_ignored_key(keys_file: Path, tmp_path: Path) -> None:
    schema = _schema(keys_file, tmp_path, "score=ignore")
    manifests = tmp_path / "m"
    assert main(["manifest", *source_args(keys_file), "--out", str(manifests)]) == 0
    assert b'"score"' in (manifests / "manifest-00001.json").read_bytes()  # written without it

    with encord_env(tmp_path) as env:
        code = main(env.args(manifests, "survey", "--schema", str(schema)))
        items = env.items("survey")

    assert code == ExitStatus.OK
    assert len(items) == 24
    assert all("score" not in item["clientMetadata"] for item in items)
    assert all("weather" in item["clientMetadata"] for item in items)
