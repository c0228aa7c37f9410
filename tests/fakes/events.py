"""A fake of the EventRoutes port."""

from __future__ import annotations


class FakeEventRoutes:
    """Tenants' event routes and the events put on the bus, in memory."""
