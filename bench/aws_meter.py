"""Count the AWS requests a process makes, in the units AWS bills, by wrapping botocore.

    with AwsMeter() as meter:
        ...                              # every boto3 client of every thread is counted
        with meter.unmetered():
            ...                          # this thread's calls are not (the benchmark's own)
    meter.calls, meter.dynamodb_write_units, meter.sqs_requests, ...

The wrap sits on `botocore.client.BaseClient._make_request`, where a request is already
serialised and its answer parsed but not yet transformed (so boto3's resource layer is
counted in the same low-level shapes), whatever session or client made it. One call is
counted once, whatever botocore retried inside it.

DynamoDB units (on-demand), from the request and its answer:

- PutItem: one write unit per started KB of the item; UpdateItem and DeleteItem: one (their
  items are far below 1 KB here: `item_bytes` of the largest item in the table checks it);
  BatchWriteItem: the same per request item.
- TransactWriteItems: two write units per started KB of each action (Put, Update, Delete and
  ConditionCheck alike: the conservative reading of DynamoDB's transaction pricing).
- Every write that changes the index (sets or removes `INDEX_ATTRIBUTE`, or updates a group
  record, which is in the index until it is registered; the projection is ALL) also writes
  the index: one more write unit.
- A conditional write whose condition fails is billed like one that succeeds.
- GetItem: one read unit per started 4 KB (half with eventual consistency); Query and Scan:
  the same over the total size of the items returned, at least one unit;
  TransactGetItems: two per item; BatchGetItem: one per item (half if eventual).

SQS requests: one per call, or one per started 64 KiB of the message bodies it carries.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any, Final

from botocore.client import BaseClient

from bench.continuous_cost import sqs_chunks
from registration.continuous import table

INDEX_ATTRIBUTE: Final = table.LISTING
"""The partition attribute of the table's sparse index (projection ALL)."""
INDEXED_SORT_KEYS: Final = frozenset({table.GROUP_SK})
"""Records that sit in the index while they live (a group until it is registered), so any
update of theirs writes the index too."""
WRITE_UNIT_BYTES: Final = 1024
READ_UNIT_BYTES: Final = 4096
_ITEM_OVERHEAD_BYTES: Final = 100
"""DynamoDB adds 100 bytes per item for indexing (counted in storage, not in units)."""


def attribute_bytes(value: Mapping[str, Any]) -> int:
    """Size of one attribute value by DynamoDB's rules (low-level ``{"S": ...}`` form)."""
    (kind, raw), *_ = value.items()
    if kind == "S":
        return len(str(raw).encode())
    if kind == "N":
        # Leading and trailing zeros are not significant: "1500" is two digits.
        digits = str(raw).lstrip("-").replace(".", "").strip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":  # base64 text in a request's JSON, bytes in a parsed answer
        return len(base64.b64decode(raw)) if isinstance(raw, str) else len(raw)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(attribute_bytes({kind[0]: v}) for v in raw)
    if kind == "L":
        return 3 + sum(1 + attribute_bytes(v) for v in raw)
    if kind == "M":
        return 3 + sum(len(k.encode()) + 1 + attribute_bytes(v) for k, v in raw.items())
    return len(json.dumps(raw))


def item_bytes(item: Mapping[str, Mapping[str, Any]]) -> int:
    """Size of an item as DynamoDB bills it: names plus values."""
    return sum(len(name.encode()) + attribute_bytes(value) for name, value in item.items())


def stored_bytes(item: Mapping[str, Mapping[str, Any]]) -> int:
    """Bytes an item takes in storage (its size plus DynamoDB's per-item overhead)."""
    return item_bytes(item) + _ITEM_OVERHEAD_BYTES


def _names_index(action: Mapping[str, Any]) -> bool:
    """Whether a write changes the index: it sets or removes the index attribute, or updates
    a record that is in the index."""
    if INDEX_ATTRIBUTE in action.get("Item", {}):
        return True
    sort_key = action.get("Key", {}).get(table.SORT_KEY, {}).get("S")
    if sort_key in INDEXED_SORT_KEYS:
        return True
    names = action.get("ExpressionAttributeNames", {})
    expression = action.get("UpdateExpression", "")
    return INDEX_ATTRIBUTE in names.values() or INDEX_ATTRIBUTE in expression.split()


def _write_units(action: Mapping[str, Any], *, per_unit: int = 1) -> float:
    """Write units of one write: `per_unit` per started KB (2 in a transaction), plus one for
    the index when the write names its attribute."""
    item = action.get("Item")
    units = max(1, math.ceil(item_bytes(item) / WRITE_UNIT_BYTES)) if item else 1
    return per_unit * units + (1 if _names_index(action) else 0)


def _read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return units if consistent else units / 2


class AwsMeter:
    """Counts calls per service and operation, DynamoDB units and SQS requests, thread-safely."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()
        self.dynamodb_write_units = 0.0
        self.dynamodb_read_units = 0.0
        self.sqs_requests = 0
        self._lock = threading.Lock()
        self._local = threading.local()
        self._original: Any = None

    def __enter__(self) -> AwsMeter:
        original = getattr(BaseClient, "_make_request")  # noqa: B009 (private: no stub)
        meter = self

        def _make_request(
            client: BaseClient, operation_model: Any, request_dict: Any, request_context: Any
        ) -> Any:
            answer = original(client, operation_model, request_dict, request_context)
            if not getattr(meter._local, "paused", False):
                meter._count(operation_model, request_dict, answer[1])
            return answer

        self._original = original
        setattr(BaseClient, "_make_request", _make_request)  # noqa: B010
        return self

    def __exit__(self, *exc: object) -> None:
        setattr(BaseClient, "_make_request", self._original)  # noqa: B010

    @contextlib.contextmanager
    def unmetered(self) -> Iterator[None]:
        """This thread's calls are not counted inside the block."""
        self._local.paused = True
        try:
            yield
        finally:
            self._local.paused = False

    def _count(self, operation_model: Any, request_dict: Any, parsed: Any) -> None:
        service = operation_model.service_model.endpoint_prefix
        operation = operation_model.name
        body = request_dict.get("body") or b""
        params: dict[str, Any] = {}
        if service in ("dynamodb", "sqs") and body:
            params = json.loads(body)
        reads = writes = 0.0
        sqs = 0
        if service == "dynamodb":
            reads, writes = _dynamodb_units(operation, params, parsed)
        elif service == "sqs":
            sqs = _sqs_requests(operation, params, parsed)
        with self._lock:
            self.calls[service, operation] += 1
            self.dynamodb_read_units += reads
            self.dynamodb_write_units += writes
            self.sqs_requests += sqs

    def count(self, service: str, *operations: str) -> int:
        """Calls made to `service` (all of its operations, or only those named)."""
        return sum(
            n
            for (s, op), n in self.calls.items()
            if s == service and (not operations or op in operations)
        )


def _dynamodb_units(operation: str, params: Mapping[str, Any], parsed: Any) -> tuple[float, float]:
    """(read units, write units) of one DynamoDB call."""
    consistent = bool(params.get("ConsistentRead"))
    if operation in ("PutItem", "UpdateItem", "DeleteItem"):
        return 0.0, _write_units(params)
    if operation == "BatchWriteItem":
        return 0.0, sum(
            _write_units(request.get("PutRequest") or request.get("DeleteRequest") or {})
            for requests in params.get("RequestItems", {}).values()
            for request in requests
        )
    if operation == "TransactWriteItems":
        return 0.0, sum(
            _write_units(next(iter(action.values())), per_unit=2)
            for action in params["TransactItems"]
        )
    if operation == "GetItem":
        return _read_units(item_bytes(parsed.get("Item") or {}), consistent), 0.0
    if operation in ("Query", "Scan"):
        size = sum(item_bytes(item) for item in parsed.get("Items", []))
        return _read_units(size, consistent), 0.0
    if operation == "TransactGetItems":
        return 2.0 * len(params.get("TransactItems", [])), 0.0
    if operation == "BatchGetItem":
        return sum(
            _read_units(item_bytes(item), bool(keys.get("ConsistentRead")))
            for table, keys in params.get("RequestItems", {}).items()
            for item in parsed.get("Responses", {}).get(table, [])
        ), 0.0
    return 0.0, 0.0


def _sqs_requests(operation: str, params: Mapping[str, Any], parsed: Any) -> int:
    """Billed requests of one SQS call."""
    if operation == "SendMessage":
        return sqs_chunks(len(params.get("MessageBody", "").encode()))
    if operation == "SendMessageBatch":
        return sqs_chunks(sum(len(e.get("MessageBody", "").encode()) for e in params["Entries"]))
    if operation == "ReceiveMessage":
        return sqs_chunks(sum(len(m.get("Body", "").encode()) for m in parsed.get("Messages", [])))
    return 1
