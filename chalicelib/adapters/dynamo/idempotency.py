"""Idempotency keys (Powertools' idempotency persistence, in this table).

IDEMPOTENCY#{tid}   {key}   campaign_id, request_hash, expires_at (epoch seconds; the table's TTL removes it)

(no item) ──claim──> taken ──expires_at passes──> claimable again
                       └──release (its request created nothing)──> (no item)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.adapters.dynamo.table import ConditionFailed, Table
from chalicelib.domain.errors import IdempotencyKeyTakenError
from chalicelib.domain.idempotency import IdempotencyRecord

# Named condition parts (as Powertools names them).
KEY_NOT_EXIST = "attribute_not_exists(pk)"
KEY_EXPIRED = "expires_at < :now"
SAME_REQUEST = "campaign_id = :cid"


def key_pk(tenant_id: str) -> str:
    """Partition of a tenant's idempotency keys."""
    return f"IDEMPOTENCY#{tenant_id}"


def record_from_item(item: Mapping[str, Any]) -> IdempotencyRecord:
    """An idempotency item as its record."""
    return IdempotencyRecord(
        campaign_id=str(item.get("campaign_id", "")),
        request_hash=str(item.get("request_hash", "")),
        expires_at=int(item.get("expires_at", 0)),
    )


class IdempotencyRepository:
    """Idempotency keys over the table."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def claim(self, tenant_id: str, key: str, record: IdempotencyRecord, *, now: float, ttl_seconds: int) -> None:
        """Remember `record` under a tenant's key; IdempotencyKeyTakenError (with the first record) when it is taken."""
        item = {
            "pk": key_pk(tenant_id),
            "sk": key,
            "campaign_id": record.campaign_id,
            "request_hash": record.request_hash,
            "expires_at": int(now) + ttl_seconds,
        }
        try:
            # Closes: two retries of one request racing; only one creates, the other replays what it created.
            self.table.put(item, f"{KEY_NOT_EXIST} OR {KEY_EXPIRED}", {":now": int(now)}, want_old=True)
        except ConditionFailed as exc:
            first = exc.item("item")
            raise IdempotencyKeyTakenError(
                "this Idempotency-Key is taken", record=record_from_item(first or {})
            ) from exc

    def release(self, tenant_id: str, key: str, campaign_id: str) -> None:
        """Forget a key whose request created nothing, so the same request may be tried again.

        Nothing to do when the key is no longer this request's (it expired and another request took it since).
        """
        try:
            # Closes: releasing a key that another request took after this one's expired.
            self.table.delete({"pk": key_pk(tenant_id), "sk": key}, SAME_REQUEST, {":cid": campaign_id})
        except ConditionFailed:
            return
