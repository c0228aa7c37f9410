"""The simulator's Graph API (devstack/meta_sim), over real HTTP on the provider simulator's one port: sends checked
as Meta checks them, throughput and pair rate, the test numbers' failed statuses, signed status webhooks with
conversation and pricing, message_templates paging, inbound messages, template status updates, and the /sim/
control endpoints that now count Meta's traffic too."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from devstack.meta_sim import sandbox
from devstack.twilio_sim import TwilioSimulator
from tests.functional.test_simulator import MediaServer

TOKEN = "EAAGsim" + "t" * 40
SECRET = "0123456789abcdef0123456789abcdef"
PHONE_ID = sandbox.PHONE_NUMBER_ID
WABA = sandbox.WABA_ID
USER = "+41791234567"


@dataclass
class Hook:
    path: str
    body: bytes
    signature: str | None

    @property
    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.body))

    def value(self) -> dict[str, Any]:
        return dict(self.json["entry"][0]["changes"][0]["value"])

    def field(self) -> str:
        return str(self.json["entry"][0]["changes"][0]["field"])


class JsonReceiver:
    """A tiny HTTP server on 127.0.0.1 recording JSON webhook posts (answering 200, or 500 for the first few)."""

    def __init__(self, fail_first: int = 0) -> None:
        self.hooks: list[Hook] = []
        self.fail_first = fail_first
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._cond:
                    status = 500 if receiver.fail_first > 0 else 200
                    receiver.fail_first -= 1
                    if status == 200:
                        receiver.hooks.append(Hook(self.path, raw, self.headers.get("X-Hub-Signature-256")))
                    receiver._cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/webhooks/whatsapp/ch_wa"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def wait(self, count: int, timeout: float = 5.0) -> list[Hook]:
        """The hooks once at least `count` arrived (AssertionError after timeout)."""
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.hooks) >= count, timeout=timeout), self.hooks
            return list(self.hooks)

    def statuses(self) -> list[tuple[str, str]]:
        """(wamid, status) of every status received, in arrival order."""
        with self._cond:
            return [
                (s["id"], s["status"])
                for h in self.hooks
                if h.field() == "messages"
                for s in h.value().get("statuses", [])
            ]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def signed(hook: Hook, secret: str = SECRET) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), hook.body, hashlib.sha256).hexdigest()
    return hook.signature == expected


@pytest.fixture
def receiver() -> Iterator[JsonReceiver]:
    r = JsonReceiver()
    yield r
    r.stop()


@pytest.fixture
def sim(receiver: JsonReceiver) -> Iterator[TwilioSimulator]:
    simulator = TwilioSimulator(callback_delay=0.005).start()
    simulator.meta.add_waba(**sandbox.waba_spec(TOKEN, SECRET, receiver.url))
    yield simulator
    simulator.stop()


def graph(sim: TwilioSimulator) -> str:
    return f"{sim.url}/graph/v21.0"


def post(sim: TwilioSimulator, body: dict[str, Any], token: str = TOKEN, number: str = PHONE_ID) -> requests.Response:
    return requests.post(
        f"{graph(sim)}/{number}/messages", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=5
    )


def template(to: str, name: str = "order_update", params: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    values = ["Ada", "A-1"] if params is None else params
    components = [{"type": "body", "parameters": [{"type": "text", "text": v} for v in values]}] if values else []
    return {
        "messaging_product": "whatsapp",
        "to": to.lstrip("+"),
        "type": "template",
        "template": {"name": name, "language": {"code": "en"}, "components": components},
        **extra,
    }


def code_of(response: requests.Response) -> int:
    return int(response.json()["error"]["code"])


# ------------------------------------------------------------------------------------------------- sends
def test_an_accepted_template_is_sent_delivered_read_in_signed_webhooks_echoing_our_reference(
    sim: TwilioSimulator, receiver: JsonReceiver
) -> None:
    # GIVEN the sandbox WABA WHEN order_update is sent with a biz_opaque_callback_data
    answer = post(sim, template(USER, biz_opaque_callback_data="a=1&c=cmp_1&r=0&s=0"))
    # THEN Meta's answer names a wamid
    assert answer.status_code == 200, answer.text
    wamid = answer.json()["messages"][0]["id"]
    assert wamid.startswith("wamid.") and answer.json()["contacts"][0]["wa_id"] == USER[1:]
    # AND three signed status webhooks follow, in order, each with our reference, conversation and pricing
    hooks = receiver.wait(3)
    assert all(signed(h) for h in hooks)
    assert receiver.statuses() == [(wamid, "sent"), (wamid, "delivered"), (wamid, "read")]
    first = hooks[0].value()
    assert first["metadata"] == {"display_phone_number": "15550100001", "phone_number_id": PHONE_ID}
    status = first["statuses"][0]
    assert status["biz_opaque_callback_data"] == "a=1&c=cmp_1&r=0&s=0"
    assert status["recipient_id"] == USER[1:]
    assert status["conversation"]["origin"] == {"type": "utility"} and "expiration_timestamp" in status["conversation"]
    assert status["pricing"] == {"billable": True, "pricing_model": "PMP", "category": "utility", "type": "regular"}
    # AND the simulator lists it with the values it was given
    [item] = sim.meta.messages()
    assert item["template"]["variables"] == {"1": "Ada", "2": "A-1"} and item["status"] == "read"


@pytest.mark.parametrize(
    ("number", "code"), [("+15550199001", 131026), ("+15550199002", 131049), ("+15550199003", 131050)]
)
def test_the_test_numbers_are_accepted_then_fail_in_a_status_webhook(
    sim: TwilioSimulator, receiver: JsonReceiver, number: str, code: int
) -> None:
    # GIVEN a contract test number WHEN a template is sent to it
    answer = post(sim, template(number))
    # THEN Meta accepts it, and reports the failure with its code in a failed status (as Meta reports these)
    assert answer.status_code == 200
    [hook] = receiver.wait(1)
    [status] = hook.value()["statuses"]
    assert status["status"] == "failed" and status["errors"][0]["code"] == code
    assert sim.meta.wait_for_webhooks() and len(receiver.hooks) == 1


def test_a_wrong_token_is_190_and_an_unknown_object_is_100(sim: TwilioSimulator) -> None:
    refused = post(sim, template(USER), token="EAAGnot-the-token")
    assert (refused.status_code, code_of(refused)) == (401, 190)
    unknown = post(sim, template(USER), number="999")
    assert (unknown.status_code, code_of(unknown)) == (400, 100)
    assert sim.meta.stats()["unauthorized"] == 1


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (template(USER, name="no_such"), 132001),
        (template(USER, name="promo_pending", params=["x"]), 132001),
        (template(USER, name="old_offer", params=["x"]), 132015),
        (template(USER, params=["only one"]), 132000),
        (
            template(USER, name="hello_world", params=["extra"])
            | {
                "template": {
                    "name": "hello_world",
                    "language": {"code": "en_US"},
                    "components": [{"type": "body", "parameters": [{"type": "text", "text": "x"}]}],
                }
            },
            132000,
        ),  # noqa: E501
        (template(USER, name="spring_promo", params=["Hi"]), 132012),  # its image header is missing
        ({"messaging_product": "whatsapp", "to": "12", "type": "template"}, 131009),
        ({"messaging_product": "sms", "to": USER}, 100),
    ],
)
def test_template_sends_are_checked_as_meta_checks_them(sim: TwilioSimulator, body: dict[str, Any], code: int) -> None:
    # GIVEN a send Meta refuses WHEN it is posted THEN Meta's code comes back, and nothing is accepted
    answer = post(sim, body)
    assert code_of(answer) == code, answer.text
    assert sim.meta.messages() == []


def promo(to: str, link: str) -> dict[str, Any]:
    body = template(to, name="spring_promo", params=["Spring!"])
    body["template"]["components"] += [
        {"type": "header", "parameters": [{"type": "image", "image": {"link": link}}]},
        {
            "type": "button",
            "sub_type": "quick_reply",
            "index": "0",
            "parameters": [{"type": "payload", "payload": "p"}],
        },
    ]
    return body


def test_a_disabled_template_is_132016(sim: TwilioSimulator) -> None:
    # GIVEN old_offer disabled WHEN sent THEN 132016
    sim.meta.set_template_status("old_offer", "DISABLED")
    assert code_of(post(sim, template(USER, name="old_offer", params=["x"]))) == 132016


def test_an_image_header_is_fetched_before_sent_and_media_meta_cannot_send_fails_131053(
    sim: TwilioSimulator, receiver: JsonReceiver
) -> None:
    # GIVEN an image served as image/jpeg, a file served as text/plain, and a missing one
    media = MediaServer({"/a.jpg": ("image/jpeg", b"\xff\xd8" + b"0" * 1000), "/a.txt": ("text/plain", b"x")})
    try:
        # WHEN spring_promo is sent with each as its header, with a quick-reply payload
        good = post(sim, promo("+41791234501", f"{media.url}/a.jpg")).json()["messages"][0]["id"]
        wrong = post(sim, promo("+41791234502", f"{media.url}/a.txt")).json()["messages"][0]["id"]
        gone = post(sim, promo("+41791234503", f"{media.url}/gone.jpg")).json()["messages"][0]["id"]
        receiver.wait(5)
        assert sim.meta.wait_for_webhooks()
    finally:
        media.stop()
    # THEN Meta fetched each; the image is sent, delivered, read; the others fail with 131053
    assert sorted(media.gets) == ["/a.jpg", "/a.txt", "/gone.jpg"]
    outcome = {wamid: status for wamid, status in receiver.statuses()}
    assert (outcome[good], outcome[wrong], outcome[gone]) == ("read", "failed", "failed")
    codes = {
        s["id"]: s["errors"][0]["code"]
        for h in receiver.hooks
        for s in h.value().get("statuses", [])
        if s["status"] == "failed"
    }
    assert codes == {wrong: 131053, gone: 131053}
    item = next(i for i in sim.meta.messages() if i["id"] == good)
    assert item["template"]["header_link"] == f"{media.url}/a.jpg"
    assert item["template"]["button_payloads"] == ["p"]


def test_a_second_message_to_one_user_within_6_s_is_131056(sim: TwilioSimulator) -> None:
    # GIVEN one message to a user WHEN a second follows at once THEN 131056, counted; another user is fine
    assert post(sim, template(USER)).status_code == 200
    again = post(sim, template(USER))
    assert (again.status_code, code_of(again)) == (400, 131056)
    assert post(sim, template("+41791234599")).status_code == 200
    assert sim.meta.stats()["pair_rate_131056"] == 1


def test_beyond_the_number_s_throughput_is_130429(receiver: JsonReceiver) -> None:
    # GIVEN a number with 3 mps
    with TwilioSimulator(callback_delay=0.005) as sim:
        spec = sandbox.waba_spec(TOKEN, SECRET, None)
        spec["phone_numbers"][0]["mps"] = 3
        sim.meta.add_waba(**spec)
        # WHEN 5 users are messaged in the same second
        answers = [post(sim, template(f"+4179123450{i}")) for i in range(5)]
        # THEN 3 are accepted, 2 refused with 130429 in an HTTP 400, as Meta answers it (the code says throttled)
        assert [a.status_code for a in answers] == [200, 200, 200, 400, 400]
        assert code_of(answers[3]) == 130429
        assert requests.get(f"{sim.url}/sim/stats", timeout=5).json()["whatsapp_cloud"]["throttled_130429"] == 2


def test_free_form_text_outside_the_24_h_window_fails_with_131047(sim: TwilioSimulator, receiver: JsonReceiver) -> None:
    text = {"messaging_product": "whatsapp", "to": USER[1:], "type": "text", "text": {"body": "hi"}}
    assert post(sim, text).status_code == 200
    [hook] = receiver.wait(1)
    assert hook.value()["statuses"][0]["errors"][0]["code"] == 131047


# ------------------------------------------------------------------------------------------ templates list
def test_message_templates_are_paged_with_limit_and_after(sim: TwilioSimulator) -> None:
    # GIVEN the five sandbox templates WHEN listed two per page, following paging.cursors.after
    names, after, pages = [], None, 0
    while True:
        params = {"limit": "2", **({"after": after} if after else {})}
        page = requests.get(
            f"{graph(sim)}/{WABA}/message_templates",
            params=params,
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=5,
        ).json()
        pages += 1
        names += [t["name"] for t in page["data"]]
        if "next" not in page.get("paging", {}):
            break
        after = page["paging"]["cursors"]["after"]
    # THEN three pages hold all five, in Meta's shape
    assert pages == 3
    assert names == ["hello_world", "order_update", "spring_promo", "promo_pending", "old_offer"]
    refused = requests.get(f"{graph(sim)}/{WABA}/message_templates", headers={"Authorization": "Bearer x"}, timeout=5)
    assert code_of(refused) == 190


# ------------------------------------------------------------------------------------------------ control
def test_inbound_to_a_business_number_posts_a_signed_messages_webhook_with_context_and_button(
    sim: TwilioSimulator, receiver: JsonReceiver
) -> None:
    # WHEN a user's reply is simulated, quoting a message, and then a button press
    first = requests.post(
        f"{sim.url}/sim/inbound",
        json={"from": USER, "to": sandbox.SENDER, "body": "Yes", "context_message_id": "wamid.OURS"},
        timeout=5,
    )
    second = requests.post(
        f"{sim.url}/sim/inbound",
        json={"from": USER, "to": sandbox.SENDER, "body": "Stop promotions", "button_payload": "mc1:cmp_1:0:0"},
        timeout=5,
    )
    assert first.status_code == second.status_code == 200
    # THEN two signed messages webhooks arrive, as Meta posts them
    hooks = receiver.wait(2)
    assert all(signed(h) for h in hooks)
    text, button = (
        h.value()["messages"][0] for h in sorted(hooks, key=lambda h: h.value()["messages"][0]["type"] != "text")
    )
    assert text["type"] == "text" and text["text"] == {"body": "Yes"} and text["context"]["id"] == "wamid.OURS"
    assert button["type"] == "button" and button["button"] == {"payload": "mc1:cmp_1:0:0", "text": "Stop promotions"}
    assert hooks[0].value()["contacts"][0]["wa_id"] == USER[1:]
    # AND the user is now inside the 24 h window: free-form text is delivered
    text_send = {"messaging_product": "whatsapp", "to": USER[1:], "type": "text", "text": {"body": "hi"}}
    assert post(sim, text_send).status_code == 200


def test_a_template_status_change_posts_message_template_status_update(
    sim: TwilioSimulator, receiver: JsonReceiver
) -> None:
    # WHEN order_update is paused through the control endpoint
    answer = requests.post(f"{sim.url}/sim/templates/order_update/status", json={"status": "PAUSED"}, timeout=5)
    assert answer.status_code == 200
    # THEN a signed update arrives, and sends are refused with 132015
    [hook] = receiver.wait(1)
    assert signed(hook) and hook.field() == "message_template_status_update"
    value = hook.value()
    assert (value["event"], value["message_template_name"], str(value["message_template_id"])) == (
        "PAUSED",
        "order_update",
        answer.json()["template_ids"][0],
    )
    assert code_of(post(sim, template(USER))) == 132015
    missing = requests.post(f"{sim.url}/sim/templates/nope/status", json={"status": "PAUSED"}, timeout=5)
    assert missing.status_code == 404


def test_statuses_due_together_can_be_batched_in_one_post(sim: TwilioSimulator, receiver: JsonReceiver) -> None:
    # GIVEN batching on (up to 10 statuses per POST) and statuses 300 ms apart
    sim.configure(graph_batch_max=10, graph_webhook_delay_ms=300)
    # WHEN three users are messaged at once
    wamids = [post(sim, template(f"+4179123457{i}")).json()["messages"][0]["id"] for i in range(3)]
    # THEN their statuses arrive in fewer POSTs than statuses, all signed, one value per number with several statuses
    assert sim.meta.wait_for_webhooks(timeout=10)
    hooks = receiver.wait(1)
    assert all(signed(h) for h in hooks)
    assert sorted(receiver.statuses()) == sorted((w, s) for w in wamids for s in ("sent", "delivered", "read"))
    assert len(hooks) < 9
    assert max(len(h.value()["statuses"]) for h in hooks) > 1


def test_failed_webhooks_are_retried(receiver: JsonReceiver, sim: TwilioSimulator) -> None:
    # GIVEN the webhook answers 500 twice WHEN a message is sent THEN its statuses still all arrive
    receiver.fail_first = 2
    assert post(sim, template(USER)).status_code == 200
    receiver.wait(3)
    assert [s for _, s in receiver.statuses()] == ["sent", "delivered", "read"]


def test_control_endpoints_include_meta_and_reset_clears_it(sim: TwilioSimulator) -> None:
    # GIVEN a Meta send and a config change through /sim/config (graph_* options are Meta's, the rest Twilio's)
    config = requests.post(f"{sim.url}/sim/config", json={"graph_latency_ms": 1, "latency_ms": 2}, timeout=5).json()
    assert (config["graph_latency_ms"], config["latency_ms"]) == (1, 2)
    assert post(sim, template(USER)).status_code == 200
    # THEN /sim/messages and /sim/stats show it
    items = requests.get(f"{sim.url}/sim/messages", timeout=5).json()["items"]
    assert [i["provider"] for i in items] == ["whatsapp_cloud"]
    assert requests.get(f"{sim.url}/sim/stats", timeout=5).json()["whatsapp_cloud"]["accepted"] == 1
    bad = requests.post(f"{sim.url}/sim/config", json={"graph_timeout_next": -1}, timeout=5)
    assert bad.status_code == 400
    # WHEN reset THEN Meta's traffic and config are gone, its WABA kept
    assert requests.post(f"{sim.url}/sim/reset", json={}, timeout=5).status_code == 200
    assert requests.get(f"{sim.url}/sim/messages", timeout=5).json()["items"] == []
    assert requests.get(f"{sim.url}/sim/config", timeout=5).json()["graph_latency_ms"] == 0
    assert post(sim, template(USER)).status_code == 200  # the pair-rate memory is reset too


def test_a_waba_can_be_registered_over_http(receiver: JsonReceiver) -> None:
    with TwilioSimulator(callback_delay=0.005) as sim:
        spec = sandbox.waba_spec(TOKEN, SECRET, receiver.url)
        assert requests.post(f"{sim.url}/sim/meta/wabas", json=spec, timeout=5).status_code == 201
        assert post(sim, template(USER)).status_code == 200
        bad = requests.post(f"{sim.url}/sim/meta/wabas", json={"waba_id": "x"}, timeout=5)
        assert bad.status_code == 400
