"""Campaign use cases: create, read, list, and the moves of its life (start, dispatch, finish, the tick)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.adapters.dynamo import ACTIVE, DUE
from chalicelib.adapters.queue import Chunk, sender_group
from chalicelib.api.schemas import CampaignIn, SendScheduled, TextContent
from chalicelib.domain.errors import ConflictError, NotFoundError, UnprocessableError
from chalicelib.domain.model import SENDING_STATUSES, CampaignStatus, Result, parse_utc, utc_iso
from chalicelib.domain.phone import check_numbers
from chalicelib.domain.segments import analyze
from chalicelib.services.deps import Deps
from chalicelib.services.logs import log

MAX_TEXT_CHARACTERS = 1600
# How long an Idempotency-Key is remembered.
IDEMPOTENCY_SECONDS = 24 * 3600
MAX_SCHEDULE_AHEAD = timedelta(days=365)
# A sending campaign with no progress for this long is dispatched again (claims make that safe). Longer than the
# queue's visibility timeout, so a chunk still in flight is not doubled for nothing.
STALL_SECONDS = 35 * 60
# A campaign marked sending whose chunks were never put on the queue (its starter died) is dispatched after this.
UNDISPATCHED_GRACE_SECONDS = 60


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


def _audience(deps: Deps, body: CampaignIn) -> list[str]:
    rec = body.recipients
    if rec.upload_id is not None:
        raise UnprocessableError(
            f"no upload {rec.upload_id!r} for this tenant",
            code="upload_not_found",
            details=[{"field": "recipients.upload_id"}],
        )
    if rec.phonebook is not None:
        raise UnprocessableError(
            f"no phonebook {rec.phonebook.id!r} for this tenant",
            code="phonebook_not_found",
            details=[{"field": "recipients.phonebook.id"}],
        )
    check = check_numbers(rec.numbers or [])
    if check.invalid:
        shown = check.invalid[:100]
        raise UnprocessableError(
            f"{len(check.invalid)} recipient number(s) are not valid E.164 phone numbers",
            code="invalid_phone_number",
            details=[{"field": f"recipients.numbers.{i['index']}", **i} for i in shown],
        )
    if not check.valid:
        raise UnprocessableError(
            "the campaign has no recipients", code="no_recipients", details=[{"field": "recipients"}]
        )
    limit = deps.settings.max_recipients_per_campaign
    if len(check.valid) > limit:
        raise UnprocessableError(
            f"the campaign has {len(check.valid)} recipients after removing duplicates; at most {limit} are allowed",
            code="too_many_recipients",
            details=[{"field": "recipients", "count": len(check.valid), "max": limit}],
        )
    return check.valid


def _content(body: CampaignIn, channel: dict[str, Any]) -> tuple[dict[str, Any], int, str]:
    content = body.content
    if not isinstance(content, TextContent):
        if content.type == "template":
            raise UnprocessableError(
                "templates need a WhatsApp channel", code="template_not_supported", details=[{"field": "content.type"}]
            )
        raise UnprocessableError(
            f"no upload {content.upload_id!r} for this tenant",
            code="upload_not_found",
            details=[{"field": "content.upload_id"}],
        )
    if not content.text.strip():
        raise UnprocessableError("content.text is empty", code="content_empty", details=[{"field": "content.text"}])
    characters = len(content.text)
    if characters > MAX_TEXT_CHARACTERS:
        raise UnprocessableError(
            f"the text has {characters} characters; at most {MAX_TEXT_CHARACTERS} are allowed",
            code="content_too_long",
            details=[{"field": "content.text", "length": characters, "max": MAX_TEXT_CHARACTERS}],
        )
    info = analyze(content.text)
    return {"type": "text", "text": content.text}, info.segments, info.encoding


@dataclass(frozen=True)
class Idempotency:
    """An Idempotency-Key and a digest of the request it came with."""

    key: str
    request_hash: str


def create_campaign(
    deps: Deps, tenant_id: str, body: CampaignIn, idempotency: Idempotency | None = None
) -> tuple[dict[str, Any], bool]:
    """Validate, store recipients and the campaign, and start, schedule or keep it as a draft.

    Returns the campaign and whether it is a replay: a request repeated with the same Idempotency-Key answers the
    campaign the first one created, so a PBX retrying after a timeout never sends a campaign twice.
    """
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
    content, segments, encoding = _content(body, channel)
    numbers = _audience(deps, body)
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
        "name": body.name,
        "status": status.value,
        "channel_id": body.channel_id,
        "sender": body.sender,
        "content": content,
        "send_time": send_time,
        "send_mode": body.send_mode,
        "total": len(numbers),
        "segments": segments,
        "encoding": encoding,
        "chunk_size": deps.settings.chunk_size,
        "dispatch_gen": 0,
        "created_at": now_iso,
        "scheduled_at": scheduled_at,
        "started_at": now_iso if status == CampaignStatus.EXECUTING else None,
    }
    try:
        deps.store.put_recipients(campaign_id, tenant_id, body.channel_id, numbers, deps.settings.chunk_size)
        stored = deps.store.create_campaign(campaign, deps.settings.max_campaigns_per_tenant)
    except Exception:
        deps.store.delete_campaign_data(campaign_id)
        if idempotency is not None:
            deps.store.release_idempotency_key(tenant_id, idempotency.key, campaign_id)
        raise
    log.info(
        "campaign created",
        extra={"tenant_id": tenant_id, "campaign_id": campaign_id, "status": stored, "recipients": len(numbers)},
    )
    if stored == CampaignStatus.EXECUTING:
        try:
            dispatch(deps, tenant_id, campaign_id)
        except Exception:  # noqa: BLE001 - the campaign is stored and sending; the tick dispatches it
            log.exception(
                "could not dispatch; the minute tick will dispatch the campaign", extra={"campaign_id": campaign_id}
            )
    elif stored == CampaignStatus.SCHEDULED and scheduled_at:
        try:
            deps.scheduler.schedule_start(tenant_id, campaign_id, datetime.fromisoformat(scheduled_at))
        except Exception:  # noqa: BLE001 - the minute tick starts it all the same
            log.exception(
                "could not create the start schedule; the minute tick will start the campaign",
                extra={"campaign_id": campaign_id},
            )
    return get_campaign(deps, tenant_id, campaign_id), False


def _replay(deps: Deps, tenant_id: str, earlier: dict[str, Any], idempotency: Idempotency) -> dict[str, Any]:
    if earlier.get("request_hash") != idempotency.request_hash:
        raise UnprocessableError(
            "this Idempotency-Key was used with a different request; use a new key for a new campaign",
            code="idempotency_key_reused",
            details=[{"header": "Idempotency-Key"}],
        )
    if deps.store.get_campaign(tenant_id, str(earlier["campaign_id"])) is None:
        raise ConflictError(
            "the first request with this Idempotency-Key is still being processed; retry shortly",
            code="request_in_progress",
            details=[{"header": "Idempotency-Key"}],
        )
    return get_campaign(deps, tenant_id, str(earlier["campaign_id"]))


def view(campaign: dict[str, Any], result: Result) -> dict[str, Any]:
    """A campaign as the API answers it."""
    total = result.total
    return {
        "id": campaign["campaign_id"],
        "name": campaign["name"],
        "status": campaign["status"],
        "channel_id": campaign["channel_id"],
        "sender": campaign["sender"],
        "content": campaign["content"],
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
    }


def get_campaign(deps: Deps, tenant_id: str, campaign_id: str) -> dict[str, Any]:
    """One campaign with its live result figures, or 404."""
    campaign = deps.store.get_campaign(tenant_id, campaign_id)
    if campaign is None:
        raise NotFoundError("no such campaign")
    return view(campaign, Result.from_buckets(deps.store.counters(campaign_id)))


def list_campaigns(deps: Deps, tenant_id: str, status: str | None, limit: int, cursor: str | None) -> dict[str, Any]:
    """A page of the tenant's campaigns, newest first."""
    page = deps.store.list_campaigns(tenant_id, status, limit, cursor)
    items = [view(c, Result.from_buckets(deps.store.counters(c["campaign_id"]))) for c in page.items]
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
    return out


def list_recipients(
    deps: Deps, tenant_id: str, campaign_id: str, status: str | None, limit: int, cursor: str | None
) -> dict[str, Any]:
    """A page of a campaign's per-recipient details."""
    if deps.store.get_campaign(tenant_id, campaign_id, consistent=False) is None:
        raise NotFoundError("no such campaign")
    page = deps.store.list_recipients(campaign_id, status, limit, cursor)
    return {"items": [recipient_view(i) for i in page.items], "next_cursor": page.next_cursor}


# ---------------------------------------------------------------------------------------------- life of a campaign
def dispatch(deps: Deps, tenant_id: str, campaign_id: str) -> None:
    """Put a sending campaign's recipients on the queue in chunks (ranges of indexes, not numbers)."""
    campaign = deps.store.get_campaign(tenant_id, campaign_id)
    if campaign is None or campaign["status"] not in SENDING_STATUSES:
        return
    total = int(campaign["total"])
    size = int(campaign.get("chunk_size") or deps.settings.chunk_size)
    generation = int(campaign.get("dispatch_gen", 0))
    chunks = [
        Chunk(tenant_id, campaign_id, start, min(start + size, total), generation) for start in range(0, total, size)
    ]
    deps.queue.publish(chunks, group=sender_group(campaign), dedup_prefix=f"{campaign_id}:{generation}")
    now = utc_iso(deps.clock.utcnow())
    deps.store.set_campaign_fields(
        tenant_id, campaign_id, {"dispatched_gen": generation, "dispatched_at": now, "progress_at": now}
    )
    log.info("campaign dispatched", extra={"campaign_id": campaign_id, "chunks": len(chunks), "generation": generation})
    if total == 0:
        finish_if_done(deps, tenant_id, campaign_id)


def finish_if_done(deps: Deps, tenant_id: str, campaign_id: str) -> bool:
    """Complete a sending campaign once no recipient is pending, and start the next pending one."""
    result = Result.from_buckets(deps.store.counters(campaign_id))
    if result.pending > 0:
        return False
    finish(deps, tenant_id, campaign_id, CampaignStatus.COMPLETED)
    return True


def finish(
    deps: Deps, tenant_id: str, campaign_id: str, final: CampaignStatus, reason: dict[str, Any] | None = None
) -> None:
    """End a sending campaign (completed or stopped) and hand the tenant's send lock on."""
    if reason:
        deps.store.set_campaign_fields(
            tenant_id, campaign_id, {"stop_reason": reason}, condition_status=["executing", "retrying"]
        )
    next_id = deps.store.finish_campaign(tenant_id, campaign_id, final.value, utc_iso(deps.clock.utcnow()) or "")
    log.info("campaign finished", extra={"campaign_id": campaign_id, "status": final.value, "next": next_id})
    if next_id:
        dispatch(deps, tenant_id, next_id)


def start_scheduled(deps: Deps, tenant_id: str, campaign_id: str) -> str | None:
    """Start a scheduled campaign whose time has come (idempotent: schedule and tick may both call it)."""
    campaign = deps.store.get_campaign(tenant_id, campaign_id)
    if campaign is None or campaign["status"] != CampaignStatus.SCHEDULED:
        return None
    now = deps.clock.utcnow()
    if campaign.get("scheduled_at") and parse_utc(campaign["scheduled_at"]) > now:
        return None
    status = deps.store.start_campaign(tenant_id, campaign_id, "scheduled", utc_iso(now) or "")
    log.info("scheduled campaign started", extra={"campaign_id": campaign_id, "status": status})
    if status == CampaignStatus.EXECUTING:
        dispatch(deps, tenant_id, campaign_id)
    return status


def tick(deps: Deps) -> dict[str, int]:
    """The minute tick: start due campaigns the scheduler missed, finish or revive sending ones."""
    now = deps.clock.utcnow()
    now_iso = utc_iso(now) or ""
    started = finished = revived = 0
    for _, tenant_id, campaign_id in deps.store.indexed_campaigns(DUE, until=now_iso):
        if start_scheduled(deps, tenant_id, campaign_id):
            started += 1
    for _, tenant_id, campaign_id in deps.store.indexed_campaigns(ACTIVE):
        campaign = deps.store.get_campaign(tenant_id, campaign_id)
        if campaign is None or campaign["status"] not in SENDING_STATUSES:
            continue
        if finish_if_done(deps, tenant_id, campaign_id):
            finished += 1
            continue
        if _needs_dispatch(campaign, now):
            if campaign.get("dispatched_gen") is not None:
                deps.store.set_campaign_fields(
                    tenant_id, campaign_id, {"dispatch_gen": int(campaign.get("dispatch_gen", 0)) + 1}
                )
            dispatch(deps, tenant_id, campaign_id)
            revived += 1
    return {"started": started, "finished": finished, "revived": revived}


def _age(stamp: str | None, now: datetime) -> float:
    if not stamp:
        return float("inf")
    return (now - parse_utc(stamp)).total_seconds()


def _needs_dispatch(campaign: dict[str, Any], now: datetime) -> bool:
    if campaign.get("dispatched_gen") is None:
        return _age(campaign.get("started_at"), now) > UNDISPATCHED_GRACE_SECONDS
    return _age(campaign.get("progress_at"), now) > STALL_SECONDS
