"""A channel's provider as the services see it: its rules (through the port) and the webhook URLs we hand out."""

from __future__ import annotations

from chalicelib.adapters.providers.base import ProviderRules, WebhookKind
from chalicelib.domain.channels import Channel
from chalicelib.services.deps import Deps


def rules_of(deps: Deps, channel: Channel) -> ProviderRules:
    """The rules of a channel's provider (its limits, credentials, webhooks and error codes)."""
    return deps.rules_for(channel.provider, channel.type)


def webhook_url(deps: Deps, channel: Channel, kind: WebhookKind) -> str:
    """The URL of a channel's webhook at the webhook base (WEBHOOK_BASE_URL): what we hand out is what we verify."""
    return deps.settings.webhook_base + rules_of(deps, channel).webhook_path(channel.channel_id, kind)
