"""`encord-register continuous redrive` against a deployment in moto (in-process): every
dead-letter message ends in exactly one queue with its body and attributes, whatever fails."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from registration.cli import main
from registration.continuous.redrive import redrive
from registration.exit_codes import ExitStatus
from registration.reporter import SILENT
from registration.stack_outputs import load_outputs_file
from tests.functional.continuous.deployed import Deployed, deployed


@pytest.fixture
def stack(offline_aws: str, tmp_path: Path) -> Iterator[Deployed]:
    with mock_aws():
        yield deployed(tmp_path)


def bodies(messages: list[dict[str, Any]]) -> list[str]:
    return sorted(m["Body"] for m in messages)


def test_moves_every_message_back_with_its_body_and_attributes(
    stack: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    sent = [json.dumps({"n": i}) for i in range(23)]
    for body in sent:
        stack.dead_letter(
            body, MessageAttributes={"origin": {"DataType": "String", "StringValue": "test"}}
        )
    assert main(stack.argv("redrive")) == ExitStatus.OK
    assert "moved 23 message(s) back to the queue; 0 left" in capsys.readouterr().out
    moved = stack.messages()
    assert bodies(moved) == sorted(sent)
    assert {m["MessageAttributes"]["origin"]["StringValue"] for m in moved} == {"test"}
    assert stack.messages(stack.dlq_url) == []


def test_max_and_dry_run(stack: Deployed, capsys: pytest.CaptureFixture[str]) -> None:
    for i in range(15):
        stack.dead_letter(f"m{i}")
    assert main(stack.argv("redrive", "--dry-run", "--max", "4")) == ExitStatus.OK
    assert "4 of 15 dead-letter message(s) would be moved" in capsys.readouterr().out
    assert stack.messages() == []
    assert main(stack.argv("redrive", "--max", "12", "--json")) == ExitStatus.OK
    assert json.loads(capsys.readouterr().out)["moved"] == 12
    assert len(stack.messages()) == 12
    assert main(stack.argv("redrive", "--json")) == ExitStatus.OK  # the rest: idempotent
    doc = json.loads(capsys.readouterr().out)
    assert (doc["moved"], doc["deadLetterAfter"]["waiting"]) == (3, 0)
    assert main(stack.argv("redrive", "--json")) == ExitStatus.OK
    assert json.loads(capsys.readouterr().out)["moved"] == 0


class FlakySqs:
    """The real (moto) client, with SendMessageBatch refusing some entries as SQS may."""

    def __init__(self, real: Any, refuse: dict[str, int], sender_fault: bool = False) -> None:
        self.real = real
        self.refuse = refuse  # body -> how many more times to refuse it
        self.sender_fault = sender_fault

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> Any:  # noqa: N803
        keep, failed = [], []
        for entry in Entries:
            if self.refuse.get(entry["MessageBody"], 0) > 0:
                self.refuse[entry["MessageBody"]] -= 1
                failed.append(
                    {
                        "Id": entry["Id"],
                        "SenderFault": self.sender_fault,
                        "Code": "InternalError",
                        "Message": "try again",
                    }
                )
            else:
                keep.append(entry)
        answer = self.real.send_message_batch(QueueUrl=QueueUrl, Entries=keep) if keep else {}
        return {"Successful": answer.get("Successful", []), "Failed": failed}


def test_entries_the_queue_does_not_acknowledge_are_sent_again_never_lost(
    stack: Deployed, tmp_path: Path
) -> None:
    for i in range(8):
        stack.dead_letter(f"m{i}")
    resources = load_outputs_file(stack.outputs).continuous
    assert resources is not None
    flaky = FlakySqs(stack.sqs, {"m2": 2, "m5": 1})
    result = redrive(flaky, resources, SILENT, sleep=lambda _: None)
    assert result.moved == 8 and result.refused == []
    assert bodies(stack.messages()) == [f"m{i}" for i in range(8)]
    assert stack.messages(stack.dlq_url) == []


def test_a_message_the_queue_refuses_stays_in_the_dead_letter_queue(
    stack: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    for i in range(3):
        stack.dead_letter(f"m{i}")
    resources = load_outputs_file(stack.outputs).continuous
    assert resources is not None
    flaky = FlakySqs(stack.sqs, {"m1": 99}, sender_fault=True)
    result = redrive(flaky, resources, SILENT, sleep=lambda _: None)
    assert result.moved == 2
    assert len(result.refused) == 1 and "InternalError" in result.refused[0]
    assert bodies(stack.messages()) == ["m0", "m2"]
    assert bodies(stack.messages(stack.dlq_url)) == ["m1"]  # visible again at once
