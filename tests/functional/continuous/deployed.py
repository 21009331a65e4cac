"""A deployed continuous registration, as the `continuous` commands see it, in moto in-process.

`deployed(tmp_path)` (inside `mock_aws`) creates what the construct deploys and the commands
read: the queue with its dead-letter queue (``maxReceiveCount``), the table (pk/sk, the sparse
``listing`` index), the function with its settings in ``ENCORD_CONTINUOUS_SETTINGS`` (moto
stores a function it cannot run: the commands only read its configuration), the watched bucket,
and a ``cdk-outputs.json`` with the ``EncordContinuous`` output.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from demo.continuous_resources import create_state_table
from registration import contract as c
from registration.continuous import table as t
from registration.continuous.settings import SETTINGS_ENV, HandlerSettings, WatchedBucket

REGION = "eu-west-1"
ACCOUNT = "123456789012"
BUCKET = "camera-uploads"
PREFIXES = ("drone/", "scans/")
MAX_RECEIVE_COUNT = 3


@dataclass
class Deployed:
    """Clients and names of one deployment."""

    sqs: Any
    dynamodb: Any
    s3: Any
    queue_url: str
    dlq_url: str
    table: str
    outputs: Path

    def argv(self, action: str, *extra: str) -> list[str]:
        """`continuous ACTION --stack-outputs FILE ...`."""
        return ["continuous", action, "--stack-outputs", str(self.outputs), *extra]

    def messages(self, url: str | None = None) -> list[dict[str, Any]]:
        """Every message of the queue (received, then deleted)."""
        url = url or self.queue_url
        found: list[dict[str, Any]] = []
        while True:
            answer = self.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
            )
            batch = answer.get("Messages") or []
            if not batch:
                return found
            found += batch
            self.sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)
                ],
            )

    def dead_letter(self, body: str, **attributes: Any) -> str:
        """Put `body` on the queue and fail it `MAX_RECEIVE_COUNT` times: SQS moves it to the
        dead-letter queue (keeping its message ID, which is returned)."""
        message_id = str(
            self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=body, **attributes)[
                "MessageId"
            ]
        )
        for _ in range(MAX_RECEIVE_COUNT + 1):
            self.sqs.receive_message(QueueUrl=self.queue_url, VisibilityTimeout=0)
        return message_id

    def put_record(self, pk: str, sk: str, **attributes: Any) -> None:
        """A table record as the handler writes it (strings and numbers)."""
        item: dict[str, Any] = {t.PARTITION_KEY: {"S": pk}, t.SORT_KEY: {"S": sk}}
        for name, value in attributes.items():
            item[name] = {"N": str(value)} if isinstance(value, int) else {"S": str(value)}
        self.dynamodb.put_item(TableName=self.table, Item=item)


def function_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return {}\n")
    return buffer.getvalue()


def deployed(
    tmp_path: Path, watched: tuple[WatchedBucket, ...] = (WatchedBucket(BUCKET, REGION, PREFIXES),)
) -> Deployed:
    """Create the resources (call inside `mock_aws`)."""
    sqs = boto3.client("sqs", region_name=REGION)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    s3 = boto3.client("s3", region_name=REGION)
    iam = boto3.client("iam", region_name="us-east-1")
    lambda_ = boto3.client("lambda", region_name=REGION)
    dlq_url = sqs.create_queue(QueueName="encord-continuous-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
    queue_url = sqs.create_queue(
        QueueName="encord-continuous", Attributes={"RedrivePolicy": json.dumps(policy)}
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    table = "encord-continuous-state"
    create_state_table(dynamodb, table)
    for bucket in {w.name: w for w in watched}.values():
        s3.create_bucket(
            Bucket=bucket.name, CreateBucketConfiguration={"LocationConstraint": bucket.region}
        )
    role = iam.create_role(
        RoleName="encord-continuous-fn",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    settings = HandlerSettings(
        table_name=table,
        queue_url=queue_url,
        secret_id="encord/registration-key",
        domain="https://api.encord.com",
        integration="My S3",
        folder="datasets/live",
        buckets=watched,
    )
    function = lambda_.create_function(
        FunctionName="encord-continuous",
        Runtime="python3.12",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": function_zip()},
        Environment={"Variables": {SETTINGS_ENV: settings.to_json()}},
    )["FunctionName"]
    raw = {
        c.OUTPUT_ROLE_ARN: f"arn:aws:iam::{ACCOUNT}:role/encord",
        c.OUTPUT_EXTERNAL_ID: "ext",
        c.OUTPUT_BUCKETS: json.dumps(
            [{"name": w.name, "region": w.region, "prefixes": list(w.prefixes)} for w in watched]
        ),
        c.OUTPUT_CONTINUOUS: json.dumps(
            c.continuous_output(
                queue_url=queue_url,
                queue_arn=queue_arn,
                dead_letter_queue_url=dlq_url,
                table_name=table,
                function_name=function,
                region=REGION,
            )
        ),
    }
    outputs = tmp_path / "cdk-outputs.json"
    outputs.write_text(json.dumps({"EncordAccess": raw}))
    return Deployed(sqs, dynamodb, s3, queue_url, dlq_url, table, outputs)
