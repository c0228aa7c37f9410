"""Provider webhooks: signature first, then forward-only status moves that count exactly once.

Twilio posts one report (a status, or an inbound message) per request to a URL per kind; Meta's one URL per channel
is services/whatsapp_hooks.py, which records each item of its batches with the functions here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from chalicelib.adapters.providers.base import ProviderRules, WebhookKind, WebhookRequest
from chalicelib.domain.channels import Channel
from chalicelib.domain.errors import (
    ConcurrencyError,
    DuplicateInboundError,
    InvalidSignatureError,
    RecipientMovedError,
)
from chalicelib.domain.events import MAX_KEPT_BODY_CHARS, InboundMessage, StatusEvent, bounded, inbound_key
from chalicelib.domain.messages import Job
from chalicelib.domain.model import RecipientStatus, parse_utc, utc_iso
from chalicelib.domain.recipient import Recipient
from chalicelib.services import conversation
from chalicelib.services.deps import Deps
from chalicelib.services.logs import log
from chalicelib.services.providers import rules_of, webhook_url

R = RecipientStatus

MAX_ATTEMPTS = 10
# Channels change rarely and every status callback needs one: keep them this long per Lambda container.
CHANNEL_CACHE_SECONDS = 30.0
_channels: dict[str, tuple[float, str, Channel]] = {}


def channel_of(deps: Deps, channel_id: str) -> tuple[str | None, Channel | None]:
    """The tenant and channel of a webhook's channel id (None, None when unknown), cached briefly per container."""
    hit = _channels.get(channel_id)
    now = deps.clock.now()
    if hit and now - hit[0] < CHANNEL_CACHE_SECONDS:
        return hit[1], hit[2]
    tenant_id = deps.channels.tenant_of(channel_id)
    channel = deps.channels.get(tenant_id, channel_id, consistent=False) if tenant_id else None
    if tenant_id and channel:
        _channels[channel_id] = (now, tenant_id, channel)
    return tenant_id, channel


def forget_channel(channel_id: str) -> None:
    """Drop a channel from this container's cache (it was changed or deleted here)."""
    _channels.pop(channel_id, None)


def verified(
    deps: Deps, channel_id: str, kind: WebhookKind, query: Mapping[str, str], body: bytes, signature: str | None
) -> tuple[str, ProviderRules, WebhookRequest]:
    """The tenant, provider rules and request of a webhook whose signature is good; 403 otherwise, whatever the body."""
    tenant_id, channel = channel_of(deps, channel_id)
    creds = deps.secrets.get(tenant_id, channel_id) if tenant_id and channel else None
    if tenant_id is None or channel is None or creds is None:
        raise InvalidSignatureError("the request is not signed by this channel's provider")
    url = webhook_url(deps, channel, kind)
    if query:
        url += "?" + urlencode(sorted(query.items()))
    request = WebhookRequest(url=url, body=body, signature=signature)
    if not deps.verifier_for(channel, creds).valid(request):
        raise InvalidSignatureError("the request is not signed by this channel's provider")
    return tenant_id, rules_of(deps, channel), request


def record_status(deps: Deps, channel_id: str, query: Mapping[str, str], body: bytes, signature: str | None) -> None:
    """Record a provider's status callback for the recipient its URL names."""
    tenant_id, rules, request = verified(deps, channel_id, "status", query, body, signature)
    for event in rules.parse_status(request):
        record_event(deps, tenant_id, channel_id, query, event)


def record_event(
    deps: Deps,
    tenant_id: str,
    channel_id: str,
    query: Mapping[str, str],
    event: StatusEvent,
    deferred: bool = False,
) -> None:
    """Move the recipient the callback URL's query names (c, r, a, s: we wrote them) as the report says.

    A report that cannot be written now (it keeps losing races, or the table keeps refusing its transaction) is
    never answered with a 2xx unless it is kept: it goes on the send queue (`defer_report`, durable once that
    returns) and is applied from there. Twilio posts a status callback that failed with a 5xx only once by default,
    so a 503 alone could lose it; should the queue refuse it too, the 503 stands. `deferred`: this is that job,
    which raises instead (the queue delivers it again a minute later)."""
    try:
        _apply_event(deps, tenant_id, channel_id, query, event)
    except ConcurrencyError:
        if deferred:
            raise
        campaign_id = query.get("c", "")
        log.warning("status report not applied now", extra={"campaign_id": campaign_id, "index": query.get("r")})
        defer_report(deps, tenant_id, channel_id, campaign_id, query, event)


def _apply_event(deps: Deps, tenant_id: str, channel_id: str, query: Mapping[str, str], event: StatusEvent) -> None:
    target = event.status
    campaign_id, index_raw = query.get("c"), query.get("r", "")
    # Indexes we write have at most 8 digits, campaign ids are short ASCII; anything else is not ours.
    if not campaign_id or not _our_id(campaign_id):
        return
    if not index_raw.isascii() or not index_raw.isdigit() or len(index_raw) > 9:
        return
    index = int(index_raw)
    sid = event.message_id
    now = utc_iso(deps.clock.utcnow()) or ""
    attempt, shard = query.get("a", ""), query.get("s", "")
    # The common report: a message we recorded as sent is delivered. One conditional write, no read; if the
    # recipient is anywhere else, the general path below decides on the recipient as that write found it.
    known: Recipient | None = None
    if target == R.DELIVERED and sid and _small_int(attempt) and _small_int(shard):
        try:
            deps.recipients.deliver_sent(campaign_id, index, int(shard), tenant_id, channel_id, int(attempt), sid, now)
        except RecipientMovedError as lost:
            known = lost.recipient
        else:
            log.info("recipient status", extra={"campaign_id": campaign_id, "index": index, "status": "delivered"})
            conversation.reported(deps, tenant_id, channel_id, campaign_id, index, None, target, event)
            return
    for _ in range(MAX_ATTEMPTS):
        recipient = known if known is not None else deps.recipients.get(campaign_id, index)
        if recipient is None or recipient.channel_id != channel_id or recipient.tenant_id != tenant_id:
            return
        if recipient.provider_message_id and sid and recipient.provider_message_id != sid:
            return  # a report for an earlier attempt's message
        if _small_int(attempt) and int(attempt) != recipient.attempts:
            return  # a report about an earlier attempt, arriving while a retry sends
        allowed = recipient.provider_may_move(target)
        if not (allowed or recipient.disproves_absence(int(attempt) if _small_int(attempt) else None, target)):
            return  # a replay or a late report: never backwards, never twice
        changes = report_changes(recipient, target, sid, event.error_code, now, event.error_message)
        try:
            deps.recipients.move(campaign_id, recipient, target, changes)
        except RecipientMovedError as lost:
            known = lost.recipient  # someone moved it first: decide again on the recipient as they left it
            continue
        log.info("recipient status", extra={"campaign_id": campaign_id, "index": index, "status": target.value})
        conversation.reported(deps, tenant_id, channel_id, campaign_id, index, recipient.number, target, event)
        return
    log.warning("status callback kept losing races", extra={"campaign_id": campaign_id, "index": index})
    raise ConcurrencyError("the report kept losing races with other writes to its recipient; try again")


def defer_report(
    deps: Deps, tenant_id: str, channel_id: str, campaign_id: str, query: Mapping[str, str], event: StatusEvent
) -> None:
    """Keep a status report on the send queue, to be applied by `apply_deferred` (a replay of it is harmless)."""
    data = {
        "channel_id": channel_id,
        "query": {k: str(v) for k, v in query.items() if k in ("a", "c", "r", "s")},
        "message_id": event.message_id,
        "status": event.status.value,
        "error_code": event.error_code,
        "error_message": event.error_message,
        "at": utc_iso(event.at) if event.at is not None else None,
    }
    key = f"report:{campaign_id}:{query.get('r', '')}:{query.get('a', '')}:{event.status.value}:{event.message_id}"
    deps.queue.publish_job(Job("report", tenant_id, campaign_id, data=data), key)
    log.info("status report kept for later", extra={"campaign_id": campaign_id, "index": query.get("r")})


def apply_deferred(deps: Deps, job: Job) -> None:
    """Apply a status report `defer_report` kept; ConcurrencyError when it loses its races again (the queue delivers
    it again a minute later)."""
    data = job.data or {}
    at = data.get("at")
    event = StatusEvent(
        message_id=data.get("message_id"),
        status=RecipientStatus(str(data.get("status"))),
        error_code=data.get("error_code"),
        error_message=data.get("error_message"),
        at=parse_utc(str(at)) if at else None,
    )
    query = {str(k): str(v) for k, v in (data.get("query") or {}).items()}
    record_event(deps, job.tenant_id, str(data.get("channel_id")), query, event, deferred=True)


def report_changes(
    recipient: Recipient,
    target: RecipientStatus,
    sid: str | None,
    error_code: str | None,
    now: str,
    error_message: str | None = None,
) -> dict[str, Any]:
    """What a provider's report of `target` (a status callback, or its message records) sets on a recipient;
    `error_message` is the provider's words for `error_code` (or for `target`, when the report gave no code)."""
    changes: dict[str, Any] = {}
    if recipient.status == R.SENDING:
        changes["claim_token"] = None  # the report settles a hand-over whose answer was lost (or not yet written)
    if sid and not recipient.provider_message_id:
        changes["provider_message_id"] = sid
    if target in (R.SENT, R.DELIVERED, R.READ) and not recipient.sent_at:
        changes["sent_at"] = now
    if target in (R.DELIVERED, R.READ) and not recipient.delivered_at:
        changes["delivered_at"] = now
    if target == R.READ:
        changes["read_at"] = now
    if target in (R.UNDELIVERED, R.FAILED):
        code = error_code or target.value
        changes.update(error_code=code, error_message=error_message or code, failed_at=now)
    elif recipient.error_code:
        changes.update(error_code=None, error_message=None)  # the provider settled an interrupted send
    return changes


def _our_id(raw: str) -> bool:
    """Whether a query value could be an id we wrote (cmp_ and a ULID): printable ASCII, at most 64 characters."""
    return len(raw) <= 64 and raw.isascii() and raw.isprintable()


def _small_int(raw: str) -> bool:
    """Whether a query value is a number we could have written (digits only, a few of them)."""
    return raw.isascii() and raw.isdigit() and len(raw) < 6


def record_inbound(deps: Deps, channel_id: str, query: Mapping[str, str], body: bytes, signature: str | None) -> None:
    """Accept a signed inbound message and keep it (replies, sessions and opt-outs build on what is kept)."""
    tenant_id, rules, request = verified(deps, channel_id, "inbound", query, body, signature)
    for message in rules.parse_inbound(request):
        keep_inbound(deps, tenant_id, channel_id, message)


def keep_inbound(deps: Deps, tenant_id: str, channel_id: str, message: InboundMessage) -> None:
    """Keep one inbound message once, then follow it up (opt-out keywords, the reply's attribution, its session);
    a provider's retry of a message we kept is followed up again, each step idempotent, and answered alike."""
    body, cut = bounded(message.body, MAX_KEPT_BODY_CHARS)
    seen = deps.clock.now()
    kept: dict[str, Any] = {
        "message_sid": inbound_key(message),
        "from": bounded(message.from_)[0],
        "to": bounded(message.to)[0],
        "body": body,
        "num_media": str(len(message.media)),
        "received_at": utc_iso(deps.clock.utcnow()),
        "first_seen": seen,
    }
    if cut:
        kept["body_truncated"] = True
    if kept["message_sid"] != message.message_id:
        kept["provider_message_id"] = bounded(message.message_id)[0]  # too long (or missing) to be the key itself
    if message.context_id:
        kept["context_id"] = bounded(message.context_id)[0]  # the message it replies to (ours: a campaign's)
    if message.button_payload:
        kept["button_payload"] = bounded(message.button_payload)[0]  # a quick reply: mc1:<campaign>:<index>:<button>
    try:
        deps.channels.put_inbound(tenant_id, channel_id, kept)
    except DuplicateInboundError as again:
        # The provider's retry: followed up as of when it first came, so it cannot undo what a later message did.
        seen = again.first_seen if again.first_seen is not None else seen
    _, channel = channel_of(deps, channel_id)
    if channel is not None:
        conversation.inbound(deps, tenant_id, channel, message, seen)
