"""Deps over the fakes: what unit tests of the services take (fast, no moto, no network)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

from chalicelib.adapters.providers.base import Provider, WebhookVerifier
from chalicelib.config import Settings
from chalicelib.domain.channels import Channel
from chalicelib.domain.model import Clock, IdFactory
from chalicelib.services.deps import Deps
from chalicelib.wiring import provider_rules
from tests.fakes.aws import FakeBlobs, FakeQueue, FakeScheduler, FakeSecrets
from tests.fakes.channels import FakeChannels
from tests.fakes.events import FakeEventRoutes
from tests.fakes.idempotency import FakeIdempotency
from tests.fakes.optouts import FakeOptOuts
from tests.fakes.phonebooks import FakePhonebooks
from tests.fakes.sessions import FakeSessions
from tests.fakes.templates import FakeTemplates
from tests.fakes.tenants import FakeTenants
from tests.fakes.uploads import FakeUploads

PUBLIC_BASE = "https://hooks.example.test/api"
T0 = 1_795_000_000.0  # 2026-11-17T...Z: a fixed start for the fake clock


def settings(**changes: Any) -> Settings:
    """Deployment settings for a unit test."""
    values: dict[str, Any] = {
        "table_name": "fake-table",
        "send_queue_url": "fake://send.fifo",
        "public_base_url": PUBLIC_BASE,
        "secrets_prefix": "msgcampaigns/",
        "scheduler_group": "default",
        "scheduler_role_arn": "",
        "scheduler_target_arn": "",
        "max_campaigns_per_tenant": 1000,
        "max_recipients_per_campaign": 1000,
        "chunk_size": 100,
        "twilio_api_base": None,
        "graph_api_base": "https://graph.example.test/v21.0",
        "provider_timeout_seconds": 10.0,
        "settle_seconds": 120,
        "attribution_window_days": 7,
        "upload_bucket": "fake-bucket",
        "inline_dispatch_max": 2000,
    }
    values.update(changes)
    return Settings(**values)


@dataclass
class FakeCampaignList:
    """The one campaign read the small aggregates' services make (a channel in use cannot be deleted); the campaign
    use cases' unit tests use tests/fakes/campaigns.py instead."""

    campaigns: list[dict[str, Any]] = field(default_factory=list)

    def of_tenant(self, tenant_id: str) -> Iterator[SimpleNamespace]:
        """The tenant's campaigns (what the channel service reads of them: id, channel and status)."""
        return iter(
            [SimpleNamespace(**{"status": "executing", **c}) for c in self.campaigns if c.get("tenant_id") == tenant_id]
        )


def _no_provider(channel: Channel, creds: Mapping[str, str]) -> Provider:
    raise AssertionError("this unit test sends nothing")


def _no_verifier(channel: Channel, creds: Mapping[str, str]) -> WebhookVerifier:
    raise AssertionError("this unit test verifies no webhook")


@dataclass
class FakeWorld:
    """The fakes behind one Deps, to look at what the services did."""

    deps: Deps
    tenants: FakeTenants
    channels: FakeChannels
    uploads: FakeUploads
    phonebooks: FakePhonebooks
    idempotency: FakeIdempotency
    queue: FakeQueue
    secrets: FakeSecrets
    scheduler: FakeScheduler
    blobs: FakeBlobs
    templates: FakeTemplates
    campaigns: FakeCampaignList
    sessions: FakeSessions = field(default_factory=FakeSessions)
    optouts: FakeOptOuts = field(default_factory=FakeOptOuts)
    events: FakeEventRoutes = field(default_factory=FakeEventRoutes)


def fake_world(now: float = T0) -> FakeWorld:
    """Fresh fakes and the Deps over them; the clock stands still at `now` until a test moves it."""
    clock = Clock(now_fn=lambda: now, sleep_fn=lambda seconds: None)
    world = FakeWorld(
        deps=cast(Deps, None),
        tenants=FakeTenants(),
        channels=FakeChannels(),
        uploads=FakeUploads(),
        phonebooks=FakePhonebooks(),
        idempotency=FakeIdempotency(),
        queue=FakeQueue(),
        secrets=FakeSecrets(),
        scheduler=FakeScheduler(),
        blobs=FakeBlobs(),
        templates=FakeTemplates(),
        campaigns=FakeCampaignList(),
    )
    world.deps = Deps(
        settings=settings(),
        tenants=world.tenants,
        channels=world.channels,
        uploads=world.uploads,
        phonebooks=world.phonebooks,
        idempotency=world.idempotency,
        campaigns=cast(Any, world.campaigns),
        recipients=cast(Any, None),  # these unit tests send nothing
        handovers=cast(Any, None),
        queue=world.queue,
        secrets=world.secrets,
        scheduler=world.scheduler,
        blobs=world.blobs,
        templates=world.templates,
        clock=clock,
        ids=IdFactory(clock=clock.now),
        provider_for=_no_provider,
        verifier_for=_no_verifier,
        rules_for=provider_rules,
        sessions=cast(Any, world.sessions),
        optouts=cast(Any, world.optouts),
        events=cast(Any, world.events),
    )
    return world
