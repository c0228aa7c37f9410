"""The EventRoutes port: where a tenant's events go (its EventBridge rule, API destination and connection), and the
bus the events worker puts events on.

Implemented by chalicelib/adapters/events.py and tests/fakes/events.py.
"""

from __future__ import annotations

from typing import Protocol


class EventRoutes(Protocol):
    """A tenant's event delivery, and the bus."""
