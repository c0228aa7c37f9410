"""A fake of the Idempotency port, with the same expiry rule."""

from __future__ import annotations

from dataclasses import replace

from chalicelib.domain.errors import IdempotencyKeyTakenError
from chalicelib.domain.idempotency import IdempotencyRecord


class FakeIdempotency:
    """Idempotency keys in a dict."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], IdempotencyRecord] = {}

    def claim(self, tenant_id: str, key: str, record: IdempotencyRecord, *, now: float, ttl_seconds: int) -> None:
        """Remember `record`; IdempotencyKeyTakenError (with the first record) while the key is taken."""
        first = self.records.get((tenant_id, key))
        if first is not None and not first.expires_at < int(now):
            raise IdempotencyKeyTakenError("this Idempotency-Key is taken", record=first)
        self.records[(tenant_id, key)] = replace(record, expires_at=int(now) + ttl_seconds)

    def release(self, tenant_id: str, key: str, campaign_id: str) -> None:
        """Forget the key if it is still this request's."""
        first = self.records.get((tenant_id, key))
        if first is not None and first.campaign_id == campaign_id:
            del self.records[(tenant_id, key)]
