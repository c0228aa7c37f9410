"""Channels: a provider account and its sender numbers, and the commands that create and change one. No I/O.

Credentials travel in the commands only: they go to the secret store, never onto a `Channel`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

# A channel is deletable only when no campaign that uses it is in one of the other statuses.
FINISHED_CAMPAIGN_STATUSES = ("completed", "stopped")
# How long a session stays open without a message, unless the channel says otherwise (hours).
DEFAULT_EXPIRE_HOURS = 24


@dataclass(frozen=True)
class Channel:
    """A tenant's channel as stored (no credentials).

    `use_seq` grows by one whenever a campaign starts using the channel: a delete that read it earlier loses to that
    campaign (optimistic concurrency, see the channel repository).
    """

    tenant_id: str
    channel_id: str
    name: str
    type: str
    provider: str
    senders: tuple[str, ...]
    mps: float
    created_at: str
    updated_at: str | None = None
    use_seq: int = 0
    # Not secret, shown in answers: what the provider needs besides credentials (Meta: waba_id, phone_number_ids).
    provider_config: Mapping[str, Any] | None = None
    # Sessions: where one opened by an inbound message goes (None: unassigned), and how long one stays open silent.
    default_routing_target: Mapping[str, str] | None = None
    session_expire_hours: int = DEFAULT_EXPIRE_HOURS

    def changed(self, changes: ChannelChanges, now: str) -> Channel:
        """This channel with `changes` applied at `now`."""
        return replace(
            self,
            name=changes.name if changes.name is not None else self.name,
            senders=changes.senders if changes.senders is not None else self.senders,
            mps=changes.mps if changes.mps is not None else self.mps,
            provider_config=changes.provider_config if changes.provider_config is not None else self.provider_config,
            default_routing_target=(
                None
                if changes.clear_default_routing_target
                else changes.default_routing_target or self.default_routing_target
            ),
            session_expire_hours=changes.session_expire_hours or self.session_expire_hours,
            updated_at=now,
        )


@dataclass(frozen=True)
class ChannelChanges:
    """The checked changes to a channel's stored fields (None: leave as it is)."""

    name: str | None = None
    senders: tuple[str, ...] | None = None
    mps: float | None = None
    provider_config: Mapping[str, Any] | None = None
    default_routing_target: Mapping[str, str] | None = None
    # True: the channel's default routing target is removed (a PATCH with it null).
    clear_default_routing_target: bool = False
    session_expire_hours: int | None = None

    def fields(self) -> dict[str, object]:
        """The stored attributes these changes set (None: removed), in a stable order."""
        out: dict[str, object] = {}
        if self.name is not None:
            out["name"] = self.name
        if self.senders is not None:
            out["senders"] = list(self.senders)
        if self.mps is not None:
            out["mps"] = self.mps
        if self.provider_config is not None:
            out["provider_config"] = dict(self.provider_config)
        if self.clear_default_routing_target:
            out["default_routing_target"] = None
        elif self.default_routing_target is not None:
            out["default_routing_target"] = dict(self.default_routing_target)
        if self.session_expire_hours is not None:
            out["session_expire_hours"] = self.session_expire_hours
        return out


@dataclass(frozen=True)
class CreateChannel:
    """Command: create a channel (`mps` as the PBX sent it, an int or a float of any size, until it is checked)."""

    name: str
    type: str
    provider: str
    senders: tuple[str, ...]
    credentials: Mapping[str, str] = field(repr=False)
    mps: float | None = None
    provider_config: Mapping[str, Any] | None = None
    # As the PBX sent them, checked by the service (422 invalid_routing_target, invalid_session_expire_hours).
    default_routing_target: Any = None
    session_expire_hours: Any = None


@dataclass(frozen=True)
class PatchChannel:
    """Command: change any of a channel's name, senders, mps (as sent) or credentials (None: unchanged)."""

    name: str | None = None
    senders: tuple[str, ...] | None = None
    credentials: Mapping[str, str] | None = field(default=None, repr=False)
    mps: float | None = None
    provider_config: Mapping[str, Any] | None = None
    default_routing_target: Any = None
    # True: `default_routing_target` was given as null (the channel's is removed).
    clear_default_routing_target: bool = False
    session_expire_hours: Any = None
