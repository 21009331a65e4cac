"""`EncordContinuousRegistration` on its own, as a CDK user adds it to their app.

Asset bundling is skipped (``aws:cdk:bundling-stacks``); the Lambda asset itself is tested by
tests/stack/test_continuous_asset.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from stacks.continuous import (
    EncordContinuousPropsError,
    EncordContinuousRegistration,
    WatchedS3Bucket,
)

pytestmark = pytest.mark.xdist_group("cdk")  # one jsii runtime per worker

NO_BUNDLING = {"aws:cdk:bundling-stacks": []}
ENV = cdk.Environment(account="123456789012", region="us-east-1")


def logical_id(stack: cdk.Stack, construct: Any) -> str:
    return stack.get_logical_id(construct.node.default_child)


class UserStack(cdk.Stack):
    """What a CDK user writes: their bucket (with its key), their secret (with its key)."""

    def __init__(self, scope: Any, construct_id: str) -> None:
        super().__init__(scope, construct_id, env=ENV)
        self.data_key = kms.Key(self, "DataKey", enable_key_rotation=True)
        self.bucket = s3.Bucket(
            self,
            "Uploads",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.data_key,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        )
        cdk.Validations.of(self.bucket).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions::AwsSolutions-S1", reason="The user's logging is not ours"
            )
        )
        self.secret_key = kms.Key(self, "SecretKey", enable_key_rotation=True)
        self.secret = secretsmanager.Secret(
            self, "EncordKey", encryption_key=self.secret_key, description="Encord SSH key"
        )
        cdk.Validations.of(self.secret).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions::AwsSolutions-SMG4",
                reason="An SSH key is rotated in Encord, not by a rotation Lambda",
            )
        )
        self.continuous = EncordContinuousRegistration(
            self,
            "Continuous",
            buckets=[WatchedS3Bucket(bucket=self.bucket, prefixes=["uploads/"])],
            ssh_key_secret=self.secret,
            integration="My S3",
            folder="datasets/live",
            image_groups=["uploads/sets/*"],
            runtime=lambda_.Runtime.PYTHON_3_14,
        )


@pytest.fixture(scope="module")
def user(tmp_path_factory: pytest.TempPathFactory) -> tuple[UserStack, Template, Path]:
    out = tmp_path_factory.mktemp("user-continuous")
    app = cdk.App(outdir=str(out), context=NO_BUNDLING)
    stack = UserStack(app, "UserStack")
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    assembly = app.synth()
    template = Template.from_json(assembly.get_stack_artifact("UserStack").template)
    return stack, template, out


def policy_statements(stack: UserStack, template: Template) -> dict[str, dict[str, Any]]:
    role = stack.continuous.function.role
    assert role is not None
    role_id = logical_id(stack, role)
    (policy,) = [
        p
        for p in template.find_resources("AWS::IAM::ManagedPolicy").values()
        if p["Properties"]["Roles"] == [{"Ref": role_id}]
    ]
    return {
        s.get("Sid", "ConsumeQueue"): s for s in policy["Properties"]["PolicyDocument"]["Statement"]
    }


def test_user_bucket_gets_eventbridge_on_its_own_property(
    user: tuple[UserStack, Template, Path],
) -> None:
    stack, template, _ = user
    bucket = template.find_resources("AWS::S3::Bucket")[logical_id(stack, stack.bucket)]
    assert bucket["Properties"]["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }
    (rule,) = template.find_resources("AWS::Events::Rule").values()
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [{"Ref": logical_id(stack, stack.bucket)}]},
            "object": {"key": [{"prefix": "uploads/"}]},
        },
    }
    assert not template.find_resources("Custom::EncordBucketEventBridge")


def test_user_secret_is_read_by_reference_and_its_key_only_through_secrets_manager(
    user: tuple[UserStack, Template, Path],
) -> None:
    stack, template, _ = user
    secret_ref = {"Ref": logical_id(stack, stack.secret)}
    st = policy_statements(stack, template)
    assert st["ReadEncordKey"]["Action"] == "secretsmanager:GetSecretValue"
    assert st["ReadEncordKey"]["Resource"] == secret_ref
    assert st["DecryptEncordKey"] == {
        "Sid": "DecryptEncordKey",
        "Effect": "Allow",
        "Action": "kms:Decrypt",
        "Resource": {"Fn::GetAtt": [logical_id(stack, stack.secret_key), "Arn"]},
        "Condition": {
            "StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"},
            "StringLike": {"kms:EncryptionContext:SecretARN": secret_ref},
        },
    }
    # The data key: Decrypt through S3 only, for the watched objects only.
    assert st["DecryptThroughS3Key0"]["Resource"] == {
        "Fn::GetAtt": [logical_id(stack, stack.data_key), "Arn"]
    }
    assert st["DecryptThroughS3Key0"]["Condition"]["StringEquals"] == {
        "kms:ViaService": "s3.us-east-1.amazonaws.com"
    }
    (function,) = [
        f
        for k, f in template.find_resources("AWS::Lambda::Function").items()
        if k == logical_id(stack, stack.continuous.function)
    ]
    variables = function["Properties"]["Environment"]["Variables"]
    assert list(variables) == ["ENCORD_CONTINUOUS_SETTINGS"]
    assert secret_ref in variables["ENCORD_CONTINUOUS_SETTINGS"]["Fn::Join"][1]
    # Nothing but the user's own secret (which generates a value) names a secret value.
    secret_id = logical_id(stack, stack.secret)
    others = {k: v for k, v in template.to_json()["Resources"].items() if k != secret_id}
    text = json.dumps(others)
    assert "{{resolve:secretsmanager" not in text and "SecretString" not in text


def test_user_stack_is_cdk_nag_clean_with_narrow_acknowledgements(
    user: tuple[UserStack, Template, Path],
) -> None:
    stack, _, out = user
    (report,) = json.loads((out / "validation-report.json").read_text())["pluginReports"]
    assert report["violations"] == []
    ours = {
        s["acknowledgedId"]
        for s in report["suppressedViolations"]
        if s["acknowledgedAt"].startswith("UserStack/Continuous")
    }
    bucket_id = logical_id(stack, stack.bucket)
    # Python 3.14 is the newest runtime: no L1 acknowledgement is needed, so none is made.
    assert ours == {f"AwsSolutions::AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/uploads/*]"}


def test_what_it_built_is_exposed() -> None:
    stack = cdk.Stack(cdk.App(context=NO_BUNDLING), "Exposed", env=ENV)
    bucket = s3.Bucket.from_bucket_name(stack, "Data", "their-data")
    continuous = EncordContinuousRegistration(
        stack,
        "Continuous",
        buckets=[WatchedS3Bucket(bucket=bucket)],
        ssh_key_secret=secretsmanager.Secret.from_secret_name_v2(stack, "Key", "encord/key"),
        integration="My S3",
        folder="f",
    )
    assert set(continuous.alarms) == {"dead_letters", "oldest_message", "errors"}
    assert len(continuous.rules) == 1
    assert continuous.settings.buckets[0].prefixes == ("",)
    assert continuous.settings.secret_id == "encord/key"
    with pytest.raises(AttributeError):
        continuous.queue = continuous.queue  # type: ignore[misc]


# --- props are checked first, all at once ------------------------------------------------


def _props(stack: cdk.Stack, **changes: Any) -> dict[str, Any]:
    return {
        "buckets": [WatchedS3Bucket(bucket=s3.Bucket.from_bucket_name(stack, "Data", "data-1"))],
        "ssh_key_secret": secretsmanager.Secret.from_secret_name_v2(stack, "Key", "encord/key"),
        "integration": "My S3",
        "folder": "datasets/live",
        **changes,
    }


def test_every_bad_prop_is_reported_at_once() -> None:
    stack = cdk.Stack(cdk.App(context=NO_BUNDLING), "Bad", env=ENV)
    data = s3.Bucket.from_bucket_attributes(
        stack, "Far", bucket_name="far-data", region="eu-west-1"
    )
    secret = secretsmanager.Secret.from_secret_complete_arn(
        stack,
        "FarKey",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:encord/key-AbCdEf",
    )
    with pytest.raises(EncordContinuousPropsError) as caught:
        EncordContinuousRegistration(
            stack,
            "Continuous",
            buckets=[
                WatchedS3Bucket(bucket=data, prefixes=["/images/", "a*"]),
                WatchedS3Bucket(bucket=data),
            ],
            ssh_key_secret=secret,
            integration=" ",
            folder="",
            domain="api.encord.com",
            image_groups=["re:("],
            dicom_series=[""],
            type_map={"jfif": "picture"},
            sidecar_suffixes=["a/b"],
            quiet_period=cdk.Duration.seconds(5),
            group_marker="x/_COMPLETE",
            batch_size=50,
            batch_window=cdk.Duration.seconds(0),
            max_concurrency=1,
            oldest_message_alarm=cdk.Duration.minutes(1),
            runtime=lambda_.Runtime.NODEJS_22_X,
        )
    error = caught.value
    assert [p.prop for p in error.problems] == [
        "buckets[0].prefixes[0]",
        "buckets[0].prefixes[1]",
        "buckets[0].bucket",
        "buckets[1].bucket",
        "buckets[1].bucket",
        "ssh_key_secret",
        "domain",
        "integration",
        "folder",
        "image_groups[0]",
        "dicom_series[0]",
        "type_map['jfif']",
        "sidecar_suffixes",
        "group_marker",
        "batch_size",
        "quiet_period",
        "max_concurrency",
        "oldest_message_alarm",
        "runtime",
    ]
    message = str(error)
    assert "19 invalid props" in message
    for fragment in (
        "drop the leading slash",
        "wildcards are not allowed",
        "S3 sends its events to EventBridge in the bucket's own region",
        "listed twice",
        "replicate the secret to us-east-1",
        "https://api.encord.com",
        "bad regular expression",
        "empty pattern",
        "unknown type 'picture'",
        "no '/'",
        "a name, not a path",
        "needs a batching window of at least 1 second",
        "10 seconds to 7 days",
        "Encord's rate limits",
        "a group check waits up to 900 seconds",
        "a Python runtime of 3.11 or later",
    ):
        assert fragment in message, fragment
    # Nothing was built.
    assert not [c for c in stack.node.find_all() if isinstance(c, lambda_.Function)]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"buckets": []}, "buckets: received []; pass at least one WatchedS3Bucket"),
        (
            {"quiet_period": cdk.Duration.seconds(15), "batch_window": cdk.Duration.seconds(20)},
            "must be longer than the batching window",
        ),
        ({"batch_size": 10_001}, "1 to 10,000 messages"),
        (
            {"batch_window": cdk.Duration.minutes(6), "quiet_period": cdk.Duration.minutes(10)},
            "0 to 300 seconds",
        ),
        ({"max_concurrency": 1001}, "2 to 1000 handlers at once"),
        ({"domain": "https://api.us.encord.com/v1"}, "expected Encord's API address"),
    ],
)
def test_each_prop_says_what_to_pass(change: dict[str, Any], expected: str) -> None:
    stack = cdk.Stack(cdk.App(context=NO_BUNDLING), "One", env=ENV)
    with pytest.raises(EncordContinuousPropsError) as caught:
        EncordContinuousRegistration(stack, "Continuous", **_props(stack, **change))
    (problem,) = caught.value.problems
    assert expected in str(problem), str(problem)


def test_too_many_prefixes_for_one_rule_are_refused() -> None:
    stack = cdk.Stack(cdk.App(context=NO_BUNDLING), "Many", env=ENV)
    bucket = s3.Bucket.from_bucket_name(stack, "Many", "many-prefixes")
    prefixes = [f"camera-{i:03d}/frames/" for i in range(100)]
    with pytest.raises(EncordContinuousPropsError, match="EventBridge allows 2,048"):
        EncordContinuousRegistration(
            stack, "Continuous", **_props(stack, buckets=[WatchedS3Bucket(bucket, prefixes)])
        )


def test_settings_too_large_for_lambdas_environment_are_refused() -> None:
    stack = cdk.Stack(cdk.App(context=NO_BUNDLING), "Large", env=ENV)
    patterns = [f"re:^very/long/pattern/number-{i:03d}/[a-z]+$" for i in range(120)]
    with pytest.raises(EncordContinuousPropsError, match=r"settings: received about [\d,]+ bytes"):
        EncordContinuousRegistration(stack, "Continuous", **_props(stack, image_groups=patterns))


def test_a_bucket_region_the_stack_may_not_have_is_a_warning() -> None:
    app = cdk.App(context=NO_BUNDLING)
    stack = cdk.Stack(app, "Agnostic")  # no region: unknown until deploy
    far = s3.Bucket.from_bucket_attributes(stack, "Far", bucket_name="far-data", region="eu-west-1")
    EncordContinuousRegistration(
        stack, "Continuous", **_props(stack, buckets=[WatchedS3Bucket(bucket=far)])
    )
    warnings = [
        str(m.entry.data)
        for m in app.synth().get_stack_artifact("Agnostic").messages
        if m.level.name == "WARNING"
    ]
    assert any("deploy this stack to eu-west-1" in w for w in warnings), warnings
