"""DynamoDB adapter: the single table, its keys, and every conditional write the service relies on.

Layout (one table, `pk`/`sk`, sparse GSI `gsi1`):

    TENANT#{tid}   #TENANT            tenant: name, campaign_count, sending (the lock), pending_queue (FIFO)
    APIKEY#{hash}  #APIKEY            api key (sha-256 of the key) -> tenant
    TENANT#{tid}   CHANNEL#{chid}     channel (no credentials: those live in Secrets Manager)
    CHANNEL#{chid} #CHANNEL           pointer channel -> tenant, for webhooks that only know the channel
    TENANT#{tid}   CAMPAIGN#{cid}     campaign; gsi1pk DUE (scheduled) or ACTIVE (sending), gsi1sk time#tid#cid
    TENANT#{tid}   PHONEBOOK#{pid}    phonebook metadata (name, counts, version); its contacts are an S3 object
    CAMPAIGN#{cid} C#{shard}          result counter shard: one number per recipient-status bucket
    CAMPAIGN#{cid} R#{index}          recipient: number, status, claim, provider id, error, timestamps
    CAMPAIGN#{cid} H#{token}          hand-over record: claimed recipients whose provider answer is not known yet

The tenant item is the one place that decides who sends: `sending` holds the one campaign allowed to send and
`pending_queue` the campaigns waiting, in the order they started waiting. Every move of a campaign into or out of
sending is one transaction over the campaign item and the tenant item, so two campaigns of a tenant can never
both be sending, whatever runs at the same time.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.adapters.dynamo.channels import channel_sk
from chalicelib.adapters.dynamo.table import (
    ACTIVE,
    CONFLICT_RETRIES,
    DUE,
    LOCK_FREE,
    LOCK_TAKEN,
    MAX_TX_ATTEMPTS,
    QUEUE_EMPTY,
    START_SENDING,
    TENANT_SK,
    ConditionFailed,
    Page,
    Table,
    campaign_pk,
    campaign_sk,
    cancel_reasons,
    from_item,
    is_condition_failure,
    recipient_sk,
    tenant_pk,
    to_item,
    to_values,
)
from chalicelib.adapters.handovers import HANDOVER_PREFIX, Handover, handover_from_item, handover_sk
from chalicelib.domain.errors import ConcurrencyError, ConflictError, NotFoundError
from chalicelib.domain.model import BUCKET_OF, BUCKETS, COUNTER_SHARDS, CampaignStatus, RecipientStatus


class Store(Table):
    """The service's table, behind named operations (being split into one repository per aggregate)."""

    def _update(
        self,
        key: Mapping[str, str],
        expression: str,
        condition: str | None,
        values: Mapping[str, Any],
        names: Mapping[str, str] | None = None,
    ) -> bool:
        try:
            self.update(key, expression, condition, values, names)
        except ConditionFailed:
            return False
        return True

    # ------------------------------------------------------------------ the tenant item's send lock
    def get_tenant(self, tenant_id: str) -> dict[str, Any] | None:
        """The tenant item as the send lock sees it (raw), read consistently; TenantRepository.get is the tenant."""
        return self.get(tenant_pk(tenant_id), TENANT_SK)

    # ------------------------------------------------------------------ campaigns
    def create_recipients(
        self, campaign_id: str, rows: Iterable[Mapping[str, Any]], on_batch: Callable[[], None] | None = None
    ) -> None:
        """Create queued recipients, 100 per transaction, each only if it does not exist yet.

        The condition makes writing an audience safe to repeat: a second dispatcher (the tick reviving a campaign whose
        first dispatcher seemed dead) can never reset a recipient that a sender has already claimed.
        """
        batch: list[Mapping[str, Any]] = []
        for row in rows:
            batch.append(row)
            if len(batch) == 100:
                self._create_batch(batch)
                batch = []
                if on_batch is not None:
                    on_batch()
        if batch:
            self._create_batch(batch)

    def _create_batch(self, rows: Sequence[Mapping[str, Any]]) -> None:
        puts = [
            {"Put": {"TableName": self.name, "Item": to_item(r), "ConditionExpression": "attribute_not_exists(pk)"}}
            for r in rows
        ]
        if self.transact(puts):
            return
        # Some exist already (an earlier, interrupted write of this audience): create only the missing ones, in one
        # more transaction when the batch is a run of indexes (it always is), else one by one.
        pk = str(rows[0]["pk"])
        existing = {
            i["sk"] for i in self.query_all(pk, "", between=(str(rows[0]["sk"]), str(rows[-1]["sk"]))) if "sk" in i
        }
        rows = [r for r in rows if r["sk"] not in existing]
        if not rows or self.transact(
            [
                {"Put": {"TableName": self.name, "Item": to_item(r), "ConditionExpression": "attribute_not_exists(pk)"}}
                for r in rows
            ]
        ):
            return
        for row in rows:
            try:
                self.db.put_item(TableName=self.name, Item=to_item(row), ConditionExpression="attribute_not_exists(pk)")
            except ClientError as exc:
                if not is_condition_failure(exc):
                    raise

    def mark_materialized(
        self, tenant_id: str, campaign_id: str, shard_counts: Sequence[int], report: Mapping[str, Any]
    ) -> bool:
        """Record that a sending campaign's recipients are written, with its counters; False if already done."""
        pk = campaign_pk(campaign_id)
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.name,
                    "Key": to_item({"pk": tenant_pk(tenant_id), "sk": campaign_sk(campaign_id)}),
                    "UpdateExpression": "SET audience_written = :yes, #t = :total, audience_report = :report",
                    # Closes: two dispatchers both writing the counters (the result would count everyone twice).
                    "ConditionExpression": "attribute_not_exists(audience_written) AND #s IN (:executing, :retrying)",
                    "ExpressionAttributeNames": {"#s": "status", "#t": "total"},
                    "ExpressionAttributeValues": to_values(
                        {
                            ":yes": True,
                            ":total": sum(shard_counts),
                            ":report": dict(report),
                            ":executing": "executing",
                            ":retrying": "retrying",
                        }
                    ),
                }
            }
        ]
        for shard, count in enumerate(shard_counts):
            counter = {"pk": pk, "sk": f"C#{shard:02d}", **{b: (count if b == "n_pending" else 0) for b in BUCKETS}}
            items.append(
                {
                    "Put": {
                        "TableName": self.name,
                        "Item": to_item(counter),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
        return self.transact(items)

    def recipients_with_status(self, campaign_id: str, statuses: Sequence[str]) -> Iterator[dict[str, Any]]:
        """A campaign's recipients in one of `statuses`, in index order (reads the whole campaign)."""
        wanted = set(statuses)
        for item in self.query_all(campaign_pk(campaign_id), "R#"):
            if item.get("status") in wanted:
                yield item

    def requeue_recipients(self, campaign_id: str, recipients: Sequence[Mapping[str, Any]]) -> list[int]:
        """Move failed recipients back to queued for a retry, counting them; returns the indexes moved.

        A recipient that changed since it was read (a late status report) is left as it is; the others still go.
        """
        moves = [
            (
                r,
                RecipientStatus.QUEUED,
                {
                    "last_error": {"code": r.get("error_code"), "message": r.get("error_message", "")},
                    "error_code": None,
                    "error_message": None,
                    "failed_at": None,
                    "provider_message_id": None,
                    "claim_token": None,
                },
                None,
            )
            for r in recipients
        ]
        lost = set(self.move_recipients(campaign_id, moves))
        return [int(r["index"]) for pos, r in enumerate(recipients) if pos not in lost]

    def delete_campaign_data(self, campaign_id: str) -> None:
        """Remove a campaign's recipients and counters (cleanup of a refused create, or a deleted campaign)."""
        pk = campaign_pk(campaign_id)
        keys = [{"pk": pk, "sk": i["sk"]} for i in self.query_all(pk, "", consistent=False)]
        for start in range(0, len(keys), 25):
            requests = [{"DeleteRequest": {"Key": to_item(k)}} for k in keys[start : start + 25]]
            self._flush(requests)

    def _tenant_key(self, tenant_id: str) -> dict[str, Any]:
        return to_item({"pk": tenant_pk(tenant_id), "sk": TENANT_SK})

    def _channel_use(self, tenant_id: str, channel_id: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self.name,
                "Key": to_item({"pk": tenant_pk(tenant_id), "sk": f"CHANNEL#{channel_id}"}),
                "UpdateExpression": "ADD use_seq :one",
                # Closes: creating a campaign on a channel being deleted (the delete checks use_seq).
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeValues": to_values({":one": 1}),
            }
        }

    def create_campaign(self, campaign: dict[str, Any], max_campaigns: int) -> str:
        """Store a new campaign, taking the tenant's send lock or joining its queue when it is to go now.

        Returns the status it was stored with. `campaign["status"]` is `draft`, `scheduled` or `executing`
        (meaning: send now); a campaign to send now while another is sending is stored `pending`.
        """
        tid, cid = campaign["tenant_id"], campaign["campaign_id"]
        for _ in range(MAX_TX_ATTEMPTS):
            tenant = self.get_tenant(tid)
            if tenant is None:
                raise NotFoundError("no such tenant")
            if int(tenant.get("campaign_count", 0)) >= max_campaigns:
                raise ConflictError(
                    f"this tenant has {max_campaigns} campaigns, the most allowed; delete one to make room",
                    code="campaign_limit_reached",
                )
            item = {"pk": tenant_pk(tid), "sk": campaign_sk(cid), **campaign}
            values: dict[str, Any] = {":one": 1, ":max": max_campaigns}
            # Closes: two creates at once both passing the limit check above.
            condition = "campaign_count < :max"
            update = "ADD campaign_count :one"
            if campaign["status"] == CampaignStatus.EXECUTING:
                lock_free = not tenant.get("sending") and not tenant.get("pending_queue")
                if lock_free:
                    update += " SET sending = :cid"
                    # Closes: another campaign taking the lock, or queueing, since we read the tenant.
                    condition += f" AND {LOCK_FREE}"
                    values.update({":cid": cid, ":zero": 0})
                    item.update(gsi1pk=ACTIVE, gsi1sk=f"{campaign['started_at']}#{tid}#{cid}")
                else:
                    update += " SET pending_queue = list_append(if_not_exists(pending_queue, :empty), :me)"
                    # Closes: the lock being released since we read the tenant (we would wait behind nobody).
                    condition += f" AND {LOCK_TAKEN}"
                    values.update({":empty": [], ":me": [cid], ":zero": 0})
                    item.update(
                        status=CampaignStatus.PENDING.value, pending_since=campaign["created_at"], started_at=None
                    )
            elif campaign["status"] == CampaignStatus.SCHEDULED:
                item.update(gsi1pk=DUE, gsi1sk=f"{campaign['scheduled_at']}#{tid}#{cid}")
            ok = self.transact(
                [
                    {
                        "Put": {
                            "TableName": self.name,
                            "Item": to_item(item),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.name,
                            "Key": self._tenant_key(tid),
                            "UpdateExpression": update,
                            "ConditionExpression": condition,
                            "ExpressionAttributeValues": to_values(values),
                        }
                    },
                    self._channel_use(tid, campaign["channel_id"]),
                ]
            )
            if ok:
                return str(item["status"])
            if self.get(tenant_pk(tid), channel_sk(campaign["channel_id"])) is None:
                raise ConflictError("the channel was deleted", code="channel_not_found")
        raise ConcurrencyError("could not store the campaign; try again")

    def update_draft(self, tenant_id: str, campaign_id: str, version: int, fields: Mapping[str, Any]) -> bool:
        """Replace a draft's settings if it is still the draft (and version) that was read."""
        names = {"#s": "status"}
        names.update({f"#f{i}": k for i, k in enumerate(fields)})
        values: dict[str, Any] = {f":v{i}": v for i, v in enumerate(fields.values())}
        values.update({":draft": "draft", ":version": version, ":next": version + 1})
        sets = [f"#f{i} = :v{i}" for i in range(len(fields))] + ["version = :next"]
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.name,
                    "Key": to_item({"pk": tenant_pk(tenant_id), "sk": campaign_sk(campaign_id)}),
                    "UpdateExpression": "SET " + ", ".join(sets),
                    # Closes: an edit racing a send (the send would go out with half of the edit) or another edit.
                    "ConditionExpression": "#s = :draft AND (attribute_not_exists(version) OR version = :version)",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": to_values(values),
                }
            }
        ]
        if "channel_id" in fields:
            items.append(self._channel_use(tenant_id, str(fields["channel_id"])))
        return self.transact(items)

    def schedule_draft(
        self, tenant_id: str, campaign_id: str, version: int, scheduled_at: str, audience_total: int
    ) -> bool:
        """Turn a draft into a scheduled campaign (on the DUE index) if it is still the draft that was read."""
        return self._update(
            {"pk": tenant_pk(tenant_id), "sk": campaign_sk(campaign_id)},
            "SET #s = :scheduled, scheduled_at = :at, send_time = :st, gsi1pk = :due, gsi1sk = :gsk, "
            "version = :next, audience_total = :total",
            "#s = :draft AND (attribute_not_exists(version) OR version = :version)",
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
            {"#s": "status"},
        )

    def delete_campaign(self, tenant_id: str, campaign_id: str) -> dict[str, Any]:
        """Delete a campaign that is not sending, freeing its place in the tenant's count; returns what it was.

        A pending campaign also leaves the tenant's queue in the same transaction.
        """
        for _ in range(MAX_TX_ATTEMPTS):
            campaign = self.get_campaign(tenant_id, campaign_id)
            if campaign is None:
                raise NotFoundError("no such campaign")
            status = campaign["status"]
            if status in ("executing", "retrying"):
                raise ConflictError(
                    f"the campaign is {status}; it can be deleted once it has finished", code="campaign_busy"
                )
            tenant_update: dict[str, Any] = {
                "UpdateExpression": "ADD campaign_count :minus",
                "ExpressionAttributeValues": to_values({":minus": -1}),
            }
            if status == "pending":
                queue = list((self.get_tenant(tenant_id) or {}).get("pending_queue") or [])
                if campaign_id in queue:
                    at = queue.index(campaign_id)
                    tenant_update = {
                        "UpdateExpression": f"ADD campaign_count :minus REMOVE pending_queue[{at}]",
                        # Closes: the queue moving (a campaign started or left) since we read where we are in it.
                        "ConditionExpression": f"pending_queue[{at}] = :cid",
                        "ExpressionAttributeValues": to_values({":minus": -1, ":cid": campaign_id}),
                    }
            ok = self.transact(
                [
                    {
                        "Delete": {
                            "TableName": self.name,
                            "Key": to_item({"pk": tenant_pk(tenant_id), "sk": campaign_sk(campaign_id)}),
                            # Closes: the campaign starting to send (a schedule, a lock hand-over) since we read it.
                            "ConditionExpression": "#s = :status",
                            "ExpressionAttributeNames": {"#s": "status"},
                            "ExpressionAttributeValues": to_values({":status": status}),
                        }
                    },
                    {"Update": {"TableName": self.name, "Key": self._tenant_key(tenant_id), **tenant_update}},
                ]
            )
            if ok:
                return campaign
        raise ConcurrencyError("could not delete the campaign; try again")

    def get_campaign(self, tenant_id: str, campaign_id: str, consistent: bool = True) -> dict[str, Any] | None:
        """A tenant's campaign."""
        return self.get(tenant_pk(tenant_id), campaign_sk(campaign_id), consistent)

    def list_campaigns(self, tenant_id: str, status: str | None, limit: int, cursor: str | None) -> Page:
        """A page of the tenant's campaigns, newest first."""
        return self.page(tenant_pk(tenant_id), "CAMPAIGN#", limit=limit, cursor=cursor, forward=False, status=status)

    def campaigns_of_tenant(self, tenant_id: str) -> Iterator[dict[str, Any]]:
        """Every campaign of a tenant (at most the per-tenant limit)."""
        return self.query_all(tenant_pk(tenant_id), "CAMPAIGN#")

    def start_campaign(
        self,
        tenant_id: str,
        campaign_id: str,
        from_status: str,
        now: str,
        *,
        to_status: str = "executing",
        extra: Mapping[str, Any] | None = None,
    ) -> str | None:
        """Move a campaign from `from_status` to `to_status` (executing or retrying), or to pending behind the tenant's
        sending one; `extra` fields are set in the same write.

        Returns the new status, or None when the campaign was no longer in `from_status` (someone else moved it).
        """
        extra = dict(extra or {})
        extra_set = "".join(f", #x{i} = :x{i}" for i in range(len(extra)))
        extra_names = {f"#x{i}": k for i, k in enumerate(extra)}
        extra_values = {f":x{i}": v for i, v in enumerate(extra.values())}
        for _ in range(MAX_TX_ATTEMPTS):
            tenant = self.get_tenant(tenant_id)
            if tenant is None:
                return None
            campaign_key = to_item({"pk": tenant_pk(tenant_id), "sk": campaign_sk(campaign_id)})
            lock_free = not tenant.get("sending") and not tenant.get("pending_queue")
            if lock_free:
                tenant_update = {
                    "UpdateExpression": "SET sending = :cid",
                    "ConditionExpression": LOCK_FREE,
                    "ExpressionAttributeValues": to_values({":cid": campaign_id, ":zero": 0}),
                }
                campaign_update = {
                    "UpdateExpression": START_SENDING + extra_set,
                    "ExpressionAttributeValues": to_values(
                        {
                            ":executing": to_status,
                            ":now": now,
                            ":active": ACTIVE,
                            ":gsk": f"{now}#{tenant_id}#{campaign_id}",
                            ":from": from_status,
                            **extra_values,
                        }
                    ),
                }
                new_status = to_status
            else:
                tenant_update = {
                    "UpdateExpression": "SET pending_queue = list_append(if_not_exists(pending_queue, :empty), :me)",
                    "ConditionExpression": f"{LOCK_TAKEN} AND NOT contains(pending_queue, :cid)",
                    "ExpressionAttributeValues": to_values(
                        {":empty": [], ":me": [campaign_id], ":zero": 0, ":cid": campaign_id}
                    ),
                }
                campaign_update = {
                    "UpdateExpression": "SET #s = :pending, pending_since = :now, start_as = :to"
                    + extra_set
                    + " REMOVE gsi1pk, gsi1sk",
                    "ExpressionAttributeValues": to_values(
                        {":pending": "pending", ":now": now, ":from": from_status, ":to": to_status, **extra_values}
                    ),
                }
                new_status = "pending"
            ok = self.transact(
                [
                    {"Update": {"TableName": self.name, "Key": self._tenant_key(tenant_id), **tenant_update}},
                    {
                        "Update": {
                            "TableName": self.name,
                            "Key": campaign_key,
                            **campaign_update,
                            # Closes: the same campaign being started twice (tick and schedule at once).
                            "ConditionExpression": "#s = :from",
                            "ExpressionAttributeNames": {"#s": "status", **extra_names},
                        }
                    },
                ]
            )
            if ok:
                return new_status
            current = self.get_campaign(tenant_id, campaign_id)
            if current is None or current.get("status") != from_status:
                return None
        raise ConcurrencyError("could not start the campaign; try again")

    def finish_campaign(self, tenant_id: str, campaign_id: str, final_status: str, now: str) -> str | None:
        """Move a sending campaign to `final_status` and hand the send lock to the first pending campaign.

        Returns the id of the campaign that now sends, if any. A no-op when the campaign is not sending any more.
        """
        for _ in range(MAX_TX_ATTEMPTS):
            campaign = self.get_campaign(tenant_id, campaign_id)
            if campaign is None or campaign.get("status") not in ("executing", "retrying"):
                return None
            tenant = self.get_tenant(tenant_id) or {}
            queue = list(tenant.get("pending_queue") or [])
            holds_lock = tenant.get("sending") == campaign_id
            items: list[dict[str, Any]] = [
                {
                    "Update": {
                        "TableName": self.name,
                        "Key": to_item({"pk": tenant_pk(tenant_id), "sk": campaign_sk(campaign_id)}),
                        "UpdateExpression": "SET #s = :final, completed_at = :now REMOVE gsi1pk, gsi1sk, start_as",
                        # Closes: two workers finishing the same campaign at once; only one hands the lock over.
                        "ConditionExpression": "#s = :was",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": to_values(
                            {":final": final_status, ":now": now, ":was": campaign["status"]}
                        ),
                    }
                }
            ]
            next_id: str | None = None
            if holds_lock and queue:
                next_id = queue[0]
                items.append(
                    {
                        "Update": {
                            "TableName": self.name,
                            "Key": self._tenant_key(tenant_id),
                            "UpdateExpression": "SET sending = :next REMOVE pending_queue[0]",
                            # Closes: the queue's head changing (a pending campaign deleted) since we read it.
                            "ConditionExpression": "sending = :me AND pending_queue[0] = :next",
                            "ExpressionAttributeValues": to_values({":next": next_id, ":me": campaign_id}),
                        }
                    }
                )
                items.append(
                    {
                        "Update": {
                            "TableName": self.name,
                            "Key": to_item({"pk": tenant_pk(tenant_id), "sk": campaign_sk(next_id)}),
                            "UpdateExpression": START_SENDING,
                            "ConditionExpression": "#s = :pending",
                            "ExpressionAttributeNames": {"#s": "status"},
                            "ExpressionAttributeValues": to_values(
                                {
                                    ":executing": "executing",
                                    ":now": now,
                                    ":active": ACTIVE,
                                    ":gsk": f"{now}#{tenant_id}#{next_id}",
                                    ":pending": "pending",
                                }
                            ),
                        }
                    }
                )
            elif holds_lock:
                items.append(
                    {
                        "Update": {
                            "TableName": self.name,
                            "Key": self._tenant_key(tenant_id),
                            "UpdateExpression": "REMOVE sending",
                            # Closes: a campaign queueing behind us after we read the tenant (it would wait forever).
                            "ConditionExpression": f"sending = :me AND {QUEUE_EMPTY}",
                            "ExpressionAttributeValues": to_values({":me": campaign_id, ":zero": 0}),
                        }
                    }
                )
            if self.transact(items):
                return next_id
        raise ConcurrencyError("could not finish the campaign; try again")

    def set_campaign_fields(
        self, tenant_id: str, campaign_id: str, fields: Mapping[str, Any], condition_status: Sequence[str] | None = None
    ) -> bool:
        """Set plain fields on a campaign, optionally only while it is in one of `condition_status`."""
        names = {"#s": "status"} if condition_status else {}
        names.update({f"#f{i}": k for i, k in enumerate(fields)})
        values: dict[str, Any] = {f":v{i}": v for i, v in enumerate(fields.values())}
        condition = "attribute_exists(pk)"
        if condition_status:
            options = []
            for i, st in enumerate(condition_status):
                values[f":st{i}"] = st
                options.append(f":st{i}")
            condition += f" AND #s IN ({', '.join(options)})"
        return self._update(
            {"pk": tenant_pk(tenant_id), "sk": campaign_sk(campaign_id)},
            "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
            condition,
            values,
            names,
        )

    def indexed_campaigns(self, kind: str, until: str | None = None) -> list[tuple[str, str, str]]:
        """(time, tenant_id, campaign_id) of campaigns on the DUE or ACTIVE index, up to `until`."""
        kwargs: dict[str, Any] = {"TableName": self.name, "IndexName": "gsi1"}
        if until is None:
            kwargs["KeyConditionExpression"] = "gsi1pk = :k"
            kwargs["ExpressionAttributeValues"] = to_values({":k": kind})
        else:
            kwargs["KeyConditionExpression"] = "gsi1pk = :k AND gsi1sk <= :until"
            kwargs["ExpressionAttributeValues"] = to_values({":k": kind, ":until": until + "\uffff"})
        out: list[tuple[str, str, str]] = []
        while True:
            page = self.db.query(**kwargs)
            for raw in page.get("Items", []):
                when, tid, cid = from_item(raw)["gsi1sk"].split("#", 2)
                out.append((when, tid, cid))
            last = page.get("LastEvaluatedKey")
            if not last:
                return out
            kwargs["ExclusiveStartKey"] = last

    # ------------------------------------------------------------------ counters and recipients
    def counters(self, campaign_id: str) -> list[dict[str, Any]]:
        """The campaign's counter shards, read consistently."""
        return list(self.query_all(campaign_pk(campaign_id), "C#"))

    def recipients_range(self, campaign_id: str, start: int, end: int) -> list[dict[str, Any]]:
        """Recipients with index in [start, end), read consistently."""
        if end <= start:
            return []
        return list(
            self.query_all(campaign_pk(campaign_id), "R#", between=(recipient_sk(start), recipient_sk(end - 1)))
        )

    def get_recipient(self, campaign_id: str, index: int) -> dict[str, Any] | None:
        """One recipient, read consistently."""
        return self.get(campaign_pk(campaign_id), recipient_sk(index))

    def list_recipients(self, campaign_id: str, status: str | None, limit: int, cursor: str | None) -> Page:
        """A page of a campaign's recipients in list order, optionally of one status."""
        return self.page(campaign_pk(campaign_id), "R#", limit=limit, cursor=cursor, forward=True, status=status)

    def claim_recipient(self, campaign_id: str, index: int, token: str, now: float) -> bool:
        """Claim a queued recipient for sending; False when someone else has it or it is done."""
        try:
            self.db.update_item(**self._claim_item(campaign_id, index, token, now)["Update"])
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def release_recipient(self, campaign_id: str, index: int, token: str, *, attempted: bool = False) -> bool:
        """Give back a claim: the recipient is queued again. One that sent nothing (throttled, out of time) gets its
        attempt back; one `attempted` (the provider's records prove it never arrived) keeps it, so the next is new."""
        return self._update(
            {"pk": campaign_pk(campaign_id), "sk": recipient_sk(index)},
            "SET #s = :queued REMOVE claim_token, claimed_at ADD attempts :minus",
            # Closes: releasing a recipient that a status report or another settler has moved on meanwhile.
            "#s = :sending AND claim_token = :token",
            {":queued": "queued", ":sending": "sending", ":token": token, ":minus": 0 if attempted else -1},
            {"#s": "status"},
        )

    def next_attempt(self, campaign_id: str, index: int, token: str) -> int | None:
        """Count one more attempt on a recipient we still hold (the last one provably never left); its new number,
        or None when the claim is no longer ours."""
        try:
            out = self.db.update_item(
                TableName=self.name,
                Key=to_item({"pk": campaign_pk(campaign_id), "sk": recipient_sk(index)}),
                UpdateExpression="ADD attempts :one",
                # Closes: counting an attempt on a recipient another worker or a report has taken over.
                ConditionExpression="#s = :sending AND claim_token = :token",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=to_values({":one": 1, ":sending": "sending", ":token": token}),
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                return None
            raise
        return int(from_item(out["Attributes"])["attempts"])

    def open_handover(self, campaign_id: str, token: str, indexes: Sequence[int], settle_after: float) -> None:
        """Record, before claiming them, the recipients a sender is about to hand over (see adapters/handovers.py)."""
        item = {
            "pk": campaign_pk(campaign_id),
            "sk": handover_sk(token),
            "token": token,
            "indexes": [int(i) for i in indexes],
            "settle_after": settle_after,
        }
        self.db.put_item(TableName=self.name, Item=to_item(item))

    def narrow_handover(
        self, campaign_id: str, token: str, errors: Mapping[int, Mapping[str, str]], settle_after: float
    ) -> None:
        """Keep only the recipients still uncertain (with what was seen of each), due at `settle_after`; or drop the
        record when none is."""
        key = {"pk": campaign_pk(campaign_id), "sk": handover_sk(token)}
        if not errors:
            self.db.delete_item(TableName=self.name, Key=to_item(key))
            return
        self._update(
            key,
            "SET #ix = :ix, #err = :err, settle_after = :at",
            # Closes: bringing back a record another settler has just dropped (nothing is left to settle).
            "attribute_exists(pk)",
            {
                ":ix": sorted(int(i) for i in errors),
                ":err": {str(i): dict(e) for i, e in errors.items()},
                ":at": settle_after,
            },
            {"#ix": "indexes", "#err": "errors"},
        )

    def handovers(self, campaign_id: str) -> list[Handover]:
        """Every open hand-over record of a campaign (few: one per chunk in flight or left uncertain)."""
        return [handover_from_item(campaign_id, i) for i in self.query_all(campaign_pk(campaign_id), HANDOVER_PREFIX)]

    def claim_recipients(
        self, campaign_id: str, recipients: Sequence[Mapping[str, Any]], token: str, now: float
    ) -> list[dict[str, Any]]:
        """Claim queued recipients for sending, up to 100 per transaction; returns those claimed, as claimed.

        When a batch's condition fails (another worker has some of them), its recipients are claimed one by one.
        """
        claimed: list[dict[str, Any]] = []
        for start in range(0, len(recipients), 100):
            batch = recipients[start : start + 100]
            items = [self._claim_item(campaign_id, int(r["index"]), token, now) for r in batch]
            if self.transact(items):
                won = list(batch)
            else:
                won = [r for r in batch if self.claim_recipient(campaign_id, int(r["index"]), token, now)]
            claimed.extend(
                {**r, "status": "sending", "claim_token": token, "attempts": int(r.get("attempts", 0)) + 1} for r in won
            )
        return claimed

    def _claim_item(self, campaign_id: str, index: int, token: str, now: float) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self.name,
                "Key": to_item({"pk": campaign_pk(campaign_id), "sk": recipient_sk(index)}),
                "UpdateExpression": "SET #s = :sending, claim_token = :token, claimed_at = :now ADD attempts :one",
                # Closes: two workers (a duplicated or redelivered SQS message) sending the same recipient.
                "ConditionExpression": "#s = :queued",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": to_values(
                    {":sending": "sending", ":token": token, ":now": now, ":queued": "queued", ":one": 1}
                ),
            }
        }

    def _move_item(
        self,
        campaign_id: str,
        recipient: Mapping[str, Any],
        to_status: RecipientStatus,
        fields: Mapping[str, Any],
        claim_token: str | None,
    ) -> dict[str, Any]:
        from_status = RecipientStatus(recipient["status"])
        names = {"#s": "status"}
        values: dict[str, Any] = {":to": to_status.value, ":from": from_status.value}
        sets = ["#s = :to"]
        removes = []
        for i, (name, value) in enumerate(fields.items()):
            names[f"#f{i}"] = name
            if value is None:
                removes.append(f"#f{i}")
            else:
                values[f":f{i}"] = value
                sets.append(f"#f{i} = :f{i}")
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        # Closes: two reports (or a report and the sender) moving the same recipient at once; counts stay exact.
        condition = "#s = :from"
        if claim_token is not None:
            condition += " AND claim_token = :token"
            values[":token"] = claim_token
        return {
            "Update": {
                "TableName": self.name,
                "Key": to_item({"pk": campaign_pk(campaign_id), "sk": recipient_sk(int(recipient["index"]))}),
                "UpdateExpression": expression,
                "ConditionExpression": condition,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": to_values(values),
            }
        }

    def _counter_items(self, campaign_id: str, deltas: Mapping[int, Mapping[str, int]]) -> list[dict[str, Any]]:
        items = []
        for shard, delta in deltas.items():
            moves = {b: d for b, d in delta.items() if d}
            if not moves:
                continue
            items.append(
                {
                    "Update": {
                        "TableName": self.name,
                        "Key": to_item({"pk": campaign_pk(campaign_id), "sk": f"C#{shard:02d}"}),
                        "UpdateExpression": "ADD " + ", ".join(f"#b{i} :d{i}" for i in range(len(moves))),
                        "ExpressionAttributeNames": {f"#b{i}": b for i, b in enumerate(moves)},
                        "ExpressionAttributeValues": to_values({f":d{i}": d for i, d in enumerate(moves.values())}),
                    }
                }
            )
        return items

    def move_recipient(
        self,
        campaign_id: str,
        recipient: Mapping[str, Any],
        to_status: RecipientStatus,
        fields: Mapping[str, Any],
        *,
        claim_token: str | None = None,
    ) -> bool:
        """Move a recipient from the status it was read with to `to_status`, counting it in the same transaction.

        False when the recipient changed since it was read (the caller re-reads and decides again).
        """
        return not self.move_recipients(campaign_id, [(recipient, to_status, fields, claim_token)])

    def move_recipients(
        self,
        campaign_id: str,
        moves: Sequence[tuple[Mapping[str, Any], RecipientStatus, Mapping[str, Any], str | None]],
    ) -> list[int]:
        """Several recipient moves with their counts, one transaction per 80; returns the positions that lost.

        A move loses when its recipient changed since it was read (a status callback got there first). The others
        in its transaction are tried again without it, so one late race does not cost the batch.
        """
        lost: list[int] = []
        for start in range(0, len(moves), 80):
            todo = list(range(start, min(start + 80, len(moves))))
            conflicts = 0
            while todo:
                deltas: dict[int, dict[str, int]] = {}
                items = []
                for pos in todo:
                    recipient, to_status, fields, token = moves[pos]
                    items.append(self._move_item(campaign_id, recipient, to_status, fields, token))
                    old, new = BUCKET_OF[RecipientStatus(recipient["status"])], BUCKET_OF[to_status]
                    if old != new:
                        shard = deltas.setdefault(int(recipient["shard"]), {})
                        shard[old] = shard.get(old, 0) - 1
                        shard[new] = shard.get(new, 0) + 1
                try:
                    self.db.transact_write_items(TransactItems=items + self._counter_items(campaign_id, deltas))
                    todo = []
                    continue
                except ClientError as exc:
                    if not is_condition_failure(exc):
                        raise
                    reasons = cancel_reasons(exc)
                if "TransactionConflict" in reasons and "ConditionalCheckFailed" not in reasons:
                    # Another transaction had one of these items (a callback on the same counter shard): nothing
                    # lost a race, so the same moves are tried again; never reported as lost.
                    conflicts += 1
                    if conflicts > CONFLICT_RETRIES:
                        raise ConcurrencyError("recipient moves kept conflicting with other transactions")
                    time.sleep(random.uniform(0.5, 1.0) * min(0.05 * 2**conflicts, 1.0))  # noqa: S311 - jitter
                    continue
                if len(todo) == 1:
                    lost.append(todo[0])
                    todo = []
                    continue
                failed = [p for p, r in zip(todo, reasons, strict=False) if r == "ConditionalCheckFailed"]
                if failed and len(reasons) >= len(todo):
                    lost.extend(failed)
                    todo = [p for p in todo if p not in failed]
                    continue
                # No reason to go by (an emulator, or only conflicts with other transactions): one at a time.
                for pos in todo:
                    if self.move_recipients(campaign_id, [moves[pos]]):
                        lost.append(pos)
                todo = []
        return sorted(lost)

    def deliver_sent(
        self,
        campaign_id: str,
        index: int,
        shard: int,
        tenant_id: str,
        channel_id: str,
        attempt: int,
        message_id: str,
        now: str,
    ) -> bool:
        """Move a recipient from sent to delivered without reading it first; False if it is not exactly that one.

        The condition names everything a read would have checked: its tenant and channel, its attempt, the message.
        """
        if not 0 <= shard < COUNTER_SHARDS:
            return False
        return self.transact(
            [
                {
                    "Update": {
                        "TableName": self.name,
                        "Key": to_item({"pk": campaign_pk(campaign_id), "sk": recipient_sk(index)}),
                        "UpdateExpression": "SET #s = :delivered, delivered_at = :now",
                        # Closes: a replayed, late or forged-looking report, or one for another attempt's message.
                        "ConditionExpression": "#s = :sent AND tenant_id = :tid AND channel_id = :ch "
                        "AND attempts = :a AND provider_message_id = :sid AND #sh = :shard",
                        "ExpressionAttributeNames": {"#s": "status", "#sh": "shard"},
                        "ExpressionAttributeValues": to_values(
                            {
                                ":delivered": "delivered",
                                ":now": now,
                                ":sent": "sent",
                                ":tid": tenant_id,
                                ":ch": channel_id,
                                ":a": attempt,
                                ":sid": message_id,
                                ":shard": shard,
                            }
                        ),
                    }
                },
                *self._counter_items(
                    campaign_id, {shard: {BUCKET_OF[RecipientStatus.SENT]: -1, BUCKET_OF[RecipientStatus.DELIVERED]: 1}}
                ),
            ]
        )

    def set_recipient_fields(
        self, campaign_id: str, index: int, fields: Mapping[str, Any], only_if_missing: str
    ) -> bool:
        """Set fields on a recipient if attribute `only_if_missing` is not there yet."""
        names = {f"#f{i}": k for i, k in enumerate(fields)}
        names["#m"] = only_if_missing
        return self._update(
            {"pk": campaign_pk(campaign_id), "sk": recipient_sk(index)},
            "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
            "attribute_exists(pk) AND attribute_not_exists(#m)",
            {f":v{i}": v for i, v in enumerate(fields.values())},
            names,
        )
