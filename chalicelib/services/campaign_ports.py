"""The ports of the campaign aggregate: campaigns (with the tenant's send lock), recipients (with their counters) and
hand-over records. adapters/dynamo/campaigns.py, recipients.py and adapters/handovers.py implement them over
DynamoDB, tests/fakes/ in memory; tests/contract/ holds both to the same behaviour.

A write that loses its race raises a named error from chalicelib.domain.errors (CampaignMovedError,
RecipientMovedError, ...) carrying the item as the winner left it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from chalicelib.domain.campaign import Campaign, CampaignPage
from chalicelib.domain.handover import Handover
from chalicelib.domain.model import RecipientStatus
from chalicelib.domain.pacing import Taken
from chalicelib.domain.recipient import Recipient, RecipientPage
from chalicelib.domain.replies import ThreadMessage

Item = dict[str, Any]
# (the recipient as read, the status it goes to, fields to set (None removes), the claim it needs or None)
Move = tuple[Recipient, RecipientStatus, Mapping[str, Any], str | None]


class Campaigns(Protocol):
    """Campaigns and the tenant's send lock."""

    def lock_of(self, tenant_id: str) -> Item | None:
        """The tenant's send lock (`sending`, `pending_queue`) and `campaign_count`."""
        ...

    def get(self, tenant_id: str, campaign_id: str, consistent: bool = True) -> Campaign | None:
        """A tenant's campaign."""
        ...

    def page(self, tenant_id: str, status: str | None, limit: int, cursor: str | None) -> CampaignPage:
        """A page of the tenant's campaigns, newest first."""
        ...

    def of_tenant(self, tenant_id: str) -> Iterator[Campaign]:
        """Every campaign of a tenant."""
        ...

    def due(self, until: str) -> list[tuple[str, str]]:
        """(tenant_id, campaign_id) of scheduled campaigns due by `until`."""
        ...

    def active(self) -> list[tuple[str, str]]:
        """(tenant_id, campaign_id) of sending campaigns."""
        ...

    def create(self, campaign: Campaign, max_campaigns: int) -> str:
        """Store a new campaign (taking the send lock or queueing if it is to go now); the status stored.
        CampaignLimitError, ChannelGoneError."""
        ...

    def update_draft(self, tenant_id: str, campaign_id: str, version: int, fields: Mapping[str, Any]) -> bool:
        """Replace a draft's settings if it is the version read; CampaignMovedError if not."""
        ...

    def schedule_draft(
        self, tenant_id: str, campaign_id: str, version: int, scheduled_at: str, audience_total: int
    ) -> bool:
        """Schedule a draft if it is the version read; CampaignMovedError if not."""
        ...

    def delete(self, tenant_id: str, campaign_id: str) -> Campaign:
        """Delete a campaign that is not sending; what it was. NotFoundError, ConflictError (campaign_busy)."""
        ...

    def start(
        self,
        tenant_id: str,
        campaign_id: str,
        from_status: str,
        now: str,
        *,
        to_status: str = "executing",
        extra: Mapping[str, Any] | None = None,
    ) -> str:
        """Move a campaign from `from_status` to sending, or pending behind the lock; CampaignMovedError."""
        ...

    def finish(self, tenant_id: str, campaign_id: str, final_status: str, now: str) -> str | None:
        """End a sending campaign and hand the lock on; the campaign that now sends, if any."""
        ...

    def pause(self, tenant_id: str, campaign_id: str, now: str) -> str | None:
        """Pause a sending campaign and hand the lock on; the campaign that now sends, if any. CampaignMovedError
        when it is not sending or a cancel was asked for."""
        ...

    def close(self, tenant_id: str, campaign_id: str, from_status: str, now: str) -> None:
        """End a paused, pending or scheduled campaign (a finished cancel) as completed; CampaignMovedError."""
        ...

    def set_fields(
        self, tenant_id: str, campaign_id: str, fields: Mapping[str, Any], condition_status: Sequence[str] | None = None
    ) -> bool:
        """Set plain fields (while in one of `condition_status`); CampaignMovedError if gone or moved on."""
        ...

    def mark_materialized(
        self,
        tenant_id: str,
        campaign_id: str,
        shard_counts: Sequence[int],
        report: Mapping[str, Any],
        statuses: Sequence[str] = ("executing", "retrying"),
    ) -> None:
        """Record the audience written, with its counters, while in one of `statuses`; AudienceWrittenError if done
        already or moved on."""
        ...


class Recipients(Protocol):
    """A campaign's recipients and result counters."""

    def get(self, campaign_id: str, index: int) -> Recipient | None:
        """One recipient."""
        ...

    def range(self, campaign_id: str, start: int, end: int) -> list[Recipient]:
        """Recipients with index in [start, end)."""
        ...

    def with_status(self, campaign_id: str, statuses: Sequence[str]) -> Iterator[Recipient]:
        """Recipients in one of `statuses`."""
        ...

    def page(
        self, campaign_id: str, status: str | Collection[str] | None, limit: int, cursor: str | None
    ) -> RecipientPage:
        """A page of recipients in list order."""
        ...

    def counters(self, campaign_id: str) -> list[Item]:
        """The counter shards."""
        ...

    def create(
        self, campaign_id: str, recipients: Iterable[Recipient], on_batch: Callable[[], None] | None = None
    ) -> None:
        """Create queued recipients that do not exist yet."""
        ...

    def purge(self, campaign_id: str) -> None:
        """Remove recipients, counters and hand-over records."""
        ...

    def claim(self, campaign_id: str, recipients: Sequence[Recipient], token: str, now: float) -> list[Recipient]:
        """Claim queued recipients; those claimed."""
        ...

    def release(self, campaign_id: str, index: int, token: str, *, attempted: bool = False) -> None:
        """Give a claim back; RecipientMovedError when it is not ours."""
        ...

    def next_attempt(self, campaign_id: str, index: int, token: str) -> int:
        """Count one more attempt on a held claim; RecipientMovedError when it is not ours."""
        ...

    def move(
        self,
        campaign_id: str,
        recipient: Recipient,
        to_status: RecipientStatus,
        fields: Mapping[str, Any],
        *,
        claim_token: str | None = None,
    ) -> None:
        """Move a recipient from the status read, counting it; RecipientMovedError."""
        ...

    def move_many(self, campaign_id: str, moves: Sequence[Move]) -> list[int]:
        """Several moves; the positions that lost."""
        ...

    def requeue(self, campaign_id: str, recipients: Sequence[Recipient]) -> list[int]:
        """Failed recipients queued again for a retry; the indexes moved."""
        ...

    def deliver_sent(
        self,
        campaign_id: str,
        index: int,
        shard: int,
        tenant_id: str,
        channel_id: str,
        attempt: int,
        message_id: str,
        now: str,
    ) -> None:
        """sent -> delivered without a read; RecipientMovedError if it is not exactly that message."""
        ...

    def set_fields(self, campaign_id: str, index: int, fields: Mapping[str, Any], only_if_missing: str) -> bool:
        """Set fields if `only_if_missing` is absent; whether it did."""
        ...

    def in_thread(self, thread: str, since: str, until: str) -> list[ThreadMessage]:
        """The campaign messages of a thread (tenant#channel#sender#contact) sent within [since, until], newest
        first (gsi2: eventually consistent, so a message sent a moment ago may be missing)."""
        ...

    def respond(self, campaign_id: str, index: int, shard: int, at: str) -> None:
        """Record a recipient's first reply: `responded_at`, and one more `n_responded` on its counter shard, in one
        write; AlreadyRespondedError when it has replied before (or is gone)."""
        ...


class Handovers(Protocol):
    """Hand-over records."""

    def open(self, campaign_id: str, token: str, indexes: Sequence[int], settle_after: float) -> None:
        """Record the recipients about to be handed over."""
        ...

    def narrow(
        self, campaign_id: str, token: str, errors: Mapping[int, Mapping[str, str]], settle_after: float
    ) -> None:
        """Keep the uncertain ones, or drop the record."""
        ...

    def of_campaign(self, campaign_id: str) -> list[Handover]:
        """Every open record of a campaign."""
        ...


class Pace(Protocol):
    """Send budgets of sender numbers (chalicelib/domain/pacing.py), shared by every campaign sending from one."""

    def take(self, key: str, now: float, count: int, mps: float, lead: float) -> Taken:
        """Take `count` slots if the first starts within `lead` seconds of now; else how long until one can."""
        ...

    def slow(self, key: str, now: float) -> None:
        """The provider throttled the number: slow its budget down."""
        ...
