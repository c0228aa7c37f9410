"""Twilio WhatsApp, the whole dialect: what differs from Twilio SMS (twilio.py), whose webhooks, signature,
credentials and message records it shares.

Addressing: the service stores and shows senders and recipients as plain E.164; this module sends
`From=whatsapp:+E164`, `To=whatsapp:+E164`, looks records up with those addresses, and strips the prefix from every
report and inbound message it parses.

Templates are Twilio's Content API (`content.twilio.com/v1/ContentAndApprovals`, through the SDK's `content.v1`):
a send is `ContentSid` (the template's HX sid) and `ContentVariables` (a JSON object of the values). A template's
WhatsApp approval state maps onto ours:

    approved -> approved
    pending, received (submitted, Meta has not decided), unsubmitted (never sent to Meta for approval) -> pending
    rejected -> rejected
    paused -> paused
    disabled -> disabled
    anything else (a state Twilio adds later) -> pending: never usable until Twilio says approved

What Twilio's Content templates cannot carry, so this provider says it up front:
- a media header whose file is ours per campaign: a `twilio/media` template fixes its media URL when it is approved
  (only a variable suffix of a fixed URL may change), so an upload's URL cannot be passed. `limits.header_media` is
  empty: the campaign refuses such a template on this channel with a 422 instead of failing every recipient.
- a quick-reply payload per recipient: a `twilio/quick-reply` button's `id` is fixed in the template. The inbound
  webhook of a press carries that id as `ButtonPayload` (InboundMessage.button_payload, not one of our `mc1:`
  payloads) and the sid of the message it answers as `OriginalRepliedMessageSid` (InboundMessage.context_id), by which
  the press is attributed to its campaign message directly.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from twilio.base.exceptions import TwilioException, TwilioRestException

from chalicelib.adapters.providers import twilio
from chalicelib.adapters.providers.base import (
    ErrorInfo,
    Limits,
    Lookup,
    Outcome,
    SendResult,
    Template,
    TemplateMessage,
    WebhookRequest,
)
from chalicelib.domain import templates as tpl
from chalicelib.domain.errors import ProviderRefusedError, ProviderUnavailableError
from chalicelib.domain.events import InboundMessage, StatusEvent

log = logging.getLogger(__name__)

PREFIX = "whatsapp:"
DAY = 86400.0


def address(number: str) -> str:
    """A plain E.164 number as Twilio addresses it on WhatsApp (`whatsapp:+E164`)."""
    return number if number.startswith(PREFIX) else PREFIX + number


def plain(value: str) -> str:
    """A Twilio WhatsApp address as the service stores numbers (the `whatsapp:` prefix stripped)."""
    return value[len(PREFIX) :] if value.startswith(PREFIX) else value


# Twilio's WhatsApp error codes (https://www.twilio.com/docs/api/errors; Meta's codes they relay in brackets, from
# Twilio's "Corresponding Twilio and WhatsApp error codes"). Most arrive in a `failed` status callback after Twilio
# accepted the message; a few refuse the create call. Any code not here is classified as for SMS (twilio.py).
WHATSAPP_ERRORS: dict[int, ErrorInfo] = {
    # 63016: outside the 24 h customer service window, free-form only (Meta 131047/470). A template sent as Body,
    # or content Twilio sends as free-form because WhatsApp has not approved it, fails the same way.
    63016: ErrorInfo("63016", Outcome.PERMANENT, "Outside the allowed window: a WhatsApp message template is needed"),
    # 63024: "Invalid message recipient": not a WhatsApp user, terms not accepted, client too old (Meta 131026).
    63024: ErrorInfo("63024", Outcome.PERMANENT, "Invalid message recipient (not a WhatsApp user)"),
    # 63003: "Channel could not find To address": the To is inactive or invalid on WhatsApp.
    63003: ErrorInfo("63003", Outcome.PERMANENT, "Channel could not find the To address"),
    # 63049: "Meta chose not to deliver this WhatsApp marketing message" (Meta 131049, per-user marketing limits, and
    # every US recipient since April 2025). Not now: a campaign retry may send it again a day later, not sooner.
    63049: ErrorInfo(
        "63049", Outcome.PERMANENT, "Meta chose not to deliver this marketing message", retry_after_seconds=DAY
    ),
    # 63014: "Channel message blocked by user action": the recipient blocked the business or withdrew consent
    # (stopped its marketing messages, Meta 131050). An opt-out: never retried, the number goes on the list.
    63014: ErrorInfo("63014", Outcome.PERMANENT, "Blocked by the recipient (opted out)", opted_out=True),
    # 63032: "cannot send this message to this user because of a WhatsApp limitation" (Meta 472/130472: the user
    # is in one of Meta's marketing experiments). The recipient's failure, not an opt-out they asked for.
    63032: ErrorInfo("63032", Outcome.PERMANENT, "WhatsApp limitation for this user"),
    # 63018: "Rate limit exceeded for Channel": the sender's WhatsApp messaging or throughput limit (Meta 429/471/
    # 1015, and the pair rate 131056 as Twilio relays it). Back off; never the recipient's failure.
    63018: ErrorInfo("63018", Outcome.THROTTLED, "Rate limit exceeded for the WhatsApp sender"),
    # 63017: "Rate limit exceeded": the account's combined rate (2,000 mps). Back off.
    63017: ErrorInfo("63017", Outcome.THROTTLED, "Rate limit exceeded for the account"),
    # 63038: "Account exceeded the daily messages limit" (rolling 24 h): nothing more goes today.
    63038: ErrorInfo("63038", Outcome.ACCOUNT, "Account exceeded the daily messages limit"),
    # 63007: "Twilio could not find a Channel with the specified From address": the sender is not (or not yet) a
    # WhatsApp sender of this account. Every message of the campaign would fail alike: stop it.
    63007: ErrorInfo("63007", Outcome.ACCOUNT, "The sender is not a WhatsApp sender of this account"),
    # 63005: "Channel did not accept given content" (Meta 1000, a generic refusal of this message's content).
    63005: ErrorInfo("63005", Outcome.PERMANENT, "WhatsApp did not accept the message's content"),
    # 63041: "Template paused" (its quality dropped; Meta 132015). Stop the campaign; retry resumes it.
    63041: ErrorInfo("63041", Outcome.TEMPLATE, "The template is paused", stop_reason="template_paused"),
    # 63042: the template is disabled (Meta 132016). 63042 and 63040 are the codes other Twilio integrations read
    # for a disabled and a rejected template (Twilio's dictionary names 63041 "Template paused").
    63042: ErrorInfo("63042", Outcome.TEMPLATE, "The template is disabled", stop_reason="template_disabled"),
    # 63040: the template was rejected by WhatsApp.
    63040: ErrorInfo("63040", Outcome.TEMPLATE, "The template was rejected", stop_reason="template_not_approved"),
    # 63027: "Template does not exist for a language and locale" (Meta 2001/2003, 132001).
    63027: ErrorInfo("63027", Outcome.TEMPLATE, "The template does not exist in this language", stop_reason=None),
    # 63028: "Number of parameters provided does not match the expected number of parameters" (Meta 2000, 132000).
    63028: ErrorInfo(
        "63028", Outcome.TEMPLATE, "The template's parameters do not match", stop_reason="template_variables_mismatch"
    ),
    # 63029: "The receiver failed to render the template's parameters" (Meta 2002, 132012: parameter format).
    63029: ErrorInfo("63029", Outcome.TEMPLATE, "The template's parameters were refused", stop_reason=None),
    # 21655: "The ContentSid is Invalid": deleted, another account's, or a typo. Every send of it fails.
    21655: ErrorInfo(
        "21655", Outcome.TEMPLATE, "The template (ContentSid) does not exist", stop_reason="template_gone"
    ),
    # 21656: "The ContentVariables Parameter is invalid" (not a JSON object of strings).
    21656: ErrorInfo("21656", Outcome.TEMPLATE, "The template's variables were refused", stop_reason=None),
    # 21910: "Invalid From and To pair": From and To of different channels (a `whatsapp:` prefix missing).
    21910: ErrorInfo("21910", Outcome.ACCOUNT, "From and To are not of the same channel"),
}

# What Twilio's Content API calls a template's WhatsApp approval state, as ours (see the module docstring).
APPROVAL_STATES = {
    "approved": tpl.APPROVED,
    "pending": tpl.PENDING,
    "received": tpl.PENDING,
    "unsubmitted": tpl.PENDING,
    "rejected": tpl.REJECTED,
    "paused": tpl.PAUSED,
    "disabled": tpl.DISABLED,
}

# WhatsApp's media rules as Twilio passes them on (https://www.twilio.com/docs/whatsapp/guidance-whatsapp-media-
# messages): images JPEG/PNG up to 5 MB, audio, video MP4 (H.264 + AAC) up to 16 MB, documents (PDF and office
# files) up to 100 MB; Twilio's own limit for any one media message is 16 MB. A session message takes one file.
WHATSAPP_MEDIA_TYPES = frozenset(
    {
        "image/jpeg", "image/png", "image/webp",
        "audio/aac", "audio/mp4", "audio/mpeg", "audio/amr", "audio/ogg",
        "video/mp4", "video/3gpp",
        "application/pdf", "application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "text/plain", "text/vcard",
    }
)  # fmt: skip
WHATSAPP_LIMITS = Limits(
    media_types=WHATSAPP_MEDIA_TYPES,
    max_media_bytes=16 * 1024 * 1024,
    max_media_count=1,
    max_text_chars=1600,  # Twilio's Body limit holds on WhatsApp too (a template's own text is 1,024)
    segmented=False,  # one WhatsApp message whatever its length
    default_mps=80.0,  # "each WhatsApp sender supports up to 80 messages per second" (Twilio's WhatsApp FAQ)
    templates=True,
    # Meta's pair rate (one message per user per 6 s, Meta 131056) holds through Twilio, which relays it as 63018.
    pair_gap_seconds=6.0,
    # Empty: a Content template's media header cannot take our file (see the module docstring).
    header_media={},
    queue_lead_seconds=twilio.QUEUE_LEAD_SECONDS,  # Twilio queues WhatsApp messages too
)

# A Content type's media URL by file extension, as the header type the contract names.
_HEADER_BY_EXTENSION = {
    "jpg": "image",
    "jpeg": "image",
    "png": "image",
    "mp4": "video",
    "3gp": "video",
    "pdf": "document",
}
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
# The Content types whose body we show, in the order a template's types are read.
_BODY_TYPES = ("twilio/quick-reply", "twilio/call-to-action", "twilio/card", "twilio/media", "twilio/text")
_BUTTON_TYPES = {"QUICK_REPLY": "quick_reply", "URL": "url", "PHONE_NUMBER": "phone_number", "PHONE": "phone_number"}
TEMPLATE_PAGE_SIZE = 100  # ContentAndApprovals pages (the SDK follows meta.next_page_url)


def error(code: str) -> ErrorInfo:
    """What a Twilio error code means on WhatsApp (a code WhatsApp does not change: as for SMS)."""
    number = int(code) if code.isascii() and code.isdigit() and len(code) < 10 else None
    known = WHATSAPP_ERRORS.get(number) if number is not None else None
    return known if known is not None else twilio.error(code)


def classify(status: int, code: int | None) -> Outcome:
    """The outcome of an answer Twilio gave a WhatsApp send with an error status."""
    known = WHATSAPP_ERRORS.get(code) if code is not None else None
    return known.outcome if known is not None else twilio.classify(status, code)


def parse_status(request: WebhookRequest) -> list[StatusEvent]:
    """A status callback as Twilio posts it for WhatsApp: as for SMS, `read` included, WhatsApp's error words."""
    events = twilio.parse_status(request)
    return [
        StatusEvent(
            message_id=e.message_id,
            status=e.status,
            error_code=e.error_code,
            error_message=error(e.error_code).message if e.error_code else e.error_message,
            at=e.at,
            ref=e.ref,
        )
        for e in events
    ]


def parse_inbound(request: WebhookRequest) -> list[InboundMessage]:
    """An incoming WhatsApp message: plain numbers, a button press's ButtonPayload, the sid it replies to."""
    fields, _ = twilio.form_fields(request.body)
    return [
        InboundMessage(
            message_id=m.message_id,
            from_=plain(m.from_),
            to=plain(m.to),
            body=m.body,
            media=m.media,
            at=m.at,
            context_id=fields.get("OriginalRepliedMessageSid") or None,
            button_payload=fields.get("ButtonPayload") or None,
        )
        for m in twilio.parse_inbound(request)
    ]


def template_from_content(item: Mapping[str, Any]) -> Template:
    """A ContentAndApprovals item as a Template (see the module docstring for the states)."""
    approval = item.get("approval_requests") or {}
    if isinstance(approval.get("whatsapp"), Mapping):  # the ApprovalRequests resource nests it
        approval = approval["whatsapp"]
    raw_status = str(approval.get("status") or "unsubmitted").lower()
    types: Mapping[str, Any] = item.get("types") or {}
    body: str = ""
    header: dict[str, str] | None = None
    buttons: list[dict[str, str]] = []
    for kind in (*_BODY_TYPES, *(k for k in types if k not in _BODY_TYPES)):
        spec = types.get(kind)
        if not isinstance(spec, Mapping):
            continue
        text = spec.get("title") if kind == "twilio/card" else spec.get("body")
        if not body and isinstance(text, str):
            body = text
        media = spec.get("media")
        if header is None and isinstance(media, list) and media:
            header = {"type": _media_header(str(media[0]))}
        if not buttons:
            buttons = _buttons(kind, spec)
    variables = _variables(body, item.get("variables"))
    category = approval.get("category")
    reason = approval.get("rejection_reason") or None
    return Template(
        id=str(item.get("sid") or ""),
        name=str(item.get("friendly_name") or ""),
        language=str(item.get("language") or ""),
        status=APPROVAL_STATES.get(raw_status, tpl.PENDING),
        body=body,
        variables=variables,
        category=str(category).lower() if category else None,
        parameter_format=tpl.POSITIONAL if all(v.isdigit() for v in variables) else tpl.NAMED,
        header=header,
        buttons=tuple(buttons),
        provider_status=raw_status,
        reason=str(reason) if reason else None,
    )


def _media_header(url: str) -> str:
    extension = url.split("?", 1)[0].rsplit(".", 1)[-1].lower() if "." in url.rsplit("/", 1)[-1] else ""
    return _HEADER_BY_EXTENSION.get(extension, "image")


def _buttons(kind: str, spec: Mapping[str, Any]) -> list[dict[str, str]]:
    actions = spec.get("actions")
    if not isinstance(actions, list):
        return []
    found = []
    for action in actions:
        if not isinstance(action, Mapping):
            continue
        raw = str(action.get("type") or ("QUICK_REPLY" if kind == "twilio/quick-reply" else "")).upper()
        if raw in _BUTTON_TYPES:
            found.append({"type": _BUTTON_TYPES[raw], "text": str(action.get("title") or "")})
    return found


def _variables(body: str, declared: Any) -> tuple[str, ...]:
    """The body's placeholders in order, then any the template declares elsewhere (Twilio's are "1", "2", ...)."""
    found: list[str] = []
    for name in _PLACEHOLDER.findall(body):
        if name not in found:
            found.append(name)
    if isinstance(declared, Mapping):
        rest = [str(k) for k in declared if str(k) not in found]
        found.extend(sorted(rest, key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k)))
    return tuple(found)


class TwilioWhatsAppRules(twilio.TwilioRules):
    """Twilio WhatsApp, whatever the account (the port's ProviderRules): Twilio's webhooks, WhatsApp's rules."""

    name = "twilio"
    title = "Twilio WhatsApp"
    limits = WHATSAPP_LIMITS

    def error(self, code: str) -> ErrorInfo:
        """What a Twilio error code means on WhatsApp."""
        return error(code)

    def parse_status(self, request: WebhookRequest) -> list[StatusEvent]:
        """A status callback's report (`read` included)."""
        return parse_status(request)

    def parse_inbound(self, request: WebhookRequest) -> list[InboundMessage]:
        """An incoming WhatsApp message, its numbers plain."""
        return parse_inbound(request)


TWILIO_WHATSAPP = TwilioWhatsAppRules()


class TwilioWhatsAppProvider(TwilioWhatsAppRules, twilio.TwilioProvider):
    """Sends WhatsApp through one Twilio account: Content templates, `whatsapp:` addresses."""

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
        """Create one WhatsApp message (a Content template, or a session message); never an exception."""
        kwargs: dict[str, Any] = {"to": address(to), "from_": address(sender), "status_callback": status_callback}
        if template is not None:
            if template.header_type or template.header_media_url:
                # Nothing leaves: a Content template's media is fixed at approval (module docstring).
                return SendResult.refused(
                    Outcome.TEMPLATE, "header_media_not_supported", "Twilio templates cannot take a header file"
                )
            kwargs["content_sid"] = template.template_id
            if template.variables:
                kwargs["content_variables"] = json.dumps(dict(template.variables), ensure_ascii=False)
        else:
            if text:
                kwargs["body"] = text
            if media_urls:
                kwargs["media_url"] = list(media_urls)
        try:
            message = self._client.messages.create(**kwargs)
        except TwilioRestException as exc:
            code = int(exc.code) if exc.code is not None else None
            return SendResult(
                classify(int(exc.status or 0), code),
                error_code=str(exc.code or exc.status),
                error_message=twilio._short(exc.msg),
            )
        except Exception as exc:  # noqa: BLE001 - requests' errors, the SDK's, anything else on the wire
            result = twilio.classify_exception(exc)
            log.warning("twilio whatsapp send raised %s: %s", type(exc).__name__, result.outcome.value)
            return result
        if not message.sid:
            return SendResult.uncertain("provider_no_answer", "answer without sid")
        return SendResult.accepted(message.sid)

    def find(self, *, to: str, sender: str, text: str | None, media_count: int, since: float) -> Lookup:
        """Look for our message among the account's messages between the two WhatsApp addresses.

        A template message (text None) is stored by Twilio with the template's text filled in, which we never had:
        any outbound message created since the claim matches it."""
        return self._lookup(address(to), address(sender), None if text is None else (text, media_count), since)

    def templates(self) -> list[Template]:
        """Every Content template of the account with its WhatsApp approval (all pages)."""
        try:
            items = self._client.content.v1.content_and_approvals.list(page_size=TEMPLATE_PAGE_SIZE)
        except TwilioException as exc:
            # A list page answered with an error is a TwilioException("Unable to fetch page", response) (the SDK's
            # Page.process_response), not a TwilioRestException: its status is the response's.
            status = _status_of(exc)
            if status == 0 or status >= 500 or status == 429:
                raise ProviderUnavailableError(f"Twilio's Content API answered {status}; try again later") from exc
            raise ProviderRefusedError(
                f"Twilio refused to list the account's templates ({status}): check the channel's credentials",
                details=[{"field": "credentials", "provider_code": str(status)}],
            ) from exc
        except Exception as exc:  # noqa: BLE001 - unreachable, timed out, an answer that is not JSON
            log.warning("twilio content list raised %s", type(exc).__name__)
            raise ProviderUnavailableError("Twilio's Content API could not be reached; try again later") from exc
        return [template_from_content(_payload(item)) for item in items]


def _status_of(exc: TwilioException) -> int:
    """The HTTP status of a failed SDK call (0 when there was no answer)."""
    if isinstance(exc, TwilioRestException):
        return int(exc.status or 0)
    response = next((a for a in exc.args if hasattr(a, "status_code")), None)
    return int(getattr(response, "status_code", 0) or 0)


def _payload(item: Any) -> dict[str, Any]:
    """A ContentAndApprovalsInstance's fields as the API answered them."""
    return {
        "sid": item.sid,
        "friendly_name": item.friendly_name,
        "language": item.language,
        "variables": item.variables,
        "types": item.types,
        "approval_requests": item.approval_requests,
    }
