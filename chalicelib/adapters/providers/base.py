"""The one interface every messaging provider implements (the port); each provider's module is its whole dialect.

A provider has two sides. Its rules (`ProviderRules`) need no account: what a message may carry (`Limits`), what its
credentials look like, where its webhooks arrive and how they read, what its error codes mean. An account
(`Provider`, built per channel from its credentials) adds the calls: send, look a message up, list templates, check
a webhook's signature. The services see only these types and the domain's; they get instances from their
dependencies (`rules_for`, `provider_for`, `verifier_for`) and never name a provider.

This module imports only the standard library and the domain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, Protocol

from chalicelib.domain.events import InboundMessage, PreferenceUpdate, StatusEvent
from chalicelib.domain.templates import Template, TemplateMessage, TemplateUpdate

__all__ = [
    "ErrorInfo",
    "Limits",
    "Lookup",
    "Outcome",
    "Provider",
    "ProviderRules",
    "SendResult",
    "Template",
    "TemplateMessage",
    "TemplateUpdate",
    "WebhookKind",
    "WebhookRequest",
    "WebhookVerifier",
]


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
    TEMPLATE = "template"  # the template cannot be sent (paused, disabled, its parameters refused): stop the campaign
    UNCERTAIN = "uncertain"  # may have reached the provider (timeout, reset, 5xx): settle it, never resend blindly


@dataclass(frozen=True)
class SendResult:
    """What a provider said to one send: accepted (with its id), refused (a code and its class), or uncertain."""

    outcome: Outcome
    message_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    retry_after: float | None = None

    @classmethod
    def accepted(cls, message_id: str) -> SendResult:
        """The provider has the message and named it."""
        return cls(Outcome.ACCEPTED, message_id=message_id)

    @classmethod
    def refused(cls, outcome: Outcome, code: str, message: str = "", retry_after: float | None = None) -> SendResult:
        """The provider (or this machine, before anything left) refused it; `outcome` says what to do next."""
        if outcome in (Outcome.ACCEPTED, Outcome.UNCERTAIN):
            raise ValueError(f"a refusal cannot be {outcome.value}")
        return cls(outcome, error_code=code, error_message=message, retry_after=retry_after)

    @classmethod
    def uncertain(cls, code: str, message: str = "") -> SendResult:
        """The provider may have it: settle it from its callback or records, never resend blindly."""
        return cls(Outcome.UNCERTAIN, error_code=code, error_message=message)


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
    error_message: str | None = None


@dataclass(frozen=True)
class Limits:
    """What one message may carry on a provider's channel, and how fast a sender goes when its channel does not say."""

    media_types: frozenset[str]  # lower-case MIME types (no parameters) an attached file may have
    max_media_bytes: int  # the media and the text of one message together
    max_media_count: int  # files in one message
    max_text_chars: int  # characters of text in one message
    segmented: bool  # True: text is billed as SMS segments (GSM-7/UCS-2); False: one message whatever its length
    default_mps: float  # messages per second per sender
    templates: bool = False  # whether the provider has message templates (WhatsApp); SMS has none
    # The least time between two messages from one sender to one contact (Meta's pair rate, 131056); 0: no limit.
    pair_gap_seconds: float = 0.0
    # What a template's media header may be, by header type: (lower-case MIME types, most bytes).
    header_media: Mapping[str, tuple[frozenset[str], int]] = field(default_factory=dict)
    # How far ahead of a number's rate messages may be handed over: the provider queues them and sends them at the
    # number's rate (Twilio). 0: the provider refuses what comes faster than its rate (Meta's 130429).
    queue_lead_seconds: float = 0.0
    # The share of a number's rate the sender paces at. 1: the provider queues (Twilio) or counts loosely. Below 1:
    # it refuses the message that makes any second hold more than its rate (Meta's 130429), so the spacing leaves
    # room for the jitter of the network and of the sender's threads.
    rate_share: float = 1.0

    def accepts_media_type(self, content_type: str) -> bool:
        """Whether a file of this Content-Type (parameters and case ignored) may be attached."""
        return content_type.split(";", 1)[0].strip().lower() in self.media_types


@dataclass(frozen=True)
class ErrorInfo:
    """What one of a provider's error codes means for us."""

    code: str
    outcome: Outcome  # a send refused with this code: what to do next
    message: str  # the provider's words for it
    opted_out: bool = False  # the recipient opted out at the provider: never retried
    # A failure a campaign retry may send again only this long after it (Meta 131049: not now, maybe tomorrow).
    retry_after_seconds: float | None = None
    # For an ACCOUNT or TEMPLATE outcome: the campaign's stop_reason code (None: `provider_<code>`).
    stop_reason: str | None = None


@dataclass(frozen=True)
class WebhookRequest:
    """One provider webhook as it arrived: the public URL it was sent to (with its query), raw body, signature."""

    url: str
    body: bytes
    signature: str | None


WebhookKind = Literal["status", "inbound"]


class ProviderRules(Protocol):
    """What a provider is, whatever the account: its limits, credentials, webhooks and error codes."""

    @property
    def name(self) -> str:
        """The provider as channels name it (`twilio`)."""
        ...

    @property
    def title(self) -> str:
        """The provider as people name it, for messages (`Twilio`)."""
        ...

    @property
    def limits(self) -> Limits:
        """What one message may carry, and the default pace."""
        ...

    def credential_problems(self, credentials: Mapping[str, str]) -> list[tuple[str, str]]:
        """The credentials the provider could never accept, as (field, why) pairs; empty when worth trying."""
        ...

    def error(self, code: str) -> ErrorInfo:
        """What one of the provider's error codes means (an unknown code is a permanent refusal)."""
        ...

    def webhook_path(self, channel_id: str, kind: WebhookKind) -> str:
        """The path of a channel's webhook of this kind: what we hand out is what we verify."""
        ...

    def parse_status(self, request: WebhookRequest) -> list[StatusEvent]:
        """The status reports in a (verified) status webhook; reports that move no recipient are left out."""
        ...

    def parse_inbound(self, request: WebhookRequest) -> list[InboundMessage]:
        """The messages in a (verified) inbound webhook."""
        ...

    def parse_template_updates(self, request: WebhookRequest) -> list[TemplateUpdate]:
        """The template state changes in a (verified) webhook; none for a provider that never sends them."""
        ...

    def parse_preferences(self, request: WebhookRequest) -> list[PreferenceUpdate]:
        """The contacts' preference changes in a (verified) webhook (Meta's marketing stop/resume); none for a
        provider that never sends them."""
        ...

    def config_problems(self, config: Mapping[str, object] | None, senders: Sequence[str]) -> list[tuple[str, str]]:
        """What is wrong with a channel's `provider_config` for these senders, as (field, why) pairs; empty if fine."""
        ...

    def handshake(self, query: Mapping[str, str], credentials: Mapping[str, str]) -> str | None:
        """The text to answer a webhook verification request (Meta's hub.challenge) when its token is the channel's;
        None when it is not (403), or when the provider has no such handshake."""
        ...


class WebhookVerifier(Protocol):
    """Checks a provider's webhook signature for one account."""

    def valid(self, request: WebhookRequest) -> bool:
        """True when the request is signed by the provider for this account."""
        ...


class Provider(ProviderRules, WebhookVerifier, Protocol):
    """One provider account: its rules, its webhook signature, and the calls that need its credentials."""

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
        """Hand one message to the provider; every failure is a classified result, never an exception."""
        ...

    def find(self, *, to: str, sender: str, text: str | None, media_count: int, since: float) -> Lookup:
        """Look in the provider's records for a message handed over no earlier than `since` (epoch seconds)."""
        ...

    def templates(self) -> list[Template]:
        """The account's message templates; empty where the provider has none (`limits.templates` is False)."""
        ...
