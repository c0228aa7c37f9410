"""Campaign use cases: create, read, list, edit, send, duplicate, retry, delete, and the moves of its life."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from chalicelib.adapters.blobs import BlobMissingError, upload_key
from chalicelib.adapters.dynamo import ACTIVE, DUE, campaign_pk, recipient_sk
from chalicelib.adapters.providers.base import Limits, ProviderRules
from chalicelib.adapters.queue import Chunk, Job, sender_group
from chalicelib.api.schemas import (
    CampaignIn,
    CampaignPatch,
    Content,
    FileContent,
    Recipients,
    SendIn,
    SendScheduled,
    TemplateContent,
    parse,
)
from chalicelib.domain.errors import (
    AudienceWrittenError,
    CampaignMovedError,
    ConcurrencyError,
    ConflictError,
    NotFoundError,
    UnprocessableError,
)
from chalicelib.domain.model import (
    COUNTER_SHARDS,
    SEND_INTERRUPTED,
    SENDING_STATUSES,
    CampaignStatus,
    Result,
    counter_shard,
    parse_utc,
    utc_iso,
)
from chalicelib.domain.phone import check_numbers
from chalicelib.domain.segments import analyze
from chalicelib.services import phonebooks, uploads
from chalicelib.services.deps import Deps
from chalicelib.services.logs import log
from chalicelib.services.providers import rules_of

# How long an Idempotency-Key is remembered.
IDEMPOTENCY_SECONDS = 24 * 3600
MAX_SCHEDULE_AHEAD = timedelta(days=365)
# A sending campaign with no progress for this long is dispatched again (claims make that safe). Longer than the
# queue's visibility timeout, so a chunk still in flight is not doubled for nothing.
STALL_SECONDS = 35 * 60
# A campaign marked sending whose chunks were never put on the queue (its starter died) is dispatched after this.
UNDISPATCHED_GRACE_SECONDS = 60
# A dispatcher marks its campaign this often while it writes the audience and queues the chunks; one silent for
# DISPATCH_SILENCE_SECONDS has died (its Lambda timed out) and the tick dispatches again. Without the mark, a dispatch
# longer than SQS FIFO's five-minute de-duplication window was started a second time and queued every chunk twice.
HEARTBEAT_SECONDS = 30
DISPATCH_SILENCE_SECONDS = 180


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


# Numbers typed into a campaign are kept on its item; larger lists belong in a CSV upload.
MAX_TYPED_NUMBERS = 10_000
# Errors a retry does not resend, besides those the provider says mean "opted out": the message may have gone out.
NOT_RETRIED = frozenset({SEND_INTERRUPTED})
RETRYABLE_STATUSES = ("failed", "undelivered")


class AudienceGoneError(Exception):
    """What a campaign's audience refers to is gone or no longer fits (found when sending starts)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Audience:
    """Who a campaign goes to: the stored spec (resolved when sending starts) and its size now."""

    spec: dict[str, Any]
    total: int


def _too_many(deps: Deps, count: int) -> None:
    limit = deps.settings.max_recipients_per_campaign
    if count > limit:
        raise UnprocessableError(
            f"the campaign has {count} recipients after removing duplicates; at most {limit} are allowed",
            code="too_many_recipients",
            details=[{"field": "recipients", "count": count, "max": limit}],
        )


def _audience(deps: Deps, tenant_id: str, rec: Recipients) -> Audience:
    """Check who a campaign goes to and count them (duplicates removed); the numbers are resolved at start."""
    typed = rec.numbers or []
    if len(typed) > MAX_TYPED_NUMBERS:
        raise UnprocessableError(
            f"{len(typed)} numbers were typed in; at most {MAX_TYPED_NUMBERS} are allowed (upload larger lists as CSV)",
            code="too_many_recipients",
            details=[{"field": "recipients.numbers", "count": len(typed), "max": MAX_TYPED_NUMBERS}],
        )
    check = check_numbers(typed)
    if check.invalid:
        shown = check.invalid[:100]
        raise UnprocessableError(
            f"{len(check.invalid)} recipient number(s) are not valid E.164 phone numbers",
            code="invalid_phone_number",
            details=[{"field": f"recipients.numbers.{i['index']}", **i} for i in shown],
        )
    if rec.phonebook is not None:
        if typed or rec.upload_id is not None:
            raise UnprocessableError(
                "a phonebook audience cannot be combined with numbers or an upload",
                code="invalid_recipients",
                details=[{"field": "recipients"}],
            )
        book = {"id": rec.phonebook.id, "number_type": rec.phonebook.number_type}
        try:
            entries, _ = _phonebook_entries(deps, tenant_id, book)
        except AudienceGoneError as exc:
            raise UnprocessableError(
                exc.message, code=exc.code, details=[{"field": "recipients.phonebook.id"}]
            ) from exc
        if not entries:
            raise UnprocessableError(
                f"no contact of phonebook {rec.phonebook.id!r} has a {rec.phonebook.number_type} number",
                code="no_recipients",
                details=[{"field": "recipients.phonebook.number_type"}],
            )
        _too_many(deps, len(entries))
        return Audience({"numbers": [], "upload_id": None, "phonebook": book}, len(entries))
    total = len(check.valid)
    if rec.upload_id is not None:
        upload = uploads.ready_upload(deps, tenant_id, rec.upload_id, uploads.CSV, "recipients.upload_id")
        distinct = int(upload["valid"]) - int(upload["duplicates"])
        typed_only = set(check.valid)
        if typed_only:
            for number, _ in uploads.contacts(deps, tenant_id, rec.upload_id):
                typed_only.discard(number)
        total = distinct + len(typed_only)
    if total == 0:
        raise UnprocessableError(
            "the campaign has no recipients", code="no_recipients", details=[{"field": "recipients"}]
        )
    _too_many(deps, total)
    return Audience({"numbers": check.valid, "upload_id": rec.upload_id, "phonebook": None}, total)


def _phonebook_entries(
    deps: Deps, tenant_id: str, book: dict[str, Any]
) -> tuple[list[tuple[str, dict[str, str]]], dict[str, Any]]:
    try:
        found = phonebooks.audience(deps, tenant_id, str(book["id"]), str(book["number_type"]))
    except phonebooks.PhonebookMissingError as exc:
        raise AudienceGoneError("phonebook_not_found", f"no phonebook {book['id']!r} for this tenant") from exc
    seen: set[str] = set()
    entries = []
    for number, variables in found.entries:
        if number not in seen:
            seen.add(number)
            entries.append((number, variables))
    report = {
        "phonebook_contacts": found.contacts,
        "without_number_type": found.without_number_type,
        "duplicates": len(found.entries) - len(entries),
    }
    return entries, report


def _resolve(deps: Deps, tenant_id: str, spec: dict[str, Any]) -> tuple[list[tuple[str, dict[str, str]]], dict]:
    """The campaign's recipients as of now: typed numbers first, then the upload's contacts (or the phonebook's)."""
    if spec.get("phonebook"):
        return _phonebook_entries(deps, tenant_id, spec["phonebook"])
    seen: set[str] = set()
    entries: list[tuple[str, dict[str, str]]] = []
    typed_at: dict[str, int] = {}
    for number in spec.get("numbers") or []:
        if number not in seen:
            seen.add(number)
            typed_at[number] = len(entries)
            entries.append((number, {}))
    duplicates = 0
    if spec.get("upload_id"):
        try:
            for number, variables in uploads.contacts(deps, tenant_id, spec["upload_id"]):
                if number in seen:
                    duplicates += 1
                    at = typed_at.pop(number, None)
                    if at is not None and variables:
                        entries[at] = (number, variables)  # typed and in the CSV: it keeps its CSV columns
                    continue
                seen.add(number)
                entries.append((number, variables))
        except BlobMissingError as exc:
            raise AudienceGoneError("upload_not_found", f"the upload {spec['upload_id']!r} is gone") from exc
    return entries, {"duplicates": duplicates}


def _content(deps: Deps, tenant_id: str, content: Content, channel: dict[str, Any]) -> tuple[dict[str, Any], int, str]:
    if isinstance(content, TemplateContent):
        raise UnprocessableError(
            "templates need a WhatsApp channel", code="template_not_supported", details=[{"field": "content.type"}]
        )
    limits = rules_of(deps, channel).limits
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
    deps: Deps, tenant_id: str, content: FileContent, channel: dict[str, Any]
) -> tuple[dict[str, Any], int, str]:
    """An MMS: the media must be ready and within what the channel's provider accepts, checked now, not at send."""
    upload = uploads.ready_upload(deps, tenant_id, content.upload_id, uploads.MEDIA, "content.upload_id")
    size, content_type = int(upload.get("size", 0)), str(upload.get("content_type", "")).lower()
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
    if upload.get("media_key"):
        # The copy these checks describe, which no PUT to the upload URL can replace: what is sent (internal).
        out["media_key"] = upload["media_key"]
    encoding = analyze(text).encoding if text else "GSM-7"
    # An MMS is one message whatever its text's length.
    return out, 1, encoding


# Content fields the service keeps for itself: never answered, never taken from a request.
_INTERNAL_CONTENT = frozenset({"media_key"})


def public_content(content: dict[str, Any]) -> dict[str, Any]:
    """A campaign's content as the API answers (and takes) it."""
    return {k: v for k, v in content.items() if k not in _INTERNAL_CONTENT}


def media_key_of(tenant_id: str, content: dict[str, Any]) -> str:
    """The object an MMS campaign sends: the copy pinned when its media was checked (or, for a campaign or upload
    stored before media was pinned, the upload's own object)."""
    return str(content.get("media_key") or upload_key(tenant_id, content["upload_id"]))


def _check_settings(
    deps: Deps, tenant_id: str, body: CampaignIn
) -> tuple[dict[str, Any], dict[str, Any], int, str, Audience]:
    """Everything a campaign's settings must satisfy, for a create, an edit and a send alike."""
    channel = deps.store.get_channel(tenant_id, body.channel_id)
    if channel is None:
        raise UnprocessableError(
            f"no channel {body.channel_id!r} for this tenant",
            code="channel_not_found",
            details=[{"field": "channel_id"}],
        )
    if body.sender not in channel["senders"]:
        raise UnprocessableError(
            "sender is not one of the channel's senders",
            code="invalid_sender",
            details=[{"field": "sender", "allowed": channel["senders"]}],
        )
    if body.send_mode != "direct":
        raise UnprocessableError(
            "send_mode 'session' is not available in this deployment yet",
            code="unsupported_send_mode",
            details=[{"field": "send_mode"}],
        )
    if body.routing_target is not None:
        raise UnprocessableError(
            "routing_target goes with send_mode 'session'",
            code="invalid_routing_target",
            details=[{"field": "routing_target"}],
        )
    content, segments, encoding = _content(deps, tenant_id, body.content, channel)
    return channel, content, segments, encoding, _audience(deps, tenant_id, body.recipients)


@dataclass(frozen=True)
class Idempotency:
    """An Idempotency-Key and a digest of the request it came with."""

    key: str
    request_hash: str


def _settings_fields(
    body: CampaignIn, content: dict[str, Any], segments: int, encoding: str, audience: Audience
) -> dict:
    return {
        "name": body.name,
        "channel_id": body.channel_id,
        "sender": body.sender,
        "content": content,
        "send_mode": body.send_mode,
        "segments": segments,
        "encoding": encoding,
        "audience": audience.spec,
        "audience_total": audience.total,
    }


def create_campaign(
    deps: Deps, tenant_id: str, body: CampaignIn, idempotency: Idempotency | None = None
) -> tuple[dict[str, Any], bool]:
    """Validate and store a campaign, and start, schedule or keep it as a draft.

    Returns the campaign and whether it is a replay: a request repeated with the same Idempotency-Key answers the
    campaign the first one created, so a PBX retrying after a timeout never sends a campaign twice.
    """
    _, content, segments, encoding, audience = _check_settings(deps, tenant_id, body)
    now = deps.clock.utcnow()
    now_iso = utc_iso(now)
    scheduled_at = None
    send_time: dict[str, Any] = {"type": body.send_time.type}
    if isinstance(body.send_time, SendScheduled):
        at = parse_schedule(deps, body.send_time)
        scheduled_at = utc_iso(at)
        send_time["at"] = scheduled_at
    status = {"now": CampaignStatus.EXECUTING, "scheduled": CampaignStatus.SCHEDULED, "draft": CampaignStatus.DRAFT}[
        body.send_time.type
    ]
    campaign_id = deps.ids.new("cmp")
    if idempotency is not None:
        earlier = deps.store.claim_idempotency_key(
            tenant_id,
            idempotency.key,
            {"campaign_id": campaign_id, "request_hash": idempotency.request_hash},
            now=deps.clock.now(),
            ttl_seconds=IDEMPOTENCY_SECONDS,
        )
        if earlier is not None:
            return _replay(deps, tenant_id, earlier, idempotency), True
    campaign: dict[str, Any] = {
        "type": "campaign",
        "campaign_id": campaign_id,
        "tenant_id": tenant_id,
        "status": status.value,
        **_settings_fields(body, content, segments, encoding, audience),
        "send_time": send_time,
        "chunk_size": deps.settings.chunk_size,
        "dispatch_gen": 0,
        "version": 0,
        "created_at": now_iso,
        "scheduled_at": scheduled_at,
        "started_at": now_iso if status == CampaignStatus.EXECUTING else None,
    }
    try:
        stored = deps.campaigns.create(campaign, deps.settings.max_campaigns_per_tenant)
    except Exception:
        if idempotency is not None:
            deps.store.release_idempotency_key(tenant_id, idempotency.key, campaign_id)
        raise
    log.info(
        "campaign created",
        extra={"tenant_id": tenant_id, "campaign_id": campaign_id, "status": stored, "recipients": audience.total},
    )
    if stored == CampaignStatus.EXECUTING:
        _begin_dispatch(deps, tenant_id, campaign_id, audience.total, 0)
    elif stored == CampaignStatus.SCHEDULED and scheduled_at:
        _schedule(deps, tenant_id, campaign_id, scheduled_at)
    return get_campaign(deps, tenant_id, campaign_id), False


def _schedule(deps: Deps, tenant_id: str, campaign_id: str, scheduled_at: str) -> None:
    try:
        deps.scheduler.schedule_start(
            tenant_id, campaign_id, datetime.fromisoformat(scheduled_at.replace("Z", "+00:00"))
        )
    except Exception:  # noqa: BLE001 - the minute tick starts it all the same
        log.exception(
            "could not create the start schedule; the minute tick will start the campaign",
            extra={"campaign_id": campaign_id},
        )


def _begin_dispatch(deps: Deps, tenant_id: str, campaign_id: str, size: int, generation: int) -> None:
    """Dispatch a campaign that just started: here when small, else through a job on the queue (no API timeout)."""
    try:
        if size <= deps.settings.inline_dispatch_max:
            dispatch(deps, tenant_id, campaign_id)
        else:
            deps.queue.publish_job(Job("dispatch", tenant_id, campaign_id), f"dispatch:{campaign_id}:{generation}")
    except Exception:  # noqa: BLE001 - the campaign is stored and sending; the tick dispatches it
        log.exception(
            "could not dispatch; the minute tick will dispatch the campaign", extra={"campaign_id": campaign_id}
        )


def _replay(deps: Deps, tenant_id: str, earlier: dict[str, Any], idempotency: Idempotency) -> dict[str, Any]:
    if earlier.get("request_hash") != idempotency.request_hash:
        raise UnprocessableError(
            "this Idempotency-Key was used with a different request; use a new key for a new campaign",
            code="idempotency_key_reused",
            details=[{"header": "Idempotency-Key"}],
        )
    if deps.campaigns.get(tenant_id, str(earlier["campaign_id"])) is None:
        raise ConflictError(
            "the first request with this Idempotency-Key is still being processed, or its campaign was deleted",
            code="request_in_progress",
            details=[{"header": "Idempotency-Key"}],
        )
    return get_campaign(deps, tenant_id, str(earlier["campaign_id"]))


def result_of(deps: Deps, campaign: dict[str, Any]) -> Result:
    """The campaign's figures: its counters once its recipients are written, before that its audience's size."""
    if campaign.get("audience_written"):
        return Result.from_buckets(deps.recipients.counters(campaign["campaign_id"]))
    total = int(campaign.get("audience_total", campaign.get("total", 0)))
    return Result(total=total, pending=total)


def view(campaign: dict[str, Any], result: Result, *, full: bool = True) -> dict[str, Any]:
    """A campaign as the API answers it (`full`: with its recipients' spec, for single-campaign answers)."""
    total = result.total
    out = {
        "id": campaign["campaign_id"],
        "name": campaign["name"],
        "status": campaign["status"],
        "channel_id": campaign["channel_id"],
        "sender": campaign["sender"],
        "content": public_content(campaign["content"]),
        "send_time": campaign["send_time"],
        "send_mode": campaign["send_mode"],
        "routing_target": campaign.get("routing_target"),
        "result": result.as_dict(),
        "responded": int(campaign.get("responded", 0)),
        "response_rate": (int(campaign.get("responded", 0)) / total) if total else 0.0,
        "segments": campaign["segments"],
        "encoding": campaign["encoding"],
        "created_at": campaign["created_at"],
        "scheduled_at": campaign.get("scheduled_at"),
        "started_at": campaign.get("started_at"),
        "completed_at": campaign.get("completed_at"),
        "stop_reason": campaign.get("stop_reason"),
        "audience_report": campaign.get("audience_report"),
    }
    if full:
        spec = campaign.get("audience") or {}
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
    return view(campaign, result_of(deps, campaign))


def list_campaigns(deps: Deps, tenant_id: str, status: str | None, limit: int, cursor: str | None) -> dict[str, Any]:
    """A page of the tenant's campaigns, newest first."""
    page = deps.campaigns.page(tenant_id, status, limit, cursor)
    items = [view(c, result_of(deps, c), full=False) for c in page.items]
    return {"items": items, "next_cursor": page.next_cursor}


RECIPIENT_FIELDS = ("provider_message_id", "sent_at", "delivered_at", "read_at", "responded_at", "session_id")


def recipient_view(item: dict[str, Any]) -> dict[str, Any]:
    """One recipient's details."""
    error = None
    if item.get("error_code"):
        error = {"code": item["error_code"], "message": item.get("error_message", "")}
    out: dict[str, Any] = {
        "number": item["number"],
        "status": item["status"],
        "error": error,
        "attempts": int(item.get("attempts", 0)),
    }
    out.update({f: item.get(f) for f in RECIPIENT_FIELDS})
    out["variables"] = item.get("variables") or {}
    return out


def list_recipients(
    deps: Deps, tenant_id: str, campaign_id: str, status: str | None, limit: int, cursor: str | None
) -> dict[str, Any]:
    """A page of a campaign's per-recipient details (written when sending starts)."""
    if deps.campaigns.get(tenant_id, campaign_id, consistent=False) is None:
        raise NotFoundError("no such campaign")
    page = deps.recipients.page(campaign_id, status, limit, cursor)
    return {"items": [recipient_view(i) for i in page.items], "next_cursor": page.next_cursor}


# ---------------------------------------------------------------------------------------------- operations
def _draft(deps: Deps, tenant_id: str, campaign_id: str, action: str) -> dict[str, Any]:
    return _still_draft(deps.campaigns.get(tenant_id, campaign_id), action)


def _still_draft(campaign: dict[str, Any] | None, action: str) -> dict[str, Any]:
    """The campaign if it is a draft; 404 or 409 campaign_not_editable if it is not."""
    if campaign is None:
        raise NotFoundError("no such campaign")
    if campaign["status"] != CampaignStatus.DRAFT:
        raise ConflictError(
            f"only a draft can be {action}; this campaign is {campaign['status']}",
            code="campaign_not_editable",
            details=[{"status": campaign["status"]}],
        )
    return campaign


def _as_input(campaign: dict[str, Any], changes: dict[str, Any] | None = None) -> CampaignIn:
    """A stored campaign's settings as a create body (with `changes` applied), to check them all again."""
    spec = campaign.get("audience") or {}
    data: dict[str, Any] = {
        "name": campaign["name"],
        "channel_id": campaign["channel_id"],
        "sender": campaign["sender"],
        "recipients": {
            "numbers": list(spec.get("numbers") or []) or None,
            "upload_id": spec.get("upload_id"),
            "phonebook": spec.get("phonebook"),
        },
        "content": public_content(campaign["content"]),
        "send_time": {"type": "draft"},
        "send_mode": campaign["send_mode"],
        "routing_target": campaign.get("routing_target"),
    }
    data.update(changes or {})
    return cast(CampaignIn, parse(CampaignIn, data))


def update_campaign(deps: Deps, tenant_id: str, campaign_id: str, patch: CampaignPatch) -> dict[str, Any]:
    """Edit a draft: the given fields replace the stored ones and everything is checked again."""
    # A null, like a missing field, leaves the setting as it is (as PATCH /v1/channels does).
    changes = {k: v for k, v in patch.model_dump(exclude_unset=True, mode="json").items() if v is not None}
    for _ in range(5):
        campaign = _draft(deps, tenant_id, campaign_id, "edited")
        body = _as_input(campaign, changes)
        _, content, segments, encoding, audience = _check_settings(deps, tenant_id, body)
        fields = _settings_fields(body, content, segments, encoding, audience)
        fields["routing_target"] = None
        try:
            deps.campaigns.update_draft(tenant_id, campaign_id, int(campaign.get("version", 0)), fields)
        except CampaignMovedError:
            continue  # edited, sent or deleted meanwhile: read it again and decide again
        return get_campaign(deps, tenant_id, campaign_id)
    raise ConcurrencyError("the campaign kept changing while being edited; try again")


def send_campaign(deps: Deps, tenant_id: str, campaign_id: str, body: SendIn) -> dict[str, Any]:
    """Send a draft now, or schedule it."""
    campaign = _draft(deps, tenant_id, campaign_id, "sent")
    _, _, _, _, audience = _check_settings(deps, tenant_id, _as_input(campaign))
    version = int(campaign.get("version", 0))
    if isinstance(body.send_time, SendScheduled):
        scheduled_at = utc_iso(parse_schedule(deps, body.send_time)) or ""
        try:
            deps.campaigns.schedule_draft(tenant_id, campaign_id, version, scheduled_at, audience.total)
        except CampaignMovedError as lost:
            _still_draft(lost.campaign, "sent")
            raise ConcurrencyError("the draft changed while being sent; try again") from lost
        _schedule(deps, tenant_id, campaign_id, scheduled_at)
        return get_campaign(deps, tenant_id, campaign_id)
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
        _begin_dispatch(deps, tenant_id, campaign_id, audience.total, int(campaign.get("dispatch_gen", 0)))
    return get_campaign(deps, tenant_id, campaign_id)


def duplicate_campaign(deps: Deps, tenant_id: str, campaign_id: str) -> dict[str, Any]:
    """A new draft with the same settings and recipients (a phonebook is resolved again when it is sent)."""
    source = deps.campaigns.get(tenant_id, campaign_id)
    if source is None:
        raise NotFoundError("no such campaign")
    new_id = deps.ids.new("cmp")
    now_iso = utc_iso(deps.clock.utcnow())
    name = source["name"] if len(source["name"]) > 193 else f"{source['name']} (copy)"
    campaign: dict[str, Any] = {
        "type": "campaign",
        "campaign_id": new_id,
        "tenant_id": tenant_id,
        "status": CampaignStatus.DRAFT.value,
        "name": name,
        **{k: source.get(k) for k in ("channel_id", "sender", "content", "send_mode", "segments", "encoding")},
        "audience": source.get("audience") or {"numbers": [], "upload_id": None, "phonebook": None},
        "audience_total": int(source.get("audience_total", source.get("total", 0))),
        "send_time": {"type": "draft"},
        "chunk_size": deps.settings.chunk_size,
        "dispatch_gen": 0,
        "version": 0,
        "created_at": now_iso,
        "duplicated_from": campaign_id,
    }
    deps.campaigns.create(campaign, deps.settings.max_campaigns_per_tenant)
    log.info("campaign duplicated", extra={"campaign_id": new_id, "from": campaign_id})
    return get_campaign(deps, tenant_id, new_id)


def _retry_rules(deps: Deps, tenant_id: str, campaign: dict[str, Any]) -> ProviderRules | None:
    """The rules of the campaign's provider, which say which failures are opt-outs; None when its channel is gone."""
    channel = deps.store.get_channel(tenant_id, campaign["channel_id"])
    return rules_of(deps, channel) if channel else None


def _retryable(recipient: dict[str, Any], rules: ProviderRules | None) -> bool:
    """A failure worth sending again: not an opt-out at the provider, not one that may have gone out. Without the
    channel (deleted since) nothing can be sent, nor told apart: every failure stays as it is."""
    code = str(recipient.get("error_code"))
    if recipient.get("status") not in RETRYABLE_STATUSES or code in NOT_RETRIED or rules is None:
        return False
    return not rules.error(code).opted_out


def retry_campaign(deps: Deps, tenant_id: str, campaign_id: str) -> dict[str, Any]:
    """Resend a finished campaign's failed messages (never to opted-out numbers, never what may have gone out)."""
    campaign = deps.campaigns.get(tenant_id, campaign_id)
    if campaign is None:
        raise NotFoundError("no such campaign")
    status = campaign["status"]
    if status not in (CampaignStatus.COMPLETED, CampaignStatus.STOPPED):
        raise ConflictError(
            f"only a completed or stopped campaign can be retried; this one is {status}",
            code="campaign_not_retryable",
            details=[{"status": status}],
        )
    if campaign.get("audience_written"):
        rules = _retry_rules(deps, tenant_id, campaign)
        work = sum(
            1
            for r in deps.recipients.with_status(campaign_id, [*RETRYABLE_STATUSES, "queued", "sending"])
            if _retryable(r, rules) or r["status"] in ("queued", "sending")
        )
    else:
        work = int(campaign.get("audience_total", 0))  # stopped before its audience was written: start it again
    if work == 0:
        raise ConflictError("no message of this campaign failed in a way worth retrying", code="nothing_to_retry")
    retry_gen = int(campaign.get("retry_gen", 0)) + 1
    try:
        started = deps.campaigns.start(
            tenant_id,
            campaign_id,
            status,
            utc_iso(deps.clock.utcnow()) or "",
            to_status=CampaignStatus.RETRYING.value,
            extra={
                "retry_gen": retry_gen,
                "dispatch_gen": int(campaign.get("dispatch_gen", 0)) + 1,
                "dispatched_gen": None,
                "dispatching_at": None,
                "stop_reason": None,
            },
        )
    except CampaignMovedError as lost:
        raise ConflictError("the campaign changed; read it again", code="campaign_busy") from lost
    deps.campaigns.set_fields(tenant_id, campaign_id, {"completed_at": None})
    log.info("campaign retry", extra={"campaign_id": campaign_id, "status": started, "recipients": work})
    if started == CampaignStatus.RETRYING:
        _begin_dispatch(deps, tenant_id, campaign_id, work, int(campaign.get("dispatch_gen", 0)) + 1)
    return get_campaign(deps, tenant_id, campaign_id)


def delete_campaign(deps: Deps, tenant_id: str, campaign_id: str) -> None:
    """Delete a campaign that is not sending, with its schedule, recipients and counters; its place is freed."""
    campaign = deps.campaigns.delete(tenant_id, campaign_id)
    if campaign["status"] == CampaignStatus.SCHEDULED:
        try:
            deps.scheduler.cancel(campaign_id)
        except Exception:  # noqa: BLE001 - a left-over schedule finds no campaign and does nothing
            log.exception("could not remove the start schedule", extra={"campaign_id": campaign_id})
    if not campaign.get("audience_written"):
        return
    if int(campaign.get("total", 0)) <= deps.settings.inline_dispatch_max:
        deps.recipients.purge(campaign_id)
    else:
        deps.queue.publish_job(Job("purge", tenant_id, campaign_id), f"purge:{campaign_id}")
    log.info("campaign deleted", extra={"campaign_id": campaign_id})


def run_job(deps: Deps, job: Job) -> None:
    """A job from the send queue."""
    if job.kind == "dispatch":
        dispatch(deps, job.tenant_id, job.campaign_id)
    elif job.kind == "purge":
        deps.recipients.purge(job.campaign_id)
    elif job.kind == "settle":
        from chalicelib.services import settle

        settle.settle_campaign(deps, job.tenant_id, job.campaign_id)
    else:
        log.warning("unknown job dropped", extra={"kind": job.kind, "campaign_id": job.campaign_id})


# ---------------------------------------------------------------------------------------------- life of a campaign
def _materialize(deps: Deps, campaign: dict[str, Any], beat: Callable[[], None]) -> bool:
    """Write a sending campaign's recipients (resolving its phonebook or upload now); False when it had to stop."""
    tenant_id, campaign_id = campaign["tenant_id"], campaign["campaign_id"]
    try:
        entries, report = _resolve(deps, tenant_id, campaign.get("audience") or {})
        limit = deps.settings.max_recipients_per_campaign
        if len(entries) > limit:
            raise AudienceGoneError(
                "too_many_recipients", f"the audience has {len(entries)} recipients now; at most {limit} are allowed"
            )
    except AudienceGoneError as exc:
        log.warning("audience unavailable; stopping", extra={"campaign_id": campaign_id, "code": exc.code})
        finish(deps, tenant_id, campaign_id, CampaignStatus.STOPPED, {"code": exc.code, "message": exc.message})
        return False
    chunk = int(campaign.get("chunk_size") or deps.settings.chunk_size)
    shard_counts = [0] * COUNTER_SHARDS
    pk = campaign_pk(campaign_id)

    def rows() -> Iterator[dict[str, Any]]:
        for index, (number, variables) in enumerate(entries):
            shard = counter_shard(index, chunk)
            shard_counts[shard] += 1
            row = {
                "pk": pk,
                "sk": recipient_sk(index),
                "index": index,
                "number": number,
                "status": "queued",
                "attempts": 0,
                "shard": shard,
                "tenant_id": tenant_id,
                "channel_id": campaign["channel_id"],
            }
            if variables:
                row["variables"] = variables
            yield row

    deps.recipients.create(campaign_id, rows(), on_batch=beat)
    # Another dispatcher may have counted them (the recipients it wrote are the same): its counters stand.
    with contextlib.suppress(AudienceWrittenError):
        deps.campaigns.mark_materialized(tenant_id, campaign_id, shard_counts, report)
    log.info("audience written", extra={"campaign_id": campaign_id, "recipients": len(entries)})
    return True


class _Heartbeat:
    """Marks a campaign as being dispatched (at most every HEARTBEAT_SECONDS), so the tick leaves it alone."""

    def __init__(self, deps: Deps, tenant_id: str, campaign_id: str) -> None:
        self._deps, self._tenant_id, self._campaign_id = deps, tenant_id, campaign_id
        self._last = float("-inf")

    def __call__(self) -> None:
        now = self._deps.clock.now()
        if now - self._last >= HEARTBEAT_SECONDS:
            self._last = now
            stamp = utc_iso(self._deps.clock.utcnow())
            self._deps.campaigns.set_fields(self._tenant_id, self._campaign_id, {"dispatching_at": stamp})


def dispatch(deps: Deps, tenant_id: str, campaign_id: str) -> None:
    """Write a sending campaign's audience if not yet done, and put its recipients on the queue in chunks."""
    campaign = deps.campaigns.get(tenant_id, campaign_id)
    if campaign is None or campaign["status"] not in SENDING_STATUSES:
        return
    # The first mark comes with the first batch written or queued: a small audience (the common case) costs none.
    beat = _Heartbeat(deps, tenant_id, campaign_id)
    if not campaign.get("audience_written"):
        if not _materialize(deps, campaign, beat):
            return
        campaign = deps.campaigns.get(tenant_id, campaign_id)
        if campaign is None or campaign["status"] not in SENDING_STATUSES:
            return
    total = int(campaign["total"])
    size = int(campaign.get("chunk_size") or deps.settings.chunk_size)
    generation = int(campaign.get("dispatch_gen", 0))
    retry_gen = int(campaign.get("retry_gen", 0))
    if campaign["status"] == CampaignStatus.RETRYING and int(campaign.get("retry_dispatched", 0)) < retry_gen:
        todo = _requeue_failures(deps, campaign_id, _retry_rules(deps, tenant_id, campaign))
        chunks = [
            Chunk(tenant_id, campaign_id, part[0], part[-1] + 1, generation, tuple(part))
            for part in (todo[i : i + size] for i in range(0, len(todo), size))
        ]
    else:
        chunks = [
            Chunk(tenant_id, campaign_id, start, min(start + size, total), generation)
            for start in range(0, total, size)
        ]
    deps.queue.publish(chunks, group=sender_group(campaign), dedup_prefix=f"{campaign_id}:{generation}", on_batch=beat)
    now = utc_iso(deps.clock.utcnow())
    deps.campaigns.set_fields(
        tenant_id,
        campaign_id,
        {"dispatched_gen": generation, "dispatched_at": now, "progress_at": now, "retry_dispatched": retry_gen},
    )
    log.info("campaign dispatched", extra={"campaign_id": campaign_id, "chunks": len(chunks), "generation": generation})
    if not chunks:
        finish_if_done(deps, tenant_id, campaign_id)


def _requeue_failures(deps: Deps, campaign_id: str, rules: ProviderRules | None) -> list[int]:
    """Queue a retry's recipients again; returns every index it must send (also those a crashed run requeued)."""
    failed: list[dict[str, Any]] = []
    todo: list[int] = []
    for r in deps.recipients.with_status(campaign_id, [*RETRYABLE_STATUSES, "queued", "sending"]):
        if r["status"] in ("queued", "sending"):
            todo.append(int(r["index"]))
        elif _retryable(r, rules):
            failed.append(r)
    todo.extend(deps.recipients.requeue(campaign_id, failed))
    return sorted(todo)


def finish_if_done(deps: Deps, tenant_id: str, campaign_id: str) -> bool:
    """Complete a sending campaign once no recipient is pending, and start the next pending one."""
    return _finish_if_done(deps, deps.campaigns.get(tenant_id, campaign_id))


def _finish_if_done(deps: Deps, campaign: dict[str, Any] | None) -> bool:
    """finish_if_done for a campaign item the caller has just read."""
    if campaign is None or campaign["status"] not in SENDING_STATUSES:
        return False
    tenant_id, campaign_id = campaign["tenant_id"], campaign["campaign_id"]
    if not campaign.get("audience_written") or int(campaign.get("retry_dispatched", 0)) < int(
        campaign.get("retry_gen", 0)
    ):
        return False  # its recipients (or a retry's) are not queued yet: nothing pending only means nothing written
    result = Result.from_buckets(deps.recipients.counters(campaign_id))
    if result.pending > 0:
        return False
    finish(deps, tenant_id, campaign_id, CampaignStatus.COMPLETED)
    return True


def finish(
    deps: Deps, tenant_id: str, campaign_id: str, final: CampaignStatus, reason: dict[str, Any] | None = None
) -> None:
    """End a sending campaign (completed or stopped) and hand the tenant's send lock on."""
    if reason:
        # If it finished meanwhile, finishing it below does nothing either.
        with contextlib.suppress(CampaignMovedError):
            deps.campaigns.set_fields(
                tenant_id, campaign_id, {"stop_reason": reason}, condition_status=["executing", "retrying"]
            )
    next_id = deps.campaigns.finish(tenant_id, campaign_id, final.value, utc_iso(deps.clock.utcnow()) or "")
    log.info("campaign finished", extra={"campaign_id": campaign_id, "status": final.value, "next": next_id})
    if next_id:
        nxt = deps.campaigns.get(tenant_id, next_id) or {}
        _begin_dispatch(deps, tenant_id, next_id, int(nxt.get("audience_total", 0)), int(nxt.get("dispatch_gen", 0)))


def start_scheduled(deps: Deps, tenant_id: str, campaign_id: str) -> str | None:
    """Start a scheduled campaign whose time has come (idempotent: schedule and tick may both call it)."""
    campaign = deps.campaigns.get(tenant_id, campaign_id)
    if campaign is None or campaign["status"] != CampaignStatus.SCHEDULED:
        return None
    now = deps.clock.utcnow()
    if campaign.get("scheduled_at") and parse_utc(campaign["scheduled_at"]) > now:
        return None
    try:
        status: str | None = deps.campaigns.start(tenant_id, campaign_id, "scheduled", utc_iso(now) or "")
    except CampaignMovedError:
        status = None  # the schedule and the tick both started it; the other one did
    log.info("scheduled campaign started", extra={"campaign_id": campaign_id, "status": status})
    if status == CampaignStatus.EXECUTING:
        _begin_dispatch(deps, tenant_id, campaign_id, int(campaign.get("audience_total", 0)), 0)
    return status


def tick(deps: Deps) -> dict[str, int]:
    """The minute tick: start due campaigns the scheduler missed, finish, settle or revive sending ones."""
    from chalicelib.services import settle

    now = deps.clock.utcnow()
    now_iso = utc_iso(now) or ""
    started = finished = revived = settling = 0
    for _, tenant_id, campaign_id in deps.campaigns.indexed(DUE, until=now_iso):
        if start_scheduled(deps, tenant_id, campaign_id):
            started += 1
    for _, tenant_id, campaign_id in deps.campaigns.indexed(ACTIVE):
        campaign = deps.campaigns.get(tenant_id, campaign_id)
        if campaign is None or campaign["status"] not in SENDING_STATUSES:
            continue
        if _finish_if_done(deps, campaign):
            finished += 1
            continue
        if settle.queue_if_due(deps, tenant_id, campaign_id):
            settling += 1
        if _needs_dispatch(campaign, now):
            generation = int(campaign.get("dispatch_gen", 0))
            if campaign.get("dispatched_gen") is not None:
                generation += 1
                deps.campaigns.set_fields(tenant_id, campaign_id, {"dispatch_gen": generation})
            # Through the queue: a job's message group runs one dispatch of a campaign at a time, and FIFO
            # de-duplication drops a repeat while the first (writing a large audience) is still running.
            deps.queue.publish_job(Job("dispatch", tenant_id, campaign_id), f"dispatch:{campaign_id}:{generation}")
            revived += 1
    return {"started": started, "finished": finished, "revived": revived, "settling": settling}


def _age(stamp: str | None, now: datetime) -> float:
    if not stamp:
        return float("inf")
    return (now - parse_utc(stamp)).total_seconds()


def _needs_dispatch(campaign: dict[str, Any], now: datetime) -> bool:
    if campaign.get("dispatched_gen") is None:
        if campaign.get("dispatching_at"):
            # A dispatcher is (or was) writing a large audience: only one silent for a while has died.
            return _age(campaign["dispatching_at"], now) > DISPATCH_SILENCE_SECONDS
        return _age(campaign.get("started_at"), now) > UNDISPATCHED_GRACE_SECONDS
    return _age(campaign.get("progress_at"), now) > STALL_SECONDS
