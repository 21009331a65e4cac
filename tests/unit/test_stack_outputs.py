"""The stack-outputs reader: the helper's side of the contract with the access stack."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from registration.contract import (
    OUTPUT_BUCKETS,
    OUTPUT_CORS_ORIGINS,
    OUTPUT_EXTERNAL_ID,
    OUTPUT_MRAPS,
    OUTPUT_ROLE_ARN,
)
from registration.errors import InputError, UsageError
from registration.stack_outputs import load_outputs_file

RAW = {
    OUTPUT_ROLE_ARN: "arn:aws:iam::123456789012:role/EncordAccess",
    OUTPUT_EXTERNAL_ID: "ext-123",
    OUTPUT_BUCKETS: json.dumps(
        [
            {"name": "data", "region": "eu-west-1", "prefixes": ["images/", "videos/"]},
            {"name": "all.of.it", "region": "us-east-1", "prefixes": [""], "created": True},
        ]
    ),
    OUTPUT_MRAPS: json.dumps(
        [
            {
                "alias": "mfzwi23gnjvgw.mrap",
                "arn": "arn:aws:s3::123:accesspoint/x",
                "buckets": ["data"],
            }
        ]
    ),
    OUTPUT_CORS_ORIGINS: json.dumps(["https://app.encord.com"]),
}


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "cdk-outputs.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_reads_the_access_stack_among_others(tmp_path: Path) -> None:
    path = _write(tmp_path, {"Other": {"X": "1"}, "EncordS3Access": RAW})
    outs = load_outputs_file(path)
    assert outs.stack_name == "EncordS3Access"
    assert outs.external_id == "ext-123"
    assert outs.bucket("data") is not None
    assert outs.bucket("data").prefixes == ("images/", "videos/")  # type: ignore[union-attr]
    assert outs.bucket("all.of.it").created is True  # type: ignore[union-attr]
    mrap = outs.mrap_for_bucket("data")
    assert mrap is not None and mrap.alias == "mfzwi23gnjvgw.mrap"
    assert outs.mrap_for_bucket("all.of.it") is None
    assert outs.cors_origins == ("https://app.encord.com",)


def test_missing_file_says_how_to_make_it(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="outputs-file"):
        load_outputs_file(tmp_path / "nope.json")


def test_not_the_access_stack(tmp_path: Path) -> None:
    path = _write(tmp_path, {"S": {OUTPUT_ROLE_ARN: "arn"}})
    with pytest.raises(InputError, match="EncordExternalId"):
        load_outputs_file(path)


def test_two_access_stacks_need_a_name(tmp_path: Path) -> None:
    path = _write(tmp_path, {"A": RAW, "B": RAW})
    with pytest.raises(UsageError, match="--stack"):
        load_outputs_file(path)
    assert load_outputs_file(path, "B").stack_name == "B"
    with pytest.raises(UsageError, match="it holds: A, B"):
        load_outputs_file(path, "C")


def test_malformed_bucket_output(tmp_path: Path) -> None:
    path = _write(tmp_path, {"A": {**RAW, OUTPUT_BUCKETS: "[{]"}})
    with pytest.raises(InputError, match="not valid JSON"):
        load_outputs_file(path)
    path = _write(tmp_path, {"A": {**RAW, OUTPUT_BUCKETS: '[{"region": "x"}]'}})
    with pytest.raises(InputError, match="unexpected shape"):
        load_outputs_file(path)
