"""The opt-out list on fakes: the keywords exactly, the providers' opt-out codes and preferences, the API's
service functions, and the sender skipping listed numbers (never handed over, never retried)."""

from __future__ import annotations

from collections import Counter

import pytest

from chalicelib.adapters.providers.base import Outcome, SendResult
from chalicelib.domain.channels import Channel
from chalicelib.domain.errors import ConflictError, UnprocessableError
from chalicelib.domain.events import InboundMessage
from chalicelib.domain.optouts import OptOut, keyword_of
from chalicelib.services import campaigns, conversation, lifecycle, optouts, sending, webhooks
from tests.fakes.deps import FakeWorld, fake_world
from tests.unit.campaign_deps import TENANT, World, world
from tests.unit.test_campaign_life import create, recipient, send_queued

CH_SMS, CH_WA = "ch_sms", "ch_wa"
SENDER, WA_SENDER = "+15005550006", "+15550100001"
CONTACT = "+41415084545"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("STOP", "out"),
        ("Stop", "out"),
        ("stop", "out"),
        (" STOP ", "out"),
        ("\tSTOP\n", "out"),
        ("\u00a0STOP\u2003", "out"),  # Unicode spaces around it (a phone's keyboard) are white space too
        ("\u3000stop\u3000", "out"),
        ("STOPALL", "out"),
        ("unsubscribe", "out"),
        ("Cancel", "out"),
        ("END", "out"),
        ("quit", "out"),
        ("REVOKE", "out"),
        ("OptOut", "out"),
        ("START", "in"),
        ("unstop", "in"),
        ("Yes", "in"),
        (" yes ", "in"),
        ("stop it", None),  # anything else in the message: not a keyword
        ("STOP!", None),  # punctuation is part of the message
        ("stop.", None),
        ("S T O P", None),
        ("STOP STOP", None),
        ("opt out", None),
        ("STOP\u200b", None),  # a zero-width space is not white space: not exactly the keyword
        ("\u0405TOP", None),  # a Cyrillic look-alike letter spells no keyword
        ("ＳＴＯＰ", None),  # full-width letters neither
        ("", None),
        ("   ", None),
        ("Yes please", None),
        ("Hello", None),
    ],
)
def test_keywords_are_exactly_the_contracts(body: str, expected: str | None) -> None:
    # GIVEN a reply WHEN it is judged THEN only a keyword alone (any case, white space around it) counts
    assert keyword_of(body) == expected


def _world() -> FakeWorld:
    w = fake_world()
    for cid, kind, provider, sender in (
        (CH_SMS, "sms", "twilio", SENDER),
        (CH_WA, "whatsapp", "whatsapp_cloud", WA_SENDER),
    ):
        w.channels.create(
            Channel(
                tenant_id=TENANT,
                channel_id=cid,
                name=cid,
                type=kind,
                provider=provider,
                senders=(sender,),
                mps=10,
                created_at="2026-12-01T08:00:00Z",
            )
        )
    return w


def _inbound(body: str, sid: str = "SM1", contact: str = CONTACT, to: str = SENDER) -> InboundMessage:
    return InboundMessage(message_id=sid, from_=contact, to=to, body=body)


def _entry(w: FakeWorld, number: str = CONTACT) -> OptOut | None:
    return w.optouts.get(TENANT, number)


def test_stop_opts_out_once_and_start_takes_it_off() -> None:
    w = _world()
    channel = w.channels.get(TENANT, CH_SMS)
    assert channel is not None
    # WHEN the contact replies STOP
    optouts.on_inbound(w.deps, TENANT, channel, _inbound(" stop "))
    first = _entry(w)
    # THEN it is on the list by keyword, through that channel
    assert first is not None and (first.opted_out, first.source, first.channel_id) == (True, "keyword", CH_SMS)
    # WHEN it says STOP again later (or the provider retries the webhook)
    w.deps.clock.offset += 3600
    optouts.on_inbound(w.deps, TENANT, channel, _inbound("STOP", "SM2"))
    # THEN nothing is rewritten: the first opt-out stands, with its time
    assert _entry(w) == first
    # WHEN it replies START THEN it is off the list, its entry kept with the opt-in's source
    optouts.on_inbound(w.deps, TENANT, channel, _inbound("Start", "SM3"))
    after = _entry(w)
    assert after is not None and not after.opted_out and after.source == "keyword" and after.at != first.at
    assert optouts.opted_out(w.deps, TENANT, [CONTACT]) == set()


def test_other_messages_and_impossible_senders_change_nothing() -> None:
    w = _world()
    channel = w.channels.get(TENANT, CH_SMS)
    assert channel is not None
    # GIVEN replies that are no keyword, and a STOP "from" something that is not a phone number
    for message in (_inbound("stop it"), _inbound("STOP!"), _inbound("STOP", contact="not-a-number"), _inbound("YES")):
        optouts.on_inbound(w.deps, TENANT, channel, message)
    # THEN no entry was written (a YES from a number never opted out writes nothing either)
    assert w.optouts.table.items == {}


def test_the_providers_opt_out_codes_put_the_number_on_the_list() -> None:
    w = _world()
    # WHEN Twilio refuses a send with 21610 and another with 30003 (unreachable: no opt-out)
    optouts.provider_refused(w.deps, TENANT, CH_SMS, CONTACT, "21610")
    optouts.provider_refused(w.deps, TENANT, CH_SMS, "+41415084546", "30003")
    # AND Meta refuses one with 131050 (the user stopped marketing messages)
    optouts.provider_refused(w.deps, TENANT, CH_WA, "+41415084547", "131050")
    # AND a refusal comes for a channel that is gone, or without a code
    optouts.provider_refused(w.deps, TENANT, "ch_gone", "+41415084548", "21610")
    optouts.provider_refused(w.deps, TENANT, CH_SMS, "+41415084549", None)
    # THEN exactly the opt-out codes' numbers are on the list, source provider, with their channel
    listed = optouts.list_optouts(w.deps, TENANT, 50, None)["items"]
    assert [(e["number"], e["source"], e["channel_id"]) for e in listed] == [
        (CONTACT, "provider", CH_SMS),
        ("+41415084547", "provider", CH_WA),
    ]


def test_metas_marketing_preference_stops_and_resumes() -> None:
    w = _world()
    # WHEN Meta reports the user stopped marketing messages, twice THEN it is on the list once (source provider)
    optouts.preference(w.deps, TENANT, CH_WA, CONTACT, True)
    first = _entry(w)
    w.deps.clock.offset += 60
    optouts.preference(w.deps, TENANT, CH_WA, CONTACT, True)
    assert first is not None and first.source == "provider" and _entry(w) == first
    # WHEN it resumes THEN it is off the list
    optouts.preference(w.deps, TENANT, CH_WA, CONTACT, False)
    assert optouts.opted_out(w.deps, TENANT, [CONTACT]) == set()


def test_the_apis_put_is_idempotent_and_delete_answers_for_any_number() -> None:
    w = _world()
    # WHEN the PBX puts a number (its + percent-encoded in the path) on the list, twice
    first = optouts.put_optout(w.deps, TENANT, "%2B41415084545")
    w.deps.clock.offset += 60
    again = optouts.put_optout(w.deps, TENANT, "+41415084545")
    # THEN it is listed once, source api without a channel, the second answer the first entry
    assert first == again == {"number": CONTACT, "source": "api", "channel_id": None, "at": first["at"]}
    assert optouts.list_optouts(w.deps, TENANT, 50, None) == {"items": [first], "next_cursor": None}
    # WHEN it is deleted, twice, and a number never listed is deleted THEN none is listed, nothing fails
    optouts.delete_optout(w.deps, TENANT, "%2B41415084545")
    optouts.delete_optout(w.deps, TENANT, "%2B41415084545")
    optouts.delete_optout(w.deps, TENANT, "+14155550100")
    assert optouts.list_optouts(w.deps, TENANT, 50, None)["items"] == []
    assert _entry(w, "+14155550100") is None


@pytest.mark.parametrize("raw", ["41415084545", "%2B4141", "+41 41 508 45 45", "%2", "x" * 5000, "%ED%A0%80", "+0"])
def test_a_path_that_is_no_e164_number_is_422_and_changes_nothing(raw: str) -> None:
    w = _world()
    for call in (optouts.put_optout, optouts.delete_optout):
        with pytest.raises(UnprocessableError) as refused:
            call(w.deps, TENANT, raw)
        assert refused.value.code == "invalid_phone_number"
        assert refused.value.details[0]["field"] == "number"
    assert w.optouts.table.items == {}


# ---------------------------------------------------------------------------------------------- the sender
def opt_out(w: World, number: str) -> None:
    """The number on the tenant's list, as a STOP would put it."""
    w.deps.optouts.opt_out(OptOut(TENANT, number, True, "keyword", "2026-12-01T07:00:00Z", "ch_1"))


NUMBERS = ["+14155550100", "+14155550101", "+14155550102"]


def test_a_campaign_never_hands_an_opted_out_number_to_the_provider() -> None:
    # GIVEN one of three numbers on the list
    w = world()
    opt_out(w, NUMBERS[1])
    created = create(w, NUMBERS)
    # WHEN the campaign is sent
    send_queued(w)
    # THEN the provider never got it; it is skipped with opted_out, counted in result.skipped
    assert Counter(w.provider.calls) == Counter([NUMBERS[0], NUMBERS[2]])
    skipped = recipient(w, created["id"], 1)
    assert (skipped.status, skipped.error_code, skipped.attempts) == ("skipped", "opted_out", 0)
    got = campaigns.views.get_campaign(w.deps, TENANT, created["id"])
    assert got["status"] == "completed"
    assert (got["result"]["sent"], got["result"]["skipped"], got["result"]["total"]) == (2, 1, 3)


def test_retry_never_resends_an_opted_out_number() -> None:
    # GIVEN a campaign whose only recipient is on the list
    w = world()
    opt_out(w, NUMBERS[0])
    created = create(w, NUMBERS[:1])
    send_queued(w)
    # WHEN the PBX retries it THEN there is nothing to retry, and the provider never got it
    with pytest.raises(ConflictError) as refused:
        campaigns.retry_campaign(w.deps, TENANT, created["id"])
    assert refused.value.code == "nothing_to_retry"
    assert w.provider.calls == []


def test_a_number_opted_out_between_two_chunks_is_skipped_in_the_later_one() -> None:
    # GIVEN a campaign of four in chunks of two, its first chunk sent
    w = world(chunk_size=2)
    numbers = [*NUMBERS, "+14155550103"]
    created = create(w, numbers)
    for job in w.queue.take_jobs():
        lifecycle.run_job(w.deps, job)
    chunks = w.queue.take_chunks()
    assert [(c.start, c.end) for c in chunks] == [(0, 2), (2, 4)]
    sending.handle_chunk(w.deps, chunks[0], lambda: 600.0)
    # WHEN the third number replies STOP before the second chunk is sent
    opt_out(w, numbers[2])
    sending.handle_chunk(w.deps, chunks[1], lambda: 600.0)
    send_queued(w)
    # THEN it is skipped there, the others sent; the list was read once per chunk
    assert w.provider.calls == [numbers[0], numbers[1], numbers[3]]
    assert recipient(w, created["id"], 2).error_code == "opted_out"
    assert w.deps.optouts.batch_gets == [2, 2]  # type: ignore[attr-defined]


def test_a_refusal_for_an_opt_out_at_the_provider_lists_the_number() -> None:
    # GIVEN Twilio refuses one number with 21610 (it texted STOP to Twilio itself)
    w = world()
    w.provider.script(NUMBERS[0], SendResult.refused(Outcome.PERMANENT, "21610", "Attempt to send to unsubscribed"))
    create(w, NUMBERS[:2])
    # WHEN the campaign is sent
    send_queued(w)
    # THEN the number is on the list (source provider), so the next campaign skips it
    entry = w.deps.optouts.get(TENANT, NUMBERS[0])
    assert entry is not None and (entry.source, entry.channel_id) == ("provider", "ch_1")
    w.provider.calls.clear()
    second = create(w, NUMBERS[:2], name="Next")
    send_queued(w)
    assert w.provider.calls == [NUMBERS[1]]
    assert recipient(w, second["id"], 0).error_code == "opted_out"
    # AND a STOP reply from it later (through the inbound hook) changes nothing: it is on the list already
    channel = w.deps.channels.get(TENANT, "ch_1")
    assert channel is not None
    conversation.inbound(w.deps, TENANT, channel, _inbound("STOP", contact=NUMBERS[0]))
    assert w.deps.optouts.get(TENANT, NUMBERS[0]) == entry


def test_a_replayed_stop_does_not_undo_a_later_start() -> None:
    # GIVEN a contact who sent STOP, then (a minute later) START, each kept as it came
    w = world()
    who = NUMBERS[0]
    webhooks.keep_inbound(w.deps, TENANT, "ch_1", _inbound("STOP", "SMstop", contact=who))
    w.deps.clock.offset += 60
    webhooks.keep_inbound(w.deps, TENANT, "ch_1", _inbound("START", "SMstart", contact=who))
    assert optouts.opted_out(w.deps, TENANT, [who]) == set()
    # WHEN the provider retries the old STOP webhook later still (same MessageSid)
    w.deps.clock.offset += 60
    webhooks.keep_inbound(w.deps, TENANT, "ch_1", _inbound("STOP", "SMstop", contact=who))
    # THEN the START stands: the retry is applied as of when the STOP first came, which is older
    entry = w.deps.optouts.get(TENANT, who)
    assert entry is not None and not entry.opted_out
    # AND a replayed START after a newer STOP does not take the number off the list either
    webhooks.keep_inbound(w.deps, TENANT, "ch_1", _inbound("stop", "SMstop2", contact=who))
    w.deps.clock.offset += 60
    webhooks.keep_inbound(w.deps, TENANT, "ch_1", _inbound("START", "SMstart", contact=who))
    assert optouts.opted_out(w.deps, TENANT, [who]) == {who}


def test_a_replayed_old_marketing_stop_does_not_undo_a_later_resume() -> None:
    # GIVEN Meta reported a stop at t and a resume at t + 10
    w = _world()
    t = w.deps.clock.now() - 100
    optouts.preference(w.deps, TENANT, CH_WA, CONTACT, True, t)
    optouts.preference(w.deps, TENANT, CH_WA, CONTACT, False, t + 10)
    # WHEN Meta sends the stop's webhook again
    optouts.preference(w.deps, TENANT, CH_WA, CONTACT, True, t)
    # THEN the resume stands
    assert optouts.opted_out(w.deps, TENANT, [CONTACT]) == set()
