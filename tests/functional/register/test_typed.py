"""The typed path: every data type built by `manifest`, sent by `register` as the SDK's
`DataUploadItems`, and what the stand-in holds afterwards, item by item; files the SDK's
models refuse are reported with their JSON paths and never sent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from registration.cli import main
from registration.exit_codes import ExitStatus
from tests.standin.testing import EncordEnv, encord_env, image_urls, write_manifest

pytestmark = pytest.mark.usefixtures("offline_aws")

BUCKET, REGION = "demo-bucket", "eu-west-1"
BASE = f"https://{BUCKET}.s3.{REGION}.amazonaws.com/"
FRAMES = {
    "frames": {"0": {"embedding": [0.5, 0.25]}, "4": {"$encord": {"keyframe": False}}},
    "config": {"sampling_rate": 2, "keyframe_mode": "frame"},
}
VIDEO_META = {
    "fps": 25,
    "duration": 2.5,
    "width": 640,
    "height": 480,
    "fileSize": 100,
    "mimeType": "video/mp4",
}
AUDIO_META = {
    "duration": 1.5,
    "file_size": 9,
    "mime_type": "audio/wav",
    "sample_rate": 44100,
    "bit_depth": 16,
    "codec": "pcm",
    "num_channels": 2,
}
OBJECTS: list[dict[str, Any]] = [
    {
        "key": "cams/a b.jpg",
        "metadata": {
            "site": "n",
            "imageMetadata": {"mime_type": "image/jpeg", "file_size": 10, "height": 2, "width": 3},
        },
    },
    {"key": "clips/v.mp4", "metadata": {"$encord": FRAMES, "videoMetadata": VIDEO_META}},
    {"key": "clips/old.mp4", "metadata": {"keyframes": [0, 12, 24], "site": "s"}},
    {"key": "sounds/a.wav", "metadata": {"audioMetadata": AUDIO_META}},
    {"key": "docs/t.txt", "metadata": {"textMetadata": {"fileSize": 4, "mimeType": "text/plain"}}},
    {"key": "docs/p.pdf", "metadata": {"pdfMetadata": {"file_size": 5, "num_pages": 3}}},
    {"key": "scans/brain.nii.gz", "metadata": {"patient": "p1"}},
    *({"key": f"groups/g1/{n}.jpg"} for n in (10, 2, 1)),
    *({"key": f"seqs/s1/{n}.png"} for n in ("b", "a")),
    *({"key": f"ct/series1/img{n}.dcm"} for n in (2, 10, 1)),
]


def _build(tmp_path: Path) -> Path:
    keys = tmp_path / "keys.jsonl"
    keys.write_text("".join(json.dumps({"size": 1, **o}) + "\n" for o in OBJECTS))
    out = tmp_path / "manifests"
    code = main(
        [
            "manifest",
            "--keys-file",
            str(keys),
            "--trust-keys",  # no S3 here: the keys are taken as they are
            "--bucket",
            BUCKET,
            "--region",
            REGION,
            "--image-group",
            "groups/*",
            "--image-sequence",
            "seqs/*",
            "--out",
            str(out),
        ]
    )
    assert code == ExitStatus.OK
    return out


def _by_title(env: EncordEnv, folder: str) -> dict[str, dict[str, Any]]:
    items = env.items(folder)
    by_title = {i["title"]: i for i in items}
    assert len(by_title) == len(items)
    return by_title


def test_every_data_type_reaches_encord_as_data_items_item_by_item(tmp_path):
    manifests = _build(tmp_path)
    with encord_env(tmp_path, job_latency=0.02) as env:
        assert main(env.args(manifests, "typed/all")) == ExitStatus.OK
        held = _by_title(env, "typed/all")

    assert {i["form"] for i in held.values()} == {"dataItems"}
    assert sorted(held) == [
        "cams/a b.jpg",
        "clips/old.mp4",
        "clips/v.mp4",
        "ct/series1",
        "docs/p.pdf",
        "docs/t.txt",
        "groups/g1",
        "scans/brain.nii.gz",
        "seqs/s1",
        "sounds/a.wav",
    ]
    image = held["cams/a b.jpg"]
    assert (image["type"], image["url"], image["clientMetadata"]) == (
        "image",
        BASE + "cams/a%20b.jpg",
        {"site": "n"},
    )
    assert image["mediaMetadata"] == {
        "mimeType": "image/jpeg",
        "fileSize": 10,
        "height": 2,
        "width": 3,
    }
    video = held["clips/v.mp4"]
    assert video["type"] == "video"
    assert video["clientMetadata"] == {"$encord": FRAMES}
    assert video["mediaMetadata"] == {**VIDEO_META, "fps": 25.0}
    # Encord's deprecated `keyframes` list arrives in the current `$encord` form.
    assert held["clips/old.mp4"]["clientMetadata"] == {
        "$encord": {"frames": [0, 12, 24]},
        "site": "s",
    }
    assert held["sounds/a.wav"]["mediaMetadata"] == {
        "duration": 1.5,
        "fileSize": 9,
        "mimeType": "audio/wav",
        "sampleRate": 44100,
        "bitDepth": 16,
        "codec": "pcm",
        "numChannels": 2,
    }
    text, pdf = held["docs/t.txt"], held["docs/p.pdf"]
    assert (text["type"], text["mediaMetadata"]) == (
        "plainText",
        {"fileSize": 4, "mimeType": "text/plain"},
    )
    assert (pdf["type"], pdf["mediaMetadata"]) == ("pdf", {"fileSize": 5, "numPages": 3})
    nifti = held["scans/brain.nii.gz"]
    assert (nifti["type"], nifti["url"], nifti["clientMetadata"]) == (
        "nifti",
        BASE + "scans/brain.nii.gz",
        {"patient": "p1"},
    )
    group = held["groups/g1"]
    assert group["type"] == "imageGroup"
    assert group["urls"] == [BASE + f"groups/g1/{n}.jpg" for n in (1, 2, 10)]
    sequence = held["seqs/s1"]
    assert (sequence["type"], sequence["urls"]) == (
        "imageSequence",
        [BASE + "seqs/s1/a.png", BASE + "seqs/s1/b.png"],
    )
    series = held["ct/series1"]
    assert series["type"] == "dicomSeries"
    assert series["urls"] == [BASE + f"ct/series1/img{n}.dcm" for n in (1, 2, 10)]
    assert series["fileTitles"] == [f"img{n}.dcm" for n in (1, 2, 10)]


def test_the_file_form_is_still_reachable_and_lands_the_same_items(tmp_path):
    manifests = _build(tmp_path)
    with encord_env(tmp_path, job_latency=0.02) as env:
        assert main(env.args(manifests, "typed/t")) == ExitStatus.OK
        assert main(env.args(manifests, "typed/f", "--submit-form", "file")) == ExitStatus.OK
        typed, filed = _by_title(env, "typed/t"), _by_title(env, "typed/f")

    assert {i["form"] for i in filed.values()} == {"externalFiles"}

    def essence(held: dict[str, dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
        return {t: (i["type"], i["urls"], i["clientMetadata"]) for t, i in held.items()}

    assert essence(typed) == essence(filed)
    # In the file, media metadata follow Encord's examples: camelCase for images,
    # snake_case for video and audio (formats.MEDIA_METADATA).
    assert filed["cams/a b.jpg"]["mediaMetadata"] == typed["cams/a b.jpg"]["mediaMetadata"]
    assert filed["clips/v.mp4"]["mediaMetadata"] == {
        "fps": 25,
        "duration": 2.5,
        "width": 640,
        "height": 480,
        "file_size": 100,
        "mime_type": "video/mp4",
    }


def test_a_file_the_sdk_models_refuse_is_reported_by_path_and_never_sent(tmp_path, capsys):
    manifests = tmp_path / "m"
    write_manifest(manifests, 1, images=image_urls("ok", 3))
    bad_path = write_manifest(manifests, 2, images=image_urls("bad", 3))
    document = json.loads(bad_path.read_text())
    document["images"][1]["imageMetadata"] = {"mimeType": "image/jpeg", "fileSize": 3, "height": 2}
    bad_path.write_text(json.dumps(document))
    report_path = tmp_path / "report.json"

    with encord_env(tmp_path, job_latency=0.02) as env:
        dry = main(env.args(manifests, "typed/r", "--dry-run", "--report", str(report_path)))
        assert dry == ExitStatus.USAGE
        assert env.standin.registration_calls["start"] == 0
        planned = {f["file"]: f["state"] for f in json.loads(report_path.read_text())["files"]}
        assert planned == {"manifest-00001.json": "would_send", "manifest-00002.json": "refused"}

        code = main(env.args(manifests, "typed/r", "--report", str(report_path)))

        assert code == ExitStatus.USAGE
        assert env.standin.registration_calls["start"] == 1  # the good file only
        assert sorted(i["url"] for i in env.items("typed/r")) == image_urls("ok", 3)
        report = json.loads(report_path.read_text())
        assert report["exit_status"] == ExitStatus.USAGE
        assert report["totals"]["refused_files"] == 1
        refused = report["files"][1]
        assert refused["state"] == "refused"
        assert refused["problems"] == [
            {
                "item": "images[1] (img-00001.jpg)",
                "path": "$.images[1].imageMetadata.width",
                "error": "Field required",
            }
        ]
        out = capsys.readouterr().out
        assert "$.images[1].imageMetadata.width" in out

        # Fixed: the next run checks it again, sends it once, and nothing twice.
        document["images"][1]["imageMetadata"]["width"] = 4
        bad_path.write_text(json.dumps(document))
        assert main(env.args(manifests, "typed/r")) == ExitStatus.OK
        assert env.standin.registration_calls["start"] == 2
        urls = sorted(i["url"] for i in env.items("typed/r"))
        assert urls == sorted(image_urls("ok", 3) + image_urls("bad", 3))


def test_a_refused_file_is_checked_again_on_the_next_run_and_stays_unsent(tmp_path):
    manifests = tmp_path / "m"
    path = write_manifest(manifests, 1, images=image_urls("bad", 1))
    document = json.loads(path.read_text())
    document["images"][0]["imageMetadata"] = {"mimeType": "image/jpeg"}
    path.write_text(json.dumps(document))
    with encord_env(tmp_path) as env:
        assert main(env.args(manifests, "typed/again")) == ExitStatus.USAGE
        assert main(env.args(manifests, "typed/again", "--retry-failed")) == ExitStatus.USAGE
        assert env.standin.registration_calls["start"] == 0
        assert env.items("typed/again") == []
