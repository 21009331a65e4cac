"""The pipeline on a keys file (no S3): every skip reason, grouping order, accounting."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from registration.build import items as items_module
from registration.build import pipeline as pipeline_module
from registration.build import refusals as refusals_module
from registration.build import skips
from registration.build.grouping import natural_key
from registration.build.manifests import build_manifests
from registration.build.sources import ObjectRecord
from registration.build.spec import OutputSpec
from registration.cli import build_parser, options
from registration.reporter import SILENT

SIDECARS = {
    "v/ok.mp4.json": b'{"keyframes": [3]}',
    "v/bad.mp4.json": b"[1, 2]",
    "gone/x.jpg.json": b"{}",
}


def _reader(record: ObjectRecord) -> bytes:
    return SIDECARS[record.key]


def _build(tmp_path: Path, lines: list[dict[str, Any]], *extra: str, checks: Any = ()) -> Any:
    keys = tmp_path / "keys.jsonl"
    keys.write_text("".join(json.dumps(line) + "\n" for line in lines))
    args = build_parser().parse_args(
        [
            "manifest",
            "--keys-file",
            str(keys),
            "--bucket",
            "bkt",
            "--region",
            "eu-west-1",
            "--trust-keys",  # no S3 here: the keys are taken as they are
            "--out",
            "unused",
            *extra,
        ]
    )
    out = tmp_path / "out"
    summary = build_manifests(
        options.source_spec(args),
        options.build_options(args),
        OutputSpec(out),
        SILENT,
        body_reader=_reader,
        item_checks=checks,
    )
    skipped = [json.loads(x) for x in (out / "skipped.jsonl").read_text().splitlines()]
    docs = [json.loads(p.read_text()) for p in summary.files]
    return summary, skipped, docs


def test_every_skip_reason_is_reported_with_its_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(items_module, "MAX_URLS_PER_FILE", 3)
    monkeypatch.setattr(pipeline_module, "MAX_CLIENT_METADATA_BYTES", 2_000)
    monkeypatch.setattr(refusals_module, "MAX_CLIENT_METADATA_BYTES", 2_000)
    lines = [
        {"key": "folder/"},
        {"key": "empty.jpg", "size": 0},
        {"key": "thing.xyz", "size": 1},
        {"key": "cold.jpg", "size": 1, "storage_class": "DEEP_ARCHIVE"},
        {"key": "long/" + " " * 6000 + ".jpg", "size": 1},
        {"key": "v/ok.mp4", "size": 1},
        {"key": "v/ok.mp4.json", "size": 1},
        {"key": "v/bad.mp4", "size": 1},
        {"key": "v/bad.mp4.json", "size": 1},
        {"key": "gone/x.jpg", "size": 0},
        {"key": "gone/x.jpg.json", "size": 1},
        {"key": "g/1.jpg.json", "size": 1},
        {"key": "dup.png", "size": 1},
        {"key": "dup.png", "size": 1},
        {"key": "up/../dots.png", "size": 1},  # its URL would fetch `dots.png`
        *({"key": f"big/{n}.jpg", "size": 1} for n in range(4)),
        *({"key": f"g/{n}.jpg", "size": 1} for n in range(2)),
        {"key": "refuse-me.txt", "size": 1},
        {"key": "huge/" + "h" * 5_000 + ".jpg", "size": 1},  # over --max-bytes 5000 alone
        {"key": "meta.jpg", "size": 1},
        {"key": "meta.jpg.json", "size": 1},  # clientMetadata over the (patched) 2,000 bytes
        {"key": "v/frames.mp4", "size": 1},
        {"key": "v/frames.mp4.json", "size": 1},  # a frame key of -1: the sidecar is dropped
        {"key": "two.jpg", "size": 1},
        {"key": "two.jpg.json", "size": 1},  # superseded by the longer suffix
        {"key": "two.jpg.metadata.json", "size": 1},
    ]
    SIDECARS["g/1.jpg.json"] = b"{}"
    SIDECARS["meta.jpg.json"] = json.dumps({"blob": "x" * 2_500}).encode()
    SIDECARS["v/frames.mp4.json"] = b'{"$encord": {"frames": {"-1": {}}}}'
    SIDECARS["two.jpg.metadata.json"] = b'{"from": "metadata.json"}'

    def check(top_key: str, item: dict[str, Any]) -> str | None:
        return "refused by test" if item.get("title") == "refuse-me.txt" else None

    summary, skipped, docs = _build(
        tmp_path,
        lines,
        *("--image-group", "big", "--image-group", "g", "--max-bytes", "5000"),
        checks=[check],
    )
    reasons = {s["reason"] for s in skipped}
    # not_found needs S3 (a keys file is checked with HeadObject): tests/functional/build;
    # group_marker is continuous registration's (tests/functional/continuous).
    expected = set(skips.REASONS) - {skips.NOT_FOUND, skips.GROUP_MARKER}
    assert reasons == expected
    by_reason = {s["reason"]: s for s in skipped}
    # Like every other skip line: the reason is the code, the detail says why.
    assert by_reason["item_check"] == {
        "bucket": "bkt",
        "key": "refuse-me.txt",
        "reason": "item_check",
        "detail": "refused by test",
    }
    assert summary.item_checks_failed == {"refused by test": 1}
    assert by_reason["bad_sidecar"]["key"] == "v/bad.mp4.json"
    assert "expected a JSON object" in by_reason["bad_sidecar"]["detail"]
    assert {s["key"] for s in skipped if s["reason"] == "sidecar_of_skipped_object"} == {
        "gone/x.jpg.json",
        "meta.jpg.json",
    }
    assert by_reason["metadata_too_large"]["key"] == "meta.jpg"
    assert by_reason["item_too_large"]["key"].startswith("huge/")
    assert by_reason["duplicate_key"]["key"] == "dup.png"
    assert by_reason["dot_segment_key"]["key"] == "up/../dots.png"
    assert {s["key"] for s in skipped if s["reason"] == "group_too_large"} == {
        f"big/{n}.jpg" for n in range(4)
    }
    assert summary.objects_seen == len(lines)
    assert summary.objects_seen == summary.objects_included + summary.objects_skipped
    assert summary.skipped_by_reason["duplicate_key"] == 1
    videos = {v["title"]: v for v in docs[0]["videos"]}
    assert videos["v/ok.mp4"]["clientMetadata"] == {"$encord": {"frames": [3]}}
    assert "clientMetadata" not in videos["v/frames.mp4"]
    assert by_reason["bad_keyframes"]["key"] == "v/frames.mp4.json"
    assert by_reason["sidecar_superseded"]["key"] == "two.jpg.json"
    assert "clientMetadata" not in videos["v/bad.mp4"]


def test_groups_straddling_a_file_boundary_stay_whole(tmp_path: Path) -> None:
    lines = [{"key": f"a{n}.jpg"} for n in range(3)]
    lines += [{"key": f"seq/f{n}.png"} for n in range(12)]
    lines += [{"key": f"z{n}.jpg"} for n in range(3)]
    summary, _, docs = _build(tmp_path, lines, "--image-sequence", "seq", "--max-items", "2")
    assert [sum(len(v) for v in d.values() if isinstance(v, list)) for d in docs] == [2, 2, 2, 1]
    sequences = [g for d in docs for g in d.get("image_groups", [])]
    assert len(sequences) == 1 and sequences[0]["createVideo"] is True
    frames = [sequences[0][f"objectUrl_{n}"].rsplit("/", 1)[1] for n in range(12)]
    assert frames == [f"f{n}.png" for n in range(12)]
    assert summary.items == 7 and summary.urls == 18


def test_natural_order_of_frames() -> None:
    keys = ["f10.jpg", "f2.jpg", "f1.jpg", "f1b.jpg", "f01.jpg"]
    assert sorted(keys, key=natural_key) == ["f01.jpg", "f1.jpg", "f1b.jpg", "f2.jpg", "f10.jpg"]


def test_same_input_gives_byte_identical_output(tmp_path: Path) -> None:
    lines = [{"key": f"d{n % 7}/{n}.jpg", "size": 1} for n in range(300)]
    lines += [{"key": f"s{n % 3}/{n}.dcm", "size": 1} for n in range(30)]
    contents = []
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        _build(tmp_path / run, list(reversed(lines)) if run == "b" else lines, "--max-items", "50")
        out = tmp_path / run / "out"
        contents.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
    assert contents[0] == contents[1]
    assert len(contents[0]) == 2 + 7


def test_awkward_keys_survive_the_whole_pipeline(tmp_path: Path) -> None:
    from urllib.parse import unquote

    from tests.unit.build.test_urls import AWKWARD_KEYS

    every = sorted({k if k.endswith(".jpg") else k + ".jpg" for k in AWKWARD_KEYS})
    _, skipped, docs = _build(tmp_path, [{"key": k, "size": 1} for k in every])
    # A key with a dot segment has no URL that reaches it (clients normalise it away).
    assert [(s["key"], s["reason"]) for s in skipped] == [
        ("./dot/../segments.jpg", "dot_segment_key")
    ]
    keys = [k for k in every if k != "./dot/../segments.jpg"]
    prefix = "https://bkt.s3.eu-west-1.amazonaws.com/"
    urls = [i["objectUrl"] for d in docs for i in d["images"]]
    assert all(u.startswith(prefix) and not any(c.isspace() for c in u) for u in urls)
    assert sorted(unquote(u[len(prefix) :]) for u in urls) == keys
    assert sorted(i["title"] for d in docs for i in d["images"]) == keys
