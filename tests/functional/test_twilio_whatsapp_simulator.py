"""The simulator's WhatsApp half of Twilio over raw HTTP: the Content API's ContentAndApprovals list (per account,
paged with meta.next_page_url), WhatsApp senders and `whatsapp:` addressing, ContentSid and ContentVariables checks,
a template paused at the provider, and WhatsApp inbound messages with a button press."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from twilio.request_validator import RequestValidator

from devstack.twilio_sim import TwilioSimulator
from tests.functional.test_simulator import FakeClock, Receiver

ACCOUNT_SID = "AC" + "f7" * 16
AUTH_TOKEN = "wa-sim-test-token"
WA_SENDER = "+14155238886"
SMS_SENDER = "+15005550006"
CONTACT = "+41791234567"
WAIT = 5.0
AUTH = (ACCOUNT_SID, AUTH_TOKEN)
ORDER_UPDATE = {
    "friendly_name": "order_update",
    "language": "en",
    "types": {"twilio/text": {"body": "Hi {{1}}, your order {{2}} has shipped."}},
}


@pytest.fixture
def sim() -> Iterator[TwilioSimulator]:
    simulator = TwilioSimulator(callback_delay=0.005).start()
    simulator.add_account(ACCOUNT_SID, AUTH_TOKEN)
    simulator.add_number(SMS_SENDER, ACCOUNT_SID, mps=1000)
    yield simulator
    simulator.stop()


def control(sim: TwilioSimulator, path: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(f"{sim.url}/sim/{path}", json=body, timeout=WAIT)


def create(sim: TwilioSimulator, **form: str) -> requests.Response:
    url = f"{sim.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    return requests.post(url, data=form, auth=AUTH, timeout=WAIT)


def contents_page(sim: TwilioSimulator, url: str, auth: tuple[str, str] = AUTH) -> requests.Response:
    """GET a ContentAndApprovals URL as the SDK would, content.twilio.com moved onto the simulator."""
    parts = urlsplit(url)
    return requests.get(f"{sim.url}{parts.path}?{parts.query}", auth=auth, timeout=WAIT)


def test_the_content_api_lists_an_accounts_templates_page_by_page(sim: TwilioSimulator) -> None:
    # GIVEN five templates of the account, made through the control endpoint, and one of another account
    for i in range(5):
        answer = control(sim, "contents", {"account_sid": ACCOUNT_SID, **ORDER_UPDATE, "friendly_name": f"t{i}"})
        assert answer.status_code == 201 and answer.json()["sid"].startswith("HX")
    sim.add_account("AC" + "0f" * 16, "other")
    control(sim, "contents", {"account_sid": "AC" + "0f" * 16, **ORDER_UPDATE})
    # WHEN the list is read two at a time, following meta.next_page_url
    names, url, pages = [], "https://content.twilio.com/v1/ContentAndApprovals?PageSize=2", 0
    while url:
        answer = contents_page(sim, url)
        assert answer.status_code == 200
        payload = answer.json()
        assert payload["meta"]["key"] == "contents" and len(payload["contents"]) <= 2
        names += [c["friendly_name"] for c in payload["contents"]]
        url, pages = payload["meta"]["next_page_url"], pages + 1
        assert url is None or url.startswith("https://content.twilio.com/v1/ContentAndApprovals?")
    # THEN every template of the account comes once, in three pages, with its WhatsApp approval
    assert (names, pages) == ([f"t{i}" for i in range(5)], 3)
    first = contents_page(sim, "https://content.twilio.com/v1/ContentAndApprovals").json()["contents"][0]
    assert first["approval_requests"]["status"] == "approved" and first["types"] == ORDER_UPDATE["types"]
    # AND without the account's credentials the list is refused as Twilio refuses it
    refused = contents_page(sim, "https://content.twilio.com/v1/ContentAndApprovals", auth=(ACCOUNT_SID, "wrong"))
    assert (refused.status_code, refused.json()["code"]) == (401, 20003)


def test_whatsapp_addressing_is_checked_like_twilio_checks_it(sim: TwilioSimulator) -> None:
    # GIVEN a WhatsApp sender and an SMS number of the account
    sim.add_number(WA_SENDER, ACCOUNT_SID, mps=1000, whatsapp=True)
    # WHEN a WhatsApp message comes from the SMS number THEN 63007 (no WhatsApp channel with that From)
    not_wa = create(sim, From=f"whatsapp:{SMS_SENDER}", To=f"whatsapp:{CONTACT}", Body="hi")
    assert (not_wa.status_code, not_wa.json()["code"]) == (400, 63007)
    # WHEN From and To are of different channels THEN 21910
    mixed = create(sim, From=f"whatsapp:{WA_SENDER}", To=CONTACT, Body="hi")
    assert (mixed.status_code, mixed.json()["code"]) == (400, 21910)
    # WHEN both are whatsapp: THEN it is accepted, and the resource shows the addresses as Twilio does
    ok = create(sim, From=f"whatsapp:{WA_SENDER}", To=f"whatsapp:{CONTACT}", Body="hi")
    assert ok.status_code == 201 and (ok.json()["from"], ok.json()["to"]) == (
        f"whatsapp:{WA_SENDER}",
        f"whatsapp:{CONTACT}",
    )
    # AND an SMS to the same contact is still plain SMS
    assert create(sim, From=SMS_SENDER, To=CONTACT, Body="hi").status_code == 201


def test_content_sid_and_variables_are_checked_and_rendered(sim: TwilioSimulator) -> None:
    # GIVEN a WhatsApp sender and order_update
    sim.add_number(WA_SENDER, ACCOUNT_SID, mps=1000, whatsapp=True)
    sid = sim.add_content(ACCOUNT_SID, ORDER_UPDATE)["sid"]
    wa = {"From": f"whatsapp:{WA_SENDER}", "To": f"whatsapp:{CONTACT}"}
    # WHEN the ContentSid is unknown, the variables are not JSON, one is missing, or one is not the template's
    cases = {
        21655: {"ContentSid": "HX" + "9" * 32, "ContentVariables": '{"1": "a", "2": "b"}'},
        21656: {"ContentSid": sid, "ContentVariables": "not json"},
        63028: {"ContentSid": sid, "ContentVariables": '{"1": "a"}'},
    }
    extra = {"ContentSid": sid, "ContentVariables": '{"1": "a", "2": "b", "3": "c"}'}
    # THEN each is refused with Twilio's code, and nothing is stored
    for code, form in [*cases.items(), (63028, extra)]:
        answer = create(sim, **wa, **form)
        assert (answer.status_code, answer.json()["code"]) == (400, code), form
    assert sim.messages() == []
    # WHEN the values fit THEN the stored message is the template filled in (Body is ignored with a ContentSid)
    ok = create(sim, **wa, ContentSid=sid, ContentVariables='{"1": "Ann", "2": "B-7"}', Body="ignored")
    assert ok.status_code == 201 and ok.json()["body"] == "Hi Ann, your order B-7 has shipped."


def test_a_template_paused_at_the_provider_fails_the_next_send(sim: TwilioSimulator) -> None:
    # GIVEN an approved template, then paused by Meta (as the control endpoint plays it)
    sim.add_number(WA_SENDER, ACCOUNT_SID, mps=1000, whatsapp=True)
    receiver = Receiver()
    try:
        sid = sim.add_content(ACCOUNT_SID, ORDER_UPDATE)["sid"]
        paused = control(sim, "contents/status", {"sid": sid, "status": "paused"})
        assert paused.json()["approval_requests"]["status"] == "paused"
        # WHEN it is sent
        done = receiver.expect(1)
        form = {
            "ContentSid": sid,
            "ContentVariables": '{"1": "a", "2": "b"}',
            "StatusCallback": f"{receiver.url}/status",
        }
        assert create(sim, From=f"whatsapp:{WA_SENDER}", To=f"whatsapp:{CONTACT}", **form).status_code == 201
        # THEN its only callback is failed with 63041, signed with the account's token
        assert done.wait(WAIT)
        (post,) = receiver.ok_posts()
        assert (post.params["MessageStatus"], post.params["ErrorCode"]) == ("failed", "63041")
        assert RequestValidator(AUTH_TOKEN).validate(post.url, post.params, post.signature or "")
    finally:
        receiver.stop()


def test_an_inbound_whatsapp_message_and_a_button_press_are_posted_as_twilio_posts_them(sim: TwilioSimulator) -> None:
    # GIVEN a WhatsApp sender whose inbound URL is ours
    receiver = Receiver()
    try:
        sim.add_number(WA_SENDER, ACCOUNT_SID, mps=1000, inbound_url=f"{receiver.url}/inbound", whatsapp=True)
        done = receiver.expect(2)
        # WHEN a contact writes, then presses a quick-reply button on our message
        text = control(sim, "inbound", {"from": CONTACT, "to": WA_SENDER, "body": "Hello"})
        press = control(
            sim,
            "inbound",
            {
                "from": CONTACT,
                "to": WA_SENDER,
                "body": "Stop promotions",
                "button_payload": "stop_promotions",
                "replied_to": "SM" + "1" * 32,
            },
        )
        assert text.status_code == 200 and press.status_code == 200
        assert done.wait(WAIT)
        first, second = receiver.ok_posts()
        # THEN both are signed and addressed whatsapp: both ways
        for post in (first, second):
            assert RequestValidator(AUTH_TOKEN).validate(post.url, post.params, post.signature or "")
            assert (post.params["From"], post.params["To"]) == (f"whatsapp:{CONTACT}", f"whatsapp:{WA_SENDER}")
        # AND the press carries the button's payload and text and the message it answers
        assert "ButtonPayload" not in first.params and first.params["MessageType"] == "text"
        assert (second.params["ButtonPayload"], second.params["ButtonText"], second.params["MessageType"]) == (
            "stop_promotions",
            "Stop promotions",
            "button",
        )
        assert second.params["OriginalRepliedMessageSid"] == "SM" + "1" * 32
    finally:
        receiver.stop()


def test_bad_content_and_number_controls_are_refused_not_crashed(sim: TwilioSimulator) -> None:
    # GIVEN the control endpoints WHEN given what Twilio would never hold THEN 400s, and the simulator still serves
    assert control(sim, "contents", {"account_sid": ACCOUNT_SID, "friendly_name": "x", "types": {}}).status_code == 400
    bad_state = {"account_sid": ACCOUNT_SID, **ORDER_UPDATE, "status": "maybe"}
    assert control(sim, "contents", bad_state).status_code == 400
    assert control(sim, "contents", {**ORDER_UPDATE, "account_sid": "AC" + "9" * 32}).status_code == 400
    assert control(sim, "contents/status", {"sid": "HX" + "0" * 32, "status": "paused"}).status_code == 404
    bad_number = {"number": WA_SENDER, "account_sid": ACCOUNT_SID, "whatsapp": "yes"}
    assert control(sim, "numbers", bad_number).status_code == 400
    assert requests.get(f"{sim.url}/sim/health", timeout=WAIT).json() == {"ok": True}


def test_a_second_message_to_the_same_user_within_six_seconds_fails_with_63018() -> None:
    # GIVEN a simulator on a clock that moves only when told, and a WhatsApp sender
    clock = FakeClock()
    sim = TwilioSimulator(clock=clock, callback_delay=0.005).start()
    receiver = Receiver()
    try:
        sim.add_account(ACCOUNT_SID, AUTH_TOKEN)
        sim.add_number(WA_SENDER, ACCOUNT_SID, mps=1000, whatsapp=True)
        form = {"From": f"whatsapp:{WA_SENDER}", "StatusCallback": f"{receiver.url}/status", "Body": "hi"}
        # WHEN one user gets two messages 5 s apart, another user one in between, and the first user one 6 s after
        # the first (the refused one does not count)
        done = receiver.expect(3 + 1 + 3 + 3)  # sent/delivered/read, failed, sent/delivered/read twice
        sids = [create(sim, To=f"whatsapp:{CONTACT}", **form).json()["sid"]]
        clock.advance(5.0)
        sids.append(create(sim, To=f"whatsapp:{CONTACT}", **form).json()["sid"])
        sids.append(create(sim, To="whatsapp:+41791234500", **form).json()["sid"])
        clock.advance(1.0)
        sids.append(create(sim, To=f"whatsapp:{CONTACT}", **form).json()["sid"])
        assert done.wait(WAIT)
        # THEN only the second to the same user inside the pair gap fails, with Twilio's 63018; the others are read
        final = {p.params["MessageSid"]: p.params for p in receiver.ok_posts()}
        assert [final[sid]["MessageStatus"] for sid in sids] == ["read", "failed", "read", "read"]
        assert final[sids[1]]["ErrorCode"] == "63018"
    finally:
        receiver.stop()
        sim.stop()


def test_a_content_send_repeating_an_earlier_one_s_sid_and_variables_is_a_duplicate(sim: TwilioSimulator) -> None:
    # GIVEN a WhatsApp sender and a content template
    sim.add_number(WA_SENDER, ACCOUNT_SID, mps=1000, whatsapp=True)
    sid = control(sim, "contents", {"account_sid": ACCOUNT_SID, **ORDER_UPDATE}).json()["sid"]
    to, from_ = f"whatsapp:{CONTACT}", f"whatsapp:{WA_SENDER}"
    # WHEN it is sent twice with the same variables, once with others, and once to another contact
    ada, ada_reordered, bob = '{"1":"Ada","2":"A-1"}', '{"2":"A-1","1":"Ada"}', '{"1":"Bob","2":"B-2"}'
    for variables, contact in ((ada, to), (ada_reordered, to), (bob, to), (ada, "whatsapp:+41791234568")):
        answer = create(sim, To=contact, From=from_, ContentSid=sid, ContentVariables=variables)
        assert answer.status_code == 201, answer.text
    # THEN only the repeat (its variables in another order are the same variables) is a duplicate
    assert requests.get(f"{sim.url}/sim/stats", timeout=WAIT).json()["duplicates"] == 1
