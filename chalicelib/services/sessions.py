"""Sessions (External Chat Logs): opened for a `session` campaign's accepted recipients, joined by inbound messages,
closed by the API or after the channel's `session_expire_hours` of silence."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from chalicelib.domain.campaign import Campaign
from chalicelib.domain.channels import DEFAULT_EXPIRE_HOURS, Channel
from chalicelib.domain.errors import InvalidRequestError, NotFoundError, SessionClosedError
from chalicelib.domain.events import MAX_KEPT_BODY_CHARS, InboundMessage, StatusEvent, bounded, inbound_key
from chalicelib.domain.model import RecipientStatus, utc_iso
from chalicelib.domain.phone import invalid_reason, mask
from chalicelib.domain.recipient import Recipient
from chalicelib.domain.replies import Reply
from chalicelib.domain.sessions import (
    MESSAGE_RANK,
    OPEN,
    SESSION_STATUSES,
    Recorded,
    Session,
    SessionFilter,
    SessionMessage,
    open_until,
)
from chalicelib.domain.templates import resolve_values
from chalicelib.services.deps import Deps
from chalicelib.services.logs import log

SESSION_MODE = "session"
# A campaign's send_mode never changes once it sends (only drafts are edited): remembered per container.
_MODE_CACHE_MAX = 2048
_modes: dict[str, str] = {}
_modes_lock = threading.Lock()
MAX_MEDIA = 10
MAX_NUMBER_CHARS = 64
MAX_FILTER_ID_CHARS = 200


def _hours(channel: Channel | None) -> int:
    return channel.session_expire_hours if channel is not None else DEFAULT_EXPIRE_HOURS


def _campaign_message(campaign: Campaign, recipient: Recipient) -> tuple[str | None, list[dict[str, Any]], Any]:
    """The text, media and template of a campaign's message to one recipient, as its log shows them."""
    content = campaign.content
    kind = content.get("type")
    if kind == "template":
        snapshot = content.get("template") or {}
        values, _ = resolve_values(content.get("variables") or {}, recipient.variables)
        template = {
            "id": content.get("template_id"),
            "name": snapshot.get("name"),
            "language": snapshot.get("language"),
            "values": values,
        }
        return None, [], template
    if kind == "file":
        return content.get("text"), [{"upload_id": content.get("upload_id")}], None
    return content.get("text"), [], None


def _record_campaign_message(
    deps: Deps, campaign: Campaign, recipient: Recipient, provider_id: str | None, sent_at: str | None, hours: int
) -> Recorded:
    """Open or join the recipient's session with the campaign message, and note it on the recipient (once)."""
    now = deps.clock.now()
    at = sent_at or utc_iso(deps.clock.utcnow()) or ""
    text, media, template = _campaign_message(campaign, recipient)
    opening = Session(
        session_id=deps.ids.new("ses"),
        tenant_id=campaign.tenant_id,
        channel_id=campaign.channel_id,
        sender=campaign.sender,
        contact=recipient.number,
        routing_target=dict(campaign.routing_target) if campaign.routing_target else None,
        status=OPEN,
        origin="campaign",
        campaign_id=campaign.campaign_id,
        created_at=at,
        last_message_at=at,
        open_until=open_until(now, hours),
        campaign_ids=frozenset({campaign.campaign_id}),
    )
    message = SessionMessage(
        message_id=deps.ids.new("msg"),
        direction="outbound",
        at=at,
        text=text,
        media=media,
        template=template,
        status="sent",
        campaign_id=campaign.campaign_id,
        provider_message_id=provider_id,
    )
    recorded = deps.sessions.record(opening, message, f"campaign#{campaign.campaign_id}#{recipient.index}", now)
    deps.recipients.set_fields(
        campaign.campaign_id,
        recipient.index,
        {"session_id": recorded.session_id, "session_message": recorded.message_sk},
        only_if_missing="session_id",
    )
    if recorded.opened:
        log.info(
            "session opened",
            extra={
                "campaign_id": campaign.campaign_id,
                "session_id": recorded.session_id,
                "to": mask(recipient.number),
            },
        )
    return recorded


def campaign_accepted(deps: Deps, campaign: Campaign, accepted: Sequence[tuple[Recipient, str | None, str]]) -> None:
    """After the sender recorded these recipients `sent` (recipient as claimed, provider message id, sent_at): for a
    `session` campaign, open or reuse each one's session and add the campaign message to its log."""
    if campaign.send_mode != SESSION_MODE or not accepted:
        return
    _remember_mode(campaign.campaign_id, campaign.send_mode)
    hours = _hours(deps.channels.get(campaign.tenant_id, campaign.channel_id, consistent=False))
    for recipient, provider_id, sent_at in accepted:
        if recipient.session_id:
            continue  # a retry's new attempt: the first accepted one put the campaign message in its session
        _record_campaign_message(deps, campaign, recipient, provider_id, sent_at, hours)


def _remember_mode(campaign_id: str, mode: str) -> None:
    with _modes_lock:
        if len(_modes) >= _MODE_CACHE_MAX:
            _modes.clear()
        _modes[campaign_id] = mode


def _send_mode(deps: Deps, tenant_id: str, campaign_id: str) -> tuple[str | None, Campaign | None]:
    """A campaign's send_mode (remembered per container), and the campaign when it had to be read."""
    with _modes_lock:
        mode = _modes.get(campaign_id)
    if mode is not None:
        return mode, None
    campaign = deps.campaigns.get(tenant_id, campaign_id)
    if campaign is None:
        return None, None
    _remember_mode(campaign_id, campaign.send_mode)
    return campaign.send_mode, campaign


def status_reported(
    deps: Deps, tenant_id: str, campaign_id: str, index: int, target: RecipientStatus, event: StatusEvent
) -> None:
    """After a provider report moved a campaign's recipient to `target` (the common sent -> delivered move reads no
    recipient, so only its ids are given): the status of the campaign message in its session's log follows."""
    rank = MESSAGE_RANK.get(target.value)
    if rank is None:
        return
    mode, campaign = _send_mode(deps, tenant_id, campaign_id)
    if mode != SESSION_MODE:
        return
    recipient = deps.recipients.get(campaign_id, index)
    if recipient is None or recipient.tenant_id != tenant_id:
        return
    session_id, message_sk = recipient.session_id, recipient.session_message
    if not session_id or not message_sk:
        # The accept hook did not get to it (it failed, or this report moved the recipient first): open it here.
        campaign = campaign or deps.campaigns.get(tenant_id, campaign_id)
        if campaign is None or not (recipient.sent_at or recipient.provider_message_id):
            return
        hours = _hours(deps.channels.get(tenant_id, campaign.channel_id, consistent=False))
        sent_at = recipient.sent_at or recipient.delivered_at
        recorded = _record_campaign_message(
            deps, campaign, recipient, recipient.provider_message_id or event.message_id, sent_at, hours
        )
        session_id, message_sk = recorded.session_id, recorded.message_sk
    deps.sessions.set_message_status(session_id, message_sk, target.value, rank)


def _media(message: InboundMessage) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for media in message.media[:MAX_MEDIA]:
        entry: dict[str, Any] = {"url": bounded(media.url)[0]}
        if media.content_type:
            entry["content_type"] = bounded(media.content_type, 255)[0]
        out.append(entry)
    return out


def _plausible(number: str) -> bool:
    return 0 < len(number) <= MAX_NUMBER_CHARS and number.isprintable()


def on_inbound(deps: Deps, tenant_id: str, channel: Channel, message: InboundMessage, reply: Reply | None) -> None:
    """An inbound message joins the open session of its (channel, sender, contact), or opens one for the channel's
    `default_routing_target`; idempotent by the provider's message id."""
    if not (_plausible(message.from_) and _plausible(message.to)):
        # No phone number is this long (it would make a key DynamoDB refuses): kept, but no session is its own.
        log.warning("inbound message without a usable number: no session", extra={"channel_id": channel.channel_id})
        return
    now = deps.clock.now()
    at = utc_iso(message.at or deps.clock.utcnow()) or ""
    key = inbound_key(message)
    opening = Session(
        session_id=deps.ids.new("ses"),
        tenant_id=tenant_id,
        channel_id=channel.channel_id,
        sender=message.to,
        contact=message.from_,
        routing_target=dict(channel.default_routing_target) if channel.default_routing_target else None,
        status=OPEN,
        origin="inbound",
        campaign_id=None,
        created_at=at,
        last_message_at=at,
        open_until=open_until(now, channel.session_expire_hours),
    )
    entry = SessionMessage(
        message_id=deps.ids.new("msg"),
        direction="inbound",
        at=at,
        text=bounded(message.body, MAX_KEPT_BODY_CHARS)[0],
        media=_media(message),
        status="received",
        campaign_id=reply.campaign_id if reply is not None else None,
        provider_message_id=key,
    )
    recorded = deps.sessions.record(opening, entry, f"inbound#{key}", now)
    if recorded.added:
        log.info(
            "inbound message logged",
            extra={"session_id": recorded.session_id, "opened": recorded.opened, "from": mask(message.from_)},
        )


# ---------------------------------------------------------------------------------------------- the API's reads
def _session(deps: Deps, tenant_id: str, session_id: str) -> Session:
    session = deps.sessions.get(tenant_id, session_id)
    if session is None:
        raise NotFoundError("no such session")
    return session.seen(deps.clock.now())


def list_sessions(
    deps: Deps,
    tenant_id: str,
    query: Mapping[str, str],
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    """A page of the tenant's sessions, filtered by `contact`, `status` and `campaign_id`."""
    contact = query.get("contact")
    status = query.get("status")
    if status is not None and status not in SESSION_STATUSES:
        raise InvalidRequestError("status must be open or closed", details=[{"field": "status"}])
    if contact is not None and invalid_reason(contact) is not None:
        raise InvalidRequestError("contact must be an E.164 phone number", details=[{"field": "contact"}])
    campaign_id = query.get("campaign_id")
    # Only compared with what sessions hold (never a key): any string of a campaign id's size.
    if campaign_id is not None and not 0 < len(campaign_id) <= MAX_FILTER_ID_CHARS:
        raise InvalidRequestError("campaign_id is not a campaign id", details=[{"field": "campaign_id"}])
    wanted = SessionFilter(contact=contact, status=status, campaign_id=campaign_id)
    page = deps.sessions.list(tenant_id, wanted, deps.clock.now(), limit, cursor)
    return {"items": [s.view() for s in page.items], "next_cursor": page.next_cursor}


def get_session(deps: Deps, tenant_id: str, session_id: str) -> dict[str, Any]:
    """One session of the tenant, as it is now; 404 for another tenant's."""
    return _session(deps, tenant_id, session_id).view()


def list_messages(deps: Deps, tenant_id: str, session_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    """A page of a session's chat log, oldest first."""
    _session(deps, tenant_id, session_id)
    page = deps.sessions.messages(tenant_id, session_id, limit, cursor)
    return {"items": [m.view() for m in page.items], "next_cursor": page.next_cursor}


def close_session(deps: Deps, tenant_id: str, session_id: str) -> dict[str, Any]:
    """Close an open session (409 session_closed when it is closed or expired already)."""
    session = _session(deps, tenant_id, session_id)
    if session.status != OPEN:
        raise SessionClosedError("the session is closed already", details=[{"session_id": session_id}])
    closed = deps.sessions.close(session, deps.clock.now())
    log.info("session closed", extra={"session_id": session_id})
    return closed.view()
