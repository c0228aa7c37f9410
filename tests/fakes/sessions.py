"""A fake of the Sessions port: the same lock semantics as the DynamoDB repository, each call atomic under one lock."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

from chalicelib.adapters.dynamo.sessions import message_from, message_item
from chalicelib.domain.errors import SessionClosedError
from chalicelib.domain.model import utc_from_epoch, utc_iso
from chalicelib.domain.sessions import (
    CLOSED,
    OPEN,
    MessagePage,
    Recorded,
    Session,
    SessionFilter,
    SessionMessage,
    SessionPage,
    message_sk,
)
from tests.fakes.paging import page


class FakeSessions:
    """Sessions and chat logs in dicts."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.sessions: dict[tuple[str, str], Session] = {}
        # (channel, sender, contact) -> (session id, open_until): the one open session of a contact.
        self.locks: dict[tuple[str, str, str], tuple[str, float]] = {}
        self.logs: dict[str, dict[str, dict[str, Any]]] = {}
        self.logged: dict[tuple[str, str], tuple[str, str]] = {}

    def record(self, opening: Session, message: SessionMessage, key: str, now: float) -> Recorded:
        """Add `message` to the open session of its contact, or open `opening` for it; once per `key`."""
        with self.lock:
            done = self.logged.get((opening.channel_id, key))
            if done is not None:
                return Recorded(done[0], done[1], opened=False, added=False)
            contact = (opening.channel_id, opening.sender, opening.contact)
            held = self.locks.get(contact)
            sk = message_sk(message.at, message.message_id)
            if held is not None and held[1] >= now:
                sid = held[0]
                old = self.sessions[(opening.tenant_id, sid)]
                ids = old.campaign_ids | ({opening.campaign_id} if opening.campaign_id else set())
                self.sessions[(opening.tenant_id, sid)] = dataclasses.replace(
                    old, last_message_at=opening.last_message_at, open_until=opening.open_until, campaign_ids=ids
                )
                opened = False
            else:
                if held is not None:
                    stale = self.sessions[(opening.tenant_id, held[0])]
                    self.sessions[(opening.tenant_id, held[0])] = dataclasses.replace(
                        stale, status=CLOSED, closed_at=stale.closed_at or utc_iso(utc_from_epoch(held[1]))
                    )
                sid = opening.session_id
                self.sessions[(opening.tenant_id, sid)] = opening
                opened = True
            self.locks[contact] = (sid, opening.open_until)
            session = self.sessions[(opening.tenant_id, sid)]
            self.logs.setdefault(sid, {})[sk] = message_item(session, message)
            self.logged[(opening.channel_id, key)] = (sid, sk)
            return Recorded(sid, sk, opened=opened, added=True)

    def get(self, tenant_id: str, session_id: str) -> Session | None:
        """A tenant's session as stored."""
        with self.lock:
            return self.sessions.get((tenant_id, session_id))

    def list(self, tenant_id: str, wanted: SessionFilter, now: float, limit: int, cursor: str | None) -> SessionPage:
        """A page of the tenant's sessions matching `wanted` at `now`, oldest first (by id)."""
        with self.lock:
            mine = [s.seen(now) for (tid, _), s in self.sessions.items() if tid == tenant_id]
        found = page([s for s in mine if wanted.matches(s)], lambda s: s.session_id, "SESSION#", limit, cursor)
        return SessionPage(list(found.items), found.next_cursor)

    def messages(self, tenant_id: str, session_id: str, limit: int, cursor: str | None) -> MessagePage:
        """A page of a session's chat log, oldest first."""
        with self.lock:
            items = [i for i in self.logs.get(session_id, {}).values() if i["tenant_id"] == tenant_id]
        found = page(items, lambda i: str(i["sk"])[len("MSG#") :], "MSG#", limit, cursor)
        return MessagePage([message_from(i) for i in found.items], found.next_cursor)

    def close(self, session: Session, now: float) -> Session:
        """Close an open session and free its contact; SessionClosedError if it is not open."""
        with self.lock:
            stored = self.sessions.get((session.tenant_id, session.session_id))
            if stored is None or stored.status != OPEN or stored.open_until <= now:
                raise SessionClosedError("the session is closed already", details=[{"session_id": session.session_id}])
            closed = dataclasses.replace(stored, status=CLOSED, closed_at=utc_iso(utc_from_epoch(now)))
            self.sessions[(session.tenant_id, session.session_id)] = closed
            contact = (stored.channel_id, stored.sender, stored.contact)
            if self.locks.get(contact, ("",))[0] == stored.session_id:
                del self.locks[contact]
            return closed

    def set_message_status(self, session_id: str, message_sk: str, status: str, rank: int) -> bool:
        """Move a log message's status forward; whether it moved."""
        with self.lock:
            item = self.logs.get(session_id, {}).get(message_sk)
            if item is None or int(item.get("status_rank") or 0) >= rank:
                return False
            item["status"], item["status_rank"] = status, rank
            return True

    def log_of(self, session_id: str) -> list[SessionMessage]:
        """A session's whole log, oldest first (for tests)."""
        with self.lock:
            return [message_from(self.logs[session_id][sk]) for sk in sorted(self.logs.get(session_id, {}))]
