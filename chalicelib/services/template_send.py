"""What the sender needs for a template campaign: the template as it stands now (a paused one stops the campaign),
each recipient's message, and the wait that keeps one sender from messaging one contact twice too fast."""

from __future__ import annotations

from chalicelib.adapters.providers.base import Outcome, ProviderRules, SendResult
from chalicelib.domain.campaign import Campaign
from chalicelib.domain.model import CampaignStatus, parse_utc
from chalicelib.domain.objects import upload_key
from chalicelib.domain.recipient import Recipient
from chalicelib.domain.templates import (
    APPROVED,
    TemplateMessage,
    quick_reply_payloads,
    resolve_values,
    stop_code,
)
from chalicelib.services import lifecycle
from chalicelib.services.deps import Deps
from chalicelib.services.logs import log

# How long the header's media URL handed to the provider works (as for an MMS).
HEADER_URL_SECONDS = 6 * 3600
MISSING_VARIABLE = "missing_variable"


def template_message(deps: Deps, campaign: Campaign) -> TemplateMessage | None:
    """The campaign's template message without per-recipient values, if its stored template is still approved; else
    the campaign is stopped (template_paused, template_disabled or template_not_approved) and None."""
    content = campaign.content
    template_id = str(content.get("template_id"))
    stored = deps.templates.get(campaign.tenant_id, campaign.channel_id, template_id)
    status = stored.template.status if stored is not None else None
    if stored is None or status != APPROVED:
        code = stop_code(status)
        name = stored.template.name if stored is not None else template_id
        message = (
            f"template {name!r} is {status}" if status else f"template {template_id!r} is no longer on the channel"
        )
        log.warning("template not sendable; stopping", extra={"campaign_id": campaign.campaign_id, "code": code})
        lifecycle.finish(
            deps,
            campaign.tenant_id,
            campaign.campaign_id,
            CampaignStatus.STOPPED,
            {"code": code, "message": message + "; retry once it is approved again"},
        )
        return None
    snap = dict(content.get("template") or {})
    header_type = snap.get("header_type")
    url = None
    if header_type and (content.get("media_key") or content.get("header_upload_id")):
        # Presigned at send time from the copy pinned when the header's upload was checked.
        key = str(content.get("media_key") or upload_key(campaign.tenant_id, str(content.get("header_upload_id"))))
        url = deps.blobs.presigned_get(key, HEADER_URL_SECONDS)
    return TemplateMessage(
        template_id=template_id,
        name=str(snap.get("name") or stored.template.name),
        language=str(snap.get("language") or stored.template.language),
        parameter_format=str(snap.get("parameter_format") or "positional"),
        header_type=header_type,
        header_media_url=url,
        header_filename=snap.get("header_filename"),
    )


def for_recipient(template: TemplateMessage, campaign: Campaign, recipient: Recipient) -> TemplateMessage | SendResult:
    """One recipient's message: its values and button payloads; a refusal (to record as skipped) when a column it
    needs is empty and has no default."""
    values, missing = resolve_values(campaign.content.get("variables") or {}, recipient.variables)
    if missing:
        return SendResult.refused(
            Outcome.PERMANENT,
            MISSING_VARIABLE,
            f"the contact has no value in column {', '.join(repr(c) for c in missing)} and the variable has no default",
        )
    return TemplateMessage(
        template_id=template.template_id,
        name=template.name,
        language=template.language,
        parameter_format=template.parameter_format,
        variables=values,
        header_type=template.header_type,
        header_media_url=template.header_media_url,
        header_filename=template.header_filename,
        button_payloads=quick_reply_payloads(campaign.campaign_id, recipient.index, _quick_replies(campaign)),
    )


def _quick_replies(campaign: Campaign) -> int:
    return int((campaign.content.get("template") or {}).get("quick_replies") or 0)


def pair_gap_wait(deps: Deps, campaign: Campaign, rules: ProviderRules) -> float:
    """How long a chunk waits before its first send so that no contact of the previous campaign gets this one within
    the provider's pair gap (Meta 131056: one message per sender and contact every 6 s).

    A tenant sends one campaign at a time, so the previous one's last hand-over came before this one took the send
    lock (`started_at`, to the second): sends that start a gap after that are safe. Within a campaign each contact
    gets one message, so only the chunks of its first seconds ever wait."""
    gap = rules.limits.pair_gap_seconds
    if gap <= 0 or not campaign.started_at:
        return 0.0
    return max(0.0, parse_utc(campaign.started_at).timestamp() + 1.0 + gap - deps.clock.now())
