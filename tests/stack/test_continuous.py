"""Continuous registration in the app's stack: every resource, permission, filter and alarm.

The stack is synthesized from a `cdk.json`-style config with `continuous`, as `app.py` does
(cdk-nag included), with asset bundling skipped: the Lambda asset itself (pip for Lambda's
platform) is built and tested by tests/stack/test_continuous_asset.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from registration.continuous.settings import FUNCTION_TIMEOUT_SECONDS, HandlerSettings
from registration.stack_outputs import parse_outputs
from tests.stack.security import security_problems

pytestmark = pytest.mark.xdist_group("cdk")  # one jsii runtime per worker

ACCOUNT = "123456789012"
REGION = "us-east-1"  # the region tests/stack/security.py resolves AWS::Region to
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:encord/registration-key-AbCdEf"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:encord-alerts"
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/boundary"

CONFIG: dict[str, Any] = {
    "stackName": "EncordContinuousTest",
    "trustedPrincipals": ["210987654321"],
    "externalId": "encord-ext-0123456789",
    "buckets": [
        {
            "name": "camera-data",
            "prefixes": ["drone/", "scans/", "other/"],
            "kmsKeyArn": KEY,
            "region": REGION,
        },
        {"name": "created-data", "create": True},
    ],
    "permissionsBoundaryArn": BOUNDARY,
    "continuous": {
        "integration": "My S3",
        "folder": "datasets/live",
        "sshKeySecret": SECRET,
        "watch": [{"bucket": "camera-data", "prefixes": ["drone/", "scans/"]}, "created-data"],
        "imageSequences": ["drone/*/frames"],
        "dicomSeries": ["scans/*/*"],
        "typeMap": {"jfif": "image"},
        "quietPeriodSeconds": 600,
        "groupMarker": "_COMPLETE",
        "batchSize": 50,
        "batchWindowSeconds": 20,
        "maxConcurrency": 8,
        "alarmTopicArn": TOPIC,
    },
}


@dataclass
class Synth:
    template: dict[str, Any]
    report: dict[str, Any]
    path: Path

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == resource_type}

    def one(self, resource_type: str) -> tuple[str, dict[str, Any]]:
        (found,) = self.of_type(resource_type).items()
        return found[0], found[1]["Properties"]

    def named(self, resource_type: str, part: str) -> tuple[str, dict[str, Any]]:
        (found,) = [(k, v) for k, v in self.of_type(resource_type).items() if part in k]
        return found[0], found[1]["Properties"]


def synth_config(config: dict[str, Any], out: Path) -> Synth:
    """Synthesize `config` as app.py does (cdk-nag on), without bundling the Lambda asset."""
    import aws_cdk as cdk

    from app import add_access_stack
    from stacks.config import load_config

    app = cdk.App(outdir=str(out), context={"aws:cdk:bundling-stacks": []})
    env = cdk.Environment(account=ACCOUNT, region=REGION)
    stack = add_access_stack(app, load_config(config, region=REGION), env)
    app.synth()
    path = out / f"{stack.stack_name}.template.json"
    report = json.loads((out / "validation-report.json").read_text())
    return Synth(template=json.loads(path.read_text()), report=report, path=path)


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synth_config(CONFIG, tmp_path_factory.mktemp("continuous"))


def resolve(value: Any, refs: dict[str, str] | None = None) -> Any:
    """CloudFormation's resolution of the intrinsics in `value`, with stand-in physical IDs."""
    refs = refs or {}
    if isinstance(value, dict):
        if "Fn::Join" in value:
            sep, parts = value["Fn::Join"]
            return sep.join(str(resolve(p, refs)) for p in parts)
        if "Ref" in value:
            pseudo = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}
            return pseudo.get(value["Ref"]) or refs.get(value["Ref"], f"<{value['Ref']}>")
        if "Fn::GetAtt" in value:
            return f"<{'.'.join(value['Fn::GetAtt'])}>"
        return {k: resolve(v, refs) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, refs) for v in value]
    return value


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(synth: Synth) -> list[dict[str, Any]]:
    _, policy = synth.named("AWS::IAM::ManagedPolicy", "ContinuousHandlerRolePolicy")
    return resolve(policy["PolicyDocument"]["Statement"])


def s3_arn(resource: str) -> str:
    return f"arn:aws:s3:::{resource}"


# --- events: the rules and the buckets --------------------------------------------------


def test_one_rule_per_bucket_matches_created_objects_under_its_prefixes(synth: Synth) -> None:
    rules = {k: resolve(v["Properties"]) for k, v in synth.of_type("AWS::Events::Rule").items()}
    patterns = sorted((r["EventPattern"] for r in rules.values()), key=json.dumps)
    assert patterns == sorted(
        [
            {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {
                    "bucket": {"name": ["camera-data"]},
                    "object": {"key": [{"prefix": "drone/"}, {"prefix": "scans/"}]},
                },
            },
            # The whole bucket: no key filter at all.
            {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {"bucket": {"name": ["created-data"]}},
            },
        ],
        key=json.dumps,
    )
    queue_id, _ = synth.named("AWS::SQS::Queue", "ContinuousQueue")
    dlq_id, _ = synth.named("AWS::SQS::Queue", "DeadLetter")
    for rule in rules.values():
        assert rule["State"] == "ENABLED"
        (target,) = rule["Targets"]
        assert target["Arn"] == f"<{queue_id}.Arn>"
        # An event EventBridge cannot deliver waits in the dead-letter queue.
        assert target["DeadLetterConfig"] == {"Arn": f"<{dlq_id}.Arn>"}
        assert "InputTransformer" not in target and "Input" not in target  # the event as is


def test_eventbridge_is_switched_on_for_each_watched_bucket(synth: Synth) -> None:
    _, created = synth.one("AWS::S3::Bucket")
    assert created["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }
    # The existing bucket: our own custom resource (not the CDK's, which needs `*`).
    (custom,) = synth.of_type("Custom::EncordBucketEventBridge").values()
    assert custom["Properties"]["BucketName"] == "camera-data"
    assert not synth.of_type("Custom::S3BucketNotifications")


# --- the queues ----------------------------------------------------------------------------


def test_queue_is_encrypted_tls_only_with_a_dead_letter_queue(synth: Synth) -> None:
    from stacks.continuous_resources import MAX_RECEIVE_COUNT

    _, queue = synth.named("AWS::SQS::Queue", "ContinuousQueue")
    dlq_id, dlq = synth.named("AWS::SQS::Queue", "DeadLetter")
    assert queue["SqsManagedSseEnabled"] is True and dlq["SqsManagedSseEnabled"] is True
    assert resolve(queue["RedrivePolicy"]) == {
        "deadLetterTargetArn": f"<{dlq_id}.Arn>",
        "maxReceiveCount": MAX_RECEIVE_COUNT,
    }
    assert MAX_RECEIVE_COUNT >= 5  # AWS's advice for queues read by Lambda
    # AWS: at least six times the function's timeout, plus the batching window.
    assert queue["VisibilityTimeout"] == 6 * FUNCTION_TIMEOUT_SECONDS + 20
    assert queue["MessageRetentionPeriod"] == 7 * 24 * 3600
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600  # longer: same first enqueue time


def test_only_the_rules_may_send_and_only_over_tls(synth: Synth) -> None:
    rule_arns = sorted(f"<{k}.Arn>" for k in synth.of_type("AWS::Events::Rule"))
    for _, policy in synth.of_type("AWS::SQS::QueuePolicy").items():
        document = resolve(policy["Properties"]["PolicyDocument"])
        deny, *allows = document["Statement"]
        assert deny["Effect"] == "Deny" and deny["Principal"] == {"AWS": "*"}
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        sources = []
        for allow in allows:
            assert allow["Effect"] == "Allow"
            assert allow["Principal"] == {"Service": "events.amazonaws.com"}
            assert "sqs:SendMessage" in as_list(allow["Action"])
            assert set(as_list(allow["Action"])) <= {
                "sqs:SendMessage",
                "sqs:GetQueueAttributes",
                "sqs:GetQueueUrl",
            }
            sources.append(allow["Condition"]["ArnEquals"]["aws:SourceArn"])
        assert sorted(sources) == rule_arns


# --- the table -----------------------------------------------------------------------------


def test_state_table_layout(synth: Synth) -> None:
    from registration.continuous import table as layout

    table_id, table = synth.one("AWS::DynamoDB::Table")
    assert table["KeySchema"] == [
        {"AttributeName": layout.PARTITION_KEY, "KeyType": "HASH"},
        {"AttributeName": layout.SORT_KEY, "KeyType": "RANGE"},
    ]
    assert table["GlobalSecondaryIndexes"] == [
        {
            "IndexName": layout.LISTING_INDEX,
            "KeySchema": [
                {"AttributeName": layout.LISTING, "KeyType": "HASH"},
                {"AttributeName": layout.AT, "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
    ]
    assert sorted(table["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == [
        {"AttributeName": name, "AttributeType": "S"}
        for name in sorted((layout.PARTITION_KEY, layout.SORT_KEY, layout.LISTING, layout.AT))
    ]
    assert table["TimeToLiveSpecification"] == {"AttributeName": layout.TTL, "Enabled": True}
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["SSESpecification"] == {"SSEEnabled": True}  # AWS-managed key
    resource = synth.template["Resources"][table_id]
    assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain"


# --- the function --------------------------------------------------------------------------


def test_function_and_its_event_source(synth: Synth) -> None:
    from stacks.continuous import FUNCTION_MEMORY_MB
    from stacks.continuous_bundle import HANDLER

    function_id, function = synth.named("AWS::Lambda::Function", "ContinuousHandler")
    assert function["Runtime"] == "python3.13"
    assert function["Handler"] == HANDLER
    assert function["Architectures"] == ["x86_64"]
    assert function["Timeout"] == FUNCTION_TIMEOUT_SECONDS
    assert function["MemorySize"] == FUNCTION_MEMORY_MB
    # Its own delayed checks go back to its queue: Lambda must not stop that chain.
    assert function["RecursiveLoop"] == "Allow"
    log_id = function["LoggingConfig"]["LogGroup"]["Ref"]
    assert synth.template["Resources"][log_id]["Properties"]["RetentionInDays"] == 90
    queue_id, _ = synth.named("AWS::SQS::Queue", "ContinuousQueue")
    _, mapping = synth.one("AWS::Lambda::EventSourceMapping")
    assert resolve(mapping) == {
        "EventSourceArn": f"<{queue_id}.Arn>",
        "FunctionName": f"<{function_id}>",
        "BatchSize": 50,
        "MaximumBatchingWindowInSeconds": 20,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "ScalingConfig": {"MaximumConcurrency": 8},
    }


def test_settings_reach_the_function_as_handler_settings(synth: Synth) -> None:
    """The one environment variable parses, once CloudFormation resolves it, into the
    settings the handler reads; the tokens (table, queue, bucket) resolve inside the JSON."""
    _, function = synth.named("AWS::Lambda::Function", "ContinuousHandler")
    variables = function["Environment"]["Variables"]
    assert list(variables) == ["ENCORD_CONTINUOUS_SETTINGS"]
    table_id, _ = synth.one("AWS::DynamoDB::Table")
    queue_id, _ = synth.named("AWS::SQS::Queue", "ContinuousQueue")
    refs = {
        table_id: "EncordContinuousTest-State-1A2B3C",
        queue_id: f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/EncordContinuousTest-Queue-9Z",
    }
    settings = HandlerSettings.from_json(resolve(variables["ENCORD_CONTINUOUS_SETTINGS"], refs))
    assert settings.table_name == refs[table_id]
    assert settings.queue_url == refs[queue_id]
    assert settings.secret_id == SECRET
    assert (settings.domain, settings.integration, settings.folder) == (
        "https://api.encord.com",
        "My S3",
        "datasets/live",
    )
    assert [(b.name, b.region, b.prefixes) for b in settings.buckets] == [
        ("camera-data", REGION, ("drone/", "scans/")),
        ("created-data", REGION, ("",)),
    ]
    assert settings.build.image_sequences == ("drone/*/frames",)
    assert settings.build.dicom_series == ("scans/*/*",)
    assert settings.build.image_groups == ()
    assert settings.build.type_map == ("jfif=image",)
    assert settings.build.sidecar_suffixes == (".metadata.json", ".json")
    assert (settings.quiet_seconds, settings.marker) == (600, "_COMPLETE")


def test_the_key_is_never_in_the_template(synth: Synth) -> None:
    text = synth.path.read_text()
    assert "{{resolve:secretsmanager" not in text
    assert "SecretString" not in text
    assert not synth.of_type("AWS::SecretsManager::Secret")
    _, function = synth.named("AWS::Lambda::Function", "ContinuousHandler")
    settings = json.loads(
        resolve(function["Environment"]["Variables"]["ENCORD_CONTINUOUS_SETTINGS"])
    )
    # Only the secret's ARN: nothing that could be the key.
    assert settings["secret_id"] == SECRET
    assert "PRIVATE KEY" not in text


# --- permissions ---------------------------------------------------------------------------


def test_the_function_may_do_exactly_this(synth: Synth) -> None:
    table_id, _ = synth.one("AWS::DynamoDB::Table")
    queue_id, _ = synth.named("AWS::SQS::Queue", "ContinuousQueue")
    log_id, _ = synth.named("AWS::Logs::LogGroup", "ContinuousHandlerLogs")
    by_sid = {s.get("Sid", "ConsumeQueue"): s for s in statements(synth)}
    for statement in by_sid.values():
        assert statement["Effect"] == "Allow"
    actions = {sid: sorted(as_list(s["Action"])) for sid, s in by_sid.items()}
    resources = {sid: as_list(s["Resource"]) for sid, s in by_sid.items()}
    assert actions == {
        "WriteOwnLogs": ["logs:CreateLogStream", "logs:PutLogEvents"],
        # The event source's own grant on the queue (the handler changes the visibility of
        # busy messages with it too).
        "ConsumeQueue": sorted(
            [
                "sqs:ChangeMessageVisibility",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:GetQueueUrl",
                "sqs:ReceiveMessage",
            ]
        ),
        "ReadWatchedObjects": ["s3:GetObject"],
        "ListWatchedPrefixes0": ["s3:ListBucket"],
        "ListWatchedPrefixes1": ["s3:ListBucket"],
        "DecryptThroughS3Key0": ["kms:Decrypt"],
        "ReadEncordKey": ["secretsmanager:GetSecretValue"],
        "KeepState": sorted(
            [
                "dynamodb:BatchGetItem",
                "dynamodb:BatchWriteItem",
                "dynamodb:ConditionCheckItem",
                "dynamodb:DeleteItem",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
            ]
        ),
        "ListState": ["dynamodb:Query"],
        "SendChecks": ["sqs:SendMessage"],
    }
    assert resources == {
        "WriteOwnLogs": [f"<{log_id}.Arn>"],
        "ConsumeQueue": [f"<{queue_id}.Arn>"],
        # Exactly the watched prefixes: not other/, which Encord may read but nobody watches.
        "ReadWatchedObjects": [
            s3_arn("camera-data/drone/*"),
            s3_arn("camera-data/scans/*"),
            s3_arn("created-data/*"),  # a named bucket is granted by its name
        ],
        "ListWatchedPrefixes0": [s3_arn("camera-data")],
        "ListWatchedPrefixes1": [s3_arn("created-data")],
        "DecryptThroughS3Key0": [KEY],
        "ReadEncordKey": [SECRET],
        "KeepState": [f"<{table_id}.Arn>"],
        "ListState": [f"<{table_id}.Arn>/index/listing"],
        "SendChecks": [f"<{queue_id}.Arn>"],
    }
    assert by_sid["DecryptThroughS3Key0"]["Condition"] == {
        "StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"},
        "StringLike": {
            "kms:EncryptionContext:aws:s3:arn": [
                s3_arn("camera-data"),
                s3_arn("camera-data/drone/*"),
                s3_arn("camera-data/scans/*"),
            ]
        },
    }
    # Listing only under the watched prefixes (the created bucket is watched whole).
    assert by_sid["ListWatchedPrefixes0"]["Condition"] == {
        "StringLike": {"s3:prefix": ["drone/*", "scans/*"]}
    }
    conditioned = ("Decrypt", "ListWatchedPrefixes0")
    assert all("Condition" not in s for sid, s in by_sid.items() if not sid.startswith(conditioned))


def test_the_independent_security_reading_finds_nothing(synth: Synth) -> None:
    """tests/stack/security.py reads every role and policy of the template: the function reads
    nothing Encord may not, and no grant has a `*` action or resource."""
    assert security_problems(synth.template, CONFIG) == []


def test_the_function_role_has_no_other_policy(synth: Synth) -> None:
    role_id, role = synth.named("AWS::IAM::Role", "ContinuousHandlerRole")
    assert "ManagedPolicyArns" not in role and "Policies" not in role
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
        }
    ]
    # Its permissions are one managed policy (no inline policy: HIPAA, PCI and NIST packs).
    attached = [
        k
        for k, v in {
            **synth.of_type("AWS::IAM::Policy"),
            **synth.of_type("AWS::IAM::ManagedPolicy"),
        }.items()
        if {"Ref": role_id} in v["Properties"]["Roles"]
    ]
    assert len(attached) == 1 and synth.of_type("AWS::IAM::Policy") == {}


def test_every_role_has_the_permissions_boundary(synth: Synth) -> None:
    roles = synth.of_type("AWS::IAM::Role")
    assert len(roles) >= 3  # Encord's, the function's, the notification handler's
    assert {k: v["Properties"].get("PermissionsBoundary") for k, v in roles.items()} == {
        k: BOUNDARY for k in roles
    }


# --- alarms --------------------------------------------------------------------------------


def test_alarms_notify_the_topic(synth: Synth) -> None:
    alarms = {
        k: resolve(v["Properties"]) for k, v in synth.of_type("AWS::CloudWatch::Alarm").items()
    }
    queue_id, _ = synth.named("AWS::SQS::Queue", "ContinuousQueue")
    dlq_id, _ = synth.named("AWS::SQS::Queue", "DeadLetter")
    function_id, _ = synth.named("AWS::Lambda::Function", "ContinuousHandler")
    found = {
        (a["Namespace"], a["MetricName"]): (
            a["Dimensions"],
            a["Statistic"],
            a["ComparisonOperator"],
            a["Threshold"],
        )
        for a in alarms.values()
    }
    assert found == {
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"): (
            [{"Name": "QueueName", "Value": f"<{dlq_id}.QueueName>"}],
            "Maximum",
            "GreaterThanOrEqualToThreshold",
            1,
        ),
        ("AWS/SQS", "ApproximateAgeOfOldestMessage"): (
            [{"Name": "QueueName", "Value": f"<{queue_id}.QueueName>"}],
            "Maximum",
            "GreaterThanThreshold",
            3600,
        ),
        ("AWS/Lambda", "Errors"): (
            [{"Name": "FunctionName", "Value": f"<{function_id}>"}],
            "Sum",
            "GreaterThanOrEqualToThreshold",
            1,
        ),
    }
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [TOPIC]
        assert alarm["EvaluationPeriods"] == 1 and alarm["TreatMissingData"] == "notBreaching"
        assert alarm["AlarmDescription"]


# --- outputs -------------------------------------------------------------------------------


def test_outputs_describe_the_continuous_resources(synth: Synth) -> None:
    outputs = {k: resolve(v["Value"]) for k, v in synth.template["Outputs"].items()}
    assert outputs["EncordAllowListing"] == "false"
    parsed = parse_outputs(outputs, stack_name="EncordContinuousTest", source="template")
    assert parsed.allow_listing is False
    continuous = parsed.continuous
    assert continuous is not None
    table_id, _ = synth.one("AWS::DynamoDB::Table")
    queue_id, _ = synth.named("AWS::SQS::Queue", "ContinuousQueue")
    dlq_id, _ = synth.named("AWS::SQS::Queue", "DeadLetter")
    function_id, _ = synth.named("AWS::Lambda::Function", "ContinuousHandler")
    assert continuous.queue_url == f"<{queue_id}>"
    assert continuous.queue_arn == f"<{queue_id}.Arn>"
    assert continuous.dead_letter_queue_url == f"<{dlq_id}>"
    assert continuous.table_name == f"<{table_id}>"
    assert continuous.function_name == f"<{function_id}>"
    assert continuous.region == REGION


# --- cdk-nag and cfn-lint ------------------------------------------------------------------


def test_cdk_nag_is_clean_and_every_acknowledgement_is_narrow(synth: Synth) -> None:
    (report,) = synth.report["pluginReports"]
    assert report["violations"] == []
    continuous = {
        s["acknowledgedId"]: s["reason"]
        for s in report["suppressedViolations"]
        if "/Continuous" in s["acknowledgedAt"]
    }
    assert sorted(continuous) == sorted(
        [
            "AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::camera-data/drone/*]",
            "AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::camera-data/scans/*]",
            "AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::created-data/*]",
            # Python 3.13 by default: the newest every bundled dependency has wheels for.
            "AwsSolutions::AwsSolutions-L1",
        ]
    )
    assert all(reason.strip() for reason in continuous.values())


def test_cfn_lint_is_clean(synth: Synth) -> None:
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("cfn-lint")),
            "--ignore-checks",
            "W3005",
            "--",
            str(synth.path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- without continuous: nothing of it -----------------------------------------------------


def test_without_continuous_the_stack_has_none_of_it(tmp_path: Path) -> None:
    config = {k: v for k, v in CONFIG.items() if k != "continuous"}
    s = synth_config({**config, "allowListing": True}, tmp_path)
    assert "EncordContinuous" not in s.template["Outputs"]
    assert s.template["Outputs"]["EncordAllowListing"]["Value"] == "true"
    for resource_type in (
        "AWS::SQS::Queue",
        "AWS::DynamoDB::Table",
        "AWS::Events::Rule",
        "AWS::Lambda::EventSourceMapping",
        "AWS::CloudWatch::Alarm",
        "Custom::EncordBucketEventBridge",
    ):
        assert not s.of_type(resource_type), resource_type
    _, created = s.one("AWS::S3::Bucket")
    assert "NotificationConfiguration" not in created


def test_a_secret_given_by_name_is_granted_by_its_arn_pattern(tmp_path: Path) -> None:
    config = json.loads(json.dumps(CONFIG))
    config["continuous"]["sshKeySecret"] = "encord/registration-key"
    config["continuous"]["sshKeySecretKmsKeyArn"] = KEY
    del config["permissionsBoundaryArn"]
    s = synth_config(config, tmp_path)
    by_sid = {st.get("Sid"): st for st in statements(s)}
    secret_arn = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:encord/registration-key-??????"
    assert by_sid["ReadEncordKey"]["Resource"] == secret_arn
    # The secret's own key: Decrypt only through Secrets Manager, only for this secret.
    assert by_sid["DecryptEncordKey"] == {
        "Sid": "DecryptEncordKey",
        "Effect": "Allow",
        "Action": "kms:Decrypt",
        "Resource": KEY,
        "Condition": {
            "StringEquals": {"kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com"},
            "StringLike": {"kms:EncryptionContext:SecretARN": secret_arn},
        },
    }
    _, function = s.named("AWS::Lambda::Function", "ContinuousHandler")
    settings = json.loads(
        resolve(function["Environment"]["Variables"]["ENCORD_CONTINUOUS_SETTINGS"])
    )
    assert settings["secret_id"] == "encord/registration-key"
    assert all(
        "PermissionsBoundary" not in r["Properties"] for r in s.of_type("AWS::IAM::Role").values()
    )
