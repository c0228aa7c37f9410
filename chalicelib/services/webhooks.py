"""Provider webhooks: signature first, then forward-only status moves that count exactly once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from chalicelib.domain.errors import InvalidRequestError, InvalidSignatureError
from chalicelib.domain.model import RecipientStatus, provider_may_move, utc_iso
from chalicelib.services.deps import Deps
from chalicelib.services.logs import log

R = RecipientStatus

TWILIO_STATUSES = {
    "sent": R.SENT,
    "delivered": R.DELIVERED,
    "read": R.READ,
    "undelivered": R.UNDELIVERED,
    "failed": R.FAILED,
}
# queued, accepted, scheduled, sending, canceled, receiving, received: nothing to record for a recipient.

# Delivery error codes that arrive in status callbacks (https://www.twilio.com/docs/api/errors).
TWILIO_DELIVERY_ERRORS = {
    "30001": "Queue overflow",
    "30002": "Account suspended",
    "30003": "Unreachable destination handset",
    "30004": "Message blocked",
    "30005": "Unknown destination handset",
    "30006": "Landline or unreachable carrier",
    "30007": "Message filtered by the carrier",
    "30008": "Unknown error",
    "30034": "Message blocked: sender number not registered (US A2P 10DLC)",
}
MAX_ATTEMPTS = 10
# Channels change rarely and every status callback needs one: keep them this long per Lambda container.
CHANNEL_CACHE_SECONDS = 30.0
_channels: dict[str, tuple[float, str, dict[str, Any]]] = {}


def _channel(deps: Deps, channel_id: str) -> tuple[str | None, dict[str, Any] | None]:
    hit = _channels.get(channel_id)
    now = deps.clock.now()
    if hit and now - hit[0] < CHANNEL_CACHE_SECONDS:
        return hit[1], hit[2]
    tenant_id = deps.store.channel_tenant(channel_id)
    channel = deps.store.get_channel(tenant_id, channel_id, consistent=False) if tenant_id else None
    if tenant_id and channel:
        _channels[channel_id] = (now, tenant_id, channel)
    return tenant_id, channel


def twilio_path(channel_id: str, kind: str) -> str:
    """The path of a channel's Twilio webhook (`status` or `inbound`): what we hand out is what we verify."""
    return f"/webhooks/twilio/{channel_id}/{kind}"


def forget_channel(channel_id: str) -> None:
    """Drop a channel from this container's cache (it was changed or deleted here)."""
    _channels.pop(channel_id, None)


def _twilio_form(body: bytes) -> tuple[list[tuple[str, str]], bool]:
    """A Twilio webhook's form fields, and whether its body was UTF-8 (Twilio's is: percent-encoded UTF-8)."""
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True), True
    except UnicodeDecodeError:
        # Twilio signs text: the URL, then each field's name and value, sorted, encoded as UTF-8. Bytes that are not
        # UTF-8 become U+FFFD, as parse_qsl already decodes a %-escape that is not UTF-8, so that such a body still
        # meets the signature check first. Not surrogateescape: the validator encodes the text to UTF-8 again and
        # would raise; not latin-1: it would garble a UTF-8 body and break its good signature.
        return parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True), False


def _verified_form(
    deps: Deps, channel_id: str, path: str, query: Mapping[str, str], body: bytes, signature: str | None
) -> tuple[str, list[tuple[str, str]]]:
    """The tenant and form fields of a Twilio webhook whose signature is good; 403 otherwise, whatever the body."""
    form, utf8 = _twilio_form(body)
    tenant_id, channel = _channel(deps, channel_id)
    creds = deps.secrets.get(tenant_id, channel_id) if tenant_id and channel else None
    if tenant_id is None or channel is None or creds is None:
        raise InvalidSignatureError("the request is not signed by this channel's provider")
    url = f"{deps.settings.public_base_url}{path}"
    if query:
        url += "?" + urlencode(sorted(query.items()))
    if not deps.verifier_for(channel, creds).valid(url, dict(form), signature):
        raise InvalidSignatureError("the request is not signed by this channel's provider")
    if not utf8:
        # Only now may the body be judged. Signed, yet not UTF-8: not a body Twilio's encoder writes, so it is
        # refused as malformed (400, and Twilio's debugger shows it) rather than kept with replacement characters
        # nobody sent. Nothing is recorded.
        raise InvalidRequestError("the form body is not UTF-8")
    return tenant_id, form


def twilio_status(deps: Deps, channel_id: str, query: Mapping[str, str], body: bytes, signature: str | None) -> None:
    """Record a Twilio status callback for the recipient its URL names."""
    tenant_id, form = _verified_form(deps, channel_id, twilio_path(channel_id, "status"), query, body, signature)
    fields = dict(form)
    target = TWILIO_STATUSES.get((fields.get("MessageStatus") or fields.get("SmsStatus") or "").lower())
    campaign_id, index_raw = query.get("c"), query.get("r", "")
    # Indexes we write have at most 8 digits; anything else is not ours.
    if target is None or not campaign_id or not index_raw.isascii() or not index_raw.isdigit() or len(index_raw) > 9:
        return
    index = int(index_raw)
    sid = fields.get("MessageSid") or fields.get("SmsSid")
    now = utc_iso(deps.clock.utcnow()) or ""
    attempt, shard = query.get("a", ""), query.get("s", "")
    # The common report: a message we recorded as sent is delivered. One conditional write, no read; if the
    # recipient is anywhere else, the general path below reads it and decides.
    if (
        target == R.DELIVERED
        and sid
        and _small_int(attempt)
        and _small_int(shard)
        and deps.store.deliver_sent(campaign_id, index, int(shard), tenant_id, channel_id, int(attempt), sid, now)
    ):
        log.info("recipient status", extra={"campaign_id": campaign_id, "index": index, "status": "delivered"})
        return
    for _ in range(MAX_ATTEMPTS):
        recipient = deps.store.get_recipient(campaign_id, index)
        if recipient is None or recipient.get("channel_id") != channel_id or recipient.get("tenant_id") != tenant_id:
            return
        if recipient.get("provider_message_id") and sid and recipient["provider_message_id"] != sid:
            return  # a report for an earlier attempt's message
        if _small_int(attempt) and int(attempt) != recipient.get("attempts"):
            return  # a report about an earlier attempt, arriving while a retry sends
        current = R(recipient["status"])
        allowed = provider_may_move(current, target, recipient.get("error_code"))
        if not (allowed or _disproves_absence(recipient, attempt, target)):
            return  # a replay or a late report: never backwards, never twice
        changes = report_changes(recipient, target, sid, fields.get("ErrorCode"), now)
        if deps.store.move_recipient(campaign_id, recipient, target, changes):
            log.info("recipient status", extra={"campaign_id": campaign_id, "index": index, "status": target.value})
            return
    log.warning("status callback kept losing races", extra={"campaign_id": campaign_id, "index": index})


def report_changes(
    recipient: Mapping[str, Any], target: RecipientStatus, sid: str | None, error_code: str | None, now: str
) -> dict[str, Any]:
    """What a provider's report of `target` (a status callback, or its message records) sets on a recipient."""
    changes: dict[str, Any] = {}
    if recipient.get("status") == R.SENDING:
        changes["claim_token"] = None  # the report settles a hand-over whose answer was lost (or not yet written)
    if sid and not recipient.get("provider_message_id"):
        changes["provider_message_id"] = sid
    if target in (R.SENT, R.DELIVERED, R.READ) and not recipient.get("sent_at"):
        changes["sent_at"] = now
    if target in (R.DELIVERED, R.READ) and not recipient.get("delivered_at"):
        changes["delivered_at"] = now
    if target == R.READ:
        changes["read_at"] = now
    if target in (R.UNDELIVERED, R.FAILED):
        code = error_code or target.value
        changes.update(
            error_code=code, error_message=TWILIO_DELIVERY_ERRORS.get(code, f"Twilio error {code}"), failed_at=now
        )
    elif recipient.get("error_code"):
        changes.update(error_code=None, error_message=None)  # the provider settled an interrupted send
    return changes


def _disproves_absence(recipient: Mapping[str, Any], attempt: str, target: RecipientStatus) -> bool:
    """A report that Twilio sent this very attempt of a recipient queued again because Twilio's records seemed not to
    have it (released after an uncertain hand-over; a retry's requeue sets last_error): it must not go out again."""
    return (
        recipient.get("status") == R.QUEUED
        and not recipient.get("last_error")
        and _small_int(attempt)
        and 0 < int(attempt) == int(recipient.get("attempts", 0))
        and target in (R.SENT, R.DELIVERED, R.READ)
    )


def _small_int(raw: str) -> bool:
    """Whether a query value is a number we could have written (digits only, a few of them)."""
    return raw.isascii() and raw.isdigit() and len(raw) < 6


def twilio_inbound(deps: Deps, channel_id: str, query: Mapping[str, str], body: bytes, signature: str | None) -> None:
    """Accept a signed inbound message and keep it (replies, sessions and opt-outs build on what is kept)."""
    tenant_id, form = _verified_form(deps, channel_id, twilio_path(channel_id, "inbound"), query, body, signature)
    fields = dict(form)
    deps.store.put_inbound(
        tenant_id,
        channel_id,
        {
            "message_sid": fields.get("MessageSid") or fields.get("SmsSid") or "",
            "from": fields.get("From", ""),
            "to": fields.get("To", ""),
            "body": fields.get("Body", ""),
            "num_media": fields.get("NumMedia", "0"),
            "received_at": utc_iso(deps.clock.utcnow()),
        },
    )
