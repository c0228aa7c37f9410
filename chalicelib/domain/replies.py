"""A reply attributed to a campaign's recipient: pure data, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# A counter shard's count of recipients who replied: beside the status buckets, never one of them (a recipient who
# replied is still in its status's bucket, so `result.total` does not count it twice).
RESPONDED = "n_responded"
# The buckets of messages the provider accepted: the response rate's denominator.
ACCEPTED_BUCKETS = ("n_sent", "n_delivered", "n_read", "n_undelivered")


@dataclass(frozen=True)
class Reply:
    """An inbound message attributed to the campaign message it answers (one recipient of one campaign)."""

    campaign_id: str
    index: int
    # The recipient's session, when its campaign opened (or reused) one.
    session_id: str | None = None


@dataclass(frozen=True)
class ThreadMessage:
    """A campaign message a contact got from one of a channel's senders (gsi2: thread, sent_at)."""

    campaign_id: str
    index: int
    shard: int
    sent_at: str
    provider_message_id: str | None = None
    responded_at: str | None = None
    session_id: str | None = None


def thread_key(tenant_id: str, channel_id: str, sender: str, contact: str) -> str:
    """The thread of a (channel, sender, contact): gsi2's partition, set on each recipient when it is written."""
    return f"{tenant_id}#{channel_id}#{sender}#{contact}"


def response_figures(shards: Iterable[Mapping[str, Any]]) -> tuple[int, float]:
    """(responded, response_rate) from a campaign's counter shards: the rate is responded over the messages the
    provider accepted (sent, delivered, read, undelivered), 0 when none was."""
    responded = accepted = 0
    for shard in shards:
        responded += int(shard.get(RESPONDED, 0))
        accepted += sum(int(shard.get(bucket, 0)) for bucket in ACCEPTED_BUCKETS)
    return responded, (min(responded / accepted, 1.0) if accepted else 0.0)
