"""End to end over HTTP only, the Done-when of issue 11: sessions, replies and the response rate, opt-outs, and the
events the PBX gets, on the local stack as `make run` serves it (a child process).

The test talks to the API, to the simulator's /sim/* controls (a contact's replies, STOP and START, Meta's quoted
replies), and to a local HTTP receiver set as the tenant's `event_url`; never to our code in-process. Every event
the receiver gets must carry `X-Msgcampaigns-Signature: sha256=<HMAC of the body with the tenant's event secret>`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

import pytest
import requests

from devstack.stackproc import StackProcess, start_stack, wait_for

pytestmark = pytest.mark.e2e

SMS = ("ch_sandbox", "+15005550006")
WA = ("ch_sandbox_wa", "+15550100001")
QUEUE = {"type": "queue", "id": "2001"}
EXTENSION = {"type": "extension", "id": "1001"}
SIGNATURE = "X-Msgcampaigns-Signature"


@dataclass
class Event:
    """One POST the receiver got: its headers and raw body."""

    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.body))

    @property
    def detail_type(self) -> str | None:
        """The contract names the bus event's detail-type and detail, not the delivered body's keys: the whole
        EventBridge event (`detail-type`) or a document of its own (`type`) both say it."""
        body = self.json
        return body.get("detail-type") or body.get("type")

    @property
    def detail(self) -> dict[str, Any]:
        return dict(self.json.get("detail") or {})


class EventReceiver:
    """The PBX's event endpoint: an HTTP server on 127.0.0.1 (a free port) recording every POST, answering 200."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.events.append(Event({k.lower(): v for k, v in self.headers.items()}, raw))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/pbx/events"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def of(self, detail_type: str, **detail: Any) -> list[Event]:
        """The events of this type whose detail has these values."""
        with self._lock:
            events = list(self.events)
        return [
            e
            for e in events
            if _is_json(e.body)
            and e.detail_type == detail_type
            and all(e.detail.get(k) == v for k, v in detail.items())
        ]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _is_json(raw: bytes) -> bool:
    try:
        return isinstance(json.loads(raw), dict)
    except ValueError:
        return False


@dataclass
class Pbx:
    """The stack, the tenant's event receiver, and the event secret the first PATCH answered."""

    stack: StackProcess
    receiver: EventReceiver
    secret: str
    problem: str | None = None  # what went wrong setting the event_url, if anything did

    def check_tenant(self) -> None:
        """The first PATCH answered the event secret; GET /v1/tenant shows the URL, never the secret again."""
        assert self.problem is None, self.problem
        shown = self.stack.call("GET", "/v1/tenant")
        assert shown.status_code == 200 and shown.json()["event_url"] == self.receiver.url, shown.text
        assert not shown.json().get("event_secret"), shown.text

    def signed(self, event: Event) -> bool:
        expected = "sha256=" + hmac.new(self.secret.encode(), event.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(event.headers.get(SIGNATURE.lower(), ""), expected)

    def wait_event(self, detail_type: str, count: int = 1, timeout: float = 60, **detail: Any) -> list[Event]:
        """At least `count` events of the type and detail, each signed (AssertionError otherwise)."""
        self.check_tenant()
        found = wait_for(lambda: (e := self.receiver.of(detail_type, **detail)) and len(e) >= count and e, timeout)
        types = [e.detail_type for e in self.receiver.events]
        assert found and len(found) >= count, f"{detail_type} {detail}: got {found}; all types received: {types}"
        assert all(self.signed(e) for e in found), [e.headers for e in found]
        return list(found)


@pytest.fixture(scope="module")
def stack() -> Iterator[StackProcess]:
    s = start_stack()
    yield s
    assert s.stop() == 0, "".join(s.output[-30:])


@pytest.fixture(scope="module")
def pbx(stack: StackProcess) -> Iterator[Pbx]:
    # GIVEN a local HTTP receiver set as the tenant's event_url (plain HTTP: 127.0.0.1 on the local stack). What
    # the PATCH answered is checked where a test first needs the events (each test checks its events last), so a
    # test's sessions, replies and opt-outs are checked whatever the events do.
    receiver = EventReceiver()
    first = stack.call("PATCH", "/v1/tenant", {"event_url": receiver.url})
    secret = first.json().get("event_secret") if first.status_code == 200 and _is_json(first.content) else None
    problem = None if isinstance(secret, str) and secret else f"PATCH /v1/tenant: {first.status_code} {first.text}"
    yield Pbx(stack, receiver, secret or "", problem)
    receiver.stop()


# ------------------------------------------------------------------------------------------------ helpers
def _campaign(
    stack: StackProcess,
    channel: tuple[str, str],
    numbers: list[str],
    *,
    mode: str = "direct",
    target: dict[str, str] | None = None,
    content: dict[str, Any] | None = None,
) -> str:
    body: dict[str, Any] = {
        "name": f"e2e {mode}",
        "channel_id": channel[0],
        "sender": channel[1],
        "recipients": {"numbers": numbers},
        "content": content or {"type": "text", "text": "Spring sale today"},
        "send_time": {"type": "now"},
        "send_mode": mode,
    }
    if target is not None:
        body["routing_target"] = target
    created = stack.call("POST", "/v1/campaigns", body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _finished(stack: StackProcess, campaign_id: str, timeout: float = 120) -> dict[str, Any]:
    def done() -> Any:
        found = stack.call("GET", f"/v1/campaigns/{campaign_id}").json()
        return found if found["status"] in ("completed", "stopped") else None

    campaign = wait_for(done, timeout=timeout)
    assert campaign and campaign["status"] == "completed", campaign
    return dict(campaign)


def _get(stack: StackProcess, path: str) -> dict[str, Any]:
    answer = stack.call("GET", path)
    assert answer.status_code == 200, f"{path}: {answer.status_code} {answer.text}"
    return dict(answer.json())


def _sessions(stack: StackProcess, query: str) -> list[dict[str, Any]]:
    return list(_get(stack, f"/v1/sessions?{query}&limit=200")["items"])


def _messages(stack: StackProcess, session_id: str) -> list[dict[str, Any]]:
    return list(_get(stack, f"/v1/sessions/{session_id}/messages?limit=200")["items"])


def _recipients(stack: StackProcess, campaign_id: str) -> dict[str, dict[str, Any]]:
    return {r["number"]: r for r in _get(stack, f"/v1/campaigns/{campaign_id}/recipients?limit=200")["items"]}


def _opted_out(stack: StackProcess) -> dict[str, dict[str, Any]]:
    return {o["number"]: o for o in _get(stack, "/v1/opt-outs?limit=200")["items"]}


def _sim_count(stack: StackProcess, number: str) -> int:
    """How many messages the simulator (either provider) accepted for `number`."""
    items = requests.get(f"{stack.sim}/sim/messages", timeout=10).json()["items"]
    return sum(1 for i in items if str(i.get("to", "")).removeprefix("whatsapp:") == number)


def _inbound(stack: StackProcess, sender: str, contact: str, text: str, **extra: Any) -> dict[str, Any]:
    answer = requests.post(
        f"{stack.sim}/sim/inbound", json={"from": contact, "to": sender, "body": text, **extra}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _responded(stack: StackProcess, campaign_id: str, count: int, timeout: float = 30) -> dict[str, Any]:
    found = wait_for(
        lambda: (c := stack.call("GET", f"/v1/campaigns/{campaign_id}").json())["responded"] >= count and c, timeout
    )
    return dict(found or stack.call("GET", f"/v1/campaigns/{campaign_id}").json())


def _meta_stats(stack: StackProcess) -> dict[str, Any]:
    return dict(requests.get(f"{stack.sim}/sim/stats", timeout=10).json()["whatsapp_cloud"])


def _template_id(stack: StackProcess, channel_id: str, name: str) -> str:
    assert stack.call("POST", f"/v1/channels/{channel_id}/templates/sync").status_code == 200
    listed = _get(stack, f"/v1/channels/{channel_id}/templates?limit=200")["items"]
    return str(next(t["id"] for t in listed if t["name"] == name))


# ------------------------------------------------------------------------------------------------ SMS (Twilio)
FIVE = [f"+1415555021{i}" for i in range(5)]


def test_a_session_campaign_opens_a_session_per_recipient_and_a_reply_is_attributed(pbx: Pbx) -> None:
    stack = pbx.stack
    # WHEN a session campaign assigned to queue 2001 goes to 5 numbers on ch_sandbox
    campaign_id = _campaign(stack, SMS, FIVE, mode="session", target=QUEUE)
    campaign = _finished(stack, campaign_id)
    assert campaign["send_mode"] == "session" and campaign["routing_target"] == QUEUE, campaign
    # THEN 5 open sessions, one per number, assigned to the queue, opened by the campaign
    opened = wait_for(lambda: len(s := _sessions(stack, f"campaign_id={campaign_id}")) >= 5 and s, timeout=30)
    sessions = {s["contact"]: s for s in opened or _sessions(stack, f"campaign_id={campaign_id}")}
    assert sorted(sessions) == sorted(FIVE), sessions
    for s in sessions.values():
        assert (s["status"], s["origin"], s["campaign_id"], s["routing_target"]) == (
            "open",
            "campaign",
            campaign_id,
            QUEUE,
        )
        assert (s["channel_id"], s["sender"]) == SMS
    # AND each session's log holds the campaign message
    log = _messages(stack, sessions[FIVE[0]]["id"])
    assert [(m["direction"], m["text"], m["campaign_id"]) for m in log] == [
        ("outbound", "Spring sale today", campaign_id)
    ], log

    # WHEN one of them replies
    _inbound(stack, SMS[1], FIVE[0], "Yes please")
    # THEN the campaign counts 1 responded of 5: response_rate 0.2
    campaign = _responded(stack, campaign_id, 1)
    assert (campaign["responded"], campaign["response_rate"]) == (1, 0.2), campaign
    replied = _recipients(stack, campaign_id)[FIVE[0]]
    assert replied["responded_at"] and replied["session_id"] == sessions[FIVE[0]]["id"], replied
    # AND the reply joined that contact's session log, after the campaign message
    log = _messages(stack, sessions[FIVE[0]]["id"])
    assert [(m["direction"], m["text"]) for m in log][-1] == ("inbound", "Yes please"), log

    # WHEN a second session campaign goes to that contact (with another target)
    second_id = _campaign(
        stack, SMS, [FIVE[0]], mode="session", target=EXTENSION, content={"type": "text", "text": "More"}
    )
    _finished(stack, second_id)
    # THEN the open session is reused, its assignment kept, the new campaign message added to its log
    open_now = _sessions(stack, f"contact=%2B{FIVE[0][1:]}&status=open")
    assert [s["id"] for s in open_now] == [sessions[FIVE[0]]["id"]], open_now
    assert open_now[0]["routing_target"] == QUEUE, open_now
    log = wait_for(lambda: (m := _messages(stack, open_now[0]["id"])) and m[-1]["campaign_id"] == second_id and m, 30)
    assert log and (log[-1]["direction"], log[-1]["text"]) == ("outbound", "More"), log
    # AND the first campaign still counts its one reply only
    assert _get(stack, f"/v1/campaigns/{campaign_id}")["responded"] == 1

    # AND the PBX was told, signed: the campaign's status changes, a Session Opened per recipient (no second one for
    # the reused session), and the reply as Message Received
    [status] = pbx.wait_event("Campaign Status Changed", campaign_id=campaign_id, status="completed")
    assert status.detail["result"]["total"] == 5, status.detail
    for number in FIVE:
        [opened_event] = pbx.wait_event("Session Opened", campaign_id=campaign_id, contact=number)
        assert opened_event.detail["session_id"] == sessions[number]["id"], opened_event.detail
        assert opened_event.detail["routing_target"] == QUEUE, opened_event.detail
    assert pbx.receiver.of("Session Opened", campaign_id=second_id) == []
    [received] = pbx.wait_event("Message Received", contact=FIVE[0], text="Yes please")
    assert received.detail["session_id"] == sessions[FIVE[0]]["id"], received.detail


def test_a_direct_campaign_opens_no_session(pbx: Pbx) -> None:
    stack = pbx.stack
    number = "+14155550221"
    # WHEN a direct campaign reaches a number
    campaign_id = _campaign(stack, SMS, [number])
    _finished(stack, campaign_id)
    # THEN no session has it, by campaign or by contact
    assert _sessions(stack, f"campaign_id={campaign_id}") == []
    assert _sessions(stack, f"contact=%2B{number[1:]}") == []
    # AND a reply to it still counts for the campaign (and opens an inbound session for the channel's default target)
    _inbound(stack, SMS[1], number, "thanks")
    campaign = _responded(stack, campaign_id, 1)
    assert (campaign["responded"], campaign["response_rate"]) == (1, 1.0), campaign
    inbound_sessions = wait_for(lambda: _sessions(stack, f"contact=%2B{number[1:]}"), timeout=30)
    assert [s["origin"] for s in inbound_sessions or []] == ["inbound"], inbound_sessions


def test_stop_opts_a_number_out_the_next_campaign_skips_it_and_start_restores_it(pbx: Pbx) -> None:
    stack = pbx.stack
    stopper, other = "+14155550231", "+14155550232"
    # GIVEN a number that got a campaign message
    _finished(stack, _campaign(stack, SMS, [stopper]))
    # WHEN it replies STOP (any case, spaces around)
    _inbound(stack, SMS[1], stopper, "  Stop ")
    # THEN the tenant's opt-out list has it, from the keyword, on this channel
    listed = wait_for(lambda: (o := _opted_out(stack)).get(stopper) and o, timeout=30)
    assert listed, _opted_out(stack)
    assert (listed[stopper]["source"], listed[stopper]["channel_id"]) == ("keyword", SMS[0]), listed[stopper]
    # WHEN the next campaign goes to it and another number
    before = _sim_count(stack, stopper)
    skipping_id = _campaign(stack, SMS, [stopper, other])
    campaign = _finished(stack, skipping_id)
    # THEN it is skipped with opted_out, counted in result.skipped, and the simulator received nothing for it
    recipients = _recipients(stack, skipping_id)
    assert recipients[stopper]["status"] == "skipped", recipients[stopper]
    assert recipients[stopper]["error"]["code"] == "opted_out", recipients[stopper]
    assert recipients[other]["status"] in ("sent", "delivered"), recipients[other]
    assert campaign["result"]["skipped"] == 1, campaign
    assert _sim_count(stack, stopper) == before
    # AND a retry does not send it either
    assert stack.call("POST", f"/v1/campaigns/{skipping_id}/retry").status_code == 409
    # WHEN it replies START
    _inbound(stack, SMS[1], stopper, "START")
    # THEN it is off the list, and the next campaign reaches it
    assert wait_for(lambda: stopper not in _opted_out(stack), timeout=30), _opted_out(stack)
    back_id = _campaign(stack, SMS, [stopper])
    _finished(stack, back_id)
    assert _recipients(stack, back_id)[stopper]["status"] in ("sent", "delivered")
    assert _sim_count(stack, stopper) == before + 1
    # AND the PBX got a signed Contact Opted Out, then Contact Opted In
    pbx.wait_event("Contact Opted Out", number=stopper, source="keyword")
    pbx.wait_event("Contact Opted In", number=stopper, source="keyword")


def test_a_replayed_reply_is_one_message_one_attribution_one_event(pbx: Pbx) -> None:
    stack = pbx.stack
    number = "+14155550241"
    # GIVEN a session campaign's recipient who replied once
    campaign_id = _campaign(stack, SMS, [number], mode="session", target=QUEUE)
    _finished(stack, campaign_id)
    sid = _inbound(stack, SMS[1], number, "Replayed hello")["message_sid"]
    assert _responded(stack, campaign_id, 1)["responded"] == 1
    # WHEN Twilio posts that webhook again, twice (same MessageSid, same body, signed again)
    for _ in range(2):
        replay = requests.post(f"{stack.sim}/sim/inbound/{sid}/replay", timeout=30)
        assert replay.status_code == 200 and replay.json()["status"] == 200, replay.text
    # THEN the session's log has the reply once, the campaign counts it once, the PBX was told of it once
    [session] = _sessions(stack, f"campaign_id={campaign_id}")
    inbound = [m for m in _messages(stack, session["id"]) if m["direction"] == "inbound"]
    assert [(m["text"], m["provider_message_id"]) for m in inbound] == [("Replayed hello", sid)], inbound
    assert _get(stack, f"/v1/campaigns/{campaign_id}")["responded"] == 1
    events = pbx.wait_event("Message Received", contact=number, text="Replayed hello")
    assert len({e.detail["message_id"] for e in events}) == 1, [e.detail for e in events]


def test_many_campaigns_and_inbound_messages_at_once_leave_one_open_session(pbx: Pbx) -> None:
    stack = pbx.stack
    contact = "+14155550251"
    # WHEN three session campaigns to one contact are created while the contact sends five messages, all at once
    with ThreadPoolExecutor(max_workers=8) as pool:
        campaigns = [
            pool.submit(
                _campaign,
                stack,
                SMS,
                [contact],
                mode="session",
                target=QUEUE,
                content={"type": "text", "text": f"c{i}"},
            )
            for i in range(3)
        ]
        replies = [pool.submit(_inbound, stack, SMS[1], contact, f"message {i}") for i in range(5)]
        ids = [c.result() for c in campaigns]
        for r in replies:
            r.result()
    for campaign_id in ids:
        _finished(stack, campaign_id, timeout=180)
    # THEN exactly one session is open for the contact, and its log has every message
    open_now = _sessions(stack, f"contact=%2B{contact[1:]}&status=open")
    assert len(open_now) == 1, open_now
    log = _messages(stack, open_now[0]["id"])
    assert sorted(m["text"] for m in log if m["direction"] == "inbound") == [f"message {i}" for i in range(5)], log
    assert sorted(m["text"] for m in log if m["direction"] == "outbound") == ["c0", "c1", "c2"], log


# ------------------------------------------------------------------------------------------------ WhatsApp (Meta)
def test_the_session_and_reply_flow_on_the_cloud_api_with_a_quoted_reply(pbx: Pbx) -> None:
    stack = pbx.stack
    ada, bob = "+14155550261", "+14155550262"
    hello = {"type": "template", "template_id": _template_id(stack, WA[0], "hello_world"), "variables": {}}
    # GIVEN a session campaign of hello_world to Ada and Bob on ch_sandbox_wa, then a direct one to Ada
    first_id = _campaign(stack, WA, [ada, bob], mode="session", target=QUEUE, content=hello)
    _finished(stack, first_id)
    sessions = {s["contact"]: s for s in _sessions(stack, f"campaign_id={first_id}")}
    assert sorted(sessions) == [ada, bob], sessions
    assert all(s["routing_target"] == QUEUE and s["channel_id"] == WA[0] for s in sessions.values()), sessions
    log = _messages(stack, sessions[ada]["id"])
    assert log[0]["direction"] == "outbound" and log[0]["template"], log  # the template message, with its values
    wamid = _recipients(stack, first_id)[ada]["provider_message_id"]
    assert str(wamid).startswith("wamid."), wamid
    later_id = _campaign(stack, WA, [ada], content=hello)  # the latest campaign message to Ada (after the 6 s gap)
    _finished(stack, later_id)
    # WHEN Ada replies quoting the first campaign's message (context.id = its wamid)
    _inbound(stack, WA[1], ada, "Yes, that one", context_message_id=wamid)
    # THEN the quoted campaign counts the reply (not the later one): 1 of 2, 0.5
    first = _responded(stack, first_id, 1)
    assert (first["responded"], first["response_rate"]) == (1, 0.5), first
    assert _get(stack, f"/v1/campaigns/{later_id}")["responded"] == 0
    # AND the reply joined Ada's session log
    log = _messages(stack, sessions[ada]["id"])
    assert (log[-1]["direction"], log[-1]["text"]) == ("inbound", "Yes, that one"), log
    # WHEN Meta posts that webhook again (same wamid) THEN still one reply, one message in the log
    replay_of = [m for m in log if m["direction"] == "inbound"][-1]["provider_message_id"]
    assert requests.post(f"{stack.sim}/sim/inbound/{quote(replay_of, safe='')}/replay", timeout=30).status_code == 200
    assert wait_for(lambda: _meta_stats(stack)["webhooks_pending"] == 0, timeout=30), _meta_stats(stack)
    assert _get(stack, f"/v1/campaigns/{first_id}")["responded"] == 1
    inbound = [m["text"] for m in _messages(stack, sessions[ada]["id"]) if m["direction"] == "inbound"]
    assert inbound == ["Yes, that one"], inbound
    # AND the PBX got the sessions and the reply, signed
    for number in (ada, bob):
        pbx.wait_event("Session Opened", campaign_id=first_id, contact=number)
    [received] = pbx.wait_event("Message Received", contact=ada, text="Yes, that one")
    assert received.detail["session_id"] == sessions[ada]["id"]


def test_meta_s_marketing_stop_opts_the_number_out_and_resume_restores_it(pbx: Pbx) -> None:
    stack = pbx.stack
    number = "+14155550271"
    # WHEN the contact stops marketing messages in WhatsApp (Meta's user_preferences webhook)
    body = {"from": number, "to": WA[1], "value": "stop"}
    assert requests.post(f"{stack.sim}/sim/meta/user_preferences", json=body, timeout=30).status_code == 200
    # THEN the number is opted out by the provider
    listed = wait_for(lambda: (o := _opted_out(stack)).get(number) and o, timeout=30)
    assert listed and listed[number]["source"] == "provider", _opted_out(stack)
    # WHEN they resume THEN it is off the list again
    body["value"] = "resume"
    assert requests.post(f"{stack.sim}/sim/meta/user_preferences", json=body, timeout=30).status_code == 200
    assert wait_for(lambda: number not in _opted_out(stack), timeout=30), _opted_out(stack)
    # AND the PBX was told both, signed
    pbx.wait_event("Contact Opted Out", number=number, source="provider")
    pbx.wait_event("Contact Opted In", number=number, source="provider")
