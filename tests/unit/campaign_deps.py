"""The service's dependencies all in memory, for unit tests of the campaign use cases: no moto, no network.

The campaign, recipient and hand-over repositories and the provider are the fakes of tests/fakes/ (held to the
real adapters by tests/contract/). The queue, scheduler, secrets, blobs and channel lookups here are the smallest
stand-ins the campaign use cases need.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from chalicelib.adapters.providers.twilio import TWILIO_SMS
from chalicelib.adapters.queue import Chunk, Job
from chalicelib.config import Settings
from chalicelib.domain.channels import Channel
from chalicelib.domain.model import Clock, IdFactory
from chalicelib.services.deps import Deps
from tests.fakes.aws import FakeBlobs
from tests.fakes.campaigns import FakeCampaigns
from tests.fakes.channels import FakeChannels
from tests.fakes.deps import settings as fake_settings
from tests.fakes.events import FakeEventRoutes
from tests.fakes.idempotency import FakeIdempotency
from tests.fakes.items import FakeTable
from tests.fakes.optouts import FakeOptOuts
from tests.fakes.pace import FakePace
from tests.fakes.phonebooks import FakePhonebooks
from tests.fakes.provider import FAKE_WHATSAPP, FakeProvider
from tests.fakes.recipients import FakeHandovers, FakeRecipients
from tests.fakes.sessions import FakeSessions
from tests.fakes.templates import FakeTemplates
from tests.fakes.tenants import FakeTenants
from tests.fakes.uploads import FakeUploads

TENANT = "ten_1"
CHANNEL = "ch_1"
SENDER = "+15005550006"
WA_CHANNEL = "ch_wa"
WA_SENDER = "+15550100001"


@dataclass
class RecordingQueue:
    """The send queue: what was published, in order; `take()` hands it out once, as SQS would."""

    chunks: list[Chunk] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)
    groups: dict[Chunk, str] = field(default_factory=dict)  # the FIFO message group each chunk was published to

    dedup: set[str] = field(default_factory=set)

    def publish(
        self, chunks: Sequence[Chunk], group: str, dedup_prefix: str, on_batch: Callable[[], None] | None = None
    ) -> None:
        # FIFO de-duplication, as the adapter's ids give it: a repeat of a message id is dropped.
        for chunk in chunks:
            dedup_id = f"{dedup_prefix}:{chunk.start}-{chunk.end}"
            if dedup_id not in self.dedup:
                self.dedup.add(dedup_id)
                self.chunks.append(chunk)
                self.groups[chunk] = group

    def publish_job(self, job: Job, dedup_id: str) -> None:
        self.jobs.append(job)

    dead: list[tuple[str, str]] = field(default_factory=list)  # the dead-letter queue: (receipt handle, body)

    def retry_soon(self, receipt_handle: str, seconds: int = 60) -> None:
        pass

    def dead_letters(self, limit: int = 10) -> list[tuple[str, str]]:
        return list(self.dead[:limit])

    def drop_dead_letter(self, receipt_handle: str) -> None:
        self.dead = [d for d in self.dead if d[0] != receipt_handle]

    def take_chunks(self) -> list[Chunk]:
        taken, self.chunks = self.chunks, []
        return taken

    def take_by_group(self) -> dict[str, list[Chunk]]:
        """What was published since, by message group, each in order (one FIFO group is one worker at a time)."""
        by_group: dict[str, list[Chunk]] = {}
        for chunk in self.take_chunks():
            by_group.setdefault(self.groups.get(chunk, ""), []).append(chunk)
        return by_group

    def take_jobs(self) -> list[Job]:
        taken, self.jobs = self.jobs, []
        return taken


@dataclass
class Secrets:
    creds: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)

    def get(self, tenant_id: str, channel_id: str) -> dict[str, str] | None:
        return self.creds.get((tenant_id, channel_id))


@dataclass
class Scheduler:
    scheduled: list[str] = field(default_factory=list)

    def schedule_start(self, tenant_id: str, campaign_id: str, at: Any) -> None:
        self.scheduled.append(campaign_id)

    def cancel(self, campaign_id: str) -> None:
        self.scheduled.remove(campaign_id)


class NoBlobs:
    """Text campaigns read no blob."""


@dataclass
class World:
    """Deps over fakes, and handles on the fakes a test drives."""

    deps: Deps
    clock: Clock
    provider: FakeProvider
    queue: RecordingQueue
    campaigns: FakeCampaigns
    recipients: FakeRecipients
    handovers: FakeHandovers

    def advance(self, seconds: float) -> None:
        """Let time pass."""
        self.clock.offset += seconds


def settings(**changes: Any) -> Settings:
    """Deployment settings for a unit test of a campaign's life (few campaigns a tenant, a short provider timeout)."""
    return fake_settings(**{"max_campaigns_per_tenant": 10, "provider_timeout_seconds": 5.0, **changes})


def world(**setting_changes: Any) -> World:
    """A tenant with one Twilio-like channel, everything in memory, time standing still until advanced."""
    now = [1_796_112_000.0]  # 2026-12-01T08:00:00Z
    clock = Clock(now_fn=lambda: now[0])
    clock.sleep_fn = lambda seconds: setattr(clock, "offset", clock.offset + seconds)
    table = FakeTable()
    campaigns, recipients, handovers = FakeCampaigns(table), FakeRecipients(table), FakeHandovers(table)
    campaigns.add_tenant(TENANT)
    campaigns.add_channel(TENANT, CHANNEL)
    channels = FakeChannels()
    channels.create(
        Channel(
            tenant_id=TENANT,
            channel_id=CHANNEL,
            name="SMS",
            type="sms",
            provider="twilio",
            senders=(SENDER,),
            mps=1000,
            created_at="2026-12-01T08:00:00Z",
        )
    )
    provider = FakeProvider(clock=clock.now)
    queue = RecordingQueue()
    deps = Deps(
        settings=settings(**setting_changes),
        tenants=FakeTenants(),
        channels=channels,
        uploads=FakeUploads(),
        phonebooks=FakePhonebooks(),
        idempotency=FakeIdempotency(),
        queue=queue,  # type: ignore[arg-type]
        secrets=Secrets({(TENANT, CHANNEL): {"account_sid": "AC1", "auth_token": "t"}}),  # type: ignore[arg-type]
        scheduler=Scheduler(),  # type: ignore[arg-type]
        blobs=NoBlobs(),  # type: ignore[arg-type]
        templates=FakeTemplates(),
        clock=clock,
        ids=IdFactory(clock=clock.now),
        provider_for=lambda channel, creds: provider,
        verifier_for=lambda channel, creds: None,  # type: ignore[arg-type,return-value]
        rules_for=lambda provider, channel_type: TWILIO_SMS,  # Twilio's rules: its limits and error codes
        campaigns=campaigns,
        recipients=recipients,
        handovers=handovers,
        pace=FakePace(),
        sessions=cast(Any, FakeSessions()),
        optouts=cast(Any, FakeOptOuts()),
        events=cast(Any, FakeEventRoutes()),
    )
    return World(deps, clock, provider, queue, campaigns, recipients, handovers)


def whatsapp_world(**setting_changes: Any) -> World:
    """world() plus a WhatsApp-like channel (WA_CHANNEL, the FAKE_WHATSAPP rules: templates, a 6 s pair gap) and a
    bucket in memory for CSV contacts and header media; the templates are the test's to store."""
    w = world(**setting_changes)
    w.campaigns.add_channel(TENANT, WA_CHANNEL)
    w.deps.channels.create(
        Channel(
            tenant_id=TENANT,
            channel_id=WA_CHANNEL,
            name="WhatsApp",
            type="whatsapp",
            provider=FAKE_WHATSAPP.name,
            senders=(WA_SENDER,),
            mps=80,
            created_at="2026-12-01T08:00:00Z",
        )
    )
    w.deps.secrets.creds[(TENANT, WA_CHANNEL)] = {"access_token": "t", "app_secret": "s", "verify_token": "v"}  # type: ignore[attr-defined]
    w.deps.rules_for = lambda provider, channel_type: FAKE_WHATSAPP if provider == FAKE_WHATSAPP.name else TWILIO_SMS
    w.deps.blobs = FakeBlobs()
    return w
