"""`encord-register manifest` end to end against S3 (moto in-process), through `cli.main`."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import boto3
import pytest
from moto import mock_aws

import registration.cli.core as cli
from registration.contract import (
    OUTPUT_BUCKETS,
    OUTPUT_CORS_ORIGINS,
    OUTPUT_EXTERNAL_ID,
    OUTPUT_MRAPS,
    OUTPUT_ROLE_ARN,
)
from registration.exit_codes import ExitStatus

BUCKET = "data-bucket"
REGION = "eu-west-1"
PREFIX = f"https://{BUCKET}.s3.{REGION}.amazonaws.com/"
LONG_KEY = "deep/" + "x" * 400 + ".jpg"

OBJECTS: dict[str, bytes] = {
    "images/cat.jpg": b"jpg",
    "images/dog photo #1.PNG": b"png",
    "images/dog photo #1.PNG.json": b'{"breed": "lab", "imageMetadata": {"width": 4, "height": 3}}',
    "videos/clip.mp4": b"mp4",
    "videos/clip.mp4.json": b'{"keyframes": [0, 12], "videoMetadata": {"fps": 25}}',
    "videos/broken.mov": b"mov",
    "videos/broken.mov.json": b"{not json",
    "groups/g1/frame10.jpg": b"f",
    "groups/g1/frame2.jpg": b"f",
    "groups/g1/frame1.jpg": b"f",
    "groups/g1/frame1.jpg.json": b'{"frame": 1}',
    "scans/s1/slice10.dcm": b"d",
    "scans/s1/slice9.dcm": b"d",
    "scans/s1/IM0001": b"d",
    "loose/IM0002": b"x",
    "docs/readme.txt": b"t",
    "docs/paper.pdf": b"p",
    "audio/a+b=c.wav": b"w",
    "brain/t1.nii.gz": b"n",
    "empty.jpg": b"",
    "folder/": b"",
    "unknown.xyz": b"?",
    LONG_KEY: b"l",
    "cold/frozen.jpg": b"c",
}


@pytest.fixture
def aws(offline_aws: str) -> Iterator[Any]:
    """An in-process S3 with the data bucket filled; yields a client."""
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        for key, body in OBJECTS.items():
            extra = {"StorageClass": "GLACIER"} if key.startswith("cold/") else {}
            s3.put_object(Bucket=BUCKET, Key=key, Body=body, **extra)
        yield s3


def _run(*argv: str) -> int:
    return cli.main(["manifest", *argv])


def _load(out: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    docs = [json.loads(p.read_text()) for p in sorted(out.glob("manifest-*.json"))]
    skipped = [json.loads(line) for line in (out / "skipped.jsonl").read_text().splitlines()]
    summary = json.loads((out / "summary.json").read_text())
    return docs, skipped, summary


def _items(docs: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return [item for doc in docs for item in doc.get(key, [])]


def test_bucket_listing_accounts_for_every_object(aws: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _run("--bucket", BUCKET, "--image-group", "groups/*", "--out", str(out)) == 0
    docs, skipped, summary = _load(out)

    images = {i["title"]: i for i in _items(docs, "images")}
    assert images["images/cat.jpg"]["objectUrl"] == PREFIX + "images/cat.jpg"
    dog = images["images/dog photo #1.PNG"]
    assert dog["objectUrl"] == PREFIX + "images/dog%20photo%20%231.PNG"
    assert dog["clientMetadata"] == {"breed": "lab"}
    assert dog["imageMetadata"] == {"width": 4, "height": 3}
    videos = {v["title"]: v for v in _items(docs, "videos")}
    # The deprecated `keyframes` list is written in Encord's current form, and counted.
    assert videos["videos/clip.mp4"]["clientMetadata"] == {"$encord": {"frames": [0, 12]}}
    assert summary["keyframes_converted"] == 1
    assert videos["videos/clip.mp4"]["videoMetadata"] == {"fps": 25}
    assert "clientMetadata" not in videos["videos/broken.mov"]  # bad sidecar: reported
    (group,) = _items(docs, "image_groups")
    assert group["title"] == "groups/g1" and group["createVideo"] is False
    assert [group[f"objectUrl_{n}"].rsplit("/", 1)[1] for n in range(3)] == [
        "frame1.jpg",
        "frame2.jpg",
        "frame10.jpg",
    ]
    series = {s["title"]: s for s in _items(docs, "dicom_series")}
    assert [series["scans/s1"][f"objectUrl_{n}"].rsplit("/", 1)[1] for n in range(3)] == [
        "IM0001",
        "slice9.dcm",
        "slice10.dcm",
    ]
    assert [i["title"] for i in _items(docs, "text")] == ["docs/readme.txt"]
    assert [i["title"] for i in _items(docs, "pdf")] == ["docs/paper.pdf"]
    assert [i["title"] for i in _items(docs, "nifti")] == ["brain/t1.nii.gz"]
    (audio,) = _items(docs, "audio")
    assert unquote(audio["objectUrl"][len(PREFIX) :]) == "audio/a+b=c.wav"
    long_title = images[next(t for t in images if t.endswith(".jpg") and "~" in t)]["title"]
    assert len(long_title) == 300 and long_title.endswith("x" * 100 + ".jpg")
    assert summary["shortened_titles"] == [
        {"bucket": BUCKET, "name": LONG_KEY, "title": long_title}
    ]

    reasons = {(s["key"], s["reason"]) for s in skipped}
    assert reasons == {
        ("empty.jpg", "empty_object"),
        ("folder/", "folder_marker"),
        ("unknown.xyz", "unknown_type"),
        ("loose/IM0002", "unknown_type"),
        ("cold/frozen.jpg", "archived_not_restored"),
        ("videos/broken.mov.json", "bad_sidecar"),
        ("groups/g1/frame1.jpg.json", "sidecar_of_group_frame"),
    }
    assert summary["objects_seen"] == len(OBJECTS)
    assert summary["objects_seen"] == summary["objects_included"] + summary["objects_skipped"]
    assert summary["included_as_metadata"] == 2
    assert summary["items_by_type"] == {
        "audio": 1,
        "dicom_series": 1,
        "image": 3,
        "image_group": 1,
        "nifti": 1,
        "pdf": 1,
        "text": 1,
        "video": 2,
    }
    assert docs[0]["skip_duplicate_urls"] is True


def test_output_is_deterministic_across_runs_and_list_workers(aws: Any, tmp_path: Path) -> None:
    runs = []
    for workers in ("1", "8", "3"):
        out = tmp_path / f"out{workers}"
        assert _run("--bucket", BUCKET, "--list-workers", workers, "--out", str(out)) == 0
        runs.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
    assert runs[0] == runs[1] == runs[2]


def test_non_empty_out_refuses_without_force(
    aws: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert _run("--bucket", BUCKET, "--max-items", "2", "--out", str(out)) == 0
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    assert _run("--bucket", BUCKET, "--out", str(out)) == ExitStatus.USAGE
    assert "is not empty" in capsys.readouterr().err
    assert _run("--bucket", BUCKET, "--max-items", "100", "--out", str(out), "--force") == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["manifest-00001.json", "skipped.jsonl", "summary.json"]
    assert len(first) > 3  # the stale manifest-0000N.json files were removed


def test_prefixes_overlap_without_duplicates(aws: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = [
        "--bucket",
        BUCKET,
        "--prefix",
        "images/",
        "--prefix",
        "images/dog",
        "--prefix",
        "docs/",
        "--out",
        str(out),
    ]
    assert _run(*argv) == 0
    docs, _, summary = _load(out)
    titles = [i["title"] for key in ("images", "text", "pdf") for i in _items(docs, key)]
    assert sorted(titles) == [
        "docs/paper.pdf",
        "docs/readme.txt",
        "images/cat.jpg",
        "images/dog photo #1.PNG",
    ]
    assert summary["objects_seen"] == 5


def test_csv_and_json_describe_the_same_items(aws: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = [
        "--bucket",
        BUCKET,
        "--image-sequence",
        "groups/*",
        "--format",
        "both",
        "--out",
        str(out),
    ]
    assert _run(*argv) == 0
    docs, _, _ = _load(out)
    from_json = set()
    for items in docs[0].values():
        if not isinstance(items, list):
            continue
        for item in items:
            urls = [v for k, v in item.items() if k.startswith("objectUrl")]
            from_json |= {(url, item["title"]) for url in urls}
    with (out / "manifest-00001.csv").open(newline="") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    assert header[0] == "ObjectUrl" and "Image sequence title" in header
    assert "Series title" in header and "Video title" in header
    from_csv = set()
    for row in rows[1:]:
        titles = [cell for cell in row[1:] if cell]
        assert len(titles) == 1  # each row fills only its own type's column
        from_csv.add((row[0], titles[0]))
    assert from_csv == from_json
    seq_column = header.index("Image sequence title")
    assert [r[0].rsplit("/", 1)[1] for r in rows[1:] if r[seq_column]] == [
        "frame1.jpg",
        "frame2.jpg",
        "frame10.jpg",
    ]


def test_region_path_style_and_basename_titles(aws: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = [
        "--bucket",
        BUCKET,
        "--prefix",
        "images/cat",
        "--url-style",
        "path",
        "--title",
        "basename",
        "--out",
        str(out),
    ]
    assert _run(*argv) == 0
    docs, _, _ = _load(out)
    assert _items(docs, "images") == [
        {
            "objectUrl": f"https://s3.{REGION}.amazonaws.com/{BUCKET}/images/cat.jpg",
            "title": "cat.jpg",
        }
    ]


def test_metadata_file_and_item_checks(aws: Any, tmp_path: Path) -> None:
    from registration.build.manifests import build_manifests
    from registration.build.spec import BuildOptions, OutputSpec, SourceSpec
    from registration.reporter import SILENT

    metadata = tmp_path / "meta.csv"
    metadata.write_text(
        "key,site,score,code\nimages/cat.jpg,paris,0.5,007\ngroups/g1,lyon,1,\nnot/there.jpg,x,1,\n"
    )
    source = SourceSpec(bucket=BUCKET, prefixes=("images/", "groups/"))
    options = BuildOptions(image_groups=("groups/*",), metadata_file=metadata)

    def no_dogs(top_key: str, item: dict[str, Any]) -> str | None:
        return "dogs are refused" if top_key == "images" and "dog" in item["title"] else None

    out = tmp_path / "out"
    summary = build_manifests(source, options, OutputSpec(out), SILENT, item_checks=[no_dogs])
    docs, skipped, _ = _load(out)
    (cat,) = _items(docs, "images")
    assert cat["clientMetadata"] == {"site": "paris", "score": 0.5, "code": "007"}
    assert _items(docs, "image_groups")[0]["clientMetadata"] == {"site": "lyon", "score": 1}
    assert {(s["key"], s["reason"], s.get("detail")) for s in skipped} >= {
        ("images/dog photo #1.PNG", "item_check", "dogs are refused"),
        ("images/dog photo #1.PNG.json", "sidecar_of_skipped_object", "item_check"),
    }
    assert summary.metadata_entries_unmatched == 1
    assert summary.objects_seen == summary.objects_included + summary.skipped
    assert summary.files == [out / "manifest-00001.json"]


def test_inventory_in_s3_and_keys_file(aws: Any, tmp_path: Path) -> None:
    import gzip

    aws.create_bucket(Bucket="inv", CreateBucketConfiguration={"LocationConstraint": REGION})
    rows = "\n".join(
        f'"{BUCKET}","{k.replace(" ", "+").replace("#", "%23")}"'
        for k in ("images/cat.jpg", "images/dog photo #1.PNG", "videos/clip.mp4")
    )
    aws.put_object(Bucket="inv", Key="r/data/a.csv.gz", Body=gzip.compress(rows.encode()))
    manifest = {
        "sourceBucket": BUCKET,
        "destinationBucket": "arn:aws:s3:::inv",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key",
        "files": [{"key": "r/data/a.csv.gz", "size": 1}],
    }
    aws.put_object(Bucket="inv", Key="r/2026/manifest.json", Body=json.dumps(manifest).encode())
    out = tmp_path / "inv"
    assert _run("--inventory", "s3://inv/r/2026/manifest.json", "--out", str(out)) == 0
    docs, _, summary = _load(out)
    assert sorted(i["title"] for i in _items(docs, "images")) == [
        "images/cat.jpg",
        "images/dog photo #1.PNG",
    ]
    assert summary["objects_seen"] == 3

    keys = tmp_path / "keys.txt"
    keys.write_text("videos/clip.mp4\nimages/cat.jpg\n")
    out = tmp_path / "keys"
    assert _run("--keys-file", str(keys), "--bucket", BUCKET, "--out", str(out)) == 0
    docs, _, _ = _load(out)
    assert [v["objectUrl"] for v in _items(docs, "videos")] == [PREFIX + "videos/clip.mp4"]


def test_stack_outputs_give_bucket_prefix_and_region(aws: Any, tmp_path: Path) -> None:
    # Shaped as registration/stack_outputs.py documents the access stack's outputs
    # (the stack itself was not built yet when this test was written).
    outputs = tmp_path / "cdk-outputs.json"
    outputs.write_text(
        json.dumps(
            {
                "EncordAccess": {
                    OUTPUT_ROLE_ARN: "arn:aws:iam::123456789012:role/EncordAccess",
                    OUTPUT_EXTERNAL_ID: "ext-123",
                    OUTPUT_BUCKETS: json.dumps(
                        [
                            {
                                "name": BUCKET,
                                "region": "eu-central-1",
                                "prefixes": ["docs/"],
                                "created": False,
                                "writePrefix": None,
                                "kmsKeyArn": None,
                            }
                        ]
                    ),
                    OUTPUT_MRAPS: "[]",
                    OUTPUT_CORS_ORIGINS: json.dumps(["https://app.encord.com"]),
                }
            }
        )
    )
    out = tmp_path / "out"
    assert _run("--stack-outputs", str(outputs), "--out", str(out)) == 0
    docs, _, summary = _load(out)
    assert [i["objectUrl"] for i in _items(docs, "text")] == [
        f"https://{BUCKET}.s3.eu-central-1.amazonaws.com/docs/readme.txt"
    ]
    assert summary["objects_seen"] == 2
    # explicit flags override the stack
    out2 = tmp_path / "out2"
    mrap = "arn:aws:s3::123456789012:accesspoint/mfzwi23gnjvgw.mrap"
    argv = [
        "--stack-outputs",
        str(outputs),
        "--prefix",
        "images/cat",
        "--mrap-arn",
        mrap,
        "--out",
        str(out2),
    ]
    assert _run(*argv) == 0
    docs, _, _ = _load(out2)
    assert [i["objectUrl"] for i in _items(docs, "images")] == [f"{mrap}/images/cat.jpg"]


def test_mrap_from_stack_outputs(aws: Any, tmp_path: Path) -> None:
    mrap = "arn:aws:s3::123456789012:accesspoint/mfzwi23gnjvgw.mrap"
    outputs = tmp_path / "cdk-outputs.json"
    outputs.write_text(
        json.dumps(
            {
                "S": {
                    OUTPUT_ROLE_ARN: "arn:aws:iam::123456789012:role/R",
                    OUTPUT_EXTERNAL_ID: "e",
                    OUTPUT_BUCKETS: json.dumps(
                        [{"name": BUCKET, "region": REGION, "prefixes": ["audio/"]}]
                    ),
                    OUTPUT_MRAPS: json.dumps(
                        [{"alias": "mfzwi23gnjvgw.mrap", "arn": mrap, "buckets": [BUCKET]}]
                    ),
                }
            }
        )
    )
    out = tmp_path / "out"
    assert _run("--stack-outputs", str(outputs), "--out", str(out)) == 0
    docs, _, _ = _load(out)
    assert [i["objectUrl"] for i in _items(docs, "audio")] == [f"{mrap}/audio/a%2Bb%3Dc.wav"]


@pytest.mark.parametrize(
    ("argv", "status", "message"),
    [
        (
            ["--bucket", "no-such-bucket"],
            ExitStatus.USAGE,
            "bucket 'no-such-bucket' does not exist",
        ),
        (
            ["--bucket", BUCKET, "--image-group", "re:(unclosed"],
            ExitStatus.USAGE,
            "bad regular expression",
        ),
        (["--bucket", BUCKET, "--type-map", "raw=hologram"], ExitStatus.USAGE, "unknown type"),
        (["--bucket", BUCKET, "--max-items", "600000"], ExitStatus.USAGE, "--max-items"),
        (["--inventory", "/nonexistent/manifest.json"], ExitStatus.USAGE, "cannot read inventory"),
        ([], ExitStatus.USAGE, "no source"),
    ],
)
def test_user_errors_are_clear_messages_and_exit_codes(
    aws: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    status: int,
    message: str,
) -> None:
    assert _run(*argv, "--region", REGION, "--out", str(tmp_path / "o")) == status
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert "Traceback" not in err


def test_region_lookup_of_a_missing_bucket(
    aws: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run("--bucket", "missing-bucket", "--out", str(tmp_path / "o")) == ExitStatus.USAGE
    assert capsys.readouterr().err.startswith(
        "error: bucket 'missing-bucket' does not exist (or is not visible to these credentials) "
        "while looking up the region of s3://missing-bucket\n"
    )


@pytest.mark.usefixtures("no_aws_credentials")
def test_no_credentials_is_an_auth_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = _run("--bucket", BUCKET, "--region", REGION, "--out", str(tmp_path / "o"))
    assert status == ExitStatus.AUTH
    assert "no AWS credentials" in capsys.readouterr().err


def deny_listing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The helper's S3 client answers its first ListObjectsV2 with AccessDenied."""
    from botocore.stub import Stubber

    from registration.build.sources import s3_access

    client = boto3.client(
        "s3", region_name=REGION, aws_access_key_id="a", aws_secret_access_key="b"
    )
    stubber = Stubber(client)
    stubber.add_client_error("list_objects_v2", "AccessDenied", "Access Denied", 403)
    stubber.activate()
    monkeypatch.setattr(s3_access, "make_s3_client", lambda region=None: client)


def test_access_denied_is_an_auth_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    deny_listing(monkeypatch)
    status = _run(
        "--bucket", BUCKET, "--region", REGION, "--list-workers", "1", "--out", str(tmp_path / "o")
    )
    assert status == ExitStatus.AUTH
    err = capsys.readouterr().err
    assert "access denied while listing s3://data-bucket" in err


def test_json_summary_on_stdout(
    aws: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        _run("--bucket", BUCKET, "--prefix", "docs/", "--json", "--out", str(tmp_path / "o")) == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["items"] == 2 and summary["files"] == ["manifest-00001.json"]


def test_stack_name_reads_outputs_from_cloudformation(aws: Any, tmp_path: Path) -> None:
    buckets = json.dumps([{"name": BUCKET, "region": REGION, "prefixes": ["brain/"]}])
    template = {
        "Resources": {"Dummy": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "x-y-z"}}},
        "Outputs": {
            OUTPUT_ROLE_ARN: {"Value": "arn:aws:iam::123456789012:role/EncordAccess"},
            OUTPUT_EXTERNAL_ID: {"Value": "ext"},
            OUTPUT_BUCKETS: {"Value": buckets},
        },
    }
    cfn = boto3.client("cloudformation", region_name=REGION)
    cfn.create_stack(StackName="EncordAccess", TemplateBody=json.dumps(template))
    out = tmp_path / "out"
    assert _run("--stack", "EncordAccess", "--region", REGION, "--out", str(out)) == 0
    docs, _, _ = _load(out)
    assert [i["objectUrl"] for i in _items(docs, "nifti")] == [PREFIX + "brain/t1.nii.gz"]


def test_an_empty_prefix_warns_and_writes_no_manifest(
    aws: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert _run("--bucket", BUCKET, "--prefix", "nothing-here/", "--out", str(out)) == 0
    assert "warning: no items to register" in capsys.readouterr().err
    _, skipped, summary = _load(out)
    assert skipped == [] and summary["files"] == [] and summary["objects_seen"] == 0
