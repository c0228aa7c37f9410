"""Meta's webhook on fakes: the handshake, signed batches of statuses found by their echoed reference (forward only,
out of order, replayed), inbound messages with context and button payloads, template updates that stop campaigns,
and a batch whose one item fails recording the others."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import pytest

from chalicelib.adapters.providers.base import ProviderRules
from chalicelib.adapters.providers.twilio import TWILIO_SMS
from chalicelib.domain.channels import Channel
from chalicelib.domain.errors import ConcurrencyError, InvalidSignatureError, UnprocessableError
from chalicelib.domain.templates import Template
from chalicelib.services import campaigns, webhooks, whatsapp_hooks
from chalicelib.services.whatsapp_hooks import record_whatsapp, whatsapp_handshake
from tests.fakes.channels import FakeChannels
from tests.fakes.whatsapp import (
    APP_SECRET,
    CREDS,
    FAKE_CLOUD,
    VERIFY_TOKEN,
    HubSignature,
    envelope,
    messages_change,
    sign,
    status,
    statuses_change,
    template_change,
)
from tests.unit.campaign_deps import CHANNEL, TENANT, World, world
from tests.unit.test_campaign_life import send_queued

WA = "ch_wa"
WA_SENDER = "+14155238886"
NUMBERS = ["+14155550100", "+14155550101", "+14155550102"]
TEMPLATE_ID = "1234567890"


def cloud_world() -> World:
    """The campaign world of tests/unit/campaign_deps.py plus a WhatsApp Cloud-shaped channel."""
    w = world()
    channel = Channel(
        tenant_id=TENANT,
        channel_id=WA,
        name="WhatsApp",
        type="whatsapp",
        provider="whatsapp_cloud",
        senders=(WA_SENDER,),
        mps=1000,
        created_at="2026-12-01T08:00:00Z",
        provider_config={"waba_id": "1", "phone_number_ids": {WA_SENDER: "2"}},
    )
    w.deps.channels.create(channel)
    w.campaigns.add_channel(TENANT, WA)
    w.deps.secrets.creds[(TENANT, WA)] = dict(CREDS)  # type: ignore[attr-defined]

    def rules_for(provider: str, channel_type: str) -> ProviderRules:
        return FAKE_CLOUD if provider == "whatsapp_cloud" else TWILIO_SMS

    w.deps.rules_for = rules_for
    w.deps.verifier_for = lambda channel, creds: HubSignature(creds["app_secret"])
    webhooks.forget_channel(WA)  # the service caches channels per container: start from the store
    return w


HELLO_ID = "1000000001"


def create(w: World, numbers: list[str]) -> dict[str, Any]:
    """A campaign on the WhatsApp channel, sent now: an approved template without variables (stored if missing)."""
    from chalicelib.domain.commands import CampaignSettings, CreateCampaign, RecipientsSpec, SendNow, TemplateContent

    if w.deps.templates.get(TENANT, WA, HELLO_ID) is None:
        kept = [s.template for s in w.deps.templates.list(TENANT, WA, 200, None).items]
        hello = Template(id=HELLO_ID, name="hello_world", language="en_US", status="approved", body="Hello World")
        w.deps.templates.replace_all(TENANT, WA, [*kept, hello], "2026-12-01T08:00:00Z")
    settings = CampaignSettings(
        name="WA",
        channel_id=WA,
        sender=WA_SENDER,
        recipients=RecipientsSpec(numbers=tuple(numbers)),
        content=TemplateContent(template_id=HELLO_ID),
    )
    created, _ = campaigns.create_campaign(w.deps, TENANT, CreateCampaign(settings, SendNow()))
    return created


def ref_of(w: World, to: str) -> tuple[str, str]:
    """The message id the provider gave the message to `to`, and the reference we handed over with it."""
    (message,) = w.provider.sent_to(to)
    return message.sid, urlsplit(message.status_callback).query


def post(w: World, payload: Any, *, secret: str = APP_SECRET, raw: bytes | None = None) -> dict[str, int]:
    """POST Meta's webhook to the channel's one URL (no query: Meta adds none), signed with `secret`."""
    body = raw if raw is not None else json.dumps(payload).encode()
    return record_whatsapp(w.deps, WA, {}, body, sign(body, secret))


def statuses_of(w: World, campaign_id: str) -> dict[str, str]:
    page = campaigns.views.list_recipients(w.deps, TENANT, campaign_id, None, 100, None)
    return {r["number"]: r["status"] for r in page["items"]}


def sent_campaign(w: World) -> tuple[dict[str, Any], dict[str, tuple[str, str]]]:
    created = create(w, NUMBERS)
    send_queued(w)
    return created, {n: ref_of(w, n) for n in NUMBERS}


# ------------------------------------------------------------------------------------------------ statuses
def test_one_signed_batch_moves_each_recipient_by_the_reference_meta_echoes() -> None:
    # GIVEN a WhatsApp campaign sent to three numbers
    w = cloud_world()
    created, refs = sent_campaign(w)
    a, b, c = NUMBERS
    # WHEN one POST reports the first delivered, the second read (Meta skipped delivered), the third failed
    batch = envelope(
        statuses_change(
            status(refs[a][0], "delivered", refs[a][1]),
            status(refs[b][0], "read", refs[b][1]),
            status(refs[c][0], "failed", refs[c][1], errors=[{"code": 131026, "title": "Message undeliverable"}]),
        )
    )
    received = post(w, batch)
    # THEN each moved as reported, and the campaign's figures count them once
    assert received == {"statuses": 3, "messages": 0, "template_updates": 0, "preferences": 0}
    assert statuses_of(w, created["id"]) == {a: "delivered", b: "read", c: "failed"}
    page = campaigns.views.list_recipients(w.deps, TENANT, created["id"], "failed", 10, None)
    assert page["items"][0]["error"]["code"] == "131026"
    result = campaigns.views.get_campaign(w.deps, TENANT, created["id"])["result"]
    assert (result["delivered"], result["failed"], result["read"]) == (2, 1, 1)


def test_late_and_replayed_statuses_never_move_a_recipient_backwards_or_count_twice() -> None:
    # GIVEN a sent campaign whose first recipient Meta reports read
    w = cloud_world()
    created, refs = sent_campaign(w)
    a = NUMBERS[0]
    sid, ref = refs[a]
    post(w, envelope(statuses_change(status(sid, "read", ref))))
    before = campaigns.views.get_campaign(w.deps, TENANT, created["id"])["result"]
    # WHEN sent and delivered arrive after it, and the read batch is replayed whole
    post(w, envelope(statuses_change(status(sid, "sent", ref), status(sid, "delivered", ref))))
    post(w, envelope(statuses_change(status(sid, "read", ref))))
    # THEN it is still read, and the figures are as they were
    assert statuses_of(w, created["id"])[a] == "read"
    assert campaigns.views.get_campaign(w.deps, TENANT, created["id"])["result"] == before


def test_a_status_without_our_reference_or_for_another_channels_campaign_moves_nothing() -> None:
    # GIVEN a WhatsApp campaign and a Twilio one, both sent
    w = cloud_world()
    created, refs = sent_campaign(w)
    from tests.unit.test_campaign_life import create as create_sms

    sms = create_sms(w, ["+14155550199"])
    send_queued(w)
    (sms_message,) = w.provider.sent_to("+14155550199")
    sms_ref = urlsplit(sms_message.status_callback).query
    # WHEN Meta's webhook reports a status without biz_opaque_callback_data, and one naming the Twilio campaign
    sid = refs[NUMBERS[0]][0]
    post(w, envelope(statuses_change(status(sid, "delivered", None), status(sms_message.sid, "failed", sms_ref))))
    # THEN neither moves anything
    assert statuses_of(w, created["id"])[NUMBERS[0]] == "sent"
    assert statuses_of(w, sms["id"]) == {"+14155550199": "sent"}


@pytest.mark.parametrize("forgery", ["wrong_secret", "missing", "altered"])
def test_a_forged_missing_or_altered_signature_is_refused_and_changes_nothing(forgery: str) -> None:
    # GIVEN a sent campaign and a status batch for it
    w = cloud_world()
    created, refs = sent_campaign(w)
    sid, ref = refs[NUMBERS[0]]
    body = json.dumps(envelope(statuses_change(status(sid, "failed", ref)))).encode()
    signature: str | None = sign(body)
    if forgery == "wrong_secret":
        signature = sign(body, "another-secret")
    elif forgery == "missing":
        signature = None
    else:
        body = body.replace(b'"failed"', b'"read"  ')
    # WHEN it arrives so THEN it is refused, and nothing moved
    with pytest.raises(InvalidSignatureError):
        record_whatsapp(w.deps, WA, {}, body, signature)
    assert set(statuses_of(w, created["id"]).values()) == {"sent"}


def test_a_twilio_channel_is_not_reachable_through_metas_url() -> None:
    # GIVEN the Twilio channel WHEN a body signed like Meta's arrives at /webhooks/whatsapp/<its id> THEN 403
    w = cloud_world()
    body = json.dumps(envelope()).encode()
    with pytest.raises(InvalidSignatureError):
        record_whatsapp(w.deps, CHANNEL, {}, body, sign(body, "t"))


@pytest.mark.parametrize("raw", [b"not json", b"[]", b'{"entry": "x"}', b"\xff\xfe"])
def test_a_signed_body_not_of_metas_shape_records_nothing_and_is_answered(raw: bytes) -> None:
    # GIVEN a sent campaign WHEN a correctly signed body that is not Meta's shape arrives
    w = cloud_world()
    created, _ = sent_campaign(w)
    received = post(w, None, raw=raw)
    # THEN it is answered (no error: Meta would only send it again) and nothing changed
    assert received == {"statuses": 0, "messages": 0, "template_updates": 0, "preferences": 0}
    assert set(statuses_of(w, created["id"]).values()) == {"sent"}


# ------------------------------------------------------------------------------------------------ messages
def test_inbound_messages_are_kept_once_with_what_they_reply_to_and_their_button_payload() -> None:
    # GIVEN a WhatsApp channel WHEN a batch brings a text reply (with context) and a quick-reply button press
    w = cloud_world()
    text: dict[str, Any] = {"from": "14155550100", "id": "wamid.in1", "timestamp": "1796112000", "type": "text"}
    text |= {"text": {"body": "Yes please"}, "context": {"from": "14155238886", "id": "wamid.out1"}}
    button: dict[str, Any] = {"from": "14155550101", "id": "wamid.in2", "timestamp": "1796112001", "type": "button"}
    button |= {"button": {"payload": "mc1:cmp_1:4:0", "text": "Stop promotions"}, "context": {"id": "wamid.out2"}}
    batch = envelope(messages_change(text, button, sender_digits="14155238886"))
    assert post(w, batch)["messages"] == 2
    post(w, batch)  # Meta's retry of the same POST
    # THEN both are kept once, each with its context and the button's payload
    channels: FakeChannels = w.deps.channels  # type: ignore[assignment]
    kept = {k[2]: v for k, v in channels.inbound.items() if k[:2] == (TENANT, WA)}
    assert sorted(kept) == ["wamid.in1", "wamid.in2"]
    assert kept["wamid.in1"]["context_id"] == "wamid.out1" and kept["wamid.in1"]["body"] == "Yes please"
    assert kept["wamid.in1"]["from"] == "+14155550100" and "button_payload" not in kept["wamid.in1"]
    assert kept["wamid.in2"]["button_payload"] == "mc1:cmp_1:4:0"


class FlakyChannels(FakeChannels):
    """Channels whose store refuses to keep one inbound message id while `failing` is set (storage trouble)."""

    failing: str | None = None

    def put_inbound(self, tenant_id: str, channel_id: str, message: dict[str, Any]) -> None:
        if message["message_sid"] == self.failing:
            raise OSError("the table is unavailable")
        super().put_inbound(tenant_id, channel_id, message)


def test_an_item_that_fails_does_not_lose_the_others_and_metas_retry_records_only_what_is_missing() -> None:
    # GIVEN a sent campaign, and a store that fails to keep one inbound message
    w = cloud_world()
    flaky = FlakyChannels()
    flaky.channels, flaky.pointers = w.deps.channels.channels, w.deps.channels.pointers  # type: ignore[attr-defined]
    w.deps.channels = flaky
    created, refs = sent_campaign(w)
    sid, ref = refs[NUMBERS[0]]
    messages = [
        {"from": "14155550100", "id": f"wamid.in{i}", "timestamp": "1796112000", "type": "text", "text": {"body": "hi"}}
        for i in (1, 2)
    ]
    batch = envelope(statuses_change(status(sid, "delivered", ref)), messages_change(*messages))
    flaky.failing = "wamid.in1"
    # WHEN the batch arrives THEN it is answered 503 (Meta sends it again), yet the status and the other message are in
    with pytest.raises(ConcurrencyError):
        post(w, batch)
    assert statuses_of(w, created["id"])[NUMBERS[0]] == "delivered"
    assert {k[2] for k in flaky.inbound} == {"wamid.in2"}
    # AND WHEN Meta retries once the store is back THEN the missing one is kept and nothing counts twice
    flaky.failing = None
    post(w, batch)
    assert {k[2] for k in flaky.inbound} == {"wamid.in1", "wamid.in2"}
    assert campaigns.views.get_campaign(w.deps, TENANT, created["id"])["result"]["delivered"] == 1


# ------------------------------------------------------------------------------------------------ templates
def stored_template(w: World, status_: str = "approved") -> None:
    template = Template(
        id=TEMPLATE_ID, name="spring_promo", language="en", status=status_, body="{{1}}", variables=("1",)
    )
    w.deps.templates.replace_all(TENANT, WA, [template], "2026-12-01T08:00:00Z")


def sending_template_campaign(w: World) -> dict[str, Any]:
    """A campaign on the WhatsApp channel, executing, whose content is the template (set on the stored campaign:
    which content a campaign may have is checked elsewhere)."""
    created = create(w, NUMBERS)
    content = {"type": "template", "template_id": TEMPLATE_ID, "variables": {"1": "Hi"}}
    w.campaigns.set_fields(TENANT, created["id"], {"content": content})
    assert campaigns.views.get_campaign(w.deps, TENANT, created["id"])["status"] == "executing"
    return created


@pytest.mark.parametrize("event", ["PAUSED", "DISABLED"])
def test_a_template_paused_or_disabled_while_a_campaign_sends_it_stops_the_campaign(event: str) -> None:
    # GIVEN a stored template and a campaign sending it
    w = cloud_world()
    stored_template(w)
    created = sending_template_campaign(w)
    # WHEN Meta reports the template paused (or disabled)
    received = post(w, envelope(template_change(TEMPLATE_ID, event, reason="LOW_QUALITY")))
    # THEN the stored template says so, and the campaign is stopped with that reason
    assert received["template_updates"] == 1
    stored = w.deps.templates.get(TENANT, WA, TEMPLATE_ID)
    assert stored is not None and stored.template.status == event.lower()
    assert stored.template.provider_status == event and stored.template.reason == "LOW_QUALITY"
    got = campaigns.views.get_campaign(w.deps, TENANT, created["id"])
    assert got["status"] == "stopped" and got["stop_reason"]["code"] == f"template_{event.lower()}"
    # AND a retry is refused while the template is not approved, and resumes it once Meta approves it again
    with pytest.raises(UnprocessableError) as refused:
        campaigns.retry_campaign(w.deps, TENANT, created["id"])
    assert refused.value.code == "template_not_approved"
    post(w, envelope(template_change(TEMPLATE_ID, "APPROVED")))
    assert campaigns.retry_campaign(w.deps, TENANT, created["id"])["status"] == "retrying"


def test_a_template_approved_again_or_another_template_paused_stops_nothing() -> None:
    # GIVEN a campaign sending the stored template
    w = cloud_world()
    stored_template(w, "pending")
    created = sending_template_campaign(w)
    # WHEN Meta reports it approved, and another template paused
    post(w, envelope(template_change(TEMPLATE_ID, "APPROVED"), template_change("999", "PAUSED")))
    # THEN the campaign still sends, and the stored template is approved
    assert campaigns.views.get_campaign(w.deps, TENANT, created["id"])["status"] == "executing"
    stored = w.deps.templates.get(TENANT, WA, TEMPLATE_ID)
    assert stored is not None and stored.template.status == "approved"
    assert w.deps.templates.get(TENANT, WA, "999") is None  # an update never creates a template


def test_stop_campaigns_of_leaves_campaigns_of_other_channels_alone() -> None:
    # GIVEN a campaign sending the template on the WhatsApp channel
    w = cloud_world()
    created = sending_template_campaign(w)
    # WHEN the same template id is reported paused on another channel THEN nothing stops
    assert whatsapp_hooks.stop_campaigns_of(w.deps, TENANT, "ch_other", TEMPLATE_ID, "paused") == []
    assert campaigns.views.get_campaign(w.deps, TENANT, created["id"])["status"] == "executing"


# ------------------------------------------------------------------------------------------------ handshake
def test_the_handshake_echoes_the_challenge_for_the_channels_verify_token() -> None:
    # GIVEN the channel WHEN Meta verifies the URL with its token THEN the challenge comes back as it was
    w = cloud_world()
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    assert whatsapp_handshake(w.deps, WA, query) == "1158201444"


@pytest.mark.parametrize(
    ("channel_id", "query"),
    [
        (WA, {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"}),
        (WA, {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"}),
        (WA, {"hub.mode": "subscribe", "hub.challenge": "1"}),
        (WA, {}),
        ("ch_unknown", {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"}),
        (CHANNEL, {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"}),
    ],
)
def test_any_other_handshake_is_refused(channel_id: str, query: dict[str, str]) -> None:
    # GIVEN a wrong token, another mode, no token, nothing, an unknown channel, or a Twilio one THEN 403
    w = cloud_world()
    with pytest.raises(InvalidSignatureError):
        whatsapp_handshake(w.deps, channel_id, query)
