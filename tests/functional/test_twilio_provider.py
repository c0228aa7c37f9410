"""The Twilio provider module against the simulator over real HTTP: what each end of a send is classified as, and
what the Messages list (the provider's records) says about a hand-over. Also the simulator's records as Twilio
keeps them: filtered by To, From and DateSent, paged with next_page_uri, and its lost-answer faults."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from twilio.rest import Client

from chalicelib.adapters.providers.base import Outcome
from chalicelib.adapters.providers.twilio import TwilioProvider
from chalicelib.adapters.providers.twilio_http import RewritingTwilioHttpClient
from devstack.twilio_sim import TwilioSimulator
from tests.functional.test_simulator import Receiver

ACCOUNT_SID = "AC" + "b2" * 16
AUTH_TOKEN = "provider-test-token"
SENDER = "+15005550006"
OTHER_SENDER = "+15017122661"
A, B = "+41791234567", "+41791234568"
CALLBACK = "https://hooks.example.test/api/webhooks/twilio/ch_1/status?a=1&c=cmp_1&r=0"


class WallClock:
    """Twilio's clock for the messages it stamps; moves only when told to."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sim() -> Iterator[TwilioSimulator]:
    simulator = TwilioSimulator(callback_delay=0.005).start()
    simulator.add_account(ACCOUNT_SID, AUTH_TOKEN)
    simulator.add_number(SENDER, ACCOUNT_SID, mps=1000)
    simulator.add_number(OTHER_SENDER, ACCOUNT_SID, mps=1000)
    yield simulator
    simulator.stop()


@pytest.fixture
def client(sim: TwilioSimulator) -> Client:
    return Client(ACCOUNT_SID, AUTH_TOKEN, http_client=RewritingTwilioHttpClient(sim.url))


def provider(base: str, token: str = AUTH_TOKEN, timeout: float = 2.0) -> TwilioProvider:
    return TwilioProvider(ACCOUNT_SID, token, api_base=base, timeout=timeout)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def send(p: TwilioProvider, to: str = A, text: str = "hello") -> Any:
    return p.send(to=to, sender=SENDER, text=text, media_urls=(), status_callback=CALLBACK)


# ---------------------------------------------------------------------------------- what a send ends in
def test_a_refused_connection_provably_never_left_and_may_be_tried_again() -> None:
    # GIVEN nothing listens where the provider should be WHEN a message is sent
    result = send(provider(f"http://127.0.0.1:{closed_port()}"))
    # THEN it is TRANSIENT (safe to try again at once), not uncertain
    assert (result.outcome, result.error_code) == (Outcome.TRANSIENT, "provider_unreachable")


def test_an_answer_after_the_client_timeout_is_uncertain_and_the_provider_has_the_message(
    sim: TwilioSimulator,
) -> None:
    # GIVEN Twilio answers after the client has given up
    sim.configure(latency_ms=800)
    # WHEN a message is sent
    result = send(provider(sim.url, timeout=0.3))
    # THEN the outcome is uncertain, and indeed Twilio accepted it
    assert (result.outcome, result.error_code) == (Outcome.UNCERTAIN, "provider_timeout")
    assert [m["to"] for m in sim.messages()] == [A]


def test_a_connection_reset_after_accepting_is_uncertain(sim: TwilioSimulator) -> None:
    # GIVEN Twilio accepts the next message but resets the connection instead of answering
    sim.configure(reset_after_accept_next=1)
    # WHEN two messages are sent
    first, second = send(provider(sim.url)), send(provider(sim.url), to=B)
    # THEN the first is uncertain (and at Twilio), the second accepted normally
    assert (first.outcome, first.error_code) == (Outcome.UNCERTAIN, "provider_no_answer")
    assert second.outcome == Outcome.ACCEPTED
    assert [m["to"] for m in sim.messages()] == [A, B]
    assert sim.stats()["resets_after_accept"] == 1


@pytest.mark.parametrize(
    ("configure", "to", "token", "outcome", "code"),
    [
        ({"server_error_next": 1}, A, AUTH_TOKEN, Outcome.UNCERTAIN, "20500"),  # may have been queued
        ({"throttle_next": 1}, A, AUTH_TOKEN, Outcome.THROTTLED, "20429"),
        ({}, "+15005550001", AUTH_TOKEN, Outcome.PERMANENT, "21211"),
        ({}, A, "wrong-token", Outcome.ACCOUNT, "20003"),
        # A token no Authorization header can carry: the request is never built, and it is the account's problem.
        ({}, A, "tok€n", Outcome.ACCOUNT, "invalid_credentials"),
    ],
)
def test_answers_and_refusals_are_classified(
    sim: TwilioSimulator, configure: dict[str, Any], to: str, token: str, outcome: Outcome, code: str
) -> None:
    # GIVEN the provider set up to answer one way
    sim.configure(**configure)
    # WHEN a message is sent
    result = send(provider(sim.url, token=token), to=to)
    # THEN the outcome and code say what to do next, and nothing refused is at Twilio
    assert (result.outcome, result.error_code) == (outcome, code)
    assert sim.messages() == []


# ---------------------------------------------------------------------------------- the provider's records
def test_a_hand_over_is_found_in_the_records_with_its_id_and_status(sim: TwilioSimulator) -> None:
    # GIVEN a message sent and delivered
    since = time.time()
    p = provider(sim.url)
    sid = send(p).message_id
    assert sim.wait_for_callbacks(5)
    # WHEN the records are searched for it
    found = p.find(to=A, sender=SENDER, text="hello", media_count=0, since=since)
    # THEN it is found with its sid and status
    assert (found.found, found.message_id, found.status) == (True, sid, "delivered")


def test_a_failed_message_is_found_with_its_error(sim: TwilioSimulator) -> None:
    # GIVEN a message Twilio accepted and the carrier then refused
    sim.configure(undelivered={A: 30003})
    since = time.time()
    p = provider(sim.url)
    send(p)
    assert sim.wait_for_callbacks(5)
    # WHEN / THEN it is found undelivered, with the code
    found = p.find(to=A, sender=SENDER, text="hello", media_count=0, since=since)
    assert (found.found, found.status, found.error_code) == (True, "undelivered", "30003")


def test_records_without_the_message_prove_it_absent(sim: TwilioSimulator) -> None:
    # GIVEN Twilio's clock, and messages that are not the one looked for: to another number, from another sender,
    # and one of the same text to the same number from before the claim
    wall = WallClock(time.time())
    sim.wall_clock = wall
    p = provider(sim.url)
    send(p, text="hello")  # before the claim
    wall.now += 60
    since = wall.now
    send(p, to=B, text="hello")
    p.send(to=A, sender=OTHER_SENDER, text="hello", media_urls=(), status_callback=CALLBACK)
    # WHEN the records are searched for "hello" to A from SENDER since the claim
    found = p.find(to=A, sender=SENDER, text="hello", media_count=0, since=since)
    # THEN it is provably absent
    assert found.found is False


def test_another_message_to_the_number_since_the_claim_means_cant_tell_not_absent(sim: TwilioSimulator) -> None:
    # GIVEN a message to the number from our sender since the claim, whose text is not ours (Twilio may have altered
    # ours, say with a Messaging Service's opt-out footer)
    since = time.time()
    p = provider(sim.url)
    send(p, text="hello\nReply STOP to unsubscribe")
    # WHEN the records are searched for "hello" THEN the answer is "can't tell": never absent, never a resend
    assert p.find(to=A, sender=SENDER, text="hello", media_count=0, since=since).found is None


def test_a_message_still_queued_behind_older_sent_ones_is_found(sim: TwilioSimulator) -> None:
    # GIVEN yesterday's message to the number (sent), and ours, accepted today but still in Twilio's queue (no
    # DateSent yet: the list, sorted by DateSent, holds it after the older one)
    wall = WallClock(time.time() - 86400)
    sim.wall_clock = wall
    p = provider(sim.url)
    send(p, text="yesterday")
    assert sim.wait_for_callbacks(5)
    wall.now += 86400
    since = wall.now
    sim.configure(callback_delay_ms=60_000)
    ours = send(p, text="today").message_id
    listed = requests.get(
        f"{sim.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json",
        params={"To": A},
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=5,
    ).json()["messages"]
    assert [m["body"] for m in listed] == ["yesterday", "today"]
    # WHEN the records are searched for it THEN it is found (queued at Twilio: recorded as sent)
    found = p.find(to=A, sender=SENDER, text="today", media_count=0, since=since)
    assert (found.found, found.message_id, found.status) == (True, ours, "sent")


def test_a_success_answer_without_a_message_is_uncertain() -> None:
    # GIVEN a server in Twilio's place that answers 201 with an empty JSON object
    class Empty(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Empty)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        # WHEN a message is sent THEN it is uncertain (no id to follow), not accepted
        result = send(provider(f"http://127.0.0.1:{server.server_address[1]}"))
        assert (result.outcome, result.message_id) == (Outcome.UNCERTAIN, None)
    finally:
        server.shutdown()


def test_a_hand_over_behind_a_page_of_newer_messages_is_still_found(sim: TwilioSimulator) -> None:
    # GIVEN our message, then 60 newer ones to the same number from the same sender (more than one page)
    since = time.time()
    p = provider(sim.url)
    ours = send(p, text="ours").message_id
    for i in range(60):
        send(p, text=f"later {i}")
    # WHEN the records are searched THEN the SDK pages back to it
    found = p.find(to=A, sender=SENDER, text="ours", media_count=0, since=since)
    assert (found.found, found.message_id) == (True, ours)


def test_records_that_cannot_be_read_say_nothing() -> None:
    # GIVEN the provider is unreachable WHEN its records are searched THEN the answer is "can't tell", not absent
    found = provider(f"http://127.0.0.1:{closed_port()}").find(
        to=A, sender=SENDER, text="hello", media_count=0, since=time.time()
    )
    assert found.found is None


# ---------------------------------------------------------------------------------- the simulator's Messages list
def test_the_messages_list_filters_by_to_and_from_and_pages_like_twilio(sim: TwilioSimulator, client: Client) -> None:
    # GIVEN three messages to A and one to B from SENDER, and one to A from another sender, all sent in one second
    # of Twilio's clock (within a DateSent second, the newest comes first)
    sim.wall_clock = WallClock(time.time())
    for body in ("1", "2", "3"):
        client.messages.create(to=A, from_=SENDER, body=body)
    client.messages.create(to=B, from_=SENDER, body="b")
    client.messages.create(to=A, from_=OTHER_SENDER, body="other")
    assert sim.wait_for_callbacks(5)
    # WHEN the list is read two at a time, filtered by To and From
    first = requests.get(
        f"{sim.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json",
        params={"To": A, "From": SENDER, "PageSize": 2},
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=5,
    ).json()
    # THEN the first page holds the newest two and names the next page, which holds the rest
    assert [m["body"] for m in first["messages"]] == ["3", "2"]
    assert first["next_page_uri"].startswith(f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json?")
    assert "PageToken=PA" in first["next_page_uri"] and "To=%2B41791234567" in first["next_page_uri"]
    second = requests.get(sim.url + first["next_page_uri"], auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5).json()
    assert [m["body"] for m in second["messages"]] == ["1"] and second["next_page_uri"] is None
    # AND the SDK follows the pages by itself
    assert [m.body for m in client.messages.list(to=A, from_=SENDER, page_size=2)] == ["3", "2", "1"]


def test_the_messages_list_filters_by_date_sent_and_leaves_out_messages_not_sent_yet(
    sim: TwilioSimulator, client: Client
) -> None:
    # GIVEN Twilio's clock on 30 November, a message sent then; and one sent on 1 December
    wall = WallClock(datetime(2026, 11, 30, 12, 0, tzinfo=UTC).timestamp())
    sim.wall_clock = wall
    client.messages.create(to=A, from_=SENDER, body="november")
    assert sim.wait_for_callbacks(5)
    wall.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC).timestamp()
    client.messages.create(to=A, from_=SENDER, body="december")
    assert sim.wait_for_callbacks(5)
    # AND one still queued (sent later): it has no DateSent yet
    sim.configure(callback_delay_ms=60_000)
    client.messages.create(to=A, from_=SENDER, body="queued")

    def bodies(**filters: Any) -> list[str]:
        return [m.body for m in client.messages.list(to=A, **filters)]

    def raw(query: str) -> list[str]:
        url = f"{sim.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json?{query}"
        return [m["body"] for m in requests.get(url, auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5).json()["messages"]]

    # WHEN / THEN the list is by DateSent, newest first (the one not sent yet after those sent); DateSent is a GMT
    # day, DateSent< on or before, DateSent> on or after; the queued one is never in a DateSent filter
    assert bodies() == ["december", "november", "queued"]
    assert raw("DateSent=2026-12-01") == ["december"]
    assert raw("DateSent<=2026-11-30") == ["november"]
    assert raw("DateSent>=2026-11-30") == ["december", "november"]
    assert bodies(date_sent_after=datetime(2026, 12, 1, 8, 59, tzinfo=UTC)) == ["december"]
    assert bodies(date_sent_before=datetime(2026, 12, 1, 8, 59, tzinfo=UTC)) == ["november"]
    assert bodies(date_sent=datetime(2026, 11, 30, tzinfo=UTC)) == ["november"]
    bad = requests.get(
        f"{sim.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json?DateSent=yesterday",
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=5,
    )
    assert bad.status_code == 400 and bad.json()["code"] == 20001


def test_drop_callbacks_next_accepts_without_ever_calling_back(sim: TwilioSimulator, client: Client) -> None:
    # GIVEN the next accepted message gets no status callback, and a receiver for callbacks
    receiver = Receiver()
    try:
        requests.post(f"{sim.url}/sim/config", json={"drop_callbacks_next": 1}, timeout=5).raise_for_status()
        # WHEN two messages are sent
        dropped = client.messages.create(to=A, from_=SENDER, body="x", status_callback=receiver.url + "/a")
        kept = client.messages.create(to=B, from_=SENDER, body="y", status_callback=receiver.url + "/b")
        assert sim.wait_for_callbacks(5)
        # THEN only the second's callbacks came, though both were accepted and sent on
        assert {p.params["MessageSid"] for p in receiver.posts} == {kept.sid}
        assert {m["sid"]: m["status"] for m in sim.messages()} == {dropped.sid: "delivered", kept.sid: "delivered"}
    finally:
        receiver.stop()
