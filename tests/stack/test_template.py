"""Fine-grained assertions on the synthesized access stack, cdk-nag and cfn-lint included."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from registration.contract import ALL_OUTPUT_KEYS, OUTPUT_CONTINUOUS
from registration.stack_outputs import parse_outputs
from tests.stack.security import resolve, security_problems
from tests.stack.synth import FULL_CONFIG, MINIMAL_CONFIG, Synthesized, synth

pytestmark = pytest.mark.xdist_group("cdk")  # one jsii runtime per worker

ENCORD_ORIGINS = ["https://app.encord.com", "https://app.us.encord.com"]
RULE_ID = r"encord-access-EncordAccessFull-us-east-1-[0-9a-f]{8}"


class Matches(str):
    """Equal to any string the regular expression matches in full (for ``==`` on nested data)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and re.fullmatch(str(self), other) is not None

    __hash__ = str.__hash__


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


def access_policy(s: Synthesized) -> dict[str, Any]:
    """The properties of Encord's policy (the handlers' roles have managed policies too)."""
    (policy,) = [
        v["Properties"]
        for k, v in s.resources("AWS::IAM::ManagedPolicy").items()
        if "EncordAccessAccessPolicy" in k
    ]
    return dict(policy)


def handler_policy(s: Synthesized, role_id: str) -> dict[str, Any]:
    """The managed policy of a handler's role (attached through its ``Roles``)."""
    (policy,) = [
        v["Properties"]
        for v in s.resources("AWS::IAM::ManagedPolicy").values()
        if v["Properties"]["Roles"] == [{"Ref": role_id}]
    ]
    return dict(policy)


def statements(s: Synthesized) -> dict[str, dict[str, Any]]:
    policy = resolve(access_policy(s))
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
    assert access_policy(full)["Roles"] == [{"Ref": role_id}]


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
    st = statements(full)
    kms = {sid: s for sid, s in st.items() if sid.startswith(("DecryptThroughS3", "Encrypt"))}
    assert list(kms) == ["DecryptThroughS3Key0", "EncryptThroughS3Key0"]
    decrypt, encrypt = kms.values()
    assert decrypt["Action"] == "kms:Decrypt" and encrypt["Action"] == "kms:GenerateDataKey"
    assert decrypt["Resource"] == encrypt["Resource"] == FULL_CONFIG["buckets"][1]["kmsKeyArn"]
    via = {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}
    assert decrypt["Condition"] == {
        "StringEquals": via,
        "StringLike": {
            "kms:EncryptionContext:aws:s3:arn": [
                "arn:aws:s3:::scans.eu",  # with an S3 Bucket Key, S3 names the bucket
                "arn:aws:s3:::scans.eu/dicom/*",
                "arn:aws:s3:::scans.eu/encord-videos/*",  # a multipart upload decrypts too
            ]
        },
    }
    assert encrypt["Condition"] == {
        "StringEquals": via,
        "StringLike": {
            "kms:EncryptionContext:aws:s3:arn": [
                "arn:aws:s3:::scans.eu",
                "arn:aws:s3:::scans.eu/encord-videos/*",
            ]
        },
    }


def test_a_key_shared_by_buckets_generates_data_keys_only_for_the_writing_one(
    tmp_path: Path,
) -> None:
    key = FULL_CONFIG["buckets"][1]["kmsKeyArn"]
    config = {
        **MINIMAL_CONFIG,
        "buckets": [
            {"name": "read-only.eu", "prefixes": ["a/"], "region": "eu-west-1", "kmsKeyArn": key},
            {
                "name": "writes.eu",
                "prefixes": ["b/"],
                "region": "eu-west-1",
                "kmsKeyArn": key,
                "writePrefix": "encord-videos/",
            },
        ],
    }
    s = synth(config, tmp_path)
    st = statements(s)
    context = "kms:EncryptionContext:aws:s3:arn"
    assert st["DecryptThroughS3Key0"]["Condition"]["StringLike"][context] == [
        "arn:aws:s3:::read-only.eu",
        "arn:aws:s3:::read-only.eu/a/*",
    ]
    generate = [v for v in st.values() if "kms:GenerateDataKey" in as_list(v["Action"])]
    assert [g["Condition"]["StringLike"][context] for g in generate] == [
        ["arn:aws:s3:::writes.eu", "arn:aws:s3:::writes.eu/encord-videos/*"]
    ]
    assert security_problems(s.template, config) == []


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
    assert resolve(props["CorsConfiguration"]["CorsRules"]) == [
        {
            "Id": Matches(RULE_ID),
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
    assert existing["RuleId"] == Matches(RULE_ID)
    assert by_bucket["scans.eu"]["RuleId"] == Matches(RULE_ID)
    assert existing["RuleId"] != by_bucket["scans.eu"]["RuleId"]  # one rule ID per bucket
    # The rule of earlier versions is replaced by the new one.
    assert existing["ReplacesRuleIds"][0] == "encord-access-EncordAccessFull"
    assert existing["AllowedOrigins"] == ENCORD_ORIGINS
    assert existing["AllowedMethods"] == ["GET", "HEAD"]
    assert existing["ExposeHeaders"] == EXPOSED
    assert existing["Region"] == "us-east-1"  # the stack's region (resolved)
    assert by_bucket["scans.eu"]["Region"] == "eu-west-1"
    for function in full.resources("AWS::Lambda::Function").values():
        props = function["Properties"]
        assert props["Handler"] == "index.handler" and props["Runtime"].startswith("python3.")


def test_cors_handler_may_only_touch_the_existing_buckets_cors(full: Synthesized) -> None:
    """One role per imported bucket, allowed that bucket's CORS only (and its own logs)."""
    handler_roles = {
        k: resolve(v["Properties"])
        for k, v in full.resources("AWS::IAM::Role").items()
        if "HandlerRole" in k
    }
    resources = []
    for role_id, role in handler_roles.items():
        # A managed policy, attached through its Roles (no inline policy: HIPAA, PCI, NIST).
        assert "Policies" not in role
        policy = resolve(handler_policy(full, role_id))
        st = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
        assert set(st) == {"MergeOwnCorsRule", "WriteOwnLogs"}
        assert st["MergeOwnCorsRule"]["Action"] == ["s3:GetBucketCORS", "s3:PutBucketCORS"]
        resources.append(st["MergeOwnCorsRule"]["Resource"])
        assert st["WriteOwnLogs"]["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
        assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
            "Service": "lambda.amazonaws.com"
        }
    assert sorted(resources) == ["arn:aws:s3:::existing-data", "arn:aws:s3:::scans.eu"]


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
            # One handler per imported bucket (these replaced the shared CorsHandler,
            # CorsHandlerRole and Cors-<bucket>: a custom resource cannot change its
            # ServiceToken, and the old ones are deleted after their rules are removed).
            "EncordAccessBucketCorsexistingdataHandlerRoleA96BA697",
            "EncordAccessBucketCorsexistingdataHandlerRolePolicyBA66E322",
            "EncordAccessBucketCorsexistingdataHandler6624B8D1",
            "EncordAccessBucketCorsexistingdataRule86288DCA",
            "EncordAccessBucketCorsscanseuHandlerRoleA2CEAFD0",
            "EncordAccessBucketCorsscanseuHandlerRolePolicy8EC039CC",
            "EncordAccessBucketCorsscanseuHandlerCD0C560F",
            "EncordAccessBucketCorsscanseuRule3F5FDD65",
        ]
    )


def test_every_role_the_stack_creates_has_the_permissions_boundary(
    full: Synthesized, minimal: Synthesized
) -> None:
    """Encord's role and every CORS handler's role; none at all without a boundary."""
    roles = full.resources("AWS::IAM::Role")
    assert len(roles) == 3  # Encord's, and one handler per imported bucket
    boundary = FULL_CONFIG["permissionsBoundaryArn"]
    assert {k: v["Properties"].get("PermissionsBoundary") for k, v in roles.items()} == {
        k: boundary for k in roles
    }
    assert all(
        "PermissionsBoundary" not in v["Properties"]
        for v in minimal.resources("AWS::IAM::Role").values()
    )


def test_each_handler_serves_only_its_bucket_within_a_bounded_time(full: Synthesized) -> None:
    """CloudFormation waits no longer than the handler can take (not its one-hour default),
    and each function accepts events for its own bucket only."""
    from registration import cors_merge
    from stacks.bucket_cors import HANDLER_TIMEOUT, SERVICE_TIMEOUT

    functions = full.resources("AWS::Lambda::Function")
    for resource in full.resources("Custom::EncordBucketCors").values():
        props = resource["Properties"]
        (function_id, _) = props["ServiceToken"]["Fn::GetAtt"]
        function = functions[function_id]["Properties"]
        assert function["Environment"]["Variables"] == {"ENCORD_CORS_BUCKETS": props["BucketName"]}
        assert int(props["ServiceTimeout"]) == SERVICE_TIMEOUT.to_seconds() < 3600
        assert function["Timeout"] == HANDLER_TIMEOUT.to_seconds() < int(props["ServiceTimeout"])
        assert function["Timeout"] > cors_merge.DEADLINE_SECONDS + cors_merge.SETTLE_SECONDS
        # Deleted before its function, which is deleted before its role (and permission).
        assert function_id in resource["DependsOn"]
        assert function["Role"]["Fn::GetAtt"][0] in functions[function_id]["DependsOn"]


def _rule_ids(region: str, construct_id: str, stack_name: str = "Same") -> list[str]:
    import aws_cdk as cdk
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_s3 as s3

    from stacks.encord_access import EncordAccess, EncordBucket

    stack = cdk.Stack(cdk.App(), stack_name, env=cdk.Environment(region=region))
    shared = s3.Bucket.from_bucket_name(stack, "Shared", "shared-bucket")
    access = EncordAccess(
        stack,
        construct_id,
        trusted_principals=[iam.AccountPrincipal("210987654321")],
        external_id="encord-ext-0123456789",
        buckets=[EncordBucket(bucket=shared)],
    )
    return [str(access.cors_rule_id_for(shared))]


def test_rule_ids_are_unique_per_stack_region_and_construct() -> None:
    eu, us = _rule_ids("eu-west-1", "Encord"), _rule_ids("us-east-1", "Encord")
    renamed = _rule_ids("eu-west-1", "EncordRenamed")
    assert eu == _rule_ids("eu-west-1", "Encord")  # stable from one synth to the next
    assert len({eu[0], us[0], renamed[0]}) == 3
    assert all(re.fullmatch(r"encord-access-Same-[a-z0-9-]+-[0-9a-f]{8}", i) for i in eu + us)
    assert len(_rule_ids("eu-west-1", "Encord", "S" * 128)[0]) <= 255


# --- outputs: the contract with the helper ----------------------------------------------


def test_outputs_are_what_the_helper_reads(full: Synthesized) -> None:
    outputs = full.template["Outputs"]
    # EncordContinuous only with `continuous` (tests/stack/test_continuous.py).
    assert set(outputs) == set(ALL_OUTPUT_KEYS) - {OUTPUT_CONTINUOUS}
    raw = {k: resolve(v["Value"]) for k, v in outputs.items()}
    raw["EncordRoleArn"] = "arn:aws:iam::123456789012:role/encord-access-role"
    parsed = parse_outputs(raw, stack_name="EncordAccessFull", source="template")
    assert parsed.external_id == "encord-ext-0123456789"
    assert parsed.allow_listing is True and parsed.continuous is None
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
            "GenerateDataKey for a bucket Encord only reads",
            lambda t: _break_policy(
                t,
                {
                    "Effect": "Allow",
                    "Action": "kms:GenerateDataKey",
                    "Resource": FULL_CONFIG["buckets"][1]["kmsKeyArn"],
                    "Condition": {
                        "StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"},
                        "StringLike": {"kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::x/*"},
                    },
                },
            ),
            "['kms:GenerateDataKey'] through S3 in ['s3.us-east-1.amazonaws.com']",
        ),
        (
            "Decrypt for any object",
            lambda t: _break_policy(
                t,
                {
                    "Effect": "Allow",
                    "Action": "kms:Decrypt",
                    "Resource": FULL_CONFIG["buckets"][1]["kmsKeyArn"],
                    "Condition": {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}},
                },
            ),
            "without kms:ViaService and kms:EncryptionContext:aws:s3:arn",
        ),
        (
            "a prefix of another bucket through the access point",
            lambda t: _break_policy(
                t,
                {
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3::123456789012:accesspoint/mfzwi23gnjvgw.mrap"
                    "/object/dicom/*",
                },
            ),
            "GetObject outside the configured prefixes",
        ),
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


def test_the_reader_allows_through_an_access_point_only_what_all_its_buckets_allow(
    full: Synthesized,
) -> None:
    # The full template grants images/ and videos/ through the access point: were `scans.eu`
    # (dicom/ only) behind it too, that grant would open scans.eu's images/ and videos/.
    config = copy.deepcopy(FULL_CONFIG)
    config["multiRegionAccessPoints"][0]["buckets"] = ["existing-data", "scans.eu"]
    (problem,) = security_problems(full.template, config)
    assert (
        "GetObject outside the configured prefixes" in problem
        and ".mrap/object/images/*" in problem
    )


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
    """The Lambda code is `index.py`, the shared merge and the handlers' common module; it
    imports with only the stdlib and boto3, and its merge is the helper's (`encord-register
    cors`), byte for byte."""
    assets = [d for d in full.out_dir.glob("asset.*") if (d / "index.py").exists()]
    assert len(assets) == 1, assets  # one asset for every bucket's handler
    (asset,) = assets
    files = sorted(str(p.relative_to(asset)) for p in asset.rglob("*.py"))
    assert files == ["index.py", "registration/cors_merge.py", "stacks/handler_common.py"]
    root = Path(__file__).resolve().parents[2]
    for module in ("registration/cors_merge.py", "stacks/handler_common.py"):
        assert (asset / module).read_bytes() == (root / module).read_bytes()
    probe = (
        "import sys; sys.path.insert(0, '.'); import index; "
        "assert callable(index.handler); "
        "assert index.put_rule.__module__ == 'registration.cors_merge'; "
        # the asset's copy (a namespace package), not the helper installed here
        "import registration; assert registration.__file__ is None, registration.__file__; "
        "import stacks; assert stacks.__file__ is None, stacks.__file__; "
        "print(index.RESOURCE_TYPE)"
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
    # The sample's external ID is a placeholder the app refuses: pass a real-looking one,
    # as `make synth` does with `-c encord.externalId=...`.
    config = {**sample["context"]["encord"], "externalId": "0f3c9a6e-sample-encord-external-id"}
    s = synth(config, tmp_path)
    assert access_policy(s)["Roles"] == [{"Ref": encord_role(s)[0]}]
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
