"""`continuous redrive`: move dead-letter messages back to the queue, never losing one.

Each round receives up to 10 messages from the dead-letter queue (hidden for
`REDRIVE_VISIBILITY_SECONDS` meanwhile), sends them to the queue with SendMessageBatch (the same
body and message attributes), and only then deletes from the dead-letter queue the ones the
queue acknowledged. A message the queue keeps refusing is made visible again in the
dead-letter queue at once and reported. So a crash at any point leaves every message in one
queue or the other (at worst in both: the handler registers an object once however often it
sees it). Running it again moves what is left.

SQS's own ``StartMessageMoveTask`` would do the same server-side, but it cannot stop after
``--max`` messages and the local emulator does not implement it; receive/send/delete works
everywhere and is what the tests exercise.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from registration.continuous.resources import aws_failure
from registration.continuous.status import QueueDepth, queue_depth
from registration.errors import RemoteError
from registration.reporter import Reporter
from registration.stack_outputs import ContinuousOutput

SQS_MAX_BATCH: Final = 10
"""SendMessageBatch, DeleteMessageBatch and ReceiveMessage take at most 10 messages."""
REDRIVE_VISIBILITY_SECONDS: Final = 120
"""How long a received dead-letter message stays hidden while it is sent and deleted: long
enough for a few retried calls; after a crash it reappears in the dead-letter queue then."""
RECEIVE_WAIT_SECONDS: Final = 1
"""Long poll of each receive: the dead-letter queue is empty when one comes back empty."""
SEND_ATTEMPTS: Final = 5
"""Attempts for the entries of one batch the queue did not acknowledge (not sender faults)."""
RETRY_BASE_DELAY: Final = 0.2
MESSAGE_ATTRIBUTE_FIELDS: Final = ("DataType", "StringValue", "BinaryValue")
"""What SendMessage takes back of a received message attribute."""


@dataclass
class RedriveResult:
    """What a redrive did (or, with dry_run, would do)."""

    moved: int = 0
    refused: list[str] = field(default_factory=list)
    """``message id: why`` of messages the queue kept refusing (left in the dead-letter queue)."""
    not_deleted: int = 0
    """Moved, but still in the dead-letter queue too (its delete failed): moved again next time,
    a duplicate the handler ignores."""
    dry_run: bool = False
    would_move: int = 0
    before: QueueDepth | None = None
    after: QueueDepth | None = None

    def to_json(self) -> dict[str, Any]:
        """As JSON (`--json`)."""
        return {
            "dryRun": self.dry_run,
            "moved": self.moved,
            "wouldMove": self.would_move,
            "refused": self.refused,
            "notDeleted": self.not_deleted,
            "deadLetterBefore": self.before.to_json() if self.before else None,
            "deadLetterAfter": self.after.to_json() if self.after else None,
        }


def _attributes(message: dict[str, Any]) -> dict[str, Any]:
    return {
        name: {k: v for k, v in value.items() if k in MESSAGE_ATTRIBUTE_FIELDS}
        for name, value in (message.get("MessageAttributes") or {}).items()
    }


def _send(
    sqs: Any, queue_url: str, messages: list[dict[str, Any]], sleep: Callable[[float], None]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Send `messages` to the queue: (acknowledged ones, ``id: why`` of refused ones)."""
    pending = {str(i): m for i, m in enumerate(messages)}
    sent: list[dict[str, Any]] = []
    why: dict[str, str] = {}
    for attempt in range(SEND_ATTEMPTS):
        if attempt:
            sleep(RETRY_BASE_DELAY * 2 ** (attempt - 1))
        entries = []
        for entry_id, message in pending.items():
            entry: dict[str, Any] = {"Id": entry_id, "MessageBody": message["Body"]}
            attributes = _attributes(message)
            if attributes:
                entry["MessageAttributes"] = attributes
            entries.append(entry)
        try:
            answer = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        except Exception as exc:
            raise aws_failure(exc, f"sending messages to {queue_url}", "sqs:SendMessage") from exc
        for ok in answer.get("Successful") or []:
            sent.append(pending.pop(ok["Id"]))
        retry: dict[str, dict[str, Any]] = {}
        for failed in answer.get("Failed") or []:
            message = pending.pop(failed["Id"])
            why[str(message["MessageId"])] = f"{failed.get('Code')}: {failed.get('Message', '')}"
            if not failed.get("SenderFault"):
                retry[failed["Id"]] = message
        pending = retry
        if not pending:
            break
    refused = [m for m in messages if str(m["MessageId"]) in why and m not in sent]
    return sent, [f"{m['MessageId']}: {why[str(m['MessageId'])]}" for m in refused]


def _delete(sqs: Any, dlq_url: str, messages: list[dict[str, Any]]) -> int:
    """Delete `messages` from the dead-letter queue; how many could not be deleted."""
    if not messages:
        return 0
    entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
    try:
        answer = sqs.delete_message_batch(QueueUrl=dlq_url, Entries=entries)
    except Exception as exc:
        raise aws_failure(
            exc, f"deleting moved messages from {dlq_url}", "sqs:DeleteMessage"
        ) from exc
    return len(answer.get("Failed") or [])


def _release(sqs: Any, dlq_url: str, messages: list[dict[str, Any]]) -> None:
    """Make refused messages visible in the dead-letter queue again at once."""
    if not messages:
        return
    entries = [
        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
        for i, m in enumerate(messages)
    ]
    try:
        sqs.change_message_visibility_batch(QueueUrl=dlq_url, Entries=entries)
    except Exception as exc:  # they reappear after REDRIVE_VISIBILITY_SECONDS anyway
        raise aws_failure(
            exc, f"releasing refused messages in {dlq_url}", "sqs:ChangeMessageVisibility"
        ) from exc


def redrive(
    sqs: Any,
    resources: ContinuousOutput,
    reporter: Reporter,
    *,
    max_messages: int | None = None,
    dry_run: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> RedriveResult:
    """Move up to `max_messages` (all when None) dead-letter messages back to the queue."""
    dlq, queue = resources.dead_letter_queue_url, resources.queue_url
    before = queue_depth(sqs, dlq)
    result = RedriveResult(dry_run=dry_run, before=before)
    if dry_run:
        waiting = before.waiting
        result.would_move = waiting if max_messages is None else min(waiting, max_messages)
        return result
    while max_messages is None or result.moved < max_messages:
        left = SQS_MAX_BATCH if max_messages is None else max_messages - result.moved
        want = min(SQS_MAX_BATCH, left)
        try:
            answer = sqs.receive_message(
                QueueUrl=dlq,
                MaxNumberOfMessages=want,
                VisibilityTimeout=REDRIVE_VISIBILITY_SECONDS,
                WaitTimeSeconds=RECEIVE_WAIT_SECONDS,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
        except Exception as exc:
            raise aws_failure(exc, f"receiving from {dlq}", "sqs:ReceiveMessage") from exc
        messages = answer.get("Messages") or []
        if not messages:
            break
        sent, refused = _send(sqs, queue, messages, sleep)
        result.not_deleted += _delete(sqs, dlq, sent)  # only what the queue acknowledged
        result.moved += len(sent)
        result.refused += refused
        _release(sqs, dlq, [m for m in messages if m not in sent])
        reporter.progress("messages moved", result.moved, before.waiting or None)
        if refused:
            break  # the queue refuses these; going on would only receive them again
    result.after = queue_depth(sqs, dlq)
    if result.refused and not result.moved:
        raise RemoteError(
            f"the queue refused every message: {result.refused[0]}",
            hint="check the queue (its policy, encryption key, message size) and run again",
        )
    return result
