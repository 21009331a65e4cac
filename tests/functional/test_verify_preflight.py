"""`verify`'s real CORS preflight: OPTIONS over HTTP to a moto server on loopback.

moto answers preflights from the bucket's CORS rules when started with
MOTO_DISABLE_GLOBAL_CORS=true. One moto quirk shapes the setup: it refuses an unsigned
OPTIONS on an *existing private* object with 403 before looking at CORS (real S3 answers
preflights from the CORS rules alone), so the sample objects here are public-read.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from registration import cli
from registration.exit_codes import ExitStatus

ACCOUNT = "123456789012"
ROLE_NAME = "encord-access-role"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}"
EXTERNAL_ID = "encord-ext-preflight"
BUCKET = "encord-preflight"
REGION = "eu-west-1"
ENCORD = "https://app.encord.com"
OTHER = "https://other.example.com"
CORS_RULE = {
    "ID": "encord-access",
    "AllowedOrigins": [ENCORD],
    "AllowedMethods": ["GET", "HEAD"],
    "AllowedHeaders": ["*"],
    "ExposeHeaders": ["ETag", "Content-Length", "Content-Range", "Accept-Ranges"],
    "MaxAgeSeconds": 3600,
}
CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def moto_server() -> Iterator[str]:
    """A moto server subprocess on a free port; yields its endpoint, always stopped."""
    port = _free_port()
    env = {**os.environ, "MOTO_DISABLE_GLOBAL_CORS": "true"}
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://localhost:{port}"  # localhost, not 127.0.0.1: moto's path style
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the moto server did not start") from None
                time.sleep(0.05)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _deploy(endpoint: str) -> None:
    iam = boto3.client("iam", region_name="us-east-1", endpoint_url=endpoint, **CREDENTIALS)
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=endpoint, **CREDENTIALS)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}},
            }
        ],
    }
    iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))
    read = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"}
        ],
    }
    arn = iam.create_policy(PolicyName="encord-read", PolicyDocument=json.dumps(read))
    iam.attach_role_policy(RoleName=ROLE_NAME, PolicyArn=arn["Policy"]["Arn"])
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [CORS_RULE]})
    for key in ("images/cat 1.jpg", "images/dog.jpg"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"img", ACL="public-read")


def _verify(capsys: pytest.CaptureFixture[str], prefix: str) -> tuple[int, dict[str, Any]]:
    code = cli.main(
        [
            "verify",
            *("--role-arn", ROLE_ARN, "--external-id", EXTERNAL_ID),
            *("--bucket", BUCKET, "--prefix", prefix, "--region", REGION),
            *("--origin", ENCORD, "--origin", OTHER, "--json"),
        ]
    )
    return code, json.loads(capsys.readouterr().out)


def test_preflight_against_a_real_endpoint(
    moto_server: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _deploy(moto_server)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")

    code, doc = _verify(capsys, "images/")
    preflight = {c["subject"]: c for c in doc["checks"] if c["name"] == "cors-preflight"}
    url = f"{moto_server}/{BUCKET}/images/cat%201.jpg"
    allowed = preflight[f"s3://{BUCKET} for {ENCORD}"]
    assert allowed["status"] == "PASSED"
    assert allowed["message"] == (
        f"OPTIONS {url} answered 200 with Access-Control-Allow-Origin: {ENCORD}"
    )
    refused = preflight[f"s3://{BUCKET} for {OTHER}"]
    assert refused["status"] == "FAILED"
    assert refused["message"] == (
        f"the preflight from {OTHER} was refused: OPTIONS {url} answered 403 "
        "with no Access-Control-Allow-Origin"
    )
    assert f"Add a CORS rule for {OTHER}" in refused["fix"]
    # The rules agree with the endpoint; everything else about the deployment passes.
    failures = sorted((c["name"], c["subject"]) for c in doc["checks"] if c["status"] == "FAILED")
    assert failures == [
        ("cors-preflight", f"s3://{BUCKET} for {OTHER}"),
        ("cors-rules", f"s3://{BUCKET} for {OTHER}"),
    ]
    assert code == ExitStatus.CHECKS_FAILED

    # No sample under the prefix: the preflight still goes out, for a key under it.
    code, doc = _verify(capsys, "empty/")
    preflight = {c["subject"]: c for c in doc["checks"] if c["name"] == "cors-preflight"}
    assert preflight[f"s3://{BUCKET} for {ENCORD}"]["status"] == "PASSED"
    assert (
        f"/{BUCKET}/empty/encord-verify-preflight "
        in (preflight[f"s3://{BUCKET} for {ENCORD}"]["message"])
    )
