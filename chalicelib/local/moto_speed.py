"""Make moto's DynamoDB transactions cost what they touch, not the whole table.

moto 5 backs up every table a transaction names with `copy.deepcopy(table)` before applying it, so each
TransactWriteItems costs time linear in the table's size; a 1,000-recipient campaign makes thousands of them.
This patch keeps moto's own transaction code and semantics but backs up only the items the transaction touches,
restoring them when it is cancelled, under one lock so concurrent transactions do not interleave. It changes
nothing about what the service sees; it is applied only where moto runs (tests and the local stack).
"""

from __future__ import annotations

import copy as _copy
import threading
import types
from typing import Any

_applied = False
_lock = threading.RLock()
_local = threading.local()


def apply() -> None:
    """Patch moto's DynamoDB backend once per process."""
    global _applied
    if _applied:
        return
    import moto.dynamodb.models as models
    from moto.dynamodb.models.table import Table

    original = models.DynamoDBBackend.transact_write_items

    def deepcopy(value: Any, memo: Any = None) -> Any:
        if getattr(_local, "active", False) and isinstance(value, Table):
            return value  # items are backed up one by one below
        return _copy.deepcopy(value, memo)

    setattr(models, "copy", types.SimpleNamespace(deepcopy=deepcopy, copy=_copy.copy))  # noqa: B010

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with _lock:
            backups: list[tuple[str, dict[str, Any], Any]] = []
            for entry in transact_items:
                op_type, op = next(iter(entry.items()))
                table_name = op.get("TableName")
                table = self.tables.get(table_name)
                if table is None:
                    continue
                try:
                    if op_type == "Put":
                        key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                        if table.range_key_attr is not None:
                            key[table.range_key_attr] = op["Item"][table.range_key_attr]
                    else:
                        key = op["Key"]
                    current = self.get_item(table_name, key)
                except Exception:  # noqa: BLE001, S112 - moto's own code reports the malformed operation
                    continue
                backups.append((table_name, key, _copy.deepcopy(current)))
            _local.active = True
            try:
                original(self, transact_items)
            except Exception:
                for table_name, key, item in reversed(backups):
                    if item is None:
                        if self.get_item(table_name, key) is not None:
                            self.delete_item(table_name, key)
                    else:
                        self.put_item(table_name, item.to_json()["Attributes"])
                raise
            finally:
                _local.active = False

    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    _applied = True
