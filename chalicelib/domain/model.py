"""Campaigns, recipients, their status machines and result counters: pure data, no I/O."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class CampaignStatus(StrEnum):
    """A campaign's life.

    draft ──send──> scheduled ──time──┐
      │                               v
      └────now────> (lock free?) ── executing ──all outcomes──> completed
                       │  no             ^                        │
                       v                 │ lock handed over       └─retry──> retrying ─> completed
                    pending ─────────────┘ (FIFO)
    executing/retrying ──provider rejects credentials──> stopped
    executing/retrying ──pause──> paused ──resume──> executing (or pending behind another)
    paused/pending/scheduled/executing/retrying ──cancel──> (queued recipients skipped) ──> completed
    """

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    PENDING = "pending"
    PAUSED = "paused"
    EXECUTING = "executing"
    COMPLETED = "completed"
    STOPPED = "stopped"
    RETRYING = "retrying"


SENDING_STATUSES = frozenset({CampaignStatus.EXECUTING, CampaignStatus.RETRYING})


class RecipientStatus(StrEnum):
    """One recipient's message, as far as we and the provider know."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    SKIPPED = "skipped"


R = RecipientStatus

# Forward-only moves a provider report may make. A late `sent` never undoes `read`; `failed` at send time is final.
_PROVIDER_MOVES: dict[RecipientStatus, frozenset[RecipientStatus]] = {
    R.QUEUED: frozenset(),
    R.SENDING: frozenset({R.SENT, R.DELIVERED, R.READ, R.UNDELIVERED, R.FAILED}),
    R.SENT: frozenset({R.DELIVERED, R.READ, R.UNDELIVERED, R.FAILED}),
    R.DELIVERED: frozenset({R.READ}),
    R.UNDELIVERED: frozenset({R.READ}),
    R.READ: frozenset(),
    R.FAILED: frozenset(),
    R.SKIPPED: frozenset(),
}

# The error a sender records when it finds a claim abandoned by a lost worker: the provider may or may not have
# the message, so it is never sent again automatically, but the provider's own report may still settle it.
SEND_INTERRUPTED = "send_interrupted"


def provider_may_move(current: RecipientStatus, target: RecipientStatus, error_code: str | None = None) -> bool:
    """Whether a provider report of `target` may move a recipient now at `current`."""
    if current == R.FAILED and error_code == SEND_INTERRUPTED:
        return target in {R.SENT, R.DELIVERED, R.READ, R.UNDELIVERED}
    return target in _PROVIDER_MOVES[current]


# Counter buckets, one attribute per bucket on each counter shard. queued and sending share one bucket so that a
# claim (queued -> sending) touches no counter.
BUCKET_OF: dict[RecipientStatus, str] = {
    R.QUEUED: "n_pending",
    R.SENDING: "n_pending",
    R.SENT: "n_sent",
    R.DELIVERED: "n_delivered",
    R.READ: "n_read",
    R.UNDELIVERED: "n_undelivered",
    R.FAILED: "n_failed",
    R.SKIPPED: "n_skipped",
}
BUCKETS = ("n_pending", "n_sent", "n_delivered", "n_read", "n_undelivered", "n_failed", "n_skipped")
COUNTER_SHARDS = 16


def counter_shard(index: int, chunk_size: int) -> int:
    """The counter shard of the recipient at `index`: one chunk shares one shard, chunks spread over shards."""
    return (index // max(chunk_size, 1)) % COUNTER_SHARDS


@dataclass(frozen=True)
class Result:
    """A campaign's outcome figures, as the contract's `result` shows them."""

    total: int = 0
    sent: int = 0
    delivered: int = 0
    read: int = 0
    failed: int = 0
    pending: int = 0
    skipped: int = 0

    @classmethod
    def from_buckets(cls, shards: Iterable[Mapping[str, Any]]) -> Result:
        """Sum counter shards into the figures the API shows."""
        sums = dict.fromkeys(BUCKETS, 0)
        for shard in shards:
            for bucket in BUCKETS:
                sums[bucket] += int(shard.get(bucket, 0))
        return cls(
            total=sum(sums.values()),
            sent=sums["n_sent"] + sums["n_delivered"] + sums["n_read"],
            delivered=sums["n_delivered"] + sums["n_read"],
            read=sums["n_read"],
            failed=sums["n_failed"] + sums["n_undelivered"],
            pending=sums["n_pending"],
            skipped=sums["n_skipped"],
        )

    def as_dict(self) -> dict[str, int]:
        """The contract's `result` object (with `read` and `skipped` as documented extensions)."""
        return {
            "total": self.total,
            "sent": self.sent,
            "delivered": self.delivered,
            "read": self.read,
            "failed": self.failed,
            "pending": self.pending,
            "skipped": self.skipped,
        }


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _b32(value: int, length: int) -> str:
    out = []
    for _ in range(length):
        out.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(out))


@dataclass
class IdFactory:
    """Time-ordered opaque ids (ULID layout): sorting by id sorts by creation time."""

    clock: Callable[[], float] = time.time
    rand: Callable[[int], int] = secrets.randbits

    def new(self, prefix: str) -> str:
        """A new id such as `cmp_01JD...`."""
        millis = int(self.clock() * 1000)
        return f"{prefix}_{_b32(millis, 10)}{_b32(self.rand(80), 16)}"


def utc_iso(ts: datetime | None) -> str | None:
    """RFC 3339 in UTC with a Z, to the second."""
    if ts is None:
        return None
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc(stamp: str) -> datetime:
    """A time written by `utc_iso` (RFC 3339 with a Z) back as an aware datetime."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def utc_from_epoch(seconds: float) -> datetime:
    """A UTC datetime from epoch seconds."""
    return datetime.fromtimestamp(seconds, tz=UTC)


@dataclass
class Clock:
    """The time source every service takes, so tests can move time instead of waiting for it."""

    now_fn: Callable[[], float] = time.time
    sleep_fn: Callable[[float], None] = time.sleep
    offset: float = field(default=0.0)

    def now(self) -> float:
        """Epoch seconds."""
        return self.now_fn() + self.offset

    def utcnow(self) -> datetime:
        """The current time as an aware UTC datetime."""
        return utc_from_epoch(self.now())

    def sleep(self, seconds: float) -> None:
        """Wait (a fake clock just advances)."""
        if seconds > 0:
            self.sleep_fn(seconds)
