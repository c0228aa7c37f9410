"""Twilio's rules as the simulator plays them: codes, limits, test numbers, wire formats (MMS types: the provider's).

No state and no I/O: the model (model.py) applies these to the accounts, numbers and messages it holds.
"""

from __future__ import annotations

import math
import re
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from devstack import sim_faults

API_VERSION = "2010-04-01"
SIGNATURE_HEADER = "X-Twilio-Signature"
MAX_BODY_CHARS = 1600
DEFAULT_UNDELIVERED_CODE = 30003

# A sender's queue (https://www.twilio.com/docs/messaging/guides/rate-limits...): Twilio accepts what a sender is given
# beyond its rate (201, `queued`) and sends it from the sender's queue at the sender's rate, in segments per second.
# ValidityPeriod (1 to 36000 s, default 36000 = 10 h; 21624 "Invalid validity period value" otherwise) is how long a
# message may wait there. A message whose wait would exceed it is refused here with 21611 "This 'From' number has
# exceeded the maximum number of queued messages" (real Twilio queues it and fails it with 30036 when it expires; the
# refusal is the simulator's simpler, earlier form of the same overflow).
DEFAULT_VALIDITY_SECONDS = 36000.0
MAX_VALIDITY_SECONDS = 36000
QUEUE_FULL = 21611
INVALID_VALIDITY = 21624

# Outbound media (https://www.twilio.com/docs/messaging/guides/accepted-mime-types): Twilio GETs each MediaUrl after
# accepting the message and checks its Content-Type and the total size; a message whose media fails is `failed`.
MAX_MEDIA_URLS = 10
MAX_MEDIA_BYTES = 5 * 1024 * 1024  # "For an MMS message, the size limit is 5MB" (the whole message's media)
MEDIA_FETCH_TIMEOUT = 10.0
# 11200 "HTTP retrieval failure": the docs' causes include "Web server returned a 4xx or 5xx HTTP response" and
# network failures; it is the code Twilio logs for a MediaUrl it cannot fetch.
MEDIA_RETRIEVAL_FAILED = 11200
# 12300 "Invalid Content-Type": "Twilio is unable to process the Content-Type of the provided URL", with "make sure
# messages to or from your Twilio phone number are using a supported content-type" among its fixes; also for a
# missing Content-Type ("You must return a Content-Type for all requests").
MEDIA_INVALID_CONTENT_TYPE = 12300
# 11751 "Media Message - Media exceeds messaging provider size limit": "the total size of the media message request
# exceeds the maximum size limit for the channel" (5 MB for MMS). Not 30019 "Content size exceeds carrier limit":
# that is a delivery error, for a destination carrier's own (smaller, per-carrier) limit, after Twilio sent it.
MEDIA_TOO_LARGE = 11751

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
RESET = sim_faults.RESET  # marks an accepted message whose answer is a reset connection

# Twilio's magic "To" numbers (https://www.twilio.com/docs/iam/test-credentials) and the errors they produce.
TEST_NUMBER_ERRORS: dict[str, tuple[int, str]] = {
    "+15005550001": (21211, "The 'To' number {to} is not a valid phone number."),
    "+15005550002": (
        21612,
        "The 'To' phone number {to} is not currently reachable: Twilio cannot route to this number.",
    ),
    "+15005550003": (
        21408,
        "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: {to}.",
    ),
    "+15005550004": (21610, "Attempt to send to unsubscribed recipient"),
    "+15005550009": (21614, "'To' number is not a valid mobile number"),
}

# WhatsApp (https://www.twilio.com/docs/whatsapp/api): From and To are `whatsapp:+E164`; the From must be one of the
# account's WhatsApp senders, or the send is refused with 63007 "Twilio could not find a Channel with the specified
# From address". A `whatsapp:` From with a To that is not (or the other way round) is refused with 21910 "Invalid From
# and To pair". Every WhatsApp message delivered is then read (Twilio posts `read` after `delivered`).
WHATSAPP_PREFIX = "whatsapp:"
UNKNOWN_WHATSAPP_SENDER = 63007
FROM_TO_MISMATCH = 21910
# The contract's WhatsApp test numbers, as Twilio reports what Meta answers for them: accepted, then `failed` with
# 63024 "Invalid message recipient" (Meta's 131026: not a WhatsApp user), 63049 "Meta chose not to deliver this
# WhatsApp marketing message" (Meta's 131049), 63014 "Channel message blocked by user action" (the recipient blocked
# the business or stopped its marketing messages: Meta's 131050).
# Meta's pair rate: a second message from one sender to one user within 6 s is refused (Meta 131056); Twilio takes
# the message and fails it with 63018 "Rate limit exceeded for Channel".
PAIR_GAP_SECONDS = 6.0
PAIR_RATE_EXCEEDED = 63018
WHATSAPP_TEST_NUMBER_ERRORS: dict[str, int] = {
    "+15550199001": 63024,
    "+15550199002": 63049,
    "+15550199003": 63014,
}

_COUNTRY_PREFIXES: dict[str, str] = {
    "+1": "US",
    "+31": "NL",
    "+32": "BE",
    "+33": "FR",
    "+34": "ES",
    "+39": "IT",
    "+41": "CH",
    "+43": "AT",
    "+44": "GB",
    "+45": "DK",
    "+46": "SE",
    "+47": "NO",
    "+48": "PL",
    "+49": "DE",
    "+61": "AU",
    "+351": "PT",
    "+352": "LU",
    "+353": "IE",
    "+423": "LI",
}

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def rfc2822(ts: float) -> str:
    """Format a wall-clock timestamp the way Twilio's 2010 API does, e.g. ``Thu, 30 Jul 2015 20:12:31 +0000``."""
    t = time.gmtime(ts)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year:04d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
    )


def iso8601(ts: float) -> str:
    """A wall-clock timestamp the way Twilio's newer APIs (Content) write it, e.g. ``2015-07-30T20:12:31Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def country_of(number: str) -> str:
    """ISO country code of an E.164 number by its longest known calling-code prefix ('' if unknown)."""
    for length in (4, 3, 2):
        country = _COUNTRY_PREFIXES.get(number[:length])
        if country:
            return country
    return ""


def twilio_error(code: int, message: str, status: int) -> dict[str, Any]:
    """Twilio's REST error body."""
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def new_sid(prefix: str) -> str:
    """A Twilio-style sid: a two-letter prefix and 32 lowercase hex digits."""
    return prefix + uuid.uuid4().hex


class TwilioApiError(Exception):
    """An error the simulated Twilio API answers with Twilio's error JSON."""

    def __init__(self, status: int, code: int, message: str) -> None:
        """Remember the HTTP status, Twilio error code and message."""
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        """The JSON body Twilio would answer."""
        return twilio_error(self.code, self.message, self.status)


class UnknownNumberError(LookupError):
    """The simulator has no such number configured."""


def number_opt(name: str, value: Any) -> float:
    """A non-negative finite number option, as a float."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a non-negative number")
    return float(value)


def count_opt(name: str, value: Any) -> int:
    """A non-negative integer option."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer")
    return value


def undelivered_opt(value: Any) -> dict[str, int]:
    """The `undelivered` option: numbers (a list, each with 30003) or a map of numbers to Twilio error codes."""
    if isinstance(value, list | tuple):
        value = dict.fromkeys(value, DEFAULT_UNDELIVERED_CODE)
    if not isinstance(value, Mapping):
        raise ValueError("undelivered must map numbers to Twilio error codes")
    result: dict[str, int] = {}
    for number, code in value.items():
        if not isinstance(number, str) or isinstance(code, bool) or not isinstance(code, int):
            raise ValueError("undelivered must map numbers (strings) to error codes (integers)")
        result[number] = code
    return result


# The Messages list's DateSent filters: the query parameter and how it compares.
DATE_SENT_PARAMS = (("DateSent", "="), ("DateSent<", "<"), ("DateSent>", ">"))


def date_sent_bound(op: str, value: str) -> tuple[float, float]:
    """The [from, to) epoch range a DateSent filter admits: a date means that whole GMT day; so does `DateSent=` with
    a time (the SDK writes even a date as ``YYYY-MM-DDT00:00:00Z``), while ``<``/``>`` with a time compare to it."""
    try:
        if len(value) == 10:
            day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
            lo, hi = day, day + 86400.0
        else:
            at = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if at.tzinfo is None:
                at = at.replace(tzinfo=UTC)
            if op == "=":
                at = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
                lo, hi = at.timestamp(), at.timestamp() + 86400.0
            else:
                lo, hi = at.timestamp(), at.timestamp() + 1.0
    except ValueError:
        raise TwilioApiError(400, 20001, f"Invalid DateSent value {value!r}: use YYYY-MM-DD") from None
    if op == "<":
        return (float("-inf"), hi)  # on or before
    if op == ">":
        return (lo, float("inf"))  # on or after
    return (lo, hi)


def date_sent_matches(date_sent: float | None, op: str, bound: tuple[float, float]) -> bool:
    """Whether a message sent at `date_sent` (None: not sent yet) passes a DateSent filter."""
    if date_sent is None:
        return False
    return bound[0] <= math.floor(date_sent) < bound[1]


def first(form: Mapping[str, list[str]], name: str) -> str | None:
    """The first value of a form or query parameter, or None."""
    values = form.get(name)
    return values[0] if values else None


def bool_opt(value: Any) -> bool:
    """The `no_callbacks` option: a boolean."""
    if not isinstance(value, bool):
        raise ValueError("no_callbacks must be true or false")
    return value


def is_http_url(url: str) -> bool:
    """Whether a string is an absolute http(s) URL."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def positive_opt(name: str) -> Callable[[Any], float]:
    """A parser of a positive number option."""

    def parse(value: Any) -> float:
        number = number_opt(name, value)
        if number <= 0:
            raise ValueError(f"'{name}' must be a positive number")
        return number

    return parse


def at_least_one_opt(name: str) -> Callable[[Any], int]:
    """A parser of a positive integer option."""

    def parse(value: Any) -> int:
        count = count_opt(name, value)
        if count < 1:
            raise ValueError(f"'{name}' must be a positive integer")
        return count

    return parse
