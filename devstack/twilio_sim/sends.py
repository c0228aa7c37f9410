"""How the simulated Twilio checks a create-message request: addresses (SMS and `whatsapp:`), the sender, the test
numbers, media, the status callback, a ContentSid and its variables. No state of its own: the model passes its
numbers and contents in, under its lock."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from devstack.twilio_sim.content import UNKNOWN_CONTENT, Content, content_values, render
from devstack.twilio_sim.records import Number
from devstack.twilio_sim.rules import (
    E164,
    FROM_TO_MISMATCH,
    MAX_BODY_CHARS,
    MAX_MEDIA_URLS,
    TEST_NUMBER_ERRORS,
    UNKNOWN_WHATSAPP_SENDER,
    WHATSAPP_PREFIX,
    TwilioApiError,
    first,
    is_http_url,
)


class Send(NamedTuple):
    """A create-message request as checked: where it goes, from which sender, what it carries."""

    to: str  # as given (`whatsapp:+E164` on WhatsApp)
    number: str  # the recipient's E.164 number
    sender: Number
    body: str
    media: list[str]
    callback: str | None
    service_sid: str | None
    whatsapp: bool
    content: Content | None
    values: dict[str, str] | None


def check_send(
    numbers: Mapping[str, Number], contents: Mapping[str, Content], account_sid: str, form: Mapping[str, list[str]]
) -> Send:
    """A create-message request checked as Twilio checks it: what it sends, or TwilioApiError with Twilio's code."""
    to = first(form, "To")
    from_ = first(form, "From")
    service_sid = first(form, "MessagingServiceSid")
    body = first(form, "Body") or ""
    media = [u for u in form.get("MediaUrl", []) if u]
    callback = first(form, "StatusCallback")
    content_sid = first(form, "ContentSid")
    if len(media) > MAX_MEDIA_URLS:
        raise TwilioApiError(400, 21623, "Number of media files exceeds allowed limit")
    if not all(is_http_url(u) for u in media):
        raise TwilioApiError(400, 21620, "Invalid media URL(s)")
    if not to:
        raise TwilioApiError(400, 21604, "A 'To' phone number is required.")
    if not from_ and not service_sid:
        raise TwilioApiError(400, 21603, "A 'From' phone number is required.")
    if not body and not media and not content_sid:
        raise TwilioApiError(400, 21602, "Message body is required.")
    if len(body) > MAX_BODY_CHARS:
        raise TwilioApiError(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
    whatsapp = to.startswith(WHATSAPP_PREFIX)
    if from_ and from_.startswith(WHATSAPP_PREFIX) != whatsapp:
        raise TwilioApiError(400, FROM_TO_MISMATCH, "Invalid From and To pair: they must be of the same channel")
    number = to[len(WHATSAPP_PREFIX) :] if whatsapp else to
    if from_:
        sender = numbers.get(from_[len(WHATSAPP_PREFIX) :] if whatsapp else from_)
        if whatsapp and (sender is None or sender.account_sid != account_sid or not sender.whatsapp):
            raise TwilioApiError(
                400, UNKNOWN_WHATSAPP_SENDER, "Twilio could not find a Channel with the specified From address"
            )
        if sender is None or sender.account_sid != account_sid:
            raise TwilioApiError(
                400,
                21606,
                f"The From phone number {from_} is not a valid, SMS-capable inbound phone number or short code "
                "for your account.",
            )
    else:
        # A messaging service without From: send from the account's first number (a one-number sender pool).
        owned = [n for n in numbers.values() if n.account_sid == account_sid and n.whatsapp == whatsapp]
        if not owned:
            raise TwilioApiError(400, 21703, "The Messaging Service does not have a phone number available.")
        sender = owned[0]
    if not whatsapp and number in TEST_NUMBER_ERRORS:
        code, template = TEST_NUMBER_ERRORS[number]
        raise TwilioApiError(400, code, template.format(to=number))
    if not E164.match(number):
        raise TwilioApiError(400, 21211, f"The 'To' number {to} is not a valid phone number.")
    if callback is not None and not is_http_url(callback):
        raise TwilioApiError(400, 21609, "The StatusCallback URL is not a valid URL.")
    content, values = None, None
    if content_sid:
        content = contents.get(content_sid)
        if content is None or content.account_sid != account_sid:
            raise TwilioApiError(400, UNKNOWN_CONTENT, "The ContentSid is Invalid")
        values = content_values(content, first(form, "ContentVariables"))
        # With a ContentSid, Body and MediaUrl are ignored: the message is the template filled in.
        body, media = render(content, values)
    return Send(to, number, sender, body, media, callback, service_sid, whatsapp, content, values)
