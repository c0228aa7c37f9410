"""SQS adapter: the FIFO send queue that carries chunks of recipients (ids and index ranges, never content)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from chalicelib.domain.errors import ConcurrencyError


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
    """Campaign work too long for an API request: `dispatch` (write the audience, queue its chunks) or `purge`."""

    kind: str
    tenant_id: str
    campaign_id: str

    def to_json(self) -> str:
        """The message body."""
        return json.dumps({"v": 1, **asdict(self)}, separators=(",", ":"))


def parse_message(body: str) -> Chunk | Job:
    """A send-queue message: a chunk of recipients, or a job."""
    data = json.loads(body)
    if "kind" in data:
        return Job(kind=str(data["kind"]), tenant_id=str(data["tenant_id"]), campaign_id=str(data["campaign_id"]))
    return Chunk.from_json(body)


def sender_group(campaign: Mapping[str, Any]) -> str:
    """The FIFO message group of a campaign's chunks: one per sender number, so one worker paces each sender."""
    return f"{campaign['channel_id']}:{campaign['sender']}"


class SendQueue:
    """The FIFO queue. One message group per sender number, so one worker at a time paces each sender."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._sqs = client
        self._url = queue_url

    def retry_soon(self, receipt_handle: str, seconds: int = 60) -> None:
        """Make a message that failed visible again after `seconds` (best effort: it reappears anyway)."""
        # Best effort: if this fails too, the message still comes back after the queue's timeout.
        with contextlib.suppress(Exception):
            self._sqs.change_message_visibility(
                QueueUrl=self._url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
            )

    def publish_job(self, job: Job, dedup_id: str) -> None:
        """Queue a job in a message group of its own (it must not wait behind a sender's chunks)."""
        self._sqs.send_message(
            QueueUrl=self._url,
            MessageBody=job.to_json(),
            MessageGroupId=f"{job.kind}:{job.campaign_id}"[:128],
            MessageDeduplicationId=dedup_id[:128],
        )

    def publish(
        self, chunks: Sequence[Chunk], group: str, dedup_prefix: str, on_batch: Callable[[], None] | None = None
    ) -> None:
        """Put chunks on the queue, ten per request; FIFO de-duplication drops a repeat within five minutes."""
        for start in range(0, len(chunks), 10):
            if on_batch is not None and start:
                on_batch()
            batch = chunks[start : start + 10]
            entries = [
                {
                    "Id": str(i),
                    "MessageBody": chunk.to_json(),
                    "MessageGroupId": group,
                    "MessageDeduplicationId": f"{dedup_prefix}:{chunk.start}-{chunk.end}"[:128],
                }
                for i, chunk in enumerate(batch)
            ]
            for _ in range(8):
                out = self._sqs.send_message_batch(QueueUrl=self._url, Entries=entries)
                failed = {f["Id"] for f in out.get("Failed", []) if not f.get("SenderFault")}
                sender_faults = [f for f in out.get("Failed", []) if f.get("SenderFault")]
                if sender_faults:
                    raise ValueError(f"queue refused messages: {sender_faults}")
                if not failed:
                    break
                entries = [e for e in entries if e["Id"] in failed]
            else:
                raise ConcurrencyError("the queue kept refusing messages")
