"""Busy messages come back sooner: the delay rule, and its effect on a real (moto) queue."""

from __future__ import annotations

import time

import boto3
import pytest
from moto import mock_aws

from registration.continuous import backoff
from registration.continuous import table as t
from registration.continuous.ledger import Ledger, Message

NOW = 1_000_000.0


def busy(receives: int, until: float | None = None) -> Message:
    message = Message("m", "{}", receives, receipt_handle="r")
    message.failures.append((t.ERROR_BUSY, "held"))
    message.busy_until = until
    return message


@pytest.mark.parametrize(("receives", "seconds"), [(1, 30), (2, 60), (3, 120), (4, 240)])
def test_the_delay_doubles_with_each_receive(receives: int, seconds: int) -> None:
    assert backoff.busy_delay(busy(receives), NOW) == seconds


def test_the_first_four_waits_outlast_the_longest_lease() -> None:
    # A message busy at every receive before the fifth (the construct's maxReceiveCount) must
    # not reach the dead-letter queue while the holder may still run: the function timeout
    # (300 s at most, FUNCTION_TIMEOUT_SECONDS) plus the lease margin.
    from registration.continuous.claims import LEASE_MARGIN_SECONDS
    from registration.continuous.settings import FUNCTION_TIMEOUT_SECONDS

    waits = sum(backoff.busy_delay(busy(n), NOW) or 0 for n in range(1, 5))
    assert waits > FUNCTION_TIMEOUT_SECONDS + LEASE_MARGIN_SECONDS


def test_the_holder_s_lease_caps_the_delay_and_one_second_is_the_least() -> None:
    assert backoff.busy_delay(busy(1, until=NOW + 4.2), NOW) == 6  # the lease, then a second
    assert backoff.busy_delay(busy(3, until=NOW + 500), NOW) == 120
    assert backoff.busy_delay(busy(1, until=NOW - 50), NOW) == 1  # ran out: take it over now
    assert backoff.busy_delay(busy(30), NOW) == backoff.MAX_VISIBILITY_SECONDS


def test_only_messages_that_failed_only_as_busy_are_shortened() -> None:
    assert backoff.busy_delay(Message("ok", "{}", 1), NOW) is None
    mixed = busy(1)
    mixed.failures.append((t.ERROR_TRANSIENT, "Encord answered 503"))
    assert backoff.busy_delay(mixed, NOW) is None


def test_the_ledger_keeps_the_receipt_handle_and_the_latest_lease() -> None:
    ledger = Ledger([{"messageId": "m1", "receiptHandle": "rh", "body": "{}"}])
    ledger.busy(["m1"], "held by a", NOW + 10)
    ledger.busy(["m1"], "held by b", NOW + 5)
    (message,) = ledger.messages.values()
    assert message.receipt_handle == "rh"
    assert message.busy_until == NOW + 10
    assert ledger.failed() == ["m1"]


def test_a_busy_message_reappears_at_once_and_a_failed_one_keeps_the_queue_s_timeout() -> None:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "1800"})["QueueUrl"]
        for body in ("busy", "transient"):
            sqs.send_message(QueueUrl=url, MessageBody=body)
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        assert len(received) == 2
        ledger = Ledger(
            {"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"]}
            for m in received
        )
        for message in ledger.messages.values():
            if message.body == "busy":
                ledger.busy([message.message_id], "held", time.time() - 10)
            else:
                ledger.fail([message.message_id], t.ERROR_TRANSIENT, "503")
        assert backoff.shorten(sqs, url, ledger.messages.values(), time.time()) == []
        time.sleep(1.2)
        again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        assert [m["Body"] for m in again] == ["busy"]


def test_a_refused_change_is_reported_not_raised() -> None:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="q")["QueueUrl"]
        problems = backoff.shorten(sqs, url + "-gone", [busy(1)], NOW)
        assert len(problems) == 1 and "QueueDoesNotExist" in problems[0]
