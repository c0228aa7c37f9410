"""The campaign repository: campaign items, the tenant's send lock, and the DUE/ACTIVE index.

    TENANT#{tid}   #TENANT          sending (the one campaign allowed to send), pending_queue (FIFO), campaign_count
    TENANT#{tid}   CAMPAIGN#{cid}   the campaign; gsi1pk DUE (scheduled) or ACTIVE (sending), gsi1sk time#tid#cid

Every move of a campaign into or out of sending is one transaction over the campaign item and the tenant item,
so two campaigns of a tenant can never both be sending, whatever runs at the same time:

    draft ──send──> scheduled ──time──┐
      │                               v
      └────now────> (LOCK_FREE?) ── executing/retrying ──finish──> completed | stopped
                       │ LOCK_TAKEN      ^
                       v                 │ finish hands the lock to pending_queue[0]
                    pending ─────────────┘

A lost condition raises a named error (chalicelib.domain.errors) carrying the campaign as the winner left it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from chalicelib.adapters.dynamo.recipients import counter_sk
from chalicelib.adapters.dynamo.table import (
    ACTIVE,
    DUE,
    LOCK_FREE,
    LOCK_TAKEN,
    MAX_TX_ATTEMPTS,
    QUEUE_EMPTY,
    START_SENDING,
    TENANT_SK,
    ConditionFailed,
    Table,
    campaign_pk,
    campaign_sk,
    from_item,
    tenant_pk,
    to_values,
)
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
from chalicelib.domain.model import BUCKETS, CampaignStatus

STATUS = {"#s": "status"}
# The campaign is still in the status it was read in (every move below is from a status it was read in).
STATUS_WAS = "#s = :from"
# A draft is still the draft (and the version of it) that was read.
DRAFT_AS_READ = "#s = :draft AND (attribute_not_exists(version) OR version = :version)"
# Nothing has written the campaign's recipients and counters yet (and, as the caller adds, it is in a status read).
NOT_MATERIALIZED = "attribute_not_exists(audience_written)"
CHANNEL_EXISTS = "attribute_exists(pk)"
CAMPAIGN_ABSENT = "attribute_not_exists(pk)"
# No cancel was asked for (a cancelled campaign is never paused: it is finishing).
NOT_CANCELLED = "attribute_not_exists(cancel_requested_at)"


def _as_campaign(item: dict[str, Any] | None) -> Campaign | None:
    return campaign_from(item) if item else None


class CampaignRepo:
    """Campaigns of tenants, and the tenant's send lock that decides which of them sends."""

    def __init__(self, table: Table) -> None:
        self.table = table

    # ------------------------------------------------------------------ reads
    def lock_of(self, tenant_id: str) -> dict[str, Any] | None:
        """The tenant item, read consistently: its send lock (`sending`, `pending_queue`) and `campaign_count`."""
        return self.table.get(tenant_pk(tenant_id), TENANT_SK)

    def get(self, tenant_id: str, campaign_id: str, consistent: bool = True) -> Campaign | None:
        """A tenant's campaign."""
        item = self.table.get(tenant_pk(tenant_id), campaign_sk(campaign_id), consistent)
        return campaign_from(item) if item else None

    def page(self, tenant_id: str, status: str | None, limit: int, cursor: str | None) -> CampaignPage:
        """A page of the tenant's campaigns, newest first, optionally of one status."""
        page = self.table.page(
            tenant_pk(tenant_id), "CAMPAIGN#", limit=limit, cursor=cursor, forward=False, status=status
        )
        return CampaignPage([campaign_from(i) for i in page.items], page.next_cursor)

    def of_tenant(self, tenant_id: str) -> Iterator[Campaign]:
        """Every campaign of a tenant (at most the per-tenant limit)."""
        return (campaign_from(i) for i in self.table.query_all(tenant_pk(tenant_id), "CAMPAIGN#"))

    def due(self, until: str) -> list[tuple[str, str]]:
        """(tenant_id, campaign_id) of scheduled campaigns due by `until`, earliest first."""
        return [(tid, cid) for _, tid, cid in self.indexed(DUE, until)]

    def active(self) -> list[tuple[str, str]]:
        """(tenant_id, campaign_id) of campaigns sending, earliest started first."""
        return [(tid, cid) for _, tid, cid in self.indexed(ACTIVE)]

    def indexed(self, kind: str, until: str | None = None) -> list[tuple[str, str, str]]:
        """(time, tenant_id, campaign_id) of campaigns on the DUE or ACTIVE index, up to `until`."""
        kwargs: dict[str, Any] = {"TableName": self.table.name, "IndexName": "gsi1"}
        if until is None:
            kwargs["KeyConditionExpression"] = "gsi1pk = :k"
            kwargs["ExpressionAttributeValues"] = to_values({":k": kind})
        else:
            kwargs["KeyConditionExpression"] = "gsi1pk = :k AND gsi1sk <= :until"
            kwargs["ExpressionAttributeValues"] = to_values({":k": kind, ":until": until + "\uffff"})
        out: list[tuple[str, str, str]] = []
        while True:
            page = self.table.db.query(**kwargs)
            for raw in page.get("Items", []):
                when, tid, cid = from_item(raw)["gsi1sk"].split("#", 2)
                out.append((when, tid, cid))
            last = page.get("LastEvaluatedKey")
            if not last:
                return out
            kwargs["ExclusiveStartKey"] = last

    # ------------------------------------------------------------------ writes
    def _key(self, tenant_id: str, campaign_id: str) -> dict[str, str]:
        return {"pk": tenant_pk(tenant_id), "sk": campaign_sk(campaign_id)}

    def _tenant_key(self, tenant_id: str) -> dict[str, str]:
        return {"pk": tenant_pk(tenant_id), "sk": TENANT_SK}

    def _channel_key(self, tenant_id: str, channel_id: str) -> dict[str, str]:
        return {"pk": tenant_pk(tenant_id), "sk": f"CHANNEL#{channel_id}"}

    def create(self, campaign: Campaign, max_campaigns: int) -> str:
        """Store a new campaign, taking the tenant's send lock or joining its queue when it is to go now.

        Returns the status it was stored with. `campaign.status` is `draft`, `scheduled` or `executing`
        (meaning: send now); a campaign to send now while another is sending is stored `pending`.
        Raises CampaignLimitError, or ChannelGoneError when its channel was deleted meanwhile.
        """
        tid, cid = campaign.tenant_id, campaign.campaign_id
        for _ in range(MAX_TX_ATTEMPTS):
            tenant = self.lock_of(tid)
            if tenant is None:
                raise NotFoundError("no such tenant")
            if int(tenant.get("campaign_count", 0)) >= max_campaigns:
                raise CampaignLimitError(
                    f"this tenant has {max_campaigns} campaigns, the most allowed; delete one to make room"
                )
            item = {"pk": tenant_pk(tid), "sk": campaign_sk(cid), "type": "campaign", **campaign_values(campaign)}
            values: dict[str, Any] = {":one": 1, ":max": max_campaigns}
            # Closes: two creates at once both passing the limit check above.
            condition = "campaign_count < :max"
            update = "ADD campaign_count :one"
            if campaign.status == CampaignStatus.EXECUTING:
                if not tenant.get("sending") and not tenant.get("pending_queue"):
                    update += " SET sending = :cid"
                    # Closes: another campaign taking the lock, or queueing, since we read the tenant.
                    condition += f" AND {LOCK_FREE}"
                    values.update({":cid": cid, ":zero": 0})
                    item.update(gsi1pk=ACTIVE, gsi1sk=f"{campaign.started_at}#{tid}#{cid}")
                else:
                    update += " SET pending_queue = list_append(if_not_exists(pending_queue, :empty), :me)"
                    # Closes: the lock being released since we read the tenant (we would wait behind nobody).
                    condition += f" AND {LOCK_TAKEN}"
                    values.update({":empty": [], ":me": [cid], ":zero": 0})
                    item.update(status=CampaignStatus.PENDING.value, pending_since=campaign.created_at, started_at=None)
            elif campaign.status == CampaignStatus.SCHEDULED:
                item.update(gsi1pk=DUE, gsi1sk=f"{campaign.scheduled_at}#{tid}#{cid}")
            tx = self.table.tx()
            # Closes: an id collision overwriting another campaign.
            tx.put("campaign", item, CAMPAIGN_ABSENT)
            tx.update("tenant", self._tenant_key(tid), update, condition, values)
            # Closes: creating a campaign on a channel being deleted (the delete checks use_seq).
            tx.update(
                "channel",
                self._channel_key(tid, campaign.channel_id),
                "ADD use_seq :one",
                CHANNEL_EXISTS,
                {":one": 1},
            )
            try:
                tx.commit()
            except ConditionFailed as lost:
                if "channel" in lost.parts and (
                    "tenant" not in lost.parts
                    or self.table.get(tenant_pk(tid), f"CHANNEL#{campaign.channel_id}") is None
                ):
                    raise ChannelGoneError("the channel was deleted") from lost
                continue  # the tenant moved (a count, the lock): decide again on a fresh read
            return str(item["status"])
        raise ConcurrencyError("could not store the campaign; try again")

    def update_draft(self, tenant_id: str, campaign_id: str, version: int, fields: Mapping[str, Any]) -> bool:
        """Replace a draft's settings if it is still the draft (and version) that was read; CampaignMovedError if not
        (or if a new channel it names was deleted meanwhile)."""
        names = {**STATUS, **{f"#f{i}": k for i, k in enumerate(fields)}}
        values: dict[str, Any] = {f":v{i}": v for i, v in enumerate(fields.values())}
        values.update({":draft": "draft", ":version": version, ":next": version + 1})
        sets = [f"#f{i} = :v{i}" for i in range(len(fields))] + ["version = :next"]
        tx = self.table.tx()
        # Closes: an edit racing a send (the send would go out with half of the edit) or another edit.
        tx.update(
            "campaign",
            self._key(tenant_id, campaign_id),
            "SET " + ", ".join(sets),
            DRAFT_AS_READ,
            values,
            names,
            want_old=True,
        )
        if "channel_id" in fields:
            # Closes: moving a draft onto a channel being deleted.
            tx.update(
                "channel",
                self._channel_key(tenant_id, str(fields["channel_id"])),
                "ADD use_seq :one",
                CHANNEL_EXISTS,
                {":one": 1},
            )
        try:
            tx.commit()
        except ConditionFailed as lost:
            raise CampaignMovedError(
                "the draft changed while being edited", _as_campaign(lost.item("campaign"))
            ) from lost
        return True

    def schedule_draft(
        self, tenant_id: str, campaign_id: str, version: int, scheduled_at: str, audience_total: int
    ) -> bool:
        """Turn a draft into a scheduled campaign (on the DUE index) if it is still the draft that was read;
        CampaignMovedError (with the campaign as it is) if not."""
        try:
            self.table.update(
                self._key(tenant_id, campaign_id),
                "SET #s = :scheduled, scheduled_at = :at, send_time = :st, gsi1pk = :due, gsi1sk = :gsk, "
                "version = :next, audience_total = :total",
                # Closes: a send racing an edit or another send of the same draft.
                DRAFT_AS_READ,
                {
                    ":scheduled": "scheduled",
                    ":at": scheduled_at,
                    ":st": {"type": "scheduled", "at": scheduled_at},
                    ":due": DUE,
                    ":gsk": f"{scheduled_at}#{tenant_id}#{campaign_id}",
                    ":draft": "draft",
                    ":version": version,
                    ":next": version + 1,
                    ":total": audience_total,
                },
                STATUS,
                want_old=True,
            )
        except ConditionFailed as lost:
            raise CampaignMovedError("the draft changed while being sent", _as_campaign(lost.item("item"))) from lost
        return True

    def delete(self, tenant_id: str, campaign_id: str) -> Campaign:
        """Delete a campaign that is not sending, freeing its place in the tenant's count; returns what it was.

        A pending campaign also leaves the tenant's queue in the same transaction.
        """
        for _ in range(MAX_TX_ATTEMPTS):
            campaign = self.get(tenant_id, campaign_id)
            if campaign is None:
                raise NotFoundError("no such campaign")
            status = campaign.status
            if status in ("executing", "retrying"):
                raise ConflictError(
                    f"the campaign is {status}; it can be deleted once it has finished", code="campaign_busy"
                )
            update, condition = "ADD campaign_count :minus", None
            values: dict[str, Any] = {":minus": -1}
            if status == "pending":
                queue = list((self.lock_of(tenant_id) or {}).get("pending_queue") or [])
                if campaign_id in queue:
                    at = queue.index(campaign_id)
                    update = f"ADD campaign_count :minus REMOVE pending_queue[{at}]"
                    # Closes: the queue moving (a campaign started or left) since we read where we are in it.
                    condition = f"pending_queue[{at}] = :cid"
                    values[":cid"] = campaign_id
            tx = self.table.tx()
            # Closes: the campaign starting to send (a schedule, a lock hand-over) since we read it.
            tx.delete("campaign", self._key(tenant_id, campaign_id), STATUS_WAS, {":from": status}, STATUS)
            tx.update("tenant", self._tenant_key(tenant_id), update, condition, values)
            try:
                tx.commit()
            except ConditionFailed:
                continue
            return campaign
        raise ConcurrencyError("could not delete the campaign; try again")

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
        """Move a campaign from `from_status` to `to_status` (executing or retrying), or to pending behind the tenant's
        sending one; `extra` fields are set in the same write. Returns the new status.

        Raises CampaignMovedError (with the campaign as it is) when it was no longer in `from_status`.
        """
        extra = dict(extra or {})
        extra_set = "".join(f", #x{i} = :x{i}" for i in range(len(extra)))
        names = {**STATUS, **{f"#x{i}": k for i, k in enumerate(extra)}}
        extra_values = {f":x{i}": v for i, v in enumerate(extra.values())}
        for _ in range(MAX_TX_ATTEMPTS):
            tenant = self.lock_of(tenant_id)
            if tenant is None:
                raise CampaignMovedError("no such tenant")
            tx = self.table.tx()
            if not tenant.get("sending") and not tenant.get("pending_queue"):
                # Closes: another campaign taking the lock, or queueing, since we read the tenant.
                tx.update(
                    "tenant",
                    self._tenant_key(tenant_id),
                    "SET sending = :cid",
                    LOCK_FREE,
                    {":cid": campaign_id, ":zero": 0},
                )
                expression = START_SENDING + extra_set
                values = {
                    ":executing": to_status,
                    ":now": now,
                    ":active": ACTIVE,
                    ":gsk": f"{now}#{tenant_id}#{campaign_id}",
                }
                new_status = to_status
            else:
                # Closes: the lock being released since we read the tenant (we would wait behind nobody), and
                # queueing the same campaign twice.
                tx.update(
                    "tenant",
                    self._tenant_key(tenant_id),
                    "SET pending_queue = list_append(if_not_exists(pending_queue, :empty), :me)",
                    f"{LOCK_TAKEN} AND NOT contains(pending_queue, :cid)",
                    {":empty": [], ":me": [campaign_id], ":zero": 0, ":cid": campaign_id},
                )
                expression = "SET #s = :pending, pending_since = :now, start_as = :to" + extra_set
                expression += " REMOVE gsi1pk, gsi1sk"
                values = {":pending": "pending", ":now": now, ":to": to_status}
                new_status = "pending"
            # Closes: the same campaign being started twice (tick and schedule at once, a send and a delete).
            tx.update(
                "campaign",
                self._key(tenant_id, campaign_id),
                expression,
                STATUS_WAS,
                {**values, ":from": from_status, **extra_values},
                names,
                want_old=True,
            )
            try:
                tx.commit()
            except ConditionFailed as lost:
                self._raise_if_moved(lost, tenant_id, campaign_id, from_status)
                continue  # only the tenant moved: decide again on a fresh read
            return new_status
        raise ConcurrencyError("could not start the campaign; try again")

    def finish(self, tenant_id: str, campaign_id: str, final_status: str, now: str) -> str | None:
        """Move a sending campaign to `final_status` and hand the send lock to the first pending campaign.

        Returns the id of the campaign that now sends, if any. A no-op when the campaign is not sending any more.
        """
        return self._leave_sending(
            tenant_id,
            campaign_id,
            now,
            lambda campaign: (
                "SET #s = :final, completed_at = :now REMOVE gsi1pk, gsi1sk, start_as",
                STATUS_WAS,
                {":final": final_status, ":now": now, ":from": campaign.status},
            ),
        )

    def pause(self, tenant_id: str, campaign_id: str, now: str) -> str | None:
        """Move a sending campaign to paused (remembering whether it was executing or retrying) and hand the send
        lock to the first pending campaign; returns that campaign's id, if any.

        CampaignMovedError (with the campaign as it is) when it is not sending, or a cancel was asked for.
        The campaign stays on the ACTIVE index, so the minute tick still settles and completes a cancel of it.
        """
        return self._leave_sending(
            tenant_id,
            campaign_id,
            now,
            lambda campaign: (
                "SET #s = :paused, paused_at = :now, start_as = :from",
                f"{STATUS_WAS} AND {NOT_CANCELLED}",
                {":paused": "paused", ":now": now, ":from": campaign.status},
            ),
            moved_error=True,
        )

    def close(self, tenant_id: str, campaign_id: str, from_status: str, now: str) -> None:
        """End a campaign that is not sending (paused, pending or scheduled: a cancel that is done) as completed; a
        pending one leaves the tenant's queue in the same transaction. CampaignMovedError when it moved meanwhile."""
        for _ in range(MAX_TX_ATTEMPTS):
            tx = self.table.tx()
            # Closes: the campaign starting to send (the lock handed to it, its schedule) since it was read.
            tx.update(
                "campaign",
                self._key(tenant_id, campaign_id),
                "SET #s = :done, completed_at = :now REMOVE gsi1pk, gsi1sk, start_as",
                STATUS_WAS,
                {":done": "completed", ":now": now, ":from": from_status},
                STATUS,
                want_old=True,
            )
            if from_status == "pending":
                queue = list((self.lock_of(tenant_id) or {}).get("pending_queue") or [])
                if campaign_id in queue:
                    at = queue.index(campaign_id)
                    # Closes: the queue moving (a campaign started or left) since we read where we are in it.
                    tx.update(
                        "tenant",
                        self._tenant_key(tenant_id),
                        f"REMOVE pending_queue[{at}]",
                        f"pending_queue[{at}] = :cid",
                        {":cid": campaign_id},
                    )
            try:
                tx.commit()
            except ConditionFailed as lost:
                self._raise_if_moved(lost, tenant_id, campaign_id, from_status)
                continue  # only the queue moved: find our place again
            return
        raise ConcurrencyError("could not close the campaign; try again")

    def _raise_if_moved(self, lost: ConditionFailed, tenant_id: str, campaign_id: str, from_status: str) -> None:
        """After a lost transaction over the campaign and the tenant: CampaignMovedError (with the campaign as it
        is) when the campaign is no longer in `from_status`; else only the tenant moved, and the caller tries again."""
        if "campaign" in lost.parts and (len(lost.parts) == 1 or lost.item("campaign") is not None):
            raise CampaignMovedError(
                f"the campaign is no longer {from_status}", _as_campaign(lost.item("campaign"))
            ) from lost
        current = self.get(tenant_id, campaign_id)
        if current is None or current.status != from_status:
            raise CampaignMovedError(f"the campaign is no longer {from_status}", current) from lost

    def _leave_sending(
        self,
        tenant_id: str,
        campaign_id: str,
        now: str,
        move: Callable[[Campaign], tuple[str, str, dict[str, Any]]],
        moved_error: bool = False,
    ) -> str | None:
        """Move a sending campaign out of sending (`move` gives the update, condition and values for the campaign
        as read) and hand the send lock to the first pending campaign; that campaign's id, if any."""
        for _ in range(MAX_TX_ATTEMPTS):
            campaign = self.get(tenant_id, campaign_id)
            if campaign is None or not campaign.sending or (moved_error and campaign.cancel_requested_at):
                if moved_error:
                    raise CampaignMovedError("the campaign is not sending, or is being cancelled", campaign)
                return None
            tenant = self.lock_of(tenant_id) or {}
            queue = list(tenant.get("pending_queue") or [])
            holds_lock = tenant.get("sending") == campaign_id
            tx = self.table.tx()
            expression, condition, values = move(campaign)
            # Closes: two workers finishing the same campaign at once; only one hands the lock over.
            tx.update("campaign", self._key(tenant_id, campaign_id), expression, condition, values, STATUS)
            next_id: str | None = None
            if holds_lock and queue:
                next_id = queue[0]
                # Closes: the queue's head changing (a pending campaign deleted) since we read it.
                tx.update(
                    "tenant",
                    self._tenant_key(tenant_id),
                    "SET sending = :next REMOVE pending_queue[0]",
                    "sending = :me AND pending_queue[0] = :next",
                    {":next": next_id, ":me": campaign_id},
                )
                # Closes: handing the lock to a campaign that is no longer pending.
                tx.update(
                    "next",
                    self._key(tenant_id, next_id),
                    START_SENDING,
                    "#s = :pending",
                    {
                        ":executing": "executing",
                        ":now": now,
                        ":active": ACTIVE,
                        ":gsk": f"{now}#{tenant_id}#{next_id}",
                        ":pending": "pending",
                    },
                    STATUS,
                )
            elif holds_lock:
                # Closes: a campaign queueing behind us after we read the tenant (it would wait forever).
                tx.update(
                    "tenant",
                    self._tenant_key(tenant_id),
                    "REMOVE sending",
                    f"sending = :me AND {QUEUE_EMPTY}",
                    {":me": campaign_id, ":zero": 0},
                )
            try:
                tx.commit()
            except ConditionFailed:
                continue
            return next_id
        raise ConcurrencyError("could not move the campaign out of sending; try again")

    def set_fields(
        self, tenant_id: str, campaign_id: str, fields: Mapping[str, Any], condition_status: Sequence[str] | None = None
    ) -> bool:
        """Set plain fields on a campaign, optionally only while it is in one of `condition_status`; True, or
        CampaignMovedError (with the campaign as it is) when it is gone or in another status."""
        names = dict(STATUS) if condition_status else {}
        names.update({f"#f{i}": k for i, k in enumerate(fields)})
        values: dict[str, Any] = {f":v{i}": v for i, v in enumerate(fields.values())}
        # Closes: bringing back a campaign deleted meanwhile (an update alone would create a bare item).
        condition = "attribute_exists(pk)"
        if condition_status:
            options = []
            for i, st in enumerate(condition_status):
                values[f":st{i}"] = st
                options.append(f":st{i}")
            # Closes: marking a campaign that has moved on (e.g. a stop reason on one that completed meanwhile).
            condition += f" AND #s IN ({', '.join(options)})"
        try:
            self.table.update(
                self._key(tenant_id, campaign_id),
                "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
                condition,
                values,
                names,
                want_old=True,
            )
        except ConditionFailed as lost:
            raise CampaignMovedError("the campaign is gone or has moved on", _as_campaign(lost.item("item"))) from lost
        return True

    def mark_materialized(
        self,
        tenant_id: str,
        campaign_id: str,
        shard_counts: Sequence[int],
        report: Mapping[str, Any],
        statuses: Sequence[str] = ("executing", "retrying"),
    ) -> None:
        """Record that a campaign's recipients are written, with its counters, while it is in one of `statuses`
        (sending, or the status a cancel found it in); AudienceWrittenError when another dispatcher did it already
        (or the campaign moved on)."""
        pk = campaign_pk(campaign_id)
        tx = self.table.tx()
        allowed = {f":st{i}": st for i, st in enumerate(statuses)}
        # Closes: two dispatchers both writing the counters (the result would count everyone twice).
        tx.update(
            "campaign",
            self._key(tenant_id, campaign_id),
            "SET audience_written = :yes, #t = :total, audience_report = :report",
            f"{NOT_MATERIALIZED} AND #s IN ({', '.join(allowed)})",
            {":yes": True, ":total": sum(shard_counts), ":report": dict(report), **allowed},
            {**STATUS, "#t": "total"},
        )
        for shard, count in enumerate(shard_counts):
            # Added, not put: the first chunk may already be sending (its outcomes added to these shards), and the
            # campaign's condition above lets only one dispatcher add the audience.
            names = {f"#b{i}": b for i, b in enumerate(BUCKETS)}
            values = {f":b{i}": (count if b == "n_pending" else 0) for i, b in enumerate(BUCKETS)}
            tx.update(
                f"counter{shard}",
                {"pk": pk, "sk": counter_sk(shard)},
                "ADD " + ", ".join(f"#b{i} :b{i}" for i in range(len(BUCKETS))),
                None,
                values,
                names,
            )
        try:
            tx.commit()
        except ConditionFailed as lost:
            raise AudienceWrittenError("the campaign's audience is written already") from lost
