"""The dependencies every use case takes: ports (protocols), clock, ids and settings.

What implements them is chosen by the composition root, chalicelib/wiring.py (or a test, with tests/fakes/).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from chalicelib.adapters.providers.base import Provider, ProviderRules, WebhookVerifier
from chalicelib.config import Settings
from chalicelib.domain.channels import Channel
from chalicelib.domain.model import Clock, IdFactory
from chalicelib.services.campaign_ports import Campaigns, Handovers, Pace, Recipients
from chalicelib.services.event_ports import EventRoutes
from chalicelib.services.optout_ports import OptOuts
from chalicelib.services.ports import (
    Blobs,
    Channels,
    Idempotency,
    Phonebooks,
    Queue,
    Scheduler,
    Secrets,
    Templates,
    Tenants,
    Uploads,
)
from chalicelib.services.session_ports import Sessions


@dataclass
class Deps:
    """What the services need from the outside world."""

    settings: Settings
    tenants: Tenants
    channels: Channels
    uploads: Uploads
    phonebooks: Phonebooks
    idempotency: Idempotency
    campaigns: Campaigns
    recipients: Recipients
    handovers: Handovers
    queue: Queue
    secrets: Secrets
    scheduler: Scheduler
    blobs: Blobs
    templates: Templates
    clock: Clock
    ids: IdFactory
    provider_for: Callable[[Channel, Mapping[str, str]], Provider]
    verifier_for: Callable[[Channel, Mapping[str, str]], WebhookVerifier]
    # The rules of a channel's provider, by (provider, channel type); 422 unsupported_channel for one not wired here.
    rules_for: Callable[[str, str], ProviderRules]
    # Sessions and chat logs, the opt-out list, and where a tenant's events go (issue 11). Defaults let the deps of
    # a narrow test (or the operator's tenant commands) leave out what they never touch.
    sessions: Sessions = field(default=cast(Any, None))
    optouts: OptOuts = field(default=cast(Any, None))
    events: EventRoutes = field(default=cast(Any, None))
    # The send budgets of sender numbers (issue 12): only the sender takes from them.
    pace: Pace = field(default=cast(Any, None))
