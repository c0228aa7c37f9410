"""The rest of the DynamoDB adapter, being carved into one repository per aggregate (campaigns, recipients and
counters now live in `campaigns.py`, `recipients.py` and `adapters/handovers.py`).

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

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.adapters.dynamo.table import (
    APIKEY_SK,
    CHANNEL_PTR_SK,
    MAX_TX_ATTEMPTS,
    TENANT_SK,
    ConditionFailed,
    Page,
    Table,
    from_item,
    is_condition_failure,
    phonebook_sk,
    tenant_pk,
    to_item,
    to_values,
)
from chalicelib.domain.errors import ConcurrencyError, ConflictError, NotFoundError


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

    # ------------------------------------------------------------------ tenants and keys
    def create_tenant(self, tenant_id: str, name: str, key_hash: str, now: str) -> None:
        """A new tenant with its first API key."""
        tenant = {
            "pk": tenant_pk(tenant_id),
            "sk": TENANT_SK,
            "type": "tenant",
            "tenant_id": tenant_id,
            "name": name,
            "campaign_count": 0,
            "api_key_hash": key_hash,
            "created_at": now,
        }
        key = {"pk": f"APIKEY#{key_hash}", "sk": APIKEY_SK, "tenant_id": tenant_id, "created_at": now}
        ok = self.transact(
            [
                {
                    "Put": {
                        "TableName": self.name,
                        "Item": to_item(tenant),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Put": {
                        "TableName": self.name,
                        "Item": to_item(key),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
        if not ok:
            raise ConflictError("tenant or key exists already", code="tenant_exists")

    def rotate_key(self, tenant_id: str, new_hash: str, now: str) -> None:
        """Replace the tenant's API key; the old one stops working in the same transaction."""
        for _ in range(MAX_TX_ATTEMPTS):
            tenant = self.get_tenant(tenant_id)
            if tenant is None:
                raise NotFoundError("no such tenant")
            old = tenant.get("api_key_hash")
            items: list[dict[str, Any]] = [
                {
                    "Update": {
                        "TableName": self.name,
                        "Key": to_item({"pk": tenant_pk(tenant_id), "sk": TENANT_SK}),
                        "UpdateExpression": "SET api_key_hash = :new",
                        # Closes: two rotations at once each deleting a key the other just wrote.
                        "ConditionExpression": "api_key_hash = :old",
                        "ExpressionAttributeValues": to_values({":new": new_hash, ":old": old}),
                    }
                },
                {
                    "Put": {
                        "TableName": self.name,
                        "Item": to_item(
                            {"pk": f"APIKEY#{new_hash}", "sk": APIKEY_SK, "tenant_id": tenant_id, "created_at": now}
                        ),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
            if old:
                items.append(
                    {"Delete": {"TableName": self.name, "Key": to_item({"pk": f"APIKEY#{old}", "sk": APIKEY_SK})}}
                )
            if self.transact(items):
                return
        raise ConcurrencyError("could not rotate the key")

    def tenant_for_key(self, key_hash: str) -> str | None:
        """The tenant an API key belongs to."""
        item = self.get(f"APIKEY#{key_hash}", APIKEY_SK, consistent=False)
        return str(item["tenant_id"]) if item else None

    def get_tenant(self, tenant_id: str) -> dict[str, Any] | None:
        """The tenant item, read consistently."""
        return self.get(tenant_pk(tenant_id), TENANT_SK)

    # ------------------------------------------------------------------ channels
    def create_channel(self, channel: dict[str, Any]) -> None:
        """Store a channel and its webhook pointer together."""
        item = {
            "pk": tenant_pk(channel["tenant_id"]),
            "sk": f"CHANNEL#{channel['channel_id']}",
            "type": "channel",
            "use_seq": 0,
            **channel,
        }
        pointer = {"pk": f"CHANNEL#{channel['channel_id']}", "sk": CHANNEL_PTR_SK, "tenant_id": channel["tenant_id"]}
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
                    "Put": {
                        "TableName": self.name,
                        "Item": to_item(pointer),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
        if not ok:
            raise ConcurrencyError("channel id collision")

    def get_channel(self, tenant_id: str, channel_id: str, consistent: bool = True) -> dict[str, Any] | None:
        """A tenant's channel."""
        return self.get(tenant_pk(tenant_id), f"CHANNEL#{channel_id}", consistent)

    def channel_tenant(self, channel_id: str) -> str | None:
        """The tenant owning a channel, for webhooks."""
        item = self.get(f"CHANNEL#{channel_id}", CHANNEL_PTR_SK, consistent=False)
        return str(item["tenant_id"]) if item else None

    def list_channels(self, tenant_id: str, limit: int, cursor: str | None) -> Page:
        """A page of the tenant's channels, oldest first."""
        return self.page(tenant_pk(tenant_id), "CHANNEL#", limit=limit, cursor=cursor, forward=True)

    def update_channel(self, tenant_id: str, channel_id: str, changes: Mapping[str, Any], now: str) -> bool:
        """Apply changes to an existing channel; False when it does not exist."""
        names = {f"#f{i}": k for i, k in enumerate(changes)}
        values = {f":v{i}": v for i, v in enumerate(changes.values())}
        sets = [f"#f{i} = :v{i}" for i in range(len(changes))] + ["updated_at = :now"]
        values[":now"] = now
        return self._update(
            {"pk": tenant_pk(tenant_id), "sk": f"CHANNEL#{channel_id}"},
            "SET " + ", ".join(sets),
            "attribute_exists(pk)",
            values,
            names,
        )

    def delete_channel(self, tenant_id: str, channel_id: str, use_seq: int) -> bool:
        """Delete a channel if no campaign started using it since `use_seq` was read."""
        return self.transact(
            [
                {
                    "Delete": {
                        "TableName": self.name,
                        "Key": to_item({"pk": tenant_pk(tenant_id), "sk": f"CHANNEL#{channel_id}"}),
                        # Closes: a campaign created on this channel between our in-use check and this delete.
                        "ConditionExpression": "use_seq = :seq",
                        "ExpressionAttributeValues": to_values({":seq": use_seq}),
                    }
                },
                {
                    "Delete": {
                        "TableName": self.name,
                        "Key": to_item({"pk": f"CHANNEL#{channel_id}", "sk": CHANNEL_PTR_SK}),
                    }
                },
            ]
        )

    # ------------------------------------------------------------------ uploads
    def put_upload(self, upload: Mapping[str, Any]) -> None:
        """Store a new upload record."""
        item = {"pk": tenant_pk(upload["tenant_id"]), "sk": f"UPLOAD#{upload['upload_id']}", "type": "upload", **upload}
        self.db.put_item(TableName=self.name, Item=to_item(item), ConditionExpression="attribute_not_exists(pk)")

    def get_upload(self, tenant_id: str, upload_id: str) -> dict[str, Any] | None:
        """A tenant's upload."""
        return self.get(tenant_pk(tenant_id), f"UPLOAD#{upload_id}")

    def begin_import(self, tenant_id: str, upload_id: str, now: float, lease_seconds: int) -> bool:
        """Take an upload for processing: it must be waiting for its file, or its last import must have died.

        upload stage:  awaiting_file ──S3 event──> importing ──> done (status ready | rejected)
                                                      │ lease expired (worker died)
                                                      └──> importing again (the next delivery of the event)
        """
        return self._update(
            {"pk": tenant_pk(tenant_id), "sk": f"UPLOAD#{upload_id}"},
            "SET stage = :importing, lease_until = :until",
            # Closes: S3's at-least-once events (and SQS redelivery) importing one file twice at once.
            "stage = :awaiting OR (stage = :importing AND lease_until < :now)",
            {":importing": "importing", ":awaiting": "awaiting_file", ":until": now + lease_seconds, ":now": now},
        )

    def finish_upload(self, tenant_id: str, upload_id: str, fields: Mapping[str, Any]) -> bool:
        """Record the outcome of processing an upload (only while it is being imported or awaited)."""
        names = {f"#f{i}": k for i, k in enumerate(fields)}
        values: dict[str, Any] = {f":v{i}": v for i, v in enumerate(fields.values())}
        values.update({":done": "done", ":importing": "importing", ":awaiting": "awaiting_file"})
        sets = [f"#f{i} = :v{i}" for i in range(len(fields))] + ["stage = :done"]
        return self._update(
            {"pk": tenant_pk(tenant_id), "sk": f"UPLOAD#{upload_id}"},
            "SET " + ", ".join(sets) + " REMOVE lease_until",
            "stage IN (:importing, :awaiting)",
            values,
            names,
        )

    # ------------------------------------------------------------------ inbound messages
    def put_inbound(self, tenant_id: str, channel_id: str, message: Mapping[str, Any]) -> bool:
        """Keep an inbound message once (a provider's retry of the same message id is a no-op)."""
        item = {
            "pk": f"INBOUND#{tenant_id}",
            "sk": f"{channel_id}#{message['message_sid']}",
            "type": "inbound",
            "tenant_id": tenant_id,
            "channel_id": channel_id,
            **message,
        }
        try:
            self.db.put_item(TableName=self.name, Item=to_item(item), ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    # ------------------------------------------------------------------ phonebooks
    def put_phonebook(
        self, tenant_id: str, phonebook_id: str, fields: Mapping[str, Any], now: str
    ) -> dict[str, Any] | None:
        """Create or replace a phonebook's item with `fields`; the item it replaced, or None when it created it.

        One UpdateItem rather than a PutItem so that `created_at` is kept from the replaced item atomically; ALL_OLD
        tells each of two racing PUTs which version it replaced, so each deletes exactly that version's object.
        """
        values = {**fields, "type": "phonebook", "tenant_id": tenant_id, "phonebook_id": phonebook_id}
        names = {f"#f{i}": k for i, k in enumerate(values)}
        sets = [f"#f{i} = :v{i}" for i in range(len(values))]
        sets += ["created_at = if_not_exists(created_at, :now)", "updated_at = :now"]
        out = self.db.update_item(
            TableName=self.name,
            Key=to_item({"pk": tenant_pk(tenant_id), "sk": phonebook_sk(phonebook_id)}),
            UpdateExpression="SET " + ", ".join(sets),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=to_values({**{f":v{i}": v for i, v in enumerate(values.values())}, ":now": now}),
            ReturnValues="ALL_OLD",
        )
        old = out.get("Attributes")
        return from_item(old) if old else None

    def get_phonebook(self, tenant_id: str, phonebook_id: str) -> dict[str, Any] | None:
        """A tenant's phonebook item (its metadata), read consistently."""
        return self.get(tenant_pk(tenant_id), phonebook_sk(phonebook_id))

    def list_phonebooks(self, tenant_id: str, limit: int, cursor: str | None) -> Page:
        """A page of the tenant's phonebook items, by id."""
        return self.page(tenant_pk(tenant_id), "PHONEBOOK#", limit=limit, cursor=cursor, forward=True)

    def delete_phonebook(self, tenant_id: str, phonebook_id: str) -> dict[str, Any] | None:
        """Delete a phonebook's item; the item deleted, or None when there was none."""
        out = self.db.delete_item(
            TableName=self.name,
            Key=to_item({"pk": tenant_pk(tenant_id), "sk": phonebook_sk(phonebook_id)}),
            ReturnValues="ALL_OLD",
        )
        old = out.get("Attributes")
        return from_item(old) if old else None

    # ------------------------------------------------------------------ idempotency keys
    def claim_idempotency_key(
        self, tenant_id: str, key: str, record: Mapping[str, Any], *, now: float, ttl_seconds: int
    ) -> dict[str, Any] | None:
        """Remember `record` under a tenant's Idempotency-Key; if the key is taken (and not expired), its record."""
        item = {"pk": f"IDEMPOTENCY#{tenant_id}", "sk": key, **record, "expires_at": int(now) + ttl_seconds}
        try:
            self.db.put_item(
                TableName=self.name,
                Item=to_item(item),
                # Closes: two retries of one request racing; only one creates, the other replays.
                ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
                ExpressionAttributeValues=to_values({":now": int(now)}),
            )
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise
            return self.get(f"IDEMPOTENCY#{tenant_id}", key) or {}
        return None

    def release_idempotency_key(self, tenant_id: str, key: str, campaign_id: str) -> None:
        """Forget a key whose request created nothing, so the same request may be tried again."""
        try:
            self.db.delete_item(
                TableName=self.name,
                Key=to_item({"pk": f"IDEMPOTENCY#{tenant_id}", "sk": key}),
                ConditionExpression="campaign_id = :cid",
                ExpressionAttributeValues=to_values({":cid": campaign_id}),
            )
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise
