"""Hand-over records: which claimed recipients may be at the provider without our knowing its answer.

    CAMPAIGN#{cid}  H#{claim token}   indexes claimed under that token, since (claim time), settle_after, errors

A sender writes the record before it claims a chunk's recipients and rewrites it when the chunk ends: deleted when
every claimed recipient has an outcome, or narrowed to the uncertain ones (a timeout, a reset, a 5xx) with
`settle_after` a short wait ahead. A sender that dies leaves it as written, due when its invocation must have ended.
The minute tick finds records that are due and has them settled against the provider's records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

HANDOVER_PREFIX = "H#"


def handover_sk(token: str) -> str:
    return f"{HANDOVER_PREFIX}{token}"


@dataclass(frozen=True)
class Handover:
    """One claim token's recipients whose hand-over to the provider is not settled."""

    campaign_id: str
    token: str
    indexes: tuple[int, ...]
    since: float
    settle_after: float
    # index -> {"code", "message"}: what the sender saw, for the uncertain ones it recorded.
    errors: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def due(self, now: float) -> bool:
        """Whether it is time to settle it."""
        return self.settle_after <= now


def _from_item(campaign_id: str, item: Mapping[str, Any]) -> Handover:
    return Handover(
        campaign_id=campaign_id,
        token=str(item["token"]),
        indexes=tuple(int(i) for i in item.get("indexes") or ()),
        since=float(item["since"]),
        settle_after=float(item["settle_after"]),
        errors={str(k): dict(v) for k, v in (item.get("errors") or {}).items()},
    )


class HandoverRecords:
    """The hand-over records of the Store (mixed in: the same client and table)."""

    _db: Any
    _table: str

    def open_handover(
        self, campaign_id: str, token: str, indexes: Sequence[int], since: float, settle_after: float
    ) -> None:
        """Record, before claiming them, the recipients a sender is about to hand over."""
        from chalicelib.adapters.dynamo import _item, campaign_pk

        item = {
            "pk": campaign_pk(campaign_id),
            "sk": handover_sk(token),
            "token": token,
            "indexes": [int(i) for i in indexes],
            "since": since,
            "settle_after": settle_after,
        }
        self._db.put_item(TableName=self._table, Item=_item(item))

    def narrow_handover(
        self,
        campaign_id: str,
        token: str,
        errors: Mapping[int, Mapping[str, str]],
        settle_after: float,
    ) -> None:
        """Keep only the recipients still uncertain (with what was seen of each), due at `settle_after`; or drop the
        record when none is."""
        from chalicelib.adapters.dynamo import _is_condition_failure, _item, _values, campaign_pk

        key = {"pk": campaign_pk(campaign_id), "sk": handover_sk(token)}
        if not errors:
            self._db.delete_item(TableName=self._table, Key=_item(key))
            return
        try:
            self._db.update_item(
                TableName=self._table,
                Key=_item(key),
                UpdateExpression="SET #ix = :ix, #err = :err, settle_after = :at",
                # Closes: bringing back a record another settler has just dropped (nothing is left to settle).
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#ix": "indexes", "#err": "errors"},
                ExpressionAttributeValues=_values(
                    {
                        ":ix": sorted(int(i) for i in errors),
                        ":err": {str(i): dict(e) for i, e in errors.items()},
                        ":at": settle_after,
                    }
                ),
            )
        except ClientError as exc:
            if not _is_condition_failure(exc):
                raise

    def handovers(self, campaign_id: str) -> list[Handover]:
        """Every open hand-over record of a campaign (few: one per chunk in flight or left uncertain)."""
        from chalicelib.adapters.dynamo import _unitem, _values, campaign_pk

        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "ConsistentRead": True,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": _values({":pk": campaign_pk(campaign_id), ":prefix": HANDOVER_PREFIX}),
        }
        out: list[Handover] = []
        while True:
            page = self._db.query(**kwargs)
            out.extend(_from_item(campaign_id, _unitem(i)) for i in page.get("Items", []))
            if not page.get("LastEvaluatedKey"):
                return out
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
