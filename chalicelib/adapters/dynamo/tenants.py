"""Tenants and their API keys (the tenant item's send lock is the campaign repository's).

    TENANT#{tid}   #TENANT   tenant: name, api_key_hash, campaign_count, event_url (and the send lock: sending,
                             pending_queue)
    APIKEY#{hash}  #APIKEY   API key (SHA-256 of the key) -> tenant

A key works exactly while its APIKEY item exists; the tenant item names the one current key. Both change together.
"""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.dynamo.table import APIKEY_SK, TENANT_SK, ConditionFailed, Table, tenant_pk
from chalicelib.domain.errors import KeyRotationRaceError, TenantExistsError, TenantNotFoundError
from chalicelib.domain.tenants import Tenant

# Named condition parts.
ITEM_IS_NEW = "attribute_not_exists(pk)"
TENANT_EXISTS = "attribute_exists(pk)"
KEY_UNCHANGED = "api_key_hash = :old"
# A rotation that lost to another is tried again with the key the other one wrote, this many times in all.
ROTATE_ATTEMPTS = 20


def key_pk(key_hash: str) -> str:
    """Partition of an API key's item."""
    return f"APIKEY#{key_hash}"


def tenant_from_item(item: dict[str, Any]) -> Tenant:
    """A tenant item as a Tenant."""
    return Tenant(
        tenant_id=str(item["tenant_id"]),
        name=str(item.get("name", "")),
        api_key_hash=str(item.get("api_key_hash", "")),
        created_at=str(item.get("created_at", "")),
        campaign_count=int(item.get("campaign_count", 0)),
        event_url=str(item["event_url"]) if item.get("event_url") else None,
        events_since=str(item["events_since"]) if item.get("events_since") else None,
    )


class TenantRepository:
    """Tenants and API keys over the table."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def create(self, tenant: Tenant) -> None:
        """A new tenant with its first API key; TenantExistsError when the id or the key is taken."""
        item = {
            "pk": tenant_pk(tenant.tenant_id),
            "sk": TENANT_SK,
            "type": "tenant",
            "tenant_id": tenant.tenant_id,
            "name": tenant.name,
            "campaign_count": tenant.campaign_count,
            "api_key_hash": tenant.api_key_hash,
            "created_at": tenant.created_at,
        }
        key = self._key_item(tenant.api_key_hash, tenant.tenant_id, tenant.created_at)
        try:
            # Closes: two creations of one tenant id, or one key given to two tenants (a key names one tenant).
            self.table.tx().put("tenant", item, ITEM_IS_NEW).put("key", key, ITEM_IS_NEW).commit()
        except ConditionFailed as exc:
            raise TenantExistsError("tenant or key exists already") from exc

    def rotate_key(self, tenant_id: str, new_hash: str, now: str) -> None:
        """Replace the tenant's API key; the old one stops working in the same transaction.

        key A ──rotate──> key B: {tenant.api_key_hash A -> B, put APIKEY#B, delete APIKEY#A} in one transaction.
        """
        tenant = self.get(tenant_id)
        if tenant is None:
            raise TenantNotFoundError("no such tenant")
        old = tenant.api_key_hash
        for _ in range(ROTATE_ATTEMPTS):
            tx = self.table.tx().update(
                "tenant",
                {"pk": tenant_pk(tenant_id), "sk": TENANT_SK},
                "SET api_key_hash = :new",
                # Closes: two rotations at once, each deleting a key the other just wrote (leaving none, or two).
                KEY_UNCHANGED,
                {":new": new_hash, ":old": old},
                want_old=True,
            )
            tx.put("key", self._key_item(new_hash, tenant_id, now), ITEM_IS_NEW)
            if old:
                tx.delete("old_key", {"pk": key_pk(old), "sk": APIKEY_SK})
            try:
                tx.commit()
                return
            except ConditionFailed as exc:
                if "tenant" not in exc.parts:
                    raise KeyRotationRaceError("the new key exists already") from exc
                current = exc.item("tenant")
                if current is None:
                    raise TenantNotFoundError("no such tenant") from exc
                old = str(current.get("api_key_hash", ""))  # the key the other rotation wrote: replace that one
        raise KeyRotationRaceError("could not rotate the key")

    def tenant_for_key(self, key_hash: str) -> str | None:
        """The tenant an API key belongs to (an eventually consistent read: keys are read on every request)."""
        item = self.table.get(key_pk(key_hash), APIKEY_SK, consistent=False)
        return str(item["tenant_id"]) if item else None

    def get(self, tenant_id: str) -> Tenant | None:
        """The tenant, read consistently."""
        item = self.table.get(tenant_pk(tenant_id), TENANT_SK)
        return tenant_from_item(item) if item else None

    def set_event_url(self, tenant_id: str, event_url: str | None, now: str | None = None) -> Tenant:
        """Set or remove the tenant's event_url (the last PATCH wins; the first to set one marks `events_since` at
        `now`); TenantNotFoundError when there is no tenant."""
        key = {"pk": tenant_pk(tenant_id), "sk": TENANT_SK}
        expression, values = ("SET event_url = :url", {":url": event_url}) if event_url else ("REMOVE event_url", {})
        if event_url and now:
            expression += ", events_since = if_not_exists(events_since, :now)"
            values[":now"] = now
        try:
            # Closes: a PATCH racing the tenant's removal would otherwise write a tenant item with only event_url.
            item = self.table.update(key, expression, TENANT_EXISTS, values, want_new=True)
        except ConditionFailed as exc:
            raise TenantNotFoundError("no such tenant") from exc
        assert item is not None  # want_new
        return tenant_from_item(item)

    @staticmethod
    def _key_item(key_hash: str, tenant_id: str, now: str) -> dict[str, Any]:
        return {"pk": key_pk(key_hash), "sk": APIKEY_SK, "tenant_id": tenant_id, "created_at": now}
