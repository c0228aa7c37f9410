"""The send budgets in memory: the same rules (chalicelib/domain/pacing.py) as PaceRepo, held to it by
tests/contract/test_pace_repo.py."""

from __future__ import annotations

import threading

from chalicelib.domain.pacing import Budget, Taken


class FakePace:
    """Budgets by key, under one lock."""

    def __init__(self) -> None:
        self.budgets: dict[str, Budget] = {}
        self.slowed: list[str] = []
        self._lock = threading.Lock()

    def take(self, key: str, now: float, count: int, mps: float, lead: float) -> Taken:
        with self._lock:
            budget = self.budgets.get(key, Budget())
            taken = budget.take(now, count, mps, lead)
            if taken is None:
                return Taken(None, wait=budget.wait(now, lead))
            self.budgets[key] = taken[1]
            return Taken(taken[0], taken[1].interval(mps))

    def slow(self, key: str, now: float) -> None:
        with self._lock:
            self.slowed.append(key)
            self.budgets[key] = self.budgets.get(key, Budget()).slowed(now)

    def get(self, key: str) -> Budget:
        with self._lock:
            return self.budgets.get(key, Budget())
