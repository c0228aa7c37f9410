"""The ports the services talk to: one protocol per repository and per AWS resource.

Adapters implement them (chalicelib/adapters/), in-memory fakes too (tests/fakes/); the composition root
(chalicelib/wiring.py) picks which. The provider port is chalicelib/adapters/providers/base.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import IO, Any, Protocol, TypeVar

from chalicelib.domain.channels import Channel, ChannelChanges
from chalicelib.domain.idempotency import IdempotencyRecord
from chalicelib.domain.messages import Chunk, Job
from chalicelib.domain.phonebooks import Phonebook, PhonebookVersion
from chalicelib.domain.templates import StoredTemplate, Template, TemplateUpdate
from chalicelib.domain.tenants import Tenant
from chalicelib.domain.uploads import Upload, UploadOutcome

T_co = TypeVar("T_co", covariant=True)


class Page(Protocol[T_co]):
    """One page of a listing."""

    @property
    def items(self) -> Sequence[T_co]: ...

    @property
    def next_cursor(self) -> str | None: ...


class Tenants(Protocol):
    """Tenants and their API keys."""

    def create(self, tenant: Tenant) -> None:
        """Store a new tenant with its first key; TenantExistsError when the id or key is taken."""
        ...

    def rotate_key(self, tenant_id: str, new_hash: str, now: str) -> None:
        """Replace the tenant's key (the old one stops working at once); TenantNotFoundError, KeyRotationRaceError."""
        ...

    def tenant_for_key(self, key_hash: str) -> str | None:
        """The tenant a key hash belongs to."""
        ...

    def get(self, tenant_id: str) -> Tenant | None:
        """The tenant."""
        ...

    def set_event_url(self, tenant_id: str, event_url: str | None, now: str | None = None) -> Tenant:
        """Set (or, with None, remove) where the tenant's events go, the first one marking `events_since` at `now`;
        the tenant as left; TenantNotFoundError."""
        ...


class Channels(Protocol):
    """Channels, their tenant pointers and their inbound messages."""

    def create(self, channel: Channel) -> None:
        """Store a new channel; ChannelIdTakenError when the id exists."""
        ...

    def get(self, tenant_id: str, channel_id: str, consistent: bool = True) -> Channel | None:
        """A tenant's channel."""
        ...

    def tenant_of(self, channel_id: str) -> str | None:
        """The tenant owning a channel."""
        ...

    def list(self, tenant_id: str, limit: int, cursor: str | None) -> Page[Channel]:
        """A page of the tenant's channels, oldest first."""
        ...

    def update(self, tenant_id: str, channel_id: str, changes: ChannelChanges, now: str) -> Channel:
        """Apply changes; the channel as it is now. ChannelNotFoundError when there is none."""
        ...

    def delete(self, tenant_id: str, channel_id: str, use_seq: int) -> None:
        """Delete unless a campaign started using it since `use_seq`: ChannelChangedError, ChannelNotFoundError."""
        ...

    def put_inbound(self, tenant_id: str, channel_id: str, message: dict[str, Any]) -> None:
        """Keep an inbound message once (by its message_sid); DuplicateInboundError for a repeat."""
        ...


class Templates(Protocol):
    """A channel's message templates, as last synced from the provider (and updated by its webhooks)."""

    def replace_all(self, tenant_id: str, channel_id: str, templates: Sequence[Template], now: str) -> None:
        """Store the provider's whole listing: the templates it no longer lists are removed."""
        ...

    def get(self, tenant_id: str, channel_id: str, template_id: str) -> StoredTemplate | None:
        """One stored template of a channel."""
        ...

    def list(self, tenant_id: str, channel_id: str, limit: int, cursor: str | None) -> Page[StoredTemplate]:
        """A page of a channel's templates, by id."""
        ...

    def apply_update(self, tenant_id: str, channel_id: str, update: TemplateUpdate, now: str) -> StoredTemplate | None:
        """Record a template's new state; the template as it is now, or None when the channel does not store it."""
        ...

    def delete_all(self, tenant_id: str, channel_id: str) -> None:
        """Remove every template of a channel (it is being deleted)."""
        ...


class Uploads(Protocol):
    """Upload records."""

    def create(self, upload: Upload) -> None:
        """Store a new upload; UploadIdTakenError when the id exists."""
        ...

    def get(self, tenant_id: str, upload_id: str) -> Upload | None:
        """A tenant's upload."""
        ...

    def begin_import(self, tenant_id: str, upload_id: str, now: float, lease_seconds: int) -> Upload:
        """Take it for processing; UploadBusyError when it is done or another worker's lease is alive."""
        ...

    def finish(self, tenant_id: str, upload_id: str, outcome: UploadOutcome) -> Upload:
        """Record its outcome once; UploadFinishedError when one is recorded already."""
        ...


class Phonebooks(Protocol):
    """Phonebook metadata."""

    def put(self, tenant_id: str, phonebook_id: str, version: PhonebookVersion, now: str) -> Phonebook | None:
        """Create or replace; the phonebook replaced, or None."""
        ...

    def get(self, tenant_id: str, phonebook_id: str) -> Phonebook | None:
        """A tenant's phonebook."""
        ...

    def list(self, tenant_id: str, limit: int, cursor: str | None) -> Page[Phonebook]:
        """A page of the tenant's phonebooks, by id."""
        ...

    def delete(self, tenant_id: str, phonebook_id: str) -> Phonebook | None:
        """Delete; the phonebook deleted, or None."""
        ...


class Idempotency(Protocol):
    """Idempotency keys."""

    def claim(self, tenant_id: str, key: str, record: IdempotencyRecord, *, now: float, ttl_seconds: int) -> None:
        """Remember `record` under the key; IdempotencyKeyTakenError (with the first record) when it is taken."""
        ...

    def release(self, tenant_id: str, key: str, campaign_id: str) -> None:
        """Forget a key whose request created nothing."""
        ...


class Queue(Protocol):
    """The FIFO send queue."""

    def retry_soon(self, receipt_handle: str, seconds: int = 60) -> None:
        """Make a failed message visible again soon (best effort)."""
        ...

    def dead_letters(self, limit: int = 10) -> list[tuple[str, str]]:
        """Messages the queue gave up on (its dead-letter queue), as (receipt handle, body)."""
        ...

    def drop_dead_letter(self, receipt_handle: str) -> None:
        """Delete a dead letter that has been dealt with."""
        ...

    def publish_job(self, job: Job, dedup_id: str) -> None:
        """Queue a campaign job."""
        ...

    def publish(
        self, chunks: Sequence[Chunk], group: str, dedup_prefix: str, on_batch: Callable[[], None] | None = None
    ) -> None:
        """Queue chunks of recipients in a sender's message group."""
        ...


class Scheduler(Protocol):
    """One-time schedules that start campaigns."""

    def schedule_start(self, tenant_id: str, campaign_id: str, at: datetime) -> None:
        """Start the campaign at `at`."""
        ...

    def cancel(self, campaign_id: str) -> None:
        """Remove the campaign's schedule, if any."""
        ...


class Blobs(Protocol):
    """The bucket (BlobMissingError, from chalicelib.domain.objects, for an object that is not there)."""

    def presigned_put(self, key: str, content_type: str, size: int, seconds: int) -> str:
        """A URL that lets its holder PUT exactly `size` bytes of `content_type` at `key`."""
        ...

    def presigned_get(self, key: str, seconds: int) -> str:
        """A URL that lets its holder GET `key`."""
        ...

    def head(self, key: str) -> dict[str, Any] | None:
        """Size, content type and ETag of an object, or None."""
        ...

    def copy(self, source: str, key: str, if_etag: str) -> bool:
        """Copy while the source has ETag `if_etag`; False when it changed or is gone."""
        ...

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        """Store a small object."""
        ...

    def put_file(self, key: str, fileobj: IO[bytes], content_type: str) -> None:
        """Store a file of any size."""
        ...

    def get_bytes(self, key: str) -> bytes:
        """A whole (small) object."""
        ...

    def stream(self, key: str, chunk_size: int = ...) -> Iterator[bytes]:
        """An object's bytes in chunks."""
        ...

    def lines(self, key: str) -> Iterator[bytes]:
        """An object's non-empty lines."""
        ...

    def delete(self, *keys: str) -> None:
        """Remove objects (missing ones are fine)."""
        ...

    def keys(self, prefix: str) -> list[str]:
        """Every key under `prefix`."""
        ...


class Secrets(Protocol):
    """Channel credentials."""

    def put(self, tenant_id: str, channel_id: str, credentials: dict[str, str]) -> None:
        """Create or replace a channel's credentials."""
        ...

    def get(self, tenant_id: str, channel_id: str) -> dict[str, str] | None:
        """A channel's credentials, or None."""
        ...

    def delete(self, tenant_id: str, channel_id: str) -> None:
        """Delete a channel's credentials."""
        ...
