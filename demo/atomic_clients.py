"""boto3 clients with the atomicity AWS gives and moto's threaded server does not.

For the demo and the benchmark, whose handlers all run in this process against moto's server:

- **DynamoDB** checks a write's condition and applies it atomically per item, and a transaction
  atomically over all its items; the handler's exactly-once rests on that. moto checks a
  condition, then writes, in Python, with no lock, and its `TransactWriteItems` deep-copies
  every table for its rollback, which fails (HTTP 500) when another request changes a table
  meanwhile. `GuardedDynamoDB` restores DynamoDB's guarantees, as narrowly as it can so that
  unrelated calls still run side by side: a transaction, and a query of an index (moto scans
  the whole table for it), runs alone; any other write holds its item's lock; reads run freely.
- **SQS** hands a message to one receiver until its visibility timeout (bar rare duplicates).
  moto's ReceiveMessage, run by two threads at once, can hand one message to both and lose the
  first receipt handle, so the message can then be neither deleted nor seen again.
  `SerialReceiveSqs` makes receives one at a time.

The handler's functional tests send every DynamoDB call one at a time in-process instead
(`tests/functional/continuous/handler_env.py`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final

from registration.continuous import table as t

ALONE: Final = frozenset({"transact_write_items", "transact_get_items", "scan"})
"""Calls that run with nothing else (a query with an IndexName too)."""
LONG_POLL_STEP_SECONDS: Final = 0.5
"""How often a long poll of `SerialReceiveSqs` looks at an empty queue again."""
ITEM_WRITES: Final = frozenset({"put_item", "update_item", "delete_item", "batch_write_item"})


class SharedExclusiveLock:
    """Many holders of the shared side at once, or one of the exclusive side (waiting
    exclusive holders go first, so they are never starved)."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._shared = 0
        self._exclusive = False
        self._waiting_exclusive = 0

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._condition:
            while self._exclusive or self._waiting_exclusive:
                self._condition.wait()
            self._shared += 1
        try:
            yield
        finally:
            with self._condition:
                self._shared -= 1
                self._condition.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._condition:
            self._waiting_exclusive += 1
            while self._exclusive or self._shared:
                self._condition.wait()
            self._waiting_exclusive -= 1
            self._exclusive = True
        try:
            yield
        finally:
            with self._condition:
                self._exclusive = False
                self._condition.notify_all()


class DynamoGuard:
    """The locks every handler of the process shares."""

    def __init__(self) -> None:
        self.tables = SharedExclusiveLock()
        self._guard = threading.Lock()
        self._items: dict[tuple[str, str, str], threading.Lock] = {}

    def item_locks(self, keys: list[tuple[str, str, str]]) -> list[threading.Lock]:
        """The locks of `keys`, in one global order (so two callers never deadlock)."""
        with self._guard:
            return [self._items.setdefault(k, threading.Lock()) for k in sorted(set(keys))]


def _key(table: str, fields: Mapping[str, Any]) -> tuple[str, str, str]:
    pk = fields.get(t.PARTITION_KEY, {}).get("S", "")
    sk = fields.get(t.SORT_KEY, {}).get("S", "")
    return (table, str(pk), str(sk))


def written_items(operation: str, params: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """The items a (non-transactional) write call touches."""
    if operation == "batch_write_item":
        return [
            _key(table, (r.get("PutRequest") or {}).get("Item") or r["DeleteRequest"]["Key"])
            for table, requests in params.get("RequestItems", {}).items()
            for r in requests
        ]
    return [_key(params["TableName"], params.get("Key") or params.get("Item") or {})]


class GuardedDynamoDB:
    """Wraps a boto3 DynamoDB client with a `DynamoGuard` shared by every handler."""

    def __init__(self, client: Any, guard: DynamoGuard) -> None:
        self._client = client
        self._guard = guard

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name not in self._client.meta.method_to_api_mapping:  # paginators, waiters, meta
            return attribute

        def call(**params: Any) -> Any:
            if name in ALONE or (name == "query" and params.get("IndexName")):
                with self._guard.tables.exclusive():
                    return attribute(**params)
            with self._guard.tables.shared():
                if name not in ITEM_WRITES:
                    return attribute(**params)
                held = self._guard.item_locks(written_items(name, params))
                for lock in held:
                    lock.acquire()
                try:
                    return attribute(**params)
                finally:
                    for lock in reversed(held):
                        lock.release()

        return call


class SerialReceiveSqs:
    """Wraps a boto3 SQS client: ReceiveMessage calls sharing `lock` run one at a time.

    A long poll (``WaitTimeSeconds``) is made of short receives `LONG_POLL_STEP_SECONDS` apart,
    so that a receiver waiting on an empty queue never holds the lock.
    """

    def __init__(self, client: Any, lock: threading.Lock) -> None:
        self._client = client
        self._lock = lock

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def receive_message(self, **params: Any) -> Any:
        deadline = time.monotonic() + float(params.pop("WaitTimeSeconds", 0) or 0)
        while True:
            with self._lock:
                answer = self._client.receive_message(WaitTimeSeconds=0, **params)
            if answer.get("Messages") or time.monotonic() >= deadline:
                return answer
            time.sleep(LONG_POLL_STEP_SECONDS)
