"""An in-memory messaging provider implementing the port in chalicelib/adapters/providers/base.py.

It keeps the messages it accepted, like a provider's records, and can be told what happens to the next sends to a
number, including the races a real provider has: a message it keeps while its answer is lost (`kept_no_answer`),
a request that never reached it (`lost_no_answer`), records that cannot be read for a while (`records_unreadable`).
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from chalicelib.adapters.providers.base import ErrorInfo, Limits, Lookup, Outcome, SendResult
from chalicelib.adapters.providers.twilio import TwilioRules
from chalicelib.domain.templates import Template, TemplateMessage

# What a scripted send does: one of these, or a SendResult answered as it is (a refusal, a throttle, ...).
ACCEPT = "accept"
KEPT_NO_ANSWER = "kept_no_answer"  # the provider has it; the answer was lost (a timeout after it accepted)
LOST_NO_ANSWER = "lost_no_answer"  # the answer was lost and the provider never got it (a reset before it read)


@dataclass(frozen=True)
class Message:
    """A message the provider has."""

    sid: str
    to: str
    sender: str
    text: str | None
    media_urls: tuple[str, ...]
    status_callback: str
    at: float
    status: str = "sent"
    template: TemplateMessage | None = None


@dataclass
class FakeProvider:
    """The provider port in memory: `send` hands a message over, `find` looks in what it kept."""

    clock: Callable[[], float]
    messages: list[Message] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)  # every number a send was attempted to, in order
    records_unreadable: bool = False
    # Like Meta's pair rate: a second message from one sender to one contact within this many seconds is refused
    # (131056, throttled); 0 for none.
    pair_gap: float = 0.0
    pair_refusals: list[str] = field(default_factory=list)  # the numbers refused so
    # What `templates()` lists (every page), or the error it raises instead.
    listed_templates: list[Template] = field(default_factory=list)
    listing_error: BaseException | None = None
    _plans: dict[str, deque[str | SendResult]] = field(default_factory=dict)
    _sids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, to: str, *steps: str | SendResult) -> None:
        """What the next sends to `to` do, in order (after them: accepted)."""
        self._plans.setdefault(to, deque()).extend(steps)

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
        """Hand one message over."""
        with self._lock:
            self.calls.append(to)
            plan = self._plans.get(to)
            step: str | SendResult = plan.popleft() if plan else ACCEPT
            if isinstance(step, SendResult):
                return step
            if step == LOST_NO_ANSWER:
                return SendResult(Outcome.UNCERTAIN, error_code="provider_timeout", error_message="no answer")
            now = self.clock()
            if self.pair_gap and any(
                m.to == to and m.sender == sender and now - m.at < self.pair_gap for m in self.messages
            ):
                self.pair_refusals.append(to)
                return SendResult.refused(Outcome.THROTTLED, "131056", "pair rate limit hit", retry_after=6.0)
            sid = f"SM{next(self._sids):032d}"
            self.messages.append(
                Message(sid, to, sender, text, tuple(media_urls), status_callback, now, template=template)
            )
            if step == KEPT_NO_ANSWER:
                return SendResult(Outcome.UNCERTAIN, error_code="provider_timeout", error_message="no answer")
            return SendResult(Outcome.ACCEPTED, message_id=sid)

    def find(self, *, to: str, sender: str, text: str | None, media_count: int, since: float) -> Lookup:
        """Look for a message handed over no earlier than `since`."""
        with self._lock:
            if self.records_unreadable:
                return Lookup(None)
            for message in self.messages:
                same = (message.to, message.sender, message.text, len(message.media_urls)) == (
                    to,
                    sender,
                    text,
                    media_count,
                )
                if same and message.at >= since:
                    return Lookup(True, message_id=message.sid, status=message.status)
            return Lookup(False)

    def templates(self) -> list[Template]:
        """The account's templates, as set by the test (or `listing_error`)."""
        if self.listing_error is not None:
            raise self.listing_error
        return list(self.listed_templates)

    def sent_to(self, to: str) -> list[Message]:
        """The messages the provider has for `to`."""
        with self._lock:
            return [m for m in self.messages if m.to == to]


# A WhatsApp-like provider's rules for the campaign tests, until the real WhatsApp providers are wired: templates, a
# pair gap of 6 s, header media limits, and error codes of each class the sender treats differently.
FAKE_WHATSAPP_LIMITS = Limits(
    media_types=frozenset(),
    max_media_bytes=0,
    max_media_count=0,
    max_text_chars=4096,
    segmented=False,
    default_mps=80.0,
    templates=True,
    pair_gap_seconds=6.0,
    header_media={
        "image": (frozenset({"image/jpeg", "image/png"}), 5 * 2**20),
        "video": (frozenset({"video/mp4", "video/3gpp"}), 16 * 2**20),
        "document": (frozenset({"application/pdf"}), 100 * 2**20),
    },
)
FAKE_WHATSAPP_ERRORS: Mapping[str, ErrorInfo] = {
    "131026": ErrorInfo("131026", Outcome.PERMANENT, "message undeliverable"),
    "131049": ErrorInfo(
        "131049", Outcome.PERMANENT, "not delivered to maintain ecosystem health", retry_after_seconds=86400
    ),
    "131050": ErrorInfo("131050", Outcome.PERMANENT, "user stopped marketing messages", opted_out=True),
    "131056": ErrorInfo("131056", Outcome.THROTTLED, "pair rate limit hit"),
    "130429": ErrorInfo("130429", Outcome.THROTTLED, "rate limit hit"),
    "132001": ErrorInfo("132001", Outcome.TEMPLATE, "template does not exist", stop_reason="template_not_found"),
    "132015": ErrorInfo("132015", Outcome.TEMPLATE, "template is paused", stop_reason="template_paused"),
    "132000": ErrorInfo("132000", Outcome.TEMPLATE, "number of parameters does not match"),
    "190": ErrorInfo("190", Outcome.ACCOUNT, "access token expired", stop_reason="credentials_rejected"),
}


class FakeWhatsAppRules(TwilioRules):
    """Twilio's webhooks and credentials, with WhatsApp's limits and error codes (a test double of the rules)."""

    name = "fake_whatsapp"
    title = "Fake WhatsApp"
    limits = FAKE_WHATSAPP_LIMITS

    def error(self, code: str) -> ErrorInfo:
        """What one of the fake WhatsApp codes means (any other: permanent)."""
        return FAKE_WHATSAPP_ERRORS.get(code) or ErrorInfo(code, Outcome.PERMANENT, f"error {code}")


FAKE_WHATSAPP = FakeWhatsAppRules()
