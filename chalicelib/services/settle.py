"""Settling hand-overs whose answer was lost: the provider's callback or its own records decide, never a guess.

A recipient whose hand-over is uncertain (a timeout, a reset connection, a 5xx, a sender that died mid-call) stays
claimed (`sending`) under its chunk's hand-over record. The provider's status callback for that attempt settles it
when it comes. Otherwise, once the record is due, the minute tick queues a `settle` job, and this module looks each
recipient up in the provider's records:

    found            -> the provider's status (sent/delivered/.../failed) with its message id
    provably absent  -> queued again and sent as a new attempt (or failed, retryable, after MAX_ATTEMPTS)
    can't tell       -> asked again on a later tick
"""

from __future__ import annotations

import uuid
from typing import Any

from chalicelib.adapters.providers.base import Provider
from chalicelib.domain.campaign import Campaign
from chalicelib.domain.errors import RecipientMovedError
from chalicelib.domain.handover import Handover
from chalicelib.domain.messages import Chunk, Job
from chalicelib.domain.model import SEND_INTERRUPTED, SENDING_STATUSES, CampaignStatus, RecipientStatus, utc_iso
from chalicelib.domain.recipient import Recipient
from chalicelib.services import lifecycle
from chalicelib.services.deps import Deps
from chalicelib.services.logs import log
from chalicelib.services.webhooks import report_changes

R = RecipientStatus
# A hand-over proven absent this many times fails (retryable by the PBX) instead of looping on a provider that keeps
# losing its answers.
MAX_ATTEMPTS = 3
NO_ANSWER = {"code": "provider_no_answer", "message": "the provider never answered and never got the message"}
# A hand-over whose records stay unreadable this long after its claim is failed as "may have been sent" (never
# resent): Twilio keeps a queued message at most 10 hours (its validity period), so a day covers every fate.
MAX_UNSETTLED_SECONDS = 24 * 3600
UNSETTLED = {
    "error_code": SEND_INTERRUPTED,
    "error_message": "the provider's records could not be read for a day after this hand-over; it may have been sent",
}


def due(deps: Deps, campaign_id: str) -> bool:
    """Whether any of the campaign's hand-over records is due for settling."""
    now = deps.clock.now()
    return any(h.due(now) for h in deps.handovers.of_campaign(campaign_id))


def queue_if_due(deps: Deps, tenant_id: str, campaign_id: str) -> bool:
    """From the minute tick: queue a settle job for a campaign with a due hand-over record (one per minute)."""
    if not due(deps, campaign_id):
        return False
    minute = int(deps.clock.now() // 60)
    deps.queue.publish_job(Job("settle", tenant_id, campaign_id), f"settle:{campaign_id}:{minute}")
    return True


def settle_campaign(deps: Deps, tenant_id: str, campaign_id: str) -> dict[str, int]:
    """Settle every due hand-over record of a sending campaign; returns what became of its recipients."""
    counts = {"found": 0, "released": 0, "failed": 0, "unknown": 0, "settled": 0}
    campaign = deps.campaigns.get(tenant_id, campaign_id)
    if campaign is None or campaign.status not in (*SENDING_STATUSES, CampaignStatus.PAUSED):
        return counts
    now = deps.clock.now()
    records = [h for h in deps.handovers.of_campaign(campaign_id) if h.due(now)]
    if not records:
        return counts
    channel = deps.channels.get(tenant_id, campaign.channel_id)
    creds = deps.secrets.get(tenant_id, campaign.channel_id) if channel else None
    if channel is None or creds is None:
        return counts  # the sender stops a campaign whose channel is gone
    provider = deps.provider_for(channel, creds)
    for record in records:
        unknown: dict[int, dict[str, str]] = {}
        released: list[int] = []
        for recipient in _still_held(deps, record):
            index = recipient.index
            error = dict(record.errors.get(str(index)) or NO_ANSWER)
            verdict = settle_one(deps, provider, campaign, recipient, record.token, error)
            counts[verdict] += 1
            if verdict == "unknown":
                unknown[index] = error
            elif verdict == "released":
                released.append(index)
        if released:
            # Queued before the record is narrowed: a settle job that dies here leaves the record to settle again.
            chunk = Chunk(
                tenant_id,
                campaign_id,
                released[0],
                released[-1] + 1,
                int(campaign.dispatch_gen),
                tuple(released),
            )
            deps.queue.publish(
                [chunk], group=campaign.send_group, dedup_prefix=f"{campaign_id}:settled:{uuid.uuid4().hex}"
            )
        deps.handovers.narrow(campaign_id, record.token, unknown, now + deps.settings.settle_seconds)
    log.info("hand-overs settled", extra={"campaign_id": campaign_id, **counts})
    lifecycle.finish_if_done(deps, tenant_id, campaign_id)
    return counts


def _still_held(deps: Deps, record: Handover) -> list[Recipient]:
    """The record's recipients still claimed under its token (the others were settled, or never claimed by it)."""
    if not record.indexes:
        return []
    wanted = set(record.indexes)
    lo, hi = min(wanted), max(wanted) + 1
    return [
        r for r in deps.recipients.range(record.campaign_id, lo, hi) if r.index in wanted and r.held_by(record.token)
    ]


def settle_one(
    deps: Deps,
    provider: Provider,
    campaign: Campaign,
    recipient: Recipient,
    token: str,
    error: dict[str, str],
) -> str:
    """Settle one uncertain hand-over from the provider's records: "found", "released", "failed", "unknown" (ask
    again later) or "settled" (a status callback did it meanwhile)."""
    content = campaign.content or {}
    lookup = provider.find(
        to=recipient.number,
        sender=campaign.sender,
        text=content.get("text"),
        media_count=1 if content.get("type") == "file" else 0,
        since=float(recipient.claimed_at or 0),
    )
    campaign_id, index = campaign.campaign_id, recipient.index
    now = utc_iso(deps.clock.utcnow())
    if lookup.found is None:
        if deps.clock.now() - float(recipient.claimed_at or 0) < MAX_UNSETTLED_SECONDS:
            return "unknown"
        # A day of unreadable records (credentials rotated, more messages than a lookup reads): it may have been
        # sent, so it is never resent; failing it lets the campaign finish and free the tenant's sending slot.
        gone = {"claim_token": None, **UNSETTLED, "failed_at": now}
        return _moved(deps, campaign_id, recipient, R.FAILED, gone, token, "failed")
    if lookup.found:
        target = R(lookup.status or R.SENT)
        fields = report_changes(
            recipient, target, lookup.message_id, lookup.error_code, now or "", lookup.error_message
        )
        log.info("hand-over found at the provider", extra={"campaign_id": campaign_id, "index": index})
        return _moved(deps, campaign_id, recipient, target, fields, token, "found")
    if recipient.attempts >= MAX_ATTEMPTS:
        absent = {
            "claim_token": None,
            "error_code": error.get("code") or NO_ANSWER["code"],
            "error_message": error.get("message") or NO_ANSWER["message"],
            "failed_at": now,
        }
        return _moved(deps, campaign_id, recipient, R.FAILED, absent, token, "failed")
    try:
        deps.recipients.release(campaign_id, index, token, attempted=True)
    except RecipientMovedError as lost:
        return _still_ours(lost.recipient, token)
    log.info("hand-over provably absent; sending again", extra={"campaign_id": campaign_id, "index": index})
    return "released"


def _moved(
    deps: Deps,
    campaign_id: str,
    recipient: Recipient,
    target: RecipientStatus,
    fields: dict[str, Any],
    token: str,
    verdict: str,
) -> str:
    """Record a settled hand-over; when the write loses, "settled" if a callback got there first, else "unknown"."""
    try:
        deps.recipients.move(campaign_id, recipient, target, fields, claim_token=token)
    except RecipientMovedError as lost:
        return _still_ours(lost.recipient, token)
    return verdict


def _still_ours(current: Recipient | None, token: str) -> str:
    """After a lost write (given the recipient as the winner left it): "unknown" (kept in the record, asked again)
    while the claim is still ours, else "settled"."""
    if current is not None and current.held_by(token):
        return "unknown"
    return "settled"
