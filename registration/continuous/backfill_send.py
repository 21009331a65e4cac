"""Sending backfill messages: bodies packed by `messages.backfill_bodies`, batched within
SendMessageBatch's limits, and sent until the queue acknowledged each one.

`pack` reads each body's last key and object count back from the body itself, so what the
checkpoint records is exactly what was packed. `BatchSender.send` retries only the entries the
queue did not acknowledge (never one it refused as the sender's fault), with backoff, and
returns once all are in the queue; the caller writes its checkpoint only then.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import orjson

from registration.build.sources import ObjectRecord
from registration.continuous.messages import BACKFILL_BODY_BYTES, backfill_bodies
from registration.continuous.resources import aws_failure
from registration.errors import RemoteError

SQS_MAX_BATCH: Final = 10
"""SendMessageBatch takes at most 10 messages."""
MAX_BATCH_BYTES: Final = 256 * 1024
"""SendMessageBatch takes at most 256 KiB of bodies in all (the classic limit, which every queue
accepts; a message is at most that too)."""
SEND_ATTEMPTS: Final = 6
"""Attempts for the entries of one batch the queue did not acknowledge (not sender faults)."""
RETRY_BASE_DELAY: Final = 0.2


@dataclass(frozen=True)
class Body:
    """One backfill message: its body, the last key in it and how many objects it holds."""

    text: str
    last_key: str
    objects: int


class BatchSender:
    """Sends bodies in SendMessageBatch calls, retrying only the unacknowledged entries."""

    def __init__(
        self, sqs: Any, queue_url: str, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.sleep = sleep

    def send(self, bodies: list[Body]) -> int:
        """Send `bodies` (one batch); return once the queue acknowledged every one, with how
        many entries had to be sent again."""
        pending = {str(i): body for i, body in enumerate(bodies)}
        last: dict[str, Any] = {}
        retried = 0
        for attempt in range(SEND_ATTEMPTS):
            if attempt:
                retried += len(pending)
                self.sleep(RETRY_BASE_DELAY * 2 ** (attempt - 1))
            entries = [{"Id": i, "MessageBody": b.text} for i, b in pending.items()]
            try:
                answer = self.sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            except Exception as exc:
                raise aws_failure(
                    exc, f"sending backfill messages to {self.queue_url}", "sqs:SendMessage"
                ) from exc
            for ok in answer.get("Successful") or []:
                pending.pop(ok["Id"], None)
            for failed in answer.get("Failed") or []:
                last = failed
                if failed.get("SenderFault"):
                    raise RemoteError(
                        f"the queue refused a backfill message: {failed.get('Code')} "
                        f"{failed.get('Message', '')}".strip(),
                        hint="check the queue's maximum message size and policy; the rerun "
                        "continues after the last checkpoint",
                    )
            if not pending:
                return retried
        raise RemoteError(
            f"the queue kept refusing {len(pending)} backfill message(s) after {SEND_ATTEMPTS} "
            f"attempts (last: {last.get('Code')} {last.get('Message', '')})".rstrip(),
            hint="run the same command again: it continues after the last acknowledged batch",
        )


def batches(bodies: Iterable[Body]) -> Iterator[list[Body]]:
    """Bodies grouped for SendMessageBatch: at most 10, and at most `MAX_BATCH_BYTES` in all."""
    batch: list[Body] = []
    size = 0
    for body in bodies:
        length = len(body.text.encode())
        if batch and (len(batch) == SQS_MAX_BATCH or size + length > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(body)
        size += length
    if batch:
        yield batch


def pack(records: Iterable[ObjectRecord], max_bytes: int = BACKFILL_BODY_BYTES) -> Iterator[Body]:
    """`records` (sorted) as backfill messages (`messages.backfill_bodies`), each with its last
    key and count (read back from the body: what was packed is what the checkpoint says)."""
    for text in backfill_bodies(records, max_bytes=max_bytes):
        objects = orjson.loads(text)["detail"]["objects"]
        yield Body(text, str(objects[-1]["key"]), len(objects))
