"""Sessions (External Chat Logs): one conversation of a channel's sender with one contact, and its chat log. No I/O.

A session is open until it is closed by the API, or until its channel's `session_expire_hours` pass without a
message (lazy expiry): `open_until` is moved on by every message, and a session read after it answers `closed`, with
`closed_at` = `open_until`. The stored item says `closed` from the first write that touches it afterwards (the next
session opened for the same contact closes it in the same transaction, see adapters/dynamo/sessions.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.errors import UnprocessableError
from chalicelib.domain.model import utc_from_epoch, utc_iso

ROUTING_TYPES = ("extension", "queue")
MAX_ROUTING_ID_DIGITS = 16
MIN_EXPIRE_HOURS = 1
MAX_EXPIRE_HOURS = 720  # 30 days
OPEN = "open"
CLOSED = "closed"
SESSION_STATUSES = (OPEN, CLOSED)
# A campaign message's status in the log only moves forward (reports may arrive out of order).
MESSAGE_RANK = {"sent": 1, "delivered": 2, "undelivered": 2, "failed": 2, "read": 3}


def routing_target_problem(value: Any) -> str | None:
    """Why `value` is not a routing target ({"type": extension | queue, "id": 1 to 16 ASCII digits}), or None."""
    if not isinstance(value, Mapping) or set(value) != {"type", "id"}:
        return "a routing target is an object with exactly `type` and `id`"
    if value["type"] not in ROUTING_TYPES:
        return "`type` must be `extension` or `queue`"
    ident = value["id"]
    if not isinstance(ident, str) or not (1 <= len(ident) <= MAX_ROUTING_ID_DIGITS):
        return f"`id` must be 1 to {MAX_ROUTING_ID_DIGITS} digits"
    if not all("0" <= ch <= "9" for ch in ident):  # str.isdigit() would take other scripts' digits too
        return f"`id` must be 1 to {MAX_ROUTING_ID_DIGITS} ASCII digits 0-9"
    return None


def check_routing_target(value: Any, field_name: str) -> dict[str, str]:
    """`value` as a stored routing target, or 422 invalid_routing_target naming `field_name`."""
    problem = routing_target_problem(value)
    if problem is not None:
        raise UnprocessableError(
            f"{field_name} is not a valid routing target: {problem}",
            code="invalid_routing_target",
            details=[{"field": field_name, "message": problem}],
        )
    return {"type": str(value["type"]), "id": str(value["id"])}


def check_expire_hours(value: Any, field_name: str = "session_expire_hours") -> int:
    """A channel's `session_expire_hours` (whole hours, 1 to 720), or 422 invalid_session_expire_hours."""
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_EXPIRE_HOURS <= value <= MAX_EXPIRE_HOURS:
        raise UnprocessableError(
            f"{field_name} must be a whole number of hours from {MIN_EXPIRE_HOURS} to {MAX_EXPIRE_HOURS}",
            code="invalid_session_expire_hours",
            details=[{"field": field_name}],
        )
    return value


def open_until(now: float, hours: int) -> float:
    """When a session whose last message is at `now` expires (epoch seconds)."""
    return now + hours * 3600.0


@dataclass(frozen=True)
class Session:
    """One conversation of a channel's sender with one contact."""

    session_id: str
    tenant_id: str
    channel_id: str
    sender: str
    contact: str
    routing_target: Mapping[str, str] | None
    status: str
    origin: str  # campaign | inbound
    campaign_id: str | None
    created_at: str
    last_message_at: str
    open_until: float  # epoch seconds: silent until then, it expires
    closed_at: str | None = None
    # Every campaign whose message is in its log (the first is `campaign_id`): `?campaign_id=` finds it by any.
    campaign_ids: frozenset[str] = field(default_factory=frozenset)

    def seen(self, now: float) -> Session:
        """The session as it is at `now`: one silent past `open_until` is closed then (lazy expiry)."""
        if self.status == OPEN and now >= self.open_until:
            return dataclasses.replace(self, status=CLOSED, closed_at=utc_iso(utc_from_epoch(self.open_until)))
        return self

    def view(self) -> dict[str, Any]:
        """The session as the API answers it."""
        return {
            "id": self.session_id,
            "channel_id": self.channel_id,
            "sender": self.sender,
            "contact": self.contact,
            "routing_target": dict(self.routing_target) if self.routing_target else None,
            "status": self.status,
            "origin": self.origin,
            "campaign_id": self.campaign_id,
            "created_at": self.created_at,
            "last_message_at": self.last_message_at,
            "closed_at": self.closed_at,
        }


@dataclass(frozen=True)
class SessionMessage:
    """One message of a session's chat log."""

    message_id: str
    direction: str  # outbound | inbound
    at: str
    text: str | None = None
    media: Sequence[Mapping[str, Any]] = ()
    template: Mapping[str, Any] | None = None
    status: str | None = None
    campaign_id: str | None = None
    provider_message_id: str | None = None

    def view(self) -> dict[str, Any]:
        """The message as the API answers it."""
        return {
            "id": self.message_id,
            "direction": self.direction,
            "text": self.text,
            "media": [dict(m) for m in self.media],
            "template": dict(self.template) if self.template is not None else None,
            "status": self.status,
            "campaign_id": self.campaign_id,
            "provider_message_id": self.provider_message_id,
            "at": self.at,
        }


@dataclass(frozen=True)
class Recorded:
    """What recording a message in a session did: the session (and the log item's sort key) it is in, whether the
    session was opened for it, and whether the message was added (False: it was in the log already)."""

    session_id: str
    message_sk: str
    opened: bool
    added: bool


@dataclass(frozen=True)
class SessionPage:
    """One page of a tenant's sessions."""

    items: list[Session]
    next_cursor: str | None


@dataclass(frozen=True)
class MessagePage:
    """One page of a session's chat log, oldest first."""

    items: list[SessionMessage]
    next_cursor: str | None


@dataclass(frozen=True)
class SessionFilter:
    """What `GET /v1/sessions` asks for (None: any)."""

    contact: str | None = None
    status: str | None = None
    campaign_id: str | None = None

    def matches(self, session: Session) -> bool:
        """Whether `session` (as seen now) is one of those asked for."""
        return (
            (self.contact is None or session.contact == self.contact)
            and (self.status is None or session.status == self.status)
            and (
                self.campaign_id is None
                or session.campaign_id == self.campaign_id
                or self.campaign_id in session.campaign_ids
            )
        )


def message_sk(at: str, message_id: str) -> str:
    """Sort key of a log message in its session's partition: by time, then id."""
    return f"MSG#{at}#{message_id}"
