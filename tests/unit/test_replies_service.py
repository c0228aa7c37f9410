"""Replies on fakes: which campaign message an inbound message answers (button, quote, the latest of that sender
within the window), each recipient counted once, and the campaign's responded and response_rate."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from chalicelib.adapters.providers.base import Outcome, SendResult
from chalicelib.domain.channels import Channel
from chalicelib.domain.events import InboundMessage
from chalicelib.domain.replies import Reply
from chalicelib.services import campaigns, replies
from tests.unit.campaign_deps import CHANNEL, SENDER, TENANT, World, world
from tests.unit.test_campaign_life import create, recipient, send_queued

CONTACT = "+41415084545"
OTHERS = ["+14155550100", "+14155550101", "+14155550102", "+14155550103"]
DAY = 86_400.0


def channel(w: World) -> Channel:
    found = w.deps.channels.get(TENANT, CHANNEL)
    assert found is not None
    return found


def sent(w: World, numbers: list[str], name: str = "Promo") -> str:
    """A campaign sent to `numbers` now, completed; its id."""
    created = create(w, numbers, name)
    send_queued(w)
    return str(created["id"])


def reply(
    w: World, body: str = "Thanks", sid: str = "SMr1", *, to: str = SENDER, contact: str = CONTACT, **extra: str
) -> Reply | None:
    message = InboundMessage(message_id=sid, from_=contact, to=to, body=body, **extra)  # type: ignore[arg-type]
    return replies.attribute(w.deps, TENANT, channel(w), message)


def figures(w: World, campaign_id: str) -> tuple[int, float]:
    got = campaigns.views.get_campaign(w.deps, TENANT, campaign_id)
    return got["responded"], got["response_rate"]


def test_a_reply_counts_once_for_its_recipient_and_sets_the_response_rate() -> None:
    # GIVEN a direct campaign to five numbers, all accepted
    w = world()
    cid = sent(w, [CONTACT, *OTHERS])
    assert figures(w, cid) == (0, 0.0)
    # WHEN one of them replies an hour later
    w.advance(3600)
    found = reply(w)
    # THEN the reply is its recipient's, responded 1 of 5 accepted
    assert found == Reply(cid, 0, None)
    assert recipient(w, cid, 0).responded_at == "2026-12-01T09:00:00Z"
    assert figures(w, cid) == (1, 0.2)
    # WHEN the provider delivers the same message again, and the contact replies once more
    w.advance(60)
    assert reply(w) == Reply(cid, 0, None)
    assert reply(w, "And another thing", "SMr2") == Reply(cid, 0, None)
    # THEN it still counts once, with its first reply's time; the result's figures are untouched
    assert recipient(w, cid, 0).responded_at == "2026-12-01T09:00:00Z"
    got = campaigns.views.get_campaign(w.deps, TENANT, cid)
    assert (got["responded"], got["response_rate"], got["result"]["total"], got["result"]["sent"]) == (1, 0.2, 5, 5)


def test_the_rate_is_over_messages_the_provider_accepted() -> None:
    # GIVEN five recipients of which the provider refused one
    w = world()
    w.provider.script(OTHERS[0], SendResult.refused(Outcome.PERMANENT, "21211", "Invalid 'To' Phone Number"))
    cid = sent(w, [CONTACT, *OTHERS])
    # WHEN one replies, and the refused one texts too (it never got the message)
    reply(w)
    assert reply(w, sid="SMr9", contact=OTHERS[0]) is None
    # THEN one of four accepted responded
    assert figures(w, cid) == (1, 0.25)


def test_a_reply_goes_to_the_latest_campaign_message_of_that_sender() -> None:
    # GIVEN two campaigns to the contact, a day apart
    w = world()
    first = sent(w, [CONTACT, OTHERS[0]], "First")
    w.advance(DAY)
    second = sent(w, [OTHERS[1], CONTACT], "Second")
    # WHEN the contact replies THEN the later one is answered, and only it counts
    w.advance(60)
    assert reply(w) == Reply(second, 1, None)
    assert figures(w, second) == (1, 0.5) and figures(w, first) == (0, 0.0)


def test_a_button_or_a_quote_names_the_campaign_message_directly() -> None:
    # GIVEN two campaigns to the contact, the later one last
    w = world()
    first = sent(w, [CONTACT], "First")
    w.advance(DAY)
    second = sent(w, [CONTACT], "Second")
    w.advance(60)
    # WHEN it presses a button of the first campaign's message THEN the first is answered
    assert reply(w, "Yes please", "SMb1", button_payload=f"mc1:{first}:0:1") == Reply(first, 0, None)
    assert figures(w, first) == (1, 1.0) and figures(w, second) == (0, 0.0)
    # WHEN it quotes the second's message (WhatsApp context.id) THEN that one is answered
    quoted = recipient(w, second, 0).provider_message_id
    assert quoted is not None
    assert reply(w, "What?", "SMq1", context_id=quoted) == Reply(second, 0, None)
    assert figures(w, second) == (1, 1.0)


def test_a_button_or_quote_not_of_the_contacts_thread_falls_back_to_the_latest() -> None:
    # GIVEN a campaign to the contact and another number
    w = world()
    cid = sent(w, [OTHERS[0], CONTACT])
    other_message = recipient(w, cid, 0).provider_message_id
    assert other_message is not None
    # WHEN the contact's reply names the other number's message (a forged payload, a quote of something else)
    assert reply(w, "x", "SMf1", button_payload=f"mc1:{cid}:0:0") == Reply(cid, 1, None)
    assert reply(w, "x", "SMf2", context_id=other_message) == Reply(cid, 1, None)
    # THEN it is the contact's own recipient that responded, never the other one
    assert recipient(w, cid, 0).responded_at is None and figures(w, cid) == (1, 0.5)


def test_no_reply_outside_the_window_to_another_sender_or_before_any_campaign() -> None:
    w = world()
    # GIVEN a reply before any campaign THEN it answers nothing
    assert reply(w, sid="SMe0") is None
    # GIVEN a campaign from SENDER, and the channel's second sender
    cid = sent(w, [CONTACT])
    w.deps.channels.channels[(TENANT, CHANNEL)] = dataclasses.replace(  # type: ignore[attr-defined]
        channel(w), senders=(SENDER, "+15005550007")
    )
    # WHEN the contact texts the other sender, or a number not the channel's THEN no campaign message is answered
    assert reply(w, sid="SMe1", to="+15005550007") is None
    assert reply(w, sid="SMe2", to="+15005550008") is None
    # WHEN it replies after the window (7 days by default) THEN nothing is counted
    w.advance(timedelta(days=7, seconds=1).total_seconds())
    assert reply(w, sid="SMe3") is None
    assert figures(w, cid) == (0, 0.0)


def test_the_window_is_a_setting_and_a_reply_at_its_end_still_counts() -> None:
    # GIVEN a deployment with a 2-day window and a campaign sent
    w = world(attribution_window_days=2)
    cid = sent(w, [CONTACT])
    # WHEN the contact replies exactly two days later THEN it counts
    w.advance(2 * DAY)
    assert reply(w) == Reply(cid, 0, None)
    assert figures(w, cid) == (1, 1.0)


def test_the_reply_carries_the_recipients_session() -> None:
    # GIVEN a recipient whose campaign opened a session for it
    w = world()
    cid = sent(w, [CONTACT])
    assert w.recipients.set_fields(cid, 0, {"session_id": "ses_1"}, only_if_missing="session_id")
    # WHEN it replies THEN lane A's session log gets that session
    assert reply(w) == Reply(cid, 0, "ses_1")


def test_a_provider_time_in_the_future_is_taken_as_now() -> None:
    # GIVEN a campaign sent now, and a reply the provider dates a day ahead (a wrong clock)
    w = world()
    cid = sent(w, [CONTACT])
    ahead = w.deps.clock.utcnow() + timedelta(days=1)
    # THEN it is attributed as a reply now, with now as its time
    assert reply(w, at=ahead) == Reply(cid, 0, None)  # type: ignore[arg-type]
    assert recipient(w, cid, 0).responded_at == "2026-12-01T08:00:00Z"
