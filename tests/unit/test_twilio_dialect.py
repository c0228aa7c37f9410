"""Twilio's dialect of the provider port, on the payloads Twilio posts: status callbacks and incoming messages as
domain events, its limits, its error codes and its credential rules. Pure: no network."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator

from chalicelib.adapters.providers.base import Outcome, ProviderRules, WebhookRequest
from chalicelib.adapters.providers.twilio import TWILIO_SMS, TwilioSignature
from chalicelib.domain.errors import InvalidRequestError
from chalicelib.domain.events import InboundMessage, Media, StatusEvent
from chalicelib.domain.model import RecipientStatus

TOKEN = "dialect-test-token"
ACCOUNT = "AC" + "c3" * 16
URL = "https://api.example.test/webhooks/twilio/ch_1/status?a=1&c=cmp_1&r=0&s=3"
SID = "SM" + "d4" * 16
RULES: ProviderRules = TWILIO_SMS


def callback(status: str, **extra: str) -> dict[str, str]:
    """A status callback's fields as Twilio posts them for an SMS (names and casing from its Messaging docs)."""
    return {
        "AccountSid": ACCOUNT,
        "ApiVersion": "2010-04-01",
        "From": "+15005550006",
        "MessageSid": SID,
        "MessageStatus": status,
        "SmsSid": SID,
        "SmsStatus": status,
        "To": "+41791234567",
        **extra,
    }


def request(fields: dict[str, str], url: str = URL, token: str = TOKEN) -> WebhookRequest:
    """The webhook as it arrives: the form body, signed as Twilio signs (the URL, then the sorted fields)."""
    return WebhookRequest(
        url=url,
        body=urlencode(fields).encode(),
        signature=RequestValidator(token).compute_signature(url, fields),
    )


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("sent", RecipientStatus.SENT),
        ("delivered", RecipientStatus.DELIVERED),
        ("read", RecipientStatus.READ),
    ],
)
def test_a_status_callback_is_a_status_event_in_our_terms(status: str, expected: RecipientStatus) -> None:
    # GIVEN Twilio's callback for a message WHEN it is parsed
    (event,) = RULES.parse_status(request(callback(status)))
    # THEN it names the message and our status; no error for a message that went out; Twilio says no time
    assert event == StatusEvent(message_id=SID, status=expected, error_code=None, error_message=None, at=None)


def test_an_undelivered_callback_carries_its_error_code_and_twilios_words_for_it() -> None:
    # GIVEN an undelivered report with 30003 (the carrier's delivery receipt time beside it)
    fields = callback("undelivered", ErrorCode="30003", RawDlrDoneDate="2612010830")
    # WHEN parsed, THEN the code and its description come with it
    (event,) = RULES.parse_status(request(fields))
    assert (event.status, event.error_code, event.error_message) == (
        RecipientStatus.UNDELIVERED,
        "30003",
        "Unreachable destination handset",
    )
    # AND a failure without a code, or with one Twilio's table lacks, is still described
    (bare,) = RULES.parse_status(request(callback("failed")))
    assert (bare.error_code, bare.error_message) == (None, "Twilio error failed")
    (odd,) = RULES.parse_status(request(callback("failed", ErrorCode="63016")))
    assert (odd.error_code, odd.error_message) == ("63016", "Twilio error 63016")


@pytest.mark.parametrize("status", ["accepted", "scheduled", "queued", "sending", "canceled", "receiving", "", "SENT!"])
def test_statuses_that_move_no_recipient_give_no_event(status: str) -> None:
    assert RULES.parse_status(request(callback(status))) == []


def test_an_older_callback_with_only_sms_fields_is_read_too() -> None:
    # GIVEN a callback that carries SmsStatus and SmsSid only (older API versions, and some proxies)
    fields = {"SmsSid": SID, "SmsStatus": "Delivered", "AccountSid": ACCOUNT}
    # THEN it is the same report (Twilio's values compared without case)
    (event,) = RULES.parse_status(request(fields))
    assert (event.message_id, event.status) == (SID, RecipientStatus.DELIVERED)


def test_an_incoming_mms_is_an_inbound_message_with_its_media() -> None:
    # GIVEN an incoming MMS webhook with two files (fields as Twilio's incoming-message webhook names them)
    fields = {
        "AccountSid": ACCOUNT,
        "ApiVersion": "2010-04-01",
        "Body": "Yes please 👍",
        "From": "+41415084545",
        "FromCountry": "CH",
        "MessageSid": "MM" + "e5" * 16,
        "NumMedia": "2",
        "NumSegments": "1",
        "MediaContentType0": "image/jpeg",
        "MediaUrl0": "https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM/Media/ME1",
        "MediaContentType1": "application/pdf",
        "MediaUrl1": "https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM/Media/ME2",
        "SmsMessageSid": "MM" + "e5" * 16,
        "SmsSid": "MM" + "e5" * 16,
        "SmsStatus": "received",
        "To": "+15005550006",
        "ToCountry": "US",
    }
    # WHEN parsed
    (message,) = RULES.parse_inbound(request(fields, url="https://api.example.test/webhooks/twilio/ch_1/inbound"))
    # THEN it is who wrote to which sender, what, and where its files are
    assert message == InboundMessage(
        message_id="MM" + "e5" * 16,
        from_="+41415084545",
        to="+15005550006",
        body="Yes please 👍",
        media=(
            Media(url=fields["MediaUrl0"], content_type="image/jpeg"),
            Media(url=fields["MediaUrl1"], content_type="application/pdf"),
        ),
    )


def test_an_incoming_sms_has_no_media_and_a_nonsense_count_reads_as_none() -> None:
    base = {"MessageSid": "SM1", "From": "+41415084545", "To": "+15005550006", "Body": "hi"}
    (plain,) = RULES.parse_inbound(request({**base, "NumMedia": "0"}))
    (odd,) = RULES.parse_inbound(request({**base, "NumMedia": "lots", "MediaUrl0": "https://x.test/1"}))
    assert plain.media == () and odd.media == ()


def test_the_signature_covers_the_url_and_every_field() -> None:
    # GIVEN a callback signed with the account's token
    good = request(callback("delivered"))
    verifier = TwilioSignature(TOKEN)
    # THEN it is valid, and not with another token, another URL, a changed field or no signature
    assert verifier.valid(good)
    assert not TwilioSignature("another-token").valid(good)
    assert not verifier.valid(WebhookRequest(URL.replace("r=0", "r=1"), good.body, good.signature))
    assert not verifier.valid(WebhookRequest(URL, good.body.replace(b"delivered", b"read"), good.signature))
    assert not verifier.valid(WebhookRequest(URL, good.body, None))


def test_a_signed_body_that_is_not_utf8_meets_the_signature_check_then_is_refused() -> None:
    # GIVEN a body whose bytes are not UTF-8, signed over what those bytes decode to with replacement characters
    body = b"MessageSid=SM1&Body=%FF&MessageStatus=delivered&X=\xff"
    fields = {"MessageSid": "SM1", "Body": "\ufffd", "MessageStatus": "delivered", "X": "\ufffd"}
    signed = WebhookRequest(URL, body, RequestValidator(TOKEN).compute_signature(URL, fields))
    # THEN the signature check answers (it does not raise), and parsing refuses the body as malformed
    assert TwilioSignature(TOKEN).valid(signed)
    with pytest.raises(InvalidRequestError):
        RULES.parse_status(signed)
    with pytest.raises(InvalidRequestError):
        RULES.parse_inbound(signed)


def test_twilio_sms_limits() -> None:
    limits = RULES.limits
    # Twilio's MMS: 5 MB of media and text, 10 files, 1,600 characters, SMS segments, 1 message a second by default
    assert (limits.max_media_bytes, limits.max_media_count, limits.max_text_chars) == (5 * 1024 * 1024, 10, 1600)
    assert limits.segmented and limits.default_mps == 1.0
    # AND it states plainly that an SMS channel has no templates
    assert limits.templates is False
    # AND the media types are compared without parameters or case
    for accepted in ("image/png", "IMAGE/JPEG", "video/H264", "audio/ogg; codecs=opus", "text/vcard ", "audio/aac"):
        assert limits.accepts_media_type(accepted), accepted
    for refused in ("image/webp", "application/zip", "text/html; charset=utf-8", "", "image"):
        assert not limits.accepts_media_type(refused), refused


@pytest.mark.parametrize(
    ("code", "outcome", "opted_out"),
    [
        ("21610", Outcome.PERMANENT, True),  # replied STOP: refused, and never retried
        ("21211", Outcome.PERMANENT, False),  # invalid To: refused, a retry may try again
        ("20429", Outcome.THROTTLED, False),
        ("30001", Outcome.THROTTLED, False),  # queue overflow: refused, nothing queued
        ("21611", Outcome.THROTTLED, False),  # the sender's queue at Twilio is full: slower, not a failure
        ("20003", Outcome.ACCOUNT, False),
        ("21606", Outcome.ACCOUNT, False),
        ("20500", Outcome.UNCERTAIN, False),
        ("send_interrupted", Outcome.PERMANENT, False),  # not Twilio's: a permanent refusal, no opt-out
    ],
)
def test_each_error_code_is_classified(code: str, outcome: Outcome, opted_out: bool) -> None:
    info = RULES.error(code)
    assert (info.code, info.outcome, info.opted_out) == (code, outcome, opted_out)


def test_webhook_paths_and_credentials_are_twilios() -> None:
    assert RULES.webhook_path("ch_1", "status") == "/webhooks/twilio/ch_1/status"
    assert RULES.webhook_path("ch_1", "inbound") == "/webhooks/twilio/ch_1/inbound"
    assert RULES.credential_problems({"account_sid": ACCOUNT, "auth_token": TOKEN}) == []
    problems = RULES.credential_problems({"account_sid": "ACnope", "auth_token": "has space"})
    assert [field for field, _ in problems] == ["account_sid", "auth_token"]
