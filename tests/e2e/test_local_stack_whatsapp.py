"""The local stack's WhatsApp Cloud sandbox over HTTP: the channel it seeds, the banner's secrets, and the simulator's
Graph API on the one simulator port (the templates the contract names, a send with the sandbox channel's token)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from devstack import stack as local_stack
from devstack.meta_sim import sandbox
from devstack.stackproc import StackProcess, start_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack() -> Iterator[StackProcess]:
    s = start_stack()
    yield s
    assert s.stop() == 0, "".join(s.output[-30:])


def test_the_sandbox_whatsapp_channel_and_its_waba_at_the_simulator(stack: StackProcess) -> None:
    # GIVEN the stack as `make run` starts it
    banner = "".join(stack.output)
    # THEN the banner shows the Cloud channel's app secret and verify token
    assert local_stack.SANDBOX_WA_APP_SECRET in banner and local_stack.SANDBOX_WA_VERIFY_TOKEN in banner
    # AND the channel exists as the contract says
    channel = stack.call("GET", "/v1/channels/ch_sandbox_wa")
    assert channel.status_code == 200, channel.text
    body = channel.json()
    assert (body["provider"], body["type"], body["senders"], body["mps"]) == (
        "whatsapp_cloud",
        "whatsapp",
        [sandbox.SENDER],
        80,
    )
    # AND the simulator's Graph API lists the five templates for the sandbox token
    headers = {"Authorization": f"Bearer {local_stack.SANDBOX_WA_ACCESS_TOKEN}"}
    graph = f"{stack.sim}/graph/v21.0"
    listed = requests.get(f"{graph}/{sandbox.WABA_ID}/message_templates", headers=headers, timeout=10).json()
    assert {(t["name"], t["status"]) for t in listed["data"]} == {
        ("hello_world", "APPROVED"),
        ("order_update", "APPROVED"),
        ("spring_promo", "APPROVED"),
        ("promo_pending", "PENDING"),
        ("old_offer", "PAUSED"),
    }
    # AND a hello_world send from the sandbox number is accepted
    sent = requests.post(
        f"{graph}/{sandbox.PHONE_NUMBER_ID}/messages",
        json={
            "messaging_product": "whatsapp",
            "to": "41791234567",
            "type": "template",
            "template": {"name": "hello_world", "language": {"code": "en_US"}},
        },
        headers=headers,
        timeout=10,
    )
    assert sent.status_code == 200, sent.text
    assert any(
        i.get("provider") == "whatsapp_cloud"
        for i in requests.get(f"{stack.sim}/sim/messages", timeout=10).json()["items"]
    )
