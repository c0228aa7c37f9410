"""A reply attributed to a campaign's recipient: pure data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reply:
    """An inbound message attributed to the campaign message it answers (one recipient of one campaign)."""

    campaign_id: str
    index: int
    # The recipient's session, when its campaign opened (or reused) one.
    session_id: str | None = None
