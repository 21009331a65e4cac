"""`continuous status`: how continuous registration is doing, read from its queues and table.

- **Queue depth**: the queue's ``ApproximateNumberOfMessages`` (waiting), ``...NotVisible`` (being
  handled) and ``...Delayed`` (group checks waiting for their quiet period).
- **Dead-letter messages**: how many, and for up to `limit` of them the message ID, the objects
  (or group) the body is about, how often it was received, and the reason from the table's
  ``err#<message id>`` record (SQS keeps a message's ID when it moves it to the dead-letter
  queue). They are *peeked*: ReceiveMessage with ``VisibilityTimeout=0``, so every message stays
  visible and nothing is hidden from a `redrive` running at the same time, or from the alarm.
  A receive may return a message again: they are de-duplicated by ID over a few receives, which
  is why it is a sample, not necessarily the oldest ones. (A peek is a receive: it adds one to
  the message's ``ApproximateReceiveCount``, which nothing reads in a dead-letter queue.)
- **Groups in progress, late arrivals, last errors**: Queries of the sparse index
  `table.LISTING_INDEX` (groups oldest first; late arrivals and errors newest first), and how
  many there are in all (``Select=COUNT``).

`describe_body` says what a message is about, read with the handler's own parser
(`registration.continuous.messages.parse`): a poison message is shown with why it is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from registration.continuous import table as t
from registration.continuous.dynamo import decode_record
from registration.continuous.messages import BadMessage, GroupCheck, SidecarCheck, parse
from registration.continuous.resources import ContinuousClients, aws_failure
from registration.stack_outputs import ContinuousOutput

DEFAULT_LIMIT: Final = 10
"""Entries shown per list (dead-letter messages, groups, late arrivals, errors)."""
MAX_LIMIT: Final = 1000
SQS_MAX_RECEIVE: Final = 10
"""ReceiveMessage returns at most 10 messages per call."""
PEEK_EXTRA_ROUNDS: Final = 3
"""Receives beyond the needed ones before the sample stops (repeats, fewer messages)."""
DYNAMODB_BATCH_GET: Final = 100
"""BatchGetItem takes at most 100 keys."""
MAX_OBJECTS_SHOWN: Final = 3
"""Objects named per dead-letter message; the rest are counted."""
MAX_BODY_SHOWN: Final = 80
"""Characters of a body that is not a message the handler knows."""
HIGHLIGHTS: Final = {
    t.LISTING_GROUP: (t.STATE, t.KIND, t.MEMBERS, t.FIRST_SEEN, t.LAST_SEEN, t.MARKER),
    t.LISTING_LATE: (t.FOLDER, t.GROUP_STATE, t.ARRIVED),
    t.LISTING_ERROR: (t.REASON, t.ERROR_KIND, t.RECEIVE_COUNT),
}
"""The fields of each listing the human output shows (`--json` has every field)."""
EPOCH_FIELDS: Final = frozenset({t.FIRST_SEEN, t.LAST_SEEN, t.ARRIVED, t.LEASE_UNTIL, t.CHECK_DUE})
"""Fields the handler writes as epoch seconds."""
QUEUE_ATTRIBUTES: Final = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


@dataclass(frozen=True)
class QueueDepth:
    """A queue's approximate message counts."""

    waiting: int
    in_flight: int
    delayed: int

    def to_json(self) -> dict[str, int]:
        """As JSON."""
        return {"waiting": self.waiting, "inFlight": self.in_flight, "delayed": self.delayed}


@dataclass(frozen=True)
class DeadLetter:
    """One dead-letter message: what it is about and why it failed (when the table knows)."""

    message_id: str
    about: tuple[str, ...]
    receive_count: int | None
    sent_at: str | None
    reason: str | None
    failed_at: str | None
    error_kind: str | None = None
    """`table.ERROR_POISON`, `ERROR_TRANSIENT` or `ERROR_BUSY`, as the handler recorded it."""

    def to_json(self) -> dict[str, Any]:
        """As JSON."""
        return {
            "errorKind": self.error_kind,
            "messageId": self.message_id,
            "about": list(self.about),
            "receiveCount": self.receive_count,
            "sentAt": self.sent_at,
            "reason": self.reason,
            "failedAt": self.failed_at,
        }


@dataclass(frozen=True)
class Listed:
    """One record of the listing index: a group in progress, a late arrival or an error."""

    kind: str
    """`table.LISTING_GROUP`, `LISTING_LATE` or `LISTING_ERROR`."""
    at: str
    """When (ISO-8601 UTC), without the record id the index adds."""
    subject: str
    """``s3://bucket/folder/`` of a group, ``s3://bucket/key`` of a late arrival, the message
    ID of an error."""
    fields: dict[str, Any]
    """The record's other attributes (state, kind, members, first/last seen, reason...)."""

    def to_json(self) -> dict[str, Any]:
        """As JSON."""
        return {"at": self.at, "subject": self.subject, **self.fields}

    def highlights(self) -> list[tuple[str, str]]:
        """The fields a person reads first (`HIGHLIGHTS`), times as ISO-8601 UTC."""
        shown = []
        for name in HIGHLIGHTS.get(self.kind, ()):
            value = self.fields.get(name)
            if value is None or value == "":
                continue
            if name in EPOCH_FIELDS and isinstance(value, int | float):
                value = _iso(value)
            shown.append((name, str(value)))
        return shown


@dataclass
class Section:
    """Up to `limit` records of one listing, and how many there are in all."""

    total: int
    shown: list[Listed] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """As JSON."""
        return {"total": self.total, "shown": [r.to_json() for r in self.shown]}


@dataclass
class ContinuousStatus:
    """Everything `continuous status` shows."""

    resources: ContinuousOutput
    queue: QueueDepth
    dead_letter: QueueDepth
    dead_letters: list[DeadLetter]
    groups: Section
    late: Section
    errors: Section

    def to_json(self) -> dict[str, Any]:
        """As JSON (`--json`)."""
        r = self.resources
        return {
            "region": r.region,
            "queue": {"url": r.queue_url, **self.queue.to_json()},
            "deadLetterQueue": {
                "url": r.dead_letter_queue_url,
                **self.dead_letter.to_json(),
                "messages": [d.to_json() for d in self.dead_letters],
            },
            "table": r.table_name,
            "groupsInProgress": self.groups.to_json(),
            "lateArrivals": self.late.to_json(),
            "lastErrors": self.errors.to_json(),
        }


# --- queues -----------------------------------------------------------------------------------


def queue_depth(sqs: Any, url: str) -> QueueDepth:
    """The queue's approximate counts."""
    try:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(QUEUE_ATTRIBUTES))[
            "Attributes"
        ]
    except Exception as exc:
        raise aws_failure(exc, f"reading queue {url}", "sqs:GetQueueAttributes") from exc
    waiting, in_flight, delayed = (int(attributes.get(name, 0)) for name in QUEUE_ATTRIBUTES)
    return QueueDepth(waiting, in_flight, delayed)


def peek(sqs: Any, url: str, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` distinct messages of the queue, left visible (``VisibilityTimeout=0``)."""
    found: dict[str, dict[str, Any]] = {}
    rounds = -(-limit // SQS_MAX_RECEIVE) + PEEK_EXTRA_ROUNDS
    for _ in range(rounds):
        if len(found) >= limit:
            break
        try:
            answer = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(SQS_MAX_RECEIVE, limit - len(found)),
                VisibilityTimeout=0,
                WaitTimeSeconds=0,
                AttributeNames=["All"],
            )
        except Exception as exc:
            raise aws_failure(exc, f"reading messages of {url}", "sqs:ReceiveMessage") from exc
        messages = answer.get("Messages") or []
        if not messages:
            break
        for message in messages:
            found.setdefault(str(message["MessageId"]), message)
    return list(found.values())[:limit]


def describe_body(body: str) -> tuple[str, ...]:
    """What a message is about, for people: its objects, its group or sidecar, or why the
    handler refuses it (read with the handler's own parser, `messages.parse`)."""
    try:
        parsed = parse(body)
    except BadMessage as exc:
        text = body if len(body) <= MAX_BODY_SHOWN else body[: MAX_BODY_SHOWN - 3] + "..."
        return (f"not a message the handler takes ({exc.reason}): {text!r}",)
    if isinstance(parsed, GroupCheck):
        return (f"group check s3://{parsed.bucket}/{parsed.folder}",)
    if isinstance(parsed, SidecarCheck):
        return (f"sidecar check s3://{parsed.bucket}/{parsed.key}",)
    shown = tuple(f"s3://{e.bucket}/{e.key}" for e in parsed[:MAX_OBJECTS_SHOWN])
    more = len(parsed) - MAX_OBJECTS_SHOWN
    return (*shown, f"and {more} more") if more > 0 else shown


# --- the table --------------------------------------------------------------------------------


def _item(raw: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return decode_record(raw) or {}


def error_reasons(dynamodb: Any, table: str, message_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The ``err#`` record of each message that has one, by message ID."""
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(message_ids), DYNAMODB_BATCH_GET):
        keys: list[dict[str, Any]] = [
            {t.PARTITION_KEY: {"S": t.error_pk(m)}, t.SORT_KEY: {"S": t.ERROR_SK}}
            for m in dict.fromkeys(message_ids[start : start + DYNAMODB_BATCH_GET])
        ]
        request: dict[str, Any] = {table: {"Keys": keys}}
        while request:
            try:
                answer = dynamodb.batch_get_item(RequestItems=request)
            except Exception as exc:
                raise aws_failure(exc, f"reading table {table}", "dynamodb:BatchGetItem") from exc
            for raw in answer.get("Responses", {}).get(table, []):
                item = _item(raw)
                found[str(item[t.PARTITION_KEY]).removeprefix("err#")] = item
            request = answer.get("UnprocessedKeys") or {}
    return found


def _query_pages(dynamodb: Any, table: str, listing: str, **extra: Any) -> Iterator[dict[str, Any]]:
    kwargs: dict[str, Any] = {
        "TableName": table,
        "IndexName": t.LISTING_INDEX,
        "KeyConditionExpression": "#l = :l",
        "ExpressionAttributeNames": {"#l": t.LISTING},
        "ExpressionAttributeValues": {":l": {"S": listing}},
        **extra,
    }
    while True:
        try:
            page = dynamodb.query(**kwargs)
        except Exception as exc:
            raise aws_failure(
                exc, f"querying index {t.LISTING_INDEX} of table {table}", "dynamodb:Query"
            ) from exc
        yield page
        last = page.get("LastEvaluatedKey")
        if not last:
            return
        kwargs["ExclusiveStartKey"] = last


def _subject(listing: str, item: dict[str, Any]) -> str:
    pk = str(item.get(t.PARTITION_KEY, ""))
    if listing == t.LISTING_ERROR:
        return pk.removeprefix("err#")
    try:
        _, bucket, rest = t.split_pk(pk)
    except ValueError:
        return pk
    return f"s3://{bucket}/{rest}" + ("/" if listing == t.LISTING_GROUP and rest else "")


_HIDDEN = frozenset({t.PARTITION_KEY, t.SORT_KEY, t.LISTING, t.AT, t.TTL})


def listing(dynamodb: Any, table: str, kind: str, limit: int, *, newest_first: bool) -> Section:
    """Up to `limit` records listed as `kind`, and how many there are."""
    total = sum(
        int(page.get("Count", 0)) for page in _query_pages(dynamodb, table, kind, Select="COUNT")
    )
    section = Section(total)
    if not total or not limit:
        return section
    for page in _query_pages(dynamodb, table, kind, ScanIndexForward=not newest_first, Limit=limit):
        for raw in page.get("Items", []):
            item = _item(raw)
            at = str(item.get(t.AT, "")).split("#", 1)[0]
            fields = {k: v for k, v in sorted(item.items()) if k not in _HIDDEN}
            section.shown.append(Listed(kind, at, _subject(kind, item), fields))
        if len(section.shown) >= limit:
            break
    del section.shown[limit:]
    return section


# --- everything -------------------------------------------------------------------------------


def read_status(
    resources: ContinuousOutput, clients: ContinuousClients, limit: int = DEFAULT_LIMIT
) -> ContinuousStatus:
    """Read the queues and the table of `resources`."""
    sqs, dynamodb = clients.sqs, clients.dynamodb
    queue = queue_depth(sqs, resources.queue_url)
    dead = queue_depth(sqs, resources.dead_letter_queue_url)
    sample = peek(sqs, resources.dead_letter_queue_url, limit) if dead.waiting and limit else []
    reasons = error_reasons(dynamodb, resources.table_name, [m["MessageId"] for m in sample])
    dead_letters = []
    for message in sample:
        attributes = message.get("Attributes") or {}
        error = reasons.get(str(message["MessageId"]), {})
        count = attributes.get("ApproximateReceiveCount")
        sent = attributes.get("SentTimestamp")
        dead_letters.append(
            DeadLetter(
                message_id=str(message["MessageId"]),
                about=describe_body(str(message.get("Body", ""))),
                receive_count=int(count) if count is not None else None,
                sent_at=_epoch_ms(sent) if sent is not None else None,
                reason=str(error[t.REASON]) if error.get(t.REASON) is not None else None,
                failed_at=str(error.get(t.AT, "")).split("#", 1)[0] or None,
                error_kind=str(error[t.ERROR_KIND]) if error.get(t.ERROR_KIND) else None,
            )
        )
    table = resources.table_name
    return ContinuousStatus(
        resources=resources,
        queue=queue,
        dead_letter=dead,
        dead_letters=dead_letters,
        groups=listing(dynamodb, table, t.LISTING_GROUP, limit, newest_first=False),
        late=listing(dynamodb, table, t.LISTING_LATE, limit, newest_first=True),
        errors=listing(dynamodb, table, t.LISTING_ERROR, limit, newest_first=True),
    )


def _iso(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat(timespec="seconds")


def _epoch_ms(value: str) -> str:
    return _iso(int(value) / 1000)
