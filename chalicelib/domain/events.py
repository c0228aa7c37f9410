"""What providers tell us, in our own terms: a report on a message we sent, and a message someone sent us."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.model import RecipientStatus


@dataclass(frozen=True)
class StatusEvent:
    """A provider's report on one message we handed over: what became of it."""

    message_id: str | None  # the provider's id of the message (Twilio's SID, Meta's wamid)
    status: RecipientStatus  # one of sent, delivered, read, undelivered, failed
    error_code: str | None = None  # the provider's code when it failed or was undelivered
    error_message: str | None = None  # the provider's words for that code
    at: datetime | None = None  # when the provider says it happened (UTC); None when it does not say
    # The reference we handed over with the message (campaign `c`, recipient `r`, attempt `a`, shard `s`), when the
    # report carries it (Meta's biz_opaque_callback_data); None: it is in the callback URL's query (Twilio).
    ref: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Media:
    """One file attached to an inbound message, where the provider keeps it."""

    url: str
    content_type: str | None = None


@dataclass(frozen=True)
class InboundMessage:
    """A message a contact sent to one of a channel's senders."""

    message_id: str  # the provider's id of the message
    from_: str  # the contact
    to: str  # our sender
    body: str
    media: tuple[Media, ...] = ()
    at: datetime | None = None  # when the provider says it arrived (UTC); None when it does not say
    context_id: str | None = None  # the provider's id of the message it replies to (WhatsApp context.id)
    button_payload: str | None = None  # the payload of the quick-reply button pressed (WhatsApp), if one was


@dataclass(frozen=True)
class PreferenceUpdate:
    """A contact's changed preference for a kind of message from a business (Meta's `user_preferences`)."""

    number: str  # the contact, E.164
    stop: bool  # True: they stopped these messages; False: they resumed them
    category: str = "marketing_messages"  # what kind of messages (Meta has only marketing_messages so far)
    sender: str | None = None  # our business number it concerns, E.164, when the provider says
    at: datetime | None = None  # when the provider says it happened (UTC)


# What of an inbound message is kept: a provider's fields are bounded here, so no message (however large a signed
# webhook makes it) exceeds what the table can store (keys of at most 1,024 bytes, items of at most 400 KB).
MAX_KEPT_ID_CHARS = 200
MAX_KEPT_BODY_CHARS = 16_384
MAX_KEPT_FIELD_CHARS = 1_024


def inbound_key(message: InboundMessage) -> str:
    """The id an inbound message is kept under, once: the provider's id when it is a plain one, else a digest of it
    (or, with no id at all, of who sent what to whom), so that the provider's retry of it is still recognised."""
    mid = message.message_id
    if mid and len(mid) <= MAX_KEPT_ID_CHARS and mid.isascii() and mid.isprintable():
        return mid
    basis = mid or "\x1f".join((message.from_, message.to, message.body))
    return "sha256:" + hashlib.sha256(basis.encode("utf-8", "surrogatepass")).hexdigest()


def bounded(value: str, limit: int = MAX_KEPT_FIELD_CHARS) -> tuple[str, bool]:
    """`value` cut to `limit` characters, and whether it was cut."""
    return (value[:limit], True) if len(value) > limit else (value, False)
