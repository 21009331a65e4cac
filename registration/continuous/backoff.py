"""When a message that found its object busy comes back: sooner than the queue's visibility timeout.

A message fails as *busy* when another invocation holds what it names (an object being
registered, a group being sent, a sidecar's object in flight). Left alone, it would come back
only after the queue's visibility timeout (the construct sets 30 minutes, six times the
function timeout, as AWS recommends for a queue read by Lambda), although the holder usually
finishes within seconds. So the handler shortens the wait itself, with SQS's
ChangeMessageVisibility on the record's receipt handle (the pattern AWS documents for backoff
with Lambda; the event source's permissions include it): `BUSY_RETRY_SECONDS` at the first
receive, doubled at each later one, never longer than the holder's lease (after which the
claim can be taken over), and at least one second.

The doubling keeps a message that stays busy from reaching the dead-letter queue early: the
waits of the first four receives (30 + 60 + 120 + 240 s) outlast the longest lease (the
function timeout plus `LEASE_MARGIN_SECONDS`), so by the fifth receive (the construct's
``maxReceiveCount``) the holder has finished or its claim can be taken over.

Only messages whose every failure is *busy* are shortened: a transient error (Encord, AWS) keeps
the queue's own timeout, and a message that failed for several reasons waits for the longest.
A failed ChangeMessageVisibility is logged and changes nothing else: the message then comes
back after the queue's timeout, as before.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from registration.continuous import table as t
from registration.continuous.ledger import Message

BUSY_RETRY_SECONDS: Final = 30
"""How long a busy message stays hidden after its first receive (doubled at each later one)."""
MAX_VISIBILITY_SECONDS: Final = 12 * 3600
"""SQS's longest visibility timeout."""
BATCH: Final = 10
"""Entries per ChangeMessageVisibilityBatch call (SQS's limit)."""


def busy_delay(message: Message, now: float) -> int | None:
    """Seconds `message` should stay hidden, or None to keep the queue's visibility timeout
    (it did not fail, or not only because something was busy)."""
    if not message.failures or any(kind != t.ERROR_BUSY for kind, _ in message.failures):
        return None
    doubled = BUSY_RETRY_SECONDS * 2 ** max(0, message.receive_count - 1)
    seconds = float(min(doubled, MAX_VISIBILITY_SECONDS))
    if message.busy_until is not None:
        seconds = min(seconds, message.busy_until - now + 1)
    return max(1, int(seconds + 0.999))


def shorten(sqs: Any, queue_url: str, messages: Iterable[Message], now: float) -> list[str]:
    """Hide each busy message for its `busy_delay` (ChangeMessageVisibilityBatch, 10 a call);
    the problems met, one line each (nothing raised)."""
    entries: list[dict[str, Any]] = []
    for message in messages:
        seconds = busy_delay(message, now)
        if seconds is not None and message.receipt_handle:
            entries.append(
                {
                    "Id": str(len(entries)),
                    "ReceiptHandle": message.receipt_handle,
                    "VisibilityTimeout": seconds,
                }
            )
    problems: list[str] = []
    for start in range(0, len(entries), BATCH):
        chunk = entries[start : start + BATCH]
        try:
            answer = sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=chunk)
        except Exception as exc:  # the message comes back after the queue's timeout instead
            problems.append(f"{type(exc).__name__}: {exc}")
            continue
        problems.extend(
            f"{failed.get('Code')}: {failed.get('Message')}"
            for failed in answer.get("Failed") or []
        )
    return problems
