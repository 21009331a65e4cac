"""Lambda's SQS event source mapping, emulated against a real (moto) queue: test and demo support.

Lambda reads the queue in batches, calls the function with an SQS event, deletes the records
that succeeded and leaves the others (`batchItemFailures`, or every record when the function
raised) to reappear after the queue's visibility timeout; the queue's RedrivePolicy moves a
message received more than ``maxReceiveCount`` times to the dead-letter queue. This module does
the same in-process: `SqsPoller.poll_once` receives up to `batch_size` messages (a short
``WaitTimeSeconds``), builds the exact Lambda SQS event (``Records[].messageId, receiptHandle,
body, attributes.ApproximateReceiveCount, messageAttributes, md5OfBody, eventSource,
eventSourceARN, awsRegion``) and a context (`LambdaContext`: request id, function name,
remaining time), calls the handler, and deletes what succeeded. `run_pollers` runs N of them
in threads (the demo and the benchmark use 8).

moto 5.2 does what the rest needs itself (checked): a message's ``ApproximateReceiveCount``
rises with every receive, a message whose receive count passes ``maxReceiveCount`` is moved to
the dead-letter queue on the next receive, and ``DelaySeconds`` holds a message back. Nothing
is emulated here beyond the event source mapping itself. Not emulated: Lambda's batching
window and its scaling (the caller picks the number of pollers), and the per-container state
(give each poller its own handler when it matters, as each Lambda container has its own).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Handler = Callable[[Mapping[str, Any], Any], Mapping[str, Any]]
DEFAULT_BATCH_SIZE = 10
IDLE_SECONDS = 0.1
"""How long a poller waits after an empty receive: pollers spinning on an empty queue took
most of the process's CPU (moto walks every message of the queue on each receive)."""
DEFAULT_TIMEOUT_SECONDS = 120.0
"""The function timeout the context reports (what the handler plans its lease and polls by)."""


@dataclass
class LambdaContext:
    """The parts of Lambda's context object the handler reads."""

    function_name: str
    timeout_seconds: float
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = 1024
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        """A function ARN of the local account."""
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the (emulated) function timeout."""
        left = self.timeout_seconds - (time.monotonic() - self.started)
        return max(0, int(left * 1000))


def lambda_record(message: Mapping[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One SQS message as a record of Lambda's SQS event."""
    attributes = {
        name: {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value.get("DataType"),
        }
        for name, value in (message.get("MessageAttributes") or {}).items()
    }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": attributes,
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


@dataclass
class PollStats:
    """What the poller has done so far."""

    batches: int = 0
    received: int = 0
    deleted: int = 0
    failed: int = 0
    """Records reported as batch item failures (left in the queue)."""
    not_deleted: int = 0
    """Deletes the queue refused (the message stays until its visibility timeout)."""
    raised: int = 0
    """Invocations that raised (every record of their batch left in the queue)."""
    errors: list[BaseException] = field(default_factory=list)


class SqsPoller:
    """One emulated event source mapping (one concurrent function) on one queue."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        handler: Handler,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        wait_seconds: int = 1,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        function_name: str = "encord-continuous-local",
        region: str = "us-east-1",
    ) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.handler = handler
        self.batch_size = batch_size
        self.wait_seconds = wait_seconds
        self.timeout_seconds = timeout_seconds
        self.function_name = function_name
        self.region = region
        self.queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.stats = PollStats()

    def poll_once(self) -> int:
        """Receive one batch and hand it to the handler; the number of records received."""
        answer = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=self.wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = answer.get("Messages") or []
        if not messages:
            return 0
        self.stats.batches += 1
        self.stats.received += len(messages)
        event = {"Records": [lambda_record(m, self.queue_arn, self.region) for m in messages]}
        context = LambdaContext(self.function_name, self.timeout_seconds)
        try:
            result = self.handler(event, context)
        except Exception as exc:  # Lambda: the whole batch returns to the queue
            self.stats.raised += 1
            self.stats.errors.append(exc)
            return len(messages)
        failed = {str(f["itemIdentifier"]) for f in result.get("batchItemFailures") or []}
        self.stats.failed += len(failed)
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            entries = [
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                for n, m in enumerate(done[start : start + 10])
            ]
            answer = self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
            self.stats.not_deleted += len(answer.get("Failed") or [])
        self.stats.deleted += len(done)
        return len(messages)

    def run(self, stop: threading.Event) -> None:
        """Poll until `stop` is set; after an empty receive, wait `IDLE_SECONDS` first (Lambda
        long-polls; a receive with ``WaitTimeSeconds`` would hold a serialised client's lock)."""
        while not stop.is_set():
            if not self.poll_once():
                stop.wait(IDLE_SECONDS)


def run_pollers(pollers: list[SqsPoller], stop: threading.Event) -> list[threading.Thread]:
    """Start each poller in its own thread (daemon); they run until `stop` is set."""
    threads = [
        threading.Thread(target=p.run, args=(stop,), daemon=True, name=f"sqs-poller-{n}")
        for n, p in enumerate(pollers)
    ]
    for thread in threads:
        thread.start()
    return threads


def queue_depth(sqs: Any, queue_url: str) -> int:
    """Messages visible, in flight or delayed in the queue (moto counts them exactly)."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def drain(
    pollers: list[SqsPoller],
    until: Callable[[], bool],
    *,
    timeout: float = 60.0,
    stop: threading.Event | None = None,
) -> bool:
    """Run `pollers` in threads until `until()` holds (checked every 0.2 s) or `timeout`
    passes; True when it held. The threads are stopped and joined before returning."""
    stop = stop or threading.Event()
    threads = run_pollers(pollers, stop)
    deadline = time.monotonic() + timeout
    held = False
    try:
        while time.monotonic() < deadline:
            if until():
                held = True
                break
            time.sleep(0.2)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    return held
