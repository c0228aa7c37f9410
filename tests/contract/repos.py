"""The two backends the repository contracts run on: the in-memory fakes, and the real repositories on moto."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
import requests

from chalicelib.adapters.dynamo.campaigns import CampaignRepo
from chalicelib.adapters.dynamo.recipients import RecipientRepo
from chalicelib.adapters.dynamo.table import TENANT_SK, Table, tenant_pk, to_item
from chalicelib.adapters.handovers import HandoverRepo
from chalicelib.domain.campaign import Campaign
from chalicelib.domain.model import RecipientStatus
from chalicelib.domain.recipient import Recipient
from tests.fakes.campaigns import FakeCampaigns
from tests.fakes.items import FakeTable
from tests.fakes.recipients import FakeHandovers, FakeRecipients

TENANT = "ten_1"
CHANNEL = "ch_1"
NOW = "2026-12-01T08:00:00Z"
LATER = "2026-12-01T09:00:00Z"


@dataclass
class Repos:
    """One backend's campaign, recipient and hand-over repositories, and a way to seed what other aggregates own."""

    campaigns: Any
    recipients: Any
    handovers: Any
    put_item: Any  # writes a raw item (a tenant or a channel, as their own repositories would)

    def add_tenant(self, tenant_id: str = TENANT) -> None:
        """A tenant with no campaigns."""
        self.put_item({"pk": tenant_pk(tenant_id), "sk": TENANT_SK, "tenant_id": tenant_id, "campaign_count": 0})

    def add_channel(self, tenant_id: str = TENANT, channel_id: str = CHANNEL) -> None:
        """A channel of the tenant."""
        self.put_item({"pk": tenant_pk(tenant_id), "sk": f"CHANNEL#{channel_id}", "use_seq": 0})


def fake_repos() -> Repos:
    """The fakes, sharing one in-memory table."""
    table = FakeTable()
    return Repos(FakeCampaigns(table), FakeRecipients(table), FakeHandovers(table), table.put)


def moto_repos(moto_url: str) -> Repos:
    """The real repositories over a fresh moto table."""
    from devstack.resources import create_resources

    requests.post(f"{moto_url}/moto-api/reset", timeout=10)
    name = create_resources(None).table_name
    client = boto3.client("dynamodb")
    table = Table(client, name, sleep=lambda _: None)

    def put_item(item: dict[str, Any]) -> None:
        client.put_item(TableName=name, Item=to_item(item))

    return Repos(CampaignRepo(table), RecipientRepo(table), HandoverRepo(table), put_item)


def campaign(campaign_id: str, status: str = "draft", **fields: Any) -> Campaign:
    """A campaign as the service creates it."""
    return Campaign(
        campaign_id=campaign_id,
        tenant_id=TENANT,
        status=status,
        name=f"campaign {campaign_id}",
        channel_id=fields.pop("channel_id", CHANNEL),
        sender="+15005550006",
        content={"type": "text", "text": "hi"},
        send_time={"type": "now" if status == "executing" else status},
        send_mode="direct",
        segments=1,
        encoding="GSM-7",
        audience={"numbers": ["+14155550100"], "upload_id": None, "phonebook": None},
        audience_total=1,
        chunk_size=50,
        dispatch_gen=0,
        version=0,
        created_at=NOW,
        started_at=NOW if status == "executing" else None,
        **fields,
    )


def recipient_rows(campaign_id: str, count: int, shard: int = 0) -> list[Recipient]:
    """Queued recipients as dispatch writes them."""
    return [
        Recipient(
            index=i,
            number=f"+1415555{i:04d}",
            status=RecipientStatus.QUEUED,
            shard=shard,
            tenant_id=TENANT,
            channel_id=CHANNEL,
        )
        for i in range(count)
    ]
