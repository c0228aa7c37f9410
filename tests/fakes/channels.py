"""A fake of the Channels port, with the same optimistic concurrency on delete (`use_seq`)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chalicelib.adapters.dynamo.channels import first_seen
from chalicelib.domain.channels import Channel, ChannelChanges
from chalicelib.domain.errors import (
    ChannelChangedError,
    ChannelIdTakenError,
    ChannelNotFoundError,
    DuplicateInboundError,
)
from tests.fakes.paging import FakePage, page


def _as_stored(channel: Channel) -> Channel:
    """A channel as the table gives it back: a whole-number mps reads back as an int (DynamoDB numbers)."""
    mps = channel.mps
    return replace(channel, mps=int(mps)) if float(mps).is_integer() else channel


class FakeChannels:
    """Channels, pointers and inbound messages in dicts."""

    def __init__(self) -> None:
        self.channels: dict[tuple[str, str], Channel] = {}
        self.pointers: dict[str, str] = {}
        self.inbound: dict[tuple[str, str, str], dict[str, Any]] = {}

    def create(self, channel: Channel) -> None:
        """Store a new channel; ChannelIdTakenError when the id exists (for any tenant)."""
        if (channel.tenant_id, channel.channel_id) in self.channels or channel.channel_id in self.pointers:
            raise ChannelIdTakenError("channel id collision")
        self.channels[(channel.tenant_id, channel.channel_id)] = _as_stored(channel)
        self.pointers[channel.channel_id] = channel.tenant_id

    def get(self, tenant_id: str, channel_id: str, consistent: bool = True) -> Channel | None:
        """A tenant's channel."""
        return self.channels.get((tenant_id, channel_id))

    def tenant_of(self, channel_id: str) -> str | None:
        """The tenant owning a channel."""
        return self.pointers.get(channel_id)

    def list(self, tenant_id: str, limit: int, cursor: str | None) -> FakePage[Channel]:
        """A page of the tenant's channels, oldest first (by id, as the table sorts them)."""
        mine = [c for (tid, _), c in self.channels.items() if tid == tenant_id]
        return page(mine, lambda c: c.channel_id, "CHANNEL#", limit, cursor)

    def update(self, tenant_id: str, channel_id: str, changes: ChannelChanges, now: str) -> Channel:
        """Apply changes; the channel as it is now. ChannelNotFoundError when there is none."""
        channel = self.channels.get((tenant_id, channel_id))
        if channel is None:
            raise ChannelNotFoundError("no such channel")
        changed = _as_stored(channel.changed(changes, now))
        self.channels[(tenant_id, channel_id)] = changed
        return changed

    def delete(self, tenant_id: str, channel_id: str, use_seq: int) -> None:
        """Delete unless a campaign started using it since `use_seq` (ChannelChangedError with it as it is now)."""
        channel = self.channels.get((tenant_id, channel_id))
        if channel is None:
            raise ChannelNotFoundError("no such channel")
        if channel.use_seq != use_seq:
            raise ChannelChangedError("a campaign started using the channel", channel=channel)
        del self.channels[(tenant_id, channel_id)]
        self.pointers.pop(channel_id, None)

    def put_inbound(self, tenant_id: str, channel_id: str, message: dict[str, Any]) -> None:
        """Keep an inbound message once; DuplicateInboundError for a repeat of its message_sid."""
        key = (tenant_id, channel_id, str(message["message_sid"]))
        if key in self.inbound:
            raise DuplicateInboundError("this inbound message is kept already", first_seen(self.inbound[key]))
        self.inbound[key] = dict(message)

    def use(self, tenant_id: str, channel_id: str) -> None:
        """What creating a campaign on the channel does to it (the campaign repository's part): use_seq + 1."""
        channel = self.channels[(tenant_id, channel_id)]
        self.channels[(tenant_id, channel_id)] = replace(channel, use_seq=channel.use_seq + 1)
