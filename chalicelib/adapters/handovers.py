"""Hand-over records: which claimed recipients may be at the provider without our knowing its answer.

    CAMPAIGN#{cid}  H#{claim token}   indexes claimed under that token, settle_after, errors

A sender writes the record before it claims a chunk's recipients and rewrites it when the chunk ends: deleted when
every claimed recipient has an outcome, or narrowed to the uncertain ones (a timeout, a reset, a 5xx) with
`settle_after` a short wait ahead. A sender that dies leaves it as written, due when its invocation must have ended.
The minute tick finds records that are due and has them settled against the provider's records. The Store reads
and writes them (`open_handover`, `narrow_handover`, `handovers`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

HANDOVER_PREFIX = "H#"


def handover_sk(token: str) -> str:
    return f"{HANDOVER_PREFIX}{token}"


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


def handover_from_item(campaign_id: str, item: Mapping[str, Any]) -> Handover:
    return Handover(
        campaign_id=campaign_id,
        token=str(item["token"]),
        indexes=tuple(int(i) for i in item.get("indexes") or ()),
        settle_after=float(item["settle_after"]),
        errors={str(k): dict(v) for k, v in (item.get("errors") or {}).items()},
    )
