"""What the send queue carries: ids and positions, never state (the worker reads the current state and claims)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Chunk:
    """A range of a campaign's recipients for one sender invocation: indexes [start, end)."""

    tenant_id: str
    campaign_id: str
    start: int
    end: int
    generation: int = 0
    # A retry sends only the recipients it requeued: their indexes (all within [start, end)).
    indexes: tuple[int, ...] | None = None

    def to_json(self) -> str:
        """The message body."""
        data = asdict(self)
        if self.indexes is None:
            del data["indexes"]
        else:
            data["indexes"] = list(self.indexes)
        return json.dumps({"v": 1, **data}, separators=(",", ":"))

    @classmethod
    def from_json(cls, body: str) -> Chunk:
        """Parse a message body written by `to_json`."""
        data = json.loads(body)
        return cls(
            tenant_id=str(data["tenant_id"]),
            campaign_id=str(data["campaign_id"]),
            start=int(data["start"]),
            end=int(data["end"]),
            generation=int(data.get("generation", 0)),
            indexes=tuple(int(i) for i in data["indexes"]) if data.get("indexes") is not None else None,
        )


@dataclass(frozen=True)
class Job:
    """Campaign work too long for an API request (`dispatch`: write the audience, queue its chunks; `purge`, `settle`,
    `cancel`), or a provider's status report kept for later (`report`: it lost its races when it came; `data` holds
    it)."""

    kind: str
    tenant_id: str
    campaign_id: str
    data: Mapping[str, Any] | None = None

    def to_json(self) -> str:
        """The message body."""
        body = {"v": 1, "kind": self.kind, "tenant_id": self.tenant_id, "campaign_id": self.campaign_id}
        if self.data is not None:
            body["data"] = dict(self.data)
        return json.dumps(body, separators=(",", ":"))


def parse_message(body: str) -> Chunk | Job:
    """A send-queue message: a chunk of recipients, or a job."""
    data = json.loads(body)
    if "kind" in data:
        extra = data.get("data")
        return Job(
            kind=str(data["kind"]),
            tenant_id=str(data["tenant_id"]),
            campaign_id=str(data["campaign_id"]),
            data=extra if isinstance(extra, dict) else None,
        )
    return Chunk.from_json(body)
