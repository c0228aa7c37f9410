"""What both provider simulators' callback workers share: a heap of jobs by the time each is due, handed out to
worker threads once due, with a count of those in flight (the Twilio and the Meta models each subclass it)."""

from __future__ import annotations

import heapq
import threading
import time
from typing import Any, Generic, Protocol, TypeVar


class _Due(Protocol):
    due: float

    def __lt__(self, other: Any) -> bool: ...


J = TypeVar("J", bound=_Due)


class DueJobs(Generic[J]):
    """Jobs ordered by due time (monotonic seconds) under one lock and condition, which the subclass shares."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._jobs: list[J] = []
        self._inflight = 0
        self._stopping = False

    def _push(self, job: J) -> None:
        """Queue a job (the caller holds the lock) and wake a worker."""
        heapq.heappush(self._jobs, job)
        self._cond.notify()

    def take_job(self) -> J | None:
        """Wait for the next job that is due and mark it in flight; None once stopping."""
        with self._cond:
            while True:
                if self._stopping:
                    return None
                if self._jobs:
                    wait = self._jobs[0].due - time.monotonic()
                    if wait <= 0:
                        break
                    self._cond.wait(timeout=wait)
                else:
                    self._cond.wait()
            job = heapq.heappop(self._jobs)
            self._inflight += 1
            return job

    def job_done(self, count: int = 1) -> None:
        """Jobs handed out are no longer in flight (whatever became of them)."""
        with self._cond:
            self._inflight -= count
            self._cond.notify_all()

    def _pending(self) -> int:
        """Jobs queued or in flight (the caller holds the lock)."""
        return len(self._jobs) + self._inflight

    def _wait_idle(self, timeout: float) -> bool:
        """Block until no job is queued or in flight; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._jobs and self._inflight == 0, timeout=timeout)

    def set_stopping(self, value: bool) -> None:
        """Start (False) or stop (True) handing out jobs; stopping drops the pending ones and wakes the workers."""
        with self._lock:
            self._stopping = value
            if value:
                self._jobs.clear()
            self._cond.notify_all()
