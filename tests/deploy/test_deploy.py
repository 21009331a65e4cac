"""A real `npx cdk bootstrap` / `deploy` / `destroy` of the access stack against local AWS.

The emulator is moto's server with the test-side patches of `tests.emulators.moto_server`:
the existing-bucket CORS custom resource runs the project's handler logic in-process, so this
proves the template's wiring and the handler's merge behaviour against a real S3 API, not
the Lambda runtime. Everything else (the CLI, the assets, CloudFormation's create, update
and delete of the role, policy and buckets, the outputs) is the real thing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import boto3
import pytest

from registration.cli import main as cli_main
from registration.stack_outputs import load_outputs_file
from tests.emulators import cdk_cli
from tests.emulators.moto_server import EMULATOR_ENV, running_moto_server

pytestmark = [pytest.mark.deploy, pytest.mark.xdist_group("deploy"), pytest.mark.timeout(420)]

STACK = "EncordAccessDeployTest"
EXISTING = "customer-existing-data"
DROPPED = "customer-dropped-data"  # configured on the first deploy only
CREATED = "encord-created-data"
CUSTOMER_RULE = {
    "ID": "customer-web-app",
    "AllowedOrigins": ["https://viewer.customer.example"],
    "AllowedMethods": ["GET", "PUT"],
    "AllowedHeaders": ["Authorization"],
    "MaxAgeSeconds": 600,
}
CONFIG: dict[str, Any] = {
    "stackName": STACK,
    "trustedPrincipals": ["arn:aws:iam::210987654321:root"],
    "externalId": "deploy-test-external-id",
    "buckets": [
        {"name": EXISTING, "prefixes": ["images/", "videos/"]},
        {"name": CREATED, "create": True},
        {"name": DROPPED, "prefixes": ["scans/"]},
    ],
    "maxSessionDurationHours": 2,
}
LEGACY_RULE_ID = f"encord-access-{STACK}"  # the rule ID before per-bucket IDs
RULE_ID_PATTERN = rf"encord-access-{STACK}-us-east-1-[0-9a-f]{{8}}"
ENCORD_ORIGINS = ["https://app.encord.com", "https://app.us.encord.com"]


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    work = tmp_path_factory.mktemp("deploy")
    with running_moto_server(log_file=work / "moto.log") as endpoint:
        yield endpoint, work


def client(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=EMULATOR_ENV["AWS_REGION"],
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def cors_rules(s3: Any, bucket: str) -> list[dict[str, Any]]:
    return list(s3.get_bucket_cors(Bucket=bucket)["CORSRules"])


def our_rule(origins: list[str], rule_id: str) -> dict[str, Any]:
    return {
        "ID": rule_id,
        "AllowedOrigins": origins,
        "AllowedMethods": ["GET", "HEAD"],
        "AllowedHeaders": ["*"],
        "ExposeHeaders": ["ETag", "Content-Length", "Content-Range", "Accept-Ranges"],
        "MaxAgeSeconds": 3600,
    }


def attached_policy_document(iam: Any, role_name: str) -> dict[str, Any]:
    (attached,) = iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
    policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
    version = iam.get_policy_version(
        PolicyArn=attached["PolicyArn"], VersionId=policy["DefaultVersionId"]
    )
    document = version["PolicyVersion"]["Document"]
    return json.loads(unquote(document)) if isinstance(document, str) else dict(document)


def test_deploy_redeploy_destroy(
    aws: tuple[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint, work = aws
    s3, iam = client(endpoint, "s3"), client(endpoint, "iam")
    s3.create_bucket(Bucket=EXISTING)
    # The rule an earlier version of the stack put there, under the old ID.
    legacy = {**our_rule(ENCORD_ORIGINS, LEGACY_RULE_ID), "AllowedOrigins": ["https://old.example"]}
    s3.put_bucket_cors(Bucket=EXISTING, CORSConfiguration={"CORSRules": [CUSTOMER_RULE, legacy]})
    s3.create_bucket(Bucket=DROPPED)
    s3.put_bucket_cors(Bucket=DROPPED, CORSConfiguration={"CORSRules": [CUSTOMER_RULE]})
    for key in ("images/cat 1.jpg", "images/dog.png", "videos/clip.mp4", "private/secret.txt"):
        s3.put_object(Bucket=EXISTING, Key=key, Body=b"data")
    env = cdk_cli.cdk_env(endpoint, work)
    out_dir, outputs_file = work / "cdk.out", work / "cdk-outputs.json"

    cdk_cli.bootstrap(env, CONFIG, out_dir)
    cdk_cli.deploy(env, CONFIG, out_dir, outputs_file)

    # The outputs are what the helper reads.
    outputs = load_outputs_file(outputs_file)
    assert outputs.stack_name == STACK
    assert outputs.external_id == "deploy-test-external-id"
    assert [(b.name, b.prefixes, b.created, b.region) for b in outputs.buckets] == [
        (EXISTING, ("images/", "videos/"), False, "us-east-1"),
        (CREATED, ("",), True, "us-east-1"),
        (DROPPED, ("scans/",), False, "us-east-1"),
    ]
    rule_ids = {b.name: str(b.cors_rule_id) for b in outputs.buckets}
    assert all(re.fullmatch(RULE_ID_PATTERN, i) for i in rule_ids.values()), rule_ids
    assert len(set(rule_ids.values())) == 3  # one rule ID per bucket
    assert outputs.cors_origins == tuple(ENCORD_ORIGINS)
    assert outputs.trusted_principals == ("arn:aws:iam::210987654321:root",)

    # The role: trust only the principal, only with the external ID.
    role_name = outputs.role_arn.rsplit("/", 1)[1]
    role = iam.get_role(RoleName=role_name)["Role"]
    assert role["Arn"] == outputs.role_arn
    assert role["MaxSessionDuration"] == 7200
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(unquote(trust)) if isinstance(trust, str) else trust
    assert trust["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": "deploy-test-external-id"}},
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::210987654321:root"},
        }
    ]
    assert iam.list_role_policies(RoleName=role_name)["PolicyNames"] == []

    # The attached policy: GetObject on exactly the prefixes, nothing else.
    assert attached_policy_document(iam, role_name)["Statement"] == [
        {
            "Action": "s3:GetObject",
            "Effect": "Allow",
            "Resource": [
                f"arn:aws:s3:::{EXISTING}/images/*",
                f"arn:aws:s3:::{EXISTING}/videos/*",
                f"arn:aws:s3:::{CREATED}/*",
                f"arn:aws:s3:::{DROPPED}/scans/*",
            ],
            "Sid": "ReadConfiguredPrefixes",
        }
    ]

    # CORS: the customer's rule kept as it was, ours added in place of the old-ID rule of an
    # earlier version; the created bucket has only ours.
    assert cors_rules(s3, EXISTING) == [CUSTOMER_RULE, our_rule(ENCORD_ORIGINS, rule_ids[EXISTING])]
    assert cors_rules(s3, DROPPED) == [CUSTOMER_RULE, our_rule(ENCORD_ORIGINS, rule_ids[DROPPED])]
    assert cors_rules(s3, CREATED) == [our_rule(ENCORD_ORIGINS, rule_ids[CREATED])]
    encryption = s3.get_bucket_encryption(Bucket=CREATED)["ServerSideEncryptionConfiguration"]
    assert encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"

    # The helper builds registration files straight from the deployed stack's outputs.
    manifests = work / "manifests"
    for key, value in {**EMULATOR_ENV, "AWS_ENDPOINT_URL": endpoint}.items():
        monkeypatch.setenv(key, value)
    code = cli_main(
        [
            "manifest",
            "--stack-outputs",
            str(outputs_file),
            "--bucket",
            EXISTING,
            "--out",
            str(manifests),
        ]
    )
    assert code == 0, capsys.readouterr()
    registered = json.loads((manifests / "manifest-00001.json").read_text())
    urls = sorted(
        item["objectUrl"] for kind in registered.values() if isinstance(kind, list) for item in kind
    )
    assert urls == [
        f"https://{EXISTING}.s3.us-east-1.amazonaws.com/images/cat%201.jpg",
        f"https://{EXISTING}.s3.us-east-1.amazonaws.com/images/dog.png",
        f"https://{EXISTING}.s3.us-east-1.amazonaws.com/videos/clip.mp4",
    ]  # private/ is outside the granted prefixes and never listed

    # Redeploy with another origin and without one bucket: ours is updated in place, the
    # dropped bucket's rule is removed (while its handler may still do so), the customer's
    # rules survive.
    origins = [*ENCORD_ORIGINS, "https://labelling.customer.example"]
    narrowed = {**CONFIG, "corsOrigins": origins, "buckets": CONFIG["buckets"][:2]}
    cdk_cli.deploy(env, narrowed, out_dir, outputs_file)
    assert cors_rules(s3, DROPPED) == [CUSTOMER_RULE]
    assert cors_rules(s3, EXISTING) == [CUSTOMER_RULE, our_rule(origins, rule_ids[EXISTING])]
    assert cors_rules(s3, CREATED) == [our_rule(origins, rule_ids[CREATED])]
    assert load_outputs_file(outputs_file).cors_origins == tuple(origins)
    assert iam.get_role(RoleName=role_name)["Role"]["Arn"] == outputs.role_arn  # not replaced

    # Destroy: our rule goes, the customer's rule, bucket and objects stay; created bucket retained.
    cdk_cli.destroy(env, narrowed, out_dir)
    assert cors_rules(s3, EXISTING) == [CUSTOMER_RULE]
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=EXISTING)["Contents"])
    assert keys == ["images/cat 1.jpg", "images/dog.png", "private/secret.txt", "videos/clip.mp4"]
    s3.head_bucket(Bucket=CREATED)
    assert not any(r["RoleName"] == role_name for r in iam.list_roles()["Roles"])


def test_cdk_cli_reports_config_errors_without_a_traceback(aws: tuple[str, Path]) -> None:
    endpoint, work = aws
    env = cdk_cli.cdk_env(endpoint, work / "bad")
    bad = {**CONFIG, "trustedPrincipals": ["*"], "corsOrigins": ["http://app.encord.com"]}
    result = cdk_cli.run_cdk(
        ["synth", *cdk_cli.context_args(bad), "--output", str(work / "bad-out")], env, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "invalid `encord` configuration (2 problems)" in output
    assert "would let anyone assume the role" in output and "must use https://" in output
    assert "Traceback" not in output
