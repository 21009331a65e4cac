"""One invocation's messages and what became of each: the batch item failures and `err#` records.

A message succeeds when everything it names is done (registered, skipped, collected, reported);
otherwise it is a batch item failure and comes back to the queue, and its reason is written to
its ``err#<message id>`` record (listed under `LISTING_ERROR`, kept `ERROR_TTL_SECONDS`), so a
message that keeps failing reaches the dead-letter queue with its reason known. A message that
succeeds after failing before (received more than once) has its ``err#`` record removed: the
records list what is still wrong.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from registration.continuous import table as t
from registration.continuous.clock import iso
from registration.continuous.dynamo import StateTable

MAX_OBJECTS_NAMED: Final = 5
"""Objects of a message named on its error record (the rest are counted)."""
MAX_REASON_CHARS: Final = 2000
"""An error record's reason is cut to this (DynamoDB items stay small)."""


@dataclass
class Message:
    """One SQS record of the batch."""

    message_id: str
    body: str
    receive_count: int
    source: str | None = None
    receipt_handle: str = ""
    busy_until: float | None = None
    """When the latest lease of what made this message busy runs out (when known)."""
    objects: list[str] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    """(error kind, reason) of everything that failed for this message."""


class Ledger:
    """The batch's messages by id, and their failures (thread-safe)."""

    def __init__(self, records: Iterable[Mapping[str, Any]]) -> None:
        self.messages: dict[str, Message] = {}
        self._lock = threading.Lock()
        for record in records:
            attributes = record.get("attributes") or {}
            count = str(attributes.get("ApproximateReceiveCount") or "1")
            message_id = str(record.get("messageId"))
            self.messages[message_id] = Message(
                message_id,
                str(record.get("body") or ""),
                int(count) if count.isdigit() else 1,
                receipt_handle=str(record.get("receiptHandle") or ""),
            )

    def name(self, message_id: str, bucket: str, key: str) -> None:
        """Note that the message names s3://bucket/key (for its error record)."""
        message = self.messages[message_id]
        with self._lock:
            if len(message.objects) < MAX_OBJECTS_NAMED:
                message.objects.append(f"{bucket}/{key}")

    def fail(self, message_ids: Iterable[str], kind: str, reason: str) -> None:
        """Mark the messages failed (they go back to the queue) with `reason`."""
        with self._lock:
            for message_id in message_ids:
                self.messages[message_id].failures.append((kind, reason))

    def busy(self, message_ids: Iterable[str], reason: str, until: float | None) -> None:
        """Mark the messages failed because another invocation holds what they name, whose
        lease runs out at `until` (None: unknown)."""
        with self._lock:
            for message_id in message_ids:
                message = self.messages[message_id]
                message.failures.append((t.ERROR_BUSY, reason))
                if until is not None:
                    message.busy_until = max(until, message.busy_until or until)

    def failed(self) -> list[str]:
        """The ids of the failed messages, in batch order."""
        return [m.message_id for m in self.messages.values() if m.failures]

    def record(self, table: StateTable, now: float) -> None:
        """Write the error records of the failed messages and remove those of the others
        (one batch)."""
        puts: list[tuple[str, str, dict[str, Any]]] = []
        deletes: list[tuple[str, str]] = []
        for message in self.messages.values():
            pk = t.error_pk(message.message_id)
            if not message.failures:
                if message.receive_count > 1:
                    deletes.append((pk, t.ERROR_SK))
                continue
            kinds = [kind for kind, _ in message.failures]
            kind = next(
                (k for k in (t.ERROR_POISON, t.ERROR_TRANSIENT, t.ERROR_BUSY) if k in kinds),
                kinds[0],
            )
            reasons = list(dict.fromkeys(reason for _, reason in message.failures))
            reason = "; ".join(reasons)
            if len(reason) > MAX_REASON_CHARS:
                reason = reason[: MAX_REASON_CHARS - 1] + "…"
            record: dict[str, Any] = {
                t.LISTING: t.LISTING_ERROR,
                t.AT: t.listing_at(iso(now), message.message_id),
                t.MESSAGE_ID: message.message_id,
                t.REASON: reason,
                t.ERROR_KIND: kind,
                t.RECEIVE_COUNT: message.receive_count,
                t.TTL: int(now) + t.ERROR_TTL_SECONDS,
            }
            if message.source:
                record[t.SOURCE] = message.source
            if message.objects:
                record[t.OBJECTS] = list(message.objects)
            puts.append((pk, t.ERROR_SK, record))
        if puts or deletes:
            table.write_many(puts=puts, deletes=deletes)
