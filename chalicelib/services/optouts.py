"""The tenant's opt-out list: keywords, the providers' opt-out refusals and preferences, and the API."""

from __future__ import annotations

from collections.abc import Sequence

from chalicelib.domain.channels import Channel
from chalicelib.domain.events import InboundMessage
from chalicelib.services.deps import Deps


def opted_out(deps: Deps, tenant_id: str, numbers: Sequence[str]) -> set[str]:
    """Which of these numbers are on the tenant's opt-out list now (the sender asks at each chunk's start)."""
    return set()


def provider_refused(deps: Deps, tenant_id: str, channel_id: str, number: str, code: str | None) -> None:
    """A send refused (at once, or by a later status report) with `code`: when the provider's code means the
    recipient opted out (Twilio 21610, Meta 131050), the number goes on the list (source `provider`)."""


def on_inbound(deps: Deps, tenant_id: str, channel: Channel, message: InboundMessage) -> None:
    """An opt-out keyword puts the sender of the message on the list, an opt-in keyword takes it off."""


def preference(deps: Deps, tenant_id: str, channel_id: str, number: str, stop: bool) -> None:
    """Meta's `user_preferences` webhook: the contact stopped (`stop`) or resumed marketing messages; a stop puts the
    number on the list (source `provider`), a resume takes it off."""
