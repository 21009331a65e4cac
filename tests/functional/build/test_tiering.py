"""Intelligent-Tiering objects in a listing: counted and warned about, or checked with HeadObject.

Listing and HeadObject go to moto's S3 in-process. moto does not model Intelligent-Tiering's
archive tiers, so the HeadObject answers are extended with the two headers S3 adds for them
(`ArchiveStatus`, and `Restore` once a restore was asked for); everything else is moto's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from registration.build.manifests import build_manifests
from registration.build.spec import BuildOptions, OutputSpec, SourceSpec
from registration.exit_codes import ExitStatus
from registration.reporter import SILENT

BUCKET = "tiered-data"
ARCHIVE_ANSWERS: dict[str, dict[str, str]] = {
    "images/archived.jpg": {"ArchiveStatus": "ARCHIVE_ACCESS"},
    "images/deep.jpg": {"ArchiveStatus": "DEEP_ARCHIVE_ACCESS"},
    "images/restoring.jpg": {
        "ArchiveStatus": "ARCHIVE_ACCESS",
        "Restore": 'ongoing-request="true"',
    },
    "images/restored.jpg": {
        "ArchiveStatus": "ARCHIVE_ACCESS",
        "Restore": 'ongoing-request="false", expiry-date="Fri, 21 Dec 2030 00:00:00 GMT"',
    },
}


class TieringS3:
    """moto's S3 client, with Intelligent-Tiering's archive headers added to HeadObject."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.heads: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def head_object(self, **kwargs: Any) -> dict[str, Any]:
        answer = dict(self._client.head_object(**kwargs))
        self.heads.append(kwargs["Key"])
        answer.update(ARCHIVE_ANSWERS.get(kwargs["Key"], {}))
        return answer


@pytest.fixture
def s3() -> Iterator[TieringS3]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        for key in [*ARCHIVE_ANSWERS, "images/hot.jpg"]:
            client.put_object(
                Bucket=BUCKET, Key=key, Body=b"jpg", StorageClass="INTELLIGENT_TIERING"
            )
        client.put_object(Bucket=BUCKET, Key="images/standard.jpg", Body=b"jpg")
        yield TieringS3(client)


def run_manifest(s3: TieringS3, out: Path, **source_fields: Any) -> dict[str, Any]:
    source = SourceSpec(bucket=BUCKET, region="us-east-1", **source_fields)
    build_manifests(source, BuildOptions(), OutputSpec(out), SILENT, s3_client=s3)
    return dict(json.loads((out / "summary.json").read_text()))


def skipped(out: Path) -> dict[str, str]:
    lines = (out / "skipped.jsonl").read_text().splitlines()
    return {json.loads(line)["key"]: json.loads(line)["reason"] for line in lines}


def test_without_head_every_tiered_object_is_counted_not_checked(
    s3: TieringS3, tmp_path: Path
) -> None:
    summary = run_manifest(s3, tmp_path / "out")
    assert s3.heads == []
    assert summary["notes"] == {"intelligent_tiering_tier_unknown": 5}
    assert summary["objects_included"] == 6 and skipped(tmp_path / "out") == {}


def test_with_head_archived_tiers_are_skipped_and_restored_ones_kept(
    s3: TieringS3, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    summary = run_manifest(s3, out, head_intelligent_tiering=True, list_workers=4)
    assert sorted(s3.heads) == sorted(
        [*ARCHIVE_ANSWERS, "images/hot.jpg"]
    )  # never the STANDARD one
    assert summary["notes"] == {"intelligent_tiering_tier_checked": 5}
    assert skipped(out) == {
        "images/archived.jpg": "archived_not_restored",
        "images/deep.jpg": "archived_not_restored",
        "images/restoring.jpg": "archived_not_restored",
    }
    included = json.loads((out / "manifest-00001.json").read_text())
    urls = sorted(i["objectUrl"].rsplit("/", 1)[1] for i in included["images"])
    assert urls == ["hot.jpg", "restored.jpg", "standard.jpg"]


def test_the_command_warns_when_tiers_are_unknown(
    s3: TieringS3,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import registration.cli.core as cli

    monkeypatch.setattr("registration.build.sources.s3_access.make_s3_client", lambda region: s3)
    code = cli.main(
        ["manifest", "--bucket", BUCKET, "--region", "us-east-1", "--out", str(tmp_path / "o")]
    )
    assert code == ExitStatus.OK
    err = capsys.readouterr().err
    assert "5 object(s) are INTELLIGENT_TIERING" in err and "--head-intelligent-tiering" in err
