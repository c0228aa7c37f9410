"""Send budgets of sender numbers (chalicelib/domain/pacing.py), one item each:

    PACE#{provider}#{sender}   #PACE   tat, factor, slowed_at, v

Every change is a conditional put on the version `v` read, so senders of several campaigns (or channels, or
tenants) that share a number take distinct slots. A lost race is read and computed again; the item sees about two
writes a second per busy number (a block of slots per write), far below a partition's 1,000.
"""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.adapters.dynamo.table import ConditionFailed, Table
from chalicelib.domain.errors import ConcurrencyError
from chalicelib.domain.pacing import Budget, Taken

PACE_SK = "#PACE"
MAX_ATTEMPTS = 20


def pace_pk(key: str) -> str:
    """Partition of one number's budget."""
    return f"PACE#{key}"


class PaceRepo:
    """Budgets in the campaigns table."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def take(self, key: str, now: float, count: int, mps: float, lead: float) -> Taken:
        """Take `count` slots of the number's budget, if the first starts within `lead` seconds (see Taken)."""
        result: list[Taken] = []

        def change(budget: Budget) -> Budget | None:
            taken = budget.take(now, count, mps, lead)
            if taken is None:
                result.append(Taken(None, wait=budget.wait(now, lead)))
                return None
            result.append(Taken(taken[0], taken[1].interval(mps)))
            return taken[1]

        self._change(key, change)
        return result[-1]

    def slow(self, key: str, now: float) -> None:
        """A provider throttled this number: slow its budget down."""
        self._change(key, lambda budget: budget.slowed(now))

    def get(self, key: str) -> Budget:
        """The budget as stored (a fresh one when none is)."""
        return self._read(key)[0]

    def _read(self, key: str) -> tuple[Budget, int | None]:
        item = self.table.get(pace_pk(key), PACE_SK)
        if item is None:
            return Budget(), None
        budget = Budget(float(item["tat"]), float(item["factor"]), float(item["slowed_at"]))
        return budget, int(item["v"])

    def _change(self, key: str, change: Callable[[Budget], Budget | None]) -> None:
        for _ in range(MAX_ATTEMPTS):
            budget, version = self._read(key)
            new = change(budget)
            if new is None or new == budget:
                return
            item = {
                "pk": pace_pk(key),
                "sk": PACE_SK,
                "tat": new.tat,
                "factor": new.factor,
                "slowed_at": new.slowed_at,
                "v": (version or 0) + 1,
            }
            try:
                if version is None:
                    # Closes: two senders creating the number's budget at once.
                    self.table.put(item, "attribute_not_exists(pk)")
                else:
                    # Closes: another sender taking slots since we read the budget.
                    self.table.put(item, "v = :v", {":v": version})
                return
            except ConditionFailed:
                continue
        raise ConcurrencyError("the sender's budget is too contended; try again")
