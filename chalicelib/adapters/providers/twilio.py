"""Twilio SMS/MMS, the whole dialect: limits, credentials, error codes, webhooks, and the account calls (official SDK).

Every Twilio rule the service follows lives here; the services see it only through the port (`base.py`).
"""

from __future__ import annotations

import logging
import re
import ssl
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from chalicelib.adapters.providers.base import (
    ErrorInfo,
    Limits,
    Lookup,
    Outcome,
    SendResult,
    Template,
    TemplateMessage,
    TemplateUpdate,
    WebhookKind,
    WebhookRequest,
)
from chalicelib.adapters.providers.exceptions import connect_failed, exception_chain
from chalicelib.adapters.providers.twilio_http import RewritingTwilioHttpClient
from chalicelib.domain.errors import InvalidRequestError
from chalicelib.domain.events import InboundMessage, Media, PreferenceUpdate, StatusEvent
from chalicelib.domain.model import RecipientStatus

log = logging.getLogger(__name__)

# Twilio error codes and what they mean for the campaign (https://www.twilio.com/docs/api/errors).
# Seconds of a number's rate handed to Twilio ahead of time (it queues them: see Limits.queue_lead_seconds).
QUEUE_LEAD_SECONDS = 5.0
THROTTLED_CODES = frozenset({20429, 14107})  # 20429 too many requests; 14107 SMS send rate limit exceeded
ACCOUNT_CODES = frozenset(
    {
        20003,  # authentication failed: credentials rejected
        20005,  # account not active (suspended or closed)
        20008,  # test credentials cannot do this
        21606,  # the From number is not one of this account's SMS-capable numbers
        30002,  # account suspended
    }
)
# Answers after which Twilio may still have queued the message: never resent before the records are checked.
UNCERTAIN_CODES = frozenset(
    {
        20500,  # internal server error
        20503,  # service unavailable
    }
)
# 30001 "queue overflow" arrives in a 4xx answer when a sender's queue is full: refused, nothing was queued; so does
# 21611 ("this 'From' number has exceeded the maximum number of queued messages": more than its validity period's
# worth is waiting at Twilio). Both mean "slower", never that the recipient cannot be reached.
REFUSED_RETRYABLE_CODES = frozenset({30001, 21611})
# Everything else in 4xx is permanent for the recipient, notably:
# 21211 invalid To number, 21612 cannot route to this number, 21408 region not enabled,
# 21610 recipient unsubscribed (replied STOP), 21614 not a mobile number, 21604 To missing, 21602 body missing,
# 21617 body too long, 21620/21623 media problems, 30007 carrier filtering.

# 21610: the recipient replied STOP to this sender; Twilio refuses every message to them until they reply START.
# A refusal like the others, but never retried: resending cannot reach them, and they asked not to be messaged.
OPTED_OUT_CODES = frozenset({21610})

# Delivery error codes that arrive in status callbacks (and on message records) for undelivered or failed messages.
DELIVERY_ERRORS = {
    "30001": "Queue overflow",  # the sender's queue at Twilio was full
    "21611": "The sender's queue at Twilio is full",
    "30002": "Account suspended",
    "30003": "Unreachable destination handset",  # phone off or out of coverage
    "30004": "Message blocked",  # by the recipient or their carrier
    "30005": "Unknown destination handset",  # the number does not exist at the carrier
    "30006": "Landline or unreachable carrier",
    "30007": "Message filtered by the carrier",  # spam filtering
    "30008": "Unknown error",
    "30034": "Message blocked: sender number not registered (US A2P 10DLC)",
}

# How a Message resource's status maps onto a recipient's (https://www.twilio.com/docs/messaging/api/message-resource).
# accepted/scheduled/queued/sending: Twilio has it and will send it, which is what `sent` means to us.
RECORD_STATUSES = {
    "accepted": "sent",
    "scheduled": "sent",
    "queued": "sent",
    "sending": "sent",
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",
}
# Clocks here and at Twilio are NTP-synced and Twilio stamps whole seconds: a message ours is created no earlier than
# this before our claim. Small on purpose: a wider window could match an earlier campaign's message to the number.
RECORD_SKEW_SECONDS = 5.0
# A lookup reads at most this many messages from our sender to the number (usually a handful).
RECORD_LOOKUP_LIMIT = 200

# A status callback's MessageStatus as a recipient's status (https://www.twilio.com/docs/messaging/guides/track-
# outbound-message-status). queued, accepted, scheduled, sending, canceled, receiving, received: nothing to record for
# a recipient (Twilio has the message and will send it, or the report is not about a message we sent).
CALLBACK_STATUSES = {
    "sent": RecipientStatus.SENT,
    "delivered": RecipientStatus.DELIVERED,
    "read": RecipientStatus.READ,
    "undelivered": RecipientStatus.UNDELIVERED,
    "failed": RecipientStatus.FAILED,
}

# The one list of MIME types Twilio takes for MMS media (https://www.twilio.com/docs/messaging/guides/accepted-mime-
# types: "supported", i.e. transcoded, and "accepted" as they are), lower-cased. The simulator plays Twilio with it.
# Not image/webp: that page lists it for WhatsApp stickers only, not MMS (Twilio fails such a message with 12300).
MMS_CONTENT_TYPES = frozenset(
    t.lower()
    for t in [
        "image/jpeg", "image/jpg", "image/gif", "image/png", "image/bmp", "image/tiff",
        "audio/basic", "audio/L24", "audio/mp4", "audio/mpeg", "audio/ogg", "audio/vorbis", "audio/vnd.rn-realaudio",
        "audio/vnd.wave", "audio/3gpp", "audio/3gpp2", "audio/ac3", "audio/webm", "audio/amr-nb", "audio/amr",
        "audio/aac",
        "video/mpeg", "video/mp4", "video/quicktime", "video/webm", "video/3gpp", "video/3gpp2", "video/3gpp-tt",
        "video/H261", "video/H263", "video/H263-1998", "video/H263-2000", "video/H264",
        "text/vcard", "text/x-vcard", "text/csv", "text/rtf", "text/richtext", "text/calendar", "text/directory",
        "application/pdf", "application/vcard", "application/vnd.apple.pkpass",
    ]
)  # fmt: skip
# "For a media message, the maximum size limit is 5MB" (same page): the media and the text of one message together.
MMS_MAX_BYTES = 5 * 1024 * 1024
MAX_MEDIA_URLS = 10  # MediaUrl may be given up to 10 times
MAX_BODY_CHARS = 1600  # Body: "up to 1,600 characters" (21617 beyond)
# A long code sends 1 message per second (toll-free and short codes more; the channel's mps says so).
DEFAULT_MPS = 1.0
SMS_LIMITS = Limits(
    media_types=MMS_CONTENT_TYPES,
    max_media_bytes=MMS_MAX_BYTES,
    max_media_count=MAX_MEDIA_URLS,
    max_text_chars=MAX_BODY_CHARS,
    segmented=True,
    default_mps=DEFAULT_MPS,
    templates=False,  # Twilio's templates (Content API) are for WhatsApp; an SMS channel has none
    # Twilio queues what a sender is given beyond its rate and sends it at that rate: a few seconds of lead keep that
    # queue from running dry between a sender's wakes, and a pause still holds within seconds.
    queue_lead_seconds=QUEUE_LEAD_SECONDS,
)


# What Twilio could ever accept as an account's credentials; anything else is refused when a channel is saved.
# An Account SID is "AC" and 32 hex digits: Twilio issues them in lower case, and its API reference gives the pattern
# as ^AC[0-9a-fA-F]{32}$, so upper-case hex is accepted too (it is not provably useless).
ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
# The auth token goes into the Authorization header (Basic) and is the HMAC key of webhook signatures. Twilio's are
# 32 hex digits, but only what a header cannot carry is refused, so test and sandbox tokens keep working: printable
# ASCII without spaces (0x21-0x7E), at most 256 characters.
AUTH_TOKEN = re.compile(r"[!-~]{1,256}")


def credential_problems(credentials: Mapping[str, str]) -> list[tuple[str, str]]:
    """The credentials Twilio could never accept, as (field, why) pairs; empty when they are worth trying."""
    problems = []
    if not ACCOUNT_SID.fullmatch(credentials.get("account_sid", "")):
        problems.append(("account_sid", "a Twilio Account SID is 'AC' followed by 32 hexadecimal digits"))
    if not AUTH_TOKEN.fullmatch(credentials.get("auth_token", "")):
        problems.append(
            ("auth_token", "an auth token is 1 to 256 printable ASCII characters, without spaces or control characters")
        )
    return problems


def classify(status: int, code: int | None) -> Outcome:
    """The outcome of an answer Twilio gave with an error status."""
    if code in THROTTLED_CODES or status == 429:
        return Outcome.THROTTLED
    if code in ACCOUNT_CODES or status == 401:
        return Outcome.ACCOUNT
    if code in UNCERTAIN_CODES or status >= 500:
        # A 5xx may come after Twilio created the message (or from a proxy in front of it): not a refusal.
        return Outcome.UNCERTAIN
    if code in REFUSED_RETRYABLE_CODES:
        return Outcome.THROTTLED
    return Outcome.PERMANENT


def error(code: str) -> ErrorInfo:
    """What a Twilio error code (as we store it: its digits) means: for a send refused with it, and for a retry."""
    number = int(code) if code.isascii() and code.isdigit() and len(code) < 10 else None
    return ErrorInfo(
        code=code,
        outcome=classify(400, number),  # the code decides; a status decides only for answers without a known code
        message=DELIVERY_ERRORS.get(code, f"Twilio error {code}"),
        opted_out=number in OPTED_OUT_CODES,
    )


def classify_exception(exc: BaseException) -> SendResult:
    """The outcome of a send that raised instead of answering: did the request provably never leave?"""
    if isinstance(exc, UnicodeError | requests.exceptions.InvalidHeader):
        # The SDK could not even build the request: credentials no HTTP header can carry. Stored before the shape
        # check existed; every send would fail the same way, so it is the account's problem, not the recipient's.
        return SendResult(Outcome.ACCOUNT, error_code="invalid_credentials", error_message=type(exc).__name__)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return SendResult(Outcome.TRANSIENT, error_code="provider_unreachable", error_message="connect timeout")
    if isinstance(exc, requests.exceptions.SSLError):
        if _caused_by(exc, ssl.SSLCertVerificationError):
            return SendResult(Outcome.TRANSIENT, error_code="provider_unreachable", error_message="TLS handshake")
        return SendResult(Outcome.UNCERTAIN, error_code="provider_no_answer", error_message="TLS error")
    if isinstance(exc, requests.exceptions.ConnectionError) and connect_failed(exc):
        # Connection refused, DNS failure: no byte of the request was written.
        return SendResult(Outcome.TRANSIENT, error_code="provider_unreachable", error_message="connection failed")
    if isinstance(exc, requests.exceptions.Timeout):
        return SendResult(Outcome.UNCERTAIN, error_code="provider_timeout", error_message="no answer in time")
    # A reset or closed connection after the request went out, an unreadable answer, anything else: Twilio may
    # have the message. Never a blind resend.
    return SendResult(Outcome.UNCERTAIN, error_code="provider_no_answer", error_message=type(exc).__name__)


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    return any(isinstance(e, kind) for e in exception_chain(exc))


def form_fields(body: bytes) -> tuple[dict[str, str], bool]:
    """A Twilio webhook's form fields, and whether its body was UTF-8 (Twilio's is: percent-encoded UTF-8)."""
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True)), True
    except UnicodeDecodeError:
        # Twilio signs text: the URL, then each field's name and value, sorted, encoded as UTF-8. Bytes that are not
        # UTF-8 become U+FFFD, as parse_qsl already decodes a %-escape that is not UTF-8, so that such a body still
        # meets the signature check first. Not surrogateescape: the validator encodes the text to UTF-8 again and
        # would raise; not latin-1: it would garble a UTF-8 body and break its good signature.
        return dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)), False


def _signed_form(request: WebhookRequest) -> dict[str, str]:
    """The fields of a webhook whose signature was checked; 400 when its body is not UTF-8."""
    fields, utf8 = form_fields(request.body)
    if not utf8:
        # Only now may the body be judged. Signed, yet not UTF-8: not a body Twilio's encoder writes, so it is
        # refused as malformed (400, and Twilio's debugger shows it) rather than kept with replacement characters
        # nobody sent. Nothing is recorded.
        raise InvalidRequestError("the form body is not UTF-8")
    return fields


def parse_status(request: WebhookRequest) -> list[StatusEvent]:
    """A status callback as a status event: MessageStatus (SmsStatus in older ones), MessageSid, ErrorCode."""
    fields = _signed_form(request)
    raw = (fields.get("MessageStatus") or fields.get("SmsStatus") or "").lower()
    status = CALLBACK_STATUSES.get(raw)
    if status is None:
        return []
    sid = fields.get("MessageSid") or fields.get("SmsSid") or None
    code = message = None
    if status in (RecipientStatus.UNDELIVERED, RecipientStatus.FAILED):
        code = fields.get("ErrorCode") or None
        message = error(code or raw).message
    # Twilio's callback says no time of its own (RawDlrDoneDate is the carrier's, minutes only, in no stated zone).
    return [StatusEvent(message_id=sid, status=status, error_code=code, error_message=message)]


def parse_inbound(request: WebhookRequest) -> list[InboundMessage]:
    """An incoming message webhook as an inbound message: MessageSid, From, To, Body, NumMedia and MediaUrl{n}."""
    fields = _signed_form(request)
    count = fields.get("NumMedia", "0")
    media = tuple(
        Media(url=fields[f"MediaUrl{i}"], content_type=fields.get(f"MediaContentType{i}") or None)
        for i in range(int(count) if count.isascii() and count.isdigit() and len(count) < 3 else 0)
        if fields.get(f"MediaUrl{i}")
    )
    return [
        InboundMessage(
            message_id=fields.get("MessageSid") or fields.get("SmsSid") or "",
            from_=fields.get("From", ""),
            to=fields.get("To", ""),
            body=fields.get("Body", ""),
            media=media,
        )
    ]


class TwilioRules:
    """Twilio SMS/MMS, whatever the account (the port's ProviderRules)."""

    name = "twilio"
    title = "Twilio"
    limits = SMS_LIMITS

    def credential_problems(self, credentials: Mapping[str, str]) -> list[tuple[str, str]]:
        """The credentials Twilio could never accept, as (field, why) pairs."""
        return credential_problems(credentials)

    def error(self, code: str) -> ErrorInfo:
        """What a Twilio error code means."""
        return error(code)

    def webhook_path(self, channel_id: str, kind: WebhookKind) -> str:
        """`/webhooks/twilio/{channel_id}/status` (per-message StatusCallback) or `.../inbound` (the number's URL)."""
        return f"/webhooks/twilio/{channel_id}/{kind}"

    def parse_status(self, request: WebhookRequest) -> list[StatusEvent]:
        """A status callback's report (none for statuses that move no recipient)."""
        return parse_status(request)

    def parse_inbound(self, request: WebhookRequest) -> list[InboundMessage]:
        """An incoming message."""
        return parse_inbound(request)

    def parse_template_updates(self, request: WebhookRequest) -> list[TemplateUpdate]:
        """None: Twilio reports template approvals only through the Content API (the next sync)."""
        return []

    def parse_preferences(self, request: WebhookRequest) -> list[PreferenceUpdate]:
        """None: Twilio has no preference webhook (a contact's STOP reaches us as an inbound message, or as 21610)."""
        return []

    def config_problems(self, config: Mapping[str, object] | None, senders: Sequence[str]) -> list[tuple[str, str]]:
        """Twilio needs no provider_config: any given is refused rather than silently ignored."""
        return [("provider_config", "Twilio channels take no provider_config")] if config else []

    def handshake(self, query: Mapping[str, str], credentials: Mapping[str, str]) -> str | None:
        """None: Twilio has no webhook verification handshake."""
        return None


TWILIO_SMS = TwilioRules()


class TwilioProvider(TwilioRules):
    """Sends through one Twilio account."""

    def __init__(self, account_sid: str, auth_token: str, api_base: str | None = None, timeout: float = 10.0) -> None:
        http_client: TwilioHttpClient
        if api_base:
            http_client = RewritingTwilioHttpClient(api_base, timeout=timeout)
        else:
            http_client = TwilioHttpClient(timeout=timeout)
        self._client = Client(account_sid, auth_token, http_client=http_client)
        self._signature = TwilioSignature(auth_token)

    def send(
        self,
        *,
        to: str,
        sender: str,
        text: str | None,
        media_urls: Sequence[str],
        status_callback: str,
        template: TemplateMessage | None = None,
    ) -> SendResult:
        """Create one message; every failure becomes a classified result, never an exception."""
        if template is not None:
            # Nothing leaves: Twilio's templates (Content API) are for WhatsApp senders, not SMS.
            return SendResult.refused(Outcome.PERMANENT, "template_not_supported", "an SMS channel has no templates")
        kwargs: dict[str, Any] = {"to": to, "from_": sender, "status_callback": status_callback}
        if text:
            kwargs["body"] = text
        if media_urls:
            kwargs["media_url"] = list(media_urls)
        try:
            message = self._client.messages.create(**kwargs)
        except TwilioRestException as exc:
            outcome = classify(int(exc.status or 0), int(exc.code) if exc.code is not None else None)
            return SendResult(outcome, error_code=str(exc.code or exc.status), error_message=_short(exc.msg))
        except Exception as exc:  # noqa: BLE001 - requests' errors, the SDK's, anything else on the wire
            result = classify_exception(exc)
            log.warning("twilio send raised %s: %s", type(exc).__name__, result.outcome.value)
            return result
        if not message.sid:
            # A 2xx without a message (an empty or cut body): Twilio may have it, and we have no id to follow.
            return SendResult.uncertain("provider_no_answer", "answer without sid")
        return SendResult.accepted(message.sid)

    def templates(self) -> list[Template]:
        """None: an SMS channel has no templates (`limits.templates` is False)."""
        return []

    def valid(self, request: WebhookRequest) -> bool:
        """True when Twilio signed the webhook with this account's auth token."""
        return self._signature.valid(request)

    def find(self, *, to: str, sender: str, text: str | None, media_count: int, since: float) -> Lookup:
        """Look for our message in the account's Messages list, filtered by `To` and `From`.

        Not filtered by `DateSent`: a message still in the sender's queue at Twilio has no date_sent yet, so that
        filter would call it absent and have it sent twice. Twilio sorts the list by DateSent, so where a queued
        message stands in it is not known: the whole filtered list is read (up to RECORD_LOOKUP_LIMIT), keeping the
        messages created since the claim. Absent is said only when none of those is outbound; one whose text or
        media differ from ours (Twilio altered it, or another campaign's) makes the answer "can't tell".
        """
        return self._lookup(to, sender, (text or "", media_count), since)

    def _lookup(self, to: str, sender: str, content: tuple[str, int] | None, since: float) -> Lookup:
        """`find` for these addresses: `content` is the (text, media count) ours has; None matches any outbound."""
        floor = since - RECORD_SKEW_SECONDS
        matches = []
        others = 0
        read = 0
        try:
            for message in self._client.messages.stream(to=to, from_=sender, limit=RECORD_LOOKUP_LIMIT, page_size=50):
                read += 1
                created = _epoch(message.date_created)
                if created is None or created < floor or not str(message.direction or "").startswith("outbound"):
                    continue
                if content is None or (
                    content[0] == (message.body or "") and int(message.num_media or 0) == content[1]
                ):
                    matches.append((created, message))
                else:
                    others += 1
        except TwilioRestException as exc:
            log.warning("twilio messages list refused: %s", exc.code or exc.status)
            return Lookup(None)
        except Exception as exc:  # noqa: BLE001 - a lookup that fails is asked again later
            log.warning("twilio messages list raised %s", type(exc).__name__)
            return Lookup(None)
        if not matches:
            if others or read >= RECORD_LOOKUP_LIMIT:
                return Lookup(None)  # something was sent there since the claim, or the list was longer than read
            return Lookup(False)
        found = min(matches, key=lambda m: m[0])[1]  # the earliest since the claim is this attempt's
        status = RECORD_STATUSES.get(str(found.status or "").lower(), "sent")
        failed = status in ("failed", "undelivered")
        code = str(found.error_code) if found.error_code and failed else None
        message = self.error(code or status).message if failed else None
        return Lookup(True, message_id=found.sid, status=status, error_code=code, error_message=message)


def _epoch(value: datetime | None) -> float | None:
    return value.timestamp() if isinstance(value, datetime) else None


class TwilioSignature:
    """X-Twilio-Signature checks for one auth token."""

    def __init__(self, auth_token: str) -> None:
        self._validator = RequestValidator(auth_token)

    def valid(self, request: WebhookRequest) -> bool:
        """True when the signature is Twilio's for the URL and the form fields (any body, even one not UTF-8)."""
        if not request.signature:
            return False
        fields, _ = form_fields(request.body)
        return bool(self._validator.validate(request.url, fields, request.signature))


def _short(text: Any, limit: int = 300) -> str:
    value = str(text or "")
    return value if len(value) <= limit else value[: limit - 1] + "…"
