"""cdk-nag's HIPAA, NIST 800-53 R5, PCI DSS 3.2.1 and Serverless packs on the access stack.

Each pack, chosen in the `encord` configuration, runs on the sample configuration and on one
with every option (`stacks.compliance_doc.DOC_CONFIG`: created buckets with and without a
key, existing buckets, listing, a write prefix, KMS, a Multi-Region Access Point, continuous
registration) with no finding left; what the packs turn on is in the template; what they
ask for fails synthesis when a setting turns it off; docs/compliance.md is what the code says.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from stacks import compliance
from stacks.compliance_doc import (
    DOC_CONFIG,
    DOC_PATH,
    FIXED,
    MET,
    generate,
    nag_report,
    pack_rules,
    spliced,
)
from stacks.config_compliance import PACK_NAMES
from stacks.continuous_rules import DEFAULT_MAX_CONCURRENCY
from tests.stack.security import resolve, security_problems

pytestmark = pytest.mark.xdist_group("cdk")  # one jsii runtime per worker

REPO = Path(__file__).resolve().parents[2]
#: The sample cdk.json, with an external ID in place of its placeholder.
SAMPLE: dict[str, Any] = {
    **json.loads((REPO / "cdk.json").read_text())["context"]["encord"],
    "externalId": "0f3c9a6e-sample-encord-external-id",
}
PACKS_AND_ALL = [*([p] for p in PACK_NAMES), list(PACK_NAMES)]


def _resources(out: Path, stack_name: str) -> dict[str, Any]:
    return dict(json.loads((out / f"{stack_name}.template.json").read_text())["Resources"])


def _of_type(resources: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in resources.items() if v["Type"] == kind}


def _plugins(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["pluginName"]: p for p in report["pluginReports"]}


@pytest.fixture(scope="module")
def hardened(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    """DOC_CONFIG with every pack: (its template's resources, its validation report)."""
    out = tmp_path_factory.mktemp("hardened")
    report = nag_report(DOC_CONFIG, out, chosen=PACK_NAMES)
    return _resources(out, str(DOC_CONFIG["stackName"])), report


# --- every pack, no finding left ------------------------------------------------------------


@pytest.mark.parametrize("chosen", PACKS_AND_ALL, ids=lambda c: "+".join(c))
@pytest.mark.parametrize("name", ["sample", "every-option"])
def test_each_pack_leaves_no_finding(chosen: list[str], name: str, tmp_path: Path) -> None:
    config = SAMPLE if name == "sample" else DOC_CONFIG
    report = nag_report(config, tmp_path, chosen=chosen)  # raises on any finding left
    plugins = _plugins(report)
    expected = {"AwsSolutions", *(compliance.PACK_PREFIXES[c] for c in chosen)}
    assert set(plugins) == expected  # the chosen packs ran, and only those
    assert {k: p["violations"] for k, p in plugins.items()} == {k: [] for k in expected}
    for plugin in plugins.values():
        for suppressed in plugin["suppressedViolations"]:
            assert suppressed["reason"].strip(), suppressed["ruleName"]


def test_acknowledgements_are_on_the_constructs_they_are_about(
    hardened: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    """Each acknowledged rule is on the kind of resource it explains, never wider."""
    _, report = hardened
    kinds = {
        "LambdaInsideVPC": {"aws_lambda.CfnFunction"},
        "LambdaDLQ": {"aws_lambda.CfnFunction"},
        "LambdaLatestVersion": {"aws_lambda.CfnFunction"},
        "L1": {"aws_lambda.CfnFunction"},
        "LambdaEventSourceMappingDestination": {"aws_lambda.CfnEventSourceMapping"},
        "SQSRedrivePolicy": {"aws_sqs.CfnQueue"},
        "DynamoDBInBackupPlan": {"aws_dynamodb.CfnTable"},
        "S3BucketReplicationEnabled": {"aws_s3.CfnBucket"},
        "S3DefaultEncryptionKMS": {"aws_s3.CfnBucket"},
        "IAM5": {"aws_iam.CfnManagedPolicy"},
    }
    seen: dict[str, set[str]] = {}
    for plugin in report["pluginReports"]:
        for suppressed in plugin["suppressedViolations"]:
            rule = suppressed["ruleName"].split("-", 1)[1].split("[")[0]
            for construct in suppressed["violatingConstructs"]:
                seen.setdefault(rule, set()).add(construct["constructFqn"].split("lib.", 1)[1])
    assert seen == {rule: kinds[rule] for rule in seen}
    # KMS is acknowledged only on the access log bucket (S3 delivers logs only to SSE-S3).
    places = [
        c["constructPath"]
        for p in report["pluginReports"]
        for s in p["suppressedViolations"]
        if s["ruleName"].endswith("S3DefaultEncryptionKMS")
        for c in s["violatingConstructs"]
    ]
    assert places and all(p.endswith("/AccessLogs/Resource") for p in places)


def test_the_rule_table_names_the_packs_cdk_nag_gives_each_rule() -> None:
    rules = pack_rules()
    for rule, packs in compliance.RULE_PACKS.items():
        having = tuple(p for p, found in rules.items() if any(r.name == rule for r in found))
        assert set(having) == set(packs), rule


# --- what the packs turn on -------------------------------------------------------------------


def test_the_fixed_rules_fail_without_the_packs_defaults(tmp_path: Path) -> None:
    """Run every pack on a configuration that chose none: exactly the rules `FIXED` says the
    packs' defaults fix are found (and CloudWatchAlarmAction, which the config requires)."""
    config = copy.deepcopy(dict(DOC_CONFIG))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        nag_report(config, tmp_path, chosen=(), also_run=PACK_NAMES)
    report = json.loads((tmp_path / "validation-report.json").read_text())
    found = {
        v["ruleName"].split("-", 1)[1] for p in report["pluginReports"] for v in p["violations"]
    }
    assert found == set(FIXED)
    assert not set(FIXED) & set(MET)


def test_the_template_holds_what_the_packs_ask_for(
    hardened: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    resources, _ = hardened
    (key_id,) = _of_type(resources, "AWS::KMS::Key")
    key = resources[key_id]
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"
    (logs_statement,) = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Sid") == "CloudWatchLogsEncryptsThisAccountsLogGroups"
    ]
    assert logs_statement["Principal"] == {
        "Service": {"Fn::Join": ["", ["logs.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]}
    }
    key_arn = {"Fn::GetAtt": [key_id, "Arn"]}

    buckets = _of_type(resources, "AWS::S3::Bucket")
    (log_id,) = [k for k in buckets if "AccessLogs" in k]
    log_bucket = buckets.pop(log_id)["Properties"]
    assert log_bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    sse = log_bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert sse["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    own_key = DOC_CONFIG["buckets"][3]["kmsKeyArn"]
    for bucket in buckets.values():
        props = bucket["Properties"]
        name = props["BucketName"]
        sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert sse["ServerSideEncryptionByDefault"] == {
            "SSEAlgorithm": "aws:kms",
            "KMSMasterKeyID": own_key if name == "created-keyed" else key_arn,
        }
        assert sse["BucketKeyEnabled"] is True
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        assert props["LoggingConfiguration"] == {
            "DestinationBucketName": {"Ref": log_id},
            "LogFilePrefix": f"{name}/",
        }
    assert sorted(b["Properties"]["BucketName"] for b in buckets.values()) == [
        "created-data",
        "created-keyed",
    ]
    # S3 delivers the logs under the log bucket's policy (no ACL), from these buckets only.
    (log_policy,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in _of_type(resources, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": log_id}
    ]
    delivery = [
        s for s in log_policy if s.get("Principal") == {"Service": "logging.s3.amazonaws.com"}
    ]
    assert {s["Action"] for s in delivery} == {"s3:PutObject"}
    # Both policies stay with their retained buckets when the stack is deleted.
    policies = _of_type(resources, "AWS::S3::BucketPolicy").values()
    assert len(policies) == 3 and all(p["DeletionPolicy"] == "Retain" for p in policies)
    assert len(delivery) == 2 and all(
        "aws:SourceArn" in s["Condition"]["ArnLike"] for s in delivery
    )

    log_groups = _of_type(resources, "AWS::Logs::LogGroup")
    assert len(log_groups) == 3  # CORS handlers', notification handler's, continuous function's
    assert all(g["Properties"]["KmsKeyId"] == key_arn for g in log_groups.values())
    functions = _of_type(resources, "AWS::Lambda::Function")
    assert all(f["Properties"]["TracingConfig"] == {"Mode": "Active"} for f in functions.values())
    reserved = {k: f["Properties"]["ReservedConcurrentExecutions"] for k, f in functions.items()}
    (continuous_id,) = [k for k in functions if k.startswith("ContinuousHandler")]
    assert reserved.pop(continuous_id) == 4  # the default maxConcurrency
    assert set(reserved.values()) == {1}
    # Managed policies only; X-Ray's `*` grant alone in its own policy.
    assert _of_type(resources, "AWS::IAM::Policy") == {}
    assert not any(
        "Policies" in r["Properties"] for r in _of_type(resources, "AWS::IAM::Role").values()
    )
    for policy_id, policy in _of_type(resources, "AWS::IAM::ManagedPolicy").items():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        wildcard = [s for s in statements if s["Resource"] == "*"]
        if "Tracing" in policy_id:
            assert statements == wildcard
            assert {a for s in wildcard for a in s["Action"]} == {
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
            }
        else:
            assert wildcard == []


def test_the_independent_security_reading_finds_nothing(
    hardened: tuple[dict[str, Any], dict[str, Any]], tmp_path: Path
) -> None:
    out = tmp_path / "template"
    out.mkdir()
    nag_report(DOC_CONFIG, out, chosen=PACK_NAMES)
    template = json.loads((out / f"{DOC_CONFIG['stackName']}.template.json").read_text())
    assert security_problems(template, dict(DOC_CONFIG)) == []


def test_the_outputs_name_the_key_of_each_created_bucket(tmp_path: Path) -> None:
    nag_report(DOC_CONFIG, tmp_path, chosen=["hipaa"])
    template = json.loads((tmp_path / f"{DOC_CONFIG['stackName']}.template.json").read_text())
    (key_id,) = _of_type(template["Resources"], "AWS::KMS::Key")
    joined = template["Outputs"]["EncordBuckets"]["Value"]["Fn::Join"][1]
    assert {"Fn::GetAtt": [key_id, "Arn"]} in joined  # created-data: the stack's key


def test_without_packs_nothing_changes(tmp_path: Path) -> None:
    """No pack chosen: SSE-S3, no versioning or logs, no key, plain functions, as before."""
    nag_report(SAMPLE, tmp_path)
    resources = _resources(tmp_path, str(SAMPLE["stackName"]))
    (bucket,) = _of_type(resources, "AWS::S3::Bucket").values()
    sse = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert sse["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert not {"VersioningConfiguration", "LoggingConfiguration"} & set(bucket["Properties"])
    assert _of_type(resources, "AWS::KMS::Key") == {}
    for group in _of_type(resources, "AWS::Logs::LogGroup").values():
        assert "KmsKeyId" not in group["Properties"]
    for function in _of_type(resources, "AWS::Lambda::Function").values():
        assert not {"TracingConfig", "ReservedConcurrentExecutions"} & set(function["Properties"])


# --- a setting that turns off what a pack asks for fails, with the rule ID -------------------


def test_a_created_bucket_without_versioning_fails_under_hipaa(tmp_path: Path) -> None:
    config = copy.deepcopy(SAMPLE)
    config["complianceChecks"] = ["hipaa"]
    for bucket in config["buckets"]:
        if bucket.get("create"):
            bucket["versioned"] = False
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        nag_report(config, tmp_path)
    report = json.loads((tmp_path / "validation-report.json").read_text())
    violations = [
        (v["ruleName"], c["constructPath"])
        for p in report["pluginReports"]
        for v in p["violations"]
        for c in v["violatingConstructs"]
    ]
    assert violations == [
        (
            "HIPAA.Security-S3BucketVersioningEnabled",
            "EncordAccess/Bucket-my-new-encord-data-bucket/Resource",
        )
    ]


def test_the_app_reports_the_rule_id_and_where_without_a_traceback(tmp_path: Path) -> None:
    config = copy.deepcopy(SAMPLE)
    config["complianceChecks"] = ["hipaa", "serverless"]
    config["buckets"][1]["versioned"] = False
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=REPO,
        env={
            **os.environ,
            "CDK_CONTEXT_JSON": json.dumps({"encord": config}),
            "CDK_OUTDIR": str(tmp_path),
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        },
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 3, result.stderr[-2000:]
    assert "Traceback" not in result.stderr + result.stdout
    assert (
        "error: cdk-nag found 1 finding(s) that are neither fixed nor acknowledged:\n"
        "  - HIPAA.Security-S3BucketVersioningEnabled on "
        "EncordAccess/Bucket-my-new-encord-data-bucket\n"
    ) in result.stderr
    assert "docs/compliance.md" in result.stderr


# --- the page -------------------------------------------------------------------------------


def test_the_compliance_page_is_current() -> None:
    page = DOC_PATH.read_text()
    assert spliced(page, generate()) == page, (
        "docs/compliance.md is not current: run `make compliance-doc` and commit it"
    )


# --- the constructs in a user's own stack -------------------------------------------------


def test_the_constructs_pass_every_pack_in_a_users_stack(tmp_path: Path) -> None:
    """`EncordAccess` and `EncordContinuousRegistration` with their hardening props, on the
    user's existing bucket, key and topic: every pack runs and nothing is left."""
    import aws_cdk as cdk
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_s3 as s3
    from aws_cdk import aws_secretsmanager as secretsmanager
    from aws_cdk import aws_sns as sns

    from stacks.continuous import EncordContinuousRegistration, WatchedS3Bucket
    from stacks.encord_access import EncordAccess, EncordBucket

    app = cdk.App(outdir=str(tmp_path), context={"aws:cdk:bundling-stacks": []})
    stack = cdk.Stack(
        app, "UserStack", env=cdk.Environment(account="123456789012", region="us-east-1")
    )
    key = kms.Key(stack, "LogsKey", enable_key_rotation=True)
    key.grant_encrypt_decrypt(iam.ServicePrincipal("logs.us-east-1.amazonaws.com"))
    bucket = s3.Bucket.from_bucket_name(stack, "Scans", "hospital-scans")
    EncordAccess(
        stack,
        "Encord",
        trusted_principals=[iam.AccountPrincipal("210987654321")],
        external_id="encord-ext-0123456789",
        buckets=[EncordBucket(bucket=bucket, prefixes=["dicom/"])],
        log_encryption_key=key,
        tracing=True,
        reserve_concurrency=True,
    )
    EncordContinuousRegistration(
        stack,
        "Continuous",
        buckets=[WatchedS3Bucket(bucket=bucket, prefixes=["dicom/"])],
        ssh_key_secret=secretsmanager.Secret.from_secret_name_v2(stack, "Key", "encord/key"),
        integration="My S3",
        folder="datasets/live",
        dicom_series=["dicom/*/*"],
        alarm_topic=sns.Topic.from_topic_arn(
            stack, "Alerts", "arn:aws:sns:us-east-1:123456789012:alerts"
        ),
        runtime=lambda_.Runtime.PYTHON_3_13,
        log_encryption_key=key,
        tracing=True,
        reserve_concurrency=True,
    )
    compliance.add_checks(app, PACK_NAMES)
    app.synth()  # raises on any finding left
    report = json.loads((tmp_path / "validation-report.json").read_text())
    assert {p["pluginName"]: p["violations"] for p in report["pluginReports"]} == {
        name: [] for name in ("AwsSolutions", *compliance.PACK_PREFIXES.values())
    }
    resources = json.loads((tmp_path / "UserStack.template.json").read_text())["Resources"]
    functions = _of_type(resources, "AWS::Lambda::Function")
    assert len(functions) == 3  # CORS handler, EventBridge handler, continuous function
    assert all(f["Properties"]["TracingConfig"] == {"Mode": "Active"} for f in functions.values())
    reserved = sorted(f["Properties"]["ReservedConcurrentExecutions"] for f in functions.values())
    assert reserved == [1, 1, DEFAULT_MAX_CONCURRENCY]  # the function's event-source maximum
    key_resource = key.node.default_child
    assert isinstance(key_resource, cdk.CfnElement)
    key_arn = {"Fn::GetAtt": [stack.get_logical_id(key_resource), "Arn"]}
    groups = _of_type(resources, "AWS::Logs::LogGroup").values()
    assert [g["Properties"]["KmsKeyId"] for g in groups] == [key_arn] * 3


def test_a_large_grant_is_split_across_managed_policies_within_iams_limit(
    tmp_path: Path,
) -> None:
    """50 watched prefixes with a key: the continuous function's grants pass IAM's 6,144
    characters for one managed policy, so they are spread over several, each under it, all
    attached before the function runs, every prefix still granted, cdk-nag still clean."""
    from stacks.functions import MAX_POLICY_CHARS

    key = DOC_CONFIG["buckets"][1]["kmsKeyArn"]
    prefixes = [f"site-{j}/scans/" for j in range(5)]
    buckets = [
        {"name": f"hospital-{i:02d}", "prefixes": prefixes, "kmsKeyArn": key} for i in range(10)
    ]
    config = {
        **DOC_CONFIG,
        "buckets": buckets,
        "multiRegionAccessPoints": [],
        "continuous": {**DOC_CONFIG["continuous"], "watch": [b["name"] for b in buckets]},
    }
    nag_report(config, tmp_path, chosen=PACK_NAMES)  # raises on any finding left
    resources = _resources(tmp_path, str(config["stackName"]))
    policies = {
        k: resolve(v["Properties"]["PolicyDocument"])
        for k, v in _of_type(resources, "AWS::IAM::ManagedPolicy").items()
        if k.startswith("ContinuousHandlerRolePolicy")
    }
    assert len(policies) >= 2
    sizes = {k: len(json.dumps(d, separators=(",", ":"))) for k, d in policies.items()}
    assert max(sizes.values()) <= MAX_POLICY_CHARS, sizes
    granted = {
        r
        for d in policies.values()
        for s in d["Statement"]
        if "s3:GetObject" in s["Action"]
        for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])
    }
    assert granted == {f"arn:aws:s3:::{b['name']}/{p}*" for b in buckets for p in prefixes}
    (function_id,) = [
        k for k in _of_type(resources, "AWS::Lambda::Function") if k.startswith("ContinuousHandler")
    ]
    assert set(policies) <= set(resources[function_id]["DependsOn"])
