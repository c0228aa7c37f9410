"""Answers of the session routes (External Chat Logs): a session, its chat log, and their pages."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from chalicelib.api.responses import TIME, TIME_OR_NULL, Answer
from chalicelib.api.schemas import RoutingTarget


class Session(Answer):
    """One conversation of a channel's sender with one contact."""

    id: str
    channel_id: str
    sender: str
    contact: str
    routing_target: RoutingTarget | None = Field(description="Where the PBX routes it; null: unassigned.")
    status: Literal["open", "closed"] = Field(
        description=(
            "At most one session is `open` per (channel, sender, contact). One silent for its channel's "
            "`session_expire_hours` is `closed` from then on (`closed_at` is when it expired)."
        )
    )
    origin: Literal["campaign", "inbound"] = Field(
        description="Opened for a `session` campaign's message, or by an inbound message with none open."
    )
    campaign_id: str | None = Field(description="The campaign that opened it (null for `inbound`).")
    created_at: TIME
    last_message_at: TIME
    closed_at: TIME_OR_NULL


class SessionList(Answer):
    """A page of sessions, oldest first."""

    items: list[Session]
    next_cursor: str | None


class SessionMessage(Answer):
    """One message of a session's chat log."""

    id: str
    direction: Literal["outbound", "inbound"]
    text: str | None
    media: list[dict[str, Any]] = Field(
        description=(
            "Files: `{upload_id}` for a campaign's MMS, `{url, content_type}` for an inbound message's, where the "
            "provider keeps it."
        )
    )
    template: dict[str, Any] | None = Field(
        description="A template campaign's message: `{id, name, language, values}` (the values this contact got)."
    )
    status: str | None = Field(
        description=(
            "A campaign message: `sent`, then `delivered`, `read`, `undelivered` or `failed` as the provider reports "
            "it; an inbound message: `received`."
        )
    )
    campaign_id: str | None = Field(description="The campaign it was sent by, or the campaign a reply answers.")
    provider_message_id: str | None
    at: TIME


class SessionMessageList(Answer):
    """A page of a session's chat log, oldest first."""

    items: list[SessionMessage]
    next_cursor: str | None


MODELS: tuple[type[BaseModel], ...] = (Session, SessionList, SessionMessage, SessionMessageList)
