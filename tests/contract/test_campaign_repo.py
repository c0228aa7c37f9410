"""The campaign repository's contract, run on the in-memory fake and on the real repository over moto.

The aws/chalice `test_db.py` pattern: one test class states what the port promises (the send lock, draft versions,
the named errors of a lost race); `TestFake` and `TestMoto` run it on each backend, so the fake cannot drift.
"""

from __future__ import annotations

import pytest

from chalicelib.adapters.dynamo.recipients import counter_sk
from chalicelib.adapters.dynamo.table import ACTIVE, DUE
from chalicelib.domain.errors import (
    AudienceWrittenError,
    CampaignLimitError,
    CampaignMovedError,
    ChannelGoneError,
    ConflictError,
    NotFoundError,
)
from chalicelib.domain.model import Result
from tests.contract.repos import LATER, NOW, TENANT, Repos, campaign, fake_repos, moto_repos


class CampaignRepoContract:
    """What every CampaignRepo does."""

    @pytest.fixture
    def repos(self) -> Repos:
        raise NotImplementedError

    @pytest.fixture
    def r(self, repos: Repos) -> Repos:
        repos.add_tenant()
        repos.add_channel()
        return repos

    def test_a_draft_is_stored_counted_and_read_back(self, r: Repos) -> None:
        # WHEN a draft is created
        assert r.campaigns.create(campaign("c1"), max_campaigns=5) == "draft"
        # THEN it reads back as written, and the tenant counts it
        got = r.campaigns.get(TENANT, "c1")
        assert got.status == "draft" and got.name == "campaign c1" and got.scheduled_at is None
        assert r.campaigns.lock_of(TENANT)["campaign_count"] == 1
        assert [c.campaign_id for c in r.campaigns.of_tenant(TENANT)] == ["c1"]

    def test_the_tenants_limit_is_a_named_error(self, r: Repos) -> None:
        # GIVEN a tenant at its limit
        r.campaigns.create(campaign("c1"), max_campaigns=1)
        # WHEN one more is created THEN it is refused, and nothing is stored
        with pytest.raises(CampaignLimitError) as refused:
            r.campaigns.create(campaign("c2"), max_campaigns=1)
        assert refused.value.status == 409 and refused.value.code == "campaign_limit_reached"
        assert r.campaigns.get(TENANT, "c2") is None

    def test_a_campaign_on_a_deleted_channel_is_refused(self, r: Repos) -> None:
        # WHEN a campaign names a channel that is gone
        with pytest.raises(ChannelGoneError) as refused:
            r.campaigns.create(campaign("c1", channel_id="ch_gone"), max_campaigns=5)
        # THEN it is 409 channel_not_found, and the tenant's count is untouched
        assert refused.value.status == 409 and refused.value.code == "channel_not_found"
        assert r.campaigns.get(TENANT, "c1") is None
        assert r.campaigns.lock_of(TENANT)["campaign_count"] == 0

    def test_the_send_lock_queues_a_second_campaign_and_hands_over_in_order(self, r: Repos) -> None:
        # GIVEN campaign A sending
        assert r.campaigns.create(campaign("a", "executing"), max_campaigns=5) == "executing"
        assert r.campaigns.lock_of(TENANT)["sending"] == "a"
        # WHEN B and C are to go now THEN they wait, in order
        assert r.campaigns.create(campaign("b", "executing"), max_campaigns=5) == "pending"
        assert r.campaigns.create(campaign("c", "executing"), max_campaigns=5) == "pending"
        assert r.campaigns.lock_of(TENANT)["pending_queue"] == ["b", "c"]
        assert [cid for _, _, cid in r.campaigns.indexed(ACTIVE)] == ["a"]
        # WHEN A finishes THEN the lock goes to B, and B is on the ACTIVE index
        assert r.campaigns.finish(TENANT, "a", "completed", LATER) == "b"
        assert r.campaigns.get(TENANT, "a").status == "completed"
        assert r.campaigns.get(TENANT, "b").status == "executing"
        lock = r.campaigns.lock_of(TENANT)
        assert lock["sending"] == "b" and lock["pending_queue"] == ["c"]
        assert [cid for _, _, cid in r.campaigns.indexed(ACTIVE)] == ["b"]
        assert r.campaigns.active() == [(TENANT, "b")]
        # AND finishing A again is a no-op
        assert r.campaigns.finish(TENANT, "a", "completed", LATER) is None
        assert r.campaigns.finish(TENANT, "b", "completed", LATER) == "c"
        assert r.campaigns.finish(TENANT, "c", "stopped", LATER) is None
        assert not r.campaigns.lock_of(TENANT).get("sending")

    def test_a_stale_draft_version_loses_with_the_campaign_as_it_is(self, r: Repos) -> None:
        # GIVEN a draft edited once (version 0 -> 1)
        r.campaigns.create(campaign("c1"), max_campaigns=5)
        assert r.campaigns.update_draft(TENANT, "c1", 0, {"name": "first edit"})
        # WHEN a second editor writes with the version it read before that edit
        with pytest.raises(CampaignMovedError) as lost:
            r.campaigns.update_draft(TENANT, "c1", 0, {"name": "second edit"})
        # THEN it loses, told what the draft is now; the first edit stands
        assert lost.value.status == 503
        assert lost.value.campaign is not None and lost.value.campaign.name == "first edit"
        assert lost.value.campaign.version == 1
        assert r.campaigns.get(TENANT, "c1").name == "first edit"

    def test_a_draft_edit_onto_a_deleted_channel_loses(self, r: Repos) -> None:
        r.campaigns.create(campaign("c1"), max_campaigns=5)
        with pytest.raises(CampaignMovedError):
            r.campaigns.update_draft(TENANT, "c1", 0, {"channel_id": "ch_gone"})
        assert r.campaigns.get(TENANT, "c1").channel_id == "ch_1"

    def test_a_scheduled_draft_is_due_once_its_time_comes(self, r: Repos) -> None:
        # GIVEN a draft scheduled for LATER
        r.campaigns.create(campaign("c1"), max_campaigns=5)
        assert r.campaigns.schedule_draft(TENANT, "c1", 0, LATER, 3)
        got = r.campaigns.get(TENANT, "c1")
        assert (got.status, got.scheduled_at, got.audience_total, got.version) == ("scheduled", LATER, 3, 1)
        # THEN it is on the DUE index from LATER on, not before
        assert r.campaigns.indexed(DUE, until=NOW) == []
        assert r.campaigns.indexed(DUE, until=LATER) == [(LATER, TENANT, "c1")]
        assert r.campaigns.due(NOW) == [] and r.campaigns.due(LATER) == [(TENANT, "c1")]
        # AND sending the same draft again loses: it is no draft any more
        with pytest.raises(CampaignMovedError) as lost:
            r.campaigns.schedule_draft(TENANT, "c1", 0, LATER, 3)
        assert lost.value.campaign is not None and lost.value.campaign.status == "scheduled"

    def test_starting_twice_loses_the_second_time(self, r: Repos) -> None:
        # GIVEN a scheduled campaign (the schedule and the tick may both start it)
        r.campaigns.create(campaign("c1", "scheduled", scheduled_at=NOW), max_campaigns=5)
        assert r.campaigns.start(TENANT, "c1", "scheduled", LATER) == "executing"
        # WHEN the other one starts it again THEN it loses, with the campaign as it now is
        with pytest.raises(CampaignMovedError) as lost:
            r.campaigns.start(TENANT, "c1", "scheduled", LATER)
        assert lost.value.campaign is not None and lost.value.campaign.status == "executing"
        assert r.campaigns.lock_of(TENANT)["sending"] == "c1"
        assert r.campaigns.indexed(DUE) == []

    def test_a_retry_started_behind_the_lock_waits_and_then_sends_as_a_retry(self, r: Repos) -> None:
        # GIVEN A sending, and B completed
        r.campaigns.create(campaign("a", "executing"), max_campaigns=5)
        r.campaigns.create(campaign("b", "completed"), max_campaigns=5)
        # WHEN B is retried while A holds the lock
        assert r.campaigns.start(TENANT, "b", "completed", NOW, to_status="retrying", extra={"retry_gen": 1}) == (
            "pending"
        )
        assert r.campaigns.get(TENANT, "b").retry_gen == 1
        # THEN when A finishes, B sends as the retry it was queued as
        assert r.campaigns.finish(TENANT, "a", "completed", LATER) == "b"
        assert r.campaigns.get(TENANT, "b").status == "retrying"

    def test_delete_frees_the_place_and_leaves_the_queue(self, r: Repos) -> None:
        r.campaigns.create(campaign("a", "executing"), max_campaigns=5)
        r.campaigns.create(campaign("b", "executing"), max_campaigns=5)
        # WHEN the pending B is deleted THEN it leaves the queue and its place is free
        assert r.campaigns.delete(TENANT, "b").status == "pending"
        lock = r.campaigns.lock_of(TENANT)
        assert lock["campaign_count"] == 1 and not lock.get("pending_queue")
        # AND a sending campaign, or a missing one, cannot be deleted
        with pytest.raises(ConflictError) as busy:
            r.campaigns.delete(TENANT, "a")
        assert busy.value.code == "campaign_busy"
        with pytest.raises(NotFoundError):
            r.campaigns.delete(TENANT, "b")

    def test_fields_set_only_while_the_status_holds(self, r: Repos) -> None:
        r.campaigns.create(campaign("a", "executing"), max_campaigns=5)
        assert r.campaigns.set_fields(TENANT, "a", {"progress_at": NOW})
        r.campaigns.finish(TENANT, "a", "completed", LATER)
        # WHEN a stop reason is set on the campaign that just completed THEN it loses, told its status
        with pytest.raises(CampaignMovedError) as lost:
            r.campaigns.set_fields(TENANT, "a", {"stop_reason": {"code": "x"}}, condition_status=["executing"])
        assert lost.value.campaign is not None and lost.value.campaign.status == "completed"
        # AND a deleted campaign is not brought back by a plain field write
        with pytest.raises(CampaignMovedError):
            r.campaigns.set_fields(TENANT, "gone", {"progress_at": NOW})
        assert r.campaigns.get(TENANT, "gone") is None

    def test_an_audience_is_counted_once(self, r: Repos) -> None:
        # GIVEN a sending campaign whose audience one dispatcher has counted
        r.campaigns.create(campaign("a", "executing"), max_campaigns=5)
        r.campaigns.mark_materialized(TENANT, "a", [2, 1] + [0] * 14, {"duplicates": 0})
        # WHEN a second dispatcher counts it too THEN it loses, and the counts stay
        with pytest.raises(AudienceWrittenError):
            r.campaigns.mark_materialized(TENANT, "a", [2, 1] + [0] * 14, {"duplicates": 0})
        got = r.campaigns.get(TENANT, "a")
        assert got.audience_written is True and got.total == 3
        assert Result.from_buckets(r.recipients.counters("a")) == Result(total=3, pending=3)

    def test_pause_hands_the_lock_on_keeps_the_campaign_active_and_resume_sends_as_it_was(self, r: Repos) -> None:
        # GIVEN A retrying and B pending behind it
        r.campaigns.create(campaign("a", "executing"), max_campaigns=5)
        r.campaigns.set_fields(TENANT, "a", {"status": "retrying"})
        r.campaigns.create(campaign("b", "executing"), max_campaigns=5)
        # WHEN A is paused THEN B holds the lock and sends, and A stays on the ACTIVE index (the tick watches it)
        assert r.campaigns.pause(TENANT, "a", LATER) == "b"
        a = r.campaigns.get(TENANT, "a")
        assert (a.status, a.paused_at, a.start_as) == ("paused", LATER, "retrying")
        assert r.campaigns.get(TENANT, "b").status == "executing"
        assert r.campaigns.lock_of(TENANT)["sending"] == "b"
        assert sorted(cid for _, cid in r.campaigns.active()) == ["a", "b"]
        # AND pausing it again, or a campaign not sending, loses with the campaign as it is
        with pytest.raises(CampaignMovedError) as again:
            r.campaigns.pause(TENANT, "a", LATER)
        assert again.value.campaign is not None and again.value.campaign.status == "paused"
        # WHEN A resumes behind B THEN it waits; once B finishes it sends again as a retry
        assert r.campaigns.start(TENANT, "a", "paused", LATER, to_status="retrying") == "pending"
        assert r.campaigns.finish(TENANT, "b", "completed", LATER) == "a"
        assert r.campaigns.get(TENANT, "a").status == "retrying"

    def test_a_campaign_being_cancelled_is_not_paused(self, r: Repos) -> None:
        r.campaigns.create(campaign("a", "executing"), max_campaigns=5)
        r.campaigns.set_fields(TENANT, "a", {"cancel_requested_at": NOW})
        with pytest.raises(CampaignMovedError):
            r.campaigns.pause(TENANT, "a", LATER)
        assert r.campaigns.get(TENANT, "a").status == "executing"
        assert r.campaigns.lock_of(TENANT)["sending"] == "a"

    def test_close_completes_a_pending_campaign_out_of_the_queue_and_loses_once_it_moved(self, r: Repos) -> None:
        # GIVEN A sending, B and C pending
        for cid in ("a", "b", "c"):
            r.campaigns.create(campaign(cid, "executing"), max_campaigns=5)
        # WHEN B is closed (a finished cancel) THEN it is completed and out of the queue, C still waits
        r.campaigns.close(TENANT, "b", "pending", LATER)
        b = r.campaigns.get(TENANT, "b")
        assert (b.status, b.completed_at) == ("completed", LATER)
        assert r.campaigns.lock_of(TENANT)["pending_queue"] == ["c"]
        assert r.campaigns.finish(TENANT, "a", "completed", LATER) == "c"
        # AND closing a campaign that is no longer in the status read loses, told its status
        with pytest.raises(CampaignMovedError) as lost:
            r.campaigns.close(TENANT, "c", "pending", LATER)
        assert lost.value.campaign is not None and lost.value.campaign.status == "executing"

    def test_a_cancel_counts_the_audience_of_a_campaign_not_sending(self, r: Repos) -> None:
        # GIVEN a scheduled campaign (its audience not written)
        r.campaigns.create(campaign("s", "scheduled", scheduled_at=LATER), max_campaigns=5)
        # WHEN counted as sending THEN it loses; counted as the scheduled campaign it is, it is written
        with pytest.raises(AudienceWrittenError):
            r.campaigns.mark_materialized(TENANT, "s", [1] + [0] * 15, {})
        r.campaigns.mark_materialized(TENANT, "s", [1] + [0] * 15, {}, ("scheduled",))
        assert r.campaigns.get(TENANT, "s").audience_written is True

    def test_an_audience_counted_after_its_first_chunk_sent_adds_to_those_counts(self, r: Repos) -> None:
        # GIVEN a sending campaign whose first chunk has sent one recipient before the audience was counted (its move
        # added n_pending -1, n_sent +1 to shard 0)
        r.campaigns.create(campaign("a", "executing"), max_campaigns=5)
        r.put_item({"pk": "CAMPAIGN#a", "sk": counter_sk(0), "n_pending": -1, "n_sent": 1})
        # WHEN the audience of two is counted THEN the counts add up: two in all, one sent, one pending
        r.campaigns.mark_materialized(TENANT, "a", [2] + [0] * 15, {})
        assert Result.from_buckets(r.recipients.counters("a")) == Result(total=2, sent=1, pending=1)

    def test_campaigns_list_newest_first_in_pages(self, r: Repos) -> None:
        for cid in ("c1", "c2", "c3"):
            r.campaigns.create(campaign(cid), max_campaigns=5)
        first = r.campaigns.page(TENANT, None, 2, None)
        assert [c.campaign_id for c in first.items] == ["c3", "c2"] and first.next_cursor
        second = r.campaigns.page(TENANT, None, 2, first.next_cursor)
        assert [c.campaign_id for c in second.items] == ["c1"] and second.next_cursor is None
        assert [c.campaign_id for c in r.campaigns.page(TENANT, "executing", 2, None).items] == []


class TestFake(CampaignRepoContract):
    @pytest.fixture
    def repos(self) -> Repos:
        return fake_repos()


class TestMoto(CampaignRepoContract):
    @pytest.fixture
    def repos(self, moto_url: str) -> Repos:
        return moto_repos(moto_url)
