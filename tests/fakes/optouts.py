"""A fake of the OptOuts port: the same layout, conditions and named errors as adapters/dynamo/optouts.py, over a
FakeTable (its own, or one shared with other fakes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chalicelib.adapters.dynamo.optouts import PREFIX, optout_from, optout_item, optout_sk
from chalicelib.adapters.dynamo.table import decode_cursor, encode_cursor, tenant_pk
from chalicelib.domain.errors import OptOutUnchangedError
from chalicelib.domain.optouts import OptOut, OptOutPage
from tests.fakes.items import FakeTable


class FakeOptOuts:
    """A tenant's opt-out list in a dict."""

    def __init__(self, table: FakeTable | None = None) -> None:
        self.table = table or FakeTable()
        self.batch_gets: list[int] = []  # the size of each batch read, as BatchGetItem requests would be

    def get(self, tenant_id: str, number: str) -> OptOut | None:
        """A number's entry."""
        item = self.table.get(tenant_pk(tenant_id), optout_sk(number))
        return optout_from(item) if item else None

    def opted_out(self, tenant_id: str, numbers: Sequence[str]) -> set[str]:
        """Which numbers are opted out now, read 100 at a time."""
        wanted = list(dict.fromkeys(numbers))
        found: set[str] = set()
        for start in range(0, len(wanted), 100):
            batch = wanted[start : start + 100]
            self.batch_gets.append(len(batch))
            for number in batch:
                item = self.table.get(tenant_pk(tenant_id), optout_sk(number))
                if item is not None and item.get("opted_out") is True:
                    found.add(number)
        return found

    def page(self, tenant_id: str, limit: int, cursor: str | None) -> OptOutPage:
        """A page of the numbers opted out now, by number."""
        after = decode_cursor(cursor, PREFIX)
        items = self.table.query(tenant_pk(tenant_id), PREFIX)
        opted = [i for i in items if i.get("opted_out") is True and (after is None or i["sk"] > after)]
        found = opted[:limit]
        more = len(opted) > limit
        return OptOutPage([optout_from(i) for i in found], encode_cursor(found[-1]) if more and found else None)

    def opt_out(self, entry: OptOut) -> None:
        """Put the number on the list; OptOutUnchangedError when it is on it already."""
        with self.table.lock:
            item = self.table.raw(tenant_pk(entry.tenant_id), optout_sk(entry.number))
            if item is not None and item.get("opted_out") is not False:
                raise OptOutUnchangedError("the number is on the opt-out list already")
            _not_older(item, entry)
            self.table.put(optout_item(entry, True))

    def opt_in(self, entry: OptOut) -> None:
        """Take the number off the list, keeping its entry; OptOutUnchangedError when it is not on it."""
        with self.table.lock:
            item = self.table.raw(tenant_pk(entry.tenant_id), optout_sk(entry.number))
            if item is None or item.get("opted_out") is not True:
                raise OptOutUnchangedError("the number is not on the opt-out list")
            _not_older(item, entry)
            self.table.put(optout_item(entry, False))


def _not_older(item: dict[str, Any] | None, entry: OptOut) -> None:
    """NOT_OLDER: a change caused before the entry's last change is no change."""
    last = (item or {}).get("changed_at")
    if entry.changed_at is not None and isinstance(last, int | float) and last > entry.changed_at:
        raise OptOutUnchangedError("a newer change stands")
