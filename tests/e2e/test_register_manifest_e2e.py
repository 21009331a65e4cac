"""The journey: keys -> `encord-register manifest` -> `encord-register register` -> Encord.

Both commands run for real (in-process `main`), the registration goes through the real
encord SDK, and the stand-in must end up holding exactly the expected items.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from registration.cli import main
from registration.exit_codes import ExitStatus
from tests.standin.testing import encord_env

# The keys-file source builds URLs offline (--trust-keys: no HeadObject); dummy credentials
# keep boto3 from looking further.
pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("offline_aws")]
BUCKET = "demo-bucket"
REGION = "eu-west-1"
BASE = f"https://{BUCKET}.s3.{REGION}.amazonaws.com/"
OBJECTS = [
    ({"key": "cams/a/img 1.jpg", "metadata": {"site": "north"}}, "image", "cams/a/img%201.jpg"),
    ({"key": "cams/a/img2.png"}, "image", "cams/a/img2.png"),
    (
        {"key": "videos/run1.mp4", "metadata": {"$encord": {"frames": [0, 10]}}},
        "video",
        "videos/run1.mp4",
    ),
    ({"key": "docs/readme.txt"}, "plainText", "docs/readme.txt"),
    ({"key": "cams/b/x+y=z.jpg"}, "image", "cams/b/x%2By%3Dz.jpg"),
]


@pytest.fixture
def keys_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys.jsonl"
    path.write_text("".join(json.dumps(obj) + "\n" for obj, _, _ in OBJECTS))
    return path


def _expected() -> list[tuple[str, str, str, dict[str, object]]]:
    return sorted(
        (obj["key"], BASE + encoded, kind, obj.get("metadata", {}))
        for obj, kind, encoded in OBJECTS
    )


def _held(env, folder: str) -> list[tuple[str, str, str, dict[str, object]]]:
    return sorted((i["title"], i["url"], i["type"], i["clientMetadata"]) for i in env.items(folder))


def test_manifest_then_register_lands_exactly_the_expected_items(tmp_path, keys_file):
    out = tmp_path / "manifests"
    source = ["--keys-file", str(keys_file), "--trust-keys", "--bucket", BUCKET, "--region", REGION]
    assert main(["manifest", *source, "--out", str(out), "--max-items", "2"]) == ExitStatus.OK
    with encord_env(tmp_path, job_latency=0.05) as env:
        assert main(env.args(out, "journey/all")) == ExitStatus.OK
        assert _held(env, "journey/all") == _expected()
        starts = env.standin.registration_calls["start"]
        assert starts == 3  # five items, two per file
        assert main(env.args(out, "journey/all")) == ExitStatus.OK
        assert env.standin.registration_calls["start"] == starts
        assert _held(env, "journey/all") == _expected()


def test_register_builds_the_manifests_on_the_fly(tmp_path, keys_file):
    state = tmp_path / "state" / "register.sqlite"
    with encord_env(tmp_path, job_latency=0.05) as env:
        args = env.args(tmp_path, "journey/fly", "--state", str(state))
        at = args.index("--manifests")
        del args[at : at + 2]
        args += ["--keys-file", str(keys_file), "--trust-keys", "--bucket", BUCKET]
        args += ["--region", REGION]

        assert main(args) == ExitStatus.OK
        assert main(args) == ExitStatus.OK  # rebuilt identically: nothing sent again

        assert _held(env, "journey/fly") == _expected()
        assert env.standin.registration_calls["start"] == 1
        kept = sorted(p.name for p in (state.parent / "manifests").glob("manifest-*.json"))
        assert kept == ["manifest-00001.json"]
