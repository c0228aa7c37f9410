"""The Twilio provider simulator, driven over real HTTP through the real twilio SDK."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from chalicelib.adapters.providers.twilio_http import RewritingTwilioHttpClient
from devstack.twilio_sim import TwilioSimulator

ACCOUNT_SID = "AC" + "a1" * 16
AUTH_TOKEN = "test-auth-token"
SENDER = "+15005550006"
SLOW_SENDER = "+15017122661"
RECIPIENT = "+41791234567"
WAIT = 5.0


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Received:
    url: str
    params: dict[str, str]
    signature: str | None
    idempotency_token: str | None
    answered: int


class Receiver:
    """A tiny HTTP server on 127.0.0.1 that records form posts, failing the first `fail_first` with 503."""

    def __init__(self, fail_first: int = 0) -> None:
        self.posts: list[Received] = []
        self.fail_first = fail_first
        self.expected = 1
        self.done = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                params = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
                status = receiver._record(
                    f"http://127.0.0.1:{receiver.port}{self.path}",
                    params,
                    self.headers.get("X-Twilio-Signature"),
                    self.headers.get("I-Twilio-Idempotency-Token"),
                )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def _record(self, url: str, params: dict[str, str], signature: str | None, token: str | None) -> int:
        with self._lock:
            answered = 503 if self.fail_first > 0 else 200
            self.fail_first -= 1
            self.posts.append(Received(url, params, signature, token, answered))
            if sum(p.answered == 200 for p in self.posts) >= self.expected:
                self.done.set()
            return answered

    def expect(self, count: int) -> threading.Event:
        """An event set once `count` posts have been answered 200."""
        self.expected = count
        return self.done

    def ok_posts(self) -> list[Received]:
        with self._lock:
            return [p for p in self.posts if p.answered == 200]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class MediaServer:
    """A tiny HTTP server on 127.0.0.1 serving media files by path (404 for others), recording each GET."""

    def __init__(self, files: dict[str, tuple[str, bytes]]) -> None:
        self.files = files  # path -> (Content-Type, body)
        self.gets: list[str] = []
        self.on_get: Any = None  # called at each GET, before answering (to see what has happened by then)
        self.seen: list[Any] = []
        media = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                media.gets.append(self.path)
                if media.on_get is not None:
                    media.seen.append(media.on_get())
                content_type, body = media.files.get(self.path, ("text/plain", b"not found"))
                self.send_response(200 if self.path in media.files else 404)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
MB = 1024 * 1024


def signature_valid(post: Received, token: str = AUTH_TOKEN) -> bool:
    return post.signature is not None and RequestValidator(token).validate(post.url, post.params, post.signature)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim(clock: FakeClock) -> Iterator[TwilioSimulator]:
    simulator = TwilioSimulator(clock=clock, callback_delay=0.005, retry_backoff=(0.01, 0.02, 0.05))
    simulator.start()
    simulator.add_account(ACCOUNT_SID, AUTH_TOKEN)
    simulator.add_number(SENDER, ACCOUNT_SID, mps=1000)
    yield simulator
    simulator.stop()


@pytest.fixture
def client(sim: TwilioSimulator) -> Client:
    return Client(ACCOUNT_SID, AUTH_TOKEN, http_client=RewritingTwilioHttpClient(sim.url))


@pytest.fixture
def media() -> Iterator[MediaServer]:
    server = MediaServer(
        {
            "/a.png": ("image/png", PNG),
            "/b.jpg": ("image/jpeg", b"\xff\xd8\xff" + b"j" * 997),
            "/page.html": ("text/html; charset=utf-8", b"<html></html>"),
            "/big1.jpg": ("image/jpeg", b"\xff" * (3 * MB)),
            "/big2.jpg": ("image/jpeg", b"\xff" * (3 * MB)),
        }
    )
    yield server
    server.stop()


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------- the rewriting HTTP client


def test_rewriting_client_moves_twilio_urls_onto_the_base_url_and_leaves_others_alone() -> None:
    # GIVEN a client pointed at a local base URL
    http = RewritingTwilioHttpClient("http://127.0.0.1:8001")
    # WHEN / THEN twilio.com URLs keep path and query but change scheme and host
    assert (
        http.rewrite_url("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?PageSize=5")
        == "http://127.0.0.1:8001/2010-04-01/Accounts/AC1/Messages.json?PageSize=5"
    )
    assert http.rewrite_url("https://messaging.twilio.com/v1/Services") == "http://127.0.0.1:8001/v1/Services"
    assert http.rewrite_url("https://example.com/2010-04-01/x") == "https://example.com/2010-04-01/x"
    assert http.rewrite_url("https://evil-twilio.com/x") == "https://evil-twilio.com/x"


# ---------------------------------------------------------------- sending


def test_send_to_a_normal_number_is_accepted_and_listed(sim: TwilioSimulator, client: Client) -> None:
    # WHEN a message is sent through the real SDK
    message = client.messages.create(to=RECIPIENT, from_=SENDER, body="Hello from the PBX")

    # THEN it is a queued Twilio message resource
    assert message.sid.startswith("SM") and len(message.sid) == 34
    assert message.status == "queued"
    assert message.to == RECIPIENT and message.from_ == SENDER and message.body == "Hello from the PBX"
    assert message.account_sid == ACCOUNT_SID and message.direction == "outbound-api"
    assert message.date_created is not None and message.error_code is None
    # AND it shows in GET /sim/messages
    items = requests.get(f"{sim.url}/sim/messages", timeout=WAIT).json()["items"]
    assert [(i["sid"], i["to"], i["from"], i["body"]) for i in items] == [
        (message.sid, RECIPIENT, SENDER, "Hello from the PBX")
    ]
    assert isinstance(items[0]["created_at"], float)
    # AND it can be fetched back
    assert client.messages(message.sid).fetch().sid == message.sid
    stats = requests.get(f"{sim.url}/sim/stats", timeout=WAIT).json()
    assert stats["accepted"] == 1 and stats["first_accepted_at"] == items[0]["created_at"]


def test_media_urls_are_recorded(sim: TwilioSimulator, client: Client, media: MediaServer) -> None:
    # WHEN an MMS with two media URLs and no body is sent
    urls = [f"{media.url}/a.png", f"{media.url}/b.jpg"]
    message = client.messages.create(to=RECIPIENT, from_=SENDER, media_url=urls)
    # THEN the resource counts them and the simulator keeps them
    assert message.num_media == "2"
    assert sim.messages()[0]["media_urls"] == urls


@pytest.mark.parametrize(
    ("to", "code"),
    [
        ("+15005550001", 21211),
        ("+15005550002", 21612),
        ("+15005550003", 21408),
        ("+15005550004", 21610),
        ("+15005550009", 21614),
    ],
)
def test_twilio_test_numbers_fail_with_their_error_codes(
    sim: TwilioSimulator, client: Client, to: str, code: int
) -> None:
    # WHEN sending to one of Twilio's magic failing numbers
    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(to=to, from_=SENDER, body="hi")
    # THEN the SDK raises Twilio's error, and nothing was accepted
    assert raised.value.code == code
    assert raised.value.status == 400
    assert sim.messages() == []
    assert sim.stats()["rejected"] == 1


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"to": "12345", "from_": SENDER, "body": "hi"}, 21211),
        ({"to": RECIPIENT, "from_": SENDER}, 21602),
        ({"to": RECIPIENT, "from_": "+15550000000", "body": "hi"}, 21606),
    ],
)
def test_invalid_parameters_are_rejected(
    sim: TwilioSimulator, client: Client, kwargs: dict[str, str], code: int
) -> None:
    # WHEN the request is invalid (bad To, no body or media, a From the account does not own)
    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(**kwargs)
    # THEN Twilio's error code comes back with 400
    assert (raised.value.code, raised.value.status) == (code, 400)
    assert sim.messages() == []


def test_missing_to_is_21604(sim: TwilioSimulator) -> None:
    # WHEN a raw create has no To
    response = requests.post(
        f"{sim.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json",
        data={"From": SENDER, "Body": "hi"},
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=WAIT,
    )
    # THEN the body has exactly Twilio's error shape
    assert response.status_code == 400
    assert response.json() == {
        "code": 21604,
        "message": "A 'To' phone number is required.",
        "more_info": "https://www.twilio.com/docs/errors/21604",
        "status": 400,
    }


def test_wrong_auth_token_is_20003(sim: TwilioSimulator) -> None:
    # GIVEN a client with the wrong auth token
    bad = Client(ACCOUNT_SID, "not-the-token", http_client=RewritingTwilioHttpClient(sim.url))
    # WHEN it sends
    with pytest.raises(TwilioRestException) as raised:
        bad.messages.create(to=RECIPIENT, from_=SENDER, body="hi")
    # THEN Twilio's authentication error is raised and nothing is accepted
    assert (raised.value.code, raised.value.status) == (20003, 401)
    assert sim.messages() == []


def test_path_account_must_match_the_credentials(sim: TwilioSimulator) -> None:
    # WHEN valid credentials post to another account's path
    response = requests.post(
        f"{sim.url}/2010-04-01/Accounts/ACother/Messages.json",
        data={"To": RECIPIENT, "From": SENDER, "Body": "hi"},
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=WAIT,
    )
    # THEN it is 401 / 20003
    assert response.status_code == 401 and response.json()["code"] == 20003


def test_fetching_an_unknown_message_is_20404(client: Client) -> None:
    with pytest.raises(TwilioRestException) as raised:
        client.messages("SM" + "0" * 32).fetch()
    assert (raised.value.code, raised.value.status) == (20404, 404)


# ---------------------------------------------------------------- injected faults (the senders' queues and the
# account's concurrency: test_simulator_queue.py; the rate-based fault knobs: test_simulator_faults.py)


def test_throttle_next_and_server_error_next_inject_failures(sim: TwilioSimulator, client: Client) -> None:
    # GIVEN the simulator is told over HTTP to throttle one create and fail one with 500
    response = requests.post(f"{sim.url}/sim/config", json={"throttle_next": 1, "server_error_next": 1}, timeout=WAIT)
    assert response.status_code == 200 and response.json()["throttle_next"] == 1
    # WHEN three messages are sent
    with pytest.raises(TwilioRestException) as first:
        client.messages.create(to=RECIPIENT, from_=SENDER, body="a")
    with pytest.raises(TwilioRestException) as second:
        client.messages.create(to=RECIPIENT, from_=SENDER, body="b")
    client.messages.create(to=RECIPIENT, from_=SENDER, body="c")
    # THEN the first two fail as injected and only the third is accepted
    assert {(first.value.code, first.value.status), (second.value.code, second.value.status)} == {
        (20500, 500),
        (20429, 429),
    }
    assert [m["body"] for m in sim.messages()] == ["c"]


def test_latency_is_injected_before_answering(sim: TwilioSimulator, client: Client) -> None:
    # GIVEN 150 ms of latency
    sim.configure(latency_ms=150)
    # WHEN a message is sent
    started = time.monotonic()
    client.messages.create(to=RECIPIENT, from_=SENDER, body="slow")
    # THEN the answer took at least that long
    assert time.monotonic() - started >= 0.14


# ---------------------------------------------------------------- MMS media


def test_mms_media_is_fetched_before_the_first_callback_and_listed(
    sim: TwilioSimulator, client: Client, receiver: Receiver, media: MediaServer
) -> None:
    # GIVEN two media files the simulator can fetch, and a record of the callbacks posted by each fetch
    urls = [f"{media.url}/a.png", f"{media.url}/b.jpg"]
    media.on_get = lambda: len(receiver.posts)
    done = receiver.expect(2)
    # WHEN an MMS is sent with them
    message = client.messages.create(
        to=RECIPIENT, from_=SENDER, body="see", media_url=urls, status_callback=f"{receiver.url}/s"
    )
    # THEN each URL was fetched once, before any status callback, and the message was delivered
    assert done.wait(WAIT)
    assert media.gets == ["/a.png", "/b.jpg"]
    assert media.seen == [0, 0]
    assert [p.params["MessageStatus"] for p in receiver.ok_posts()] == ["sent", "delivered"]
    # AND GET /sim/messages shows what was fetched
    assert sim.wait_for_callbacks(WAIT)
    (item,) = requests.get(f"{sim.url}/sim/messages", timeout=WAIT).json()["items"]
    assert item["media"] == [
        {"url": urls[0], "status": "fetched", "bytes": len(PNG), "content_type": "image/png", "http_status": 200},
        {"url": urls[1], "status": "fetched", "bytes": 1000, "content_type": "image/jpeg", "http_status": 200},
    ]
    fetched = client.messages(message.sid).fetch()
    assert (fetched.status, fetched.num_media, fetched.error_code) == ("delivered", "2", None)


def test_a_media_url_answering_404_fails_the_message_with_11200(
    sim: TwilioSimulator, client: Client, receiver: Receiver, media: MediaServer
) -> None:
    # GIVEN a media URL that answers 404 followed by one that works
    urls = [f"{media.url}/gone.png", f"{media.url}/a.png"]
    done = receiver.expect(1)
    # WHEN an MMS is sent with them
    message = client.messages.create(to=RECIPIENT, from_=SENDER, media_url=urls, status_callback=f"{receiver.url}/s")
    # THEN it was accepted, then failed with 11200 (HTTP retrieval failure) without ever being sent
    assert message.status == "queued"
    assert done.wait(WAIT)
    assert sim.wait_for_callbacks(WAIT)
    posts = receiver.ok_posts()
    assert [(p.params["MessageStatus"], p.params.get("ErrorCode")) for p in posts] == [("failed", "11200")]
    assert signature_valid(posts[0])
    fetched = client.messages(message.sid).fetch()
    assert (fetched.status, fetched.error_code, fetched.date_sent) == ("failed", 11200, None)
    # AND the listing says which URL failed; the rest were not fetched
    assert media.gets == ["/gone.png"]
    assert [(m["url"], m["status"], m["http_status"]) for m in sim.messages()[0]["media"]] == [
        (urls[0], "failed", 404),
        (urls[1], "skipped", None),
    ]


def test_an_unreachable_media_url_fails_the_message_with_11200(
    sim: TwilioSimulator, client: Client, receiver: Receiver
) -> None:
    # GIVEN a media URL on a port nothing listens on
    url = f"http://127.0.0.1:{closed_port()}/a.png"
    # WHEN an MMS is sent with it
    client.messages.create(to=RECIPIENT, from_=SENDER, media_url=[url], status_callback=f"{receiver.url}/s")
    # THEN the connection error fails it with 11200
    assert receiver.expect(1).wait(WAIT)
    assert sim.wait_for_callbacks(WAIT)
    (item,) = sim.messages()
    assert (item["status"], item["error_code"]) == ("failed", 11200)
    assert item["media"] == [{"url": url, "status": "failed", "bytes": None, "content_type": None, "http_status": None}]


def test_media_of_a_content_type_twilio_does_not_take_fails_with_12300(
    sim: TwilioSimulator, client: Client, media: MediaServer
) -> None:
    # WHEN an MMS points at an HTML page
    client.messages.create(to=RECIPIENT, from_=SENDER, media_url=[f"{media.url}/page.html"])
    # THEN it fails with 12300 (Invalid Content-Type), the type it got on record
    assert sim.wait_for_callbacks(WAIT)
    (item,) = sim.messages()
    assert (item["status"], item["error_code"]) == ("failed", 12300)
    assert item["media"][0]["status"] == "invalid_content_type"
    assert item["media"][0]["content_type"] == "text/html; charset=utf-8"


def test_media_over_5_mb_in_total_fails_with_11751(sim: TwilioSimulator, client: Client, media: MediaServer) -> None:
    # WHEN an MMS carries two 3 MB images (each under the limit, together over 5 MB)
    urls = [f"{media.url}/big1.jpg", f"{media.url}/big2.jpg"]
    client.messages.create(to=RECIPIENT, from_=SENDER, media_url=urls)
    # THEN it fails with 11751 (media exceeds the messaging provider's size limit) on the second one
    assert sim.wait_for_callbacks(WAIT)
    (item,) = sim.messages()
    assert (item["status"], item["error_code"]) == ("failed", 11751)
    assert [m["status"] for m in item["media"]] == ["fetched", "too_large"]
    assert item["media"][0]["bytes"] == 3 * MB
    # AND the simulator stopped reading at the limit
    assert item["media"][0]["bytes"] + item["media"][1]["bytes"] <= 5 * MB + 64 * 1024


def test_an_sms_fetches_nothing_and_an_mms_under_5_mb_is_delivered(
    sim: TwilioSimulator, client: Client, media: MediaServer
) -> None:
    # WHEN a text and an MMS with exactly one 3 MB image are sent
    client.messages.create(to=RECIPIENT, from_=SENDER, body="text only")
    client.messages.create(to=RECIPIENT, from_=SENDER, media_url=[f"{media.url}/big1.jpg"])
    # THEN both are delivered; only the image was fetched
    assert sim.wait_for_callbacks(WAIT)
    assert [(m["status"], len(m["media"])) for m in sim.messages()] == [("delivered", 0), ("delivered", 1)]
    assert media.gets == ["/big1.jpg"]


@pytest.mark.parametrize(
    ("media_urls", "code"),
    [
        (["ftp://example.com/a.png"], 21620),
        ([f"http://127.0.0.1:9/{i}.png" for i in range(11)], 21623),
    ],
)
def test_invalid_media_urls_are_rejected_at_create(
    sim: TwilioSimulator, client: Client, media_urls: list[str], code: int
) -> None:
    # WHEN an MMS names a non-HTTP media URL, or more than 10 of them
    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(to=RECIPIENT, from_=SENDER, media_url=media_urls)
    # THEN Twilio's 400 with its code is answered and nothing is queued
    assert (raised.value.status, raised.value.code) == (400, code)
    assert sim.messages() == []


# ---------------------------------------------------------------- status callbacks


def test_status_callbacks_arrive_in_order_and_are_signed(
    sim: TwilioSimulator, client: Client, receiver: Receiver
) -> None:
    # GIVEN a status callback URL with a query string
    callback = f"{receiver.url}/twilio/status?tenant=tn_1&campaign=c_1"
    done = receiver.expect(2)
    # WHEN a message is sent
    message = client.messages.create(to=RECIPIENT, from_=SENDER, body="hi", status_callback=callback)
    # THEN sent then delivered are posted to it
    assert done.wait(WAIT)
    posts = receiver.ok_posts()
    assert [p.params["MessageStatus"] for p in posts] == ["sent", "delivered"]
    for post in posts:
        assert post.url == callback
        assert post.params["MessageSid"] == post.params["SmsSid"] == message.sid
        assert post.params["SmsStatus"] == post.params["MessageStatus"]
        assert post.params["AccountSid"] == ACCOUNT_SID
        assert (post.params["From"], post.params["To"], post.params["ApiVersion"]) == (SENDER, RECIPIENT, "2010-04-01")
        assert "ErrorCode" not in post.params
        # AND each is signed with the account's auth token
        assert signature_valid(post)
        assert not signature_valid(post, token="another-token")
    # AND the message resource reflects the final status
    assert sim.wait_for_callbacks(WAIT)
    assert client.messages(message.sid).fetch().status == "delivered"


def test_configured_undelivered_number_fails_with_its_error_code(
    sim: TwilioSimulator, client: Client, receiver: Receiver
) -> None:
    # GIVEN the recipient is configured to be undeliverable with 30003
    sim.configure(undelivered={RECIPIENT: 30003})
    done = receiver.expect(2)
    # WHEN a message is sent to it
    message = client.messages.create(to=RECIPIENT, from_=SENDER, body="hi", status_callback=f"{receiver.url}/s")
    # THEN it was accepted, and callbacks go sent then undelivered with ErrorCode 30003
    assert message.status == "queued"
    assert done.wait(WAIT)
    posts = receiver.ok_posts()
    assert [(p.params["MessageStatus"], p.params.get("ErrorCode")) for p in posts] == [
        ("sent", None),
        ("undelivered", "30003"),
    ]
    assert all(signature_valid(p) for p in posts)
    assert sim.wait_for_callbacks(WAIT)
    assert sim.messages()[0]["status"] == "undelivered" and sim.messages()[0]["error_code"] == 30003


def test_failed_callbacks_are_retried_and_order_is_kept(sim: TwilioSimulator, client: Client) -> None:
    # GIVEN a receiver that answers 503 to the first post
    receiver = Receiver(fail_first=1)
    try:
        done = receiver.expect(2)
        # WHEN a message is sent
        client.messages.create(to=RECIPIENT, from_=SENDER, body="hi", status_callback=f"{receiver.url}/s")
        # THEN "sent" is retried before "delivered" is posted, with the same idempotency token
        assert done.wait(WAIT)
        assert [(p.params["MessageStatus"], p.answered) for p in receiver.posts] == [
            ("sent", 503),
            ("sent", 200),
            ("delivered", 200),
        ]
        assert receiver.posts[0].idempotency_token == receiver.posts[1].idempotency_token
    finally:
        receiver.stop()


def test_no_callbacks_still_advances_the_status(sim: TwilioSimulator, client: Client, receiver: Receiver) -> None:
    # GIVEN callbacks are switched off
    sim.configure(no_callbacks=True)
    # WHEN a message with a callback URL is sent and processed
    client.messages.create(to=RECIPIENT, from_=SENDER, body="hi", status_callback=f"{receiver.url}/s")
    assert sim.wait_for_callbacks(WAIT)
    # THEN nothing was posted but the message was delivered
    assert receiver.posts == []
    assert sim.messages()[0]["status"] == "delivered"


def test_a_campaign_uses_a_bounded_pool_of_callback_threads(clock: FakeClock, receiver: Receiver) -> None:
    # GIVEN a simulator whose callbacks wait long enough for all messages to be pending at once
    with TwilioSimulator(clock=clock, callback_delay=0.3) as simulator:
        simulator.add_account(ACCOUNT_SID, AUTH_TOKEN)
        simulator.add_number(SENDER, ACCOUNT_SID, mps=10_000)
        client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=RewritingTwilioHttpClient(simulator.url))
        baseline = threading.active_count()
        done = receiver.expect(200)
        # WHEN 100 messages are sent
        for i in range(100):
            client.messages.create(to=RECIPIENT, from_=SENDER, body=f"m{i}", status_callback=f"{receiver.url}/s")
        peak = threading.active_count()
        # THEN every callback arrives, without a thread per message
        assert done.wait(WAIT)
        assert peak - baseline < 10
        posts = receiver.ok_posts()
        per_message: dict[str, list[str]] = {}
        for post in posts:
            per_message.setdefault(post.params["MessageSid"], []).append(post.params["MessageStatus"])
        assert len(per_message) == 100
        assert all(statuses == ["sent", "delivered"] for statuses in per_message.values())


# ---------------------------------------------------------------- inbound messages


def test_inbound_posts_a_signed_incoming_message_webhook(sim: TwilioSimulator, receiver: Receiver) -> None:
    # GIVEN the number has an inbound webhook URL
    inbound_url = f"{receiver.url}/twilio/inbound"
    response = requests.post(
        f"{sim.url}/sim/numbers",
        json={"number": SENDER, "account_sid": ACCOUNT_SID, "mps": 1000, "inbound_url": inbound_url},
        timeout=WAIT,
    )
    assert response.status_code == 201
    # WHEN someone texts the number
    response = requests.post(
        f"{sim.url}/sim/inbound", json={"from": "+41415084545", "to": SENDER, "body": "Yes please"}, timeout=WAIT
    )
    # THEN the service's webhook got Twilio's incoming-message form, signed
    assert response.status_code == 200
    result = response.json()
    assert result["status"] == 200 and result["message_sid"].startswith("SM")
    [post] = receiver.posts
    assert post.url == inbound_url
    assert (post.params["From"], post.params["To"], post.params["Body"]) == ("+41415084545", SENDER, "Yes please")
    assert post.params["MessageSid"] == post.params["SmsSid"] == result["message_sid"]
    assert (post.params["SmsStatus"], post.params["NumMedia"], post.params["AccountSid"]) == (
        "received",
        "0",
        ACCOUNT_SID,
    )
    assert (post.params["FromCountry"], post.params["ToCountry"]) == ("CH", "US")
    assert signature_valid(post)


def test_inbound_with_media_lists_media_urls(sim: TwilioSimulator, receiver: Receiver) -> None:
    sim.add_number(SENDER, ACCOUNT_SID, mps=1000, inbound_url=f"{receiver.url}/in")
    status, result = sim.inbound("+41415084545", SENDER, "", ["https://example.com/photo.png"])
    assert status == 200 and result["message_sid"].startswith("MM")
    [post] = receiver.posts
    assert (post.params["NumMedia"], post.params["MediaUrl0"], post.params["MediaContentType0"]) == (
        "1",
        "https://example.com/photo.png",
        "image/png",
    )
    assert signature_valid(post)


def test_inbound_to_an_unknown_number_or_with_a_bad_body_is_refused(sim: TwilioSimulator) -> None:
    unknown = requests.post(f"{sim.url}/sim/inbound", json={"from": "+41415084545", "to": "+15550001111"}, timeout=WAIT)
    assert unknown.status_code == 404 and "error" in unknown.json()
    malformed = requests.post(f"{sim.url}/sim/inbound", data=b"{not json", timeout=WAIT)
    assert malformed.status_code == 400
    missing_from = requests.post(f"{sim.url}/sim/inbound", json={"to": SENDER, "body": "x"}, timeout=WAIT)
    assert missing_from.status_code == 400


# ---------------------------------------------------------------- control plane


def test_reset_clears_messages_and_optionally_everything(sim: TwilioSimulator, client: Client) -> None:
    # GIVEN an accepted message and some config
    client.messages.create(to=RECIPIENT, from_=SENDER, body="hi")
    sim.configure(throttle_next=5)
    # WHEN reset over HTTP
    assert requests.post(f"{sim.url}/sim/reset", timeout=WAIT).status_code == 200
    # THEN messages and config are gone but the account and number still work
    assert sim.messages() == [] and sim.stats()["accepted"] == 0
    client.messages.create(to=RECIPIENT, from_=SENDER, body="after reset")
    # AND a full reset forgets the account too
    assert requests.post(f"{sim.url}/sim/reset", json={"all": True}, timeout=WAIT).status_code == 200
    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(to=RECIPIENT, from_=SENDER, body="no account")
    assert raised.value.code == 20003


def test_bad_control_input_and_unknown_paths_do_not_break_the_simulator(sim: TwilioSimulator, client: Client) -> None:
    # WHEN it gets malformed JSON, unknown options, wrong types and unknown paths
    assert requests.post(f"{sim.url}/sim/config", data=b"{oops", timeout=WAIT).status_code == 400
    assert requests.post(f"{sim.url}/sim/config", json=[1, 2], timeout=WAIT).status_code == 400
    assert requests.post(f"{sim.url}/sim/config", json={"bogus": 1}, timeout=WAIT).status_code == 400
    assert requests.post(f"{sim.url}/sim/config", json={"throttle_next": "lots"}, timeout=WAIT).status_code == 400
    assert requests.post(f"{sim.url}/sim/numbers", json={"number": "nope"}, timeout=WAIT).status_code == 400
    assert requests.get(f"{sim.url}/nowhere", timeout=WAIT).status_code == 404
    assert requests.get(f"{sim.url}/sim/unknown", timeout=WAIT).status_code == 404
    assert (
        requests.post(
            f"{sim.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json",
            data=b"\xff\xfe",
            auth=(ACCOUNT_SID, AUTH_TOKEN),
            timeout=WAIT,
        ).status_code
        == 400
    )
    # THEN it still serves normally
    assert requests.get(f"{sim.url}/sim/health", timeout=WAIT).json() == {"ok": True}
    assert client.messages.create(to=RECIPIENT, from_=SENDER, body="still here").status == "queued"
