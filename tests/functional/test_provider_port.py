"""The provider port's Twilio side against the simulator over real HTTP: the webhooks it posts are verified and
read as domain events, the media it fails are the ones the port's limits refuse, and templates are not SMS's."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import pytest

from chalicelib.adapters.providers.base import Outcome, Provider, TemplateMessage, WebhookRequest
from chalicelib.adapters.providers.twilio import TwilioProvider
from chalicelib.domain.events import InboundMessage, Media, StatusEvent
from chalicelib.domain.model import RecipientStatus
from devstack.twilio_sim import TwilioSimulator
from tests.functional.test_simulator import MediaServer, Received, Receiver

ACCOUNT_SID = "AC" + "f6" * 16
AUTH_TOKEN = "port-test-token"
SENDER = "+15005550006"
A, B = "+41791234567", "+41791234568"
WAIT = 5.0


@pytest.fixture
def sim() -> Iterator[TwilioSimulator]:
    simulator = TwilioSimulator(callback_delay=0.005).start()
    simulator.add_account(ACCOUNT_SID, AUTH_TOKEN)
    simulator.add_number(SENDER, ACCOUNT_SID, mps=1000)
    yield simulator
    simulator.stop()


def account(sim: TwilioSimulator, token: str = AUTH_TOKEN) -> Provider:
    return TwilioProvider(ACCOUNT_SID, token, api_base=sim.url, timeout=2.0)


def as_request(post: Received) -> WebhookRequest:
    """A post the receiver got, as the service hands it to the port."""
    return WebhookRequest(url=post.url, body=urlencode(post.params).encode(), signature=post.signature)


def test_the_simulators_status_callbacks_are_verified_and_read_as_status_events(
    sim: TwilioSimulator, receiver: Receiver
) -> None:
    # GIVEN B is undeliverable (30003) at the simulator
    sim.configure(undelivered={B: 30003})
    provider = account(sim)
    callback = f"{receiver.url}/webhooks/twilio/ch_1/status?a=1&c=cmp_1&r=0"
    done = receiver.expect(4)
    # WHEN a message to A and one to B are handed over
    to_a = provider.send(to=A, sender=SENDER, text="hi", media_urls=(), status_callback=callback)
    to_b = provider.send(to=B, sender=SENDER, text="hi", media_urls=(), status_callback=callback)
    assert to_a.outcome == to_b.outcome == Outcome.ACCEPTED
    assert done.wait(WAIT)
    # THEN every callback is signed for this account (and not for another token)
    posts = receiver.ok_posts()
    assert all(provider.valid(as_request(p)) for p in posts)
    assert not any(account(sim, token="another-token").valid(as_request(p)) for p in posts)
    # AND read as events in our terms: A sent then delivered; B sent then undelivered with Twilio's words for 30003
    events = [e for p in posts for e in provider.parse_status(as_request(p))]
    assert [e for e in events if e.message_id == to_a.message_id] == [
        StatusEvent(to_a.message_id, RecipientStatus.SENT),
        StatusEvent(to_a.message_id, RecipientStatus.DELIVERED),
    ]
    assert [e for e in events if e.message_id == to_b.message_id] == [
        StatusEvent(to_b.message_id, RecipientStatus.SENT),
        StatusEvent(to_b.message_id, RecipientStatus.UNDELIVERED, "30003", "Unreachable destination handset"),
    ]


def test_the_simulators_incoming_mms_is_read_as_an_inbound_message(sim: TwilioSimulator, receiver: Receiver) -> None:
    # GIVEN the sender's incoming-message URL is the receiver
    sim.add_number(SENDER, ACCOUNT_SID, mps=1000, inbound_url=f"{receiver.url}/webhooks/twilio/ch_1/inbound")
    # WHEN a contact sends it a picture with a line of text
    status, result = sim.inbound("+41415084545", SENDER, "Yes please", ["https://example.com/photo.png"])
    assert status == 200
    # THEN the webhook is signed, and it is that message, from the contact to our sender, with its file
    [post] = receiver.posts
    provider = account(sim)
    assert provider.valid(as_request(post))
    assert provider.parse_inbound(as_request(post)) == [
        InboundMessage(
            message_id=result["message_sid"],
            from_="+41415084545",
            to=SENDER,
            body="Yes please",
            media=(Media("https://example.com/photo.png", "image/png"),),
        )
    ]


CONTENT_TYPES = ["image/png", "image/webp", "audio/aac", "video/H264", "application/zip", "text/html; charset=utf-8"]


def test_the_simulator_fails_exactly_the_media_the_ports_limits_refuse(sim: TwilioSimulator) -> None:
    # GIVEN one small file of each content type, and the port's limits for Twilio SMS/MMS
    files = {f"/f{i}": (content_type, b"x" * 100) for i, content_type in enumerate(CONTENT_TYPES)}
    media = MediaServer(files)
    provider = account(sim)
    try:
        # WHEN an MMS is sent with each
        sids = {}
        for path, (content_type, _) in files.items():
            result = provider.send(
                to=A, sender=SENDER, text=None, media_urls=[media.url + path], status_callback="http://127.0.0.1:9/x"
            )
            assert result.outcome == Outcome.ACCEPTED, result
            sids[result.message_id] = content_type
        assert sim.wait_for_callbacks(WAIT)
    finally:
        media.stop()
    # THEN Twilio (the simulator) fails with 12300 the ones the limits refuse, and sends the others
    for message in sim.messages():
        content_type = sids[message["sid"]]
        refused = (message["status"], message["error_code"]) == ("failed", 12300)
        assert refused == (not provider.limits.accepts_media_type(content_type)), (content_type, message)
    assert {sids[m["sid"]] for m in sim.messages() if m["error_code"] == 12300} == {
        "image/webp",
        "application/zip",
        "text/html; charset=utf-8",
    }


def test_an_sms_account_lists_no_templates_and_refuses_one_without_calling_twilio(sim: TwilioSimulator) -> None:
    provider = account(sim)
    # WHEN templates are listed, THEN there are none (the limits say so too)
    assert provider.templates() == [] and provider.limits.templates is False
    # WHEN a template is sent, THEN it is refused as permanent, and nothing reached Twilio
    result = provider.send(
        to=A,
        sender=SENDER,
        text=None,
        media_urls=(),
        status_callback="http://127.0.0.1:9/x",
        template=TemplateMessage("HX" + "0" * 32, "order_update", "en", variables={"1": "Ann"}),
    )
    assert (result.outcome, result.error_code) == (Outcome.PERMANENT, "template_not_supported")
    assert sim.messages() == []
