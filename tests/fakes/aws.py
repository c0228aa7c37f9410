"""Fakes of the queue, scheduler, bucket and secret store ports."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from chalicelib.adapters.queue import Chunk, Job
from chalicelib.domain.objects import BlobMissingError


@dataclass
class FakeQueue:
    """The send queue: what was published, in order, with FIFO de-duplication of repeated ids."""

    messages: list[tuple[str, Chunk | Job]] = field(default_factory=list)  # (message group, body)
    retried: list[str] = field(default_factory=list)
    _dedup: set[str] = field(default_factory=set)

    dead: list[tuple[str, str]] = field(default_factory=list)  # the dead-letter queue: (receipt handle, body)

    def retry_soon(self, receipt_handle: str, seconds: int = 60) -> None:
        """Remember that a message was asked back."""
        self.retried.append(receipt_handle)

    def dead_letters(self, limit: int = 10) -> list[tuple[str, str]]:
        """What the dead-letter queue holds (kept until dropped)."""
        return list(self.dead[:limit])

    def drop_dead_letter(self, receipt_handle: str) -> None:
        """Delete a dead letter."""
        self.dead = [d for d in self.dead if d[0] != receipt_handle]

    def publish_job(self, job: Job, dedup_id: str) -> None:
        """Queue a job in its own group."""
        self._put(f"{job.kind}:{job.campaign_id}"[:128], job, dedup_id[:128])

    def publish(
        self, chunks: Sequence[Chunk], group: str, dedup_prefix: str, on_batch: Callable[[], None] | None = None
    ) -> None:
        """Queue chunks, ten per batch (calling `on_batch` between batches, like the adapter)."""
        for start in range(0, len(chunks), 10):
            if on_batch is not None and start:
                on_batch()
            for chunk in chunks[start : start + 10]:
                self._put(group, chunk, f"{dedup_prefix}:{chunk.start}-{chunk.end}"[:128])

    def _put(self, group: str, body: Chunk | Job, dedup_id: str) -> None:
        if dedup_id in self._dedup:
            return  # FIFO de-duplication: a repeat within the window is dropped
        self._dedup.add(dedup_id)
        self.messages.append((group, body))


@dataclass
class FakeScheduler:
    """One-time schedules by campaign: (tenant, when, in UTC)."""

    schedules: dict[str, tuple[str, datetime]] = field(default_factory=dict)

    def schedule_start(self, tenant_id: str, campaign_id: str, at: datetime) -> None:
        """Create or move the campaign's schedule (to the second, in UTC, as the real one keeps it)."""
        self.schedules[campaign_id] = (tenant_id, at.astimezone(UTC).replace(microsecond=0))

    def cancel(self, campaign_id: str) -> None:
        """Remove the campaign's schedule, if any."""
        self.schedules.pop(campaign_id, None)


@dataclass
class _Object:
    data: bytes
    content_type: str
    etag: str


@dataclass
class FakeBlobs:
    """The bucket in a dict; ETags are the MD5 of the content, as S3's are for single-part objects."""

    objects: dict[str, _Object] = field(default_factory=dict)
    bucket: str = "fake-bucket"

    def presigned_put(self, key: str, content_type: str, size: int, seconds: int) -> str:
        """A URL naming the key (nothing serves it)."""
        return f"https://{self.bucket}.fake/{key}?put&size={size}&expires={seconds}"

    def presigned_get(self, key: str, seconds: int) -> str:
        """A URL naming the key (nothing serves it)."""
        return f"https://{self.bucket}.fake/{key}?get&expires={seconds}"

    def head(self, key: str) -> dict[str, Any] | None:
        """Size, content type and ETag, or None."""
        obj = self.objects.get(key)
        if obj is None:
            return None
        return {"size": len(obj.data), "content_type": obj.content_type, "etag": obj.etag}

    def copy(self, source: str, key: str, if_etag: str) -> bool:
        """Copy while the source has ETag `if_etag`."""
        obj = self.objects.get(source)
        if obj is None or obj.etag != if_etag:
            return False
        self.objects[key] = _Object(obj.data, obj.content_type, obj.etag)
        return True

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        """Store an object."""
        self.objects[key] = _Object(bytes(data), content_type, hashlib.md5(data, usedforsecurity=False).hexdigest())

    def put_file(self, key: str, fileobj: IO[bytes], content_type: str) -> None:
        """Store a file's content."""
        self.put_bytes(key, fileobj.read(), content_type)

    def get_bytes(self, key: str) -> bytes:
        """A whole object; BlobMissingError when it is not there."""
        obj = self.objects.get(key)
        if obj is None:
            raise BlobMissingError(key)
        return obj.data

    def stream(self, key: str, chunk_size: int = 1024 * 1024) -> Iterator[bytes]:
        """An object's bytes in chunks."""
        data = self.get_bytes(key)
        for start in range(0, len(data), chunk_size):
            yield data[start : start + chunk_size]

    def lines(self, key: str) -> Iterator[bytes]:
        """An object's non-empty lines, without line ends."""
        for line in self.get_bytes(key).splitlines():
            if line:
                yield line

    def delete(self, *keys: str) -> None:
        """Remove objects (missing ones are fine)."""
        for key in keys:
            self.objects.pop(key, None)

    def keys(self, prefix: str) -> list[str]:
        """Every key under `prefix`, sorted as S3 lists them."""
        return sorted(k for k in self.objects if k.startswith(prefix))


@dataclass
class FakeSecrets:
    """Channel credentials in a dict."""

    secrets: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)

    def put(self, tenant_id: str, channel_id: str, credentials: dict[str, str]) -> None:
        """Create or replace a channel's credentials."""
        self.secrets[(tenant_id, channel_id)] = dict(credentials)

    def get(self, tenant_id: str, channel_id: str) -> dict[str, str] | None:
        """A channel's credentials, or None."""
        found = self.secrets.get((tenant_id, channel_id))
        return dict(found) if found is not None else None

    def delete(self, tenant_id: str, channel_id: str) -> None:
        """Delete a channel's credentials."""
        self.secrets.pop((tenant_id, channel_id), None)
