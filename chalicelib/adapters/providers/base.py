"""The one interface every messaging provider implements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class Outcome(StrEnum):
    """How a send attempt ended, as far as what to do next is concerned.

    Only ACCEPTED and UNCERTAIN hand-overs may have reached the provider. Every other outcome is a refusal the
    provider answered, or a failure that provably happened before the request left this machine.
    """

    ACCEPTED = "accepted"  # the provider has the message (and gave its id)
    PERMANENT = "permanent"  # refused: this recipient will not get it; record the error
    THROTTLED = "throttled"  # refused as too fast: slow down and try again, not the recipient's failure
    TRANSIENT = "transient"  # never left (connection refused, DNS, TLS handshake): safe to try again at once
    ACCOUNT = "account"  # credentials rejected, account suspended, out of credit: stop the campaign
    UNCERTAIN = "uncertain"  # may have reached the provider (timeout, reset, 5xx): settle it, never resend blindly


@dataclass(frozen=True)
class SendResult:
    """What a provider said to one send."""

    outcome: Outcome
    message_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class Lookup:
    """What the provider's own records say about one hand-over.

    `found` is True (the provider has it: `message_id`, and its `status` as one of ours), False (provably absent)
    or None (the records could not be read: ask again later).
    """

    found: bool | None
    message_id: str | None = None
    status: str | None = None
    error_code: str | None = None


class Provider(Protocol):
    """A messaging provider as the sender sees it."""

    def send(
        self, *, to: str, sender: str, text: str | None, media_urls: Sequence[str], status_callback: str
    ) -> SendResult:
        """Hand one message to the provider."""
        ...

    def find(self, *, to: str, sender: str, text: str | None, media_count: int, since: float) -> Lookup:
        """Look in the provider's records for a message handed over no earlier than `since` (epoch seconds)."""
        ...


class WebhookVerifier(Protocol):
    """Checks a provider's webhook signature."""

    def valid(self, url: str, params: Mapping[str, str], signature: str | None) -> bool:
        """True when the signature matches."""
        ...
