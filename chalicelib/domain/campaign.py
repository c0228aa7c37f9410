"""A campaign as stored: its settings, where it is in its life, and the marks its dispatchers leave. No I/O.

The campaign repository converts items to and from it; `version` is the draft's optimistic-concurrency counter.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.model import SENDING_STATUSES, CampaignStatus


@dataclass(frozen=True)
class Campaign:
    """One campaign of a tenant."""

    campaign_id: str
    tenant_id: str
    status: str
    name: str
    channel_id: str
    sender: str
    content: Mapping[str, Any]
    send_time: Mapping[str, Any]
    send_mode: str
    segments: int
    encoding: str
    created_at: str
    audience: Mapping[str, Any] = field(default_factory=dict)
    # The audience's size when it was last checked (None on campaigns stored before it was kept: see `total`).
    audience_total: int | None = None
    chunk_size: int | None = None
    version: int = 0
    routing_target: Mapping[str, Any] | None = None
    scheduled_at: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    pending_since: str | None = None
    # The status a pending campaign starts in when the lock reaches it (retrying for a retry).
    start_as: str | None = None
    stop_reason: Mapping[str, Any] | None = None
    duplicated_from: str | None = None
    # Set once its recipients and counters are written (with `total` and `audience_report`).
    audience_written: bool = False
    total: int | None = None
    audience_report: Mapping[str, Any] | None = None
    # Dispatch marks: which generation is queued, when, and the heartbeat of one in progress.
    dispatch_gen: int = 0
    dispatched_gen: int | None = None
    dispatched_at: str | None = None
    dispatching_at: str | None = None
    progress_at: str | None = None
    retry_gen: int = 0
    retry_dispatched: int = 0
    # Set by `cancel`: from then on nothing more is handed to the provider; its queued recipients become skipped.
    cancel_requested_at: str | None = None
    # When it was last paused (`start_as` then says whether resume makes it executing or retrying).
    paused_at: str | None = None

    @property
    def sending(self) -> bool:
        """Whether it is executing or retrying (it holds the tenant's send lock)."""
        return self.status in SENDING_STATUSES

    @property
    def may_send(self) -> bool:
        """Whether a sender may hand one more of its recipients to the provider (sending, and not cancelled)."""
        return self.sending and not self.cancel_requested_at

    @property
    def is_draft(self) -> bool:
        """Whether it is a draft (the only status that can be edited or sent)."""
        return self.status == CampaignStatus.DRAFT

    @property
    def send_group(self) -> str:
        """The FIFO message group of its chunks (the first of them, when a fast number's are spread over several:
        `send_group_of`); requeued and settled chunks go here."""
        return f"{self.channel_id}:{self.sender}"

    def send_group_of(self, start: int, size: int, groups: int) -> str:
        """The message group of the chunk starting at recipient `start` when its chunks (of `size`) are spread over
        `groups` (chalicelib/domain/pacing.py `send_groups`): the same chunk always gets the same group, so FIFO
        de-duplication (per group) drops a chunk published twice."""
        part = (start // max(1, size)) % max(1, groups)
        return self.send_group if part == 0 else f"{self.send_group}#{part}"

    @property
    def retry_queued(self) -> bool:
        """Whether its latest retry's recipients are queued (always, when it was never retried)."""
        return self.retry_dispatched >= self.retry_gen

    @property
    def size(self) -> int:
        """How many it goes to: its written audience, or before that the size its audience had when checked."""
        if self.audience_total is not None:
            return int(self.audience_total)
        return int(self.total or 0)


def campaign_fields() -> frozenset[str]:
    """The attributes a stored campaign item may carry for a Campaign."""
    return frozenset(f.name for f in dataclasses.fields(Campaign))


def campaign_from(values: Mapping[str, Any]) -> Campaign:
    """A Campaign from a stored item's attributes (others, such as its keys and index, are left out)."""
    known = campaign_fields()
    kept = {k: v for k, v in values.items() if k in known and v is not None}
    return Campaign(**kept)


# Marks stored only once something sets them: `attribute_not_exists(audience_written)` guards counting an audience.
_ONLY_WHEN_SET = {"audience_written": False, "retry_gen": 0, "retry_dispatched": 0}


def campaign_values(campaign: Campaign) -> dict[str, Any]:
    """A Campaign's attributes for a new stored item (None, and marks not set yet, left out)."""
    return {
        k: v
        for k, v in dataclasses.asdict(campaign).items()
        if v is not None and not (k in _ONLY_WHEN_SET and v == _ONLY_WHEN_SET[k])
    }


@dataclass(frozen=True)
class CampaignPage:
    """One page of a tenant's campaigns."""

    items: list[Campaign]
    next_cursor: str | None
