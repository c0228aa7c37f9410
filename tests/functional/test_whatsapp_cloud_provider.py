"""The WhatsApp Cloud provider module against the simulator's Graph API over real HTTP: what each end of a send is
classified as, the reference echoed in the signed status webhook, and the templates listed over every page."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.adapters.providers.base import Outcome, WebhookRequest
from chalicelib.adapters.providers.whatsapp_cloud import WHATSAPP_CLOUD, HubSignature
from chalicelib.adapters.providers.whatsapp_cloud_api import WhatsAppCloudProvider, session
from chalicelib.domain.channels import Channel
from chalicelib.domain.errors import ProviderRefusedError, ProviderUnavailableError
from chalicelib.domain.templates import TemplateMessage
from devstack.meta_sim import sandbox
from devstack.twilio_sim import TwilioSimulator
from tests.functional.test_meta_simulator import JsonReceiver

TOKEN = "EAAGprovider" + "t" * 40
SECRET = "fedcba9876543210fedcba9876543210"
SENDER = sandbox.SENDER
USER = "+41791234567"
CALLBACK = "https://api.example.test/webhooks/whatsapp/ch_wa?a=1&c=cmp_1&r=7&s=0"
ORDER = TemplateMessage(template_id="t", name="order_update", language="en", variables={"1": "Ada", "2": "A-1"})


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


def provider(base: str, token: str = TOKEN, timeout: float = 2.0) -> WhatsAppCloudProvider:
    return WhatsAppCloudProvider(
        token, SECRET, sandbox.WABA_ID, {SENDER: sandbox.PHONE_NUMBER_ID}, api_base=base, timeout=timeout
    )


def base(sim: TwilioSimulator) -> str:
    return f"{sim.url}/graph/v21.0"


def send(p: WhatsAppCloudProvider, to: str = USER, template: TemplateMessage | None = ORDER) -> Any:
    return p.send(to=to, sender=SENDER, text=None, media_urls=(), status_callback=CALLBACK, template=template)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_accepted_send_is_echoed_in_signed_status_webhooks_the_dialect_reads(
    sim: TwilioSimulator, receiver: JsonReceiver
) -> None:
    # GIVEN the sandbox WABA WHEN order_update is sent with our callback URL
    result = send(provider(base(sim)))
    # THEN it is accepted with Meta's id
    assert result.outcome == Outcome.ACCEPTED and result.message_id.startswith("wamid.")
    # AND the status webhooks are signed with the app secret, and read back as events carrying our reference
    hooks = receiver.wait(3)
    requests_ = [WebhookRequest(url=receiver.url, body=h.body, signature=h.signature) for h in hooks]
    assert all(HubSignature(SECRET).valid(r) for r in requests_)
    events = [e for r in requests_ for e in WHATSAPP_CLOUD.parse_status(r)]
    assert [e.status.value for e in events] == ["sent", "delivered", "read"]
    assert {e.message_id for e in events} == {result.message_id}
    assert all(e.ref == {"a": "1", "c": "cmp_1", "r": "7", "s": "0"} for e in events)
    # AND the simulator got the values
    [item] = sim.meta.messages()
    assert item["template"]["variables"] == {"1": "Ada", "2": "A-1"}


def test_the_not_a_whatsapp_user_number_fails_with_131026_in_its_status(
    sim: TwilioSimulator, receiver: JsonReceiver
) -> None:
    result = send(provider(base(sim)), to="+15550199001")
    assert result.outcome == Outcome.ACCEPTED
    [hook] = receiver.wait(1)
    [event] = WHATSAPP_CLOUD.parse_status(WebhookRequest(receiver.url, hook.body, hook.signature))
    assert (event.status.value, event.error_code) == ("failed", "131026")
    assert WHATSAPP_CLOUD.error(str(event.error_code)).outcome == Outcome.PERMANENT


def test_past_the_throughput_is_throttled_130429(receiver: JsonReceiver) -> None:
    # GIVEN a number of 2 mps
    with TwilioSimulator(callback_delay=0.005) as sim:
        spec = sandbox.waba_spec(TOKEN, SECRET, None)
        spec["phone_numbers"][0]["mps"] = 2
        sim.meta.add_waba(**spec)
        p = provider(base(sim))
        # WHEN three users are messaged at once
        results = [send(p, to=f"+4179123456{i}") for i in range(3)]
        # THEN the third is THROTTLED with 130429 (never the recipient's failure)
        assert [r.outcome for r in results] == [Outcome.ACCEPTED, Outcome.ACCEPTED, Outcome.THROTTLED]
        assert results[2].error_code == "130429"


def test_a_second_message_to_one_user_within_6_s_is_throttled_131056_with_its_gap(sim: TwilioSimulator) -> None:
    p = provider(base(sim))
    assert send(p).outcome == Outcome.ACCEPTED
    again = send(p)
    assert (again.outcome, again.error_code, again.retry_after) == (Outcome.THROTTLED, "131056", 6.0)


def test_template_refusals_stop_the_campaign_and_a_wrong_token_is_the_account(sim: TwilioSimulator) -> None:
    p = provider(base(sim))
    paused = send(p, template=TemplateMessage(template_id="t", name="old_offer", language="en", variables={"1": "x"}))
    assert (paused.outcome, paused.error_code) == (Outcome.TEMPLATE, "132015")
    assert WHATSAPP_CLOUD.error(paused.error_code).stop_reason == "template_paused"
    short = send(p, template=TemplateMessage(template_id="t", name="order_update", language="en", variables={"1": "x"}))
    assert (short.outcome, short.error_code) == (Outcome.TEMPLATE, "132000")
    wrong = send(provider(base(sim), token="EAAGwrong-token-0123456789"))
    assert (wrong.outcome, wrong.error_code) == (Outcome.ACCOUNT, "190")


def test_a_timeout_after_meta_took_the_message_is_uncertain(sim: TwilioSimulator) -> None:
    # GIVEN the Graph API answers only after 1.5 s WHEN the client waits 0.3 s
    sim.meta.configure(graph_timeout_next=1, graph_timeout_ms=1500)
    result = send(provider(base(sim), timeout=0.3))
    # THEN UNCERTAIN (never resent blindly), and Meta has the message
    assert (result.outcome, result.error_code) == (Outcome.UNCERTAIN, "provider_timeout")
    assert len(sim.meta.messages()) == 1
    # AND find cannot tell: Meta has no records to read, the status webhook settles it
    assert provider(base(sim)).find(to=USER, sender=SENDER, text=None, media_count=0, since=0).found is None


def test_a_5xx_is_uncertain_and_a_refused_connection_is_transient(sim: TwilioSimulator) -> None:
    sim.meta.configure(graph_server_error_next=1)
    assert send(provider(base(sim))).outcome == Outcome.UNCERTAIN
    refused = send(provider(f"http://127.0.0.1:{closed_port()}/v21.0"))
    assert (refused.outcome, refused.error_code) == (Outcome.TRANSIENT, "provider_unreachable")


def test_a_sender_without_a_phone_number_id_never_leaves(sim: TwilioSimulator) -> None:
    result = provider(base(sim)).send(
        to=USER, sender="+15550100009", text=None, media_urls=(), status_callback=CALLBACK, template=ORDER
    )
    assert (result.outcome, result.error_code) == (Outcome.ACCOUNT, "unknown_sender")
    assert sim.meta.messages() == []


def test_templates_are_listed_over_every_page(sim: TwilioSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN pages of two templates (the module's page size lowered, as a WABA with hundreds would page)
    from chalicelib.adapters.providers import whatsapp_cloud_api

    monkeypatch.setattr(whatsapp_cloud_api, "TEMPLATE_PAGE_SIZE", 2)
    # WHEN listed
    templates = provider(base(sim)).templates()
    # THEN all five, mapped onto ours
    by_name = {t.name: t for t in templates}
    assert list(by_name) == ["hello_world", "order_update", "spring_promo", "promo_pending", "old_offer"]
    assert by_name["order_update"].variables == ("1", "2") and by_name["order_update"].status == "approved"
    assert by_name["spring_promo"].header == {"type": "image"}
    assert by_name["spring_promo"].buttons == ({"type": "quick_reply", "text": "Stop promotions"},)
    assert (by_name["promo_pending"].status, by_name["old_offer"].status) == ("pending", "paused")


def test_templates_errors_are_domain_errors(sim: TwilioSimulator) -> None:
    with pytest.raises(ProviderRefusedError):
        provider(base(sim), token="EAAGwrong-token-0123456789").templates()
    with pytest.raises(ProviderUnavailableError):
        provider(f"http://127.0.0.1:{closed_port()}/v21.0").templates()


def test_a_stalled_templates_answer_is_unavailable() -> None:
    # GIVEN a server that never answers
    stall = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            stall.wait(3)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(ProviderUnavailableError):
            provider(f"http://127.0.0.1:{server.server_address[1]}/v21.0", timeout=0.3).templates()
    finally:
        stall.set()
        server.shutdown()
        server.server_close()


def test_one_pooled_session_without_retries_and_the_wiring(sim: TwilioSimulator) -> None:
    # The container's one session: the same object every time, no retries inside requests
    assert session() is session()
    adapter = session().get_adapter("https://graph.facebook.com")
    assert adapter.max_retries.total == 0  # type: ignore[attr-defined]
    # The wiring builds the provider from the channel's provider_config and the settings' Graph base
    channel = Channel(
        tenant_id="t",
        channel_id="ch_wa",
        name="WA",
        type="whatsapp",
        provider="whatsapp_cloud",
        senders=(SENDER,),
        mps=80,
        created_at="2026-12-02T00:00:00Z",
        provider_config={"waba_id": sandbox.WABA_ID, "phone_number_ids": {SENDER: sandbox.PHONE_NUMBER_ID}},
    )
    # Only the two settings the factory reads
    settings: Any = SimpleNamespace(graph_api_base=base(sim), provider_timeout_seconds=2.0)
    creds = {"access_token": TOKEN, "app_secret": SECRET, "verify_token": "v"}
    built = wiring.PROVIDERS["whatsapp_cloud"](channel, creds, settings)
    assert isinstance(built, WhatsAppCloudProvider) and send(built).outcome == Outcome.ACCEPTED
    assert wiring.provider_rules("whatsapp_cloud", "whatsapp") is WHATSAPP_CLOUD
    verifier = wiring.VERIFIERS["whatsapp_cloud"](channel, creds)
    body = b'{"entry": []}'
    assert verifier.valid(WebhookRequest("u", body, HubSignature(SECRET).sign(body)))
