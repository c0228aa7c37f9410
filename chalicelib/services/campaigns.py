"""Campaign use cases: create, edit, send, duplicate, retry, delete (reads are in views, its life once sending
starts in lifecycle)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.adapters.providers.base import Limits
from chalicelib.domain.campaign import Campaign
from chalicelib.domain.channels import Channel
from chalicelib.domain.commands import (
    CampaignSettings,
    Content,
    CreateCampaign,
    FileContent,
    PatchCampaign,
    SendCampaign,
    SendScheduled,
    TemplateContent,
    settings_of,
)
from chalicelib.domain.errors import (
    CampaignMovedError,
    ConcurrencyError,
    ConflictError,
    IdempotencyKeyTakenError,
    NotFoundError,
    UnprocessableError,
)
from chalicelib.domain.idempotency import IdempotencyRecord
from chalicelib.domain.messages import Job
from chalicelib.domain.model import (
    CampaignStatus,
    utc_from_epoch,
    utc_iso,
)
from chalicelib.domain.segments import analyze
from chalicelib.domain.sessions import check_routing_target
from chalicelib.services import lifecycle, template_content, uploads, views
from chalicelib.services.audience import Audience, check_audience
from chalicelib.services.deps import Deps
from chalicelib.services.logs import log
from chalicelib.services.providers import rules_of

# How long an Idempotency-Key is remembered.
IDEMPOTENCY_SECONDS = 24 * 3600
MAX_SCHEDULE_AHEAD = timedelta(days=365)
SESSION_MODE = "session"


def parse_schedule(deps: Deps, spec: SendScheduled) -> datetime:
    """The UTC time of a scheduled send: RFC 3339 with an offset, in the future, within a year."""
    raw = spec.at.strip()
    try:
        at = datetime.fromisoformat(raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw)
    except ValueError as exc:
        raise UnprocessableError(
            "send_time.at must be an RFC 3339 time such as 2026-12-01T09:00:00+01:00",
            code="invalid_schedule",
            details=[{"field": "send_time.at", "value": spec.at}],
        ) from exc
    if at.tzinfo is None or "T" not in raw.upper():
        raise UnprocessableError(
            "send_time.at must be a full date and time with a UTC offset (Z or +hh:mm)",
            code="invalid_schedule",
            details=[{"field": "send_time.at", "value": spec.at}],
        )
    now = deps.clock.utcnow()
    if at <= now:
        raise UnprocessableError(
            "send_time.at must be in the future",
            code="invalid_schedule",
            details=[{"field": "send_time.at", "value": spec.at, "now": utc_iso(now)}],
        )
    if at - now > MAX_SCHEDULE_AHEAD:
        raise UnprocessableError(
            "send_time.at must be within a year",
            code="invalid_schedule",
            details=[{"field": "send_time.at", "value": spec.at}],
        )
    return at.astimezone(now.tzinfo)


def _content(
    deps: Deps, tenant_id: str, content: Content, channel: Channel, audience: Callable[[], Audience]
) -> tuple[dict[str, Any], int, str]:
    if isinstance(content, TemplateContent):
        return template_content.template_content(deps, tenant_id, content, channel, audience())
    limits = rules_of(deps, channel).limits
    if limits.templates:
        raise template_content.template_required(channel)
    if isinstance(content, FileContent):
        return _media_content(deps, tenant_id, content, channel)
    if not content.text.strip():
        raise UnprocessableError("content.text is empty", code="content_empty", details=[{"field": "content.text"}])
    _text_length(content.text, limits)
    info = analyze(content.text)
    return {"type": "text", "text": content.text}, info.segments if limits.segmented else 1, info.encoding


def _text_length(text: str, limits: Limits) -> None:
    characters, most = len(text), limits.max_text_chars
    if characters > most:
        raise UnprocessableError(
            f"the text has {characters} characters; at most {most} are allowed",
            code="content_too_long",
            details=[{"field": "content.text", "length": characters, "max": most}],
        )


def _media_content(
    deps: Deps, tenant_id: str, content: FileContent, channel: Channel
) -> tuple[dict[str, Any], int, str]:
    """An MMS: the media must be ready and within what the channel's provider accepts, checked now, not at send."""
    upload = uploads.ready_upload(deps, tenant_id, content.upload_id, uploads.MEDIA, "content.upload_id")
    size, content_type = int(upload.size or 0), upload.content_type.lower()
    text = content.text or ""
    if content.text is not None and not text.strip():
        raise UnprocessableError(
            "content.text is blank; leave it out for a picture alone",
            code="content_empty",
            details=[{"field": "content.text"}],
        )
    rules = rules_of(deps, channel)
    limits = rules.limits
    if text:
        _text_length(text, limits)
    total, most = size + len(text.encode("utf-8")), limits.max_media_bytes
    if total > most:
        raise UnprocessableError(
            f"{rules.title} accepts at most {most / 2**20:g} MB ({most:,} bytes) of media and text in a message; "
            f"this one has {total:,}",
            code="media_too_large",
            details=[{"field": "content.upload_id", "size": total, "max": most, "provider": rules.name}],
        )
    if not limits.accepts_media_type(content_type):
        raise UnprocessableError(
            f"{rules.title} does not accept {content_type or 'this content type'} in a message",
            code="media_type_not_supported",
            details=[{"field": "content.upload_id", "content_type": content_type, "provider": rules.name}],
        )
    out: dict[str, Any] = {"type": "file", "upload_id": content.upload_id}
    if content.text is not None:
        out["text"] = content.text
    if upload.media_key:
        # The copy these checks describe, which no PUT to the upload URL can replace: what is sent (internal).
        out["media_key"] = upload.media_key
    encoding = analyze(text).encoding if text else "GSM-7"
    # An MMS is one message whatever its text's length.
    return out, 1, encoding


def _check_settings(
    deps: Deps, tenant_id: str, body: CampaignSettings
) -> tuple[Channel, dict[str, Any], int, str, Audience]:
    """Everything a campaign's settings must satisfy, for a create, an edit and a send alike."""
    channel = deps.channels.get(tenant_id, body.channel_id)
    if channel is None:
        raise UnprocessableError(
            f"no channel {body.channel_id!r} for this tenant",
            code="channel_not_found",
            details=[{"field": "channel_id"}],
        )
    if body.sender not in channel.senders:
        raise UnprocessableError(
            "sender is not one of the channel's senders",
            code="invalid_sender",
            details=[{"field": "sender", "allowed": list(channel.senders)}],
        )
    if body.send_mode == SESSION_MODE:
        if body.routing_target is None:
            raise UnprocessableError(
                "send_mode 'session' needs a routing_target (an extension or a queue)",
                code="invalid_routing_target",
                details=[{"field": "routing_target"}],
            )
        check_routing_target({"type": body.routing_target.type, "id": body.routing_target.id}, "routing_target")
    elif body.routing_target is not None:
        raise UnprocessableError(
            "routing_target goes with send_mode 'session'",
            code="invalid_routing_target",
            details=[{"field": "routing_target"}],
        )
    checked: list[Audience] = []

    def audience() -> Audience:
        # A template's column variables need the audience's columns: its recipients are checked first then.
        if not checked:
            checked.append(check_audience(deps, tenant_id, body.recipients))
        return checked[0]

    content, segments, encoding = _content(deps, tenant_id, body.content, channel, audience)
    return channel, content, segments, encoding, audience()


@dataclass(frozen=True)
class Idempotency:
    """An Idempotency-Key and a digest of the request it came with."""

    key: str
    request_hash: str


def _settings_fields(
    body: CampaignSettings, content: dict[str, Any], segments: int, encoding: str, audience: Audience
) -> dict[str, Any]:
    return {
        "name": body.name,
        "channel_id": body.channel_id,
        "sender": body.sender,
        "content": content,
        "send_mode": body.send_mode,
        "routing_target": (
            {"type": body.routing_target.type, "id": body.routing_target.id} if body.routing_target else None
        ),
        "segments": segments,
        "encoding": encoding,
        "audience": audience.spec,
        "audience_total": audience.total,
    }


def create_campaign(
    deps: Deps, tenant_id: str, command: CreateCampaign, idempotency: Idempotency | None = None
) -> tuple[dict[str, Any], bool]:
    """Validate and store a campaign, and start, schedule or keep it as a draft.

    Returns the campaign and whether it is a replay: a request repeated with the same Idempotency-Key answers the
    campaign the first one created, so a PBX retrying after a timeout never sends a campaign twice.
    """
    _, content, segments, encoding, audience = _check_settings(deps, tenant_id, command.settings)
    now = deps.clock.utcnow()
    now_iso = utc_iso(now)
    scheduled_at = None
    send_time: dict[str, Any] = {"type": command.send_time.type}
    if isinstance(command.send_time, SendScheduled):
        at = parse_schedule(deps, command.send_time)
        scheduled_at = utc_iso(at)
        send_time["at"] = scheduled_at
    status = {"now": CampaignStatus.EXECUTING, "scheduled": CampaignStatus.SCHEDULED, "draft": CampaignStatus.DRAFT}[
        command.send_time.type
    ]
    campaign_id = deps.ids.new("cmp")
    if idempotency is not None:
        try:
            deps.idempotency.claim(
                tenant_id,
                idempotency.key,
                IdempotencyRecord(campaign_id=campaign_id, request_hash=idempotency.request_hash),
                now=deps.clock.now(),
                ttl_seconds=IDEMPOTENCY_SECONDS,
            )
        except IdempotencyKeyTakenError as taken:
            return _replay(deps, tenant_id, taken.record, idempotency), True
    campaign = Campaign(
        campaign_id=campaign_id,
        tenant_id=tenant_id,
        status=status.value,
        **_settings_fields(command.settings, content, segments, encoding, audience),
        send_time=send_time,
        chunk_size=deps.settings.chunk_size,
        dispatch_gen=0,
        version=0,
        created_at=now_iso or "",
        scheduled_at=scheduled_at,
        started_at=now_iso if status == CampaignStatus.EXECUTING else None,
    )
    try:
        stored = deps.campaigns.create(campaign, deps.settings.max_campaigns_per_tenant)
    except Exception:
        if idempotency is not None:
            deps.idempotency.release(tenant_id, idempotency.key, campaign_id)
        raise
    log.info(
        "campaign created",
        extra={"tenant_id": tenant_id, "campaign_id": campaign_id, "status": stored, "recipients": audience.total},
    )
    if stored == CampaignStatus.EXECUTING:
        lifecycle.begin_dispatch(deps, tenant_id, campaign_id, audience.total, 0)
    elif stored == CampaignStatus.SCHEDULED and scheduled_at:
        lifecycle.schedule(deps, tenant_id, campaign_id, scheduled_at)
    return views.get_campaign(deps, tenant_id, campaign_id), False


def _replay(deps: Deps, tenant_id: str, earlier: IdempotencyRecord, idempotency: Idempotency) -> dict[str, Any]:
    if earlier.request_hash != idempotency.request_hash:
        raise UnprocessableError(
            "this Idempotency-Key was used with a different request; use a new key for a new campaign",
            code="idempotency_key_reused",
            details=[{"header": "Idempotency-Key"}],
        )
    if deps.campaigns.get(tenant_id, earlier.campaign_id) is None:
        raise ConflictError(
            "the first request with this Idempotency-Key is still being processed, or its campaign was deleted",
            code="request_in_progress",
            details=[{"header": "Idempotency-Key"}],
        )
    return views.get_campaign(deps, tenant_id, earlier.campaign_id)


# ---------------------------------------------------------------------------------------------- operations
def _draft(deps: Deps, tenant_id: str, campaign_id: str, action: str) -> Campaign:
    return _still_draft(deps.campaigns.get(tenant_id, campaign_id), action)


def _still_draft(campaign: Campaign | None, action: str) -> Campaign:
    """The campaign if it is a draft; 404 or 409 campaign_not_editable if it is not."""
    if campaign is None:
        raise NotFoundError("no such campaign")
    if campaign.status != CampaignStatus.DRAFT:
        raise ConflictError(
            f"only a draft can be {action}; this campaign is {campaign.status}",
            code="campaign_not_editable",
            details=[{"status": campaign.status}],
        )
    return campaign


def update_campaign(deps: Deps, tenant_id: str, campaign_id: str, patch: PatchCampaign) -> dict[str, Any]:
    """Edit a draft: the given fields replace the stored ones and everything is checked again."""
    for _ in range(5):
        campaign = _draft(deps, tenant_id, campaign_id, "edited")
        body = patch.apply(settings_of(campaign))
        _, content, segments, encoding, audience = _check_settings(deps, tenant_id, body)
        fields = _settings_fields(body, content, segments, encoding, audience)
        try:
            deps.campaigns.update_draft(tenant_id, campaign_id, int(campaign.version), fields)
        except CampaignMovedError:
            continue  # edited, sent or deleted meanwhile: read it again and decide again
        return views.get_campaign(deps, tenant_id, campaign_id)
    raise ConcurrencyError("the campaign kept changing while being edited; try again")


def send_campaign(deps: Deps, tenant_id: str, campaign_id: str, body: SendCampaign) -> dict[str, Any]:
    """Send a draft now, or schedule it."""
    campaign = _draft(deps, tenant_id, campaign_id, "sent")
    _, _, _, _, audience = _check_settings(deps, tenant_id, settings_of(campaign))
    version = int(campaign.version)
    if isinstance(body.send_time, SendScheduled):
        scheduled_at = utc_iso(parse_schedule(deps, body.send_time)) or ""
        try:
            deps.campaigns.schedule_draft(tenant_id, campaign_id, version, scheduled_at, audience.total)
        except CampaignMovedError as lost:
            _still_draft(lost.campaign, "sent")
            raise ConcurrencyError("the draft changed while being sent; try again") from lost
        lifecycle.schedule(deps, tenant_id, campaign_id, scheduled_at)
        return views.get_campaign(deps, tenant_id, campaign_id)
    try:
        status = deps.campaigns.start(
            tenant_id,
            campaign_id,
            "draft",
            utc_iso(deps.clock.utcnow()) or "",
            extra={"send_time": {"type": "now"}, "audience_total": audience.total},
        )
    except CampaignMovedError as lost:
        _still_draft(lost.campaign, "sent")
        raise ConcurrencyError("the draft changed while being sent; try again") from lost
    if status == CampaignStatus.EXECUTING:
        lifecycle.begin_dispatch(deps, tenant_id, campaign_id, audience.total, int(campaign.dispatch_gen))
    return views.get_campaign(deps, tenant_id, campaign_id)


def duplicate_campaign(deps: Deps, tenant_id: str, campaign_id: str) -> dict[str, Any]:
    """A new draft with the same settings and recipients (a phonebook is resolved again when it is sent)."""
    source = deps.campaigns.get(tenant_id, campaign_id)
    if source is None:
        raise NotFoundError("no such campaign")
    _recheck_template(deps, tenant_id, source)
    new_id = deps.ids.new("cmp")
    now_iso = utc_iso(deps.clock.utcnow())
    name = source.name if len(source.name) > 193 else f"{source.name} (copy)"
    campaign = Campaign(
        campaign_id=new_id,
        tenant_id=tenant_id,
        status=CampaignStatus.DRAFT.value,
        name=name,
        channel_id=source.channel_id,
        sender=source.sender,
        content=source.content,
        send_mode=source.send_mode,
        routing_target=dict(source.routing_target) if source.routing_target else None,
        segments=source.segments,
        encoding=source.encoding,
        audience=source.audience or {"numbers": [], "upload_id": None, "phonebook": None},
        audience_total=source.size,
        send_time={"type": "draft"},
        chunk_size=deps.settings.chunk_size,
        dispatch_gen=0,
        version=0,
        created_at=now_iso or "",
        duplicated_from=campaign_id,
    )
    deps.campaigns.create(campaign, deps.settings.max_campaigns_per_tenant)
    log.info("campaign duplicated", extra={"campaign_id": new_id, "from": campaign_id})
    return views.get_campaign(deps, tenant_id, new_id)


def retry_campaign(deps: Deps, tenant_id: str, campaign_id: str) -> dict[str, Any]:
    """Resend a finished campaign's failed messages (never to opted-out numbers, never what may have gone out)."""
    campaign = deps.campaigns.get(tenant_id, campaign_id)
    if campaign is None:
        raise NotFoundError("no such campaign")
    status = campaign.status
    if status not in (CampaignStatus.COMPLETED, CampaignStatus.STOPPED):
        raise ConflictError(
            f"only a completed or stopped campaign can be retried; this one is {status}",
            code="campaign_not_retryable",
            details=[{"status": status}],
        )
    _recheck_template(deps, tenant_id, campaign)
    not_before: list[float] = []
    if campaign.audience_written:
        rules = lifecycle.retry_rules(deps, tenant_id, campaign)
        now = deps.clock.now()
        work = 0
        for r in deps.recipients.with_status(campaign_id, [*lifecycle.RETRYABLE_STATUSES, "queued", "sending"]):
            if lifecycle.retryable(r, rules, now) or r.status in ("queued", "sending"):
                work += 1
            elif (at := lifecycle.retryable_from(r, rules)) is not None:
                not_before.append(at)
    else:
        work = int(campaign.audience_total or 0)  # stopped before its audience was written: start it again
    if work == 0 and not_before:
        when = utc_iso(utc_from_epoch(min(not_before)))
        raise ConflictError(
            f"the failed messages may not be sent again yet (the provider refused them for now); retry from {when}",
            code="nothing_to_retry",
            details=[{"retry_from": when, "recipients": len(not_before)}],
        )
    if work == 0:
        raise ConflictError("no message of this campaign failed in a way worth retrying", code="nothing_to_retry")
    retry_gen = int(campaign.retry_gen) + 1
    try:
        started = deps.campaigns.start(
            tenant_id,
            campaign_id,
            status,
            utc_iso(deps.clock.utcnow()) or "",
            to_status=CampaignStatus.RETRYING.value,
            extra={
                "retry_gen": retry_gen,
                "dispatch_gen": int(campaign.dispatch_gen) + 1,
                "dispatched_gen": None,
                "dispatching_at": None,
                "stop_reason": None,
            },
        )
    except CampaignMovedError as lost:
        raise ConflictError("the campaign changed; read it again", code="campaign_busy") from lost
    with contextlib.suppress(CampaignMovedError):  # a sending campaign cannot be deleted: never expected
        deps.campaigns.set_fields(tenant_id, campaign_id, {"completed_at": None})
    log.info("campaign retry", extra={"campaign_id": campaign_id, "status": started, "recipients": work})
    if started == CampaignStatus.RETRYING:
        lifecycle.begin_dispatch(deps, tenant_id, campaign_id, work, int(campaign.dispatch_gen) + 1)
    return views.get_campaign(deps, tenant_id, campaign_id)


def _recheck_template(deps: Deps, tenant_id: str, campaign: Campaign) -> None:
    """A template campaign's template must still be approved (it may have been paused since); 422 if not. Without
    its channel (deleted since) there is nothing to check: the sender stops it with channel_missing."""
    if campaign.content.get("type") != "template" or deps.channels.get(tenant_id, campaign.channel_id) is None:
        return
    template_content.usable_template(deps, tenant_id, campaign.channel_id, str(campaign.content.get("template_id")))


def delete_campaign(deps: Deps, tenant_id: str, campaign_id: str) -> None:
    """Delete a campaign that is not sending, with its schedule, recipients and counters; its place is freed."""
    campaign = deps.campaigns.delete(tenant_id, campaign_id)
    if campaign.status == CampaignStatus.SCHEDULED:
        try:
            deps.scheduler.cancel(campaign_id)
        except Exception:  # noqa: BLE001 - a left-over schedule finds no campaign and does nothing
            log.exception("could not remove the start schedule", extra={"campaign_id": campaign_id})
    if not campaign.audience_written:
        return
    if int(campaign.total or 0) <= deps.settings.inline_dispatch_max:
        deps.recipients.purge(campaign_id)
    else:
        deps.queue.publish_job(Job("purge", tenant_id, campaign_id), f"purge:{campaign_id}")
    log.info("campaign deleted", extra={"campaign_id": campaign_id})
