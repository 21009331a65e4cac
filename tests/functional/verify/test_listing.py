"""`verify` checks the listing grant when the stack says allowListing (in-process AWS, moto).

The policy is what the access stack writes with ``allowListing``: s3:ListBucket on the bucket
with ``StringLike s3:prefix`` = each prefix followed by ``*``. moto has no policy simulator,
so the local evaluator decides (the results say so).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

import registration.cli.core as cli
from registration.contract import (
    OUTPUT_ALLOW_LISTING,
    OUTPUT_BUCKETS,
    OUTPUT_EXTERNAL_ID,
    OUTPUT_ROLE_ARN,
)
from registration.exit_codes import ExitStatus

ACCOUNT = "123456789012"
ROLE_NAME = "encord-access-role"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}"
BUCKET = "encord-data"
REGION = "eu-west-1"
PREFIXES = ["images/", "videos/"]
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": "ext"}},
        }
    ],
}
CORS_RULE = {
    "AllowedOrigins": ["https://app.encord.com", "https://app.us.encord.com"],
    "AllowedMethods": ["GET", "HEAD"],
    "AllowedHeaders": ["*"],
    "ExposeHeaders": ["ETag", "Content-Length", "Content-Range", "Accept-Ranges"],
}
READ = {
    "Sid": "ReadConfiguredPrefixes",
    "Effect": "Allow",
    "Action": "s3:GetObject",
    "Resource": [f"arn:aws:s3:::{BUCKET}/{p}*" for p in PREFIXES],
}


def listing(prefixes: list[str]) -> dict[str, Any]:
    return {
        "Sid": "ListConfiguredPrefixes0",
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": f"arn:aws:s3:::{BUCKET}",
        "Condition": {"StringLike": {"s3:prefix": [f"{p}*" for p in prefixes]}},
    }


@pytest.fixture
def iam(offline_aws: str) -> Iterator[Any]:
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        s3 = boto3.client("s3", region_name=REGION)
        iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(TRUST))
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [CORS_RULE]})
        for prefix in PREFIXES:
            s3.put_object(Bucket=BUCKET, Key=f"{prefix}a.jpg", Body=b"a")
        yield iam


def attach(iam: Any, *statements: dict[str, Any]) -> None:
    document = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    arn = iam.create_policy(PolicyName="encord-read", PolicyDocument=document)["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=ROLE_NAME, PolicyArn=arn)


def run_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str], allow: str) -> tuple[int, Any]:
    raw = {
        OUTPUT_ROLE_ARN: ROLE_ARN,
        OUTPUT_EXTERNAL_ID: "ext",
        OUTPUT_BUCKETS: json.dumps([{"name": BUCKET, "region": REGION, "prefixes": PREFIXES}]),
        OUTPUT_ALLOW_LISTING: allow,
    }
    path = tmp_path / "cdk-outputs.json"
    path.write_text(json.dumps({"EncordAccess": raw}))
    code = cli.main(["verify", "--stack-outputs", str(path), "--no-preflight", "--json"])
    return code, json.loads(capsys.readouterr().out)


def listing_checks(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in doc["checks"] if c["name"] == "list-bucket"]


def test_the_stacks_listing_grant_passes(
    iam: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    attach(iam, READ, listing(PREFIXES))
    code, doc = run_verify(tmp_path, capsys, "true")
    assert code == ExitStatus.OK, [c for c in doc["checks"] if c["status"] == "FAILED"]
    checks = listing_checks(doc)
    assert [c["subject"] for c in checks] == [f"s3://{BUCKET}/{p}" for p in PREFIXES]
    assert {c["status"] for c in checks} == {"PASSED"}
    assert {c["method"] for c in checks} == {"local policy evaluation"}


def test_a_missing_or_narrower_grant_fails_with_the_fix(
    iam: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    attach(iam, READ, listing(["images/"]))
    code, doc = run_verify(tmp_path, capsys, "true")
    assert code == ExitStatus.CHECKS_FAILED
    by_subject = {c["subject"]: c for c in listing_checks(doc)}
    assert by_subject[f"s3://{BUCKET}/images/"]["status"] == "PASSED"
    failure = by_subject[f"s3://{BUCKET}/videos/"]
    assert failure["status"] == "FAILED"
    assert failure["message"].startswith("the stack says allowListing, but the role may not list")
    assert 'StringLike s3:prefix "videos/*"' in failure["fix"]
    assert "redeploy" in failure["fix"]


def test_an_explicit_deny_fails(
    iam: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deny = {
        "Effect": "Deny",
        "Action": "s3:ListBucket",
        "Resource": f"arn:aws:s3:::{BUCKET}",
        "Condition": {"StringLike": {"s3:prefix": "videos/*"}},
    }
    attach(iam, READ, listing(PREFIXES), deny)
    code, doc = run_verify(tmp_path, capsys, "true")
    assert code == ExitStatus.CHECKS_FAILED
    failed = [c for c in listing_checks(doc) if c["status"] == "FAILED"]
    assert [c["subject"] for c in failed] == [f"s3://{BUCKET}/videos/"]
    assert "explicit Deny" in failed[0]["fix"]


def test_no_listing_check_when_the_stack_does_not_allow_listing(
    iam: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    attach(iam, READ)
    code, doc = run_verify(tmp_path, capsys, "false")
    assert code == ExitStatus.OK
    assert listing_checks(doc) == []
