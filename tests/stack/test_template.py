"""Fine-grained assertions on the synthesized access stack, cdk-nag and cfn-lint included."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from registration.contract import ALL_OUTPUT_KEYS
from registration.stack_outputs import parse_outputs
from tests.stack.security import resolve, security_problems
from tests.stack.synth import FULL_CONFIG, MINIMAL_CONFIG, Synthesized, synth

pytestmark = pytest.mark.xdist_group("cdk")  # one jsii runtime per worker

ENCORD_ORIGINS = ["https://app.encord.com", "https://app.us.encord.com"]
EXPOSED = ["ETag", "Content-Length", "Content-Range", "Accept-Ranges"]


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synth(FULL_CONFIG, tmp_path_factory.mktemp("full"))


@pytest.fixture(scope="module")
def minimal(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synth(MINIMAL_CONFIG, tmp_path_factory.mktemp("minimal"))


def encord_role(s: Synthesized) -> tuple[str, dict[str, Any]]:
    roles = {
        k: resolve(v["Properties"])
        for k, v in s.resources("AWS::IAM::Role").items()
        if "EncordRole" in k
    }
    assert len(roles) == 1
    return next(iter(roles.items()))


def statements(s: Synthesized) -> dict[str, dict[str, Any]]:
    policy = resolve(s.one("AWS::IAM::ManagedPolicy"))
    return {st["Sid"]: st for st in policy["PolicyDocument"]["Statement"]}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- the role ---------------------------------------------------------------------------


def test_role_trusts_exactly_the_principals_and_requires_the_external_id(full: Synthesized) -> None:
    _, role = encord_role(full)
    trusted = []
    for statement in role["AssumeRolePolicyDocument"]["Statement"]:
        assert statement["Effect"] == "Allow"
        assert statement["Action"] == "sts:AssumeRole"
        assert statement["Condition"] == {
            "StringEquals": {"sts:ExternalId": "encord-ext-0123456789"}
        }
        trusted += as_list(statement["Principal"]["AWS"])
        assert set(statement["Principal"]) == {"AWS"}
    assert sorted(trusted) == [
        "arn:aws:iam::210987654321:role/encord-access",
        "arn:aws:iam::210987654322:root",
    ]


def test_role_settings(full: Synthesized, minimal: Synthesized) -> None:
    _, role = encord_role(full)
    assert role["MaxSessionDuration"] == 4 * 3600
    assert role["RoleName"] == "encord-access-role"
    assert role["PermissionsBoundary"] == "arn:aws:iam::123456789012:policy/boundary"
    assert {"Key": "team", "Value": "ml"} in role["Tags"]
    (bucket,) = full.resources("AWS::S3::Bucket").values()
    assert {"Key": "team", "Value": "ml"} in bucket["Properties"]["Tags"]
    assert "Policies" not in role and "ManagedPolicyArns" not in role
    _, small = encord_role(minimal)
    assert small["MaxSessionDuration"] == 3600
    assert "RoleName" not in small and "PermissionsBoundary" not in small


def test_policy_is_attached_through_the_managed_policy_roles(full: Synthesized) -> None:
    role_id, _ = encord_role(full)
    policy = full.one("AWS::IAM::ManagedPolicy")
    assert policy["Roles"] == [{"Ref": role_id}]


# --- the permissions --------------------------------------------------------------------


def test_get_object_on_exactly_the_configured_prefixes(full: Synthesized) -> None:
    st = statements(full)
    assert st["ReadConfiguredPrefixes"]["Action"] == "s3:GetObject"
    assert sorted(as_list(st["ReadConfiguredPrefixes"]["Resource"])) == sorted(
        [
            "arn:aws:s3:::existing-data/images/*",
            "arn:aws:s3:::existing-data/videos/*",
            "arn:aws:s3:::scans.eu/dicom/*",
            "arn:aws:s3:::created-data/*",
        ]
    )


def test_listing_is_limited_to_the_prefixes(full: Synthesized) -> None:
    st = statements(full)
    assert st["ListConfiguredPrefixes0"]["Resource"] == "arn:aws:s3:::existing-data"
    assert st["ListConfiguredPrefixes0"]["Condition"] == {
        "StringLike": {"s3:prefix": ["images/*", "videos/*"]}
    }
    assert st["ListConfiguredPrefixes1"]["Condition"] == {"StringLike": {"s3:prefix": ["dicom/*"]}}
    # The whole-bucket grant lists the whole bucket, without a condition.
    assert st["ListConfiguredPrefixes2"]["Resource"] == "arn:aws:s3:::created-data"
    assert "Condition" not in st["ListConfiguredPrefixes2"]
    assert st["LocateBuckets"]["Action"] == "s3:GetBucketLocation"


def test_write_only_on_the_write_prefix(full: Synthesized) -> None:
    st = statements(full)
    assert st["WriteImageSequenceVideos"]["Action"] == "s3:PutObject"
    assert st["WriteImageSequenceVideos"]["Resource"] == "arn:aws:s3:::scans.eu/encord-videos/*"


def test_kms_decrypt_only_through_s3_in_the_bucket_region(full: Synthesized) -> None:
    (kms,) = [s for sid, s in statements(full).items() if sid.startswith("DecryptThroughS3")]
    assert kms["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert kms["Resource"] == FULL_CONFIG["buckets"][1]["kmsKeyArn"]
    assert kms["Condition"] == {"StringEquals": {"kms:ViaService": ["s3.eu-west-1.amazonaws.com"]}}


def test_multi_region_access_point_grants(full: Synthesized) -> None:
    st = statements(full)
    assert st["ReadThroughMultiRegionAccessPoints"]["Resource"] == [
        "arn:aws:s3::123456789012:accesspoint/mfzwi23gnjvgw.mrap/object/images/*",
        "arn:aws:s3::123456789012:accesspoint/mfzwi23gnjvgw.mrap/object/videos/*",
    ]


def test_minimal_config_grants_read_only(minimal: Synthesized) -> None:
    st = statements(minimal)
    assert list(st) == ["ReadConfiguredPrefixes"]
    assert st["ReadConfiguredPrefixes"]["Resource"] == "arn:aws:s3:::data-bucket/images/*"


# --- CORS and buckets -------------------------------------------------------------------


def test_created_bucket_is_locked_down_retained_and_has_the_cors_rule(full: Synthesized) -> None:
    (bucket,) = full.resources("AWS::S3::Bucket").values()
    assert bucket["DeletionPolicy"] == "Retain" and bucket["UpdateReplacePolicy"] == "Retain"
    props = bucket["Properties"]
    assert props["BucketName"] == "created-data"
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert props["CorsConfiguration"]["CorsRules"] == [
        {
            "Id": "encord-access-EncordAccessFull",
            "AllowedOrigins": ENCORD_ORIGINS,
            "AllowedMethods": ["GET", "HEAD"],
            "AllowedHeaders": ["*"],
            "ExposedHeaders": EXPOSED,
            "MaxAge": 3600,
        }
    ]
    policy = resolve(full.one("AWS::S3::BucketPolicy"))
    (deny,) = policy["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_created_bucket_with_a_kms_key_uses_it(tmp_path: Path) -> None:
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    config = {**MINIMAL_CONFIG, "buckets": [{"name": "kms-data", "create": True, "kmsKeyArn": key}]}
    s = synth(config, tmp_path)
    sse = s.one("AWS::S3::Bucket")["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert sse["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": key,
    }
    assert sse["BucketKeyEnabled"] is True
    assert not s.resources("AWS::Lambda::Function")  # no existing bucket: no custom resource


def test_existing_bucket_gets_the_merging_custom_resource(full: Synthesized) -> None:
    custom = [resolve(v["Properties"]) for v in full.resources("Custom::EncordBucketCors").values()]
    by_bucket = {c["BucketName"]: c for c in custom}
    assert set(by_bucket) == {"existing-data", "scans.eu"}
    existing = by_bucket["existing-data"]
    assert existing["RuleId"] == "encord-access-EncordAccessFull"
    assert existing["AllowedOrigins"] == ENCORD_ORIGINS
    assert existing["AllowedMethods"] == ["GET", "HEAD"]
    assert existing["ExposeHeaders"] == EXPOSED
    assert existing["Region"] == "us-east-1"  # the stack's region (resolved)
    assert by_bucket["scans.eu"]["Region"] == "eu-west-1"
    function = full.one("AWS::Lambda::Function")
    assert function["Handler"] == "index.handler" and function["Runtime"].startswith("python3.")


def test_cors_handler_may_only_touch_the_existing_buckets_cors(full: Synthesized) -> None:
    handler_roles = [
        resolve(v["Properties"])
        for k, v in full.resources("AWS::IAM::Role").items()
        if "CorsHandler" in k
    ]
    (role,) = handler_roles
    (policy,) = role["Policies"]
    st = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert st["MergeOwnCorsRule"]["Action"] == ["s3:GetBucketCORS", "s3:PutBucketCORS"]
    assert sorted(st["MergeOwnCorsRule"]["Resource"]) == [
        "arn:aws:s3:::existing-data",
        "arn:aws:s3:::scans.eu",
    ]
    assert st["WriteOwnLogs"]["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "lambda.amazonaws.com"
    }


def test_logical_ids_are_those_of_deployed_stacks(full: Synthesized) -> None:
    """Construct IDs are a contract: a new logical ID replaces the resource on update.

    The created bucket moved out of the construct (the app creates it and passes it in); it
    keeps the IDs it had, or CloudFormation would replace the retained, named bucket (and
    fail on its name) and delete its bucket policy.
    """
    assert sorted(full.template["Resources"]) == sorted(
        [
            "EncordAccessEncordRole282687E3",
            "EncordAccessAccessPolicy866B07D1",
            "EncordAccessBucketcreateddata8BF421D5",
            "EncordAccessBucketcreateddataPolicy6BA1E127",
            "EncordAccessCorsHandlerLogsCF023DF2",
            "EncordAccessCorsHandlerRole57040BDF",
            "EncordAccessCorsHandlerA067C455",
            "EncordAccessCorsexistingdata88495053",
            "EncordAccessCorsscanseu9AA0D4EB",
        ]
    )


# --- outputs: the contract with the helper ----------------------------------------------


def test_outputs_are_what_the_helper_reads(full: Synthesized) -> None:
    outputs = full.template["Outputs"]
    assert set(outputs) == set(ALL_OUTPUT_KEYS)
    raw = {k: resolve(v["Value"]) for k, v in outputs.items()}
    raw["EncordRoleArn"] = "arn:aws:iam::123456789012:role/encord-access-role"
    parsed = parse_outputs(raw, stack_name="EncordAccessFull", source="template")
    assert parsed.external_id == "encord-ext-0123456789"
    assert [(b.name, b.region, b.prefixes, b.created) for b in parsed.buckets] == [
        ("existing-data", "us-east-1", ("images/", "videos/"), False),
        ("scans.eu", "eu-west-1", ("dicom/",), False),
        ("created-data", "us-east-1", ("",), True),
    ]
    assert parsed.buckets[1].write_prefix == "encord-videos/"
    assert parsed.buckets[1].kms_key_arn == FULL_CONFIG["buckets"][1]["kmsKeyArn"]
    assert parsed.mraps[0].alias == "mfzwi23gnjvgw.mrap"
    assert parsed.mraps[0].buckets == ("existing-data",)
    assert parsed.cors_origins == tuple(ENCORD_ORIGINS)
    assert parsed.trusted_principals == (
        "arn:aws:iam::210987654321:role/encord-access",
        "arn:aws:iam::210987654322:root",
    )


# --- security: our templates are clean, and each break is caught -------------------------


def test_templates_have_no_security_problems(full: Synthesized, minimal: Synthesized) -> None:
    assert security_problems(full.template, FULL_CONFIG) == []
    assert security_problems(minimal.template, MINIMAL_CONFIG) == []


def _break_encord_role(template: dict[str, Any], change: Any) -> dict[str, Any]:
    broken = copy.deepcopy(template)
    for logical_id, resource in broken["Resources"].items():
        if "EncordRole" in logical_id and resource["Type"] == "AWS::IAM::Role":
            change(resource["Properties"]["AssumeRolePolicyDocument"]["Statement"][0])
    return broken


def _break_policy(template: dict[str, Any], statement: dict[str, Any]) -> dict[str, Any]:
    broken = copy.deepcopy(template)
    for resource in broken["Resources"].values():
        if resource["Type"] == "AWS::IAM::ManagedPolicy":
            resource["Properties"]["PolicyDocument"]["Statement"].append(statement)
    return broken


def _break_cors(template: dict[str, Any], origin: str) -> dict[str, Any]:
    broken = copy.deepcopy(template)
    for resource in broken["Resources"].values():
        if resource["Type"] == "AWS::S3::Bucket":
            resource["Properties"]["CorsConfiguration"]["CorsRules"][0]["AllowedOrigins"].append(
                origin
            )
    return broken


@pytest.mark.parametrize(
    ("name", "breaker", "expected"),
    [
        (
            "trust without external ID",
            lambda t: _break_encord_role(t, lambda s: s.pop("Condition")),
            "trust without the external ID",
        ),
        (
            "wrong external ID",
            lambda t: _break_encord_role(
                t, lambda s: s.update(Condition={"StringEquals": {"sts:ExternalId": "other"}})
            ),
            "trust without the external ID",
        ),
        (
            "* principal",
            lambda t: _break_encord_role(t, lambda s: s.update(Principal={"AWS": "*"})),
            "`*` principal",
        ),
        (
            "GetObject outside the prefixes",
            lambda t: _break_policy(
                t,
                {
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::existing-data/*",
                },
            ),
            "GetObject outside the configured prefixes",
        ),
        (
            "* action",
            lambda t: _break_policy(
                t, {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::x"}
            ),
            "`*` action",
        ),
        ("* origin", lambda t: _break_cors(t, "*"), "is a wildcard"),
        ("http origin", lambda t: _break_cors(t, "http://app.encord.com"), "is not https"),
        (
            "write without a write prefix",
            lambda t: _break_policy(
                t,
                {
                    "Effect": "Allow",
                    "Action": "s3:PutObject",
                    "Resource": "arn:aws:s3:::created-data/*",
                },
            ),
            "PutObject outside a configured write prefix",
        ),
    ],
)
def test_each_security_break_is_caught(
    full: Synthesized, name: str, breaker: Any, expected: str
) -> None:
    problems = security_problems(breaker(full.template), FULL_CONFIG)
    assert any(expected in p for p in problems), (name, problems)


def test_no_write_grant_without_a_write_prefix(minimal: Synthesized) -> None:
    actions = {a for st in statements(minimal).values() for a in as_list(st["Action"])}
    assert "s3:PutObject" not in actions and "kms:GenerateDataKey" not in actions


# --- cdk-nag and cfn-lint ---------------------------------------------------------------


def test_cdk_nag_has_no_unacknowledged_findings_and_every_ack_is_narrow(full: Synthesized) -> None:
    (report,) = full.validation_report["pluginReports"]
    assert report["pluginName"] == "AwsSolutions"
    assert report["violations"] == []
    for suppressed in report["suppressedViolations"]:
        rule = suppressed["acknowledgedId"]
        assert suppressed["reason"].strip()
        # IAM5 is acknowledged per resource, never for the rule as a whole.
        if "IAM5" in rule:
            assert rule.startswith("AwsSolutions::AwsSolutions-IAM5[Resource::arn:")
            assert rule.endswith("/*]") or rule.endswith("*]")
            assert "[Action::" not in rule


def test_cdk_nag_fails_synth_on_a_new_wildcard(tmp_path: Path) -> None:
    from aws_cdk import aws_iam as iam

    def add_wildcard(stack: Any) -> None:
        stack.access.policy.add_statements(iam.PolicyStatement(actions=["s3:*"], resources=["*"]))

    with pytest.raises(RuntimeError, match=r"IAM5\[Action::s3:\*\]"):
        synth(MINIMAL_CONFIG, tmp_path, extra=add_wildcard)


def test_cfn_lint_is_clean(full: Synthesized, minimal: Synthesized) -> None:
    templates = [
        str(s.out_dir / f"{name}.template.json")
        for s, name in ((full, "EncordAccessFull"), (minimal, "EncordAccess"))
    ]
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("cfn-lint")),
            "--ignore-checks",
            "W3005",
            "--",
            *templates,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_template_is_deterministic(full: Synthesized, tmp_path: Path) -> None:
    again = synth(FULL_CONFIG, tmp_path)
    assert json.dumps(again.template, sort_keys=True) == json.dumps(full.template, sort_keys=True)


def test_the_cors_handler_asset_is_self_contained(full: Synthesized) -> None:
    """The Lambda code is `index.py` alone; it imports with only the stdlib and boto3."""
    assets = [d for d in full.out_dir.glob("asset.*") if (d / "index.py").exists()]
    assert len(assets) == 1, assets
    (asset,) = assets
    assert sorted(p.name for p in asset.iterdir()) == ["index.py"]
    probe = (
        "import sys; sys.path.insert(0, '.'); import index; "
        "assert callable(index.handler); print(index.RESOURCE_TYPE)"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", probe],  # -I: no PYTHONPATH, so no `stacks` package
        cwd=asset,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Custom::EncordBucketCors"


def test_the_sample_cdk_json_synthesizes_role_policy_and_cors(tmp_path: Path) -> None:
    sample = json.loads((Path(__file__).resolve().parents[2] / "cdk.json").read_text())
    config = sample["context"]["encord"]
    s = synth(config, tmp_path)
    assert len(s.resources("AWS::IAM::ManagedPolicy")) == 1
    _, role = encord_role(s)
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"] == {
        "StringEquals": {"sts:ExternalId": config["externalId"]}
    }
    assert list(s.resources("AWS::S3::Bucket")) == [
        "EncordAccessBucketmynewencorddatabucketD7B97477"
    ]
    assert list(s.resources("AWS::S3::BucketPolicy")) == [
        "EncordAccessBucketmynewencorddatabucketPolicyFA04AFCB"
    ]
    assert s.resources("Custom::EncordBucketCors")
    assert security_problems(s.template, config) == []
