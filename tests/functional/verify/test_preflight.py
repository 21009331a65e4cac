"""`verify`'s real CORS preflight: OPTIONS over HTTP to the local AWS emulator on loopback.

The emulator (`tests.emulators.moto_server`) answers preflights as S3 does: from the CORS
configuration alone, with the first rule that matches origin, method and headers. So the
objects here are private, as real data is, and the bucket carries a customer's rule for
another origin ahead of Encord's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

import registration.cli.core as cli
from registration.exit_codes import ExitStatus
from tests.emulators.moto_server import running_moto_server

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
CUSTOMER_RULE = {
    "ID": "customer",
    "AllowedOrigins": ["https://x.example"],
    "AllowedMethods": ["PUT"],
}
CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    """The patched emulator as a child process; yields ``http://localhost:PORT``."""
    with running_moto_server() as endpoint:
        yield endpoint


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
    s3.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [CUSTOMER_RULE, CORS_RULE]})
    for key in ("images/cat 1.jpg", "images/dog.jpg"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"img")  # private


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
    assert f"a CORS rule for {OTHER} allowing GET" in refused["fix"]
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
