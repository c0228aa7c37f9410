"""Channels, the pointer that lets a webhook find a channel's tenant, and the inbound messages a channel receives.

    TENANT#{tid}    CHANNEL#{chid}            channel (no credentials: those live in the secret store); use_seq
    CHANNEL#{chid}  #CHANNEL                  pointer channel -> tenant, for webhooks that only know the channel
    INBOUND#{tid}   {chid}#{message id}       an inbound message, kept once

`use_seq` is the channel's version as far as deleting it goes: creating a campaign on the channel adds one to it in
the campaign's own transaction (the campaign repository), and a delete requires the value it read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.adapters.dynamo.table import CHANNEL_PTR_SK, ConditionFailed, Table, tenant_pk
from chalicelib.domain.channels import DEFAULT_EXPIRE_HOURS, Channel, ChannelChanges
from chalicelib.domain.errors import (
    ChannelChangedError,
    ChannelIdTakenError,
    ChannelNotFoundError,
    DuplicateInboundError,
)

# Named condition parts.
ITEM_IS_NEW = "attribute_not_exists(pk)"
CHANNEL_EXISTS = "attribute_exists(pk)"
UNUSED_SINCE_READ = "use_seq = :seq"


def channel_sk(channel_id: str) -> str:
    """Sort key of a channel in its tenant's partition."""
    return f"CHANNEL#{channel_id}"


def pointer_pk(channel_id: str) -> str:
    """Partition of a channel's pointer to its tenant."""
    return f"CHANNEL#{channel_id}"


def channel_from_item(item: Mapping[str, Any]) -> Channel:
    """A channel item as a Channel."""
    return Channel(
        tenant_id=str(item["tenant_id"]),
        channel_id=str(item["channel_id"]),
        name=str(item["name"]),
        type=str(item["type"]),
        provider=str(item["provider"]),
        senders=tuple(str(s) for s in item.get("senders") or ()),
        mps=item["mps"],  # as stored: a whole number reads back as an int, and is answered so
        created_at=str(item["created_at"]),
        updated_at=str(item["updated_at"]) if item.get("updated_at") else None,
        use_seq=int(item.get("use_seq", 0)),
        provider_config=dict(item["provider_config"]) if item.get("provider_config") else None,
        default_routing_target=(
            {k: str(v) for k, v in item["default_routing_target"].items()}
            if item.get("default_routing_target")
            else None
        ),
        session_expire_hours=int(item.get("session_expire_hours") or DEFAULT_EXPIRE_HOURS),
    )


def channel_item(channel: Channel) -> dict[str, Any]:
    """A Channel as its table item."""
    return {
        "pk": tenant_pk(channel.tenant_id),
        "sk": channel_sk(channel.channel_id),
        "use_seq": channel.use_seq,
        "tenant_id": channel.tenant_id,
        "channel_id": channel.channel_id,
        "name": channel.name,
        "type": channel.type,
        "provider": channel.provider,
        "senders": list(channel.senders),
        "mps": channel.mps,
        "created_at": channel.created_at,
        "updated_at": channel.updated_at,
        **({"provider_config": dict(channel.provider_config)} if channel.provider_config else {}),
        **({"default_routing_target": dict(channel.default_routing_target)} if channel.default_routing_target else {}),
        "session_expire_hours": channel.session_expire_hours,
    }


@dataclass(frozen=True)
class ChannelPage:
    """One page of a tenant's channels."""

    items: list[Channel]
    next_cursor: str | None


def first_seen(kept: Mapping[str, Any]) -> float | None:
    """When a kept inbound message was first kept (epoch seconds), from its item."""
    raw = kept.get("first_seen")
    return float(raw) if isinstance(raw, int | float) else None


class ChannelRepository:
    """Channels over the table."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def create(self, channel: Channel) -> None:
        """Store a channel and its webhook pointer together; ChannelIdTakenError when the id exists."""
        pointer = {"pk": pointer_pk(channel.channel_id), "sk": CHANNEL_PTR_SK, "tenant_id": channel.tenant_id}
        try:
            # Closes: an id given twice (by two tenants too: the pointer names one tenant per channel id).
            self.table.tx().put("channel", channel_item(channel), ITEM_IS_NEW).put(
                "pointer", pointer, ITEM_IS_NEW
            ).commit()
        except ConditionFailed as exc:
            raise ChannelIdTakenError("channel id collision") from exc

    def get(self, tenant_id: str, channel_id: str, consistent: bool = True) -> Channel | None:
        """A tenant's channel."""
        item = self.table.get(tenant_pk(tenant_id), channel_sk(channel_id), consistent)
        return channel_from_item(item) if item else None

    def tenant_of(self, channel_id: str) -> str | None:
        """The tenant owning a channel, for webhooks (which know only the channel)."""
        item = self.table.get(pointer_pk(channel_id), CHANNEL_PTR_SK, consistent=False)
        return str(item["tenant_id"]) if item else None

    def list(self, tenant_id: str, limit: int, cursor: str | None) -> ChannelPage:
        """A page of the tenant's channels, oldest first."""
        page = self.table.page(tenant_pk(tenant_id), "CHANNEL#", limit=limit, cursor=cursor, forward=True)
        return ChannelPage([channel_from_item(i) for i in page.items], page.next_cursor)

    def update(self, tenant_id: str, channel_id: str, changes: ChannelChanges, now: str) -> Channel:
        """Apply changes to an existing channel; the channel as it is now. ChannelNotFoundError when there is none."""
        fields = changes.fields()
        names = {f"#f{i}": k for i, k in enumerate(fields)}
        values: dict[str, Any] = {f":v{i}": v for i, v in enumerate(fields.values()) if v is not None}
        values[":now"] = now
        sets = [f"#f{i} = :v{i}" for i, v in enumerate(fields.values()) if v is not None] + ["updated_at = :now"]
        removes = [f"#f{i}" for i, v in enumerate(fields.values()) if v is None]  # a setting given as null
        try:
            # Closes: a change racing the channel's delete (an update must not create a channel without a pointer).
            new = self.table.update(
                {"pk": tenant_pk(tenant_id), "sk": channel_sk(channel_id)},
                "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else ""),
                CHANNEL_EXISTS,
                values,
                names,
                want_new=True,
            )
        except ConditionFailed as exc:
            raise ChannelNotFoundError("no such channel") from exc
        assert new is not None
        return channel_from_item(new)

    def delete(self, tenant_id: str, channel_id: str, use_seq: int) -> None:
        """Delete a channel (and its pointer) if no campaign started using it since `use_seq` was read.

        ChannelChangedError (with the channel as it is now) when one did, ChannelNotFoundError when it is gone.
        """
        try:
            self.table.tx().delete(
                "channel",
                {"pk": tenant_pk(tenant_id), "sk": channel_sk(channel_id)},
                # Closes: a campaign created on this channel between the caller's in-use check and this delete.
                UNUSED_SINCE_READ,
                {":seq": use_seq},
                want_old=True,
            ).delete("pointer", {"pk": pointer_pk(channel_id), "sk": CHANNEL_PTR_SK}).commit()
        except ConditionFailed as exc:
            now = exc.item("channel")
            if now is None:
                raise ChannelNotFoundError("no such channel") from exc
            raise ChannelChangedError("a campaign started using the channel", channel=channel_from_item(now)) from exc

    def put_inbound(self, tenant_id: str, channel_id: str, message: Mapping[str, Any]) -> None:
        """Keep an inbound message once; DuplicateInboundError for a provider's retry of the same message id."""
        item = {
            "pk": f"INBOUND#{tenant_id}",
            "sk": f"{channel_id}#{message['message_sid']}",
            "type": "inbound",
            "tenant_id": tenant_id,
            "channel_id": channel_id,
            **message,
        }
        try:
            # Closes: a provider delivering one message twice (its retries), also concurrently.
            self.table.put(item, ITEM_IS_NEW, want_old=True)
        except ConditionFailed as exc:
            kept = exc.item("item") or {}
            raise DuplicateInboundError("this inbound message is kept already", first_seen(kept)) from exc
