"""A fake of the EventRoutes port."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from chalicelib.services.event_ports import BusEntry, EventsNotPutError


@dataclass
class FakeRoute:
    """A tenant's route as the fake keeps it."""

    event_url: str
    updates: int = 0


@dataclass
class FakeEventRoutes:
    """Tenants' event routes and the events put on the bus, in memory."""

    put_entries: list[BusEntry] = field(default_factory=list)
    routes: dict[str, FakeRoute] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    # Fault injection: the next this many put() calls refuse their last entry (after keeping the others, as
    # PutEvents does with a partial failure).
    refuse_puts: int = 0
    # Fault injection: the next route() raises this (EventBridge at a quota, or unreachable).
    route_error: Exception | None = None

    def put(self, entries: Sequence[BusEntry]) -> None:
        """Keep the entries; EventsNotPutError when a refusal was injected."""
        if self.refuse_puts and entries:
            self.refuse_puts -= 1
            self.put_entries.extend(entries[:-1])
            raise EventsNotPutError(f"1 of {len(entries)} entries refused")
        self.put_entries.extend(entries)

    def route(self, tenant_id: str, event_url: str) -> None:
        """Create or update the tenant's route."""
        if self.route_error is not None:
            error, self.route_error = self.route_error, None
            raise error
        old = self.routes.get(tenant_id)
        self.routes[tenant_id] = FakeRoute(event_url, updates=old.updates + 1 if old else 0)

    def unroute(self, tenant_id: str) -> None:
        """Remove the tenant's route."""
        self.routes.pop(tenant_id, None)

    def create_secret(self, tenant_id: str, secret: str) -> bool:
        """Keep the secret unless the tenant has one."""
        if tenant_id in self.secrets:
            return False
        self.secrets[tenant_id] = secret
        return True

    def secret(self, tenant_id: str) -> str | None:
        """The tenant's event secret."""
        return self.secrets.get(tenant_id)
