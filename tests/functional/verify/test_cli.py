"""`encord-register verify` against an in-process AWS (moto): a correct deployment passes,
each broken variant fails with its own message.

The deployment is what the access stack builds: a role trusting Encord's principal with
the external ID, a managed policy granting s3:GetObject on ``data/images/*``, and the
bucket's CORS rule for Encord's origins. moto does not implement IAM's policy simulator,
so permissions are decided by the local evaluator here (the output says so). The CORS
preflight needs a real HTTP endpoint: see test_verify_preflight.py.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.common_types import TYPE_RESPONSE
from moto.core.responses import ActionResult
from moto.s3 import responses as s3_responses
from moto.s3.models import s3_backends

import registration.cli.core as cli
from registration.contract import (
    OUTPUT_BUCKETS,
    OUTPUT_CORS_ORIGINS,
    OUTPUT_EXTERNAL_ID,
    OUTPUT_MRAPS,
    OUTPUT_ROLE_ARN,
    OUTPUT_TRUSTED_PRINCIPALS,
)
from registration.exit_codes import ExitStatus

ACCOUNT = "123456789012"  # moto's account
ENCORD_PRINCIPAL = "arn:aws:iam::111122223333:root"
EXTERNAL_ID = "encord-ext-7d1f09"
ROLE_NAME = "encord-access-role"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}"
BUCKET = "encord-data"
REGION = "eu-west-1"
PREFIX = "data/images/"
ORIGINS = ["https://app.encord.com", "https://app.us.encord.com"]
CORS_RULE = {
    "ID": "encord-access",
    "AllowedOrigins": ORIGINS,
    "AllowedMethods": ["GET", "HEAD"],
    "AllowedHeaders": ["*"],
    "ExposeHeaders": ["ETag", "Content-Length", "Content-Range", "Accept-Ranges"],
    "MaxAgeSeconds": 3600,
}
OBJECTS = {
    "data/images/": b"",  # folder marker: never sampled
    "data/images/0-empty.jpg": b"",  # zero bytes: never sampled
    "data/images/a.jpg": b"a",
    "data/images/b.jpg": b"b",
    "data/images/c.jpg": b"c",
    "data/images/d.jpg": b"d",
    "data/videos/clip.mp4": b"v",
}
SAMPLED = ["data/images/a.jpg", "data/images/b.jpg", "data/images/c.jpg"]


def trust_policy(*, external_id: str | None = EXTERNAL_ID, principal: Any = None) -> str:
    """The role's trust policy as the stack writes it (or broken, for the variants)."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": principal or {"AWS": ENCORD_PRINCIPAL},
        "Action": "sts:AssumeRole",
    }
    if external_id is not None:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


READ_IMAGES = {
    "Sid": "ReadImages",
    "Effect": "Allow",
    "Action": "s3:GetObject",
    "Resource": f"arn:aws:s3:::{BUCKET}/{PREFIX}*",
}


@dataclass
class Deployment:
    """Clients of the in-process AWS holding one deployment, to break it in tests."""

    iam: Any
    s3: Any
    kms: Any
    s3control: Any

    def put(self, key: str, body: bytes = b"x", **extra: Any) -> None:
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=body, **extra)

    def inline(self, name: str, *statements: dict[str, Any]) -> None:
        self.iam.put_role_policy(
            RoleName=ROLE_NAME, PolicyName=name, PolicyDocument=policy(*statements)
        )

    def set_payer(self, payer: str) -> None:
        # moto keeps the payer on the bucket but has no API for it (see the fixture).
        s3_backends[ACCOUNT]["aws"].get_bucket(BUCKET).payer = payer


def _request_payment_get(original: Any) -> Any:
    """moto routes GET ?requestPayment to ListObjects; answer it from the bucket's payer."""

    def handler(self: Any, bucket_name: str, querystring: dict[str, Any]) -> TYPE_RESPONSE:
        if "requestPayment" in querystring:
            self.data["Action"] = "GetBucketRequestPayment"
            payer = self.backend.get_bucket(bucket_name).payer
            return self.serialized(ActionResult({"Payer": payer}))  # type: ignore[no-any-return]
        return original(self, bucket_name, querystring)  # type: ignore[no-any-return]

    return handler


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, offline_aws: str) -> Iterator[Deployment]:
    """A correct deployment in an in-process AWS."""
    monkeypatch.setattr(
        s3_responses.S3Response,
        "_bucket_response_get",
        _request_payment_get(s3_responses.S3Response._bucket_response_get),
    )
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        s3 = boto3.client("s3", region_name=REGION)
        iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=trust_policy())
        arn = iam.create_policy(PolicyName="encord-read", PolicyDocument=policy(READ_IMAGES))
        iam.attach_role_policy(RoleName=ROLE_NAME, PolicyArn=arn["Policy"]["Arn"])
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [CORS_RULE]})
        deployment = Deployment(
            iam=iam,
            s3=s3,
            kms=boto3.client("kms", region_name=REGION),
            s3control=boto3.client("s3control", region_name="us-west-2"),
        )
        for key, body in OBJECTS.items():
            deployment.put(key, body)
        yield deployment


def flags(**overrides: str) -> list[str]:
    """The flags describing the deployment; `prefix="x/"` replaces --prefix, and so on."""
    options = {
        "role_arn": ROLE_ARN,
        "external_id": EXTERNAL_ID,
        "bucket": BUCKET,
        "prefix": PREFIX,
        "region": REGION,
        **overrides,
    }
    argv = [part for k, v in options.items() for part in (f"--{k.replace('_', '-')}", v)]
    return [*argv, "--no-preflight"]


FLAGS = flags()


def verify(
    capsys: pytest.CaptureFixture[str], *extra: str, **overrides: str
) -> tuple[int, dict[str, Any]]:
    """Run verify --json on the deployment (with `overrides` of its flags); (code, doc)."""
    code = cli.main(["verify", *flags(**overrides), *extra, "--json"])
    out = capsys.readouterr().out
    assert EXTERNAL_ID not in out
    return code, json.loads(out)


def checks(doc: dict[str, Any], name: str, status: str | None = None) -> list[dict[str, Any]]:
    return [
        c for c in doc["checks"] if c["name"] == name and (status is None or c["status"] == status)
    ]


def only_failure(doc: dict[str, Any]) -> dict[str, Any]:
    failures = [c for c in doc["checks"] if c["status"] == "FAILED"]
    assert len(failures) == 1, failures
    return failures[0]


# ----------------------------------------------------------------------------- passing


def test_correct_deployment_passes(aws: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = verify(capsys)
    assert code == ExitStatus.OK
    assert doc["ok"] is True
    assert doc["exit_status"] == 0
    statuses = {(c["name"], c["subject"]): c["status"] for c in doc["checks"]}
    assert statuses[("role", ROLE_ARN)] == "PASSED"
    assert statuses[("external-id", ROLE_ARN)] == "PASSED"
    for name in ("region", "requester-pays", "encryption", "object-encryption", "storage-class"):
        assert statuses[(name, f"s3://{BUCKET}")] == "PASSED", name
    for origin in ORIGINS:
        assert statuses[("cors-rules", f"s3://{BUCKET} for {origin}")] == "PASSED"
    assert statuses[("cors-preflight", f"s3://{BUCKET}")] == "NOT_CHECKED"
    reads = checks(doc, "get-object")
    assert [c["subject"] for c in reads] == [f"s3://{BUCKET}/{k}" for k in SAMPLED]
    assert {c["status"] for c in reads} == {"PASSED"}
    assert {c["method"] for c in reads} == {"local policy evaluation"}
    assert any("policy simulator was not available" in n for n in doc["notes"])
    assert doc["summary"] == {"passed": 12, "failed": 0, "not_checked": 1}
    role = checks(doc, "role")[0]
    assert ENCORD_PRINCIPAL in role["message"]
    assert "(matches)" in checks(doc, "external-id")[0]["message"]


def test_human_output(aws: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["verify", *FLAGS])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("PASS  role ")
    assert f"  {ROLE_ARN}: exists; trusts {ENCORD_PRINCIPAL}" in lines[0]
    assert any(
        line.startswith("SKIP  cors-preflight ") and "not sent (--no-preflight)" in line
        for line in lines
    )
    assert any(line.endswith("[local policy evaluation]") for line in lines)
    assert lines[-1] == "12 passed, 0 failed, 1 not checked"
    assert EXTERNAL_ID not in out


def test_json_shape(aws: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
    aws.iam.update_assume_role_policy(
        RoleName=ROLE_NAME, PolicyDocument=trust_policy(external_id=None)
    )
    code, doc = verify(capsys)
    assert code == ExitStatus.CHECKS_FAILED
    assert set(doc) == {"ok", "exit_status", "summary", "checks", "notes"}
    assert doc["ok"] is False
    assert doc["exit_status"] == 6
    assert set(doc["summary"]) == {"passed", "failed", "not_checked"}
    for check in doc["checks"]:
        assert set(check) == {"status", "name", "subject", "message", "fix", "method"}
        assert check["status"] in {"PASSED", "FAILED", "NOT_CHECKED"}
        assert (check["fix"] is not None) == (check["status"] == "FAILED")


def test_stack_outputs_file(
    aws: Deployment, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    aws.s3control.create_multi_region_access_point(
        AccountId=ACCOUNT,
        ClientToken="token",
        Details={"Name": "encord-mrap", "Regions": [{"Bucket": BUCKET}]},
    )
    alias = aws.s3control.get_multi_region_access_point(AccountId=ACCOUNT, Name="encord-mrap")[
        "AccessPoint"
    ]["Alias"]
    mrap_arn = f"arn:aws:s3::{ACCOUNT}:accesspoint/{alias}"
    outputs = {
        "EncordAccess": {
            OUTPUT_ROLE_ARN: ROLE_ARN,
            OUTPUT_EXTERNAL_ID: EXTERNAL_ID,
            OUTPUT_BUCKETS: json.dumps(
                [{"name": BUCKET, "region": REGION, "prefixes": [PREFIX], "created": False}]
            ),
            OUTPUT_MRAPS: json.dumps([{"alias": alias, "arn": mrap_arn, "buckets": [BUCKET]}]),
            OUTPUT_CORS_ORIGINS: json.dumps(ORIGINS),
        }
    }
    path = tmp_path / "cdk-outputs.json"
    path.write_text(json.dumps(outputs))
    code = cli.main(["verify", "--stack-outputs", str(path), "--no-preflight", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == ExitStatus.OK, [c for c in doc["checks"] if c["status"] == "FAILED"]
    assert [c["subject"] for c in checks(doc, "get-object")] == [
        f"s3://{BUCKET}/{k}" for k in SAMPLED
    ]
    (mrap,) = checks(doc, "mrap")
    assert mrap["status"] == "PASSED"
    assert mrap["subject"] == mrap_arn
    assert "encord-mrap is READY" in mrap["message"]
    assert "(matches)" in checks(doc, "external-id")[0]["message"]


def test_stack_outputs_principals_must_be_exactly_the_trusted_ones(
    aws: Deployment, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def outputs_with(principals: list[str]) -> Path:
        path = tmp_path / "cdk-outputs.json"
        raw = {
            OUTPUT_ROLE_ARN: ROLE_ARN,
            OUTPUT_EXTERNAL_ID: EXTERNAL_ID,
            OUTPUT_BUCKETS: json.dumps([{"name": BUCKET, "region": REGION, "prefixes": [PREFIX]}]),
            OUTPUT_CORS_ORIGINS: json.dumps(ORIGINS),
            OUTPUT_TRUSTED_PRINCIPALS: json.dumps(principals),
        }
        path.write_text(json.dumps({"EncordAccess": raw}))
        return path

    args = ["verify", "--no-preflight", "--json", "--stack-outputs"]
    assert cli.main([*args, str(outputs_with([ENCORD_PRINCIPAL]))]) == ExitStatus.OK
    capsys.readouterr()
    # The role still trusts the old principal, but the stack now names another one.
    other = "arn:aws:iam::444455556666:root"
    assert cli.main([*args, str(outputs_with([other]))]) == ExitStatus.CHECKS_FAILED
    (role,) = checks(json.loads(capsys.readouterr().out), "role")
    assert role["status"] == "FAILED"
    assert ENCORD_PRINCIPAL in role["message"] and other in role["message"]


# ----------------------------------------------------------------------------- the role


def test_trust_without_external_id(aws: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
    aws.iam.update_assume_role_policy(
        RoleName=ROLE_NAME, PolicyDocument=trust_policy(external_id=None)
    )
    code, doc = verify(capsys)
    assert code == ExitStatus.CHECKS_FAILED
    failure = only_failure(doc)
    assert failure["name"] == "external-id"
    assert failure["message"].startswith("trust without external ID: ")
    assert ENCORD_PRINCIPAL in failure["message"]
    assert "StringEquals sts:ExternalId" in failure["fix"]


def test_external_id_differs_without_showing_it(
    aws: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = verify(capsys, external_id="some-other-id")
    assert code == ExitStatus.CHECKS_FAILED
    failure = only_failure(doc)
    assert failure["name"] == "external-id"
    assert failure["message"].startswith("the external ID differs: ")
    assert "some-other-id" not in json.dumps(doc)


def test_wildcard_principal(aws: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
    aws.iam.update_assume_role_policy(
        RoleName=ROLE_NAME, PolicyDocument=trust_policy(principal={"AWS": "*"})
    )
    code, doc = verify(capsys)
    assert code == ExitStatus.CHECKS_FAILED
    failure = only_failure(doc)
    assert (failure["name"], failure["message"]) == ("role", "trusts any AWS principal (`*`)")


def test_principal_not_the_configured_one(
    aws: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = verify(capsys, "--principal", "arn:aws:iam::444455556666:role/encord")
    assert code == ExitStatus.CHECKS_FAILED
    failure = only_failure(doc)
    assert failure["name"] == "role"
    assert f"trusts {ENCORD_PRINCIPAL}, which is not a configured principal" in failure["message"]
    assert "does not trust arn:aws:iam::444455556666:role/encord" in failure["message"]
    code, doc = verify(capsys, "--principal", "111122223333")  # an account ID means its root
    assert code == ExitStatus.OK


def test_missing_role(aws: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
    missing = f"arn:aws:iam::{ACCOUNT}:role/not-deployed"
    code, doc = verify(capsys, role_arn=missing)
    assert code == ExitStatus.CHECKS_FAILED
    failure = only_failure(doc)
    assert (failure["name"], failure["subject"]) == ("role", missing)
    assert failure["message"] == "the role does not exist in this account"
    assert {c["status"] for c in checks(doc, "get-object")} == {"NOT_CHECKED"}


# ----------------------------------------------------------------------------- permissions


def test_prefix_not_granted(aws: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = verify(capsys, prefix="data/videos/")
    assert code == ExitStatus.CHECKS_FAILED
    failure = only_failure(doc)
    assert failure["name"] == "get-object"
    assert failure["subject"] == f"s3://{BUCKET}/data/videos/clip.mp4"
    assert failure["message"].startswith("the role may not read it: no Allow statement matches")
    assert f"arn:aws:s3:::{BUCKET}/data/videos/*" in failure["fix"]
    assert failure["method"] == "local policy evaluation"


def test_explicit_deny_wins(aws: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
    aws.inline(
        "no-b",
        {
            "Sid": "NoB",
            "Effect": "Deny",
            "Action": "s3:Get*",
            "Resource": f"arn:aws:s3:::{BUCKET}/data/images/b.*",
        },
    )
    code, doc = verify(capsys)
    assert code == ExitStatus.CHECKS_FAILED
    failure = only_failure(doc)
    assert failure["subject"] == f"s3://{BUCKET}/data/images/b.jpg"
    assert "denied by statement 'NoB' of inline policy no-b (explicit deny)" in failure["message"]


def test_condition_not_evaluable_is_not_checked(
    aws: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.inline(
        "office-only",
        {
            "Effect": "Deny",
            "Action": "s3:GetObject",
            "Resource": "*",
            "Condition": {"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}},
        },
    )
    code, doc = verify(capsys)
    assert code == ExitStatus.OK
    reads = checks(doc, "get-object")
    assert {c["status"] for c in reads} == {"NOT_CHECKED"}
    assert "condition operator NotIpAddress is not evaluated locally" in reads[0]["message"]


def test_prefix_without_objects_is_not_checked(
    aws: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = verify(capsys, prefix="data/empty/")
    assert code == ExitStatus.OK
    (read,) = checks(doc, "get-object")
    assert read["status"] == "NOT_CHECKED"
    assert read["subject"] == f"s3://{BUCKET}/data/empty/"
    assert read["message"].startswith("no objects under this prefix to sample")


# ----------------------------------------------------------------------------- CORS


def test_cors_missing_an_origin(aws: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
    rule = {**CORS_RULE, "AllowedOrigins": ["https://app.encord.com"]}
    aws.s3.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [rule]})
    code, doc = verify(capsys)
    assert code == ExitStatus.CHECKS_FAILED
    failure = only_failure(doc)
    assert failure["name"] == "cors-rules"
    assert failure["subject"] == f"s3://{BUCKET} for https://app.us.encord.com"
    assert failure["message"] == "no CORS rule allows origin https://app.us.encord.com"
    assert failure["fix"].startswith(
        f"Run `encord-register cors apply --bucket {BUCKET} --origin https://app.encord.com "
        "--origin https://app.us.encord.com`"
    )
    assert "a CORS rule for https://app.us.encord.com allowing GET and HEAD" in failure["fix"]


def test_cors_without_range_headers(aws: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
    customer = {"AllowedOrigins": ["*"], "AllowedMethods": ["PUT"], "AllowedHeaders": ["*"]}
    ours = {**CORS_RULE, "ExposeHeaders": ["ETag", "content-length"]}
    aws.s3.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [customer, ours]})
    code, doc = verify(capsys, "--origin", "https://app.encord.com")
    assert code == ExitStatus.CHECKS_FAILED
    failure = only_failure(doc)
    assert failure["message"] == (
        "rule 'encord-access' (used for GET/HEAD from https://app.encord.com) "
        "does not expose Content-Range, Accept-Ranges"
    )


def test_no_cors_configuration(aws: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
    aws.s3.delete_bucket_cors(Bucket=BUCKET)
    code, doc = verify(capsys)
    assert code == ExitStatus.CHECKS_FAILED
    failures = checks(doc, "cors-rules", "FAILED")
    assert len(failures) == 2
    assert failures[0]["message"].startswith("the bucket has no CORS configuration")


def _fix_command(failure: dict[str, Any]) -> list[str]:
    """The `encord-register ...` command a fix names, as argv for the CLI's main."""
    command = failure["fix"].split("`")[1]
    assert command.startswith("encord-register cors apply ")
    return shlex.split(command)[1:]


CUSTOMER_RULE = {
    "ID": "customer",
    "AllowedOrigins": ["https://x.example"],
    "AllowedMethods": ["PUT"],
}


def test_the_fix_for_a_missing_rule_puts_it_back(
    aws: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rule missing -> verify fails and names a command -> the command -> verify passes."""
    aws.s3.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [CUSTOMER_RULE]})
    code, doc = verify(capsys)
    assert code == ExitStatus.CHECKS_FAILED
    failures = checks(doc, "cors-rules", "FAILED")
    assert len(failures) == 2  # one per origin, each with its own command
    for failure in failures:
        assert cli.main(_fix_command(failure)) == ExitStatus.OK
    out = capsys.readouterr().out
    assert "put in place" in out and "1 other rule(s) kept" in out
    code, doc = verify(capsys)
    assert code == ExitStatus.OK, only_failure(doc)
    rules = aws.s3.get_bucket_cors(Bucket=BUCKET)["CORSRules"]
    assert rules[0] == CUSTOMER_RULE and [r["ID"] for r in rules] == [
        "customer",
        "encord-access-cli",
    ]
    # Idempotent: running it again writes nothing.
    assert cli.main(_fix_command(failures[0])) == ExitStatus.OK
    assert "already in place, nothing written" in capsys.readouterr().out
    assert aws.s3.get_bucket_cors(Bucket=BUCKET)["CORSRules"] == rules


def test_the_fix_with_a_stack_restores_the_stacks_own_rule(
    aws: Deployment, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """With the stack's outputs, the command writes the stack's rule ID and origins, so the
    stack still owns the rule (its update replaces it, its deletion removes it)."""
    rule_id = "encord-access-EncordAccess-eu-west-1-0123abcd"
    bucket = {"name": BUCKET, "region": REGION, "prefixes": [PREFIX], "corsRuleId": rule_id}
    outputs = tmp_path / "cdk-outputs.json"
    outputs.write_text(
        json.dumps(
            {
                "EncordAccess": {
                    OUTPUT_ROLE_ARN: ROLE_ARN,
                    OUTPUT_EXTERNAL_ID: EXTERNAL_ID,
                    OUTPUT_BUCKETS: json.dumps([bucket]),
                    OUTPUT_CORS_ORIGINS: json.dumps(ORIGINS),
                }
            }
        )
    )
    aws.s3.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [CUSTOMER_RULE]})
    stack = ["--stack-outputs", str(outputs), "--no-preflight"]
    assert cli.main(["verify", *stack, "--json"]) == ExitStatus.CHECKS_FAILED
    failure = checks(json.loads(capsys.readouterr().out), "cors-rules", "FAILED")[0]
    argv = _fix_command(failure)
    assert argv == ["cors", "apply", "--stack-outputs", str(outputs), "--bucket", BUCKET]
    assert cli.main(argv) == ExitStatus.OK
    capsys.readouterr()
    assert cli.main(["verify", *stack]) == ExitStatus.OK
    capsys.readouterr()
    assert aws.s3.get_bucket_cors(Bucket=BUCKET)["CORSRules"] == [
        CUSTOMER_RULE,
        {**CORS_RULE, "ID": rule_id},
    ]
    # And `cors remove` with the stack takes exactly that rule off again.
    assert cli.main(["cors", "remove", "--stack-outputs", str(outputs), "--json"]) == 0
    (removed,) = json.loads(capsys.readouterr().out)
    assert removed == {
        "bucket": BUCKET,
        "ruleId": rule_id,
        "action": "remove",
        "changed": True,
        "otherRules": 1,
    }
    assert aws.s3.get_bucket_cors(Bucket=BUCKET)["CORSRules"] == [CUSTOMER_RULE]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["cors", "apply"], "name the bucket(s) with --bucket NAME"),
        (["cors", "apply", "--bucket", "no-such-bucket"], "s3://no-such-bucket does not exist"),
        (
            [
                "cors",
                "remove",
                "--bucket",
                BUCKET,
                "--rule-id",
                "x",
                "--stack-outputs",
                "nope.json",
            ],
            "stack outputs file nope.json does not exist",
        ),
    ],
)
def test_cors_command_usage_errors(
    aws: Deployment, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert cli.main(argv) == ExitStatus.USAGE
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


# ----------------------------------------------------------------------------- encryption


def test_aws_managed_kms_key_by_alias(aws: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
    aws.s3.put_bucket_encryption(
        Bucket=BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": "alias/aws/s3",
                    }
                }
            ]
        },
    )
    code, doc = verify(capsys)
    assert code == ExitStatus.CHECKS_FAILED
    (failure,) = checks(doc, "encryption", "FAILED")
    assert failure["message"].startswith("SSE-KMS with the AWS-managed key aws/s3 (alias/aws/s3)")
    assert "cannot use an AWS-managed key" in failure["message"]
    assert "customer-managed KMS key" in failure["fix"]
    # Objects written before the change keep their own encryption.
    assert checks(doc, "object-encryption")[0]["status"] == "PASSED"


def test_aws_managed_kms_key_by_arn(aws: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
    key_arn = aws.kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]["Arn"]
    aws.put("data/images/a.jpg", ServerSideEncryption="aws:kms", SSEKMSKeyId=key_arn)
    aws.s3.put_bucket_encryption(
        Bucket=BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": key_arn,
                    }
                }
            ]
        },
    )
    code, doc = verify(capsys)
    assert code == ExitStatus.CHECKS_FAILED
    (bucket_failure,) = checks(doc, "encryption", "FAILED")
    assert bucket_failure["message"].startswith(
        f"SSE-KMS with the AWS-managed key aws/s3 ({key_arn})"
    )
    (object_failure,) = checks(doc, "object-encryption", "FAILED")
    assert object_failure["message"].startswith("data/images/a.jpg: SSE-KMS with the AWS-managed")


def _customer_key(aws: Deployment) -> str:
    key_arn: str = aws.kms.create_key(Description="encord data")["KeyMetadata"]["Arn"]
    aws.s3.put_bucket_encryption(
        Bucket=BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": key_arn,
                    }
                }
            ]
        },
    )
    return key_arn


def test_customer_key_without_decrypt(aws: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
    key_arn = _customer_key(aws)
    code, doc = verify(capsys)
    assert code == ExitStatus.CHECKS_FAILED
    failure = only_failure(doc)
    assert failure["name"] == "encryption"
    assert failure["message"].startswith(
        f"the role may not kms:Decrypt with customer-managed key {key_arn}"
    )
    assert "kmsKeyArn" in failure["fix"]


def test_customer_key_with_decrypt_through_s3(
    aws: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    key_arn = _customer_key(aws)
    aws.inline(
        "decrypt",
        {
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}},
        },
    )
    aws.put("data/images/a.jpg")  # now under the customer key
    code, doc = verify(capsys)
    assert code == ExitStatus.OK
    (encryption,) = checks(doc, "encryption")
    assert encryption["message"] == (
        f"aws:kms default, customer-managed key {key_arn}; the role may kms:Decrypt with it"
    )
    assert checks(doc, "object-encryption")[0]["status"] == "PASSED"


def _decrypt_scoped_to(aws: Deployment, key_arn: str, *s3_arns: str) -> None:
    """Grant kms:Decrypt as the stack does: through S3, for the named S3 resources only."""
    aws.inline(
        "decrypt",
        {
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": key_arn,
            "Condition": {
                "StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"},
                "ArnLike": {"kms:EncryptionContext:aws:s3:arn": list(s3_arns)},
            },
        },
    )


def test_customer_key_scoped_by_encryption_context(
    aws: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    key_arn = _customer_key(aws)
    _decrypt_scoped_to(aws, key_arn, f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/data/*")
    aws.put("data/images/a.jpg")
    code, doc = verify(capsys)
    assert code == ExitStatus.OK
    assert checks(doc, "encryption")[0]["status"] == "PASSED"
    assert checks(doc, "object-encryption")[0]["status"] == "PASSED"


def test_customer_key_scoped_to_another_bucket_fails(
    aws: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    key_arn = _customer_key(aws)
    _decrypt_scoped_to(aws, key_arn, "arn:aws:s3:::another-bucket", "arn:aws:s3:::another-bucket/*")
    aws.put("data/images/a.jpg")
    code, doc = verify(capsys)
    assert code == ExitStatus.CHECKS_FAILED
    (failure,) = checks(doc, "encryption", "FAILED")
    assert failure["message"].startswith(
        f"the role may not kms:Decrypt with customer-managed key {key_arn}"
    )
    assert checks(doc, "object-encryption")[0]["status"] == "FAILED"


# ----------------------------------------------------------------------------- bucket settings


def test_requester_pays(aws: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
    aws.set_payer("Requester")
    code, doc = verify(capsys)
    assert code == ExitStatus.CHECKS_FAILED
    failure = only_failure(doc)
    assert failure["name"] == "requester-pays"
    assert failure["message"].startswith("requester pays is on: ")
    assert "Payer=BucketOwner" in failure["fix"]


def test_wrong_region(aws: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = verify(capsys, region="us-east-1")
    assert code == ExitStatus.CHECKS_FAILED
    failure = only_failure(doc)
    assert failure["name"] == "region"
    assert failure["message"] == "the bucket is in eu-west-1, but URLs would name us-east-1"


def test_missing_bucket(aws: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = verify(capsys, bucket="no-such-encord-bucket")
    assert code == ExitStatus.CHECKS_FAILED
    failures = [c for c in doc["checks"] if c["status"] == "FAILED"]
    assert [(c["name"], c["subject"], c["message"]) for c in failures] == [
        ("bucket", "s3://no-such-encord-bucket", "the bucket does not exist")
    ]


def test_archived_sample(aws: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
    aws.put("data/images/b.jpg", StorageClass="GLACIER")
    aws.put("data/images/c.jpg", StorageClass="DEEP_ARCHIVE")
    aws.s3.restore_object(Bucket=BUCKET, Key="data/images/c.jpg", RestoreRequest={"Days": 1})
    aws.put("data/images/a.jpg", StorageClass="GLACIER_IR")
    code, doc = verify(capsys)
    assert code == ExitStatus.CHECKS_FAILED
    failure = only_failure(doc)
    assert failure["name"] == "storage-class"
    assert failure["message"] == (
        "1 of 3 sample objects are archived and not restored: "
        "data/images/b.jpg (GLACIER, not restored)"
    )
    assert "restore-object" in failure["fix"]


def test_missing_mrap(aws: Deployment, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    arn = f"arn:aws:s3::{ACCOUNT}:accesspoint/mfzwi23gnjvgw.mrap"
    outputs = {
        "EncordAccess": {
            OUTPUT_ROLE_ARN: ROLE_ARN,
            OUTPUT_EXTERNAL_ID: EXTERNAL_ID,
            OUTPUT_BUCKETS: json.dumps([{"name": BUCKET, "region": REGION, "prefixes": [PREFIX]}]),
            OUTPUT_MRAPS: json.dumps([{"alias": "mfzwi23gnjvgw.mrap", "arn": arn}]),
        }
    }
    path = tmp_path / "cdk-outputs.json"
    path.write_text(json.dumps(outputs))
    code = cli.main(["verify", "--stack-outputs", str(path), "--no-preflight", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == ExitStatus.CHECKS_FAILED
    failure = only_failure(doc)
    assert (failure["name"], failure["subject"]) == ("mrap", arn)
    assert failure["message"] == (
        f"no Multi-Region Access Point with alias mfzwi23gnjvgw.mrap in account {ACCOUNT}"
    )


# ----------------------------------------------------------------------------- errors


@pytest.mark.usefixtures("no_aws_credentials")
def test_no_credentials_is_an_auth_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["verify", *FLAGS])
    captured = capsys.readouterr()
    assert code == ExitStatus.AUTH
    assert "error: no AWS credentials found (iam:GetRole)" in captured.err
    assert captured.out == ""


def test_nothing_to_verify_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["verify", "--origin", "*"])
    err = capsys.readouterr().err
    assert code == ExitStatus.USAGE
    assert "nothing to verify" in err
    assert "origin '*' is not an http(s) origin" in err


def test_stack_read_from_cloudformation(
    aws: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = {
        OUTPUT_ROLE_ARN: ROLE_ARN,
        OUTPUT_EXTERNAL_ID: EXTERNAL_ID,
        OUTPUT_BUCKETS: json.dumps([{"name": BUCKET, "region": REGION, "prefixes": [PREFIX]}]),
        OUTPUT_CORS_ORIGINS: json.dumps(ORIGINS),
    }
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    cloudformation.create_stack(StackName="EncordAccess", TemplateBody=json.dumps(template))
    code = cli.main(["verify", "--stack", "EncordAccess", "--no-preflight", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == ExitStatus.OK
    assert [c["subject"] for c in checks(doc, "get-object")] == [
        f"s3://{BUCKET}/{k}" for k in SAMPLED
    ]
    assert "(matches)" in checks(doc, "external-id")[0]["message"]
