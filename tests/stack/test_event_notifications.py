"""`enable_event_bridge`: what it adds to a template for an owned and for an imported bucket.

One small app per module: a bucket of the app (with and without the CDK's own notifications
resource) and two imported buckets, synthesized with cdk-nag's AWS Solutions checks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from stacks.notifications_handler import index

ACCOUNT, REGION = "123456789012", "eu-west-1"


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    import aws_cdk as cdk
    from aws_cdk import aws_s3 as s3
    from aws_cdk import aws_s3_notifications as s3n
    from aws_cdk import aws_sqs as sqs
    from cdk_nag import AwsSolutionsChecks

    from stacks.event_notifications import enable_event_bridge

    out = tmp_path_factory.mktemp("cdk.out")
    app = cdk.App(outdir=str(out))
    stack = cdk.Stack(app, "Notifications", env=cdk.Environment(account=ACCOUNT, region=REGION))
    enable_event_bridge(stack, s3.Bucket(stack, "Owned"))
    for name in ("customer-images", "customer-scans"):
        enable_event_bridge(stack, s3.Bucket.from_bucket_name(stack, f"Import-{name}", name))
    # A bucket that also has notifications through the CDK, added after ours (its handler is
    # the CDK's, with its own cdk-nag findings: that part is synthesized without the checks).
    mixed = s3.Bucket(stack, "Mixed")
    enable_event_bridge(stack, mixed)
    queue = sqs.Queue(stack, "Thumbnails")
    mixed.add_event_notification(s3.EventType.OBJECT_CREATED, s3n.SqsDestination(queue))
    checked = cdk.App(outdir=str(out / "checked"))
    checked_stack = cdk.Stack(
        checked, "Notifications", env=cdk.Environment(account=ACCOUNT, region=REGION)
    )
    checked_owned = s3.Bucket(checked_stack, "Owned", enforce_ssl=True)
    enable_event_bridge(checked_stack, checked_owned)
    cdk.Validations.of(checked_owned).acknowledge(
        cdk.Acknowledgment(id="AwsSolutions::AwsSolutions-S1", reason="a test bucket")
    )
    for name in ("customer-images", "customer-scans"):
        imported = s3.Bucket.from_bucket_name(checked_stack, f"Import-{name}", name)
        enable_event_bridge(checked_stack, imported)
    cdk.Validations.of(checked).add_plugins(AwsSolutionsChecks(checked))
    checked.synth()  # fails on any unacknowledged finding
    template = app.synth().get_stack_by_name("Notifications").template
    return template, out


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def by_prefix(template: dict[str, Any], kind: str, prefix: str) -> dict[str, Any]:
    (found,) = [v for k, v in resources(template, kind).items() if k.startswith(prefix)]
    return found


def test_an_owned_bucket_gets_the_cloudformation_property(
    synthesized: tuple[dict[str, Any], Path],
) -> None:
    template, _ = synthesized
    owned = by_prefix(template, "AWS::S3::Bucket", "Owned")
    assert owned["Properties"]["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }
    # No Lambda of ours for it; the only CDK notifications resource is the mixed bucket's.
    (cdk_resource,) = resources(template, "Custom::S3BucketNotifications").values()
    assert cdk_resource["Properties"]["BucketName"] == {"Ref": _logical_id(template, "Mixed")}


def test_the_cdks_own_notifications_of_a_bucket_keep_eventbridge_on(
    synthesized: tuple[dict[str, Any], Path],
) -> None:
    """That resource puts the whole configuration: with EventBridge in it, it does not
    switch off what the bucket's property switched on."""
    template, _ = synthesized
    mixed = by_prefix(template, "AWS::S3::Bucket", "Mixed")
    assert mixed["Properties"]["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }
    (cdk_resource,) = resources(template, "Custom::S3BucketNotifications").values()
    configuration = cdk_resource["Properties"]["NotificationConfiguration"]
    assert configuration["EventBridgeConfiguration"] == {}
    assert len(configuration["QueueConfigurations"]) == 1


def _logical_id(template: dict[str, Any], prefix: str) -> str:
    (found,) = [k for k in resources(template, "AWS::S3::Bucket") if k.startswith(prefix)]
    return found


@pytest.mark.parametrize("bucket", ["customer-images", "customer-scans"])
def test_an_imported_bucket_gets_its_own_bucket_scoped_handler(
    synthesized: tuple[dict[str, Any], Path], bucket: str
) -> None:
    template, _ = synthesized
    label = "EventBridge" + bucket.replace("-", "")
    custom = by_prefix(template, index.RESOURCE_TYPE, f"{label}Notifications")
    function_id = custom["Properties"]["ServiceToken"]["Fn::GetAtt"][0]
    function = template["Resources"][function_id]
    role = template["Resources"][function["Properties"]["Role"]["Fn::GetAtt"][0]]
    log_group_id = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]

    assert custom["Properties"]["BucketName"] == bucket
    assert custom["Properties"]["Region"] == REGION
    assert int(custom["Properties"]["ServiceTimeout"]) > function["Properties"]["Timeout"]
    assert function_id in custom["DependsOn"]
    assert function["Properties"]["Environment"]["Variables"] == {index.ALLOWED_BUCKETS_ENV: bucket}
    assert function["Properties"]["Handler"] == "index.handler"
    assert template["Resources"][log_group_id]["Type"] == "AWS::Logs::LogGroup"
    assert "ManagedPolicyArns" not in role["Properties"] and "Policies" not in role["Properties"]
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    (policy,) = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::ManagedPolicy" and r["Properties"]["Roles"] == [{"Ref": role_id}]
    ]
    assert policy["PolicyDocument"]["Statement"] == [
        {
            "Sid": "ChangeOwnBucketNotifications",
            "Effect": "Allow",
            "Action": ["s3:GetBucketNotification", "s3:PutBucketNotification"],
            "Resource": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":s3:::{bucket}"]]},
        },
        {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": {"Fn::GetAtt": [log_group_id, "Arn"]},
        },
    ]


def test_cdk_nag_finds_nothing_in_what_it_adds(synthesized: tuple[dict[str, Any], Path]) -> None:
    """The owned and imported cases, synthesized with AWS Solutions checks (a finding fails)."""
    _, out = synthesized
    report = json.loads((out / "checked" / "validation-report.json").read_text())
    assert [p["conclusion"] for p in report["pluginReports"]] == ["success"]
    assert [v for p in report["pluginReports"] for v in p["violations"]] == []


def test_the_handler_asset_is_index_py_and_the_shared_module_and_imports_cleanly(
    synthesized: tuple[dict[str, Any], Path],
) -> None:
    _, out = synthesized
    (asset,) = [d for d in out.glob("asset.*") if (d / "index.py").exists()]
    files = sorted(str(p.relative_to(asset)) for p in asset.rglob("*") if p.is_file())
    assert files == ["index.py", "stacks/handler_common.py"]
    shared = Path(__file__).resolve().parents[2] / "stacks" / "handler_common.py"
    assert (asset / "stacks" / "handler_common.py").read_bytes() == shared.read_bytes()
    probe = (
        "import sys; sys.path.insert(0, '.'); import index; "
        "assert callable(index.handler); "
        # the asset's copy (a namespace package), not the project's `stacks`
        "import stacks; assert stacks.__file__ is None, stacks.__file__; "
        "print(index.RESOURCE_TYPE)"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-B", "-c", probe],  # -I: no PYTHONPATH, so no `stacks` package
        cwd=asset,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == index.RESOURCE_TYPE
