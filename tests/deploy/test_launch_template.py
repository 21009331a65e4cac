"""The launch-stack template in ``dist/`` deployed as a console user would: create, update, delete.

CloudFormation calls go through boto3 (``create_stack`` with parameters, ``update_stack``,
``delete_stack``) to the local AWS emulator (moto's server with the patches of
`tests.emulators.moto_server`). After each step the role's trust and attached policy are
what the template evaluates to for those parameters (`tests.stack.cfn_eval`, which the unit
tests prove equal to the CDK stack's), and the helper runs on the stack by name: ``verify``
finds the missing CORS rule, ``cors apply --stack`` adds it next to the customer's, and
``verify`` then passes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from registration.cli import main as cli_main
from registration.stack_outputs import load_stack_outputs
from tests.deploy.test_deploy import (
    CUSTOMER_RULE,
    attached_policy_document,
    client,
    cors_rules,
)
from tests.emulators.moto_server import EMULATOR_ENV, running_moto_server
from tests.stack.cfn_eval import evaluate

pytestmark = [pytest.mark.deploy, pytest.mark.xdist_group("deploy"), pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_FILE = ROOT / "dist" / "encord-access.template.yaml"
STACK = "EncordLaunchTemplateTest"
EXTERNAL_ID = "launch-test-external-id"
BUCKETS = ("launch-data-one", "launch-data-two", "launch-data-three")
KEYS = ("images/cat 1.jpg", "videos/clip.mp4", "private/payroll.csv")


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work = tmp_path_factory.mktemp("launch")
    with running_moto_server(log_file=work / "moto.log") as endpoint:
        yield endpoint


@pytest.fixture
def helper_env(aws: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The helper's environment: the emulator's endpoint and credentials."""
    for key, value in {**EMULATOR_ENV, "AWS_ENDPOINT_URL": aws}.items():
        monkeypatch.setenv(key, value)
    return aws


def _parameters(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


def _wait(cfn: Any, wanted: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        (stack,) = cfn.describe_stacks(StackName=STACK)["Stacks"]
        status = stack["StackStatus"]
        if status == wanted:
            return dict(stack)
        assert not status.endswith(("FAILED", "ROLLBACK_COMPLETE")), stack
        assert time.monotonic() < deadline, f"stack stuck in {status}"
        time.sleep(0.2)


def _deployed(iam: Any, cfn: Any) -> tuple[dict[str, Any], dict[str, Any], int]:
    """The deployed role's trust, its attached policy and its maximum session."""
    outputs = {o["OutputKey"]: o["OutputValue"] for o in _wait_outputs(cfn)}
    role = iam.get_role(RoleName=outputs["EncordRoleArn"].rsplit("/", 1)[1])["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(unquote(trust)) if isinstance(trust, str) else trust
    return trust, attached_policy_document(iam, role["RoleName"]), role["MaxSessionDuration"]


def _wait_outputs(cfn: Any) -> list[dict[str, str]]:
    (stack,) = cfn.describe_stacks(StackName=STACK)["Stacks"]
    return list(stack["Outputs"])


def _expected(params: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any], int]:
    """What the template evaluates to for `params`: trust, policy, maximum session."""
    evaluated = evaluate(json.loads(TEMPLATE_FILE.with_suffix(".json").read_text()), params)
    (role,) = evaluated.of_type("AWS::IAM::Role").values()
    (policy,) = evaluated.of_type("AWS::IAM::ManagedPolicy").values()
    props = role["Properties"]
    return (
        props["AssumeRolePolicyDocument"],
        policy["Properties"]["PolicyDocument"],
        props["MaxSessionDuration"],
    )


def _verify(capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = cli_main(["verify", "--stack", STACK, "--json"])
    return code, json.loads(capsys.readouterr().out)


def _failed(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in report["checks"] if c["status"] == "FAILED"]


def test_launch_update_and_delete(
    helper_env: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    endpoint = helper_env
    cfn, s3, iam, kms = (client(endpoint, s) for s in ("cloudformation", "s3", "iam", "kms"))
    body = TEMPLATE_FILE.read_text()
    key_arn = kms.create_key(Description="launch test data key")["KeyMetadata"]["Arn"]
    for bucket in BUCKETS:
        s3.create_bucket(Bucket=bucket)
        for key in KEYS:
            s3.put_object(Bucket=bucket, Key=key, Body=b"data")
    s3.put_bucket_cors(Bucket=BUCKETS[0], CORSConfiguration={"CORSRules": [CUSTOMER_RULE]})

    # 1. One bucket, the whole of it: the console's minimum.
    first = {
        "TrustedPrincipals": "210987654321",
        "ExternalId": EXTERNAL_ID,
        "BucketNames": BUCKETS[0],
    }
    cfn.create_stack(
        StackName=STACK,
        TemplateBody=body,
        Parameters=_parameters(first),
        Capabilities=["CAPABILITY_IAM"],
    )
    _wait(cfn, "CREATE_COMPLETE")
    trust, policy, session = _deployed(iam, cfn)
    assert (trust, policy, session) == _expected(first)
    assert policy["Statement"] == [
        {
            "Action": "s3:GetObject",
            "Effect": "Allow",
            "Resource": [f"arn:aws:s3:::{BUCKETS[0]}/*"],
            "Sid": "ReadConfiguredPrefixes",
        }
    ]
    assert [s["Principal"]["AWS"] for s in trust["Statement"]] == ["210987654321"]
    assert {s["Condition"]["StringEquals"]["sts:ExternalId"] for s in trust["Statement"]} == {
        EXTERNAL_ID
    }

    # The helper reads the stack by name, as it reads a CDK-deployed one.
    outputs = load_stack_outputs(None, STACK)
    assert outputs is not None and outputs.external_id == EXTERNAL_ID
    assert [(b.name, b.region, b.prefixes, b.write_prefix) for b in outputs.buckets] == [
        (BUCKETS[0], "us-east-1", ("",), None)
    ]

    # verify finds the CORS rule missing and says to run the command the outputs give.
    code, report = _verify(capsys)
    assert code != 0
    assert {c["name"] for c in _failed(report)} == {"cors-rules", "cors-preflight"}
    command = {o["OutputKey"]: o["OutputValue"] for o in _wait_outputs(cfn)}["CorsApplyCommand"]
    assert command == f"encord-register cors apply --stack {STACK} --region us-east-1"
    assert cli_main(command.split()[1:]) == 0
    (ours,) = [r for r in cors_rules(s3, BUCKETS[0]) if r["ID"] != CUSTOMER_RULE["ID"]]
    assert cors_rules(s3, BUCKETS[0]) == [CUSTOMER_RULE, ours]
    assert ours["ID"] == f"encord-access-{STACK}"
    code, report = _verify(capsys)
    assert code == 0, _failed(report)
    out = tmp_path / "manifests"
    assert cli_main(["manifest", "--stack", STACK, "--bucket", BUCKETS[0], "--out", str(out)]) == 0
    registered = json.loads((out / "manifest-00001.json").read_text())
    urls = sorted(i["objectUrl"] for v in registered.values() if isinstance(v, list) for i in v)
    assert urls == [
        f"https://{BUCKETS[0]}.s3.us-east-1.amazonaws.com/images/cat%201.jpg",
        f"https://{BUCKETS[0]}.s3.us-east-1.amazonaws.com/videos/clip.mp4",
    ]  # the whole bucket is listed; the CSV is no media type and is reported as skipped
    skipped = (out / "skipped.jsonl").read_text()
    assert "private/payroll.csv" in skipped

    # 2. Three buckets, two prefixes, a KMS key, listing, a write prefix, two principals.
    second = {
        "TrustedPrincipals": "arn:aws:iam::210987654321:role/encord,210987654322",
        "ExternalId": EXTERNAL_ID,
        "BucketNames": ",".join(BUCKETS),
        "Prefixes": "images/,videos/",
        "KmsKeyArn": key_arn,
        "AllowListing": "true",
        "WritePrefix": "encord-videos/",
        "MaxSessionDurationHours": "4",
    }
    cfn.update_stack(StackName=STACK, TemplateBody=body, Parameters=_parameters(second))
    _wait(cfn, "UPDATE_COMPLETE")
    trust, policy, session = _deployed(iam, cfn)
    assert (trust, policy, session) == _expected(second)
    assert session == 4 * 3600
    sids = [s["Sid"] for s in policy["Statement"]]
    assert sids == [
        "ReadConfiguredPrefixes",
        *(f"ListConfiguredPrefixes{i}" for i in range(3)),
        "LocateBuckets",
        "WriteImageSequenceVideos",
        *(f"{kind}ThroughS3Key{i}" for i in range(3) for kind in ("Decrypt", "Encrypt")),
    ]
    read = policy["Statement"][0]["Resource"]
    assert read == [f"arn:aws:s3:::{b}/{p}*" for b in BUCKETS for p in ("images/", "videos/")]
    outputs = load_stack_outputs(None, STACK)
    assert outputs is not None
    assert [(b.name, b.prefixes, b.write_prefix, b.kms_key_arn) for b in outputs.buckets] == [
        (b, ("images/", "videos/"), "encord-videos/", key_arn) for b in BUCKETS
    ]
    assert outputs.allow_listing is True

    # 3. Back to two buckets without key, listing or write: the extra grants are gone.
    third = {
        "TrustedPrincipals": "210987654321",
        "ExternalId": EXTERNAL_ID,
        "BucketNames": ",".join(BUCKETS[:2]),
        "Prefixes": "images/",
    }
    cfn.update_stack(StackName=STACK, TemplateBody=body, Parameters=_parameters(third))
    _wait(cfn, "UPDATE_COMPLETE")
    trust, policy, session = _deployed(iam, cfn)
    assert (trust, policy, session) == _expected(third)
    assert [s["Sid"] for s in policy["Statement"]] == ["ReadConfiguredPrefixes"]
    assert policy["Statement"][0]["Resource"] == [f"arn:aws:s3:::{b}/images/*" for b in BUCKETS[:2]]
    assert cli_main(["cors", "apply", "--stack", STACK]) == 0
    code, report = _verify(capsys)
    assert code == 0, _failed(report)

    # Taking the rule off before deleting the stack leaves the customer's rule alone.
    role_name = _wait_outputs(cfn)[0]["OutputValue"].rsplit("/", 1)[1]
    assert cli_main(["cors", "remove", "--stack", STACK]) == 0
    assert cors_rules(s3, BUCKETS[0]) == [CUSTOMER_RULE]
    cfn.delete_stack(StackName=STACK)
    deadline = time.monotonic() + 60
    while any(
        s["StackName"] == STACK
        for s in cfn.list_stacks()["StackSummaries"]
        if s["StackStatus"] != "DELETE_COMPLETE"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert not any(r["RoleName"] == role_name for r in iam.list_roles()["Roles"])
    assert not any(
        p["PolicyName"].startswith(STACK) for p in iam.list_policies(Scope="Local")["Policies"]
    )
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKETS[0])["Contents"])
    assert keys == sorted(KEYS)
