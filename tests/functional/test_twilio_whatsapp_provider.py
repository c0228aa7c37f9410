"""The Twilio WhatsApp provider through the twilio SDK against the simulator over real HTTP: a ContentSid send with
its variables, called back signed up to `read`; the WhatsApp test numbers; templates that are not approved; the
Content API's templates over several pages; what a failed listing raises; and the records looked up between
`whatsapp:` addresses."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from chalicelib.adapters.providers import twilio_whatsapp
from chalicelib.adapters.providers.base import Outcome, TemplateMessage, WebhookRequest
from chalicelib.adapters.providers.twilio_whatsapp import TwilioWhatsAppProvider
from chalicelib.domain.errors import ProviderRefusedError, ProviderUnavailableError
from chalicelib.domain.model import RecipientStatus
from devstack.twilio_sim import TwilioSimulator
from tests.functional.test_simulator import Receiver

ACCOUNT_SID = "AC" + "d5" * 16
AUTH_TOKEN = "wa-provider-test-token"
SENDER = "+14155238886"
CONTACT = "+41791234567"
WAIT = 5.0
ORDER_UPDATE = {
    "friendly_name": "order_update",
    "language": "en",
    "types": {"twilio/text": {"body": "Hi {{1}}, your order {{2}} has shipped."}},
}


@pytest.fixture
def sim() -> Iterator[TwilioSimulator]:
    simulator = TwilioSimulator(callback_delay=0.005).start()
    simulator.add_account(ACCOUNT_SID, AUTH_TOKEN)
    simulator.add_number(SENDER, ACCOUNT_SID, mps=1000, whatsapp=True)
    yield simulator
    simulator.stop()


def provider(base: str, token: str = AUTH_TOKEN) -> TwilioWhatsAppProvider:
    return TwilioWhatsAppProvider(ACCOUNT_SID, token, api_base=base, timeout=2.0)


def order_update(sid: str, **values: str) -> TemplateMessage:
    return TemplateMessage(template_id=sid, name="order_update", language="en", variables=values)


def send(p: TwilioWhatsAppProvider, callback: str, template: TemplateMessage, to: str = CONTACT) -> Any:
    return p.send(to=to, sender=SENDER, text=None, media_urls=(), status_callback=callback, template=template)


def test_a_template_send_is_accepted_rendered_and_called_back_signed_up_to_read(
    sim: TwilioSimulator, receiver: Receiver
) -> None:
    # GIVEN an approved order_update template and a status callback URL of ours
    sid = sim.add_content(ACCOUNT_SID, ORDER_UPDATE)["sid"]
    callback = f"{receiver.url}/webhooks/twilio/ch_twa/status?a=1&c=cmp_1&r=0&s=0"
    p = provider(sim.url)
    # WHEN it is sent to a plain number with this contact's values
    done = receiver.expect(3)
    result = send(p, callback, order_update(sid, **{"1": "Ada", "2": "A-42"}))
    # THEN Twilio has it, addressed whatsapp: both ways, with ContentSid and ContentVariables, its text filled in
    assert result.outcome is Outcome.ACCEPTED and result.message_id
    (message,) = sim.messages()
    assert (message["from"], message["to"]) == (f"whatsapp:{SENDER}", f"whatsapp:{CONTACT}")
    assert (message["content_sid"], message["content_variables"]) == (sid, {"1": "Ada", "2": "A-42"})
    assert message["body"] == "Hi Ada, your order A-42 has shipped."
    # AND the callbacks come signed with the account's token: sent, delivered, then read, each our status
    assert done.wait(WAIT)
    statuses = []
    for post in receiver.ok_posts():
        request = WebhookRequest(url=post.url, body=_form(post.params), signature=post.signature)
        assert p.valid(request)
        (event,) = p.parse_status(request)
        assert event.message_id == result.message_id
        statuses.append(event.status)
    assert statuses == [RecipientStatus.SENT, RecipientStatus.DELIVERED, RecipientStatus.READ]


@pytest.mark.parametrize(
    ("number", "code", "opted_out", "retry_after"),
    [
        ("+15550199001", "63024", False, None),  # not a WhatsApp user
        ("+15550199002", "63049", False, 86400.0),  # Meta chose not to deliver marketing
        ("+15550199003", "63014", True, None),  # the user blocked the business / stopped its marketing
    ],
)
def test_the_whatsapp_test_numbers_are_accepted_then_fail_with_their_code(
    sim: TwilioSimulator, receiver: Receiver, number: str, code: str, opted_out: bool, retry_after: float | None
) -> None:
    # GIVEN an approved template WHEN it is sent to one of the contract's WhatsApp test numbers
    sid = sim.add_content(ACCOUNT_SID, ORDER_UPDATE)["sid"]
    p = provider(sim.url)
    done = receiver.expect(1)
    result = send(p, f"{receiver.url}/status", order_update(sid, **{"1": "Ada", "2": "1"}), to=number)
    # THEN Twilio accepts it, and its one callback says failed with Twilio's code, which the rules classify
    assert result.outcome is Outcome.ACCEPTED
    assert done.wait(WAIT)
    (post,) = receiver.ok_posts()
    (event,) = p.parse_status(WebhookRequest(url=post.url, body=_form(post.params), signature=post.signature))
    assert (event.status, event.error_code) == (RecipientStatus.FAILED, code)
    info = p.error(code)
    assert (info.outcome, info.opted_out, info.retry_after_seconds) == (Outcome.PERMANENT, opted_out, retry_after)


@pytest.mark.parametrize(
    ("state", "code", "outcome"),
    [
        ("paused", "63041", Outcome.TEMPLATE),
        ("disabled", "63042", Outcome.TEMPLATE),
        ("pending", "63016", Outcome.PERMANENT),  # sent as free-form, outside the window
    ],
)
def test_a_template_that_is_not_approved_fails_like_twilio_fails_it(
    sim: TwilioSimulator, receiver: Receiver, state: str, code: str, outcome: Outcome
) -> None:
    # GIVEN a template WhatsApp has not approved (or no longer does)
    sid = sim.add_content(ACCOUNT_SID, {**ORDER_UPDATE, "status": state})["sid"]
    p = provider(sim.url)
    done = receiver.expect(1)
    # WHEN it is sent THEN Twilio takes it, and Meta's refusal comes back as a failed callback with its code
    assert send(p, f"{receiver.url}/status", order_update(sid, **{"1": "Ada", "2": "1"})).outcome is Outcome.ACCEPTED
    assert done.wait(WAIT)
    (post,) = receiver.ok_posts()
    assert (post.params["MessageStatus"], post.params["ErrorCode"]) == ("failed", code)
    # AND the code says what the campaign does: stop (template paused or disabled), or fail the recipient
    assert p.error(code).outcome is outcome


def test_a_send_twilio_refuses_outright_is_classified_and_nothing_is_stored(sim: TwilioSimulator) -> None:
    # GIVEN a template, a sid that is no template of the account, and a sender that is no WhatsApp sender
    sid = sim.add_content(ACCOUNT_SID, ORDER_UPDATE)["sid"]
    sim.add_number("+15005550006", ACCOUNT_SID, mps=10)  # an SMS number
    p = provider(sim.url)
    # WHEN sent with a variable missing, with an unknown sid, and from the SMS number
    missing = send(p, "http://127.0.0.1:9/s", order_update(sid, **{"1": "Ada"}))
    unknown = send(p, "http://127.0.0.1:9/s", order_update("HX" + "0" * 32, **{"1": "Ada", "2": "1"}))
    sms_sender = p.send(
        to=CONTACT,
        sender="+15005550006",
        text=None,
        media_urls=(),
        status_callback="http://127.0.0.1:9/s",
        template=order_update(sid, **{"1": "Ada", "2": "1"}),
    )
    # THEN each is refused with Twilio's code and its class: template problems stop the campaign, a sender that is
    # not a WhatsApp sender is the account's; nothing was stored at Twilio
    assert (missing.outcome, missing.error_code) == (Outcome.TEMPLATE, "63028")
    assert (unknown.outcome, unknown.error_code) == (Outcome.TEMPLATE, "21655")
    assert (sms_sender.outcome, sms_sender.error_code) == (Outcome.ACCOUNT, "63007")
    assert sim.messages() == []


def test_a_media_header_is_refused_before_anything_leaves(sim: TwilioSimulator) -> None:
    # GIVEN a template message with a header file of ours WHEN sent
    sid = sim.add_content(ACCOUNT_SID, ORDER_UPDATE)["sid"]
    template = TemplateMessage(sid, "spring_promo", "en", header_type="image", header_media_url="https://x.test/a.jpg")
    result = send(provider(sim.url), "http://127.0.0.1:9/s", template)
    # THEN it is a template problem (Content templates fix their media), and Twilio never saw it
    assert (result.outcome, result.error_code) == (Outcome.TEMPLATE, "header_media_not_supported")
    assert sim.stats()["accepted"] + sim.stats()["rejected"] == 0


def test_a_session_text_goes_between_whatsapp_addresses(sim: TwilioSimulator) -> None:
    # GIVEN no template WHEN a text is sent THEN it is a plain Body between whatsapp: addresses
    result = provider(sim.url).send(
        to=CONTACT, sender=SENDER, text="Thanks!", media_urls=(), status_callback="http://127.0.0.1:9/s"
    )
    assert result.outcome is Outcome.ACCEPTED
    (message,) = sim.messages()
    assert (message["from"], message["to"], message["body"]) == (f"whatsapp:{SENDER}", f"whatsapp:{CONTACT}", "Thanks!")


def test_the_records_find_a_template_message_by_its_whatsapp_addresses(sim: TwilioSimulator) -> None:
    # GIVEN a template message handed over (its stored text is the template filled in, which we never had)
    sid = sim.add_content(ACCOUNT_SID, ORDER_UPDATE)["sid"]
    p = provider(sim.url)
    since = time.time()
    result = send(p, "http://127.0.0.1:9/s", order_update(sid, **{"1": "Ada", "2": "1"}))
    # WHEN the records are asked about it by plain numbers and no text
    found = p.find(to=CONTACT, sender=SENDER, text=None, media_count=0, since=since)
    # THEN it is found, with Twilio's id; another contact has nothing
    assert (found.found, found.message_id) == (True, result.message_id)
    assert p.find(to="+41791234500", sender=SENDER, text=None, media_count=0, since=since).found is False


# ---------------------------------------------------------------------------------- templates()
def test_templates_are_listed_over_every_page_with_their_states(
    sim: TwilioSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN seven templates in several states, and pages of three (the SDK follows meta.next_page_url)
    monkeypatch.setattr(twilio_whatsapp, "TEMPLATE_PAGE_SIZE", 3)
    states = ["approved", "approved", "pending", "received", "rejected", "paused", "disabled"]
    for i, state in enumerate(states):
        sim.add_content(ACCOUNT_SID, {**ORDER_UPDATE, "friendly_name": f"t{i}", "status": state})
    # AND another account's template, which is not this account's
    sim.add_account("AC" + "e6" * 16, "other")
    sim.add_content("AC" + "e6" * 16, {**ORDER_UPDATE, "friendly_name": "theirs"})
    # WHEN the account's templates are listed
    templates = provider(sim.url).templates()
    # THEN all seven come back once, each with our status and the body's variables
    assert [t.name for t in templates] == [f"t{i}" for i in range(7)]
    assert [t.status for t in templates] == [
        "approved",
        "approved",
        "pending",
        "pending",
        "rejected",
        "paused",
        "disabled",
    ]
    assert all(t.variables == ("1", "2") and t.id.startswith("HX") for t in templates)


def test_listing_with_wrong_credentials_is_refused_and_an_unreachable_api_is_unavailable(sim: TwilioSimulator) -> None:
    # GIVEN a wrong auth token WHEN templates are listed THEN it is the provider refusing (422, not our fault)
    with pytest.raises(ProviderRefusedError) as refused:
        provider(sim.url, token="wrong").templates()
    assert (refused.value.status, refused.value.code) == (422, "provider_refused")
    # GIVEN nothing listening WHEN listed THEN it is unavailable (503: ask again later)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ProviderUnavailableError) as unavailable:
        provider(f"http://127.0.0.1:{port}").templates()
    assert (unavailable.value.status, unavailable.value.code) == (503, "provider_unavailable")


def _form(params: dict[str, str]) -> bytes:
    return urlencode(params).encode()
