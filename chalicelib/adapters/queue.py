"""SQS adapter: the FIFO send queue that carries chunks of recipients (ids and index ranges, never content)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

from chalicelib.domain.errors import ConcurrencyError
from chalicelib.domain.messages import Chunk, Job, parse_message

__all__ = ["Chunk", "Job", "SendQueue", "parse_message"]


class SendQueue:
    """The FIFO queue. One message group per sender number, so one worker at a time paces each sender."""

    def __init__(self, client: Any, queue_url: str, dead_letter_name: str = "") -> None:
        self._sqs = client
        self._url = queue_url
        # The dead-letter queue is the send queue's neighbour: same account and region, its own name.
        self._dlq_url = f"{queue_url.rsplit('/', 1)[0]}/{dead_letter_name}" if dead_letter_name else ""

    def dead_letters(self, limit: int = 10) -> list[tuple[str, str]]:
        """Up to `limit` messages the send queue gave up on, as (receipt handle, body); kept until dropped."""
        if not self._dlq_url:
            return []
        out = self._sqs.receive_message(
            QueueUrl=self._dlq_url, MaxNumberOfMessages=min(limit, 10), WaitTimeSeconds=0, VisibilityTimeout=60
        )
        return [(m["ReceiptHandle"], m["Body"]) for m in out.get("Messages", [])]

    def drop_dead_letter(self, receipt_handle: str) -> None:
        """Delete a dead letter once what it meant is recorded (its campaign stopped)."""
        self._sqs.delete_message(QueueUrl=self._dlq_url, ReceiptHandle=receipt_handle)

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
