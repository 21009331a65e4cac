"""A real `npx cdk bootstrap` / `deploy` / `destroy` of the access stack against local AWS.

The emulator is moto's server with the test-side patches of `tests.emulators.moto_server`:
the existing-bucket CORS custom resource runs the project's handler logic in-process, so this
proves the template's wiring and the handler's merge behaviour against a real S3 API, not
the Lambda runtime. Everything else (the CLI, the assets, CloudFormation's create, update
and delete of the role, policy and buckets, the outputs) is the real thing.

It deploys with every ``complianceChecks`` pack, so cdk-nag runs at synth and the stack
hardens itself (`stacks.config_compliance`): `assert_hardened` checks what AWS then holds.
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
    "complianceChecks": ["hipaa", "nist-800-53-r5", "pci-dss-3.2.1", "serverless"],
}
LEGACY_RULE_ID = f"encord-access-{STACK}"  # the rule ID before per-bucket IDs
RULE_ID_PATTERN = rf"encord-access-{STACK}-us-east-1-[0-9a-f]{{8}}"
ENCORD_ORIGINS = ["https://app.encord.com", "https://app.us.encord.com"]
#: A handler's X-Ray grant under the serverless pack (X-Ray's actions take no resource).
XRAY_STATEMENT = {
    "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
    "Effect": "Allow",
    "Resource": "*",
}


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    work = tmp_path_factory.mktemp("deploy")
    with running_moto_server(log_file=work / "moto.log") as endpoint:
        yield endpoint, work


def client(endpoint: str, service: Any) -> Any:  # Any: boto3-stubs type names as literals
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
    (document,) = attached_policy_documents(iam, role_name)
    return document


def attached_policy_documents(iam: Any, role_name: str) -> list[dict[str, Any]]:
    """The documents of every managed policy attached to the role."""
    documents = []
    for attached in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
        policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
        version = iam.get_policy_version(
            PolicyArn=attached["PolicyArn"], VersionId=policy["DefaultVersionId"]
        )
        document = version["PolicyVersion"]["Document"]
        documents.append(
            json.loads(unquote(document)) if isinstance(document, str) else dict(document)
        )
    return documents


def stack_resources(cfn: Any, resource_type: str) -> list[str]:
    """The physical IDs of the stack's resources of `resource_type`, as CloudFormation has them."""
    pages = cfn.get_paginator("list_stack_resources").paginate(StackName=STACK)
    return [
        r["PhysicalResourceId"]
        for page in pages
        for r in page["StackResourceSummaries"]
        if r["ResourceType"] == resource_type
    ]


def sse_rule(s3: Any, bucket: str) -> dict[str, Any]:
    (rule,) = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    return dict(rule)


def assert_hardened(endpoint: str, key_arn: str) -> str:
    """What `complianceChecks` (all four packs) made the stack leave in AWS; the log bucket.

    The created bucket: SSE-KMS with the stack's key, versioned, server access logs to a log
    bucket of the stack's own. The key: rotated, usable by CloudWatch Logs. Every function:
    its log group encrypted with the key, X-Ray active tracing, a reserved concurrency of 1,
    and a role with managed policies only (X-Ray's in a policy of its own).
    """
    s3, kms, logs = client(endpoint, "s3"), client(endpoint, "kms"), client(endpoint, "logs")
    lam, iam, cfn = (client(endpoint, s) for s in ("lambda", "iam", "cloudformation"))

    # The created bucket, and the log bucket it logs to (created by the stack too).
    assert sse_rule(s3, CREATED) == {
        "ApplyServerSideEncryptionByDefault": {
            "SSEAlgorithm": "aws:kms",
            "KMSMasterKeyID": key_arn,
        },
        "BucketKeyEnabled": True,
    }
    assert s3.get_bucket_versioning(Bucket=CREATED)["Status"] == "Enabled"
    logging = s3.get_bucket_logging(Bucket=CREATED)["LoggingEnabled"]
    log_bucket = str(logging["TargetBucket"])
    assert logging["TargetPrefix"] == f"{CREATED}/"
    assert sorted(stack_resources(cfn, "AWS::S3::Bucket")) == sorted([CREATED, log_bucket])
    assert s3.get_bucket_versioning(Bucket=log_bucket)["Status"] == "Enabled"
    assert sse_rule(s3, log_bucket)["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"  # S3 delivers server access logs only to SSE-S3 buckets
    }
    log_policy = json.loads(s3.get_bucket_policy(Bucket=log_bucket)["Policy"])
    assert {
        "Action": "s3:PutObject",
        "Condition": {
            "ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{CREATED}"},
            "StringEquals": {"aws:SourceAccount": EMULATOR_ENV["CDK_DEFAULT_ACCOUNT"]},
        },
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Resource": f"arn:aws:s3:::{log_bucket}/{CREATED}/*",
    } in log_policy["Statement"]

    # The key: the stack's own, rotated, and CloudWatch Logs may use it for this account.
    (key_id,) = stack_resources(cfn, "AWS::KMS::Key")
    assert key_arn.endswith(f":key/{key_id}")
    assert kms.get_key_rotation_status(KeyId=key_arn)["KeyRotationEnabled"] is True
    key_policy = json.loads(kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"])
    (for_logs,) = [
        s
        for s in key_policy["Statement"]
        if s.get("Sid") == "CloudWatchLogsEncryptsThisAccountsLogGroups"
    ]
    assert for_logs["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    assert for_logs["Condition"] == {
        "ArnLike": {
            "kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:us-east-1:123456789012:log-group:*"
        }
    }

    # The log groups (the CORS handlers share one) are encrypted with the key.
    groups = stack_resources(cfn, "AWS::Logs::LogGroup")
    assert groups
    for name in groups:
        described = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
        assert [g.get("kmsKeyId") for g in described if g["logGroupName"] == name] == [key_arn]

    # The functions: one CORS handler per existing bucket, traced, with 1 reserved.
    configs = [
        lam.get_function(FunctionName=f)["Configuration"]
        for f in stack_resources(cfn, "AWS::Lambda::Function")
    ]
    assert sorted(c["Environment"]["Variables"]["ENCORD_CORS_BUCKETS"] for c in configs) == sorted(
        [EXISTING, DROPPED]
    )
    for config in configs:
        assert config["TracingConfig"] == {"Mode": "Active"}
        concurrency = lam.get_function_concurrency(FunctionName=config["FunctionName"])
        assert concurrency["ReservedConcurrentExecutions"] == 1

    # Every role: no inline policy, its permissions in attached managed policies. A handler's
    # X-Ray grant (on `*`) is a policy of its own; its other policy holds no X-Ray action.
    handler_roles = {c["Role"].rsplit("/", 1)[1] for c in configs}
    roles = stack_resources(cfn, "AWS::IAM::Role")
    assert handler_roles < set(roles)
    for role in roles:
        assert iam.list_role_policies(RoleName=role)["PolicyNames"] == [], role
        documents = attached_policy_documents(iam, role)
        assert documents, role
        if role in handler_roles:
            tracing = [d for d in documents if d["Statement"] == [XRAY_STATEMENT]]
            assert len(tracing) == 1, documents
            (own,) = [d for d in documents if d not in tracing]
            actions = [
                a
                for s in own["Statement"]
                for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
            ]
            assert not any(a.startswith("xray:") for a in actions), own
    return log_bucket


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

    # The attached policy: GetObject on exactly the prefixes, and Decrypt with the stack's key
    # only through S3, for the created bucket it encrypts; nothing else.
    (created,) = [b for b in outputs.buckets if b.name == CREATED]
    key_arn = str(created.kms_key_arn)
    assert re.fullmatch(r"arn:aws:kms:us-east-1:123456789012:key/[0-9a-f-]{36}", key_arn)
    assert all(b.kms_key_arn is None for b in outputs.buckets if b.name != CREATED)
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
        },
        {
            "Action": "kms:Decrypt",
            "Condition": {
                "StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"},
                "StringLike": {
                    "kms:EncryptionContext:aws:s3:arn": [
                        f"arn:aws:s3:::{CREATED}",
                        f"arn:aws:s3:::{CREATED}/*",
                    ]
                },
            },
            "Effect": "Allow",
            "Resource": key_arn,
            "Sid": "DecryptThroughS3Key0",
        },
    ]

    # CORS: the customer's rule kept as it was, ours added in place of the old-ID rule of an
    # earlier version; the created bucket has only ours.
    assert cors_rules(s3, EXISTING) == [CUSTOMER_RULE, our_rule(ENCORD_ORIGINS, rule_ids[EXISTING])]
    assert cors_rules(s3, DROPPED) == [CUSTOMER_RULE, our_rule(ENCORD_ORIGINS, rule_ids[DROPPED])]
    assert cors_rules(s3, CREATED) == [our_rule(ENCORD_ORIGINS, rule_ids[CREATED])]
    log_bucket = assert_hardened(endpoint, key_arn)

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
    # The key, the created bucket (still encrypted with it) and the log bucket are retained.
    key = client(endpoint, "kms").describe_key(KeyId=key_arn)["KeyMetadata"]
    assert (key["Arn"], key["KeyState"]) == (key_arn, "Enabled")
    assert sse_rule(s3, CREATED)["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == key_arn
    s3.head_bucket(Bucket=log_bucket)
    # So are their policies: S3 may still deliver the logs, and both still refuse plain HTTP.
    log_policy = json.loads(s3.get_bucket_policy(Bucket=log_bucket)["Policy"])
    assert any(
        st.get("Principal") == {"Service": "logging.s3.amazonaws.com"}
        for st in log_policy["Statement"]
    )
    created_policy = json.loads(s3.get_bucket_policy(Bucket=CREATED)["Policy"])
    assert any(
        st.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        for st in created_policy["Statement"]
    )


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
