"""The one interface every messaging provider implements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class Outcome(StrEnum):
    """How a send attempt ended, as far as what to do next is concerned."""

    ACCEPTED = "accepted"  # the provider has the message
    PERMANENT = "permanent"  # this recipient will not get it; record the error
    THROTTLED = "throttled"  # too fast: slow down and try again, not the recipient's failure
    TRANSIENT = "transient"  # the provider or the network had a problem: try again later
    ACCOUNT = "account"  # credentials rejected, account suspended, out of credit: stop the campaign


@dataclass(frozen=True)
class SendResult:
    """What a provider said to one send."""

    outcome: Outcome
    message_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    retry_after: float | None = None


class Provider(Protocol):
    """A messaging provider as the sender sees it."""

    def send(
        self, *, to: str, sender: str, text: str | None, media_urls: Sequence[str], status_callback: str
    ) -> SendResult:
        """Hand one message to the provider."""
        ...


class WebhookVerifier(Protocol):
    """Checks a provider's webhook signature."""

    def valid(self, url: str, params: Mapping[str, str], signature: str | None) -> bool:
        """True when the signature matches."""
        ...
