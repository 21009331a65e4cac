"""The state table through DynamoDB's low-level API: values in and out, conditional writes.

Records are plain dicts of str, int/float, bool and lists of str. A conditional write that
fails is an answer, not an error (`Written`): it carries the record as it was, which DynamoDB
returns with the failure (ReturnValuesOnConditionCheckFailure), so the caller decides without
reading again. Throttling and 5xx are retried by botocore; what still fails is raised as the
helper's `RemoteError` (the affected messages go back to the queue), and a denied call as
`AuthError` (the function's role is wrong: the whole batch fails).

Many records are read (`get_many`: BatchGetItem, strongly consistent, `BATCH_GET_KEYS` a
request) and written (`write_many`: BatchWriteItem, `BATCH_WRITE_ITEMS` a request, whole items,
no conditions) in batches; what DynamoDB leaves unprocessed (throttling) is sent again after a
pause, `BATCH_TRIES` times at most.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from registration.aws_errors import AUTH_CODES, error_code
from registration.continuous.table import PARTITION_KEY, SORT_KEY
from registration.errors import AuthError, RemoteError

Record = dict[str, Any]
CONDITION_FAILED = "ConditionalCheckFailedException"
TRANSACTION_CANCELLED = "TransactionCanceledException"
BATCH_GET_KEYS: Final = 100
"""Keys one BatchGetItem reads at most (DynamoDB's limit)."""
BATCH_WRITE_ITEMS: Final = 25
"""Puts and deletes one BatchWriteItem makes at most (DynamoDB's limit)."""
BATCH_TRIES: Final = 8
"""Requests for one batch while DynamoDB leaves part of it unprocessed (throttling)."""
BATCH_PAUSE_SECONDS: Final = 0.05
"""The first pause before unprocessed keys or items are sent again (doubled each time,
jittered)."""


def encode(value: Any) -> dict[str, Any]:
    """A Python value as a DynamoDB attribute value."""
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int | float | Decimal):
        return {"N": str(value)}
    if value is None:
        return {"NULL": True}
    if isinstance(value, list | tuple):
        return {"L": [encode(v) for v in value]}
    if isinstance(value, dict):
        return {"M": {str(k): encode(v) for k, v in value.items()}}
    raise TypeError(f"cannot store a {type(value).__name__} in the state table")


def decode(attribute: Mapping[str, Any]) -> Any:
    """A DynamoDB attribute value as a Python value (numbers: int when whole)."""
    kind, value = next(iter(attribute.items()))
    if kind == "S":
        return value
    if kind == "N":
        number = Decimal(value)
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "BOOL":
        return bool(value)
    if kind == "NULL":
        return None
    if kind == "L":
        return [decode(v) for v in value]
    if kind == "M":
        return {k: decode(v) for k, v in value.items()}
    if kind == "SS":
        return sorted(value)
    raise TypeError(f"unexpected DynamoDB type {kind}")


def decode_record(item: Mapping[str, Any] | None) -> Record | None:
    """A whole item as a record (None stays None)."""
    if not item:
        return None
    return {name: decode(value) for name, value in item.items()}


def key_of(pk: str, sk: str) -> dict[str, Any]:
    """The primary key of a record."""
    return {PARTITION_KEY: {"S": pk}, SORT_KEY: {"S": sk}}


@dataclass(frozen=True)
class Written:
    """The result of a conditional write: done or not, and the record as it was (or is)."""

    ok: bool
    record: Record | None


@dataclass
class Update:
    """One UpdateItem: SET / REMOVE / ADD clauses and a condition, with their values."""

    pk: str
    sk: str
    sets: dict[str, Any]
    removes: tuple[str, ...] = ()
    adds: dict[str, int] | None = None
    condition: str | None = None
    values: dict[str, Any] | None = None
    """Values the condition refers to, as ``:name``."""
    raw_sets: dict[str, str] | None = None
    """SET clauses written as expressions, attribute name -> expression (such as
    ``if_not_exists(#first_seen, :now)``); values in `values`, names as ``#name``."""

    def request(self, table: str) -> dict[str, Any]:
        """The UpdateItem parameters (also the body of a transaction's Update)."""
        names: dict[str, str] = {}
        values: dict[str, Any] = {}

        def name(attribute: str) -> str:
            alias = f"#a{len(names)}"
            names[alias] = attribute
            return alias

        clauses: list[str] = []
        set_parts = []
        for n, (attribute, value) in enumerate(self.sets.items()):
            values[f":s{n}"] = encode(value)
            set_parts.append(f"{name(attribute)} = :s{n}")
        for attribute, expression in (self.raw_sets or {}).items():
            set_parts.append(f"{name(attribute)} = {expression}")
        if set_parts:
            clauses.append("SET " + ", ".join(set_parts))
        if self.removes:
            clauses.append("REMOVE " + ", ".join(name(a) for a in self.removes))
        if self.adds:
            parts = []
            for n, (attribute, amount) in enumerate(self.adds.items()):
                values[f":d{n}"] = encode(amount)
                parts.append(f"{name(attribute)} :d{n}")
            clauses.append("ADD " + ", ".join(parts))
        for alias, value in (self.values or {}).items():
            values[alias] = encode(value)
        request: dict[str, Any] = {
            "TableName": table,
            "Key": key_of(self.pk, self.sk),
            "UpdateExpression": " ".join(clauses),
        }
        condition = self.condition
        if condition:
            request["ConditionExpression"] = condition
        # Conditions and raw SET expressions name attributes as `#name`: mapped here.
        for expression in (condition or "", *(self.raw_sets or {}).values()):
            for word in _names_in(expression):
                names[f"#{word}"] = word
        if names:
            request["ExpressionAttributeNames"] = names
        if values:
            request["ExpressionAttributeValues"] = values
        return request


def _pause(attempt: int) -> None:
    """Wait before sending unprocessed keys or items again (exponential, jittered)."""
    ceiling = BATCH_PAUSE_SECONDS * 2 ** (attempt - 1)
    time.sleep(random.uniform(ceiling / 2, ceiling))  # noqa: S311 - jitter, not cryptography


def _names_in(expression: str) -> Iterator[str]:
    """The `#name` references of a condition."""
    word = ""
    reading = False
    for char in expression + " ":
        if reading and (char.isalnum() or char == "_"):
            word += char
            continue
        if reading and word:
            yield word
        reading, word = char == "#", ""


class Conflict(RemoteError):
    """DynamoDB cancelled a transaction because another one held an item (TransactionConflict):
    transient, worth trying again at once."""


class StateTable:
    """The continuous-registration table (one boto3 DynamoDB client, thread-safe)."""

    def __init__(self, client: Any, name: str) -> None:
        self.client = client
        self.name = name

    def _call(self, action: str, fn: Any, **kwargs: Any) -> Any:
        try:
            return fn(**kwargs)
        except Exception as exc:
            code = error_code(exc)
            if code in (CONDITION_FAILED, TRANSACTION_CANCELLED):
                raise
            if code in AUTH_CODES:
                raise AuthError(
                    f"the function may not {action} the table {self.name} ({code})",
                    hint="the construct grants the function's role access to its table: "
                    "redeploy it",
                ) from None
            raise RemoteError(
                f"DynamoDB {action} on {self.name} failed ({code or type(exc).__name__}: {exc})"
            ) from None

    def get(self, pk: str, sk: str) -> Record | None:
        """One record, strongly consistent."""
        answer = self._call(
            "read",
            self.client.get_item,
            TableName=self.name,
            Key=key_of(pk, sk),
            ConsistentRead=True,
        )
        return decode_record(answer.get("Item"))

    def update(self, update: Update, *, old: bool = False) -> Written:
        """Apply `update`; `Written.record` is the record before (`old`) or after it, or the
        record that failed the condition."""
        request = update.request(self.name)
        request["ReturnValues"] = "ALL_OLD" if old else "ALL_NEW"
        if update.condition:
            request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        try:
            answer = self._call("write", self.client.update_item, **request)
        except Exception as exc:
            if error_code(exc) != CONDITION_FAILED:
                raise
            item = getattr(exc, "response", {}).get("Item")
            return Written(False, decode_record(item))
        return Written(True, decode_record(answer.get("Attributes")))

    def put(self, pk: str, sk: str, record: Record, *, if_absent: bool = False) -> Written:
        """Write a whole record (only when there is none yet with `if_absent`)."""
        item = {**key_of(pk, sk), **{k: encode(v) for k, v in record.items()}}
        request: dict[str, Any] = {"TableName": self.name, "Item": item}
        if if_absent:
            request["ConditionExpression"] = "attribute_not_exists(#pk)"
            request["ExpressionAttributeNames"] = {"#pk": PARTITION_KEY}
            request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        try:
            self._call("write", self.client.put_item, **request)
        except Exception as exc:
            if error_code(exc) != CONDITION_FAILED:
                raise
            return Written(False, decode_record(getattr(exc, "response", {}).get("Item")))
        return Written(True, None)

    def get_many(
        self, keys: Iterable[tuple[str, str]], attributes: Sequence[str] = ()
    ) -> dict[tuple[str, str], Record]:
        """The records of `keys` that exist, by (pk, sk), with only `attributes` (and the keys)
        when given; strongly consistent."""
        wanted = list(dict.fromkeys(keys))
        found: dict[tuple[str, str], Record] = {}
        projection: dict[str, Any] = {}
        if attributes:
            names = {
                f"#p{n}": name for n, name in enumerate((PARTITION_KEY, SORT_KEY, *attributes))
            }
            projection = {
                "ProjectionExpression": ", ".join(names),
                "ExpressionAttributeNames": names,
            }
        for start in range(0, len(wanted), BATCH_GET_KEYS):
            pending: list[dict[str, Any]] = [
                key_of(pk, sk) for pk, sk in wanted[start : start + BATCH_GET_KEYS]
            ]
            for attempt in range(BATCH_TRIES):
                if attempt:
                    _pause(attempt)
                request = {self.name: {"Keys": pending, "ConsistentRead": True, **projection}}
                answer = self._call("read", self.client.batch_get_item, RequestItems=request)
                for item in answer.get("Responses", {}).get(self.name, []):
                    record = decode_record(item)
                    if record is not None:
                        found[(record[PARTITION_KEY], record[SORT_KEY])] = record
                pending = (answer.get("UnprocessedKeys") or {}).get(self.name, {}).get("Keys", [])
                if not pending:
                    break
            else:
                raise RemoteError(
                    f"DynamoDB left {len(pending)} key(s) of {self.name} unread after "
                    f"{BATCH_TRIES} tries (throttled)"
                )
        return found

    def write_many(
        self,
        puts: Iterable[tuple[str, str, Record]] = (),
        deletes: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Write whole records and remove others, unconditionally (a later write of the same
        key in one call wins)."""
        requests: dict[tuple[str, str], dict[str, Any]] = {}
        for pk, sk, record in puts:
            item = {**key_of(pk, sk), **{k: encode(v) for k, v in record.items()}}
            requests[(pk, sk)] = {"PutRequest": {"Item": item}}
        for pk, sk in deletes:
            requests[(pk, sk)] = {"DeleteRequest": {"Key": key_of(pk, sk)}}
        ordered = list(requests.values())
        for start in range(0, len(ordered), BATCH_WRITE_ITEMS):
            pending = ordered[start : start + BATCH_WRITE_ITEMS]
            for attempt in range(BATCH_TRIES):
                if attempt:
                    _pause(attempt)
                answer = self._call(
                    "write", self.client.batch_write_item, RequestItems={self.name: pending}
                )
                pending = (answer.get("UnprocessedItems") or {}).get(self.name, [])
                if not pending:
                    break
            else:
                raise RemoteError(
                    f"DynamoDB left {len(pending)} write(s) to {self.name} unprocessed after "
                    f"{BATCH_TRIES} tries (throttled)"
                )

    def delete(self, pk: str, sk: str) -> None:
        """Remove a record (nothing when there is none)."""
        self._call("delete", self.client.delete_item, TableName=self.name, Key=key_of(pk, sk))

    def query(self, pk: str, sk_prefix: str) -> Iterator[Record]:
        """Every record of partition `pk` whose sort key starts with `sk_prefix`, in sort-key
        order, strongly consistent, page by page."""
        start: dict[str, Any] | None = None
        while True:
            request: dict[str, Any] = {
                "TableName": self.name,
                "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :prefix)",
                "ExpressionAttributeNames": {"#pk": PARTITION_KEY, "#sk": SORT_KEY},
                "ExpressionAttributeValues": {":pk": {"S": pk}, ":prefix": {"S": sk_prefix}},
                "ConsistentRead": True,
            }
            if start is not None:
                request["ExclusiveStartKey"] = start
            answer = self._call("read", self.client.query, **request)
            for item in answer.get("Items", []):
                record = decode_record(item)
                if record is not None:
                    yield record
            start = answer.get("LastEvaluatedKey")
            if not start:
                return

    def transact(self, updates: Sequence[Update | tuple[str, str, Record]]) -> list[Written]:
        """Apply every write or none. Tuples are puts if absent. Returns one `Written` per
        write: all ok, or each with its cancellation (ok False: that write's condition failed,
        with the record as it was)."""
        items: list[dict[str, Any]] = []
        for write in updates:
            if isinstance(write, Update):
                body = write.request(self.name)
                if write.condition:
                    body["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
                items.append({"Update": body})
            else:
                pk, sk, record = write
                items.append(
                    {
                        "Put": {
                            "TableName": self.name,
                            "Item": {**key_of(pk, sk), **{k: encode(v) for k, v in record.items()}},
                            "ConditionExpression": "attribute_not_exists(#pk)",
                            "ExpressionAttributeNames": {"#pk": PARTITION_KEY},
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                        }
                    }
                )
        try:
            self._call("write", self.client.transact_write_items, TransactItems=items)
        except Exception as exc:
            if error_code(exc) != TRANSACTION_CANCELLED:
                raise
            reasons = getattr(exc, "response", {}).get("CancellationReasons") or []
            codes = [str(r.get("Code")) for r in reasons]
            if "ConditionalCheckFailed" not in codes:
                error = Conflict if "TransactionConflict" in codes else RemoteError
                raise error(
                    f"DynamoDB cancelled a transaction on {self.name} ({', '.join(codes)})"
                ) from None
            return [
                Written(
                    r.get("Code") != "ConditionalCheckFailed",
                    decode_record(r.get("Item")),
                )
                for r in reasons
            ]
        return [Written(True, None) for _ in updates]
