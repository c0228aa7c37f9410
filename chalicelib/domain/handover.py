"""A hand-over record: claimed recipients that may be at the provider without our knowing its answer (no I/O).

A sender opens one per chunk before it claims, and narrows it to the uncertain recipients when the chunk ends; the
minute tick has records that are due settled against the provider's records (services/settle.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Handover:
    """One claim token's recipients whose hand-over to the provider is not settled."""

    campaign_id: str
    token: str
    indexes: tuple[int, ...]
    settle_after: float
    # index -> {"code", "message"}: what the sender saw, for the uncertain ones it recorded.
    errors: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def due(self, now: float) -> bool:
        """Whether it is time to settle it."""
        return self.settle_after <= now
