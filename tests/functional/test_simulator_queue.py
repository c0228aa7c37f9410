"""The Twilio simulator's senders' queues and its per-account concurrency limit, over real HTTP through the twilio SDK.

As Twilio does, a sender given more than its `mps` accepts it all (201, `queued`) and sends it at `mps`; a message
that would wait longer than its validity period is refused with 21611; more concurrent API requests than an account
may make are refused 429 (20429)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from chalicelib.adapters.providers.twilio_http import RewritingTwilioHttpClient
from devstack.twilio_sim import TwilioSimulator
from tests.functional.test_simulator import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    RECIPIENT,
    SENDER,
    SLOW_SENDER,
    WAIT,
    FakeClock,
    Receiver,
)

CREATE = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


@pytest.fixture
def live() -> Iterator[TwilioSimulator]:
    """A simulator on the real clock (its queues drain as time passes)."""
    simulator = TwilioSimulator(callback_delay=0.005, retry_backoff=(0.01, 0.02, 0.05)).start()
    simulator.add_account(ACCOUNT_SID, AUTH_TOKEN)
    simulator.add_number(SENDER, ACCOUNT_SID, mps=1000)
    yield simulator
    simulator.stop()


@pytest.fixture
def frozen() -> Iterator[tuple[TwilioSimulator, FakeClock]]:
    """A simulator whose queue clock only moves when told to (its waits are exact)."""
    clock = FakeClock()
    simulator = TwilioSimulator(clock=clock, callback_delay=0.005).start()
    simulator.add_account(ACCOUNT_SID, AUTH_TOKEN)
    yield simulator, clock
    simulator.stop()


def sdk(sim: TwilioSimulator) -> Client:
    return Client(ACCOUNT_SID, AUTH_TOKEN, http_client=RewritingTwilioHttpClient(sim.url))


def waits(sim: TwilioSimulator, sender: str = SLOW_SENDER) -> list[float]:
    return [m["queue_wait_s"] for m in sim.messages() if m["from"] == sender]


# ---------------------------------------------------------------- the sender's queue


def test_a_sender_s_excess_is_queued_and_sent_at_its_mps(live: TwilioSimulator, receiver: Receiver) -> None:
    # GIVEN a sender of 5 messages per second, with a status callback receiver
    live.add_number(SLOW_SENDER, ACCOUNT_SID, mps=5)
    client = sdk(live)
    done = receiver.expect(20)
    # WHEN 10 messages are sent to it at once
    created = [
        client.messages.create(to=RECIPIENT, from_=SLOW_SENDER, body=f"m{i}", status_callback=f"{receiver.url}/s")
        for i in range(10)
    ]
    # THEN every one is accepted and queued (no 429), and the last is still queued when fetched at once
    assert [m.status for m in created] == ["queued"] * 10
    assert client.messages(created[-1].sid).fetch().status == "queued"
    # AND their turns in the sender's queue are 1/mps = 0.2 s apart, the first at once
    items = [m for m in live.messages() if m["from"] == SLOW_SENDER]
    turns = [m["send_at"] for m in items]
    assert [round(b - a, 2) for a, b in zip(turns, turns[1:], strict=False)] == [0.2] * 9
    assert items[0]["queue_wait_s"] == pytest.approx(0.0, abs=0.01)
    # AND each `sent` callback comes when its turn comes (not before), then delivered
    assert done.wait(WAIT)
    assert live.wait_for_callbacks(WAIT)
    posts = receiver.ok_posts()
    assert len(posts) == 20 and {p.params["MessageStatus"] for p in posts} == {"sent", "delivered"}
    for item in live.messages():
        if item["from"] == SLOW_SENDER:
            assert item["send_at"] - 0.01 <= item["sent_at"] < item["send_at"] + 0.5
            assert item["status"] == "delivered"
    # AND the stats say what the queue did
    stats = requests.get(f"{live.url}/sim/stats", timeout=WAIT).json()
    queue = stats["senders"][SLOW_SENDER]
    assert (queue["accepted"], queue["sent"], queue["queued_now"]) == (10, 10, 0)
    assert queue["achieved_mps"] == pytest.approx(5.0, rel=0.01)
    assert 1.5 < queue["longest_queue_wait_s"] <= 1.8 + 1e-6
    assert stats["throttled"] == 0 and stats["accepted"] == 10


def test_queued_now_counts_what_has_not_had_its_turn(frozen: tuple[TwilioSimulator, FakeClock]) -> None:
    # GIVEN a sender of 1 mps on a frozen clock WHEN 3 messages are sent
    sim, _ = frozen
    sim.add_number(SLOW_SENDER, ACCOUNT_SID, mps=1)
    for i in range(3):
        sdk(sim).messages.create(to=RECIPIENT, from_=SLOW_SENDER, body=f"m{i}")
    # THEN they wait 0, 1 and 2 s, and only the first has been sent by now
    assert waits(sim) == [0.0, 1.0, 2.0]
    queue = sim.stats()["senders"][SLOW_SENDER]
    assert queue["accepted"] == 3 and queue["longest_queue_wait_s"] == 2.0
    assert queue["queued_now"] == 3 - queue["sent"] and queue["sent"] < 3
    assert [m["status"] for m in sim.messages()][1:] == ["queued", "queued"]


def test_a_wait_beyond_the_validity_is_refused_with_21611_and_takes_no_turn(
    frozen: tuple[TwilioSimulator, FakeClock],
) -> None:
    # GIVEN a 5-mps sender whose messages may wait at most 0.5 s (set over HTTP), on a frozen clock
    sim, clock = frozen
    sim.add_number(SLOW_SENDER, ACCOUNT_SID, mps=5)
    answer = requests.post(f"{sim.url}/sim/config", json={"queue_max_seconds": 0.5}, timeout=WAIT)
    assert answer.status_code == 200 and answer.json()["queue_max_seconds"] == 0.5
    client = sdk(sim)
    # WHEN 5 messages are sent at once
    for i in range(3):
        client.messages.create(to=RECIPIENT, from_=SLOW_SENDER, body=f"m{i}")
    refused = []
    for i in range(2):
        with pytest.raises(TwilioRestException) as raised:
            client.messages.create(to=RECIPIENT, from_=SLOW_SENDER, body=f"late{i}")
        refused.append((raised.value.status, raised.value.code))
    # THEN the 3 that wait 0, 0.2 and 0.4 s are queued, the 2 that would wait 0.6 s are refused with 21611
    assert waits(sim) == pytest.approx([0.0, 0.2, 0.4])
    assert refused == [(400, 21611), (400, 21611)]
    # AND the refused took no turn: a message allowed 1 s (its ValidityPeriod) waits 0.6 s, not 1.0
    client.messages.create(to=RECIPIENT, from_=SLOW_SENDER, body="patient", validity_period=1)
    assert waits(sim)[-1] == pytest.approx(0.6)
    # AND once time has passed, the queue takes messages again
    clock.advance(1.0)
    client.messages.create(to=RECIPIENT, from_=SLOW_SENDER, body="later")
    assert waits(sim)[-1] == pytest.approx(0.0)
    stats = sim.stats()
    assert stats["queue_full_21611"] == 2 and stats["senders"][SLOW_SENDER]["accepted"] == 5
    # AND a ValidityPeriod Twilio does not take is 21624
    with pytest.raises(TwilioRestException) as invalid:
        client.messages.create(to=RECIPIENT, from_=SLOW_SENDER, body="x", validity_period=36001)
    assert (invalid.value.status, invalid.value.code) == (400, 21624)


def test_rejected_messages_do_not_take_a_turn(frozen: tuple[TwilioSimulator, FakeClock]) -> None:
    # GIVEN a sender of 1 mps
    sim, _ = frozen
    sim.add_number(SLOW_SENDER, ACCOUNT_SID, mps=1)
    # WHEN a send to an invalid number is rejected
    with pytest.raises(TwilioRestException):
        sdk(sim).messages.create(to="+15005550001", from_=SLOW_SENDER, body="x")
    # THEN the next valid send goes at once
    assert sdk(sim).messages.create(to=RECIPIENT, from_=SLOW_SENDER, body="ok").status == "queued"
    assert waits(sim) == [0.0]


def test_accounts_and_numbers_can_be_configured_over_http() -> None:
    with TwilioSimulator(clock=FakeClock()) as simulator:
        # GIVEN an account and a number (no mps given) set up over HTTP
        account = requests.post(
            f"{simulator.url}/sim/accounts",
            json={"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "concurrency": 7},
            timeout=WAIT,
        )
        assert account.status_code == 201 and account.json()["concurrency"] == 7
        number = requests.post(
            f"{simulator.url}/sim/numbers", json={"number": SENDER, "account_sid": ACCOUNT_SID}, timeout=WAIT
        )
        assert number.status_code == 201 and number.json()["mps"] == 1.0
        # WHEN two messages are sent at once
        client = sdk(simulator)
        client.messages.create(to=RECIPIENT, from_=SENDER, body="hi")
        second = client.messages.create(to=RECIPIENT, from_=SENDER, body="again")
        # THEN both are accepted, the second queued behind the first by the default 1 s of a 1-mps sender
        assert second.status == "queued"
        assert waits(simulator, SENDER) == [0.0, 1.0]
        # AND a bad concurrency is refused
        bad = requests.post(
            f"{simulator.url}/sim/accounts",
            json={"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "concurrency": 0},
            timeout=WAIT,
        )
        assert bad.status_code == 400


# ---------------------------------------------------------------- the account's concurrency


def fire(sim: TwilioSimulator, count: int, account: str = ACCOUNT_SID, token: str = AUTH_TOKEN) -> list[int]:
    """`count` creates sent at once from as many threads; the HTTP status of each (20429 for a 429 of that code)."""
    barrier = threading.Barrier(count)
    results: list[int] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        barrier.wait()
        answer = requests.post(
            f"{sim.url}/2010-04-01/Accounts/{account}/Messages.json",
            data={"To": RECIPIENT, "From": SENDER, "Body": f"c{i}"},
            auth=(account, token),
            timeout=WAIT,
        )
        code = answer.json().get("code") if answer.status_code == 429 else None
        with lock:
            results.append(20429 if code == 20429 else answer.status_code)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT + 1)
    return sorted(results)


def test_more_concurrent_requests_than_the_account_may_make_are_20429(live: TwilioSimulator) -> None:
    # GIVEN an account that may make 3 concurrent requests, each held open 400 ms
    answer = requests.post(f"{live.url}/sim/config", json={"account_concurrency": 3, "latency_ms": 400}, timeout=WAIT)
    assert answer.status_code == 200 and answer.json()["account_concurrency"] == 3
    # WHEN 6 creates arrive at once
    results = fire(live, 6)
    # THEN 3 are accepted and 3 refused 429 with 20429, which created nothing
    assert results == [201, 201, 201, 20429, 20429, 20429]
    assert len(live.messages()) == 3
    stats = live.stats()
    assert (stats["throttled"], stats["throttled_concurrency"], stats["peak_concurrency"]) == (3, 3, 3)
    # AND the slots are given back: one at a time, all get through
    live.configure(latency_ms=0)
    client = sdk(live)
    for i in range(5):
        client.messages.create(to=RECIPIENT, from_=SENDER, body=f"after{i}")
    assert len(live.messages()) == 8


def test_an_account_s_own_concurrency_limit_wins_over_the_default(live: TwilioSimulator) -> None:
    # GIVEN the account's own limit of 1 concurrent request (the default stays 100), each held open 400 ms
    live.add_account(ACCOUNT_SID, AUTH_TOKEN, concurrency=1)
    live.configure(latency_ms=400)
    # WHEN 3 creates arrive at once THEN 1 is accepted, 2 are 20429
    assert fire(live, 3) == [201, 20429, 20429]
