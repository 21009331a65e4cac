"""moto's DynamoDB transactions at the cost of the items they touch: test support.

moto 5.2 makes a transaction undoable by deep-copying each table it touches, once per item of
the transaction (`DynamoDBBackend.transact_write_items`), so a transaction's cost grows with the
table: measured in-process, a two-item transaction takes 0.04 s on a table of 1,000 records,
0.9 s on 10,000 and 5.6 s on 50,000 (a group member joins with one; a backfill of 50,000
objects fills the table that far). A rollback only needs the items the transaction touches.
`fast_transactions()` keeps a copy of each of those (or notes that it was absent) before the
transaction and puts them back if moto cancels or refuses it; the checks, the writes and the
cancellation reasons are moto's own. The tables themselves are not copied any more.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def fast_transactions() -> Iterator[None]:
    """Within the block, moto's transactions back up the items they touch, not whole tables."""
    from moto.dynamodb import models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    original = models.DynamoDBBackend.transact_write_items

    class TablesNotCopied:
        """`copy` as moto's module sees it: a table is "copied" as itself (its touched items
        are saved instead); anything else is deep-copied as before."""

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    def saved(backend: Any, items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any, Any]]:
        found = []
        for entry in items:
            _, op = next(iter(entry.items()))
            table = backend.tables.get(op.get("TableName"))
            if table is None:
                continue  # moto refuses the transaction itself
            key = op.get("Key") or op.get("Item") or {}
            try:
                hash_key = DynamoType(key[table.hash_key_attr])
                range_key = DynamoType(key[table.range_key_attr]) if table.has_range_key else None
                item = table.get_item(hash_key, range_key)
            except Exception:  # a malformed key: moto refuses it itself
                continue
            found.append((table, hash_key, range_key, copy.deepcopy(item)))
        return found

    def put_back(found: list[tuple[Any, Any, Any, Any]]) -> None:
        for table, hash_key, range_key, item in reversed(found):
            if table.has_range_key:
                if item is None:
                    table.items[hash_key].pop(range_key, None)
                else:
                    table.items[hash_key][range_key] = item
            elif item is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = item

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        found = saved(self, transact_items)
        try:
            original(self, transact_items)
        except Exception:
            put_back(found)
            raise

    models.copy = TablesNotCopied  # type: ignore[assignment,attr-defined]
    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    try:
        yield
    finally:
        models.DynamoDBBackend.transact_write_items = original  # type: ignore[method-assign]
        models.copy = copy  # type: ignore[attr-defined]
