"""The session repository: sessions, the lock that keeps one open per (channel, sender, contact), and chat logs.

Layout: chalicelib/services/session_ports.py. The lock item names the open session; opening one puts the lock and
the session in ONE transaction, so however many campaigns and inbound messages race for a contact, one wins and the
others join its session:

    no lock ──open (LOCK_FREE)──> lock(s1) ──join (LOCK_STILL_OPEN: moves open_until on)──> lock(s1)
                                     │  └──close (API): s1 closed, lock deleted──> no lock
                                     └──open_until passed──open (LOCK_STALE): s1 closed, lock(s2), s2 put──> lock(s2)

A lost condition answers the lock as it was (ALL_OLD), so the loser decides again without reading it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from chalicelib.adapters.dynamo.table import ConditionFailed, Table, decode_cursor, encode_cursor, tenant_pk
from chalicelib.domain.errors import ConcurrencyError, SessionClosedError
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

STATUS = {"#s": "status"}
# Named condition parts.
# Closes: two first messages for one contact opening two sessions (campaigns and inbound messages at once).
LOCK_FREE = "attribute_not_exists(pk)"
# Closes: two openers taking over the same expired session's lock (each read it expired; one wins).
LOCK_STALE = "session_id = :old AND open_until < :now"
# Closes: joining a session that expired, or was closed and replaced, since the lock was seen.
LOCK_STILL_OPEN = "session_id = :sid AND open_until >= :now"
# Closes: adding to a session the API closed meanwhile.
SESSION_OPEN = "#s = :open"
# Closes: one message recorded twice (a provider's retry of an inbound message, a redelivered chunk, the accept
# hook and the status report's repair path racing for the same campaign message).
NOT_LOGGED = "attribute_not_exists(pk)"
# Closes: a close racing another close, or the session's expiry.
STILL_OPEN_AT = "#s = :open AND open_until > :now"
# Closes: deleting a lock a newer session holds (the lock was taken over or is gone already).
LOCK_OURS_OR_GONE = "attribute_not_exists(pk) OR session_id = :sid"
# Closes: a late report moving a log message's status backwards.
MESSAGE_BEHIND = "attribute_exists(pk) AND (attribute_not_exists(status_rank) OR status_rank < :rank)"
SESSION_PREFIX = "SESSION#"
LOCK_SK = "#"
# The TTL attribute on a lock: a day after it expired (conditions compare `open_until`; the TTL only cleans up).
LOCK_TTL_MARGIN = 24 * 3600
# How long a message is remembered as logged (a provider retries for days; a campaign's retry comes within weeks).
LOGGED_TTL = 60 * 24 * 3600
MAX_ROUNDS = 12


def session_pk(session_id: str) -> str:
    """Partition of a session's chat log."""
    return f"SESSION#{session_id}"


def lock_key(channel_id: str, sender: str, contact: str) -> dict[str, str]:
    """Key of the lock naming the open session of (channel, sender, contact)."""
    return {"pk": f"OPENSESSION#{channel_id}#{sender}#{contact}", "sk": LOCK_SK}


def logged_key(channel_id: str, key: str) -> dict[str, str]:
    """Key of the item that says a message was recorded once."""
    return {"pk": f"LOGGED#{channel_id}#{key}", "sk": LOCK_SK}


def session_item(session: Session) -> dict[str, Any]:
    """A Session as its table item."""
    item: dict[str, Any] = {
        "pk": tenant_pk(session.tenant_id),
        "sk": SESSION_PREFIX + session.session_id,
        "kind": "session",
        "session_id": session.session_id,
        "tenant_id": session.tenant_id,
        "channel_id": session.channel_id,
        "sender": session.sender,
        "contact": session.contact,
        "routing_target": dict(session.routing_target) if session.routing_target else None,
        "status": session.status,
        "origin": session.origin,
        "campaign_id": session.campaign_id,
        "created_at": session.created_at,
        "last_message_at": session.last_message_at,
        "closed_at": session.closed_at,
        "open_until": session.open_until,
    }
    if session.campaign_ids:
        item["campaign_ids"] = set(session.campaign_ids)
    return item


def session_from(item: Mapping[str, Any]) -> Session:
    """A session item as a Session."""
    target = item.get("routing_target")
    return Session(
        session_id=str(item["session_id"]),
        tenant_id=str(item["tenant_id"]),
        channel_id=str(item["channel_id"]),
        sender=str(item["sender"]),
        contact=str(item["contact"]),
        routing_target={"type": str(target["type"]), "id": str(target["id"])} if target else None,
        status=str(item["status"]),
        origin=str(item["origin"]),
        campaign_id=str(item["campaign_id"]) if item.get("campaign_id") else None,
        created_at=str(item["created_at"]),
        last_message_at=str(item["last_message_at"]),
        open_until=float(item["open_until"]),
        closed_at=str(item["closed_at"]) if item.get("closed_at") else None,
        campaign_ids=frozenset(str(c) for c in item.get("campaign_ids") or ()),
    )


def message_item(session: Session, message: SessionMessage) -> dict[str, Any]:
    """A log message as its table item, in the session's partition."""
    return {
        "pk": session_pk(session.session_id),
        "sk": message_sk(message.at, message.message_id),
        "kind": "session_message",
        "tenant_id": session.tenant_id,
        "session_id": session.session_id,
        "message_id": message.message_id,
        "direction": message.direction,
        "contact": session.contact,
        "text": message.text,
        "media": [dict(m) for m in message.media] or None,
        "template": dict(message.template) if message.template is not None else None,
        "status": message.status,
        "status_rank": 1 if message.direction == "outbound" else None,
        "campaign_id": message.campaign_id,
        "provider_message_id": message.provider_message_id,
        "at": message.at,
    }


def message_from(item: Mapping[str, Any]) -> SessionMessage:
    """A log message item as a SessionMessage."""
    return SessionMessage(
        message_id=str(item["message_id"]),
        direction=str(item["direction"]),
        at=str(item["at"]),
        text=item.get("text"),
        media=tuple(dict(m) for m in item.get("media") or ()),
        template=dict(item["template"]) if item.get("template") else None,
        status=item.get("status"),
        campaign_id=item.get("campaign_id"),
        provider_message_id=item.get("provider_message_id"),
    )


def _iso(epoch: float) -> str:
    return utc_iso(utc_from_epoch(epoch)) or ""


class SessionRepository:
    """Sessions and their chat logs in the table."""

    def __init__(self, table: Table) -> None:
        self.table = table

    # ------------------------------------------------------------------ recording a message
    def record(self, opening: Session, message: SessionMessage, key: str, now: float) -> Recorded:
        """Add `message` to the open session of its contact, or open `opening` for it; once per `key`."""
        lock: dict[str, Any] | None = None  # the lock as last seen; None: believed absent
        for _ in range(MAX_ROUNDS):
            try:
                if lock is None:
                    return self._open(opening, message, key, now, None)
                if float(lock["open_until"]) < now:
                    return self._open(opening, message, key, now, lock)
                return self._join(str(lock["session_id"]), opening, message, key, now)
            except ConditionFailed as lost:
                logged = lost.item("logged")
                if "logged" in lost.parts and logged is not None:
                    return Recorded(str(logged["session_id"]), str(logged["message_sk"]), opened=False, added=False)
                # The lock changed since it was seen (ALL_OLD says how; absent: it is gone): decide again.
                lock = lost.item("lock") if "lock" in lost.parts else None
            except ConcurrencyError:
                lock = None  # kept conflicting with the other writers: look again from the start
        raise ConcurrencyError("the contact's session kept changing; try again")

    def _logged(self, session: Session, message: SessionMessage, key: str, now: float) -> dict[str, Any]:
        return {
            **logged_key(session.channel_id, key),
            "kind": "session_logged",
            "tenant_id": session.tenant_id,
            "session_id": session.session_id,
            "message_sk": message_sk(message.at, message.message_id),
            "expires_at": int(now) + LOGGED_TTL,
        }

    def _lock_item(self, session: Session) -> dict[str, Any]:
        return {
            **lock_key(session.channel_id, session.sender, session.contact),
            "kind": "session_lock",
            "tenant_id": session.tenant_id,
            "session_id": session.session_id,
            "open_until": session.open_until,
            "expires_at": int(session.open_until) + LOCK_TTL_MARGIN,
        }

    def _open(
        self, opening: Session, message: SessionMessage, key: str, now: float, stale: dict[str, Any] | None
    ) -> Recorded:
        tx = self.table.tx()
        if stale is None:
            tx.put("lock", self._lock_item(opening), LOCK_FREE, want_old=True)
        else:
            tx.put(
                "lock",
                self._lock_item(opening),
                LOCK_STALE,
                {":old": str(stale["session_id"]), ":now": now},
                want_old=True,
            )
            # The expired session is closed in the same transaction, at the time it expired.
            tx.update(
                "expired",
                {"pk": tenant_pk(opening.tenant_id), "sk": SESSION_PREFIX + str(stale["session_id"])},
                "SET #s = :closed, closed_at = if_not_exists(closed_at, :at)",
                None,
                {":closed": CLOSED, ":at": _iso(float(stale["open_until"]))},
                STATUS,
            )
        tx.put("session", session_item(opening), "attribute_not_exists(pk)")
        tx.put("message", message_item(opening, message))
        tx.put("logged", self._logged(opening, message, key, now), NOT_LOGGED, want_old=True)
        tx.commit()
        return Recorded(opening.session_id, message_sk(message.at, message.message_id), opened=True, added=True)

    def _join(self, session_id: str, opening: Session, message: SessionMessage, key: str, now: float) -> Recorded:
        tenant = opening.tenant_id
        joined = dataclasses.replace(opening, session_id=session_id)
        tx = self.table.tx()
        tx.update(
            "lock",
            lock_key(opening.channel_id, opening.sender, opening.contact),
            "SET open_until = :until, expires_at = :ttl",
            LOCK_STILL_OPEN,
            {
                ":sid": session_id,
                ":now": now,
                ":until": opening.open_until,
                ":ttl": int(opening.open_until) + LOCK_TTL_MARGIN,
            },
            want_old=True,
        )
        expression = "SET last_message_at = :at, open_until = :until"
        values: dict[str, Any] = {":open": OPEN, ":at": opening.last_message_at, ":until": opening.open_until}
        if opening.campaign_id:
            expression += " ADD campaign_ids :cids"
            values[":cids"] = {opening.campaign_id}
        tx.update(
            "session",
            {"pk": tenant_pk(tenant), "sk": SESSION_PREFIX + session_id},
            expression,
            SESSION_OPEN,
            values,
            STATUS,
        )
        tx.put("message", message_item(joined, message))
        tx.put("logged", self._logged(joined, message, key, now), NOT_LOGGED, want_old=True)
        tx.commit()
        return Recorded(session_id, message_sk(message.at, message.message_id), opened=False, added=True)

    # ------------------------------------------------------------------ reads
    def get(self, tenant_id: str, session_id: str) -> Session | None:
        """A tenant's session as stored."""
        item = self.table.get(tenant_pk(tenant_id), SESSION_PREFIX + session_id)
        return session_from(item) if item else None

    def list(self, tenant_id: str, wanted: SessionFilter, now: float, limit: int, cursor: str | None) -> SessionPage:
        """A page of the tenant's sessions matching `wanted` at `now`, oldest first."""
        pk = tenant_pk(tenant_id)
        after = decode_cursor(cursor, SESSION_PREFIX)
        found: list[Session] = []
        while True:
            items, last = self.table.query(pk, SESSION_PREFIX, after=after, limit=max(limit, 50))
            for pos, item in enumerate(items):
                session = session_from(item).seen(now)
                if wanted.matches(session):
                    found.append(session)
                    if len(found) == limit:
                        more = last is not None or any(
                            wanted.matches(session_from(i).seen(now)) for i in items[pos + 1 :]
                        )
                        return SessionPage(found, encode_cursor(item) if more else None)
            if not last:
                return SessionPage(found, None)
            after = str(last["sk"])

    def messages(self, tenant_id: str, session_id: str, limit: int, cursor: str | None) -> MessagePage:
        """A page of a session's chat log, oldest first (the caller checked the session is the tenant's)."""
        page = self.table.page(session_pk(session_id), "MSG#", limit=limit, cursor=cursor, forward=True)
        return MessagePage([message_from(i) for i in page.items if i.get("tenant_id") == tenant_id], page.next_cursor)

    # ------------------------------------------------------------------ changes
    def close(self, session: Session, now: float) -> Session:
        """Close an open session and delete its lock in one transaction; SessionClosedError if it is not open."""
        closed_at = _iso(now)
        tx = self.table.tx()
        tx.update(
            "session",
            {"pk": tenant_pk(session.tenant_id), "sk": SESSION_PREFIX + session.session_id},
            "SET #s = :closed, closed_at = :at",
            STILL_OPEN_AT,
            {":closed": CLOSED, ":open": OPEN, ":at": closed_at, ":now": now},
            STATUS,
        )
        tx.delete(
            "lock",
            lock_key(session.channel_id, session.sender, session.contact),
            LOCK_OURS_OR_GONE,
            {":sid": session.session_id},
        )
        try:
            tx.commit()
        except ConditionFailed as lost:
            raise SessionClosedError(
                "the session is closed already", details=[{"session_id": session.session_id}]
            ) from lost
        return dataclasses.replace(session, status=CLOSED, closed_at=closed_at)

    def set_message_status(self, session_id: str, message_sk: str, status: str, rank: int) -> bool:
        """Move a log message's status forward; whether it moved."""
        try:
            self.table.update(
                {"pk": session_pk(session_id), "sk": message_sk},
                "SET #s = :s, status_rank = :rank",
                MESSAGE_BEHIND,
                {":s": status, ":rank": rank},
                STATUS,
            )
        except ConditionFailed:
            return False
        return True
