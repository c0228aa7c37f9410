"""Sessions (External Chat Logs): opened for a `session` campaign's accepted recipients, joined by inbound messages,
closed by the API or after the channel's `session_expire_hours` of silence."""

from __future__ import annotations

from collections.abc import Sequence

from chalicelib.domain.campaign import Campaign
from chalicelib.domain.channels import Channel
from chalicelib.domain.events import InboundMessage, StatusEvent
from chalicelib.domain.model import RecipientStatus
from chalicelib.domain.recipient import Recipient
from chalicelib.domain.replies import Reply
from chalicelib.services.deps import Deps


def campaign_accepted(deps: Deps, campaign: Campaign, accepted: Sequence[tuple[Recipient, str | None, str]]) -> None:
    """After the sender recorded these recipients `sent` (recipient as claimed, provider message id, sent_at): for a
    `session` campaign, open or reuse each one's session and add the campaign message to its log."""


def status_reported(
    deps: Deps, tenant_id: str, campaign_id: str, index: int, target: RecipientStatus, event: StatusEvent
) -> None:
    """After a provider report moved a campaign's recipient to `target` (the common sent -> delivered move reads no
    recipient, so only its ids are given): the status of the campaign message in its session's log follows."""


def on_inbound(deps: Deps, tenant_id: str, channel: Channel, message: InboundMessage, reply: Reply | None) -> None:
    """An inbound message joins the open session of its (channel, sender, contact), or opens one for the channel's
    `default_routing_target`; idempotent by the provider's message id."""
