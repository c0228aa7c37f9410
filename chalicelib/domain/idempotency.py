"""Idempotency keys: what a tenant's Idempotency-Key remembers about the request that first used it. No I/O."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IdempotencyRecord:
    """The request a key was first used with: its digest and the campaign it creates."""

    campaign_id: str
    request_hash: str
    expires_at: int = 0
