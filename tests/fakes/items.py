"""An in-memory table of items keyed like the DynamoDB one (`pk`, `sk`), for the repository fakes to share.

Every operation of a fake runs under one lock, as each DynamoDB request (and transaction) is atomic; what a fake
hands out is a copy, so a caller holding an item never sees later writes, as with a real read.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Collection, Iterator
from typing import Any

from chalicelib.adapters.dynamo.table import Page, decode_cursor, encode_cursor, status_set


class FakeTable:
    """Items by (pk, sk); the repository fakes read and write them under `lock`."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.lock = threading.RLock()

    def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        """A copy of one item."""
        with self.lock:
            item = self.items.get((pk, sk))
            return copy.deepcopy(item) if item is not None else None

    def raw(self, pk: str, sk: str) -> dict[str, Any] | None:
        """The stored item itself, to change in place (callers hold `lock`)."""
        return self.items.get((pk, sk))

    def put(self, item: dict[str, Any]) -> None:
        """Store a copy of `item`, without its None values (DynamoDB keeps no nulls here)."""
        with self.lock:
            self.items[(item["pk"], item["sk"])] = {k: copy.deepcopy(v) for k, v in item.items() if v is not None}

    def delete(self, pk: str, sk: str) -> dict[str, Any] | None:
        """Remove one item; the item removed."""
        with self.lock:
            return self.items.pop((pk, sk), None)

    def query(
        self, pk: str, prefix: str = "", *, forward: bool = True, between: tuple[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """Copies of a partition's items whose sort key starts with `prefix` (or lies `between`), in key order."""
        with self.lock:
            keys = sorted(sk for p, sk in self.items if p == pk and sk.startswith(prefix))
            if between is not None:
                keys = [k for k in keys if between[0] <= k <= between[1]]
            if not forward:
                keys.reverse()
            return [copy.deepcopy(self.items[(pk, k)]) for k in keys]

    def page(
        self,
        pk: str,
        prefix: str,
        *,
        limit: int,
        cursor: str | None,
        forward: bool,
        status: str | Collection[str] | None = None,
    ) -> Page:
        """Up to `limit` items after the cursor (optionally of one status, or any of several); a cursor only when
        more follow."""
        after = decode_cursor(cursor, prefix)
        items = self.query(pk, prefix, forward=forward)
        if after is not None:
            items = [i for i in items if (i["sk"] > after if forward else i["sk"] < after)]
        wanted = status_set(status)
        matching = [i for i in items if wanted is None or i.get("status") in wanted]
        found = matching[:limit]
        more = len(matching) > limit
        return Page(found, encode_cursor(found[-1]) if more and found else None)

    def scan(self) -> Iterator[dict[str, Any]]:
        """Copies of every item."""
        with self.lock:
            return iter([copy.deepcopy(i) for i in self.items.values()])
