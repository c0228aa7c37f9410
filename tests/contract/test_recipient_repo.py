"""The recipient and hand-over repositories' contract, on the in-memory fakes and on the real ones over moto.

The races a conditional write closes are played out here one step after the other: two claims of one recipient, a
sender's outcome losing to the status callback that got there first, a release of a claim that is no longer ours.
"""

from __future__ import annotations

import dataclasses

import pytest

from chalicelib.domain.errors import AlreadyRespondedError, RecipientMovedError
from chalicelib.domain.model import RecipientStatus, Result
from chalicelib.domain.recipient import Recipient
from chalicelib.domain.replies import RESPONDED, response_figures, thread_key
from tests.contract.repos import CHANNEL, NOW, TENANT, Repos, campaign, fake_repos, moto_repos, recipient_rows

R = RecipientStatus
CID = "c1"


class RecipientRepoContract:
    """What every RecipientRepo (and HandoverRepo) does."""

    @pytest.fixture
    def repos(self) -> Repos:
        raise NotImplementedError

    @pytest.fixture
    def r(self, repos: Repos) -> Repos:
        """A sending campaign with three queued recipients, counted."""
        repos.add_tenant()
        repos.add_channel()
        repos.campaigns.create(campaign(CID, "executing"), max_campaigns=5)
        repos.recipients.create(CID, recipient_rows(CID, 3))
        repos.campaigns.mark_materialized(TENANT, CID, [3] + [0] * 15, {})
        return repos

    def result(self, r: Repos) -> Result:
        return Result.from_buckets(r.recipients.counters(CID))

    def stored(self, r: Repos, index: int) -> Recipient:
        """A recipient that must exist, as stored now."""
        found = r.recipients.get(CID, index)
        assert isinstance(found, Recipient)
        return found

    def test_an_audience_written_twice_resets_nobody(self, r: Repos) -> None:
        # GIVEN recipient 0 claimed by a sender
        assert len(r.recipients.claim(CID, r.recipients.range(CID, 0, 1), "A", 100.0)) == 1
        # WHEN a second dispatcher writes the same audience again (and more)
        r.recipients.create(CID, recipient_rows(CID, 4))
        # THEN the claimed one is untouched and only the new one is added
        assert [x.status for x in r.recipients.range(CID, 0, 10)] == ["sending", "queued", "queued", "queued"]
        assert self.stored(r, 0).claim_token == "A"

    def test_two_claims_of_one_recipient_only_one_wins(self, r: Repos) -> None:
        # GIVEN two workers that read the same queued recipients (a redelivered chunk)
        seen = r.recipients.range(CID, 0, 3)
        # WHEN both claim them
        first = r.recipients.claim(CID, seen, "A", 100.0)
        second = r.recipients.claim(CID, seen, "B", 101.0)
        # THEN the first has all of them, as claimed, and the second none
        assert [(x.index, x.status, x.claim_token, x.attempts) for x in first] == [
            (0, "sending", "A", 1),
            (1, "sending", "A", 1),
            (2, "sending", "A", 1),
        ]
        assert second == []
        stored = self.stored(r, 1)
        assert (stored.claim_token, stored.attempts, stored.claimed_at) == ("A", 1, 100.0)

    def test_a_partly_taken_batch_claims_the_rest(self, r: Repos) -> None:
        seen = r.recipients.range(CID, 0, 3)
        r.recipients.claim(CID, seen[1:2], "A", 100.0)
        got = r.recipients.claim(CID, seen, "B", 101.0)
        assert [x.index for x in got] == [0, 2]

    def test_a_move_losing_to_a_callback_is_told_what_the_callback_did(self, r: Repos) -> None:
        # GIVEN a claimed recipient, and the status callback reporting it delivered before the sender writes
        claimed = r.recipients.claim(CID, r.recipients.range(CID, 0, 1), "A", 100.0)[0]
        r.recipients.move(CID, claimed, R.DELIVERED, {"claim_token": None, "provider_message_id": "SM1"})
        # WHEN the sender writes its outcome (sent) on the recipient as it claimed it
        with pytest.raises(RecipientMovedError) as lost:
            r.recipients.move(CID, claimed, R.SENT, {"claim_token": None, "sent_at": NOW}, claim_token="A")
        # THEN it loses, with the recipient as the callback left it; counted once
        assert lost.value.status == 503
        assert lost.value.recipient is not None and lost.value.recipient.status == "delivered"
        assert lost.value.recipient.claim_token is None
        assert self.result(r) == Result(total=3, sent=1, delivered=1, pending=2)

    def test_a_batch_of_outcomes_keeps_the_moves_that_did_not_lose(self, r: Repos) -> None:
        claimed = r.recipients.claim(CID, r.recipients.range(CID, 0, 3), "A", 100.0)
        r.recipients.move(CID, claimed[1], R.FAILED, {"claim_token": None, "error_code": "30003"})
        moves = [(c, R.SENT, {"claim_token": None, "provider_message_id": f"SM{c.index}"}, "A") for c in claimed]
        assert r.recipients.move_many(CID, moves) == [1]
        assert [x.status for x in r.recipients.range(CID, 0, 3)] == ["sent", "failed", "sent"]
        assert self.result(r) == Result(total=3, sent=2, failed=1)

    def test_release_needs_the_claim(self, r: Repos) -> None:
        claimed = r.recipients.claim(CID, r.recipients.range(CID, 0, 2), "A", 100.0)
        # WHEN another token releases one THEN it loses, told whose it is
        with pytest.raises(RecipientMovedError) as lost:
            r.recipients.release(CID, 0, "B")
        assert lost.value.recipient is not None and lost.value.recipient.claim_token == "A"
        # WHEN its holder gives back one that sent nothing THEN it is queued with its attempt back
        r.recipients.release(CID, 0, "A")
        zero = self.stored(r, 0)
        assert (zero.status, zero.attempts, zero.claim_token is not None, zero.claimed_at is not None) == (
            "queued",
            0,
            False,
            False,
        )
        # AND one proven absent at the provider keeps its attempt
        r.recipients.release(CID, 1, "A", attempted=True)
        assert self.stored(r, 1).attempts == 1
        assert claimed[1].attempts == 1

    def test_next_attempt_only_on_a_claim_still_held(self, r: Repos) -> None:
        r.recipients.claim(CID, r.recipients.range(CID, 0, 1), "A", 100.0)
        assert r.recipients.next_attempt(CID, 0, "A") == 2
        with pytest.raises(RecipientMovedError):
            r.recipients.next_attempt(CID, 0, "B")

    def test_deliver_sent_names_everything_a_read_would_check(self, r: Repos) -> None:
        claimed = r.recipients.claim(CID, r.recipients.range(CID, 0, 1), "A", 100.0)[0]
        r.recipients.move(CID, claimed, R.SENT, {"claim_token": None, "provider_message_id": "SM1"}, claim_token="A")
        # WHEN a report names an earlier attempt THEN it loses, with the recipient as it is
        with pytest.raises(RecipientMovedError) as lost:
            r.recipients.deliver_sent(CID, 0, 0, TENANT, CHANNEL, 2, "SM1", NOW)
        assert lost.value.recipient is not None and lost.value.recipient.status == "sent"
        # AND an impossible shard loses without a recipient
        with pytest.raises(RecipientMovedError):
            r.recipients.deliver_sent(CID, 0, 99, TENANT, CHANNEL, 1, "SM1", NOW)
        # WHEN the right report comes THEN it is delivered and counted
        r.recipients.deliver_sent(CID, 0, 0, TENANT, CHANNEL, 1, "SM1", NOW)
        assert self.stored(r, 0).status == "delivered"
        assert self.result(r) == Result(total=3, sent=1, delivered=1, pending=2)

    def test_requeue_moves_failures_back_keeping_their_error(self, r: Repos) -> None:
        claimed = r.recipients.claim(CID, r.recipients.range(CID, 0, 2), "A", 100.0)
        for c in claimed:
            fields = {"claim_token": None, "error_code": "30003", "error_message": "Unreachable", "failed_at": NOW}
            r.recipients.move(CID, c, R.FAILED, fields, claim_token="A")
        failed = list(r.recipients.with_status(CID, ["failed"]))
        assert [x.index for x in failed] == [0, 1]
        # GIVEN one of them moved on since it was read (a late report)
        r.recipients.move(CID, failed[1], R.READ, {})
        assert r.recipients.requeue(CID, failed) == [0]
        zero = self.stored(r, 0)
        assert zero.status == "queued" and zero.last_error == {"code": "30003", "message": "Unreachable"}
        assert zero.error_code is None
        assert self.result(r) == Result(total=3, sent=1, delivered=1, read=1, pending=2)

    def test_a_message_id_is_added_only_once(self, r: Repos) -> None:
        assert r.recipients.set_fields(CID, 0, {"provider_message_id": "SM1"}, only_if_missing="provider_message_id")
        assert not r.recipients.set_fields(
            CID, 0, {"provider_message_id": "SM2"}, only_if_missing="provider_message_id"
        )
        assert self.stored(r, 0).provider_message_id == "SM1"
        assert not r.recipients.set_fields(CID, 9, {"x": 1}, only_if_missing="x")
        assert r.recipients.get(CID, 9) is None

    def test_recipients_list_in_pages_by_status(self, r: Repos) -> None:
        r.recipients.claim(CID, r.recipients.range(CID, 1, 2), "A", 100.0)
        page = r.recipients.page(CID, "queued", 1, None)
        assert [x.index for x in page.items] == [0] and page.next_cursor
        rest = r.recipients.page(CID, "queued", 5, page.next_cursor)
        assert [x.index for x in rest.items] == [2] and rest.next_cursor is None

    def test_hand_over_records_narrow_and_drop(self, r: Repos) -> None:
        r.handovers.open(CID, "A", [0, 1, 2], 500.0)
        r.handovers.open(CID, "B", [2], 600.0)
        r.handovers.narrow(CID, "A", {1: {"code": "timeout", "message": "no answer"}}, 700.0)
        records = {h.token: h for h in r.handovers.of_campaign(CID)}
        assert records["A"].indexes == (1,) and records["A"].settle_after == 700.0
        assert records["A"].errors == {"1": {"code": "timeout", "message": "no answer"}}
        assert records["B"].due(600.0) and not records["B"].due(599.0)
        r.handovers.narrow(CID, "B", {}, 800.0)
        # A record another settler dropped is not brought back
        r.handovers.narrow(CID, "B", {2: {"code": "x", "message": ""}}, 900.0)
        assert [h.token for h in r.handovers.of_campaign(CID)] == ["A"]

    def test_purge_removes_recipients_counters_and_records(self, r: Repos) -> None:
        r.handovers.open(CID, "A", [0], 500.0)
        r.recipients.purge(CID)
        assert r.recipients.range(CID, 0, 3) == [] and r.recipients.counters(CID) == []
        assert r.handovers.of_campaign(CID) == []

    # ------------------------------------------------------------------ replies (gsi2 and the responded count)
    def sent_in_thread(self, r: Repos, campaign_id: str, rows: list[Recipient], sent_at: list[str | None]) -> None:
        """Write `rows` (their threads set) and move each one with a time in `sent_at` to sent at that time."""
        r.recipients.create(campaign_id, rows)
        claimed = r.recipients.claim(campaign_id, rows, "T", 100.0)
        for c, at in zip(claimed, sent_at, strict=True):
            if at is not None:
                fields = {"claim_token": None, "provider_message_id": f"SM{campaign_id}{c.index}", "sent_at": at}
                r.recipients.move(campaign_id, c, R.SENT, fields, claim_token="T")

    def test_a_thread_lists_its_campaign_messages_newest_first_within_the_window(self, r: Repos) -> None:
        # GIVEN one contact's thread with two campaigns' messages, one of them outside the window, a recipient of it
        # never sent (no sent_at: not in the sparse index), and another contact's message at the same time
        mine = thread_key(TENANT, CHANNEL, "+15005550006", "+14155550100")
        other = thread_key(TENANT, CHANNEL, "+15005550006", "+14155550199")
        rows = recipient_rows("c2", 3)
        self.sent_in_thread(
            r,
            "c2",
            [dataclasses.replace(rows[0], thread=mine), dataclasses.replace(rows[1], thread=other), rows[2]],
            ["2026-12-01T08:00:00Z", "2026-12-01T08:00:00Z", None],
        )
        old, unsent = recipient_rows("c3", 2)
        self.sent_in_thread(
            r,
            "c3",
            [dataclasses.replace(old, thread=mine), dataclasses.replace(unsent, thread=mine)],
            ["2026-11-20T08:00:00Z", None],
        )
        late = recipient_rows("c4", 1)[0]
        self.sent_in_thread(r, "c4", [dataclasses.replace(late, thread=mine, shard=3)], ["2026-12-02T09:00:00Z"])
        # WHEN the thread is read within a window
        found = r.recipients.in_thread(mine, "2026-11-25T08:00:00Z", "2026-12-03T00:00:00Z")
        # THEN it has exactly its sent messages in the window, newest first, with what attribution needs
        assert [(m.campaign_id, m.index, m.shard, m.sent_at) for m in found] == [
            ("c4", 0, 3, "2026-12-02T09:00:00Z"),
            ("c2", 0, 0, "2026-12-01T08:00:00Z"),
        ]
        assert found[1].provider_message_id == "SMc20" and found[1].responded_at is None
        # AND both ends of the window are inclusive; an empty one lists nothing
        assert [
            m.campaign_id for m in r.recipients.in_thread(mine, "2026-11-20T08:00:00Z", "2026-12-01T08:00:00Z")
        ] == [
            "c2",
            "c3",
        ]
        assert r.recipients.in_thread(other + "x", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z") == []

    def test_a_reply_counts_once_beside_the_status_buckets(self, r: Repos) -> None:
        # GIVEN a sent recipient
        claimed = r.recipients.claim(CID, r.recipients.range(CID, 0, 1), "A", 100.0)[0]
        r.recipients.move(CID, claimed, R.SENT, {"claim_token": None, "sent_at": NOW}, claim_token="A")
        # WHEN its reply is recorded, then again (a replay, or its second reply)
        r.recipients.respond(CID, 0, 0, "2026-12-01T08:05:00Z")
        with pytest.raises(AlreadyRespondedError):
            r.recipients.respond(CID, 0, 0, "2026-12-01T09:00:00Z")
        # THEN it has its first reply's time, is counted once on its shard, and the status figures are unchanged
        assert self.stored(r, 0).responded_at == "2026-12-01T08:05:00Z"
        assert sum(int(c.get(RESPONDED, 0)) for c in r.recipients.counters(CID)) == 1
        assert self.result(r) == Result(total=3, sent=1, pending=2)
        assert response_figures(r.recipients.counters(CID)) == (1, 1.0)
        # AND a reply for a recipient that is not there (purged, or never written) creates nothing
        with pytest.raises(AlreadyRespondedError):
            r.recipients.respond(CID, 7, 0, NOW)
        assert r.recipients.get(CID, 7) is None


class TestFake(RecipientRepoContract):
    @pytest.fixture
    def repos(self) -> Repos:
        return fake_repos()


class TestMoto(RecipientRepoContract):
    @pytest.fixture
    def repos(self, moto_url: str) -> Repos:
        return moto_repos(moto_url)
