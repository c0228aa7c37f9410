"""The provider simulator's inbound side for the conversation tests, over real HTTP: an inbound message replayed
exactly (same id, same body, signed again) on Twilio and on Meta, an inbound under a given id, and Meta's
`user_preferences` webhook (a user's marketing stop or resume).

(Beside test_simulator.py and test_meta_simulator.py, which are at their size limit.)"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
import requests

from devstack.meta_sim import sandbox
from devstack.twilio_sim import TwilioSimulator
from tests.functional.test_meta_simulator import SECRET, TOKEN, JsonReceiver, signed
from tests.functional.test_simulator import ACCOUNT_SID, AUTH_TOKEN, SENDER, WAIT, Receiver, signature_valid

USER = "+41791234567"


@pytest.fixture
def sim(receiver: Receiver, meta_receiver: JsonReceiver) -> Iterator[TwilioSimulator]:
    """Both providers: a Twilio number whose inbound webhook is `receiver`, the sandbox WABA posting to
    `meta_receiver`."""
    simulator = TwilioSimulator(callback_delay=0.005).start()
    simulator.add_account(ACCOUNT_SID, AUTH_TOKEN)
    simulator.add_number(SENDER, ACCOUNT_SID, mps=1000, inbound_url=f"{receiver.url}/twilio/inbound")
    simulator.meta.add_waba(**sandbox.waba_spec(TOKEN, SECRET, meta_receiver.url))
    yield simulator
    simulator.stop()


def test_a_twilio_inbound_is_replayed_exactly_and_signed_again(sim: TwilioSimulator, receiver: Receiver) -> None:
    # GIVEN an incoming SMS posted to the service's webhook
    first = requests.post(f"{sim.url}/sim/inbound", json={"from": USER, "to": SENDER, "body": "STOP"}, timeout=WAIT)
    assert first.status_code == 200, first.text
    sid = first.json()["message_sid"]
    # WHEN it is replayed
    replay = requests.post(f"{sim.url}/sim/inbound/{sid}/replay", timeout=WAIT)
    # THEN the same form is posted again, with the same idempotency token (as Twilio retries), and signed
    assert replay.status_code == 200, replay.text
    assert replay.json() == {"message_sid": sid, "status": 200, "replayed": True}
    original, again = receiver.ok_posts()
    assert again.params == original.params and again.params["MessageSid"] == sid
    assert again.url == original.url and again.idempotency_token == original.idempotency_token
    assert signature_valid(original) and signature_valid(again)
    stats = requests.get(f"{sim.url}/sim/stats", timeout=WAIT).json()
    assert (stats["inbound"], stats["inbound_replays"]) == (1, 1)


def test_a_twilio_inbound_can_be_given_its_message_sid(sim: TwilioSimulator, receiver: Receiver) -> None:
    # WHEN an incoming message is simulated under a given MessageSid, twice (say, with a different body)
    sid = "SM" + "c" * 32
    for body in ("Yes", "Yes!"):
        answer = requests.post(
            f"{sim.url}/sim/inbound", json={"from": USER, "to": SENDER, "body": body, "message_id": sid}, timeout=WAIT
        )
        assert answer.status_code == 200 and answer.json()["message_sid"] == sid, answer.text
    # THEN both posts carry that sid, signed
    posts = receiver.ok_posts()
    assert [(p.params["MessageSid"], p.params["SmsSid"], p.params["Body"]) for p in posts] == [
        (sid, sid, "Yes"),
        (sid, sid, "Yes!"),
    ]
    assert all(signature_valid(p) for p in posts)


def test_replaying_an_unknown_message_or_with_another_method_is_refused(sim: TwilioSimulator) -> None:
    # GIVEN no inbound message at all WHEN an unknown id is replayed THEN 404; a GET is 405; a bad id 400
    unknown = requests.post(f"{sim.url}/sim/inbound/SMnope/replay", timeout=WAIT)
    assert unknown.status_code == 404 and "error" in unknown.json()
    assert requests.get(f"{sim.url}/sim/inbound/SMnope/replay", timeout=WAIT).status_code == 405
    empty_id = requests.post(f"{sim.url}/sim/inbound", json={"from": USER, "to": SENDER, "message_id": 5}, timeout=WAIT)
    assert empty_id.status_code == 400


def test_a_reset_forgets_the_inbound_messages(sim: TwilioSimulator) -> None:
    # GIVEN an inbound message on each provider WHEN the simulator is reset THEN neither can be replayed
    sid = requests.post(f"{sim.url}/sim/inbound", json={"from": USER, "to": SENDER}, timeout=WAIT).json()
    wamid = requests.post(f"{sim.url}/sim/inbound", json={"from": USER, "to": sandbox.SENDER}, timeout=WAIT).json()
    assert requests.post(f"{sim.url}/sim/reset", json={}, timeout=WAIT).status_code == 200
    for message_id in (sid["message_sid"], quote(wamid["message_id"], safe="")):
        assert requests.post(f"{sim.url}/sim/inbound/{message_id}/replay", timeout=WAIT).status_code == 404


def test_a_meta_inbound_is_replayed_exactly_and_signed_again(sim: TwilioSimulator, meta_receiver: JsonReceiver) -> None:
    # GIVEN a user's reply quoting one of our messages, posted as Meta posts it
    first = requests.post(
        f"{sim.url}/sim/inbound",
        json={"from": USER, "to": sandbox.SENDER, "body": "Yes", "context_message_id": "wamid.OURS"},
        timeout=WAIT,
    )
    assert first.status_code == 200, first.text
    wamid = first.json()["message_id"]
    [original] = meta_receiver.wait(1)
    # WHEN it is replayed
    replay = requests.post(f"{sim.url}/sim/inbound/{quote(wamid, safe='')}/replay", timeout=WAIT)
    # THEN the very same body is posted again (same wamid, same context.id), signed with the app secret
    assert replay.status_code == 200 and replay.json()["replayed"] is True, replay.text
    _, again = meta_receiver.wait(2)
    assert again.body == original.body and signed(again, SECRET) and signed(original, SECRET)
    message = again.value()["messages"][0]
    assert (message["id"], message["context"]["id"], message["text"]) == (wamid, "wamid.OURS", {"body": "Yes"})
    assert requests.get(f"{sim.url}/sim/stats", timeout=WAIT).json()["whatsapp_cloud"]["inbound_replays"] == 1


def test_a_wamid_with_slashes_is_replayed_given_encoded_or_as_it_is(
    sim: TwilioSimulator, meta_receiver: JsonReceiver
) -> None:
    # GIVEN a user's message whose wamid holds '/' and '+' (base64, as Meta's wamids are)
    wamid = "wamid.HBg/LM+TU1=="
    body = {"from": USER, "to": sandbox.SENDER, "body": "hi", "message_id": wamid}
    assert requests.post(f"{sim.url}/sim/inbound", json=body, timeout=WAIT).status_code == 200
    # WHEN it is replayed with its id percent-encoded, and as it is THEN both replay it
    for given in (quote(wamid, safe=""), wamid):
        answer = requests.post(f"{sim.url}/sim/inbound/{given}/replay", timeout=WAIT)
        assert answer.status_code == 200 and answer.json()["message_id"] == wamid, answer.text
    assert [h.value()["messages"][0]["id"] for h in meta_receiver.wait(3)] == [wamid] * 3


def test_a_meta_inbound_can_be_given_its_wamid(sim: TwilioSimulator, meta_receiver: JsonReceiver) -> None:
    # WHEN a user's button press is simulated under a given wamid
    answer = requests.post(
        f"{sim.url}/sim/inbound",
        json={"from": USER, "to": sandbox.SENDER, "button_payload": "mc1:cmp_1:0:0", "message_id": "wamid.GIVEN"},
        timeout=WAIT,
    )
    # THEN the webhook carries that wamid
    assert answer.status_code == 200 and answer.json()["message_id"] == "wamid.GIVEN", answer.text
    [hook] = meta_receiver.wait(1)
    assert hook.value()["messages"][0]["id"] == "wamid.GIVEN" and hook.value()["messages"][0]["type"] == "button"


@pytest.mark.parametrize("value", ["stop", "resume"])
def test_a_user_s_marketing_preference_posts_a_signed_user_preferences_webhook(
    sim: TwilioSimulator, meta_receiver: JsonReceiver, value: str
) -> None:
    # WHEN a user stops (or resumes) marketing messages from the sandbox number
    answer = requests.post(
        f"{sim.url}/sim/meta/user_preferences", json={"from": USER, "to": sandbox.SENDER, "value": value}, timeout=WAIT
    )
    assert answer.status_code == 200, answer.text
    # THEN Meta's user_preferences webhook arrives, signed, shaped as Meta documents it
    [hook] = meta_receiver.wait(1)
    assert signed(hook, SECRET) and hook.field() == "user_preferences"
    body = hook.value()
    assert body["metadata"] == {"display_phone_number": sandbox.SENDER[1:], "phone_number_id": sandbox.PHONE_NUMBER_ID}
    assert body["contacts"][0]["wa_id"] == USER[1:]
    [item] = body["user_preferences"]
    assert (item["wa_id"], item["category"], item["value"]) == (USER[1:], "marketing_messages", value)
    assert isinstance(item["timestamp"], int) and item["detail"].startswith("User requested to")
    assert requests.get(f"{sim.url}/sim/stats", timeout=WAIT).json()["whatsapp_cloud"]["user_preferences"] == 1


@pytest.mark.parametrize(
    "body",
    [
        {"from": USER, "to": sandbox.SENDER, "value": "pause"},
        {"from": "nobody", "to": sandbox.SENDER, "value": "stop"},
        {"to": sandbox.SENDER, "value": "stop"},
    ],
)
def test_a_bad_preference_request_is_400(sim: TwilioSimulator, body: dict[str, str]) -> None:
    # WHEN a preference is asked for with a bad value or user THEN 400, nothing posted
    assert requests.post(f"{sim.url}/sim/meta/user_preferences", json=body, timeout=WAIT).status_code == 400


def test_a_preference_for_a_number_meta_does_not_have_is_404(sim: TwilioSimulator) -> None:
    body = {"from": USER, "to": "+15559999999", "value": "stop"}
    assert requests.post(f"{sim.url}/sim/meta/user_preferences", json=body, timeout=WAIT).status_code == 404
