"""Make moto cost what a request touches: DynamoDB transactions and queries, and SQS long polls.

Transactions:

moto 5 backs up every table a transaction names with `copy.deepcopy(table)` before applying it, so each
TransactWriteItems costs time linear in the table's size; a 1,000-recipient campaign makes thousands of them.
This patch keeps moto's own transaction code and semantics but backs up only the items the transaction touches,
restoring them when it is cancelled, under one lock so concurrent transactions do not interleave. A cancelled
transaction also leaves no record on the table's stream (DynamoDB writes none: moto's table copy kept its stream as
it was; restoring items one by one would add an INSERT or MODIFY of what was applied and the undoing one), and the
stream is read under the same lock, so no reader sees the records of a transaction before it is cancelled. It changes
nothing about what the service sees; it is applied only where moto runs (tests and the local stack).
"""

from __future__ import annotations

import copy as _copy
import hashlib
import inspect
import threading
import types
from importlib import metadata
from typing import Any

# The moto release these patches were written against (requirements-dev.txt pins it), and the source (sha256 of
# inspect.getsource) of each moto function they wrap or replace: a moto whose code there differs must be read again
# before the patches are trusted with it (tests/contract/test_moto_speed.py fails until then).
MOTO_VERSION = "5.2.5"
PATCHED_SOURCES = {
    "moto.dynamodb.models.DynamoDBBackend.transact_write_items": (
        "81db2cb7d94e39c90b3a2077e1f4bb41a449c558ef9b1b1e2910fdaa39978ad4"
    ),
    "moto.dynamodb.models.table.Table.query": "002b4d00be6df07cf37f6cbe0132e5eb89455ae12a8e79b23db3fb492450f21e",
    "moto.dynamodb.models.table.StreamShard.get": "fa7e9a0d7b438c2fbd4bcc8a04fecc79f70862760d1f176d3bc86775967e2d7e",
    "moto.sqs.models.Queue.wait_for_messages": "58432562ccf2e13ed8841c825dd2614b6e57b71733d1ce9ba6926d38530ba1f1",
    "moto.sqs.models.Queue.delete_message": "fa6fd5b9bd2cafb4aaacd79da7fc656e513e1513197c2939ff002f9ebfd4be46",
}
# Table.query's positional parameters after range_objs, in order: the patch reads index_name as the fifth of them.
QUERY_PARAMETERS = ("self", "hash_key", "range_comparison", "range_objs", "limit", "exclusive_start_key",
                    "scan_index_forward", "projection_expressions", "index_name")  # fmt: skip

_applied = False
_lock = threading.RLock()
_local = threading.local()
# The moto functions as they were before apply() replaced them, by the names in PATCHED_SOURCES.
_originals: dict[str, Any] = {}


def _targets() -> dict[str, Any]:
    """moto's functions the patches replace, as moto defines them (also after apply())."""
    import moto.dynamodb.models as models
    from moto.dynamodb.models.table import StreamShard, Table
    from moto.sqs.models import Queue

    current = {
        "moto.dynamodb.models.table.StreamShard.get": StreamShard.get,
        "moto.dynamodb.models.DynamoDBBackend.transact_write_items": models.DynamoDBBackend.transact_write_items,
        "moto.dynamodb.models.table.Table.query": Table.query,
        "moto.sqs.models.Queue.wait_for_messages": Queue.wait_for_messages,
        "moto.sqs.models.Queue.delete_message": Queue.delete_message,
    }
    return {name: _originals.get(name, function) for name, function in current.items()}


def patch_problems() -> list[str]:
    """Why the patches may not fit the installed moto: its version, a changed source or signature (empty: they fit)."""
    problems = []
    installed = metadata.version("moto")
    if installed != MOTO_VERSION:
        problems.append(f"moto {installed} is installed; the patches were written for {MOTO_VERSION}")
    targets = _targets()
    for name, expected in PATCHED_SOURCES.items():
        digest = hashlib.sha256(inspect.getsource(targets[name]).encode()).hexdigest()
        if digest != expected:
            problems.append(f"{name} is not the code the patch was written for (source sha256 {digest})")
    parameters = tuple(inspect.signature(targets["moto.dynamodb.models.table.Table.query"]).parameters)
    if parameters[: len(QUERY_PARAMETERS)] != QUERY_PARAMETERS:
        problems.append(f"Table.query takes {parameters}, the patch expects {QUERY_PARAMETERS} first")
    import moto.dynamodb.models as models

    transact = inspect.getsource(targets["moto.dynamodb.models.DynamoDBBackend.transact_write_items"])
    if "copy.deepcopy(" not in transact or not hasattr(models, "copy"):
        problems.append("transact_write_items no longer backs tables up with the module's copy.deepcopy")
    return problems


def apply() -> None:
    """Patch moto's DynamoDB backend once per process."""
    global _applied
    if _applied:
        return
    import moto.dynamodb.models as models
    from moto.dynamodb.models.table import StreamShard, Table

    _originals.update(_targets())
    original = models.DynamoDBBackend.transact_write_items

    def deepcopy(value: Any, memo: Any = None) -> Any:
        if getattr(_local, "active", False) and isinstance(value, Table):
            return value  # items are backed up one by one below
        return _copy.deepcopy(value, memo)

    setattr(models, "copy", types.SimpleNamespace(deepcopy=deepcopy, copy=_copy.copy))  # noqa: B010

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with _lock:
            backups: list[tuple[str, dict[str, Any], Any]] = []
            streams: dict[int, tuple[Any, int]] = {}  # each stream a touched table has, and its records before
            for entry in transact_items:
                op_type, op = next(iter(entry.items()))
                table_name = op.get("TableName")
                table = self.tables.get(table_name)
                if table is None:
                    continue
                if table.stream_shard is not None:
                    streams.setdefault(id(table.stream_shard), (table.stream_shard, len(table.stream_shard.items)))
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
                for shard, length in streams.values():
                    del shard.items[length:]  # what was applied and undone: DynamoDB streams none of it
                raise
            finally:
                _local.active = False

    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]

    original_get = StreamShard.get

    def stream_get(self: Any, start: int, quantity: int) -> list[dict[str, Any]]:
        with _lock:  # never in the middle of a transaction that may yet be cancelled
            return original_get(self, start, quantity)

    StreamShard.get = stream_get  # type: ignore[method-assign]

    # Queries: moto 5 answers a base-table Query by sorting *every item of the table* and then walking the whole
    # partition, so with a 100,000-recipient campaign each Query costs about a second. The patch hands moto's own
    # query code a view of the table holding only the queried partition, narrowed first by a BETWEEN or
    # begins_with on a string sort key (what DynamoDB's B-tree would do); moto then sorts, pages and filters as
    # before. Index queries are left alone.
    original_query = Table.query

    def query(self: Any, hash_key: Any, range_comparison: Any, range_objs: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[4] if len(args) > 4 else kwargs.get("index_name")
        partition = self.items.get(hash_key) if hash_key is not None and not index_name else None
        if not isinstance(partition, dict):
            return original_query(self, hash_key, range_comparison, range_objs, *args, **kwargs)
        values = [getattr(o, "value", None) for o in range_objs or []]
        if range_comparison == "BETWEEN" and len(values) == 2 and all(isinstance(v, str) for v in values):
            lo, hi = str(values[0]), str(values[1])
            partition = {k: i for k, i in partition.items() if lo <= str(i.range_key.value) <= hi}
        elif range_comparison == "BEGINS_WITH" and len(values) == 1 and isinstance(values[0], str):
            prefix = str(values[0])
            partition = {k: i for k, i in partition.items() if str(i.range_key.value).startswith(prefix)}
        view = _copy.copy(self)
        view.items = {hash_key: partition}
        return original_query(view, hash_key, range_comparison, range_objs, *args, **kwargs)

    Table.query = query  # type: ignore[method-assign]
    _patch_sqs_long_poll()
    _applied = True


def _patch_sqs_long_poll() -> None:
    """Stop moto's SQS long poll spinning while a FIFO queue's visible messages all wait behind a busy group.

    moto 5 waits with `Condition.wait_for(lambda: queue.messages)`, i.e. until some message is *visible*; on a FIFO
    queue whose visible messages all belong to a group with a message in flight, they are visible but cannot be
    delivered, so the wait returns at once and the poll rescans every message for its whole WaitTimeSeconds. The
    event pump makes that happen all campaign long, and it cost a GetItem 8 ms -> 71 ms (measured by the benchmark).
    Here such a poll waits until a message is added or deleted (a delete frees its group) or its time is up;
    delivery semantics are unchanged. AWS has no such cost.
    """
    from moto.sqs.models import Queue

    original_delete = Queue.delete_message

    def wait_for_messages(self: Any, timeout: int) -> None:
        with self._messages_lock:
            if self.messages:  # visible, yet the caller got none: their group is busy; do not spin
                self._messages_lock.wait(timeout=timeout)
            else:
                self._messages_lock.wait_for(lambda: self.messages, timeout=timeout)

    def delete_message(self: Any, receipt_handle: str) -> None:
        original_delete(self, receipt_handle)
        with self._messages_lock:
            self._messages_lock.notify_all()

    Queue.wait_for_messages = wait_for_messages  # type: ignore[method-assign]
    Queue.delete_message = delete_message  # type: ignore[method-assign]
