"""`EncordAccess` on its own, as a CDK user drops it into their app with their own resources."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template
from cdk_nag import AwsSolutionsChecks

from stacks.encord_access import (
    EncordAccess,
    EncordAccessPropsError,
    EncordBucket,
    EncordMultiRegionAccessPoint,
)

pytestmark = pytest.mark.xdist_group("cdk")  # one jsii runtime per worker

ENCORD = "210987654321"
EXPOSED = ["ETag", "Content-Length", "Content-Range", "Accept-Ranges"]


def logical_id(stack: cdk.Stack, construct: Any) -> str:
    return stack.get_logical_id(construct.node.default_child)


def access_policy(template: Template) -> dict[str, Any]:
    """Encord's policy (the CORS handlers' roles have managed policies of their own)."""
    (policy,) = [
        p
        for k, p in template.find_resources("AWS::IAM::ManagedPolicy").items()
        if "AccessPolicy" in k
    ]
    return dict(policy)


def statements(template: Template) -> dict[str, dict[str, Any]]:
    policy = access_policy(template)
    return {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}


# --- a user's own stack: their bucket, their key ----------------------------------------


class UserStack(cdk.Stack):
    """What a CDK user writes: their resources, then the construct."""

    def __init__(self, scope: Any, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(self, "DataKey", enable_key_rotation=True)
        self.bucket = s3.Bucket(
            self,
            "Images",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        )
        cdk.Validations.of(self.bucket).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions::AwsSolutions-S1", reason="The user's logging is not ours"
            )
        )
        self.access = EncordAccess(
            self,
            "Encord",
            trusted_principals=[iam.AccountPrincipal(ENCORD)],
            external_id="user-external-id",
            buckets=[EncordBucket(bucket=self.bucket, key=self.key, prefixes=["images/"])],
        )


@pytest.fixture(scope="module")
def user(tmp_path_factory: pytest.TempPathFactory) -> tuple[UserStack, Template, Path]:
    out = tmp_path_factory.mktemp("user")
    app = cdk.App(outdir=str(out))
    stack = UserStack(app, "UserStack")
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    assembly = app.synth()
    template = Template.from_json(assembly.get_stack_artifact("UserStack").template)
    return stack, template, out


def test_user_bucket_is_granted_through_its_arn_token(
    user: tuple[UserStack, Template, Path],
) -> None:
    stack, template, _ = user
    bucket_id = logical_id(stack, stack.bucket)
    read = statements(template)["ReadConfiguredPrefixes"]
    assert read["Action"] == "s3:GetObject"
    assert read["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/images/*"]]}


def test_user_key_is_granted_only_through_s3(user: tuple[UserStack, Template, Path]) -> None:
    stack, template, _ = user
    (decrypt,) = [s for sid, s in statements(template).items() if sid.startswith("DecryptThrough")]
    assert decrypt["Action"] == "kms:Decrypt"  # no write prefix: no GenerateDataKey
    assert decrypt["Resource"] == {"Fn::GetAtt": [logical_id(stack, stack.key), "Arn"]}
    bucket_arn = {"Fn::GetAtt": [logical_id(stack, stack.bucket), "Arn"]}
    assert decrypt["Condition"] == {
        "StringEquals": {
            "kms:ViaService": {"Fn::Join": ["", ["s3.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]}
        },
        # Only for this bucket's objects under the prefix (or the bucket, with a Bucket Key).
        "StringLike": {
            "kms:EncryptionContext:aws:s3:arn": [
                bucket_arn,
                {"Fn::Join": ["", [bucket_arn, "/images/*"]]},
            ]
        },
    }


def test_user_role_trusts_encord_only_with_the_external_id(
    user: tuple[UserStack, Template, Path],
) -> None:
    stack, template, _ = user
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Action": "sts:AssumeRole",
                        "Effect": "Allow",
                        "Condition": {"StringEquals": {"sts:ExternalId": "user-external-id"}},
                        "Principal": {"AWS": Match.any_value()},
                    }
                ]
            },
            "MaxSessionDuration": 3600,
        },
    )
    policy = access_policy(template)
    assert policy["Properties"]["Roles"] == [{"Ref": logical_id(stack, stack.access.role)}]


def test_user_bucket_gets_the_cors_rule_directly(user: tuple[UserStack, Template, Path]) -> None:
    stack, template, _ = user
    rule_id = stack.resolve(stack.access.cors_rule_id_for(stack.bucket))
    assert rule_id == stack.resolve(stack.access.cors_rule_id)
    # The default: unique per stack name, region, and construct path + bucket (the hash).
    prefix, region, digest = rule_id["Fn::Join"][1]
    assert prefix == f"encord-access-{stack.stack_name}-" and region == {"Ref": "AWS::Region"}
    assert re.fullmatch(r"-[0-9a-f]{8}", digest)
    (bucket,) = template.find_resources("AWS::S3::Bucket").values()
    assert bucket["Properties"]["CorsConfiguration"]["CorsRules"] == [
        {
            "Id": rule_id,
            "AllowedOrigins": ["https://app.encord.com", "https://app.us.encord.com"],
            "AllowedMethods": ["GET", "HEAD"],
            "AllowedHeaders": ["*"],
            "ExposedHeaders": EXPOSED,
            "MaxAge": 3600,
        }
    ]
    # A bucket of the app needs no custom resource, so no function either.
    assert stack.access.cors_handler is None
    assert not template.find_resources("AWS::Lambda::Function")


def test_user_stack_prefix_grants_are_acknowledged_for_cdk_nag(
    user: tuple[UserStack, Template, Path],
) -> None:
    """The IAM5 acknowledgement names the token ARN the way cdk-nag spells it."""
    stack, _, out = user
    (report,) = json.loads((out / "validation-report.json").read_text())["pluginReports"]
    assert report["violations"] == []  # synth would have failed otherwise
    acknowledged = {s["acknowledgedId"] for s in report["suppressedViolations"]}
    bucket_id = logical_id(stack, stack.bucket)
    assert acknowledged == {
        "AwsSolutions::AwsSolutions-S1",  # the user's own, on their bucket
        f"AwsSolutions::AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/images/*]",
    }


# --- an imported bucket: the merging custom resource -------------------------------------


def test_imported_bucket_gets_the_merging_custom_resource() -> None:
    stack = cdk.Stack(cdk.App(), "Imports")
    theirs = s3.Bucket.from_bucket_attributes(
        stack, "Theirs", bucket_name="their-data", region="eu-west-1"
    )
    key = kms.Key.from_key_arn(
        stack,
        "TheirKey",
        "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    )
    unmanaged = s3.Bucket.from_bucket_attributes(stack, "Unmanaged", bucket_name="cors-elsewhere")
    access = EncordAccess(
        stack,
        "Encord",
        trusted_principals=[iam.ArnPrincipal("arn:aws:iam::210987654321:role/encord")],
        external_id="ext-imported",
        buckets=[
            EncordBucket(bucket=theirs, key=key, prefixes=["scans/"], write_prefix="videos/"),
            EncordBucket(bucket=unmanaged, manage_cors=False),
        ],
        cors_rule_id="encord-access-Imports",
    )
    template = Template.from_stack(stack)
    (custom,) = template.find_resources("Custom::EncordBucketCors").values()
    props = custom["Properties"]
    assert props["BucketName"] == "their-data"
    assert props["Region"] == "eu-west-1"  # the bucket's env.region
    assert props["RuleId"] == "encord-access-Imports"
    assert props["AllowedMethods"] == ["GET", "HEAD"] and props["ExposeHeaders"] == EXPOSED
    assert props["MaxAgeSeconds"] == "3600"
    assert access.cors_handler is not None
    st = statements(template)
    arn = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::their-data"]]}

    def objects(prefix: str) -> dict[str, Any]:
        return {
            "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":s3:::their-data/{prefix}*"]]
        }

    via = {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}
    context = "kms:EncryptionContext:aws:s3:arn"
    assert st["DecryptThroughS3Key0"]["Action"] == "kms:Decrypt"
    assert st["DecryptThroughS3Key0"]["Condition"] == {
        "StringEquals": via,
        "StringLike": {context: [arn, objects("scans/"), objects("videos/")]},
    }
    assert st["EncryptThroughS3Key0"]["Action"] == "kms:GenerateDataKey"
    assert st["EncryptThroughS3Key0"]["Condition"] == {
        "StringEquals": via,
        "StringLike": {context: [arn, objects("videos/")]},
    }
    # The handler may touch the CORS of the managed bucket only.
    handler_policies = [
        p["Properties"]
        for k, p in template.find_resources("AWS::IAM::ManagedPolicy").items()
        if "HandlerRole" in k
    ]
    (policy,) = handler_policies
    (merge,) = [s for s in policy["PolicyDocument"]["Statement"] if s["Sid"] == "MergeOwnCorsRule"]
    assert merge["Resource"] == {
        "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::their-data"]]
    }


def test_manage_cors_false_leaves_a_bucket_of_the_app_alone() -> None:
    stack = cdk.Stack(cdk.App(), "NoCors")
    bucket = s3.Bucket(stack, "Data")
    EncordAccess(
        stack,
        "Encord",
        trusted_principals=[iam.AccountPrincipal(ENCORD)],
        external_id="ext-no-cors",
        buckets=[EncordBucket(bucket=bucket, manage_cors=False)],
    )
    template = Template.from_stack(stack)
    (resource,) = template.find_resources("AWS::S3::Bucket").values()
    assert "CorsConfiguration" not in resource.get("Properties", {})
    assert not template.find_resources("Custom::EncordBucketCors")


def test_what_it_built_is_read_only() -> None:
    stack = cdk.Stack(cdk.App(), "ReadOnly")
    access = EncordAccess(
        stack,
        "Encord",
        trusted_principals=[iam.AccountPrincipal(ENCORD)],
        external_id="ext-read-only",
        buckets=[EncordBucket(bucket=s3.Bucket(stack, "Data"))],
    )
    assert isinstance(access.role, iam.Role) and isinstance(access.policy, iam.ManagedPolicy)
    with pytest.raises(AttributeError):
        access.role = access.role  # type: ignore[misc]


# --- props are checked first, all at once ------------------------------------------------


def test_every_bad_prop_is_reported_at_once() -> None:
    stack = cdk.Stack(cdk.App(), "Bad")
    data = s3.Bucket(stack, "Data")
    elsewhere = s3.Bucket.from_bucket_attributes(stack, "Elsewhere", bucket_name="not-granted")
    with pytest.raises(EncordAccessPropsError) as caught:
        EncordAccess(
            stack,
            "Encord",
            trusted_principals=[iam.AnyPrincipal(), iam.ServicePrincipal("lambda.amazonaws.com")],
            external_id="",
            buckets=[EncordBucket(bucket=data, prefixes=["/images/", "a*"], write_prefix="")],
            cors_origins=["http://app.encord.com", "*"],
            cors_max_age=cdk.Duration.days(2),
            multi_region_access_points=[
                EncordMultiRegionAccessPoint(
                    arn="arn:aws:s3:::not-an-mrap", buckets=[data, elsewhere]
                )
            ],
            max_session_duration=cdk.Duration.hours(13),
            role_name="has space",
        )
    error = caught.value
    where = [p.prop for p in error.problems]
    assert where == [
        "trusted_principals[0]",
        "trusted_principals[1]",
        "external_id",
        "buckets[0].prefixes[0]",
        "buckets[0].prefixes[1]",
        "buckets[0].write_prefix",
        "cors_origins[0]",
        "cors_origins[1]",
        "cors_max_age",
        "max_session_duration",
        "multi_region_access_points[0].arn",
        "multi_region_access_points[0].buckets[1]",
        "role_name",
    ]
    message = str(error)
    assert f"{len(where)} invalid props" in message
    for fragment in (
        "lets anyone assume the role",
        "iam.AccountPrincipal",
        "confused deputy",
        "'/images/'",
        "drop the leading slash",
        "wildcards are not allowed",
        "'http://app.encord.com'",
        "must use https://",
        "a wildcard origin",
        "received 13 hours",
        "1 to 12 hours",
        "'not-granted'",
        "not one of `buckets`",
        "'has space'",
    ):
        assert fragment in message, fragment
    # Nothing was built.
    assert not [c for c in stack.node.find_all() if isinstance(c, iam.Role)]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"trusted_principals": []}, "trusted_principals: received []"),
        ({"buckets": []}, "buckets: received []"),
        ({"cors_origins": []}, "cors_origins: received []"),
        ({"external_id": " "}, "external_id: received ' '"),
        ({"cors_rule_id": "x" * 256}, "cors_rule_id"),
    ],
)
def test_each_required_prop_says_what_to_pass(change: dict[str, Any], expected: str) -> None:
    stack = cdk.Stack(cdk.App(), "Missing")
    props: dict[str, Any] = {
        "trusted_principals": [iam.AccountPrincipal(ENCORD)],
        "external_id": "encord-ext-construct",
        "buckets": [EncordBucket(bucket=s3.Bucket(stack, "Data"))],
        **change,
    }
    with pytest.raises(EncordAccessPropsError) as caught:
        EncordAccess(stack, "Encord", **props)
    assert str(caught.value.problems[0]).startswith(expected)


def test_the_same_bucket_twice_is_a_problem() -> None:
    stack = cdk.Stack(cdk.App(), "Twice")
    data = s3.Bucket(stack, "Data")
    with pytest.raises(EncordAccessPropsError, match="listed twice"):
        EncordAccess(
            stack,
            "Encord",
            trusted_principals=[iam.AccountPrincipal(ENCORD)],
            external_id="encord-ext-construct",
            buckets=[EncordBucket(bucket=data), EncordBucket(bucket=data, prefixes=["a/"])],
        )


# --- issue 11: writes over the data, access points, key regions, prefixes without '/' -------

KEY_EU = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
MRAP = "arn:aws:s3::123456789012:accesspoint/mfzwi23gnjvgw.mrap"


def _problems(stack: cdk.Stack, **props: Any) -> list[str]:
    with pytest.raises(EncordAccessPropsError) as caught:
        EncordAccess(
            stack,
            "Encord",
            trusted_principals=[iam.AccountPrincipal(ENCORD)],
            external_id="encord-ext-construct",
            **props,
        )
    return [str(p) for p in caught.value.problems]


def test_a_write_prefix_over_the_data_read_is_refused() -> None:
    stack = cdk.Stack(cdk.App(), "Overwrite")
    inside = s3.Bucket.from_bucket_attributes(stack, "Inside", bucket_name="inside-data")
    whole = s3.Bucket.from_bucket_attributes(stack, "Whole", bucket_name="whole-data")
    problems = _problems(
        stack,
        buckets=[
            EncordBucket(bucket=inside, prefixes=["images/"], write_prefix="images/videos/"),
            EncordBucket(bucket=whole, write_prefix="encord-videos/"),
        ],
    )
    assert problems == [
        "buckets[0].write_prefix: received 'images/videos/'; it sits inside the read prefix "
        "'images/', so Encord could overwrite your source data there; give Encord a prefix of "
        "its own outside every read prefix (such as 'encord-videos/')",
        "buckets[1].write_prefix: received 'encord-videos/'; the whole bucket is readable, so "
        "Encord could overwrite your source data there; give Encord a prefix of its own outside "
        "every read prefix (such as 'encord-videos/'), and list the read prefixes instead of "
        "the whole bucket",
    ]


def test_an_access_point_over_buckets_with_different_prefixes_is_refused() -> None:
    stack = cdk.Stack(cdk.App(), "Mrap")
    images = s3.Bucket.from_bucket_attributes(stack, "Images", bucket_name="images-data")
    scans = s3.Bucket.from_bucket_attributes(stack, "Scans", bucket_name="scans-data")
    (problem,) = _problems(
        stack,
        buckets=[
            EncordBucket(bucket=images, prefixes=["images/"]),
            EncordBucket(bucket=scans, prefixes=["dicom/"]),
        ],
        multi_region_access_points=[
            EncordMultiRegionAccessPoint(arn=MRAP, buckets=[images, scans])
        ],
    )
    assert problem.startswith("multi_region_access_points[0].buckets: received 2 buckets; ")
    assert "'images-data': prefixes ['images/']" in problem
    assert "'scans-data': prefixes ['dicom/']" in problem


def test_a_key_in_another_region_than_its_bucket_is_refused() -> None:
    stack = cdk.Stack(cdk.App(), "Keys", env=cdk.Environment(region="us-east-1"))
    key = kms.Key.from_key_arn(stack, "Key", KEY_EU)
    here = s3.Bucket.from_bucket_attributes(stack, "Here", bucket_name="here-data")
    (problem,) = _problems(stack, buckets=[EncordBucket(bucket=here, key=key)])
    assert problem == (
        f"buckets[0].key: received {KEY_EU}; the key is in eu-west-1 but the bucket is in "
        "us-east-1; S3 only uses a key of the bucket's own region, so the grant could never "
        "work. Give the ARN of the key (or the multi-Region replica) in the bucket's region"
    )


def test_a_prefix_without_a_slash_is_a_warning_not_a_failure() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "Slashes")
    EncordAccess(
        stack,
        "Encord",
        trusted_principals=[iam.AccountPrincipal(ENCORD)],
        external_id="encord-ext-construct",
        buckets=[
            EncordBucket(
                bucket=s3.Bucket(stack, "Data"),
                prefixes=["images", "videos/"],
                write_prefix="encord",
            )
        ],
    )
    warnings = [
        str(m.entry.data)
        for m in app.synth().get_stack_artifact("Slashes").messages
        if m.level.name == "WARNING"
    ]
    assert [w.split(": ", 1)[0] for w in warnings if "does not end in '/'" in w] == [
        "buckets[0] (Slashes/Data).prefixes[0]",
        "buckets[0] (Slashes/Data).write_prefix",
    ]
    assert any("also matches keys such as 'images-private/...'" in w for w in warnings)
