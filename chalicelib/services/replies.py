"""Replies and the response rate: an inbound message attributed to the campaign message it answers.

The campaign messages a reply may answer are its thread's (tenant, channel, the sender it was sent to, the contact),
read from gsi2 within the attribution window before the reply. A WhatsApp reply naming one of them (its button
payload `mc1:<campaign>:<index>:<button>`, or `context.id` quoting its provider message id) is attributed to it;
any other reply to the latest of them. Each recipient counts once: the first reply sets `responded_at` and one more
`n_responded` on its counter shard in one conditional write (no hot item per reply); a replay or a later reply
changes nothing, but is still attributed (the session log shows it).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib.domain.channels import Channel
from chalicelib.domain.errors import AlreadyRespondedError
from chalicelib.domain.events import InboundMessage
from chalicelib.domain.model import utc_iso
from chalicelib.domain.phone import is_valid_e164, mask
from chalicelib.domain.replies import Reply, ThreadMessage, thread_key
from chalicelib.domain.templates import parse_button_payload
from chalicelib.services.deps import Deps
from chalicelib.services.logs import log


def reply_time(deps: Deps, message: InboundMessage) -> datetime:
    """When the reply was sent: the provider's time, unless it has none or says a time still to come."""
    now = deps.clock.utcnow()
    return message.at if message.at is not None and message.at <= now else now


def answered(message: InboundMessage, candidates: list[ThreadMessage]) -> ThreadMessage | None:
    """Which of a thread's campaign messages (newest first) a reply answers: the one its button or quote names,
    else the latest."""
    named = parse_button_payload(message.button_payload) if message.button_payload else None
    for candidate in candidates:
        if named is not None and (candidate.campaign_id, candidate.index) == named[:2]:
            return candidate
        if message.context_id and candidate.provider_message_id == message.context_id:
            return candidate
    return candidates[0] if candidates else None


def attribute(deps: Deps, tenant_id: str, channel: Channel, message: InboundMessage) -> Reply | None:
    """The campaign recipient this inbound message answers (its first reply sets `responded_at` and counts once)."""
    contact, sender = message.from_, message.to
    if sender not in channel.senders or not is_valid_e164(contact):
        return None
    at = reply_time(deps, message)
    since = at - timedelta(days=deps.settings.attribution_window_days)
    thread = thread_key(tenant_id, channel.channel_id, sender, contact)
    found = answered(message, deps.recipients.in_thread(thread, utc_iso(since) or "", utc_iso(at) or ""))
    if found is None:
        return None
    if found.responded_at is None:
        try:
            deps.recipients.respond(found.campaign_id, found.index, found.shard, utc_iso(at) or "")
        except AlreadyRespondedError:
            pass  # counted already: a replay of this message, or a reply before it (gsi2 lags behind the table)
        else:
            log.info(
                "reply attributed",
                extra={"campaign_id": found.campaign_id, "index": found.index, "from": mask(contact)},
            )
    return Reply(found.campaign_id, found.index, found.session_id)
