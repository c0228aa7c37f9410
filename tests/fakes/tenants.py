"""A fake of the Tenants port."""

from __future__ import annotations

from dataclasses import replace

from chalicelib.domain.errors import TenantExistsError, TenantNotFoundError
from chalicelib.domain.tenants import Tenant


class FakeTenants:
    """Tenants and keys in dicts."""

    def __init__(self) -> None:
        self.tenants: dict[str, Tenant] = {}
        self.keys: dict[str, str] = {}  # key hash -> tenant id

    def create(self, tenant: Tenant) -> None:
        """Store a new tenant with its first key; TenantExistsError when the id or key is taken."""
        if tenant.tenant_id in self.tenants or tenant.api_key_hash in self.keys:
            raise TenantExistsError("tenant or key exists already")
        self.tenants[tenant.tenant_id] = tenant
        self.keys[tenant.api_key_hash] = tenant.tenant_id

    def rotate_key(self, tenant_id: str, new_hash: str, now: str) -> None:
        """Replace the tenant's key; the old one stops working at once."""
        tenant = self.tenants.get(tenant_id)
        if tenant is None:
            raise TenantNotFoundError("no such tenant")
        self.keys.pop(tenant.api_key_hash, None)
        self.keys[new_hash] = tenant_id
        self.tenants[tenant_id] = replace(tenant, api_key_hash=new_hash)

    def tenant_for_key(self, key_hash: str) -> str | None:
        """The tenant a key hash belongs to."""
        return self.keys.get(key_hash)

    def get(self, tenant_id: str) -> Tenant | None:
        """The tenant."""
        return self.tenants.get(tenant_id)

    def set_event_url(self, tenant_id: str, event_url: str | None, now: str | None = None) -> Tenant:
        """Set or remove the tenant's event_url (the first to set one marks events_since)."""
        tenant = self.tenants.get(tenant_id)
        if tenant is None:
            raise TenantNotFoundError("no such tenant")
        since = tenant.events_since or (now if event_url else None)
        self.tenants[tenant_id] = replace(tenant, event_url=event_url, events_since=since)
        return self.tenants[tenant_id]
