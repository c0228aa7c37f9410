"""An admin's hold on a campaign that sends: pause, resume and cancel (the contract's extension).

- pause: an executing or retrying campaign becomes `paused` in one transaction that hands the tenant's send lock to
  the next pending campaign. Its senders read the campaign again at least every CHECK_SECONDS and hand over nothing
  more; what they had claimed and not handed over goes back to `queued`.
- resume: a paused campaign starts again as it was (executing or retrying), or waits `pending` behind the tenant's
  sending campaign. It is dispatched anew (a new generation): only recipients still `queued` are sent, so nothing
  already handed over is sent twice.
- cancel: marks the campaign; from then on nothing more is handed over, every recipient still queued becomes
  `skipped` (`cancelled`), and the campaign completes once no hand-over is in flight (lifecycle.finish_cancel).
"""

from __future__ import annotations

from typing import Any

from chalicelib.domain.errors import CampaignMovedError, ConflictError, NotFoundError
from chalicelib.domain.messages import Job
from chalicelib.domain.model import SENDING_STATUSES, CampaignStatus, utc_iso
from chalicelib.services import lifecycle, views
from chalicelib.services.deps import Deps
from chalicelib.services.logs import log


def pause_campaign(deps: Deps, tenant_id: str, campaign_id: str) -> dict[str, Any]:
    """Pause an executing or retrying campaign; 409 campaign_not_sending otherwise."""
    campaign = deps.campaigns.get(tenant_id, campaign_id)
    if campaign is None:
        raise NotFoundError("no such campaign")
    try:
        next_id = deps.campaigns.pause(tenant_id, campaign_id, utc_iso(deps.clock.utcnow()) or "")
    except CampaignMovedError as moved:
        now = moved.campaign or campaign
        why = "it is being cancelled" if now.cancel_requested_at else f"it is {now.status}"
        raise ConflictError(
            f"only an executing or retrying campaign can be paused; {why}",
            code="campaign_not_sending",
            details=[{"status": now.status}],
        ) from moved
    log.info("campaign paused", extra={"campaign_id": campaign_id, "next": next_id})
    if next_id:
        lifecycle.start_next(deps, tenant_id, next_id)
    return views.get_campaign(deps, tenant_id, campaign_id)


def resume_campaign(deps: Deps, tenant_id: str, campaign_id: str) -> dict[str, Any]:
    """Put a paused campaign back in line: executing (or retrying) now, or pending behind another."""
    campaign = deps.campaigns.get(tenant_id, campaign_id)
    if campaign is None:
        raise NotFoundError("no such campaign")
    if campaign.status != CampaignStatus.PAUSED or campaign.cancel_requested_at:
        raise ConflictError(
            f"only a paused campaign can be resumed; this one is {campaign.status}"
            + (" and being cancelled" if campaign.cancel_requested_at else ""),
            code="campaign_not_paused",
            details=[{"status": campaign.status}],
        )
    generation = int(campaign.dispatch_gen) + 1
    to_status = campaign.start_as if campaign.start_as in SENDING_STATUSES else CampaignStatus.EXECUTING.value
    try:
        started = deps.campaigns.start(
            tenant_id,
            campaign_id,
            CampaignStatus.PAUSED.value,
            utc_iso(deps.clock.utcnow()) or "",
            to_status=str(to_status),
            # A new generation: its chunks are not taken for repeats of those queued before the pause.
            extra={"dispatch_gen": generation, "dispatched_gen": None, "dispatching_at": None},
        )
    except CampaignMovedError as lost:
        raise ConflictError("the campaign changed; read it again", code="campaign_busy") from lost
    log.info("campaign resumed", extra={"campaign_id": campaign_id, "status": started})
    if started in SENDING_STATUSES:
        lifecycle.begin_dispatch(deps, tenant_id, campaign_id, campaign.size, generation)
    return views.get_campaign(deps, tenant_id, campaign_id)


def cancel_campaign(deps: Deps, tenant_id: str, campaign_id: str) -> dict[str, Any]:
    """Cancel a paused, pending, scheduled or sending campaign: what is not handed over yet is skipped, and it
    completes. Repeating a cancel is answered with the campaign as it is."""
    campaign = deps.campaigns.get(tenant_id, campaign_id)
    if campaign is None:
        raise NotFoundError("no such campaign")
    if campaign.status not in lifecycle.CANCELLABLE:
        raise ConflictError(
            f"only a paused, pending, scheduled, executing or retrying campaign can be cancelled; this one is "
            f"{campaign.status}",
            code="campaign_not_cancellable",
            details=[{"status": campaign.status}],
        )
    if not campaign.cancel_requested_at:
        try:
            deps.campaigns.set_fields(
                tenant_id,
                campaign_id,
                {"cancel_requested_at": utc_iso(deps.clock.utcnow())},
                condition_status=sorted(lifecycle.CANCELLABLE),
            )
        except CampaignMovedError as moved:
            status = moved.campaign.status if moved.campaign else "deleted"
            raise ConflictError(
                f"the campaign is {status} now; it can no longer be cancelled",
                code="campaign_not_cancellable",
                details=[{"status": status}],
            ) from moved
        log.info("campaign cancel asked", extra={"campaign_id": campaign_id, "status": campaign.status})
    if campaign.size <= deps.settings.inline_dispatch_max:
        lifecycle.finish_cancel(deps, tenant_id, campaign_id)
    else:
        # A large audience is skipped by a job (no API timeout); the minute tick repeats it should the job be lost.
        deps.queue.publish_job(Job("cancel", tenant_id, campaign_id), f"cancel:{campaign_id}")
    return views.get_campaign(deps, tenant_id, campaign_id)
