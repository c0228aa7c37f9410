"""Meta's WhatsApp Cloud API, the whole dialect: limits, credentials, provider_config, error codes, webhooks (status,
inbound, template updates, the verification handshake) and the template states. The account calls (send, templates)
are in whatsapp_cloud_api.py; the services see both only through the port (`base.py`).

Template states (Meta's `status` of a message template, and the `event` of `message_template_status_update`) map onto
ours as follows; Meta's own word is kept in `provider_status`:

- approved: APPROVED; REINSTATED (approved again after a pause or appeal); FLAGGED (low quality, still sendable).
- pending: PENDING, IN_APPEAL, and any state Meta adds later (not sendable yet, nothing to stop).
- rejected: REJECTED (never sendable as it is).
- paused: PAUSED (Meta paused it for low quality; a campaign sending it stops with template_paused).
- disabled: DISABLED, DELETED, PENDING_DELETION, ARCHIVED, LIMIT_EXCEEDED (gone, or never sendable again; a campaign
  sending it stops with template_disabled).

Meta has no per-message callback URL: the status webhook of every message comes to the channel's one webhook, and the
reference we need (campaign, recipient, attempt, shard) travels in `biz_opaque_callback_data`, which Meta echoes in
each status; `parse_status` returns it as `StatusEvent.ref`.

This module imports only the standard library, the port and the domain.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from chalicelib.adapters.providers.base import (
    ErrorInfo,
    Limits,
    Outcome,
    TemplateUpdate,
    WebhookKind,
    WebhookRequest,
)
from chalicelib.domain import templates as tpl
from chalicelib.domain.errors import InvalidRequestError
from chalicelib.domain.events import InboundMessage, Media, PreferenceUpdate, StatusEvent
from chalicelib.domain.model import RecipientStatus
from chalicelib.domain.phone import E164_RE

NAME = "whatsapp_cloud"
TITLE = "WhatsApp"
SIGNATURE_PREFIX = "sha256="

# ------------------------------------------------------------------------------------------------- limits
# Media a template header may carry (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media,
# "Supported media types"): images 5 MB, videos 16 MB (H.264 video and AAC audio), documents 100 MB.
IMAGE_TYPES = frozenset({"image/jpeg", "image/png"})
VIDEO_TYPES = frozenset({"video/mp4", "video/3gpp"})
DOCUMENT_TYPES = frozenset(
    {
        "text/plain",
        "application/pdf",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    }
)
MB = 1024 * 1024
HEADER_MEDIA: dict[str, tuple[frozenset[str], int]] = {
    "image": (IMAGE_TYPES, 5 * MB),
    "video": (VIDEO_TYPES, 16 * MB),
    "document": (DOCUMENT_TYPES, 100 * MB),
}
# A template body is at most 1,024 characters (Meta's template guidelines); free-form text may be 4,096, but a
# campaign sends templates.
MAX_TEMPLATE_CHARS = 1024
# Cloud API throughput: 80 messages per second per business phone number by default (up to 1,000 when upgraded).
DEFAULT_MPS = 80.0
# Pair rate: one message to the same user every 6 seconds per business number (131056 beyond).
PAIR_GAP_SECONDS = 6.0
LIMITS = Limits(
    media_types=IMAGE_TYPES | VIDEO_TYPES | DOCUMENT_TYPES,
    max_media_bytes=100 * MB,
    max_media_count=1,  # a template has at most one media header
    max_text_chars=MAX_TEMPLATE_CHARS,
    segmented=False,
    default_mps=DEFAULT_MPS,
    templates=True,
    pair_gap_seconds=PAIR_GAP_SECONDS,
    header_media=HEADER_MEDIA,
    # 130429 comes for the message that makes any second hold more than the number's throughput. At 97 % of it, the
    # 80 sends of a second span 1.018 s at 80/s: a send up to 18 ms late (a thread woken late, a slow connection)
    # does not make a second hold one too many; at 98 % (8 ms) this machine's jitter drew a 130429 in one run of two,
    # at 97 % none in eight (bench `wasender`).
    rate_share=0.97,
)

# -------------------------------------------------------------------------------------------- credentials
# Every credential travels in an HTTP header (the access token as a Bearer token) or is an HMAC key (the app
# secret) or compared with a query parameter (the verify token): printable ASCII without spaces. Meta's access
# tokens are long (system-user tokens ~200-250 characters, up to 2,048 allowed here), app secrets are 32 hex digits
# (16-128 allowed), a verify token is ours to choose (1-256).
CREDENTIAL_RULES: dict[str, tuple[re.Pattern[str], str]] = {
    "access_token": (
        re.compile(r"[!-~]{16,2048}"),
        "an access token is 16 to 2048 printable ASCII characters, without spaces or control characters",
    ),
    "app_secret": (
        re.compile(r"[!-~]{16,128}"),
        "an app secret is 16 to 128 printable ASCII characters (Meta's are 32 hexadecimal digits)",
    ),
    "verify_token": (
        re.compile(r"[!-~]{1,256}"),
        "a verify token is 1 to 256 printable ASCII characters, without spaces or control characters",
    ),
}
GRAPH_ID = re.compile(r"[0-9]{1,32}")  # WABA and phone number ids are decimal digits


def credential_problems(credentials: Mapping[str, str]) -> list[tuple[str, str]]:
    """The credentials Meta could never accept, as (field, why) pairs (values are never echoed)."""
    problems = []
    for name, (pattern, why) in CREDENTIAL_RULES.items():
        value = credentials.get(name)
        if not isinstance(value, str) or not pattern.fullmatch(value):
            problems.append((name, why))
    return problems


def config_problems(config: Mapping[str, object] | None, senders: Sequence[str]) -> list[tuple[str, str]]:
    """What is wrong with a channel's provider_config: `waba_id` digits, one digits-only phone_number_id per sender."""
    if not isinstance(config, Mapping):
        return [("provider_config", "a WhatsApp Cloud channel needs provider_config with waba_id and phone_number_ids")]
    problems: list[tuple[str, str]] = []
    unknown = sorted(str(k) for k in config if k not in ("waba_id", "phone_number_ids"))
    if unknown:
        problems.append(("provider_config", f"unknown field(s): {', '.join(unknown)}"))
    waba = config.get("waba_id")
    if not isinstance(waba, str) or not GRAPH_ID.fullmatch(waba):
        problems.append(("provider_config.waba_id", "the WhatsApp Business Account id, its decimal digits"))
    ids = config.get("phone_number_ids")
    if not isinstance(ids, Mapping):
        problems.append(("provider_config.phone_number_ids", "an object mapping each sender to its phone number id"))
        return problems
    for sender in senders:
        if sender not in ids:
            problems.append((f"provider_config.phone_number_ids.{sender}", "missing: every sender needs its id"))
    seen: set[str] = set()
    for key, value in ids.items():
        if key not in senders:
            problems.append((f"provider_config.phone_number_ids.{key}", "not one of the channel's senders"))
        elif not isinstance(value, str) or not GRAPH_ID.fullmatch(value):
            problems.append((f"provider_config.phone_number_ids.{key}", "a phone number id is decimal digits"))
        elif value in seen:
            problems.append((f"provider_config.phone_number_ids.{key}", "another sender has this phone number id"))
        else:
            seen.add(value)
    return problems


# ------------------------------------------------------------------------------------------------- errors
# Meta's error codes (https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes), as a send
# refused with them (or a status webhook failed with them) means for a campaign. Unknown codes are permanent refusals.
T, P, A, M = Outcome.THROTTLED, Outcome.PERMANENT, Outcome.ACCOUNT, Outcome.TEMPLATE
TEMPLATE_REJECTED = "template_rejected_by_provider"
ERRORS: dict[str, ErrorInfo] = {
    e.code: e
    for e in [
        # Throttled: back off and try again; never the recipient's failure.
        ErrorInfo("4", T, "API too many calls: the app reached its call rate limit"),  # app-level Graph rate limit
        ErrorInfo("80007", T, "Rate limit issues: the WABA reached its rate limit"),  # WABA-level rate limit
        ErrorInfo("130429", T, "Rate limit hit: the number's throughput was exceeded"),  # over the number's mps
        # 131056: pair rate, 1 message per user per 6 s; also when it fails a status, it may be resent 6 s later.
        ErrorInfo("131056", T, "Pair rate limit hit: too many messages to this user", retry_after_seconds=6.0),
        ErrorInfo("2", T, "API service: temporarily unavailable"),  # downtime or overload; a refusal, try later
        ErrorInfo("131016", T, "Service unavailable"),  # "a service is temporarily unavailable": refused, try later
        ErrorInfo("131057", T, "Account in maintenance mode"),  # e.g. a throughput upgrade: minutes, then fine
        # The account: stop the campaign (every further send would fail the same way).
        ErrorInfo("0", A, "AuthException: the app user could not be authenticated"),
        ErrorInfo("3", A, "API method: capability or permissions issue"),
        ErrorInfo("10", A, "Permission denied"),  # permission not granted or removed
        ErrorInfo("190", A, "Access token has expired"),  # token invalid or expired
        ErrorInfo("200", A, "API permission"),  # 200-299: permission not granted or removed
        ErrorInfo("368", A, "Temporarily blocked for policy violations"),  # the account is restricted
        ErrorInfo("131005", A, "Access denied"),  # the token lacks whatsapp_business_messaging
        ErrorInfo("131031", A, "Business account has been locked"),  # policy or two-step verification failed
        ErrorInfo("131037", A, "The number needs display name approval before sending"),
        ErrorInfo("131042", A, "Business eligibility payment issue"),  # no valid payment method / credit line
        ErrorInfo("131045", A, "Incorrect certificate: the phone number is not registered"),
        ErrorInfo("131048", A, "Spam rate limit hit: the number's quality restricts sending"),  # go on = worse
        ErrorInfo("133010", A, "Phone number not registered on the Cloud API"),
        ErrorInfo("133000", A, "Incomplete deregistration of the phone number"),
        # The template: stop the campaign with a template stop_reason.
        ErrorInfo("132000", M, "Number of parameters does not match the template", stop_reason=TEMPLATE_REJECTED),
        ErrorInfo("132001", M, "Template does not exist (name or language)", stop_reason=TEMPLATE_REJECTED),
        ErrorInfo("132012", M, "Parameter format does not match the template", stop_reason=TEMPLATE_REJECTED),
        ErrorInfo("132015", M, "Template is paused for low quality", stop_reason="template_paused"),
        ErrorInfo("132016", M, "Template is disabled", stop_reason="template_disabled"),
        # Permanent for this recipient (a campaign retry may send again unless said otherwise).
        ErrorInfo("131026", P, "Message undeliverable: not a WhatsApp user or cannot receive it"),
        ErrorInfo(
            "131049",  # per-user marketing limit ("ecosystem engagement"): not now, maybe tomorrow
            P,
            "Meta chose not to deliver this marketing message to maintain healthy ecosystem engagement",
            retry_after_seconds=86400.0,
        ),
        ErrorInfo("131050", P, "The user stopped marketing messages from this business", opted_out=True),
        ErrorInfo("131047", P, "Re-engagement message: more than 24 h since the user last replied"),  # free-form only
        ErrorInfo("131000", P, "Something went wrong"),  # no message id was given: refused, a campaign retry may resend
        ErrorInfo("1", P, "API unknown: invalid request or possible server error"),
        ErrorInfo("100", P, "Invalid parameter"),
        ErrorInfo("131008", P, "Required parameter is missing"),
        ErrorInfo("131009", P, "Parameter value is not valid"),  # e.g. a malformed number
        ErrorInfo("131021", P, "Recipient cannot be the sender"),
        ErrorInfo("131051", P, "Unsupported message type"),
        ErrorInfo("131052", P, "Media download error"),  # an inbound media could not be downloaded
        ErrorInfo("131053", P, "Media upload error: the header media could not be fetched or is unsupported"),
        ErrorInfo("130472", P, "The user's number is part of an experiment"),  # Meta holds marketing back
        ErrorInfo("130497", P, "The business cannot message users in this country"),
        ErrorInfo("132005", P, "Template hydrated text too long"),  # this recipient's values are too long
        ErrorInfo("132007", P, "Template format character policy violated"),  # this recipient's values
        ErrorInfo("132068", P, "Flow is in blocked state"),
        ErrorInfo("135000", P, "Generic user error"),
    ]
}
del T, P, A, M


def error(code: str) -> ErrorInfo:
    """What a Meta error code means (an unknown code, or 200-299 permission codes, as classified here)."""
    info = ERRORS.get(code)
    if info is not None:
        return info
    if code.isascii() and code.isdigit() and len(code) == 3 and 200 <= int(code) <= 299:
        return ErrorInfo(code, Outcome.ACCOUNT, "API permission")  # 200-299: permission not granted or removed
    return ErrorInfo(code, Outcome.PERMANENT, f"WhatsApp error {code}")


# ---------------------------------------------------------------------------------------------- templates
TEMPLATE_STATES = {
    "APPROVED": tpl.APPROVED,
    "REINSTATED": tpl.APPROVED,  # approved again after a pause or an appeal
    "FLAGGED": tpl.APPROVED,  # low quality: still sendable, paused if it does not improve
    "PENDING": tpl.PENDING,
    "IN_APPEAL": tpl.PENDING,
    "REJECTED": tpl.REJECTED,
    "PAUSED": tpl.PAUSED,
    "DISABLED": tpl.DISABLED,
    "DELETED": tpl.DISABLED,
    "PENDING_DELETION": tpl.DISABLED,
    "ARCHIVED": tpl.DISABLED,
    "LIMIT_EXCEEDED": tpl.DISABLED,
}


def template_status(provider_status: str) -> str:
    """One of ours for Meta's template state (see the module docstring); a state Meta adds later is pending."""
    return TEMPLATE_STATES.get(provider_status.upper(), tpl.PENDING)


# ----------------------------------------------------------------------------------------------- webhooks
def webhook_path(channel_id: str, kind: WebhookKind) -> str:
    """`/webhooks/whatsapp/{channel_id}`: one URL for statuses, messages and template updates."""
    return f"/webhooks/whatsapp/{channel_id}"


def handshake(query: Mapping[str, str], credentials: Mapping[str, str]) -> str | None:
    """hub.challenge when `hub.mode` is subscribe and `hub.verify_token` is the channel's (constant time); else None."""
    token = credentials.get("verify_token") or ""
    given = query.get("hub.verify_token")
    challenge = query.get("hub.challenge")
    if query.get("hub.mode") != "subscribe" or not token or not isinstance(given, str) or challenge is None:
        return None
    if not hmac.compare_digest(given.encode("utf-8", "replace"), token.encode("utf-8", "replace")):
        return None
    return challenge


def _body(request: WebhookRequest) -> dict[str, Any]:
    """The webhook's JSON object; 400 when it is not one (after its signature was checked)."""
    try:
        body = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: nested deeper than json can read
        raise InvalidRequestError("the webhook body is not JSON") from None
    if not isinstance(body, dict):
        raise InvalidRequestError("the webhook body is not a JSON object")
    return body


def _values(request: WebhookRequest, field: str) -> Iterator[dict[str, Any]]:
    """Each `entry[].changes[].value` of this field (anything shaped otherwise is skipped, never an error)."""
    for entry in _list(_body(request).get("entry")):
        for change in _list(entry.get("changes") if isinstance(entry, dict) else None):
            if isinstance(change, dict) and change.get("field") == field and isinstance(change.get("value"), dict):
                yield change["value"]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _at(value: Any) -> datetime | None:
    """Meta's timestamps: epoch seconds as a string."""
    raw = _text(value)
    if raw is None or not raw.isascii() or not raw.isdigit() or len(raw) > 11:
        return None
    return datetime.fromtimestamp(int(raw), tz=UTC)


def _e164(digits: Any) -> str:
    """Meta's numbers are digits without '+' (wa_id, display_phone_number may carry spaces or dashes)."""
    raw = _text(digits) or ""
    cleaned = "".join(c for c in raw if c.isascii() and c.isdigit())
    return "+" + cleaned if cleaned else raw


# Statuses that move a recipient; `deleted` (the user deleted it), `warning` (a catalog item) and others do not.
STATUSES = {
    "sent": RecipientStatus.SENT,
    "delivered": RecipientStatus.DELIVERED,
    "read": RecipientStatus.READ,
    "failed": RecipientStatus.FAILED,
}


def parse_status(request: WebhookRequest) -> list[StatusEvent]:
    """Every `statuses[]` item of a messages webhook as a status event (400 for a body that is not a JSON object)."""
    events = []
    for value in _values(request, "messages"):
        for item in _list(value.get("statuses")):
            if not isinstance(item, dict):
                continue
            status = STATUSES.get(str(item.get("status") or "").lower())
            if status is None:
                continue
            code = message = None
            if status == RecipientStatus.FAILED:
                first = _dict(_list(item.get("errors"))[0]) if _list(item.get("errors")) else {}
                code = _text(first.get("code")) or "131000"
                message = _text(first.get("title")) or _text(first.get("message")) or error(code).message
            opaque = item.get("biz_opaque_callback_data")
            ref = dict(parse_qsl(opaque, keep_blank_values=True)) if isinstance(opaque, str) and opaque else None
            events.append(
                StatusEvent(
                    message_id=_text(item.get("id")),
                    status=status,
                    error_code=code,
                    error_message=message,
                    at=_at(item.get("timestamp")),
                    ref=ref or None,
                )
            )
    return events


MEDIA_KINDS = ("image", "video", "document", "audio", "sticker")


def _inbound(value: dict[str, Any], item: dict[str, Any]) -> InboundMessage:
    kind = str(item.get("type") or "")
    part = _dict(item.get(kind))
    body = ""
    payload = None
    media: tuple[Media, ...] = ()
    if kind == "text":
        body = _text(part.get("body")) or ""
    elif kind == "button":  # a template's quick-reply button
        body = _text(part.get("text")) or ""
        payload = _text(part.get("payload"))
    elif kind == "interactive":  # an interactive message's reply button or list row
        reply = _dict(part.get("button_reply")) or _dict(part.get("list_reply"))
        body = _text(reply.get("title")) or ""
        payload = _text(reply.get("id"))
    elif kind in MEDIA_KINDS:
        body = _text(part.get("caption")) or ""
        media_id = _text(part.get("id"))
        # Meta gives a media id, fetched with GET /{media-id} and the access token; it is what we keep as its URL.
        media = (Media(url=media_id, content_type=_text(part.get("mime_type"))),) if media_id else ()
    elif kind == "location":
        place = " ".join(x for x in (_text(part.get("name")), _text(part.get("address"))) if x)
        body = f"{part.get('latitude')},{part.get('longitude')}" + (f" {place}" if place else "")
    elif kind == "reaction":
        body = _text(part.get("emoji")) or ""
    metadata = _dict(value.get("metadata"))
    return InboundMessage(
        message_id=_text(item.get("id")) or "",
        from_=_e164(item.get("from")),
        to=_e164(metadata.get("display_phone_number")),
        body=body,
        media=media,
        at=_at(item.get("timestamp")),
        context_id=_text(_dict(item.get("context")).get("id")),
        button_payload=payload,
    )


def parse_inbound(request: WebhookRequest) -> list[InboundMessage]:
    """Every `messages[]` item of a messages webhook (text, button, interactive, media, location, reaction...)."""
    return [
        _inbound(value, item)
        for value in _values(request, "messages")
        for item in _list(value.get("messages"))
        if isinstance(item, dict) and _text(item.get("id"))
    ]


def parse_template_updates(request: WebhookRequest) -> list[TemplateUpdate]:
    """Every `message_template_status_update` change as a template update."""
    updates = []
    for value in _values(request, "message_template_status_update"):
        template_id = _text(value.get("message_template_id"))
        event = _text(value.get("event"))
        if not template_id or not event:
            continue
        reason = _text(value.get("reason"))
        other = _text(_dict(value.get("other_info")).get("description"))
        updates.append(
            TemplateUpdate(
                template_id=template_id,
                status=template_status(event),
                provider_status=event,
                name=_text(value.get("message_template_name")),
                language=_text(value.get("message_template_language")),
                reason=other or (reason if reason and reason.upper() != "NONE" else None),
            )
        )
    return updates


# Meta's user_preferences values (the only category so far is marketing_messages): stop, or resume.
PREFERENCE_VALUES = {"stop": True, "resume": False}


def parse_preferences(request: WebhookRequest) -> list[PreferenceUpdate]:
    """Every `user_preferences` item of a user_preferences webhook (a user stopped or resumed marketing messages);
    items of another category or value, or without a wa_id, are left out."""
    updates = []
    for value in _values(request, "user_preferences"):
        sender = _e164(_dict(value.get("metadata")).get("display_phone_number")) or None
        for item in _list(value.get("user_preferences")):
            if not isinstance(item, dict):
                continue
            category = (_text(item.get("category")) or "").lower()
            stop = PREFERENCE_VALUES.get((_text(item.get("value")) or "").lower())
            number = _e164(item.get("wa_id"))
            if category != "marketing_messages" or stop is None or not E164_RE.fullmatch(number):
                continue
            updates.append(
                PreferenceUpdate(
                    number=number, stop=stop, category=category, sender=sender, at=_at(item.get("timestamp"))
                )
            )
    return updates


class WhatsAppCloudRules:
    """Meta's WhatsApp Cloud API, whatever the account (the port's ProviderRules)."""

    name = NAME
    title = TITLE
    limits = LIMITS

    def credential_problems(self, credentials: Mapping[str, str]) -> list[tuple[str, str]]:
        """access_token, app_secret and verify_token: each required, each something an HTTP header can carry."""
        return credential_problems(credentials)

    def error(self, code: str) -> ErrorInfo:
        """What a Meta error code means."""
        return error(code)

    def webhook_path(self, channel_id: str, kind: WebhookKind) -> str:
        """The channel's one webhook path, for both kinds."""
        return webhook_path(channel_id, kind)

    def parse_status(self, request: WebhookRequest) -> list[StatusEvent]:
        """The statuses of a messages webhook."""
        return parse_status(request)

    def parse_inbound(self, request: WebhookRequest) -> list[InboundMessage]:
        """The messages of a messages webhook."""
        return parse_inbound(request)

    def parse_template_updates(self, request: WebhookRequest) -> list[TemplateUpdate]:
        """The template state changes of a message_template_status_update webhook."""
        return parse_template_updates(request)

    def parse_preferences(self, request: WebhookRequest) -> list[PreferenceUpdate]:
        """The marketing stop/resume changes of a user_preferences webhook."""
        return parse_preferences(request)

    def config_problems(self, config: Mapping[str, object] | None, senders: Sequence[str]) -> list[tuple[str, str]]:
        """waba_id and one phone_number_id per sender."""
        return config_problems(config, senders)

    def handshake(self, query: Mapping[str, str], credentials: Mapping[str, str]) -> str | None:
        """Meta's subscription handshake."""
        return handshake(query, credentials)


WHATSAPP_CLOUD = WhatsAppCloudRules()


class HubSignature:
    """X-Hub-Signature-256 checks for one app secret: `sha256=` and the hex HMAC-SHA256 of the raw body."""

    def __init__(self, app_secret: str) -> None:
        self._key = app_secret.encode("utf-8")

    def sign(self, body: bytes) -> str:
        """The header value Meta sends for this body."""
        return SIGNATURE_PREFIX + hmac.new(self._key, body, hashlib.sha256).hexdigest()

    def valid(self, request: WebhookRequest) -> bool:
        """True when the signature is this app secret's over the raw body (constant-time compare)."""
        given = request.signature
        if not self._key or not isinstance(given, str) or not given.startswith(SIGNATURE_PREFIX):
            return False
        return hmac.compare_digest(given.strip().lower().encode("ascii", "replace"), self.sign(request.body).encode())
