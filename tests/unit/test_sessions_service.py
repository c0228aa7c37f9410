"""Sessions on fakes: a `session` campaign opens or reuses each accepted recipient's session, statuses follow in the
log, inbound messages join or open one, sessions close by the API or by silence; routing targets are checked."""

from __future__ import annotations

import dataclasses
from typing import Any, cast

import pytest

from chalicelib.domain.channels import PatchChannel
from chalicelib.domain.commands import (
    CampaignSettings,
    CreateCampaign,
    PatchCampaign,
    RecipientsSpec,
    RoutingTarget,
    SendDraft,
    SendNow,
    TextContent,
)
from chalicelib.domain.errors import InvalidRequestError, SessionClosedError, UnprocessableError
from chalicelib.domain.events import InboundMessage, StatusEvent
from chalicelib.domain.model import RecipientStatus
from chalicelib.domain.replies import Reply
from chalicelib.domain.sessions import routing_target_problem
from chalicelib.services import campaigns, channels, sessions
from tests.fakes.sessions import FakeSessions
from tests.unit.campaign_deps import CHANNEL, SENDER, TENANT, World, world
from tests.unit.test_campaign_life import send_queued

NUMBERS = ["+14155550100", "+14155550101", "+14155550102"]
QUEUE = RoutingTarget("queue", "1001")


def settings(numbers: list[str], mode: str = "session", target: RoutingTarget | None = QUEUE) -> CampaignSettings:
    return CampaignSettings(
        name="Promo",
        channel_id=CHANNEL,
        sender=SENDER,
        recipients=RecipientsSpec(numbers=tuple(numbers)),
        content=TextContent(text="Hello"),
        send_mode=mode,
        routing_target=target,
    )


def send(w: World, numbers: list[str], mode: str = "session", target: RoutingTarget | None = QUEUE) -> str:
    """Create a campaign, send it through the fake provider; its id. Time moves on a second after (the fake clock
    stands still otherwise, and what comes next must come later, as it would)."""
    created, _ = campaigns.create_campaign(w.deps, TENANT, CreateCampaign(settings(numbers, mode, target), SendNow()))
    send_queued(w)
    w.advance(1.0)
    return str(created["id"])


def store(w: World) -> FakeSessions:
    return cast(FakeSessions, w.deps.sessions)


def listed(w: World, **query: str) -> list[dict[str, Any]]:
    return cast(list[dict[str, Any]], sessions.list_sessions(w.deps, TENANT, query, 200, None)["items"])


def inbound(mid: str, body: str = "Yes please", frm: str = NUMBERS[0]) -> InboundMessage:
    return InboundMessage(message_id=mid, from_=frm, to=SENDER, body=body)


def test_a_session_campaign_opens_one_session_per_accepted_recipient_with_its_message() -> None:
    # GIVEN a session campaign for a queue to three numbers WHEN it is sent
    w = world()
    cid = send(w, NUMBERS)
    # THEN each number has an open session assigned to the queue, opened by the campaign
    found = listed(w)
    assert sorted(s["contact"] for s in found) == sorted(NUMBERS)
    assert all(s["status"] == "open" and s["origin"] == "campaign" and s["campaign_id"] == cid for s in found)
    assert all(s["routing_target"] == {"type": "queue", "id": "1001"} for s in found)
    # AND each log holds the campaign message, sent, with the provider's id; each recipient names its session
    for index, number in enumerate(NUMBERS):
        recipient = w.recipients.get(cid, index)
        assert recipient is not None and recipient.session_id
        (message,) = sessions.list_messages(w.deps, TENANT, recipient.session_id, 50, None)["items"]
        assert message["direction"] == "outbound" and message["text"] == "Hello" and message["status"] == "sent"
        assert message["campaign_id"] == cid and message["provider_message_id"] == recipient.provider_message_id
        assert [s["contact"] for s in listed(w, campaign_id=cid) if s["id"] == recipient.session_id] == [number]


def test_a_second_session_campaign_reuses_the_session_and_keeps_its_target() -> None:
    # GIVEN a session campaign's session for a queue
    w = world()
    first = send(w, NUMBERS[:1])
    # WHEN a second session campaign, for an extension, reaches the same contact
    second = send(w, NUMBERS[:1], target=RoutingTarget("extension", "201"))
    # THEN there is still one session, assigned as before, with both messages; both campaigns find it
    (session,) = listed(w)
    assert session["routing_target"] == {"type": "queue", "id": "1001"} and session["campaign_id"] == first
    log = sessions.list_messages(w.deps, TENANT, session["id"], 50, None)["items"]
    assert [m["campaign_id"] for m in log] == [first, second]
    assert listed(w, campaign_id=second) == [session]
    recipient = w.recipients.get(second, 0)
    assert recipient is not None and recipient.session_id == session["id"]


def test_a_direct_campaign_opens_no_session() -> None:
    # GIVEN a direct campaign WHEN it is sent THEN no session exists, no recipient names one
    w = world()
    cid = send(w, NUMBERS, mode="direct", target=None)
    assert listed(w) == [] and all(r.session_id is None for r in w.recipients.range(cid, 0, 3))


def test_the_accept_hook_is_idempotent() -> None:
    # GIVEN a sent session campaign
    w = world()
    cid = send(w, NUMBERS[:1])
    campaign = w.campaigns.get(TENANT, cid)
    assert campaign is not None
    recipient = w.recipients.get(cid, 0)
    assert recipient is not None and recipient.session_id
    # WHEN the hook runs again for it, as claimed before (a redelivered batch that did not see its session_id)
    fresh = dataclasses.replace(recipient, session_id=None, session_message=None)
    sessions.campaign_accepted(w.deps, campaign, [(fresh, recipient.provider_message_id, recipient.sent_at or "")])
    # THEN the log still has one message
    assert len(store(w).log_of(recipient.session_id)) == 1


def test_statuses_follow_in_the_log_and_a_missing_session_is_opened_by_the_report() -> None:
    # GIVEN a session campaign sent while its accept hook could not record sessions (none opened)
    w = world()
    kept = w.deps.sessions
    w.deps.sessions = cast(Any, None)
    cid = send(w, NUMBERS[:1])
    w.deps.sessions = kept
    assert listed(w) == []
    # WHEN the provider reports it delivered, then read
    report = StatusEvent(message_id="SM1", status=RecipientStatus.DELIVERED)
    sessions.status_reported(w.deps, TENANT, cid, 0, RecipientStatus.DELIVERED, report)
    sessions.status_reported(w.deps, TENANT, cid, 0, RecipientStatus.READ, report)
    # AND a late delivered comes again
    sessions.status_reported(w.deps, TENANT, cid, 0, RecipientStatus.DELIVERED, report)
    # THEN the report opened the session, and the campaign message in the log reads `read`
    (session,) = listed(w)
    (message,) = sessions.list_messages(w.deps, TENANT, session["id"], 50, None)["items"]
    assert message["status"] == "read" and message["campaign_id"] == cid


def test_an_inbound_message_joins_the_open_session_once_however_often_it_is_delivered() -> None:
    # GIVEN a contact's open session
    w = world()
    cid = send(w, NUMBERS[:1])
    channel = w.deps.channels.get(TENANT, CHANNEL)
    assert channel is not None
    # WHEN its reply comes (a moment later), and the provider delivers it three times
    w.advance(1.0)
    for _ in range(3):
        sessions.on_inbound(w.deps, TENANT, channel, inbound("SMin1"), Reply(cid, 0))
    # THEN the session's log has the campaign message and one inbound message, attributed to the campaign
    (session,) = listed(w)
    log = sessions.list_messages(w.deps, TENANT, session["id"], 50, None)["items"]
    assert [m["direction"] for m in log] == ["outbound", "inbound"]
    assert log[1]["text"] == "Yes please" and log[1]["campaign_id"] == cid and log[1]["status"] == "received"


def test_an_inbound_message_with_no_session_opens_one_on_the_channel_default_target() -> None:
    # GIVEN a channel whose inbound sessions go to extension 100
    w = world()
    channels.update_channel(
        w.deps, TENANT, CHANNEL, PatchChannel(default_routing_target={"type": "extension", "id": "100"})
    )
    channel = w.deps.channels.get(TENANT, CHANNEL)
    assert channel is not None
    # WHEN a contact with no session writes
    sessions.on_inbound(w.deps, TENANT, channel, inbound("SMin1", frm=NUMBERS[2]), None)
    # THEN a session is opened for it, by the inbound message, on the channel's target
    (session,) = listed(w)
    assert session["origin"] == "inbound" and session["campaign_id"] is None and session["contact"] == NUMBERS[2]
    assert session["routing_target"] == {"type": "extension", "id": "100"}


def test_a_silent_session_expires_and_the_next_message_opens_a_new_one() -> None:
    # GIVEN a session (the channel keeps them 24 hours) WHEN 24 hours pass without a message
    w = world()
    send(w, NUMBERS[:1])
    (first,) = listed(w)
    w.advance(24 * 3600 + 1)
    # THEN it reads closed, since it expired
    got = sessions.get_session(w.deps, TENANT, first["id"])
    assert got["status"] == "closed" and got["closed_at"] is not None
    assert listed(w, status="open") == []
    with pytest.raises(SessionClosedError):
        sessions.close_session(w.deps, TENANT, first["id"])
    # AND the contact's next message opens a new session
    channel = w.deps.channels.get(TENANT, CHANNEL)
    assert channel is not None
    sessions.on_inbound(w.deps, TENANT, channel, inbound("SMlate"), None)
    (new,) = listed(w, status="open")
    assert new["id"] != first["id"]


def test_close_closes_once_and_is_another_tenants_404() -> None:
    # GIVEN an open session WHEN it is closed THEN it is closed; again: 409 session_closed; another tenant: 404
    w = world()
    send(w, NUMBERS[:1])
    (session,) = listed(w)
    assert sessions.close_session(w.deps, TENANT, session["id"])["status"] == "closed"
    with pytest.raises(SessionClosedError) as again:
        sessions.close_session(w.deps, TENANT, session["id"])
    assert again.value.status == 409 and again.value.code == "session_closed"
    with pytest.raises(Exception) as other:
        sessions.get_session(w.deps, "ten_other", session["id"])
    assert getattr(other.value, "status", None) == 404


@pytest.mark.parametrize(
    "query", [{"status": "opened"}, {"contact": "0041415084545"}, {"contact": "+1"}, {"campaign_id": "c" * 201}]
)
def test_bad_filters_are_400(query: dict[str, str]) -> None:
    # GIVEN a filter value that can name nothing WHEN sessions are listed THEN 400 invalid_request
    with pytest.raises(InvalidRequestError):
        sessions.list_sessions(world().deps, TENANT, query, 50, None)


# ------------------------------------------------------------------------------------------- routing targets
@pytest.mark.parametrize(
    "target",
    [
        RoutingTarget("queue", ""),
        RoutingTarget("queue", "1" * 17),
        RoutingTarget("queue", "12a"),
        RoutingTarget("queue", "١٢٣"),  # Arabic-Indic digits: digits, but not ASCII 0-9
        RoutingTarget("queue", "１２"),  # fullwidth
        RoutingTarget("group", "1001"),
        None,
    ],
)
def test_a_session_campaign_needs_a_valid_target(target: RoutingTarget | None) -> None:
    # GIVEN a session campaign without a valid target WHEN created THEN 422 invalid_routing_target, nothing stored
    w = world()
    with pytest.raises(UnprocessableError) as refused:
        campaigns.create_campaign(w.deps, TENANT, CreateCampaign(settings(NUMBERS, target=target), SendNow()))
    assert refused.value.code == "invalid_routing_target" and refused.value.details[0]["field"] == "routing_target"
    assert list(w.campaigns.of_tenant(TENANT)) == []


def test_a_direct_campaign_with_a_target_is_refused() -> None:
    with pytest.raises(UnprocessableError) as refused:
        campaigns.create_campaign(world().deps, TENANT, CreateCampaign(settings(NUMBERS, "direct"), SendNow()))
    assert refused.value.code == "invalid_routing_target"


def test_edit_and_duplicate_keep_the_target() -> None:
    # GIVEN a session draft for a queue
    w = world()
    draft, _ = campaigns.create_campaign(w.deps, TENANT, CreateCampaign(settings(NUMBERS), SendDraft()))
    assert draft["send_mode"] == "session" and draft["routing_target"] == {"type": "queue", "id": "1001"}
    # WHEN its name is edited, and it is duplicated THEN both keep the target
    edited = campaigns.update_campaign(w.deps, TENANT, draft["id"], PatchCampaign(name="Renamed"))
    assert edited["routing_target"] == {"type": "queue", "id": "1001"}
    copy = campaigns.duplicate_campaign(w.deps, TENANT, draft["id"])
    assert copy["send_mode"] == "session" and copy["routing_target"] == {"type": "queue", "id": "1001"}
    # AND switching the draft to direct drops its target
    direct = campaigns.update_campaign(w.deps, TENANT, draft["id"], PatchCampaign(send_mode="direct"))
    assert direct["send_mode"] == "direct" and direct["routing_target"] is None


def test_routing_target_rule() -> None:
    assert routing_target_problem({"type": "extension", "id": "1234567890123456"}) is None
    assert routing_target_problem({"type": "queue", "id": "7"}) is None
    assert routing_target_problem({"type": "queue", "id": 7}) is not None
    assert routing_target_problem({"type": "queue", "id": "7", "x": 1}) is not None


# ------------------------------------------------------------------------------------------- channel settings
@pytest.mark.parametrize("hours", [0, 721, -1, True])
def test_session_expire_hours_out_of_range_is_422(hours: Any) -> None:
    w = world()
    with pytest.raises(UnprocessableError) as refused:
        channels.update_channel(w.deps, TENANT, CHANNEL, PatchChannel(session_expire_hours=hours))
    assert refused.value.code == "invalid_session_expire_hours"
    channel = w.deps.channels.get(TENANT, CHANNEL)
    assert channel is not None and channel.session_expire_hours == 24


def test_channel_session_settings_are_set_kept_and_cleared() -> None:
    # GIVEN a channel WHEN its session settings are set THEN answered; a PATCH of other fields keeps them
    w = world()
    target = {"type": "queue", "id": "55"}
    answer = channels.update_channel(
        w.deps, TENANT, CHANNEL, PatchChannel(default_routing_target=target, session_expire_hours=2)
    )
    assert answer["default_routing_target"] == target and answer["session_expire_hours"] == 2
    kept = channels.update_channel(w.deps, TENANT, CHANNEL, PatchChannel(name="Renamed"))
    assert kept["default_routing_target"] == target and kept["session_expire_hours"] == 2
    # AND a null target removes it
    cleared = channels.update_channel(w.deps, TENANT, CHANNEL, PatchChannel(clear_default_routing_target=True))
    assert cleared["default_routing_target"] is None and cleared["session_expire_hours"] == 2
    # AND a malformed one is 422 invalid_routing_target naming the field
    with pytest.raises(UnprocessableError) as refused:
        channels.update_channel(
            w.deps, TENANT, CHANNEL, PatchChannel(default_routing_target={"type": "queue", "id": "x"})
        )
    assert refused.value.code == "invalid_routing_target"
    assert refused.value.details[0]["field"] == "default_routing_target"


def test_a_channel_session_expiry_of_two_hours_closes_sessions_after_two_hours() -> None:
    # GIVEN a channel keeping sessions 2 hours WHEN a session's contact is silent 2 hours THEN it is closed
    w = world()
    channels.update_channel(w.deps, TENANT, CHANNEL, PatchChannel(session_expire_hours=2))
    send(w, NUMBERS[:1])
    w.advance(2 * 3600 - 10)
    assert listed(w)[0]["status"] == "open"
    w.advance(20)
    assert listed(w)[0]["status"] == "closed"


def test_an_inbound_message_from_no_plausible_number_opens_no_session() -> None:
    # GIVEN a signed inbound message whose From no phone number could be (5,000 characters)
    w = world()
    channel = w.deps.channels.get(TENANT, CHANNEL)
    assert channel is not None
    # WHEN it is followed up THEN nothing fails and no session is opened for it
    sessions.on_inbound(w.deps, TENANT, channel, inbound("SMbig", frm="+1" * 2500), None)
    assert listed(w) == []
