"""The EventRoutes port: where a tenant's events go (its EventBridge rule, API destination and connection), the
tenant's event secret that signs them, and the bus the events worker puts events on.

Implemented by chalicelib/adapters/events.py and tests/fakes/events.py (contract test on both).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from chalicelib.domain.pbx_events import BusEntry, EventsNotPutError

__all__ = ["BusEntry", "EventRoutes", "EventsNotPutError"]


class EventRoutes(Protocol):
    """A tenant's event delivery, its event secret, and the bus."""

    def put(self, entries: Sequence[BusEntry]) -> None:
        """Put events on the bus (any number: batched as PutEvents allows); EventsNotPutError when any was refused."""
        ...

    def route(self, tenant_id: str, event_url: str) -> None:
        """Create or update the tenant's connection, API destination (at event_url), rule and target."""
        ...

    def unroute(self, tenant_id: str) -> None:
        """Remove the tenant's rule, target, API destination and connection (none is fine)."""
        ...

    def create_secret(self, tenant_id: str, secret: str) -> bool:
        """Keep the tenant's event secret if it has none yet; False (and nothing changed) when it has one."""
        ...

    def secret(self, tenant_id: str) -> str | None:
        """The tenant's event secret, or None."""
        ...
