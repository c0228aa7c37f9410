"""An in-memory messaging provider implementing the port in chalicelib/adapters/providers/base.py.

It keeps the messages it accepted, like a provider's records, and can be told what happens to the next sends to a
number, including the races a real provider has: a message it keeps while its answer is lost (`kept_no_answer`),
a request that never reached it (`lost_no_answer`), records that cannot be read for a while (`records_unreadable`).
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from chalicelib.adapters.providers.base import Lookup, Outcome, SendResult
from chalicelib.domain.templates import Template

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


@dataclass
class FakeProvider:
    """The provider port in memory: `send` hands a message over, `find` looks in what it kept."""

    clock: Callable[[], float]
    messages: list[Message] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)  # every number a send was attempted to, in order
    records_unreadable: bool = False
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
        self, *, to: str, sender: str, text: str | None, media_urls: Sequence[str], status_callback: str
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
            sid = f"SM{next(self._sids):032d}"
            self.messages.append(Message(sid, to, sender, text, tuple(media_urls), status_callback, self.clock()))
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
