"""A tenant (one PBX) and its API key: pure data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tenant:
    """One PBX: its name, the hash of its one valid API key, and how many campaigns it holds."""

    tenant_id: str
    name: str
    api_key_hash: str
    created_at: str
    campaign_count: int = 0
    # Where its events go (PATCH /v1/tenant); None: nowhere.
    event_url: str | None = None
    # When an event_url was first set by a PATCH that succeeded: until then, a PATCH that sets one answers the secret.
    events_since: str | None = None
