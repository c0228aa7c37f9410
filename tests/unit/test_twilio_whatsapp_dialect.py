"""Twilio's WhatsApp dialect of the provider port, on the payloads Twilio posts for WhatsApp: plain numbers out of
`whatsapp:` addresses, the `read` status, a quick-reply press, WhatsApp's error codes, its limits and the Content
API's templates as ours. Pure: no network."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator

from chalicelib.adapters.providers.base import Outcome, ProviderRules, WebhookRequest
from chalicelib.adapters.providers.twilio import TWILIO_SMS, TwilioSignature
from chalicelib.adapters.providers.twilio_whatsapp import TWILIO_WHATSAPP, address, plain, template_from_content
from chalicelib.domain.events import StatusEvent
from chalicelib.domain.model import RecipientStatus
from chalicelib.wiring import provider_rules

TOKEN = "wa-dialect-test-token"
ACCOUNT = "AC" + "c3" * 16
URL = "https://api.example.test/webhooks/twilio/ch_twa/status?a=1&c=cmp_1&r=0&s=3"
SID = "SM" + "d4" * 16
RULES: ProviderRules = TWILIO_WHATSAPP


def callback(status: str, **extra: str) -> dict[str, str]:
    """A status callback's fields as Twilio posts them for WhatsApp (addresses with the whatsapp: prefix)."""
    return {
        "AccountSid": ACCOUNT,
        "ApiVersion": "2010-04-01",
        "ChannelPrefix": "whatsapp",
        "From": "whatsapp:+14155238886",
        "MessageSid": SID,
        "MessageStatus": status,
        "SmsSid": SID,
        "SmsStatus": status,
        "To": "whatsapp:+41791234567",
        **extra,
    }


def request(fields: dict[str, str], url: str = URL, token: str = TOKEN) -> WebhookRequest:
    """The webhook as it arrives: the form body, signed as Twilio signs (the URL, then the sorted fields)."""
    return WebhookRequest(
        url=url, body=urlencode(fields).encode(), signature=RequestValidator(token).compute_signature(url, fields)
    )


# ---------------------------------------------------------------------------------- wiring and limits
def test_twilio_with_type_whatsapp_is_wired_with_whatsapps_limits_and_twilios_webhooks() -> None:
    # GIVEN the deployment's rules WHEN a twilio channel of type whatsapp is asked for
    rules = provider_rules("twilio", "whatsapp")
    # THEN it is the WhatsApp flavour: templates, 80 mps, Meta's 6 s pair rate, one message whatever its length
    assert rules is TWILIO_WHATSAPP and rules.title == "Twilio WhatsApp" and rules.name == "twilio"
    limits = rules.limits
    assert (limits.templates, limits.default_mps, limits.pair_gap_seconds, limits.segmented) == (True, 80.0, 6.0, False)
    assert limits.max_text_chars == 1600
    # AND a media header cannot take our file (a Content template fixes it): the campaign refuses it up front
    assert dict(limits.header_media) == {}
    # AND its webhooks are Twilio's, on the same paths as SMS, with the same credentials and no provider_config
    assert rules.webhook_path("ch_1", "status") == TWILIO_SMS.webhook_path("ch_1", "status")
    assert rules.credential_problems({"account_sid": ACCOUNT, "auth_token": TOKEN}) == []
    assert rules.config_problems({"waba_id": "1"}, ["+14155238886"]) != []
    assert rules.config_problems(None, ["+14155238886"]) == []
    # AND SMS stays as it was
    assert TWILIO_SMS.limits.templates is False and TWILIO_SMS.limits.default_mps == 1.0


def test_addresses_gain_and_lose_the_whatsapp_prefix_once() -> None:
    # GIVEN plain numbers and Twilio's WhatsApp addresses WHEN converted THEN each way is idempotent
    assert address("+41791234567") == "whatsapp:+41791234567" == address("whatsapp:+41791234567")
    assert plain("whatsapp:+41791234567") == "+41791234567" == plain("+41791234567")


# ---------------------------------------------------------------------------------- status callbacks
@pytest.mark.parametrize(
    ("status", "expected"),
    [("sent", RecipientStatus.SENT), ("delivered", RecipientStatus.DELIVERED), ("read", RecipientStatus.READ)],
)
def test_a_whatsapp_status_callback_is_our_status_read_included(status: str, expected: RecipientStatus) -> None:
    # GIVEN Twilio's WhatsApp callback WHEN parsed THEN it is our status for the message, no error
    (event,) = RULES.parse_status(request(callback(status)))
    assert event == StatusEvent(message_id=SID, status=expected, error_code=None, error_message=None)


def test_a_failed_whatsapp_callback_carries_its_code_in_whatsapps_words() -> None:
    # GIVEN a WhatsApp message that failed because the number is not on WhatsApp WHEN parsed
    (event,) = RULES.parse_status(request(callback("failed", ErrorCode="63024")))
    # THEN it is failed with Twilio's code and what it means on WhatsApp
    assert (event.status, event.error_code) == (RecipientStatus.FAILED, "63024")
    assert "WhatsApp user" in (event.error_message or "")


def test_a_callback_that_moves_no_recipient_is_left_out() -> None:
    # GIVEN the statuses Twilio posts while it still holds the message WHEN parsed THEN none is a report
    assert RULES.parse_status(request(callback("queued"))) == []
    assert RULES.parse_status(request(callback("accepted"))) == []


# ---------------------------------------------------------------------------------- inbound
def inbound(**extra: str) -> dict[str, str]:
    """An incoming WhatsApp message as Twilio posts it."""
    return {
        "AccountSid": ACCOUNT,
        "ApiVersion": "2010-04-01",
        "Body": "Stop promotions",
        "From": "whatsapp:+41791234567",
        "MessageSid": "SM" + "e5" * 16,
        "NumMedia": "0",
        "ProfileName": "Ann",
        "SmsStatus": "received",
        "To": "whatsapp:+14155238886",
        "WaId": "41791234567",
        **extra,
    }


def test_an_inbound_whatsapp_message_comes_with_plain_numbers() -> None:
    # GIVEN a WhatsApp text from a contact WHEN parsed
    (message,) = RULES.parse_inbound(request(inbound(Body="Yes please", MessageType="text")))
    # THEN the contact and our sender are plain E.164, as the service stores them; no button, no context
    assert (message.from_, message.to, message.body) == ("+41791234567", "+14155238886", "Yes please")
    assert (message.button_payload, message.context_id) == (None, None)


def test_a_quick_reply_press_carries_the_buttons_payload_and_the_message_it_answers() -> None:
    # GIVEN a press of a template's quick-reply button (Twilio posts the button's id and the replied-to sid)
    fields = inbound(
        MessageType="button",
        ButtonPayload="stop_promotions",
        ButtonText="Stop promotions",
        OriginalRepliedMessageSid=SID,
        OriginalRepliedMessageSender="whatsapp:+14155238886",
    )
    # WHEN parsed
    (message,) = RULES.parse_inbound(request(fields))
    # THEN the payload and the campaign message it answers are there, so the press is attributed directly
    assert (message.button_payload, message.context_id, message.body) == ("stop_promotions", SID, "Stop promotions")


def test_whatsapp_webhooks_are_checked_with_the_accounts_token_like_sms() -> None:
    # GIVEN a WhatsApp callback signed with the account's token, and one signed with another
    good, bad = request(callback("read")), request(callback("read"), token="someone-else")
    # WHEN checked THEN only the account's is valid
    assert TwilioSignature(TOKEN).valid(good) and not TwilioSignature(TOKEN).valid(bad)


# ---------------------------------------------------------------------------------- error codes
@pytest.mark.parametrize(
    ("code", "outcome", "opted_out", "retry_after", "stop_reason"),
    [
        ("63016", Outcome.PERMANENT, False, None, None),  # outside the 24 h window: a template is needed
        ("63024", Outcome.PERMANENT, False, None, None),  # not a WhatsApp user
        ("63003", Outcome.PERMANENT, False, None, None),  # To address not found
        ("63049", Outcome.PERMANENT, False, 86400.0, None),  # Meta chose not to deliver marketing: not before 24 h
        ("63014", Outcome.PERMANENT, True, None, None),  # blocked by the user: an opt-out
        ("63032", Outcome.PERMANENT, False, None, None),  # a WhatsApp limitation for this user
        ("63018", Outcome.THROTTLED, False, None, None),  # the sender's rate
        ("63017", Outcome.THROTTLED, False, None, None),  # the account's rate
        ("20429", Outcome.THROTTLED, False, None, None),  # Twilio's API rate, as for SMS
        ("63007", Outcome.ACCOUNT, False, None, None),  # the sender is not a WhatsApp sender
        ("63038", Outcome.ACCOUNT, False, None, None),  # the account's daily limit
        ("63005", Outcome.PERMANENT, False, None, None),  # content not accepted
        ("20003", Outcome.ACCOUNT, False, None, None),  # credentials, as for SMS
        ("63041", Outcome.TEMPLATE, False, None, "template_paused"),
        ("63042", Outcome.TEMPLATE, False, None, "template_disabled"),
        ("63028", Outcome.TEMPLATE, False, None, "template_variables_mismatch"),
        ("21655", Outcome.TEMPLATE, False, None, "template_gone"),
        ("21211", Outcome.PERMANENT, False, None, None),  # SMS codes keep their meaning
    ],
)
def test_whatsapp_error_codes_say_what_to_do_next(
    code: str, outcome: Outcome, opted_out: bool, retry_after: float | None, stop_reason: str | None
) -> None:
    # GIVEN one of Twilio's codes WHEN asked what it means on WhatsApp THEN its class and consequences are these
    info = RULES.error(code)
    assert (info.outcome, info.opted_out, info.retry_after_seconds, info.stop_reason) == (
        outcome,
        opted_out,
        retry_after,
        stop_reason,
    )


def test_sms_codes_are_unchanged_by_the_whatsapp_table() -> None:
    # GIVEN the SMS rules WHEN asked about a WhatsApp code THEN SMS knows nothing of it (permanent, as any unknown)
    assert TWILIO_SMS.error("63041").outcome is Outcome.PERMANENT
    assert TWILIO_SMS.error("21610").opted_out is True and RULES.error("21610").opted_out is True


# ---------------------------------------------------------------------------------- Content API templates
def content(status: str, types: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A ContentAndApprovals item as Twilio answers it."""
    return {
        "sid": "HX" + "a1" * 16,
        "friendly_name": "order_update",
        "language": "en",
        "variables": {"1": "name", "2": "order"},
        "types": types,
        "approval_requests": {"name": "order_update", "category": "UTILITY", "status": status, "rejection_reason": ""},
        **extra,
    }


@pytest.mark.parametrize(
    ("twilio_state", "ours"),
    [
        ("approved", "approved"),
        ("pending", "pending"),
        ("received", "pending"),
        ("unsubmitted", "pending"),
        ("rejected", "rejected"),
        ("paused", "paused"),
        ("disabled", "disabled"),
        ("some_new_state", "pending"),
    ],
)
def test_a_templates_whatsapp_approval_maps_onto_our_five(twilio_state: str, ours: str) -> None:
    # GIVEN a content template in one of Twilio's approval states WHEN read THEN it has our status, Twilio's word kept
    template = template_from_content(content(twilio_state, {"twilio/text": {"body": "Hi {{1}}"}}))
    assert (template.status, template.provider_status) == (ours, twilio_state)


def test_a_text_template_reads_as_its_body_and_positional_variables() -> None:
    # GIVEN order_update as Twilio lists it WHEN read
    template = template_from_content(
        content("approved", {"twilio/text": {"body": "Hi {{1}}, your order {{2}} has shipped."}})
    )
    # THEN it is our template: the sid as id, the body, its variables in order, utility, no header or buttons
    assert template.id == "HX" + "a1" * 16 and template.name == "order_update" and template.language == "en"
    assert (template.body, template.variables, template.parameter_format) == (
        "Hi {{1}}, your order {{2}} has shipped.",
        ("1", "2"),
        "positional",
    )
    assert (template.category, template.header, template.buttons) == ("utility", None, ())


def test_a_card_with_media_and_a_quick_reply_reads_as_an_image_header_and_a_button() -> None:
    # GIVEN spring_promo: a card with an image and one quick-reply button
    types = {
        "twilio/card": {
            "title": "{{1}}",
            "media": ["https://media.example.test/spring.jpg"],
            "actions": [{"type": "QUICK_REPLY", "title": "Stop promotions", "id": "stop_promotions"}],
        }
    }
    # WHEN read
    template = template_from_content(content("approved", types, variables={"1": "Spring"}))
    # THEN the header is an image, the button a quick reply, the body the card's title
    assert template.header == {"type": "image"} and template.media_header == "image"
    assert template.buttons == ({"type": "quick_reply", "text": "Stop promotions"},) and template.quick_replies == 1
    assert (template.body, template.variables) == ("{{1}}", ("1",))


def test_a_quick_reply_template_and_named_variables_read_as_such() -> None:
    # GIVEN a twilio/quick-reply template written with named placeholders, and a document media template
    quick = template_from_content(
        content(
            "approved",
            {"twilio/quick-reply": {"body": "Hi {{first_name}}", "actions": [{"title": "Yes", "id": "y"}]}},
            variables={"first_name": "there"},
        )
    )
    media = template_from_content(
        content("approved", {"twilio/media": {"body": "Your invoice", "media": ["https://x.test/{{1}}.pdf"]}})
    )
    # WHEN read THEN named variables make it named; a PDF is a document header
    assert (quick.variables, quick.parameter_format, quick.buttons) == (
        ("first_name",),
        "named",
        ({"type": "quick_reply", "text": "Yes"},),
    )
    assert media.header == {"type": "document"}


def test_a_rejected_templates_reason_and_nested_approval_are_read() -> None:
    # GIVEN an approval nested under "whatsapp" (the ApprovalRequests resource's shape) with a reason
    item = content("rejected", {"twilio/text": {"body": "x"}})
    item["approval_requests"] = {"whatsapp": {"status": "rejected", "category": "MARKETING", "rejection_reason": "bad"}}
    # WHEN read THEN its state, category and reason are ours
    template = template_from_content(item)
    assert (template.status, template.category, template.reason) == ("rejected", "marketing", "bad")
