"""Replies and the response rate: an inbound message attributed to the campaign message it answers."""

from __future__ import annotations

from chalicelib.domain.channels import Channel
from chalicelib.domain.events import InboundMessage
from chalicelib.domain.replies import Reply
from chalicelib.services.deps import Deps


def attribute(deps: Deps, tenant_id: str, channel: Channel, message: InboundMessage) -> Reply | None:
    """The campaign recipient this inbound message answers (its first reply sets `responded_at` and counts once)."""
    return None
