"""The Channels port: one contract, run against the in-memory fake and against the DynamoDB repository on moto."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from chalicelib.domain.channels import Channel, ChannelChanges
from chalicelib.domain.errors import (
    ChannelChangedError,
    ChannelIdTakenError,
    ChannelNotFoundError,
    DuplicateInboundError,
    InvalidRequestError,
)
from chalicelib.services.ports import Channels
from tests.conftest import Env
from tests.fakes.channels import FakeChannels

NOW = "2026-12-01T08:00:00Z"
LATER = "2026-12-01T09:00:00Z"


def channel(channel_id: str = "ch_1", tenant_id: str = "tn_a", **changes: Any) -> Channel:
    """A channel to store."""
    values: dict[str, Any] = {
        "tenant_id": tenant_id,
        "channel_id": channel_id,
        "name": "Promotions",
        "type": "sms",
        "provider": "twilio",
        "senders": ("+15005550006",),
        "mps": 1.5,
        "created_at": NOW,
    }
    values.update(changes)
    return Channel(**values)


class ChannelsContract:
    """What every Channels implementation does."""

    @pytest.fixture
    def repo(self) -> Channels:
        raise NotImplementedError

    def use(self, repo: Any, tenant_id: str, channel_id: str) -> None:
        """What creating a campaign on the channel does to it (the campaign aggregate's write)."""
        raise NotImplementedError

    def test_a_created_channel_reads_back_with_its_tenant(self, repo: Channels) -> None:
        # GIVEN a stored channel WHEN it is read THEN it is what was stored, and its pointer names its tenant
        repo.create(channel())
        assert repo.get("tn_a", "ch_1") == channel()
        assert repo.get("tn_a", "ch_1", consistent=False) == channel()
        assert repo.tenant_of("ch_1") == "tn_a"

    def test_another_tenant_does_not_see_it(self, repo: Channels) -> None:
        # GIVEN a channel of tenant a THEN tenant b reads nothing, and an unknown id has no tenant
        repo.create(channel())
        assert repo.get("tn_b", "ch_1") is None
        assert repo.tenant_of("ch_nope") is None

    def test_an_id_given_twice_is_refused_even_to_another_tenant(self, repo: Channels) -> None:
        # GIVEN a channel WHEN its id is given again, to the same or another tenant THEN it is refused, unchanged
        repo.create(channel())
        with pytest.raises(ChannelIdTakenError):
            repo.create(channel(name="Other"))
        with pytest.raises(ChannelIdTakenError):
            repo.create(channel(tenant_id="tn_b"))
        assert repo.get("tn_a", "ch_1") == channel() and repo.tenant_of("ch_1") == "tn_a"
        assert repo.get("tn_b", "ch_1") is None

    def test_a_whole_number_mps_reads_back_as_an_int(self, repo: Channels) -> None:
        # GIVEN a channel with mps 50.0 WHEN read THEN it is the int 50 (DynamoDB numbers: the GET answer shows 50)
        repo.create(channel(mps=50.0))
        got = repo.get("tn_a", "ch_1")
        assert got is not None and repr(got.mps) == "50"
        changed = repo.update("tn_a", "ch_1", ChannelChanges(mps=2.0), LATER)
        assert repr(changed.mps) == "2"

    def test_listing_pages_oldest_first_within_the_tenant(self, repo: Channels) -> None:
        # GIVEN three channels of a and one of b
        for cid in ("ch_1", "ch_2", "ch_3"):
            repo.create(channel(cid))
        repo.create(channel("ch_0", tenant_id="tn_b"))
        # WHEN a lists two per page THEN it gets its own, by id, and the last page has no cursor
        first = repo.list("tn_a", 2, None)
        assert [c.channel_id for c in first.items] == ["ch_1", "ch_2"] and first.next_cursor
        second = repo.list("tn_a", 2, first.next_cursor)
        assert [c.channel_id for c in second.items] == ["ch_3"] and second.next_cursor is None
        assert [c.channel_id for c in repo.list("tn_a", 3, None).items] == ["ch_1", "ch_2", "ch_3"]
        assert repo.list("tn_a", 3, None).next_cursor is None

    def test_a_cursor_that_is_not_ours_is_refused(self, repo: Channels) -> None:
        # GIVEN a listing WHEN the cursor is garbage, or points into another kind of item THEN 400 invalid_request
        repo.create(channel())
        with pytest.raises(InvalidRequestError):
            repo.list("tn_a", 2, "not-a-cursor")
        with pytest.raises(InvalidRequestError):
            repo.list("tn_a", 2, "eyJzayI6IlBIT05FQk9PSyN4In0")  # {"sk":"PHONEBOOK#x"}

    def test_an_update_changes_only_what_it_names(self, repo: Channels) -> None:
        # GIVEN a channel WHEN its name and senders change THEN the answer and a later read show them, mps kept
        repo.create(channel())
        changed = repo.update("tn_a", "ch_1", ChannelChanges(name="New", senders=("+15005550007",)), LATER)
        expected = channel(name="New", senders=("+15005550007",), updated_at=LATER)
        assert changed == expected and repo.get("tn_a", "ch_1") == expected
        assert repo.update("tn_a", "ch_1", ChannelChanges(mps=3.0), NOW) == channel(
            name="New", senders=("+15005550007",), updated_at=NOW, mps=3.0
        )

    def test_an_update_of_a_missing_channel_creates_nothing(self, repo: Channels) -> None:
        # GIVEN no channel WHEN one is updated THEN ChannelNotFoundError and still nothing (not even for the tenant)
        with pytest.raises(ChannelNotFoundError):
            repo.update("tn_a", "ch_1", ChannelChanges(name="New"), LATER)
        assert repo.get("tn_a", "ch_1") is None
        assert repo.list("tn_a", 10, None).items == []

    def test_a_delete_removes_the_channel_and_its_pointer(self, repo: Channels) -> None:
        # GIVEN a channel WHEN deleted with the use_seq read THEN it and its pointer are gone
        repo.create(channel())
        repo.delete("tn_a", "ch_1", 0)
        assert repo.get("tn_a", "ch_1") is None and repo.tenant_of("ch_1") is None
        # AND a second delete finds nothing
        with pytest.raises(ChannelNotFoundError):
            repo.delete("tn_a", "ch_1", 0)

    def test_a_delete_loses_to_a_campaign_created_since_it_read(self, repo: Channels) -> None:
        # GIVEN a delete that read use_seq 0, and a campaign created on the channel since
        repo.create(channel())
        read = repo.get("tn_a", "ch_1")
        assert read is not None and read.use_seq == 0
        self.use(repo, "tn_a", "ch_1")
        # WHEN the delete writes THEN it loses, told the channel as it is now, and the channel stays
        with pytest.raises(ChannelChangedError) as lost:
            repo.delete("tn_a", "ch_1", read.use_seq)
        assert lost.value.channel is not None and lost.value.channel.use_seq == 1
        assert repo.get("tn_a", "ch_1") is not None and repo.tenant_of("ch_1") == "tn_a"
        # AND with the use_seq it was told, it goes through
        repo.delete("tn_a", "ch_1", lost.value.channel.use_seq)
        assert repo.get("tn_a", "ch_1") is None

    def test_an_inbound_message_is_kept_once(self, repo: Channels) -> None:
        # GIVEN an inbound message kept WHEN the provider delivers it again THEN DuplicateInboundError
        message = {"message_sid": "SM1", "from": "+41415084545", "to": "+15005550006", "body": "Hi"}
        repo.put_inbound("tn_a", "ch_1", message)
        with pytest.raises(DuplicateInboundError):
            repo.put_inbound("tn_a", "ch_1", {**message, "body": "changed"})
        # AND another message, or the same id on another channel, is kept
        repo.put_inbound("tn_a", "ch_1", {**message, "message_sid": "SM2"})
        repo.put_inbound("tn_a", "ch_2", message)


class TestFakeChannels(ChannelsContract):
    @pytest.fixture
    def repo(self) -> Channels:
        return FakeChannels()

    def use(self, repo: Any, tenant_id: str, channel_id: str) -> None:
        repo.use(tenant_id, channel_id)


class TestMotoChannels(ChannelsContract):
    @pytest.fixture
    def repo(self, env: Env) -> Channels:
        self.table_name = env.resources.table_name
        return env.deps.channels

    def use(self, repo: Any, tenant_id: str, channel_id: str) -> None:
        boto3.client("dynamodb").update_item(
            TableName=self.table_name,
            Key={"pk": {"S": f"TENANT#{tenant_id}"}, "sk": {"S": f"CHANNEL#{channel_id}"}},
            UpdateExpression="ADD use_seq :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
