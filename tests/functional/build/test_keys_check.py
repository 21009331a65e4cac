"""A keys file against S3 (moto): every key is checked with HeadObject before it becomes a URL.

A missing key is skipped as `not_found`; what S3 says (size, storage class) wins over the
line; a 403 stops the run with the permissions to add; `--trust-keys` turns the check off.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

import registration.build.sources.s3_access as s3_access
import registration.cli.core as cli
from registration.exit_codes import ExitStatus

BUCKET = "keys-bucket"
REGION = "eu-west-1"
PREFIX = f"https://{BUCKET}.s3.{REGION}.amazonaws.com/"


@pytest.fixture
def s3(offline_aws: str) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        client.put_object(Bucket=BUCKET, Key="a.jpg", Body=b"abc")
        client.put_object(Bucket=BUCKET, Key="b c+d.png", Body=b"png")
        client.put_object(Bucket=BUCKET, Key="empty.jpg", Body=b"")
        client.put_object(Bucket=BUCKET, Key="cold.jpg", Body=b"c", StorageClass="GLACIER")
        yield client


Hook = Callable[..., Any]


@pytest.fixture
def hooks(monkeypatch: pytest.MonkeyPatch) -> dict[str, Hook]:
    """botocore event handlers to register on the S3 client the helper makes."""
    registered: dict[str, Hook] = {}
    make = s3_access.make_s3_client

    def make_with_hooks(region: str | None = None) -> Any:
        client = make(region)
        for event, handler in registered.items():
            client.meta.events.register(event, handler)
        return client

    monkeypatch.setattr(s3_access, "make_s3_client", make_with_hooks)
    return registered


def _manifest(tmp_path: Path, keys: str, *extra: str) -> tuple[int, Path]:
    path = tmp_path / "keys.txt"
    path.write_text(keys, encoding="utf-8")
    out = tmp_path / "out"
    argv = ["manifest", "--keys-file", str(path), "--bucket", BUCKET, "--region", REGION]
    return cli.main([*argv, "--out", str(out), *extra]), out


def _load(out: Path) -> tuple[list[dict[str, Any]], dict[str, str], dict[str, Any]]:
    items = [
        item
        for p in sorted(out.glob("manifest-*.json"))
        for item in json.loads(p.read_text())["images"]
    ]
    skipped = [json.loads(x) for x in (out / "skipped.jsonl").read_text().splitlines()]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["objects_seen"] == summary["objects_included"] + summary["objects_skipped"]
    return items, {s["key"]: s["reason"] for s in skipped}, summary


KEYS = "a.jpg\nmissing.jpg\nb c+d.png\nempty.jpg\ncold.jpg\nup/../a.jpg\na.jpg\n\ngone/x.png\n"


def test_missing_keys_are_skipped_as_not_found(s3: Any, tmp_path: Path) -> None:
    code, out = _manifest(tmp_path, KEYS)

    assert code == ExitStatus.OK
    items, skipped, summary = _load(out)
    assert [i["objectUrl"] for i in items] == [PREFIX + "a.jpg", PREFIX + "b%20c%2Bd.png"]
    assert skipped == {
        "missing.jpg": "not_found",
        "gone/x.png": "not_found",
        "empty.jpg": "empty_object",  # the size comes from S3
        "cold.jpg": "archived_not_restored",  # so does the storage class
        "up/../a.jpg": "dot_segment_key",  # never sent: a client would fetch a.jpg
        "a.jpg": "duplicate_key",
    }
    assert summary["objects_seen"] == 8
    # One HeadObject per distinct key that a request can name; one blank line counted.
    assert summary["notes"] == {"keys_file_blank_lines": 1, "keys_file_keys_checked": 6}


def test_what_s3_says_wins_over_the_line(s3: Any, tmp_path: Path) -> None:
    lines = [
        {"key": "a.jpg", "size": 0, "storage_class": "DEEP_ARCHIVE"},  # wrong on both counts
        {"key": "cold.jpg", "size": 5, "storage_class": "STANDARD"},
    ]
    path = tmp_path / "keys.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = tmp_path / "out"
    argv = ["manifest", "--keys-file", str(path), "--bucket", BUCKET, "--region", REGION]
    assert cli.main([*argv, "--out", str(out)]) == ExitStatus.OK

    items, skipped, _ = _load(out)
    assert [i["title"] for i in items] == ["a.jpg"]
    assert skipped == {"cold.jpg": "archived_not_restored"}


def test_trusted_keys_are_not_checked(s3: Any, tmp_path: Path, hooks: dict[str, Hook]) -> None:
    heads: list[str] = []
    hooks["before-call.s3.HeadObject"] = lambda params, **_: heads.append(params["url_path"])

    code, out = _manifest(tmp_path, "a.jpg\nmissing.jpg\n", "--trust-keys")

    assert code == ExitStatus.OK
    items, skipped, summary = _load(out)
    assert [i["title"] for i in items] == ["a.jpg", "missing.jpg"]  # taken as written
    assert skipped == {} and heads == []
    assert "keys_file_keys_checked" not in summary["notes"]


def test_checks_run_concurrently_bounded_and_keep_the_order(
    s3: Any, tmp_path: Path, hooks: dict[str, Hook]
) -> None:
    for n in range(0, 60, 2):
        s3.put_object(Bucket=BUCKET, Key=f"many/{n:03d}.jpg", Body=b"x")
    lock = threading.Lock()
    running = [0, 0]  # now, most at once

    def before(**_: Any) -> None:
        with lock:
            running[0] += 1
            running[1] = max(running)
        threading.Event().wait(0.005)  # hold the call so that others overlap it

    def after(**_: Any) -> None:
        with lock:
            running[0] -= 1

    hooks["before-call.s3.HeadObject"] = before
    hooks["after-call.s3.HeadObject"] = after
    keys = "".join(f"many/{n:03d}.jpg\n" for n in reversed(range(60)))

    code, out = _manifest(tmp_path, keys, "--list-workers", "3")

    assert code == ExitStatus.OK
    items, skipped, _ = _load(out)
    assert [i["title"] for i in items] == [f"many/{n:03d}.jpg" for n in range(0, 60, 2)]
    assert set(skipped.values()) == {"not_found"} and len(skipped) == 30
    assert 1 < running[1] <= 3


def _answer_403(request: Any, **_: Any) -> AWSResponse:
    class Raw:
        def stream(self, **_: Any) -> Iterator[bytes]:
            yield b""

    return AWSResponse(request.url, 403, {"x-amz-request-id": "denied"}, Raw())


def test_access_denied_stops_the_run_with_what_to_do(
    s3: Any, tmp_path: Path, hooks: dict[str, Hook], capsys: pytest.CaptureFixture[str]
) -> None:
    hooks["before-send.s3.HeadObject"] = _answer_403

    code, _ = _manifest(tmp_path, "a.jpg\nmissing.jpg\n")

    assert code == ExitStatus.AUTH
    err = capsys.readouterr().err
    assert "access denied while checking that key" in err
    assert "s3:GetObject" in err and "s3:ListBucket" in err and "--trust-keys" in err
    assert "Traceback" not in err


def test_a_missing_bucket_is_not_a_file_of_missing_keys(
    s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "keys.txt"
    path.write_text("a.jpg\n")
    argv = ["manifest", "--keys-file", str(path), "--bucket", "no-such-bucket"]
    code = cli.main([*argv, "--region", REGION, "--out", str(tmp_path / "out")])

    assert code == ExitStatus.USAGE
    assert "bucket 'no-such-bucket' does not exist" in capsys.readouterr().err
