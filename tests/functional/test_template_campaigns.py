"""Template campaigns through the API on moto: the 422s a template campaign gets when it is created, and one sent
end to end through the send worker (the pump) with per-contact values from an uploaded CSV.

The WhatsApp providers are not wired yet: a WhatsApp-like rules object (tests/fakes/provider.py, without the pair
gap so no campaign start waits) and the in-memory FakeProvider are registered for `whatsapp_cloud` here."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.domain.channels import Channel
from chalicelib.domain.templates import TemplateUpdate
from tests.conftest import Api, Env
from tests.fakes.provider import FAKE_WHATSAPP, FakeProvider, FakeWhatsAppRules
from tests.functional.test_uploads import inline_csv
from tests.unit.template_world import TEMPLATES

WA_SENDER = "+15550100001"
ADA, BOB, CY = "+14155550100", "+14155550101", "+14155550102"


class Rules(FakeWhatsAppRules):
    limits = dataclasses.replace(FAKE_WHATSAPP.limits, pair_gap_seconds=0.0)


@pytest.fixture
def provider(env: Env, monkeypatch: pytest.MonkeyPatch) -> FakeProvider:
    """The provider behind `whatsapp_cloud` channels in these tests."""
    fake = FakeProvider(clock=env.deps.clock.now)
    monkeypatch.setitem(wiring.RULES, ("whatsapp_cloud", "whatsapp"), Rules())
    monkeypatch.setitem(wiring.PROVIDERS, "whatsapp_cloud", lambda channel, creds, settings: fake)
    return fake


@pytest.fixture
def wa_channel(env: Env, tenant: tuple[str, str], provider: FakeProvider) -> str:
    """A WhatsApp channel with its templates synced (written as the channel and template repositories keep them)."""
    tenant_id = tenant[0]
    env.deps.channels.create(
        Channel(
            tenant_id=tenant_id,
            channel_id="ch_wa",
            name="WhatsApp",
            type="whatsapp",
            provider="whatsapp_cloud",
            senders=(WA_SENDER,),
            mps=80,
            created_at="2026-12-01T08:00:00Z",
            provider_config={"waba_id": "1", "phone_number_ids": {WA_SENDER: "2"}},
        )
    )
    env.deps.secrets.put(tenant_id, "ch_wa", {"access_token": "t", "app_secret": "s", "verify_token": "v"})
    env.deps.templates.replace_all(tenant_id, "ch_wa", TEMPLATES, "2026-12-01T08:00:00Z")
    return "ch_wa"


def body(content: dict[str, Any], recipients: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": "Orders",
        "channel_id": "ch_wa",
        "sender": WA_SENDER,
        "recipients": recipients or {"numbers": [ADA]},
        "content": content,
        "send_time": {"type": "now"},
        "send_mode": "direct",
    }


def order(variables: dict[str, Any]) -> dict[str, Any]:
    return {"type": "template", "template_id": "tpl_order", "variables": variables}


@pytest.mark.parametrize(
    ("content", "code"),
    [
        ({"type": "template", "template_id": "tpl_pending"}, "template_not_approved"),
        ({"type": "template", "template_id": "tpl_paused"}, "template_not_approved"),
        ({"type": "template", "template_id": "tpl_missing"}, "template_not_found"),
        (order({"1": "Ada"}), "template_variables_mismatch"),
        (order({"1": "Ada", "2": "A-1", "3": "x"}), "template_variables_mismatch"),
        (order({"1": {"column": "first_name"}, "2": "A-1"}), "unknown_column"),
        (order({"1": "two\nlines", "2": "A-1"}), "invalid_variable_value"),
        ({"type": "template", "template_id": "tpl_promo", "variables": {"1": "x"}}, "header_upload_required"),
        ({"type": "text", "text": "Hello"}, "template_required"),
    ],
)
def test_a_template_campaign_the_channel_cannot_send_is_refused_when_created(
    api: Api, wa_channel: str, content: dict[str, Any], code: str
) -> None:
    # WHEN a campaign on the WhatsApp channel has content it cannot send
    status, answer = api.call("POST", "/v1/campaigns", body(content))
    # THEN 422 with the code, and no campaign
    assert (status, answer["error"]["code"]) == (422, code), answer
    assert api.call("GET", "/v1/campaigns")[1]["items"] == []


def test_a_pending_template_says_its_status(api: Api, wa_channel: str) -> None:
    # WHEN promo_pending is used
    status, answer = api.call("POST", "/v1/campaigns", body({"type": "template", "template_id": "tpl_pending"}))
    # THEN the details say it is pending
    assert status == 422 and answer["error"]["details"][0]["status"] == "pending"


def test_a_template_campaign_goes_out_with_each_contacts_values(
    env: Env, api: Api, tenant: tuple[str, str], wa_channel: str, provider: FakeProvider, pump: Any
) -> None:
    # GIVEN a CSV with first_name and order columns (Bob has no first name, Cy no order)
    csv = f"Number,first_name,order\n{ADA},Ada,A-1\n{BOB},,B-2\n{CY},Cy,\n".encode()
    status, upload = inline_csv(api, csv)
    assert status == 201 and upload["status"] == "ready", upload
    variables = {"1": {"column": "first_name", "default": "there"}, "2": {"column": "order"}}
    # WHEN an order_update campaign is created for it and the worker sends it
    status, created = api.call("POST", "/v1/campaigns", body(order(variables), {"upload_id": upload["id"]}))
    assert status == 201, created
    assert created["content"] == {**order(variables), "header_upload_id": None}
    assert (created["segments"], created["encoding"]) == (1, "UTF-8")
    pump.drain()
    assert pump.errors == []
    # THEN Ada and Bob each got it once with their own values (Bob the default) and Cy was skipped
    assert sorted(provider.calls) == [ADA, BOB]
    sent = {m.to: dict(m.template.variables) for m in provider.messages if m.template is not None}
    assert sent == {ADA: {"1": "Ada", "2": "A-1"}, BOB: {"1": "there", "2": "B-2"}}
    status, done = api.call("GET", f"/v1/campaigns/{created['id']}")
    assert done["status"] == "completed", done
    assert (done["result"]["sent"], done["result"]["skipped"]) == (2, 1)
    status, skipped = api.call("GET", f"/v1/campaigns/{created['id']}/recipients?status=skipped")
    assert [(r["number"], r["error"]["code"]) for r in skipped["items"]] == [(CY, "missing_variable")]


def test_a_template_paused_before_sending_stops_the_campaign_and_retry_resumes_it(
    env: Env, api: Api, tenant: tuple[str, str], wa_channel: str, provider: FakeProvider, pump: Any
) -> None:
    # GIVEN a campaign created with order_update, and the template paused before its chunk is sent
    status, created = api.call("POST", "/v1/campaigns", body(order({"1": "Ada", "2": "A-1"})))
    assert status == 201, created
    env.deps.templates.apply_update(tenant[0], "ch_wa", TemplateUpdate("tpl_order", "paused"), "2026-12-01T09:00:00Z")
    # WHEN the worker runs
    pump.drain()
    # THEN nothing was sent and the campaign is stopped with template_paused
    status, stopped = api.call("GET", f"/v1/campaigns/{created['id']}")
    assert stopped["status"] == "stopped" and stopped["stop_reason"]["code"] == "template_paused", stopped
    assert provider.calls == []
    # AND a retry is refused while it is paused
    status, answer = api.call("POST", f"/v1/campaigns/{created['id']}/retry")
    assert (status, answer["error"]["code"]) == (422, "template_not_approved")
    # WHEN it is approved again and retried
    env.deps.templates.apply_update(tenant[0], "ch_wa", TemplateUpdate("tpl_order", "approved"), "2026-12-01T09:01:00Z")
    status, retried = api.call("POST", f"/v1/campaigns/{created['id']}/retry")
    assert status == 200 and retried["status"] == "retrying", retried
    pump.drain()
    # THEN the message went out once and the campaign completed
    assert provider.calls == [ADA]
    assert api.call("GET", f"/v1/campaigns/{created['id']}")[1]["status"] == "completed"


def test_an_order_update_campaign_goes_through_metas_graph_api_with_each_contacts_values(
    env: Env, api: Api, tenant: tuple[str, str], pump: Any
) -> None:
    # GIVEN the real wiring (no fake registered): a whatsapp_cloud channel on the simulator's sandbox WABA, its
    # templates stored as a sync stores what the provider lists
    from devstack.meta_sim import sandbox

    env.sim.meta.add_waba(**sandbox.waba_spec())
    # (written as the channel and template repositories keep them: the channel API of WhatsApp is another lane's)
    creds = {
        "access_token": sandbox.ACCESS_TOKEN,
        "app_secret": sandbox.APP_SECRET,
        "verify_token": sandbox.VERIFY_TOKEN,
    }
    stored = Channel(
        tenant_id=tenant[0],
        channel_id="ch_meta",
        name="Sandbox WhatsApp",
        type="whatsapp",
        provider="whatsapp_cloud",
        senders=(sandbox.SENDER,),
        mps=80,
        created_at="2026-12-01T08:00:00Z",
        provider_config={"waba_id": sandbox.WABA_ID, "phone_number_ids": {sandbox.SENDER: sandbox.PHONE_NUMBER_ID}},
    )
    env.deps.channels.create(stored)
    env.deps.secrets.put(tenant[0], "ch_meta", creds)
    channel = {"id": "ch_meta"}
    listed = env.deps.provider_for(stored, creds).templates()
    env.deps.templates.replace_all(tenant[0], "ch_meta", listed, "2026-12-01T08:00:00Z")
    order_id = next(t.id for t in listed if t.name == "order_update")
    # AND a CSV with first_name and order columns, one cell empty, and Meta's "not a WhatsApp user" number
    csv = f"Number,first_name,order\n{ADA},Ada,A-1\n{BOB},,B-2\n+15550199001,Nobody,N-0\n".encode()
    status, upload = inline_csv(api, csv)
    assert status == 201 and upload["status"] == "ready", upload
    variables = {"1": {"column": "first_name", "default": "there"}, "2": {"column": "order"}}
    content = {"type": "template", "template_id": order_id, "variables": variables}
    campaign = {**body(content, {"upload_id": upload["id"]}), "channel_id": channel["id"], "sender": sandbox.SENDER}
    # WHEN the campaign is created and the worker sends it
    status, created = api.call("POST", "/v1/campaigns", campaign)
    assert status == 201, created
    pump.drain()
    assert pump.errors == []
    # THEN it completed, every number accepted by Meta (the test number's 131026 comes later, in a status webhook,
    # which this test's simulator does not post)
    status, done = api.call("GET", f"/v1/campaigns/{created['id']}")
    assert done["status"] == "completed" and done["result"]["sent"] == 3, done
    status, page = api.call("GET", f"/v1/campaigns/{created['id']}/recipients")
    assert all(str(r["provider_message_id"]).startswith("wamid.") for r in page["items"]), page
    # AND Meta got one order_update per number, each with its own values (Bob the default)
    messages = env.sim.meta.messages()
    assert len(messages) == 3
    text = repr(messages)
    assert "order_update" in text and "Ada" in text and "A-1" in text and "there" in text and "B-2" in text
