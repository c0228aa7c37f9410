"""The Sessions port (External Chat Logs): sessions, their one-open-per-contact lock and their chat logs.

Implemented by chalicelib/adapters/dynamo/sessions.py and tests/fakes/sessions.py (contract test on both).
Stored layout (the events worker reads these items from the table's stream; keep the keys and `kind`):

    TENANT#{tid}   SESSION#{sid}            kind=session: session_id, tenant_id, channel_id, sender, contact,
                                            routing_target, status, origin, campaign_id, created_at,
                                            last_message_at, closed_at
    SESSION#{sid}  MSG#{at}#{message_id}    kind=session_message: tenant_id, session_id, message_id, direction,
                                            contact, text, media, template, status, campaign_id,
                                            provider_message_id, at
    OPENSESSION#{channel_id}#{sender}#{contact}  #      kind=session_lock: the open session's id, its open_until,
                                            and `expires_at` (the table's TTL) a day after it: at most one open
    LOGGED#{channel_id}#{key}  #            kind=session_logged: a message recorded once (the provider's id of an
                                            inbound message, or campaign#index), with its session and sort key

Expiry is lazy (chalicelib/domain/sessions.py): a session silent past its `open_until` reads as closed at that time;
the stored item is closed by the next session opened for the same contact (MODIFY on the stream), or never.
"""

from __future__ import annotations

from typing import Protocol

from chalicelib.domain.sessions import MessagePage, Recorded, Session, SessionFilter, SessionMessage, SessionPage


class Sessions(Protocol):
    """Sessions and their chat logs."""

    def record(self, opening: Session, message: SessionMessage, key: str, now: float) -> Recorded:
        """Add `message` to the open session of `opening`'s (channel, sender, contact), extending it to
        `opening.open_until`, or open `opening` for it (closing an expired one in the same transaction). Once per
        `key`: a second call with the same key adds nothing and answers where the first put it."""
        ...

    def get(self, tenant_id: str, session_id: str) -> Session | None:
        """A tenant's session as stored (apply `Session.seen` for its status now)."""
        ...

    def list(self, tenant_id: str, wanted: SessionFilter, now: float, limit: int, cursor: str | None) -> SessionPage:
        """A page of the tenant's sessions matching `wanted` as they are at `now`, oldest first."""
        ...

    def messages(self, tenant_id: str, session_id: str, limit: int, cursor: str | None) -> MessagePage:
        """A page of a session's chat log, oldest first."""
        ...

    def close(self, session: Session, now: float) -> Session:
        """Close an open session and free its (channel, sender, contact); SessionClosedError when it is closed
        already (or expired)."""
        ...

    def set_message_status(self, session_id: str, message_sk: str, status: str, rank: int) -> bool:
        """Move a log message's status forward to `status` (of `rank`); whether it moved."""
        ...
