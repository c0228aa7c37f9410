"""What follows a message: the hooks the sender and the webhooks call, composed in one place.

Inbound messages are handled here whole: kept once, then opt-out keywords, the reply's attribution and its session.
Every step is idempotent by the provider's message id, and every step runs again for a provider's retry of a message
already kept, so a step that failed the first time (the webhook answered 5xx, the provider retries) is not lost.
"""

from __future__ import annotations

from collections.abc import Sequence

from chalicelib.domain.campaign import Campaign
from chalicelib.domain.channels import Channel
from chalicelib.domain.events import InboundMessage, StatusEvent
from chalicelib.domain.model import RecipientStatus
from chalicelib.domain.recipient import Recipient
from chalicelib.services import optouts, replies, sessions
from chalicelib.services.deps import Deps
from chalicelib.services.logs import log

R = RecipientStatus


def sent(deps: Deps, campaign: Campaign, accepted: Sequence[tuple[Recipient, str | None, str]]) -> None:
    """The sender recorded these recipients `sent` (recipient as claimed, provider message id, sent_at)."""
    if not accepted:
        return
    try:
        sessions.campaign_accepted(deps, campaign, accepted)
    except Exception:  # noqa: BLE001 - the sends are recorded; their status reports open what is missing
        log.exception("sessions not opened for accepted sends", extra={"campaign_id": campaign.campaign_id})


def refused(deps: Deps, campaign: Campaign, recipient: Recipient, code: str | None) -> None:
    """The provider refused a send for good with `code` (an opt-out at the provider puts the number on the list)."""
    try:
        optouts.provider_refused(deps, campaign.tenant_id, campaign.channel_id, recipient.number, code)
    except Exception:  # noqa: BLE001 - the refusal is recorded on the recipient; the sender goes on
        log.exception("opt-out not recorded", extra={"campaign_id": campaign.campaign_id, "code": code})


def reported(
    deps: Deps,
    tenant_id: str,
    channel_id: str,
    campaign_id: str,
    index: int,
    number: str | None,
    target: RecipientStatus,
    event: StatusEvent,
) -> None:
    """A provider's report moved a campaign's recipient to `target` (`number` is None on the sent -> delivered path,
    which reads no recipient)."""
    # The move is recorded and a replay of the report will not move it again, so these must not fail the webhook.
    try:
        if number and target in (R.FAILED, R.UNDELIVERED):
            optouts.provider_refused(deps, tenant_id, channel_id, number, event.error_code)
        sessions.status_reported(deps, tenant_id, campaign_id, index, target, event)
    except Exception:  # noqa: BLE001 - logged; the recipient's own status is what counts
        log.exception("status follow-up not recorded", extra={"campaign_id": campaign_id, "index": index})


def inbound(
    deps: Deps, tenant_id: str, channel: Channel, message: InboundMessage, first_seen: float | None = None
) -> None:
    """A contact's message to one of the channel's senders, after it was kept (or found kept already), as of when it
    was first kept (`first_seen`, epoch seconds: a replayed STOP must not undo a later START)."""
    optouts.on_inbound(deps, tenant_id, channel, message, first_seen)
    reply = replies.attribute(deps, tenant_id, channel, message)
    sessions.on_inbound(deps, tenant_id, channel, message, reply)
