"""The provider simulator's rate-based fault knobs (devstack/sim_faults.py) on its Twilio and its Meta side, its
`duplicates` and Meta's `senders` stats, over real HTTP: each knob at rate 1.0 and 0.0, a seed's reproducibility,
one POST /sim/config reaching both sides, the SIM_* environment."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from chalicelib.adapters.providers.twilio_http import RewritingTwilioHttpClient
from devstack.meta_sim import sandbox
from devstack.twilio_sim import TwilioSimulator
from tests.functional.test_meta_simulator import PHONE_ID, SECRET, TOKEN, JsonReceiver, post, signed, template
from tests.functional.test_simulator import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    RECIPIENT,
    SENDER,
    WAIT,
    FakeClock,
    Receiver,
    signature_valid,
)

NO_FAULTS = {"server_errors": 0, "late_answers": 0, "resets": 0, "replays": 0}


@pytest.fixture
def sim(meta_receiver: JsonReceiver) -> Iterator[TwilioSimulator]:
    simulator = TwilioSimulator(callback_delay=0.005, environ={}).start()
    simulator.add_account(ACCOUNT_SID, AUTH_TOKEN)
    simulator.add_number(SENDER, ACCOUNT_SID, mps=1000)
    simulator.meta.add_waba(**sandbox.waba_spec(TOKEN, SECRET, meta_receiver.url))
    yield simulator
    simulator.stop()


def config(sim: TwilioSimulator, **knobs: Any) -> requests.Response:
    return requests.post(f"{sim.url}/sim/config", json=knobs, timeout=WAIT)


def create(sim: TwilioSimulator, body: str = "hi", timeout: float = WAIT, **form: str) -> requests.Response:
    return requests.post(
        f"{sim.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json",
        data={"To": RECIPIENT, "From": SENDER, "Body": body, **form},
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=timeout,
    )


def stats(sim: TwilioSimulator) -> dict[str, Any]:
    return dict(requests.get(f"{sim.url}/sim/stats", timeout=WAIT).json())


# ---------------------------------------------------------------- one POST configures both sides


def test_one_post_sets_the_knobs_of_both_sides_and_bad_rates_are_refused(sim: TwilioSimulator) -> None:
    # WHEN the chaos bench's knobs are posted
    knobs = {
        "server_error_rate": 0.05,
        "late_answer_rate": 0.02,
        "late_answer_ms": 4000,
        "reset_after_accept_rate": 0.01,
        "callback_replay_rate": 0.1,
        "seed": 1,
    }
    answer = config(sim, **knobs)
    # THEN both Twilio's and Meta's side have them
    assert answer.status_code == 200, answer.text
    got = answer.json()
    assert {k: got[k] for k in knobs} == knobs
    assert {k: got[f"graph_{k}"] for k in knobs} == knobs
    # AND a rate outside [0, 1], or a knob of the wrong type, is refused with a clear message, nothing changed
    for bad in ({"server_error_rate": 1.5}, {"graph_late_answer_rate": -0.1}, {"seed": "x"}, {"late_answer_ms": -1}):
        refused = config(sim, **bad)
        assert refused.status_code == 400, bad
        assert next(iter(bad)).removeprefix("graph_") in refused.json()["error"]
    assert requests.get(f"{sim.url}/sim/config", timeout=WAIT).json()["server_error_rate"] == 0.05
    # AND a graph_ knob sets only Meta's side
    assert config(sim, graph_server_error_rate=0.5).json()["server_error_rate"] == 0.05
    assert sim.meta.config()["graph_server_error_rate"] == 0.5


def test_the_sim_environment_sets_the_knobs_also_after_a_reset() -> None:
    # GIVEN SIM_* variables
    environ = {"SIM_SERVER_ERROR_RATE": "1", "SIM_LATE_ANSWER_MS": "250", "SIM_SEED": "3", "SIM_PORT": "8001"}
    with TwilioSimulator(environ=environ) as simulator:
        # THEN both sides start with them, and a reset returns to them
        for _ in range(2):
            got = simulator.config()
            assert (got["server_error_rate"], got["late_answer_ms"], got["seed"]) == (1.0, 250.0, 3)
            assert (got["graph_server_error_rate"], got["graph_seed"]) == (1.0, 3)
            simulator.reset()
    # AND a bad value fails the start, saying which
    with pytest.raises(ValueError, match="SIM_LATE_ANSWER_RATE"):
        TwilioSimulator(environ={"SIM_LATE_ANSWER_RATE": "often"})
    with pytest.raises(ValueError, match="late_answer_rate"):
        TwilioSimulator(environ={"SIM_LATE_ANSWER_RATE": "2"})


# ---------------------------------------------------------------- server errors


def test_server_error_rate_1_answers_500_and_creates_nothing_0_never(sim: TwilioSimulator) -> None:
    # GIVEN every create is to fail
    config(sim, server_error_rate=1.0)
    # WHEN 3 Twilio and 2 Meta creates are made
    twilio = [create(sim, f"m{i}") for i in range(3)]
    meta = [post(sim, template(f"+4179123450{i}")) for i in range(2)]
    # THEN Twilio answers 500 20500, Meta 500 code 1, and neither created a message
    assert [(a.status_code, a.json()["code"]) for a in twilio] == [(500, 20500)] * 3
    assert [(a.status_code, a.json()["error"]["code"]) for a in meta] == [(500, 1)] * 2
    assert sim.messages() == []
    figures = stats(sim)
    assert figures["injected"] == {**NO_FAULTS, "server_errors": 3} and figures["server_errors"] == 3
    assert figures["whatsapp_cloud"]["injected"] == {**NO_FAULTS, "server_errors": 2}
    # AND at rate 0 every create is accepted
    config(sim, server_error_rate=0.0)
    assert [create(sim, f"n{i}").status_code for i in range(3)] == [201] * 3
    assert post(sim, template("+41791234509")).status_code == 200
    assert stats(sim)["injected"]["server_errors"] == 3


def test_a_seed_makes_the_faults_reproducible(sim: TwilioSimulator) -> None:
    def run(seed: int) -> list[int]:
        sim.reset()
        config(sim, server_error_rate=0.5, seed=seed)
        return [create(sim, f"m{i}").status_code for i in range(24)]

    # GIVEN half the creates fail, seeded WHEN the same creates are made twice with one seed
    first, again = run(7), run(7)
    # THEN the same ones fail, some but not all
    assert first == again
    assert 0 < first.count(500) < 24
    # AND another seed fails others
    assert run(8) != first


# ---------------------------------------------------------------- late answers and resets


def test_late_answer_rate_1_holds_the_answer_back_but_the_message_is_taken(sim: TwilioSimulator) -> None:
    # GIVEN every answer is late by 1.5 s
    config(sim, late_answer_rate=1.0, late_answer_ms=1500)
    # WHEN a client that waits 0.4 s sends on Twilio and on Meta
    with pytest.raises(requests.exceptions.ReadTimeout):
        create(sim, "late", timeout=0.4)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(
            f"{sim.url}/graph/v21.0/{PHONE_ID}/messages",
            json=template("+41791234501"),
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=0.4,
        )
    # THEN both providers have the message anyway, and counted the fault
    assert [m["body"] for m in sim.messages()] == ["late"] and [m["type"] for m in sim.meta.messages()] == ["template"]
    figures = stats(sim)
    assert figures["injected"]["late_answers"] == 1 and figures["whatsapp_cloud"]["injected"]["late_answers"] == 1
    # AND at rate 0 the answer comes at once
    config(sim, late_answer_rate=0.0)
    assert create(sim, "prompt", timeout=0.4).status_code == 201


def test_reset_after_accept_rate_1_resets_the_connection_after_taking_the_message(sim: TwilioSimulator) -> None:
    # GIVEN every accepted create's connection is reset
    config(sim, reset_after_accept_rate=1.0)
    # WHEN Twilio and Meta are sent to
    with pytest.raises(requests.exceptions.ConnectionError):
        create(sim, "reset")
    with pytest.raises(requests.exceptions.ConnectionError):
        post(sim, template("+41791234501"))
    # THEN there was no answer, but each has the message, and counted the reset
    assert len(sim.messages()) == 1 and len(sim.meta.messages()) == 1
    figures = stats(sim)
    assert figures["injected"]["resets"] == 1 and figures["resets_after_accept"] == 1
    assert figures["whatsapp_cloud"]["injected"]["resets"] == 1
    # AND a refused create is never reset (there is nothing to have taken)
    assert create(sim, "x", To="+15005550001").status_code == 400
    # AND at rate 0 the answer comes
    config(sim, reset_after_accept_rate=0.0)
    assert create(sim, "answered").status_code == 201


# ---------------------------------------------------------------- callback replays


def test_callback_replay_rate_1_posts_each_twilio_callback_twice_identical_and_signed(
    sim: TwilioSimulator, receiver: Receiver
) -> None:
    # GIVEN every status callback is to be replayed
    config(sim, callback_replay_rate=1.0)
    done = receiver.expect(4)
    # WHEN a message is sent
    create(sim, "twice", StatusCallback=f"{receiver.url}/s")
    # THEN sent and delivered each arrive twice: the same form, the same idempotency token, signed
    assert done.wait(WAIT) and sim.wait_for_callbacks(WAIT)
    posts = receiver.ok_posts()
    assert len(posts) == 4
    by_status: dict[str, list[Any]] = {}
    for p in posts:
        by_status.setdefault(p.params["MessageStatus"], []).append(p)
    assert sorted(by_status) == ["delivered", "sent"]
    for first, second in by_status.values():
        assert first.params == second.params and first.idempotency_token == second.idempotency_token
        assert signature_valid(first) and signature_valid(second)
    assert stats(sim)["injected"]["replays"] == 2
    assert sim.messages()[0]["status"] == "delivered"


def test_callback_replay_rate_0_posts_each_callback_once(sim: TwilioSimulator, receiver: Receiver) -> None:
    config(sim, callback_replay_rate=0.0)
    done = receiver.expect(2)
    create(sim, "once", StatusCallback=f"{receiver.url}/s")
    assert done.wait(WAIT) and sim.wait_for_callbacks(WAIT)
    assert [p.params["MessageStatus"] for p in receiver.ok_posts()] == ["sent", "delivered"]
    assert stats(sim)["injected"] == NO_FAULTS


def test_callback_replay_rate_1_posts_each_meta_status_webhook_twice(
    sim: TwilioSimulator, meta_receiver: JsonReceiver
) -> None:
    # GIVEN every status webhook is to be replayed WHEN a template is sent
    config(sim, callback_replay_rate=1.0)
    wamid = post(sim, template("+41791234501")).json()["messages"][0]["id"]
    # THEN sent, delivered and read each arrive twice, byte for byte the same, signed
    hooks = meta_receiver.wait(6)
    assert sim.meta.wait_for_webhooks(WAIT)
    assert sorted(meta_receiver.statuses()) == sorted([(wamid, s) for s in ("sent", "delivered", "read")] * 2)
    bodies: dict[bytes, int] = {}
    for hook in meta_receiver.hooks:
        bodies[hook.body] = bodies.get(hook.body, 0) + 1
        assert signed(hook)
    assert sorted(bodies.values()) == [2, 2, 2] and len(hooks) >= 6
    assert stats(sim)["whatsapp_cloud"]["injected"]["replays"] == 3


# ---------------------------------------------------------------- duplicates and Meta's senders


def test_duplicates_are_counted_on_both_sides() -> None:
    clock = FakeClock()
    with TwilioSimulator(clock=clock, callback_delay=0.005, environ={}) as sim:
        sim.add_account(ACCOUNT_SID, AUTH_TOKEN)
        sim.add_number(SENDER, ACCOUNT_SID, mps=1000)
        sim.meta.add_waba(**sandbox.waba_spec(TOKEN, SECRET, None))
        client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=RewritingTwilioHttpClient(sim.url))
        # GIVEN a message WHEN the same is sent again, and one with another body or to another recipient
        for body, to in (("a", RECIPIENT), ("a", RECIPIENT), ("b", RECIPIENT), ("a", "+41791234568")):
            client.messages.create(to=to, from_=SENDER, body=body)
        # AND on Meta the same template to the same user (past the pair rate), and with other values
        assert post(sim, template("+41791234501")).status_code == 200
        clock.advance(7)
        assert post(sim, template("+41791234501")).status_code == 200
        clock.advance(7)
        assert post(sim, template("+41791234501", params=["Bob", "B-2"])).status_code == 200
        # THEN each side counted one duplicate
        figures = stats(sim)
        assert figures["duplicates"] == 1 and figures["whatsapp_cloud"]["duplicates"] == 1
        assert figures["accepted"] == 4


def test_meta_s_senders_stats_say_each_number_s_rate(receiver: Receiver) -> None:
    clock = FakeClock()
    with TwilioSimulator(clock=clock, callback_delay=0.005, environ={}) as sim:
        sim.meta.add_waba(**sandbox.waba_spec(TOKEN, SECRET, None))
        # GIVEN 3 sends half a second apart, and one refused past the pair rate
        for i in range(3):
            assert post(sim, template(f"+4179123450{i}")).status_code == 200
            clock.advance(0.5)
        assert post(sim, template("+41791234500")).status_code == 400
        # THEN the number's entry says 3 sent at 2 per second, none waiting (Meta has no queue)
        entry = stats(sim)["whatsapp_cloud"]["senders"][PHONE_ID]
        assert entry == {
            "display_phone_number": "15550100001",
            "accepted": 3,
            "sent": 3,
            "achieved_mps": 2.0,
            "longest_queue_wait_s": 0.0,
            "queued_now": 0,
        }


def test_the_existing_stats_keys_are_kept(sim: TwilioSimulator) -> None:
    figures = stats(sim)
    for key in ("accepted", "throttled", "callbacks_pending", "callbacks_posted", "first_accepted_at", "senders"):
        assert key in figures
    for key in ("throttled_130429", "accepted", "webhooks_pending", "senders", "duplicates", "injected"):
        assert key in figures["whatsapp_cloud"]


def test_throttle_next_still_answers_20429(sim: TwilioSimulator) -> None:
    config(sim, throttle_next=1)
    client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=RewritingTwilioHttpClient(sim.url))
    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(to=RECIPIENT, from_=SENDER, body="x")
    assert (raised.value.status, raised.value.code) == (429, 20429)
    assert client.messages.create(to=RECIPIENT, from_=SENDER, body="y").status == "queued"
