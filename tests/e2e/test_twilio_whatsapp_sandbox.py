"""The local stack's Sandbox Twilio WhatsApp channel over HTTP, exactly as `make run` serves it: the channel, its
templates in the simulator's Content API as the twilio SDK lists them, and a WhatsApp reply from a contact that
reaches the service's Twilio inbound webhook through the simulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from chalicelib.adapters.providers.twilio_whatsapp import TwilioWhatsAppProvider
from devstack.stack import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN
from devstack.stackproc import StackProcess, start_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack() -> Iterator[StackProcess]:
    s = start_stack()
    yield s
    assert s.stop() == 0, "".join(s.output[-30:])


def test_the_sandbox_twilio_whatsapp_channel_is_there_with_its_five_templates(stack: StackProcess) -> None:
    # GIVEN the stack as started WHEN its Twilio WhatsApp channel is read
    answer = stack.call("GET", "/v1/channels/ch_sandbox_twa")
    assert answer.status_code == 200, answer.text
    channel = answer.json()
    # THEN it is the contract's: provider twilio, type whatsapp, the sandbox sender as plain E.164, 80 mps
    assert (channel["provider"], channel["type"], channel["senders"], channel["mps"]) == (
        "twilio",
        "whatsapp",
        ["+14155238886"],
        80,
    )
    # AND the simulator's Content API holds the five sandbox templates, as the channel's credentials list them
    provider = TwilioWhatsAppProvider(SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN, api_base=stack.sim)
    templates = {t.name: t for t in provider.templates()}
    assert {name: t.status for name, t in templates.items()} == {
        "hello_world": "approved",
        "order_update": "approved",
        "spring_promo": "approved",
        "promo_pending": "pending",
        "old_offer": "paused",
    }
    assert templates["hello_world"].language == "en_US" and templates["hello_world"].variables == ()
    assert templates["order_update"].body == "Hi {{1}}, your order {{2}} has shipped."
    spring = templates["spring_promo"]
    assert (spring.header, spring.body, spring.buttons) == (
        {"type": "image"},
        "{{1}}",
        ({"type": "quick_reply", "text": "Stop promotions"},),
    )


def test_a_whatsapp_reply_reaches_the_service_through_the_simulator(stack: StackProcess) -> None:
    # GIVEN the sandbox WhatsApp sender WHEN a contact presses a button, as Twilio would post it
    answer = requests.post(
        f"{stack.sim}/sim/inbound",
        json={"from": "+41415084545", "to": "+14155238886", "body": "Stop promotions", "button_payload": "stop"},
        timeout=30,
    )
    # THEN the simulator posted it signed to the channel's inbound webhook, and the service took it
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == 200
