"""The Sessions port: one contract, run against the in-memory fake and against the DynamoDB repository on moto.

The race tests open and join one contact's session from many threads at once: exactly one session is open after,
and every caller was told that one's id.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from chalicelib.adapters.dynamo.sessions import SessionRepository
from chalicelib.adapters.dynamo.table import Table
from chalicelib.domain.errors import InvalidRequestError, SessionClosedError
from chalicelib.domain.sessions import CLOSED, OPEN, Recorded, Session, SessionFilter, SessionMessage
from chalicelib.services.session_ports import Sessions
from tests.conftest import Env
from tests.fakes.sessions import FakeSessions

T0 = 1_796_112_000.0  # 2026-12-01T08:00:00Z
HOUR = 3600.0
CONTACT = "+41415084545"
SENDER = "+15005550006"


def opening(sid: str, *, at: float = T0, contact: str = CONTACT, campaign: str | None = "cmp_1", **kw: Any) -> Session:
    """A session an opener proposes: open for 24 hours from `at`."""
    values: dict[str, Any] = {
        "session_id": sid,
        "tenant_id": kw.pop("tenant_id", "tn_a"),
        "channel_id": kw.pop("channel_id", "ch_1"),
        "sender": SENDER,
        "contact": contact,
        "routing_target": {"type": "queue", "id": "1001"},
        "status": OPEN,
        "origin": "campaign" if campaign else "inbound",
        "campaign_id": campaign,
        "created_at": f"t{at}",
        "last_message_at": f"t{at}",
        "open_until": at + 24 * HOUR,
        "campaign_ids": frozenset({campaign}) if campaign else frozenset(),
    }
    values.update(kw)
    return Session(**values)


def message(
    mid: str, *, at: str = "2026-12-01T08:00:00Z", text: str = "hi", campaign: str | None = "cmp_1"
) -> SessionMessage:
    """A campaign message for the log."""
    return SessionMessage(
        mid, "outbound", at, text=text, status="sent", campaign_id=campaign, provider_message_id="SM1"
    )


class SessionsContract:
    """What every Sessions implementation does."""

    @pytest.fixture
    def repo(self) -> Sessions:
        raise NotImplementedError

    def test_a_first_message_opens_a_session_with_it_in_the_log(self, repo: Sessions) -> None:
        # GIVEN no session for the contact WHEN a campaign message is recorded
        got = repo.record(opening("ses_1"), message("msg_1"), "campaign#cmp_1#0", T0)
        # THEN a session is opened with that message in its log
        assert got == Recorded("ses_1", "MSG#2026-12-01T08:00:00Z#msg_1", opened=True, added=True)
        session = repo.get("tn_a", "ses_1")
        assert (
            session is not None and session.status == OPEN and session.routing_target == {"type": "queue", "id": "1001"}
        )
        log = repo.messages("tn_a", "ses_1", 50, None)
        assert [m.message_id for m in log.items] == ["msg_1"] and log.items[0].text == "hi"
        # AND another tenant sees neither
        assert repo.get("tn_b", "ses_1") is None and repo.messages("tn_b", "ses_1", 50, None).items == []

    def test_a_second_message_joins_the_open_session_and_keeps_its_assignment(self, repo: Sessions) -> None:
        # GIVEN an open session of campaign 1 for a queue
        repo.record(opening("ses_1"), message("msg_1"), "campaign#cmp_1#0", T0)
        # WHEN campaign 2, for an extension, records a message to the same contact an hour later
        later = opening("ses_2", at=T0 + HOUR, campaign="cmp_2", routing_target={"type": "extension", "id": "7"})
        got = repo.record(
            later, message("msg_2", at="2026-12-01T09:00:00Z", campaign="cmp_2"), "campaign#cmp_2#0", T0 + HOUR
        )
        # THEN it joined session 1, whose target is kept, and its open time moved on
        assert got.session_id == "ses_1" and not got.opened and got.added
        session = repo.get("tn_a", "ses_1")
        assert session is not None and session.routing_target == {"type": "queue", "id": "1001"}
        assert session.open_until == T0 + 25 * HOUR and session.campaign_id == "cmp_1"
        assert repo.get("tn_a", "ses_2") is None
        assert [m.message_id for m in repo.messages("tn_a", "ses_1", 50, None).items] == ["msg_1", "msg_2"]
        # AND campaign 2 finds it too
        found = repo.list("tn_a", SessionFilter(campaign_id="cmp_2"), T0 + HOUR, 50, None)
        assert [s.session_id for s in found.items] == ["ses_1"]

    def test_a_repeated_key_adds_nothing_and_answers_where_the_first_went(self, repo: Sessions) -> None:
        # GIVEN a message recorded under a key
        first = repo.record(opening("ses_1"), message("msg_1"), "inbound#SM1", T0)
        # WHEN the same key comes again (a provider's retry), with a new proposal and a later time
        again = repo.record(
            opening("ses_9", at=T0 + 60), message("msg_9", at="2026-12-01T08:01:00Z"), "inbound#SM1", T0 + 60
        )
        # THEN nothing is added, and it says where the first one is
        assert again == Recorded(first.session_id, first.message_sk, opened=False, added=False)
        assert [m.message_id for m in repo.messages("tn_a", "ses_1", 50, None).items] == ["msg_1"]

    def test_other_senders_and_contacts_have_their_own_sessions(self, repo: Sessions) -> None:
        # GIVEN one contact's session WHEN another contact, and the same contact on another channel, get messages
        repo.record(opening("ses_1"), message("m1"), "k1", T0)
        b = repo.record(opening("ses_2", contact="+41415084546"), message("m2"), "k2", T0)
        c = repo.record(opening("ses_3", channel_id="ch_2"), message("m3"), "k3", T0)
        # THEN each opened its own
        assert b.opened and c.opened and {b.session_id, c.session_id} == {"ses_2", "ses_3"}

    def test_an_expired_session_reads_closed_and_the_next_message_opens_a_new_one(self, repo: Sessions) -> None:
        # GIVEN a session whose 24 hours of silence passed
        repo.record(opening("ses_1"), message("m1"), "k1", T0)
        late = T0 + 25 * HOUR
        stored = repo.get("tn_a", "ses_1")
        assert stored is not None and stored.seen(late).status == CLOSED
        assert stored.seen(late).closed_at == "2026-12-02T08:00:00Z"
        assert [s.session_id for s in repo.list("tn_a", SessionFilter(status=OPEN), late, 50, None).items] == []
        # WHEN the contact writes again
        got = repo.record(opening("ses_2", at=late, campaign=None), message("m2", campaign=None), "k2", late)
        # THEN a new session is opened and the old one is closed, as of when it expired
        assert got.opened and got.session_id == "ses_2"
        old = repo.get("tn_a", "ses_1")
        assert old is not None and old.status == CLOSED and old.closed_at == "2026-12-02T08:00:00Z"
        assert [s.session_id for s in repo.list("tn_a", SessionFilter(status=OPEN), late, 50, None).items] == ["ses_2"]

    def test_close_frees_the_contact_and_a_second_close_is_refused(self, repo: Sessions) -> None:
        # GIVEN an open session WHEN it is closed
        repo.record(opening("ses_1"), message("m1"), "k1", T0)
        session = repo.get("tn_a", "ses_1")
        assert session is not None
        closed = repo.close(session, T0 + 60)
        assert closed.status == CLOSED and closed.closed_at == "2026-12-01T08:01:00Z"
        # THEN closing it again is refused, and the next message opens a new session
        with pytest.raises(SessionClosedError):
            repo.close(session, T0 + 120)
        got = repo.record(opening("ses_2", at=T0 + 120), message("m2"), "k2", T0 + 120)
        assert got.opened and got.session_id == "ses_2"

    def test_a_log_message_status_only_moves_forward(self, repo: Sessions) -> None:
        # GIVEN a campaign message in a log
        rec = repo.record(opening("ses_1"), message("m1"), "k1", T0)
        # WHEN read arrives before delivered THEN delivered does not undo it
        assert repo.set_message_status("ses_1", rec.message_sk, "read", 3)
        assert not repo.set_message_status("ses_1", rec.message_sk, "delivered", 2)
        assert repo.messages("tn_a", "ses_1", 50, None).items[0].status == "read"
        # AND no item is made up for a key that is not there
        assert not repo.set_message_status("ses_1", "MSG#x#y", "read", 3)

    def test_listing_filters_and_pages(self, repo: Sessions) -> None:
        # GIVEN three contacts' sessions
        for i in range(3):
            repo.record(opening(f"ses_{i}", contact=f"+4141508454{i}"), message(f"m{i}"), f"k{i}", T0)
        # WHEN listed two per page THEN all come, oldest first, and filters pick theirs
        first = repo.list("tn_a", SessionFilter(), T0, 2, None)
        assert [s.session_id for s in first.items] == ["ses_0", "ses_1"] and first.next_cursor
        rest = repo.list("tn_a", SessionFilter(), T0, 2, first.next_cursor)
        assert [s.session_id for s in rest.items] == ["ses_2"] and rest.next_cursor is None
        only = repo.list("tn_a", SessionFilter(contact="+41415084541"), T0, 50, None)
        assert [s.session_id for s in only.items] == ["ses_1"]
        assert repo.list("tn_a", SessionFilter(status=CLOSED), T0, 50, None).items == []
        with pytest.raises(InvalidRequestError):
            repo.list("tn_a", SessionFilter(), T0, 2, "not-a-cursor")

    def test_many_openers_at_once_leave_one_open_session_every_caller_knows(self, repo: Sessions) -> None:
        # GIVEN 20 campaigns and inbound messages for one contact, all at once
        results: list[Recorded] = []
        errors: list[BaseException] = []
        start = threading.Barrier(20)

        def opener(i: int) -> None:
            try:
                start.wait()
                results.append(repo.record(opening(f"ses_{i:02d}"), message(f"m{i:02d}"), f"k{i}", T0))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=opener, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # THEN exactly one session was opened, every caller got its id, and its log has all 20 messages
        assert errors == []
        assert sum(r.opened for r in results) == 1
        (winner,) = {r.session_id for r in results}
        listed = repo.list("tn_a", SessionFilter(), T0, 200, None).items
        assert [s.session_id for s in listed] == [winner]
        assert len(repo.messages("tn_a", winner, 200, None).items) == 20


class TestFakeSessions(SessionsContract):
    @pytest.fixture
    def repo(self) -> Sessions:
        return FakeSessions()


class Conflicts:
    """A botocore hook: the next `times` transactions are cancelled with TransactionConflict (moto never does)."""

    def __init__(self, client: Any, times: int) -> None:
        self.left, self.fired, self.events = times, 0, client.meta.events

    def __call__(self, **_: Any) -> None:
        if self.left > 0:
            self.left -= 1
            self.fired += 1
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
                    "CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}],
                },
                "TransactWriteItems",
            )

    def __enter__(self) -> Conflicts:
        self.events.register("before-parameter-build.dynamodb.TransactWriteItems", self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.events.unregister("before-parameter-build.dynamodb.TransactWriteItems", self)


class TestMotoSessions(SessionsContract):
    @pytest.fixture
    def repo(self, env: Env) -> Sessions:
        return SessionRepository(Table(boto3.client("dynamodb"), env.resources.table_name, sleep=lambda _: None))

    def test_the_lock_item_names_the_open_session_and_carries_the_ttl(self, repo: Sessions, env: Env) -> None:
        # GIVEN an opened session THEN its lock is in the table with the session's id and a TTL a day after expiry
        repo.record(opening("ses_1"), message("m1"), "k1", T0)
        item = boto3.client("dynamodb").get_item(
            TableName=env.resources.table_name,
            Key={"pk": {"S": f"OPENSESSION#ch_1#{SENDER}#{CONTACT}"}, "sk": {"S": "#"}},
        )["Item"]
        assert item["session_id"] == {"S": "ses_1"} and item["kind"] == {"S": "session_lock"}
        assert int(item["expires_at"]["N"]) == int(T0 + 48 * HOUR)

    def test_transaction_conflicts_are_tried_again_and_still_leave_one_session(self, repo: Sessions, env: Env) -> None:
        # GIVEN the next transactions are cancelled by TransactionConflict (another writer on the lock)
        client = repo.table.db  # type: ignore[attr-defined]
        with Conflicts(client, times=10) as conflicts:
            # WHEN two openers record for the same contact
            a = repo.record(opening("ses_a"), message("ma"), "ka", T0)
            b = repo.record(opening("ses_b"), message("mb"), "kb", T0)
        # THEN the conflicts were lived through: one session, both messages in it
        assert conflicts.fired == 10
        assert a.opened and not b.opened and a.session_id == b.session_id == "ses_a"
        assert [m.message_id for m in repo.messages("tn_a", "ses_a", 50, None).items] == ["ma", "mb"]
        stored = repo.get("tn_a", "ses_a")
        assert stored is not None and stored.status == OPEN
