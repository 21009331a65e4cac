"""`-v` never shows a credential, a signature or the Encord key, in any command.

Every sub-command of the parser runs as a real process with `-v`, against the AWS emulator
(moto's server) and the Encord stand-in, with known fake AWS credentials (a session token
included) and an Encord key; its stdout, stderr and every file it wrote are searched for
them. A command added later (nested ones too: `cors apply`) is run as well: from its own entry
in `ARGV`, or else with the options it accepts from `OPTION_VALUES`.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from registration.cli import build_parser
from registration.cli.logs import MASK, redact, secret_values
from tests.emulators.moto_server import running_moto_server
from tests.standin.testing import INTEGRATION_TITLE, cli_command, encord_env, subprocess_env

ACCESS_KEY_ID = "AKIAVERBOSETEST00042"
SECRET_KEY = "vErBoSeSeCrEt/0123456789+abcdefghijklmnop"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEVERBOSE//session+token/" + "Zm9vYmFy" * 24
BUCKET = "verbose-data"
REGION = "eu-west-1"
ROLE_ARN = "arn:aws:iam::123456789012:role/encord-access"
EXTERNAL_ID = "verbose-external-id-0001"
SIGNATURES = re.compile(
    r"(?i)(?:x-amz-signature=|signature=|signature:\s*)(?!\*\*\*)[0-9a-f]{16,}"
    r"|authorization['\"]?\s*[:=]\s*(?!b?['\"]?\*\*\*)\S"
    r"|PRIVATE KEY"
)


def test_redact_masks_headers_query_strings_keys_and_known_values() -> None:
    line = (
        "headers={'X-Amz-Security-Token': b'tok123', 'Authorization': b'AWS4-HMAC-SHA256 "
        "Credential=AKIA/x, SignedHeaders=host, Signature=abc123'} GET /k?X-Amz-Signature=ff00"
        "&X-Amz-Credential=AKIA%2Fx&a=1 -----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n"
        "-----END OPENSSH PRIVATE KEY----- my-known-secret-value-here "
        "<Credentials><SessionToken>stsToken</SessionToken><SecretAccessKey>stsKey<"
    )
    masked = redact(line, ["my-known-secret-value-here"])
    secrets = ("tok123", "abc123", "AWS4-HMAC", "ff00", "AKIA", "AAAA", "known-secret", "sts")
    for secret in secrets:
        assert secret not in masked
    assert "&a=1" in masked and masked.count(MASK) == 8


def test_secret_values_come_from_the_environment_and_skip_short_ones() -> None:
    key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUA\n-----END"
    env = {
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_SESSION_TOKEN": SESSION_TOKEN,
        "ENCORD_SSH_KEY": key,
    }
    values = secret_values(env)
    assert SESSION_TOKEN in values and "test" not in values
    assert "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUA" in values  # one line of the key, alone


@dataclass
class World:
    """What the commands run against, and where they write."""

    endpoint: str
    domain: str
    key_text: str
    work: Path

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in subprocess_env().items() if not k.startswith("AWS_")}
        env.update(
            AWS_ACCESS_KEY_ID=ACCESS_KEY_ID,
            AWS_SECRET_ACCESS_KEY=SECRET_KEY,
            AWS_SESSION_TOKEN=SESSION_TOKEN,
            AWS_DEFAULT_REGION=REGION,
            AWS_ENDPOINT_URL=self.endpoint,
            AWS_CONFIG_FILE=str(self.work / "no-aws-config"),
            AWS_SHARED_CREDENTIALS_FILE=str(self.work / "no-aws-credentials"),
            AWS_EC2_METADATA_DISABLED="true",
            ENCORD_SSH_KEY=self.key_text,
            ENCORD_DOMAIN=self.domain,
        )
        return env


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    work = tmp_path_factory.mktemp("verbose")
    with running_moto_server() as endpoint, encord_env(work) as encord:
        fake = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
        s3 = boto3.client("s3", region_name=REGION, endpoint_url=endpoint, **fake)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        for key in ("images/a.jpg", "images/b c.jpg"):
            s3.put_object(Bucket=BUCKET, Key=key, Body=b"jpg")
        (work / "keys.txt").write_text("images/a.jpg\nimages/b c.jpg\nimages/missing.jpg\n")
        _continuous_stack(endpoint, fake)
        yield World(endpoint, encord.standin.domain, encord.key_text, work)


STACK = "EncordVerbose"
"""A CloudFormation stack (`--stack`) with the access outputs, allowListing and continuous."""


def _continuous_stack(endpoint: str, fake: dict[str, str]) -> None:
    """Continuous registration's queue, table and function, and a stack that names them."""
    from registration import contract as c
    from registration.continuous import table as t
    from registration.continuous.settings import SETTINGS_ENV, HandlerSettings, WatchedBucket
    from tests.functional.continuous.deployed import function_zip

    def client(service: str) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=endpoint, **fake)

    sqs = client("sqs")
    dlq = sqs.create_queue(QueueName="verbose-dlq")["QueueUrl"]
    queue = sqs.create_queue(QueueName="verbose-queue")["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody='{"source": "aws.s3"}')
    keys = [
        {"AttributeName": n, "KeyType": k}
        for n, k in ((t.PARTITION_KEY, "HASH"), (t.SORT_KEY, "RANGE"))
    ]
    client("dynamodb").create_table(
        TableName="verbose-state",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=keys,
        AttributeDefinitions=[
            {"AttributeName": n, "AttributeType": "S"}
            for n in (t.PARTITION_KEY, t.SORT_KEY, t.LISTING, t.AT)
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": t.LISTING_INDEX,
                "Projection": {"ProjectionType": "ALL"},
                "KeySchema": [
                    {"AttributeName": t.LISTING, "KeyType": "HASH"},
                    {"AttributeName": t.AT, "KeyType": "RANGE"},
                ],
            }
        ],
    )
    role = client("iam").create_role(RoleName="verbose-fn", AssumeRolePolicyDocument="{}")
    settings = HandlerSettings(
        "verbose-state",
        queue,
        "secret",
        "https://api.encord.com",
        INTEGRATION_TITLE,
        "v",
        buckets=(WatchedBucket(BUCKET, REGION, ("images/",)),),
    )
    client("lambda").create_function(
        FunctionName="verbose-fn",
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="index.handler",
        Code={"ZipFile": function_zip()},
        Environment={"Variables": {SETTINGS_ENV: settings.to_json()}},
    )
    outputs = {
        c.OUTPUT_ROLE_ARN: ROLE_ARN,
        c.OUTPUT_EXTERNAL_ID: EXTERNAL_ID,
        c.OUTPUT_BUCKETS: json.dumps([{"name": BUCKET, "region": REGION, "prefixes": ["images/"]}]),
        c.OUTPUT_ALLOW_LISTING: "true",
        c.OUTPUT_CONTINUOUS: json.dumps(
            c.continuous_output(
                queue_url=queue,
                queue_arn="arn:aws:sqs:eu-west-1:123456789012:verbose-queue",
                dead_letter_queue_url=dlq,
                table_name="verbose-state",
                function_name="verbose-fn",
                region=REGION,
            )
        ),
    }
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {name: {"Value": value} for name, value in outputs.items()},
    }
    client("cloudformation").create_stack(StackName=STACK, TemplateBody=json.dumps(template))


def _source(w: World) -> list[str]:
    return ["--keys-file", str(w.work / "keys.txt"), "--bucket", BUCKET, "--region", REGION]


ARGV: dict[str, Callable[[World, Path], list[str]]] = {
    "manifest": lambda w, out: [
        "--bucket",
        BUCKET,
        "--head-intelligent-tiering",
        "--out",
        str(out),
    ],
    "register": lambda w, out: [
        *_source(w),
        *("--integration", INTEGRATION_TITLE, "--folder", "verbose"),
        *("--state", str(out / "state" / "register.sqlite"), "--report", str(out / "report.json")),
        *("--retry-base-delay", "0.02"),
    ],
    "verify": lambda w, out: [
        *("--bucket", BUCKET, "--role-arn", ROLE_ARN, "--external-id", EXTERNAL_ID),
        *("--region", REGION, "--no-preflight"),
    ],
    "schema": lambda w, out: [*_source(w), "--apply", "--dry-run", "--write", str(out / "s.json")],
    "cloud-sync create": lambda w, out: [
        *("--stack", STACK, "--integration", INTEGRATION_TITLE, "--folder", "verbose-synced"),
    ],
    "continuous status": lambda w, out: ["--stack", STACK],
    "continuous redrive": lambda w, out: ["--stack", STACK],
    "continuous backfill": lambda w, out: ["--stack", STACK, "--state", str(out / "s.json")],
}
"""The arguments of each command (after `-v COMMAND`); OUT is a directory of its own."""

OPTION_VALUES: dict[str, Callable[[World, Path], str]] = {
    "--bucket": lambda w, out: BUCKET,
    "--region": lambda w, out: REGION,
    "--role-arn": lambda w, out: ROLE_ARN,
    "--external-id": lambda w, out: EXTERNAL_ID,
    "--out": lambda w, out: str(out),
    "--report": lambda w, out: str(out / "report.json"),
}
"""For a command without an `ARGV` entry: a value for each of these options it accepts."""


def _argv(command: str, world: World, out: Path) -> list[str]:
    if command in ARGV:
        return ARGV[command](world, out)
    parser = _leaves()[command]
    accepted = {s for action in parser._actions for s in action.option_strings}
    return [x for o in OPTION_VALUES if o in accepted for x in (o, OPTION_VALUES[o](world, out))]


def _leaves(
    parser: argparse.ArgumentParser | None = None, path: str = ""
) -> dict[str, argparse.ArgumentParser]:
    """Every runnable command of the parser ("cors apply" for nested ones), by its words."""
    parser = parser or build_parser()
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.update(_leaves(sub, f"{path} {name}".strip()))
    return found or {path: parser}


def test_verbose_output_of_every_command_holds_no_secret(world: World) -> None:
    commands = sorted(_leaves())
    assert {"manifest", "register", "verify", "schema"} <= set(commands)
    env = world.env()
    running = {}
    for command in commands:
        out = world.work / f"out-{command.replace(' ', '-')}"
        out.mkdir()
        running[command] = subprocess.Popen(
            cli_command("-v", *command.split(), *_argv(command, world, out)),
            env=env,
            cwd=world.work,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    outputs = {name: process.communicate(timeout=180) for name, process in running.items()}

    secrets = [SECRET_KEY, SESSION_TOKEN, *world.key_text.strip().splitlines()[1:-1]]
    for command, (stdout, stderr) in outputs.items():
        out = world.work / f"out-{command.replace(' ', '-')}"
        written = {
            str(p.relative_to(world.work)): p.read_text(errors="replace")
            for p in out.rglob("*")
            if p.is_file()
        }
        for where, text in {"stdout": stdout, "stderr": stderr, **written}.items():
            leaked = [s[:12] for s in secrets if s in text] + SIGNATURES.findall(text)
            assert not leaked, f"`{command} -v` {where}: {leaked}"
        # Each command ran (its arguments were accepted) with -v in effect, against AWS.
        assert "usage:" not in stderr, (command, stderr)
        assert "INFO botocore" in stderr, (command, stderr)
    # The commands did talk to AWS and Encord (the check above is not vacuous).
    report = json.loads((world.work / "out-register" / "report.json").read_text())
    assert report["totals"]["registered"] == 2, outputs["register"]
    summary = (world.work / "out-register" / "state" / "manifests" / "summary.json").read_text()
    assert json.loads(summary)["skipped_by_reason"] == {"not_found": 1}
    assert (world.work / "out-manifest" / "manifest-00001.json").is_file(), outputs["manifest"]
