"""`encord-register cloud-sync create` through the real encord SDK against the stand-in.

What Encord ends up holding is read from the stand-in: the folder's type, integration, remote
URL and its configuration (`folder_sync`). Refusals happen before any call to Encord.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from registration.cli import main
from registration.contract import (
    OUTPUT_ALLOW_LISTING,
    OUTPUT_BUCKETS,
    OUTPUT_EXTERNAL_ID,
    OUTPUT_ROLE_ARN,
)
from registration.exit_codes import ExitStatus
from tests.standin import FaultPlan
from tests.standin.testing import EncordEnv, encord_env

BUCKET = "drone-data"
OTHER = "scans"
FOLDER = "datasets/drone"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[EncordEnv]:
    with encord_env(tmp_path) as e:
        yield e


def outputs_file(
    tmp_path: Path,
    *,
    allow_listing: str | None = "true",
    buckets: list[dict[str, Any]] | None = None,
) -> Path:
    raw = {
        OUTPUT_ROLE_ARN: "arn:aws:iam::123456789012:role/encord",
        OUTPUT_EXTERNAL_ID: "ext",
        OUTPUT_BUCKETS: json.dumps(
            buckets
            if buckets is not None
            else [{"name": BUCKET, "region": "eu-west-1", "prefixes": ["images/"]}]
        ),
    }
    if allow_listing is not None:
        raw[OUTPUT_ALLOW_LISTING] = allow_listing
    path = tmp_path / "cdk-outputs.json"
    path.write_text(json.dumps({"EncordAccess": raw}))
    return path


def create(env: EncordEnv, outputs: Path, *extra: str, folder: str = FOLDER) -> list[str]:
    return [
        "cloud-sync",
        "create",
        "--stack-outputs",
        str(outputs),
        "--ssh-key-file",
        str(env.key_file),
        "--encord-domain",
        env.standin.domain,
        "--integration",
        env.integration_title,
        "--folder",
        folder,
        *extra,
    ]


def test_creates_a_cloud_synced_folder_with_sidecar_metadata(
    env: EncordEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(create(env, outputs_file(tmp_path), "--json"))
    assert code == ExitStatus.OK
    doc = json.loads(capsys.readouterr().out)
    uid = env.standin.folder_uuid(FOLDER)
    assert uid is not None and doc["folderUuid"] == uid
    assert env.standin.folder_sync(uid) == {
        "folderType": "cloudLinked",
        "integration": env.integration_id,
        "remoteUrl": f"s3://{BUCKET}/images/",
        "config": {
            "metadataIngestion": {
                "matcher": {"mode": "suffix", "suffix": ".metadata.json"},
                "paused": False,
            }
        },
    }
    parent = env.standin.folder_uuid("datasets")
    assert parent is not None and env.standin.folder_sync(parent)["folderType"] == "generic"
    assert doc["created"] is True and doc["parentsCreated"] == ["datasets"]
    assert doc["remoteUrl"] == f"s3://{BUCKET}/images/"


def test_running_again_reports_the_folder_and_changes_nothing(
    env: EncordEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = outputs_file(tmp_path)
    assert main(create(env, outputs)) == ExitStatus.OK
    capsys.readouterr()
    before = env.standin.registration_calls["create_folder"]
    assert main(create(env, outputs)) == ExitStatus.OK
    out = capsys.readouterr().out
    assert "already there, nothing created" in out
    assert "(unchanged)" in out
    assert env.standin.registration_calls["create_folder"] == before
    assert env.standin.registration_calls["config_post"] == 1
    assert [f["path"] for f in env.standin.folders()].count(FOLDER) == 1


def test_a_new_suffix_on_an_existing_folder_is_applied(
    env: EncordEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = outputs_file(tmp_path)
    assert main(create(env, outputs)) == ExitStatus.OK
    assert main(create(env, outputs, "--metadata-suffix", ".meta.json")) == ExitStatus.OK
    assert "suffix changed from .metadata.json to .meta.json" in capsys.readouterr().out
    uid = env.standin.folder_uuid(FOLDER)
    assert uid is not None
    config = env.standin.folder_sync(uid)["config"]
    assert config["metadataIngestion"]["matcher"]["suffix"] == ".meta.json"


def test_a_plain_folder_at_the_path_is_refused(
    env: EncordEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uid = env.standin.create_folder(FOLDER)
    code = main(create(env, outputs_file(tmp_path)))
    assert code == ExitStatus.USAGE
    err = capsys.readouterr().err
    assert f"folder {FOLDER!r} ({uid}) already exists as a plain folder" in err
    assert "Traceback" not in err
    assert env.standin.folder_sync(uid)["folderType"] == "generic"
    assert env.standin.registration_calls["config_post"] == 0


def test_a_folder_synced_elsewhere_is_refused(
    env: EncordEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    buckets = [{"name": BUCKET, "region": "eu-west-1", "prefixes": ["images/", "videos/"]}]
    outputs = outputs_file(tmp_path, buckets=buckets)
    assert main(create(env, outputs, "--prefix", "images")) == ExitStatus.OK
    capsys.readouterr()
    assert main(create(env, outputs, "--prefix", "videos/")) == ExitStatus.USAGE
    err = capsys.readouterr().err
    assert f"is already cloud-synced to s3://{BUCKET}/images/, not s3://{BUCKET}/videos/" in err
    assert main(create(env, outputs, "--prefix", "videos/", folder="datasets/videos")) == 0
    uid = env.standin.folder_uuid("datasets/videos")
    assert uid is not None
    assert env.standin.folder_sync(uid)["remoteUrl"] == f"s3://{BUCKET}/videos/"


@pytest.mark.parametrize(
    ("allow_listing", "said"), [("false", "allowListing is false"), (None, "not set")]
)
def test_a_stack_without_listing_is_refused_before_any_encord_call(
    env: EncordEnv,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    allow_listing: str | None,
    said: str,
) -> None:
    code = main(create(env, outputs_file(tmp_path, allow_listing=allow_listing)))
    assert code == ExitStatus.USAGE
    err = capsys.readouterr().err
    assert said in err
    assert '"allowListing": true' in err and "redeploy" in err
    assert sum(env.standin.requests_seen.values()) == 0


def test_a_prefix_or_bucket_the_stack_does_not_grant_is_refused(
    env: EncordEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = outputs_file(tmp_path)
    assert main(create(env, outputs, "--prefix", "videos/")) == ExitStatus.USAGE
    assert "--prefix 'videos/' is outside what the stack lets Encord read and list" in (
        capsys.readouterr().err
    )
    assert main(create(env, outputs, "--bucket", OTHER)) == ExitStatus.USAGE
    assert f"bucket {OTHER!r} is not a bucket of the stack" in capsys.readouterr().err
    assert main(create(env, outputs, "--prefix", "a/", "--prefix", "b/")) == ExitStatus.USAGE
    assert "a cloud-synced folder mirrors one prefix" in capsys.readouterr().err
    assert sum(env.standin.requests_seen.values()) == 0


def test_several_buckets_or_prefixes_need_a_choice(
    env: EncordEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    buckets = [
        {"name": BUCKET, "region": "eu-west-1", "prefixes": ["images/", "videos/"]},
        {"name": OTHER, "region": "eu-west-1"},
    ]
    outputs = outputs_file(tmp_path, buckets=buckets)
    assert main(create(env, outputs)) == ExitStatus.USAGE
    assert "name one with --bucket" in capsys.readouterr().err
    assert main(create(env, outputs, "--bucket", BUCKET)) == ExitStatus.USAGE
    assert "pass --prefix" in capsys.readouterr().err
    # A bucket granted whole: any prefix of it, or all of it.
    assert main(create(env, outputs, "--bucket", OTHER, folder="scans")) == ExitStatus.OK
    uid = env.standin.folder_uuid("scans")
    assert uid is not None and env.standin.folder_sync(uid)["remoteUrl"] == f"s3://{OTHER}/"


def test_transient_faults_never_create_the_folder_twice(env: EncordEnv, tmp_path: Path) -> None:
    env.standin.lose_answers("create_folder", 1)
    env.standin.set_faults(FaultPlan(rate_500=0.3, routes=frozenset({"config_get"}), seed=3))
    assert main(create(env, outputs_file(tmp_path))) == ExitStatus.OK
    assert [f["path"] for f in env.standin.folders()].count(FOLDER) == 1
    uid = env.standin.folder_uuid(FOLDER)
    assert uid is not None
    assert env.standin.folder_sync(uid)["config"]["metadataIngestion"]["paused"] is False


def test_an_unknown_integration_is_a_usage_error(
    env: EncordEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = create(env, outputs_file(tmp_path))
    argv[argv.index("--integration") + 1] = "nope"
    assert main(argv) == ExitStatus.USAGE
    assert "no cloud integration with title or UUID 'nope'" in capsys.readouterr().err
    assert env.standin.folders() == []


def test_a_folder_uuid_names_an_existing_synced_folder(
    env: EncordEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = outputs_file(tmp_path)
    assert main(create(env, outputs, "--json")) == ExitStatus.OK
    uid = json.loads(capsys.readouterr().out)["folderUuid"]
    assert main(create(env, outputs, "--json", folder=uid)) == ExitStatus.OK
    doc = json.loads(capsys.readouterr().out)
    assert (doc["folderUuid"], doc["created"], doc["metadataChanged"]) == (uid, False, False)
    plain = env.standin.create_folder("plain")
    assert main(create(env, outputs, folder=plain)) == ExitStatus.USAGE
    assert "already exists as a plain folder" in capsys.readouterr().err
