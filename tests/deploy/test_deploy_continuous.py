"""A real `npx cdk deploy` / `destroy` of the access stack with continuous registration.

Against moto's server with the patches of `tests.emulators.moto_server`. What this proves:
the CLI synthesizes the app (the Lambda asset built by local bundling, no Docker), publishes
the assets and CloudFormation creates the queues, table, rule, function, event source mapping
and the EventBridge custom resource (its handler logic run in-process: moto cannot invoke a
Lambda without Docker) with the properties asserted below; S3 then sends a new object's
"Object Created" event through EventBridge to the deployed queue, while the bucket's own
notification keeps working; and `cdk destroy` leaves the bucket's notifications as they were.

What it does not prove: the Lambda runtime itself (`tests/stack/test_continuous_asset.py`
imports the real asset instead) and the resources moto's CloudFormation skips with a warning:
`UNSUPPORTED` (asserted from the server's log, so a moto that learns them shows up here).
The queue policy that lets EventBridge send (and enforces TLS) and the alarms are asserted in
the synthesis tests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import boto3
import pytest

from registration.continuous.settings import SETTINGS_ENV, HandlerSettings
from registration.stack_outputs import load_outputs_file
from stacks.continuous_bundle import HANDLER
from tests.emulators import cdk_cli
from tests.emulators.moto_server import EMULATOR_ENV, running_moto_server

pytestmark = [pytest.mark.deploy, pytest.mark.xdist_group("deploy"), pytest.mark.timeout(420)]

STACK = "EncordContinuousDeployTest"
WATCHED = "customer-live-data"
SECRET_NAME = "encord/registration-key"
SECRET_VALUE = "stand-in-key-text-that-must-stay-in-the-secret"
CONFIG: dict[str, Any] = {
    "stackName": STACK,
    "trustedPrincipals": ["arn:aws:iam::210987654321:root"],
    "externalId": "deploy-test-external-id",
    "buckets": [{"name": WATCHED, "prefixes": ["images/", "scans/"]}],
    "continuous": {
        "integration": "Customer S3",
        "folder": "live/cameras",
        "sshKeySecret": SECRET_NAME,
        "watch": [{"bucket": WATCHED, "prefixes": ["images/"]}],
        "imageSequences": ["images/*/frames"],
        "quietPeriodSeconds": 120,
        "batchSize": 25,
        "batchWindowSeconds": 5,
        "maxConcurrency": 3,
    },
}
#: Resource types of the stack that moto's CloudFormation does not know: it skips them with a
#: warning, so they exist on AWS only (``AWS::CDK::Metadata`` is only the CDK's version report).
UNSUPPORTED = {"AWS::CloudWatch::Alarm", "AWS::SQS::QueuePolicy", "AWS::CDK::Metadata"}


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory, lambda_dependencies: None) -> Iterator[Any]:
    work = tmp_path_factory.mktemp("deploy-continuous")
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


def notifications(s3: Any) -> dict[str, Any]:
    response = s3.get_bucket_notification_configuration(Bucket=WATCHED)
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def receive(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Every message on the queue (received, not deleted): S3 -> EventBridge -> SQS delivery
    is synchronous in moto, so one empty answer means there is no more."""
    found: list[dict[str, Any]] = []
    while True:
        answer = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["All"]
        )
        if not answer.get("Messages"):
            return found
        found += answer["Messages"]


def customer_notification(sqs: Any) -> tuple[dict[str, Any], str]:
    """The bucket's own notification, there before the stack (new objects to the customer's
    queue), and that queue's URL."""
    url = sqs.create_queue(QueueName="customer-thumbnailer")["QueueUrl"]
    arn = queue_attributes(sqs, url)["QueueArn"]
    configuration = {
        "QueueConfigurations": [
            {"Id": "customer-thumbnails", "QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}
        ]
    }
    return configuration, url


def test_deploy_registers_events_and_destroy_keeps_the_buckets_notifications(
    aws: tuple[str, Path],
) -> None:
    endpoint, work = aws
    s3, sqs = client(endpoint, "s3"), client(endpoint, "sqs")
    s3.create_bucket(Bucket=WATCHED)
    theirs, their_queue = customer_notification(sqs)
    s3.put_bucket_notification_configuration(Bucket=WATCHED, NotificationConfiguration=theirs)
    client(endpoint, "secretsmanager").create_secret(Name=SECRET_NAME, SecretString=SECRET_VALUE)
    env = cdk_cli.cdk_env(endpoint, work)
    out_dir, outputs_file = work / "cdk.out", work / "cdk-outputs.json"

    cdk_cli.bootstrap(env, CONFIG, out_dir)
    cdk_cli.deploy(env, CONFIG, out_dir, outputs_file)

    outputs = load_outputs_file(outputs_file)
    assert outputs.continuous is not None
    deployed = outputs.continuous
    template = json.loads((out_dir / f"{STACK}.template.json").read_text())
    skipped = set(re.findall(r"No Moto CloudFormation support for (\S+)", log_text(work)))
    assert skipped & {r["Type"] for r in template["Resources"].values()} == UNSUPPORTED

    # The queue: a dead-letter queue after 5 receives, SSE, a week to drain a backlog.
    dlq_arn = queue_attributes(sqs, deployed.dead_letter_queue_url)["QueueArn"]
    queue = queue_attributes(sqs, deployed.queue_url)
    assert queue["QueueArn"] == deployed.queue_arn
    assert json.loads(queue["RedrivePolicy"]) == {
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": 5,
    }
    assert queue["SqsManagedSseEnabled"] == "true"
    assert queue["MessageRetentionPeriod"] == str(7 * 24 * 3600)
    assert queue_attributes(sqs, deployed.dead_letter_queue_url)["MessageRetentionPeriod"] == str(
        14 * 24 * 3600
    )

    # The state table: pk/sk, the sparse listing index, TTL, point-in-time recovery.
    dynamodb = client(endpoint, "dynamodb")
    table = dynamodb.describe_table(TableName=deployed.table_name)["Table"]
    assert table["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "listing" and index["Projection"] == {"ProjectionType": "ALL"}
    assert index["KeySchema"] == [
        {"AttributeName": "listing", "KeyType": "HASH"},
        {"AttributeName": "at", "KeyType": "RANGE"},
    ]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ttl = dynamodb.describe_time_to_live(TableName=deployed.table_name)["TimeToLiveDescription"]
    assert ttl == {"AttributeName": "ttl", "TimeToLiveStatus": "ENABLED"}
    backups = dynamodb.describe_continuous_backups(TableName=deployed.table_name)
    recovery = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert recovery["PointInTimeRecoveryStatus"] == "ENABLED"

    # The rule: objects created under the watched prefix of the bucket, to the queue (with
    # the dead-letter queue for what EventBridge cannot deliver).
    events = client(endpoint, "events")
    (rule,) = [r for r in events.list_rules()["Rules"] if WATCHED in r.get("Description", "")]
    assert json.loads(rule["EventPattern"]) == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [WATCHED]}, "object": {"key": [{"prefix": "images/"}]}},
    }
    (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"] == deployed.queue_arn
    assert target["DeadLetterConfig"] == {"Arn": dlq_arn}

    # The function: the bundled handler, told everything but the key, which only the secret's
    # name stands for; read in batches from the queue.
    lambda_ = client(endpoint, "lambda")
    function = lambda_.get_function_configuration(FunctionName=deployed.function_name)
    assert function["Handler"] == HANDLER and function["Runtime"] == "python3.13"
    assert function["Architectures"] == ["x86_64"]
    variables = function["Environment"]["Variables"]
    assert list(variables) == [SETTINGS_ENV]
    settings = HandlerSettings.from_json(variables[SETTINGS_ENV])
    assert settings.secret_id == SECRET_NAME  # configured by name: read by name at run time
    assert SECRET_VALUE not in json.dumps(function) and SECRET_VALUE not in json.dumps(template)
    assert (settings.table_name, settings.queue_url) == (deployed.table_name, deployed.queue_url)
    assert [(b.name, b.prefixes) for b in settings.buckets] == [(WATCHED, ("images/",))]
    assert settings.build.image_sequences == ("images/*/frames",)
    (mapping,) = lambda_.list_event_source_mappings(FunctionName=deployed.function_name)[
        "EventSourceMappings"
    ]
    assert mapping["EventSourceArn"] == deployed.queue_arn
    assert (mapping["BatchSize"], mapping["MaximumBatchingWindowInSeconds"]) == (25, 5)
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 3}

    # The bucket: EventBridge on, its own notification exactly as it was.
    assert notifications(s3) == {**theirs, "EventBridgeConfiguration": {}}

    # A new object under the prefix: its EventBridge envelope lands on the deployed queue (and
    # the bucket's own queue still hears of it); one outside the prefix does not.
    s3.put_object(Bucket=WATCHED, Key="images/cam 1/frames/0001.jpg", Body=b"jpeg")
    s3.put_object(Bucket=WATCHED, Key="scans/unwatched.dcm", Body=b"dicom")
    (message,) = receive(sqs, deployed.queue_url)
    envelope = json.loads(message["Body"])
    assert (envelope["source"], envelope["detail-type"]) == ("aws.s3", "Object Created")
    assert envelope["resources"] == [f"arn:aws:s3:::{WATCHED}"]
    assert envelope["detail"]["bucket"]["name"] == WATCHED
    assert envelope["detail"]["object"]["key"] == "images/cam 1/frames/0001.jpg"
    assert envelope["detail"]["object"]["size"] == 4
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"  # nothing else consumed it
    their_keys = sorted(
        unquote_plus(record["s3"]["object"]["key"])  # classic S3 events encode keys
        for m in receive(sqs, their_queue)
        for record in json.loads(m["Body"]).get("Records", [])
    )
    assert their_keys == ["images/cam 1/frames/0001.jpg", "scans/unwatched.dcm"]

    # Destroy: the bucket's notifications exactly as before the stack; the state table stays.
    cdk_cli.destroy(env, CONFIG, out_dir)
    assert notifications(s3) == theirs
    assert dynamodb.describe_table(TableName=deployed.table_name)["Table"]["TableName"]
    assert not [
        m
        for m in lambda_.list_event_source_mappings()["EventSourceMappings"]
        if m["EventSourceArn"] == deployed.queue_arn
    ]


def log_text(work: Path) -> str:
    return (work / "moto.log").read_text(errors="replace")


def queue_attributes(sqs: Any, url: str) -> dict[str, str]:
    return dict(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"])
