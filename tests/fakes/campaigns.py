"""An in-memory CampaignRepo: the same operations, conditions and named errors as adapters/dynamo/campaigns.py.

It shares a FakeTable with the recipient and hand-over fakes (counters live beside recipients) and reads the
tenant item (the send lock) and channel items from it, keyed as in DynamoDB. tests/contract/test_campaign_repo.py
runs one test class against this fake and against the real repository on moto, so the two cannot drift apart.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from chalicelib.adapters.dynamo.recipients import counter_sk
from chalicelib.adapters.dynamo.table import ACTIVE, DUE, TENANT_SK, campaign_pk, campaign_sk, tenant_pk
from chalicelib.domain.campaign import Campaign, CampaignPage, campaign_from, campaign_values
from chalicelib.domain.errors import (
    AudienceWrittenError,
    CampaignLimitError,
    CampaignMovedError,
    ChannelGoneError,
    ConcurrencyError,
    ConflictError,
    NotFoundError,
)
from chalicelib.domain.model import BUCKETS, SENDING_STATUSES, CampaignStatus
from tests.fakes.items import FakeTable


def _as_campaign(item: dict[str, Any] | None) -> Campaign | None:
    return campaign_from(copy.deepcopy(item)) if item else None


class FakeCampaigns:
    """Campaigns and the tenant's send lock, in memory."""

    def __init__(self, table: FakeTable | None = None) -> None:
        self.table = table or FakeTable()

    # ------------------------------------------------------------------ helpers for tests
    def add_tenant(self, tenant_id: str) -> None:
        """A tenant item with no campaigns (what the tenant repository writes)."""
        self.table.put({"pk": tenant_pk(tenant_id), "sk": TENANT_SK, "tenant_id": tenant_id, "campaign_count": 0})

    def add_channel(self, tenant_id: str, channel_id: str) -> None:
        """A channel item (what the channel repository writes)."""
        self.table.put({"pk": tenant_pk(tenant_id), "sk": f"CHANNEL#{channel_id}", "use_seq": 0})

    def _item(self, tenant_id: str, campaign_id: str) -> dict[str, Any] | None:
        return self.table.raw(tenant_pk(tenant_id), campaign_sk(campaign_id))

    def _tenant(self, tenant_id: str) -> dict[str, Any] | None:
        return self.table.raw(tenant_pk(tenant_id), TENANT_SK)

    @staticmethod
    def _lock_free(tenant: Mapping[str, Any]) -> bool:
        return not tenant.get("sending") and not tenant.get("pending_queue")

    # ------------------------------------------------------------------ reads
    def lock_of(self, tenant_id: str) -> dict[str, Any] | None:
        """The tenant item: its send lock and campaign count."""
        return self.table.get(tenant_pk(tenant_id), TENANT_SK)

    def get(self, tenant_id: str, campaign_id: str, consistent: bool = True) -> Campaign | None:
        """A tenant's campaign."""
        return _as_campaign(self.table.get(tenant_pk(tenant_id), campaign_sk(campaign_id)))

    def page(self, tenant_id: str, status: str | None, limit: int, cursor: str | None) -> CampaignPage:
        """A page of the tenant's campaigns, newest first."""
        page = self.table.page(
            tenant_pk(tenant_id), "CAMPAIGN#", limit=limit, cursor=cursor, forward=False, status=status
        )
        return CampaignPage([campaign_from(i) for i in page.items], page.next_cursor)

    def of_tenant(self, tenant_id: str) -> Iterator[Campaign]:
        """Every campaign of a tenant."""
        return iter([campaign_from(i) for i in self.table.query(tenant_pk(tenant_id), "CAMPAIGN#")])

    def due(self, until: str) -> list[tuple[str, str]]:
        """(tenant_id, campaign_id) of scheduled campaigns due by `until`."""
        return [(tid, cid) for _, tid, cid in self.indexed(DUE, until)]

    def active(self) -> list[tuple[str, str]]:
        """(tenant_id, campaign_id) of campaigns sending."""
        return [(tid, cid) for _, tid, cid in self.indexed(ACTIVE)]

    def indexed(self, kind: str, until: str | None = None) -> list[tuple[str, str, str]]:
        """(time, tenant_id, campaign_id) of campaigns on the DUE or ACTIVE index, up to `until`."""
        keys = sorted(
            i["gsi1sk"]
            for i in self.table.scan()
            if i.get("gsi1pk") == kind and (until is None or i["gsi1sk"] <= until + "\uffff")
        )
        out = []
        for key in keys:
            when, tid, cid = key.split("#", 2)
            out.append((when, tid, cid))
        return out

    # ------------------------------------------------------------------ writes
    def create(self, campaign: Campaign, max_campaigns: int) -> str:
        """Store a new campaign, taking the send lock or queueing when it is to go now; the status stored."""
        tid, cid = campaign.tenant_id, campaign.campaign_id
        with self.table.lock:
            tenant = self._tenant(tid)
            if tenant is None:
                raise NotFoundError("no such tenant")
            if int(tenant.get("campaign_count", 0)) >= max_campaigns:
                raise CampaignLimitError(
                    f"this tenant has {max_campaigns} campaigns, the most allowed; delete one to make room"
                )
            channel = self.table.raw(tenant_pk(tid), f"CHANNEL#{campaign.channel_id}")
            if channel is None:
                raise ChannelGoneError("the channel was deleted")
            item = {"pk": tenant_pk(tid), "sk": campaign_sk(cid), "type": "campaign", **campaign_values(campaign)}
            if campaign.status == CampaignStatus.EXECUTING:
                if self._lock_free(tenant):
                    tenant["sending"] = cid
                    item.update(gsi1pk=ACTIVE, gsi1sk=f"{campaign.started_at}#{tid}#{cid}")
                else:
                    tenant["pending_queue"] = [*tenant.get("pending_queue", []), cid]
                    item.update(status=CampaignStatus.PENDING.value, pending_since=campaign.created_at, started_at=None)
            elif campaign.status == CampaignStatus.SCHEDULED:
                item.update(gsi1pk=DUE, gsi1sk=f"{campaign.scheduled_at}#{tid}#{cid}")
            tenant["campaign_count"] = int(tenant.get("campaign_count", 0)) + 1
            channel["use_seq"] = int(channel.get("use_seq", 0)) + 1
            self.table.put(item)
            return str(item["status"])

    def _draft_as_read(self, tenant_id: str, campaign_id: str, version: int) -> dict[str, Any]:
        item = self._item(tenant_id, campaign_id)
        if item is None or item.get("status") != "draft" or int(item.get("version", version)) != version:
            raise CampaignMovedError("the draft changed", _as_campaign(item))
        return item

    def update_draft(self, tenant_id: str, campaign_id: str, version: int, fields: Mapping[str, Any]) -> bool:
        """Replace a draft's settings if it is still the draft (and version) that was read."""
        with self.table.lock:
            item = self._draft_as_read(tenant_id, campaign_id, version)
            if "channel_id" in fields:
                channel = self.table.raw(tenant_pk(tenant_id), f"CHANNEL#{fields['channel_id']}")
                if channel is None:
                    raise CampaignMovedError("the draft's new channel was deleted", _as_campaign(item))
                channel["use_seq"] = int(channel.get("use_seq", 0)) + 1
            item.update(copy.deepcopy(dict(fields)))
            item["version"] = version + 1
            return True

    def schedule_draft(
        self, tenant_id: str, campaign_id: str, version: int, scheduled_at: str, audience_total: int
    ) -> bool:
        """Turn a draft into a scheduled campaign if it is still the draft that was read."""
        with self.table.lock:
            item = self._draft_as_read(tenant_id, campaign_id, version)
            item.update(
                status="scheduled",
                scheduled_at=scheduled_at,
                send_time={"type": "scheduled", "at": scheduled_at},
                gsi1pk=DUE,
                gsi1sk=f"{scheduled_at}#{tenant_id}#{campaign_id}",
                version=version + 1,
                audience_total=audience_total,
            )
            return True

    def delete(self, tenant_id: str, campaign_id: str) -> Campaign:
        """Delete a campaign that is not sending; what it was."""
        with self.table.lock:
            item = self._item(tenant_id, campaign_id)
            if item is None:
                raise NotFoundError("no such campaign")
            status = item["status"]
            if status in ("executing", "retrying"):
                raise ConflictError(
                    f"the campaign is {status}; it can be deleted once it has finished", code="campaign_busy"
                )
            tenant = self._tenant(tenant_id) or {}
            queue = tenant.get("pending_queue") or []
            if status == "pending" and campaign_id in queue:
                queue.remove(campaign_id)
            tenant["campaign_count"] = int(tenant.get("campaign_count", 0)) - 1
            self.table.delete(tenant_pk(tenant_id), campaign_sk(campaign_id))
            return campaign_from(item)

    def _start_sending(self, item: dict[str, Any], tenant_id: str, to_status: str, now: str) -> None:
        item.update(
            status=item.get("start_as", to_status),
            started_at=now,
            gsi1pk=ACTIVE,
            gsi1sk=f"{now}#{tenant_id}#{item['campaign_id']}",
        )

    def start(
        self,
        tenant_id: str,
        campaign_id: str,
        from_status: str,
        now: str,
        *,
        to_status: str = "executing",
        extra: Mapping[str, Any] | None = None,
    ) -> str:
        """Move a campaign from `from_status` to sending (or pending behind the lock); the new status."""
        with self.table.lock:
            tenant = self._tenant(tenant_id)
            if tenant is None:
                raise CampaignMovedError("no such tenant")
            item = self._item(tenant_id, campaign_id)
            if item is None or item.get("status") != from_status:
                raise CampaignMovedError(f"the campaign is no longer {from_status}", _as_campaign(item))
            if self._lock_free(tenant):
                tenant["sending"] = campaign_id
                self._start_sending(item, tenant_id, to_status, now)
                new_status = to_status
            else:
                if campaign_id in (tenant.get("pending_queue") or []):
                    raise ConcurrencyError("could not start the campaign; try again")
                tenant["pending_queue"] = [*tenant.get("pending_queue", []), campaign_id]
                item.update(status="pending", pending_since=now, start_as=to_status)
                item.pop("gsi1pk", None)
                item.pop("gsi1sk", None)
                new_status = "pending"
            item.update(copy.deepcopy(dict(extra or {})))
            return new_status

    def finish(self, tenant_id: str, campaign_id: str, final_status: str, now: str) -> str | None:
        """End a sending campaign and hand the lock to the first pending one; its id, if any."""
        with self.table.lock:
            item = self._item(tenant_id, campaign_id)
            if item is None or item.get("status") not in SENDING_STATUSES:
                return None
            item.update(status=final_status, completed_at=now)
            for gone in ("gsi1pk", "gsi1sk", "start_as"):
                item.pop(gone, None)
            return self._hand_on(tenant_id, campaign_id, now)

    def pause(self, tenant_id: str, campaign_id: str, now: str) -> str | None:
        """Pause a sending campaign (kept on the ACTIVE index) and hand the lock on; CampaignMovedError if it is
        not sending or is being cancelled."""
        with self.table.lock:
            item = self._item(tenant_id, campaign_id)
            if item is None or item.get("status") not in SENDING_STATUSES or item.get("cancel_requested_at"):
                raise CampaignMovedError("the campaign is not sending, or is being cancelled", _as_campaign(item))
            item.update(status="paused", paused_at=now, start_as=item["status"])
            return self._hand_on(tenant_id, campaign_id, now)

    def close(self, tenant_id: str, campaign_id: str, from_status: str, now: str) -> None:
        """End a campaign that is not sending as completed (leaving the tenant's queue); CampaignMovedError."""
        with self.table.lock:
            item = self._item(tenant_id, campaign_id)
            if item is None or item.get("status") != from_status:
                raise CampaignMovedError(f"the campaign is no longer {from_status}", _as_campaign(item))
            item.update(status="completed", completed_at=now)
            for gone in ("gsi1pk", "gsi1sk", "start_as"):
                item.pop(gone, None)
            tenant = self._tenant(tenant_id) or {}
            queue = tenant.get("pending_queue") or []
            if from_status == "pending" and campaign_id in queue:
                queue.remove(campaign_id)

    def _hand_on(self, tenant_id: str, campaign_id: str, now: str) -> str | None:
        tenant = self._tenant(tenant_id) or {}
        queue = list(tenant.get("pending_queue") or [])
        if tenant.get("sending") != campaign_id:
            return None
        if not queue:
            tenant.pop("sending", None)
            return None
        next_id = queue[0]
        tenant["sending"], tenant["pending_queue"] = next_id, queue[1:]
        nxt = self._item(tenant_id, next_id)
        if nxt is not None and nxt.get("status") == "pending":
            self._start_sending(nxt, tenant_id, "executing", now)
        return next_id

    def set_fields(
        self, tenant_id: str, campaign_id: str, fields: Mapping[str, Any], condition_status: Sequence[str] | None = None
    ) -> bool:
        """Set plain fields on a campaign, optionally only while it is in one of `condition_status`."""
        with self.table.lock:
            item = self._item(tenant_id, campaign_id)
            if item is None or (condition_status and item.get("status") not in condition_status):
                raise CampaignMovedError("the campaign is gone or has moved on", _as_campaign(item))
            item.update(copy.deepcopy(dict(fields)))
            return True

    def mark_materialized(
        self,
        tenant_id: str,
        campaign_id: str,
        shard_counts: Sequence[int],
        report: Mapping[str, Any],
        statuses: Sequence[str] = ("executing", "retrying"),
    ) -> None:
        """Record that a campaign's recipients are written, with its counters, while it is in one of `statuses`."""
        with self.table.lock:
            item = self._item(tenant_id, campaign_id)
            pk = campaign_pk(campaign_id)
            if item is None or item.get("audience_written") or item.get("status") not in statuses:
                raise AudienceWrittenError("the campaign's audience is written already")
            item.update(audience_written=True, total=sum(shard_counts), audience_report=copy.deepcopy(dict(report)))
            for shard, count in enumerate(shard_counts):
                # Added: the first chunk's outcomes may be counted on the shard already.
                old = self.table.raw(pk, counter_sk(shard)) or {}
                counts = {b: int(old.get(b, 0)) + (count if b == "n_pending" else 0) for b in BUCKETS}
                self.table.put({"pk": pk, "sk": counter_sk(shard), **counts})
