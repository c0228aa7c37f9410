"""Hand-over records: which claimed recipients may be at the provider without our knowing its answer.

    CAMPAIGN#{cid}  H#{claim token}   indexes claimed under that token, settle_after, errors

A sender writes the record before it claims a chunk's recipients and rewrites it when the chunk ends: deleted when
every claimed recipient has an outcome, or narrowed to the uncertain ones (a timeout, a reset, a 5xx) with
`settle_after` a short wait ahead. A sender that dies leaves it as written, due when its invocation must have ended.
The minute tick finds records that are due and has them settled against the provider's records. HandoverRepo reads
and writes them (`open`, `narrow`, `of_campaign`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from chalicelib.adapters.dynamo.table import ConditionFailed, Table, campaign_pk, to_item
from chalicelib.domain.handover import Handover

HANDOVER_PREFIX = "H#"
__all__ = ["HANDOVER_PREFIX", "Handover", "HandoverRepo", "handover_from_item", "handover_sk"]


def handover_sk(token: str) -> str:
    """Sort key of a claim token's hand-over record."""
    return f"{HANDOVER_PREFIX}{token}"


def handover_from_item(campaign_id: str, item: Mapping[str, Any]) -> Handover:
    """A hand-over record's item as a Handover."""
    return Handover(
        campaign_id=campaign_id,
        token=str(item["token"]),
        indexes=tuple(int(i) for i in item.get("indexes") or ()),
        settle_after=float(item["settle_after"]),
        errors={str(k): dict(v) for k, v in (item.get("errors") or {}).items()},
    )


class HandoverRepo:
    """The hand-over records of campaigns, in each campaign's partition."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def open(self, campaign_id: str, token: str, indexes: Sequence[int], settle_after: float) -> None:
        """Record, before claiming them, the recipients a sender is about to hand over."""
        item = {
            "pk": campaign_pk(campaign_id),
            "sk": handover_sk(token),
            "token": token,
            "indexes": [int(i) for i in indexes],
            "settle_after": settle_after,
        }
        self.table.db.put_item(TableName=self.table.name, Item=to_item(item))

    def narrow(
        self, campaign_id: str, token: str, errors: Mapping[int, Mapping[str, str]], settle_after: float
    ) -> None:
        """Keep only the recipients still uncertain (with what was seen of each), due at `settle_after`; or drop the
        record when none is."""
        key = {"pk": campaign_pk(campaign_id), "sk": handover_sk(token)}
        if not errors:
            self.table.db.delete_item(TableName=self.table.name, Key=to_item(key))
            return
        try:
            self.table.update(
                key,
                "SET #ix = :ix, #err = :err, settle_after = :at",
                # Closes: bringing back a record another settler has just dropped (nothing is left to settle).
                "attribute_exists(pk)",
                {
                    ":ix": sorted(int(i) for i in errors),
                    ":err": {str(i): dict(e) for i, e in errors.items()},
                    ":at": settle_after,
                },
                {"#ix": "indexes", "#err": "errors"},
            )
        except ConditionFailed:
            return  # dropped by another settler: it had nothing left to settle

    def of_campaign(self, campaign_id: str) -> list[Handover]:
        """Every open hand-over record of a campaign (few: one per chunk in flight or left uncertain)."""
        items = self.table.query_all(campaign_pk(campaign_id), HANDOVER_PREFIX)
        return [handover_from_item(campaign_id, i) for i in items]
