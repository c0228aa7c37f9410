"""What a campaign is seen as from outside: the API's views with live result figures and pages, and the content a
sender hands to the provider."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.domain.campaign import Campaign
from chalicelib.domain.errors import NotFoundError
from chalicelib.domain.model import Result
from chalicelib.domain.objects import upload_key
from chalicelib.domain.recipient import Recipient
from chalicelib.domain.replies import response_figures
from chalicelib.services.deps import Deps

# Content fields the service keeps for itself: never answered, never taken from a request (a template campaign's
# `template` is the snapshot of its template taken when it was checked).
_INTERNAL_CONTENT = frozenset({"media_key", "template"})
# What `?status=failed` lists: the recipients the result's `failed` counts.
FAILED_LISTS = ("failed", "undelivered")


def public_content(content: Mapping[str, Any]) -> dict[str, Any]:
    """A campaign's content as the API answers (and takes) it."""
    return {k: v for k, v in content.items() if k not in _INTERNAL_CONTENT}


def media_key_of(tenant_id: str, content: Mapping[str, Any]) -> str:
    """The object an MMS campaign sends: the copy pinned when its media was checked (or, for a campaign or upload
    stored before media was pinned, the upload's own object)."""
    return str(content.get("media_key") or upload_key(tenant_id, content["upload_id"]))


def figures_of(deps: Deps, campaign: Campaign) -> tuple[Result, tuple[int, float]]:
    """The campaign's figures and its (responded, response_rate): its counters once its recipients are written (one
    read of its shards), before that its audience's size and no replies."""
    if campaign.audience_written:
        shards = deps.recipients.counters(campaign.campaign_id)
        return Result.from_buckets(shards), response_figures(shards)
    return Result(total=campaign.size, pending=campaign.size), (0, 0.0)


def result_of(deps: Deps, campaign: Campaign) -> Result:
    """The campaign's figures: its counters once its recipients are written, before that its audience's size."""
    return figures_of(deps, campaign)[0]


def view(
    campaign: Campaign, result: Result, *, full: bool = True, response: tuple[int, float] = (0, 0.0)
) -> dict[str, Any]:
    """A campaign as the API answers it (`full`: with its recipients' spec, for single-campaign answers) with its
    `response` figures (responded, response_rate)."""
    out = {
        "id": campaign.campaign_id,
        "name": campaign.name,
        "status": campaign.status,
        "channel_id": campaign.channel_id,
        "sender": campaign.sender,
        "content": public_content(campaign.content),
        "send_time": campaign.send_time,
        "send_mode": campaign.send_mode,
        "routing_target": campaign.routing_target,
        "result": result.as_dict(),
        "responded": response[0],
        "response_rate": response[1],
        "segments": campaign.segments,
        "encoding": campaign.encoding,
        "created_at": campaign.created_at,
        "scheduled_at": campaign.scheduled_at,
        "started_at": campaign.started_at,
        "completed_at": campaign.completed_at,
        "stop_reason": campaign.stop_reason,
        "paused_at": campaign.paused_at,
        "cancel_requested_at": campaign.cancel_requested_at,
        "audience_report": campaign.audience_report,
    }
    if full:
        spec = campaign.audience
        out["recipients"] = {
            "numbers": list(spec.get("numbers") or []),
            "upload_id": spec.get("upload_id"),
            "phonebook": spec.get("phonebook"),
        }
    return out


def get_campaign(deps: Deps, tenant_id: str, campaign_id: str) -> dict[str, Any]:
    """One campaign with its live result figures, or 404."""
    campaign = deps.campaigns.get(tenant_id, campaign_id)
    if campaign is None:
        raise NotFoundError("no such campaign")
    result, response = figures_of(deps, campaign)
    return view(campaign, result, response=response)


def list_campaigns(deps: Deps, tenant_id: str, status: str | None, limit: int, cursor: str | None) -> dict[str, Any]:
    """A page of the tenant's campaigns, newest first."""
    page = deps.campaigns.page(tenant_id, status, limit, cursor)
    items = []
    for c in page.items:
        result, response = figures_of(deps, c)
        items.append(view(c, result, full=False, response=response))
    return {"items": items, "next_cursor": page.next_cursor}


RECIPIENT_FIELDS = ("provider_message_id", "sent_at", "delivered_at", "read_at", "responded_at", "session_id")


def recipient_view(recipient: Recipient) -> dict[str, Any]:
    """One recipient's details."""
    error = None
    if recipient.error_code:
        error = {"code": recipient.error_code, "message": recipient.error_message or ""}
    out: dict[str, Any] = {
        "number": recipient.number,
        "status": recipient.status.value,
        "error": error,
        "attempts": recipient.attempts,
    }
    out.update({f: getattr(recipient, f) for f in RECIPIENT_FIELDS})
    out["variables"] = dict(recipient.variables)
    return out


def list_recipients(
    deps: Deps, tenant_id: str, campaign_id: str, status: str | None, limit: int, cursor: str | None
) -> dict[str, Any]:
    """A page of a campaign's per-recipient details (written when sending starts)."""
    if deps.campaigns.get(tenant_id, campaign_id, consistent=False) is None:
        raise NotFoundError("no such campaign")
    # `failed` lists what the result's `failed` counts: failed and undelivered (`undelivered` lists those alone).
    page = deps.recipients.page(campaign_id, FAILED_LISTS if status == "failed" else status, limit, cursor)
    return {"items": [recipient_view(i) for i in page.items], "next_cursor": page.next_cursor}
