"""WhatsApp channels and their templates on fakes: provider_config checked and shown, sync replaces what is stored,
listing pages and filters, SMS channels have none, a provider that fails changes nothing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest

from chalicelib.adapters.providers.base import Provider, ProviderRules
from chalicelib.domain.channels import Channel, CreateChannel, PatchChannel
from chalicelib.domain.errors import (
    NotFoundError,
    ProviderRefusedError,
    ProviderUnavailableError,
    ServiceError,
    UnprocessableError,
)
from chalicelib.domain.templates import Template
from chalicelib.services import channels, templates
from chalicelib.wiring import provider_rules
from tests.fakes.deps import PUBLIC_BASE, FakeWorld, fake_world
from tests.fakes.provider import FakeProvider
from tests.fakes.whatsapp import CREDS, FAKE_CLOUD, WABA

TENANT = "tn_a"
SENDER = "+14155238886"
CONFIG = {"waba_id": WABA, "phone_number_ids": {SENDER: "106540352242922"}}
CLOUD = CreateChannel(
    name="WhatsApp",
    type="whatsapp",
    provider="whatsapp_cloud",
    senders=(SENDER,),
    credentials=CREDS,
    provider_config=CONFIG,
)
SMS = CreateChannel(
    name="SMS",
    type="sms",
    provider="twilio",
    senders=("+15005550006",),
    credentials={"account_sid": "AC" + "0123456789abcdef" * 2, "auth_token": "tok"},
)


def tpl(tid: str, status: str = "approved", name: str | None = None, **extra: Any) -> Template:
    """A template as a provider lists it."""
    return Template(id=tid, name=name or f"t{tid}", language="en", status=status, body="Hi {{1}}", **extra)


def cloud_world() -> tuple[FakeWorld, FakeProvider]:
    """Fakes whose deployment also wires a WhatsApp Cloud-shaped provider (tests/fakes/whatsapp.py)."""
    world = fake_world()
    provider = FakeProvider(clock=world.deps.clock.now)

    def rules_for(name: str, channel_type: str) -> ProviderRules:
        if (name, channel_type) == ("whatsapp_cloud", "whatsapp"):
            return FAKE_CLOUD
        return provider_rules(name, channel_type)

    def provider_for(channel: Channel, creds: Mapping[str, str]) -> Provider:
        assert creds == CREDS  # the account is built from the channel's stored credentials
        return provider  # type: ignore[return-value]

    world.deps.rules_for = rules_for
    world.deps.provider_for = provider_for
    return world, provider


def test_a_cloud_channel_shows_its_provider_config_and_one_webhook_url_and_defaults_to_80_mps() -> None:
    # GIVEN a WhatsApp Cloud channel without mps WHEN created
    world, _ = cloud_world()
    answer = channels.create_channel(world.deps, TENANT, CLOUD)
    cid = answer["id"]
    # THEN it answers its provider_config, Meta's default pace and one URL for both kinds; credentials stay secret
    assert answer["provider_config"] == CONFIG and answer["mps"] == 80.0
    url = f"{PUBLIC_BASE}/webhooks/whatsapp/{cid}"
    assert answer["webhooks"] == {"status_callback_url": url, "inbound_url": url}
    assert "app_secret" not in repr(answer) and world.secrets.get(TENANT, cid) == CREDS


@pytest.mark.parametrize(
    "config",
    [None, {"waba_id": WABA, "phone_number_ids": {}}, {"waba_id": WABA, "phone_number_ids": {"+14155238889": "1"}}],
)
def test_a_cloud_channel_whose_config_does_not_fit_its_senders_is_refused_and_nothing_is_kept(
    config: dict[str, Any] | None,
) -> None:
    # GIVEN a provider_config missing or naming no id for the sender WHEN created THEN 422, nothing kept
    world, _ = cloud_world()
    with pytest.raises(UnprocessableError) as refused:
        channels.create_channel(world.deps, TENANT, replace(CLOUD, provider_config=config))
    assert refused.value.code == "invalid_provider_config"
    assert world.channels.channels == {} and world.secrets.secrets == {}


def test_a_patch_checks_the_config_against_the_senders_as_they_will_be_before_any_write() -> None:
    # GIVEN a Cloud channel
    world, _ = cloud_world()
    cid = channels.create_channel(world.deps, TENANT, CLOUD)["id"]
    new_sender = "+14155238887"
    # WHEN only a sender is added (the stored config has no id for it), with new credentials in the same request
    new_creds = {**CREDS, "access_token": "EAAnew0123456789abcdef"}
    with pytest.raises(UnprocessableError) as refused:
        channels.update_channel(
            world.deps, TENANT, cid, PatchChannel(senders=(SENDER, new_sender), credentials=new_creds)
        )
    # THEN 422 naming the sender's id, and neither the channel nor its credentials changed
    assert refused.value.code == "invalid_provider_config"
    assert refused.value.details[0]["field"] == f"provider_config.phone_number_ids.{new_sender}"
    assert channels.get_channel(world.deps, TENANT, cid).senders == (SENDER,)
    assert world.secrets.get(TENANT, cid) == CREDS
    # AND WHEN the config comes with the senders THEN both change, and the answer shows the new config
    config = {"waba_id": WABA, "phone_number_ids": {SENDER: "1065", new_sender: "1066"}}
    patched = channels.update_channel(
        world.deps, TENANT, cid, PatchChannel(senders=(SENDER, new_sender), provider_config=config)
    )
    assert patched["senders"] == [SENDER, new_sender] and patched["provider_config"] == config
    assert channels.view(world.deps, channels.get_channel(world.deps, TENANT, cid)) == patched


def test_a_twilio_channel_takes_no_provider_config() -> None:
    # GIVEN a Twilio channel WHEN a provider_config is patched in THEN 422, and its answer still has none
    world, _ = cloud_world()
    cid = channels.create_channel(world.deps, TENANT, SMS)["id"]
    with pytest.raises(UnprocessableError) as refused:
        channels.update_channel(world.deps, TENANT, cid, PatchChannel(provider_config=CONFIG))
    assert refused.value.code == "invalid_provider_config"
    assert "provider_config" not in channels.view(world.deps, channels.get_channel(world.deps, TENANT, cid))


def test_a_sync_stores_the_providers_listing_and_answers_the_first_page_and_the_counts() -> None:
    # GIVEN a Cloud channel whose account lists three templates
    world, provider = cloud_world()
    cid = channels.create_channel(world.deps, TENANT, CLOUD)["id"]
    header = {"type": "image"}
    buttons = ({"type": "quick_reply", "text": "Stop promotions"},)
    provider.listed_templates = [
        tpl("3", "paused", reason="low quality"),
        tpl("1", provider_status="APPROVED", category="utility", variables=("1",)),
        tpl("2", "pending", header=header, buttons=buttons),
    ]
    # WHEN synced
    synced = templates.sync_templates(world.deps, TENANT, cid)
    # THEN all are stored and answered by id, with the counts of each status
    assert [t["id"] for t in synced["items"]] == ["1", "2", "3"] and synced["next_cursor"] is None
    assert synced["total"] == 3
    assert synced["counts"] == {"approved": 1, "pending": 1, "rejected": 0, "paused": 1, "disabled": 0}
    first = synced["items"][0]
    assert first == {
        "id": "1",
        "name": "t1",
        "language": "en",
        "category": "utility",
        "status": "approved",
        "body": "Hi {{1}}",
        "variables": ["1"],
        "parameter_format": "positional",
        "header": None,
        "buttons": [],
        "provider_status": "APPROVED",
        "reason": None,
        "synced_at": synced["synced_at"],
        "updated_at": synced["synced_at"],
    }
    assert templates.get_template(world.deps, TENANT, cid, "2")["buttons"] == [dict(buttons[0])]
    assert templates.get_template(world.deps, TENANT, cid, "3")["reason"] == "low quality"
    # AND WHEN the provider no longer lists one and the next sync runs THEN it is gone
    provider.listed_templates = provider.listed_templates[1:]
    templates.sync_templates(world.deps, TENANT, cid)
    with pytest.raises(NotFoundError):
        templates.get_template(world.deps, TENANT, cid, "3")


def test_listing_pages_and_filters_by_status_without_losing_any() -> None:
    # GIVEN five synced templates, three of them approved
    world, provider = cloud_world()
    cid = channels.create_channel(world.deps, TENANT, CLOUD)["id"]
    states = ["approved", "pending", "approved", "rejected", "approved"]
    provider.listed_templates = [tpl(str(i), s) for i, s in enumerate(states)]
    templates.sync_templates(world.deps, TENANT, cid)
    # WHEN the approved ones are listed a page of one at a time
    seen, cursor = [], None
    for _ in range(10):
        page = templates.list_templates(world.deps, TENANT, cid, "approved", 1, cursor)
        seen += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    # THEN each approved one comes exactly once, and nothing else
    assert seen == ["0", "2", "4"]
    # AND without a filter, pages of two cover all five
    first = templates.list_templates(world.deps, TENANT, cid, None, 2, None)
    assert [t["id"] for t in first["items"]] == ["0", "1"] and first["next_cursor"]


@pytest.mark.parametrize("call", ["sync", "list", "get"])
def test_an_sms_channel_has_no_templates(call: str) -> None:
    # GIVEN a Twilio SMS channel WHEN its templates are asked for THEN 422 templates_not_supported
    world, _ = cloud_world()
    cid = channels.create_channel(world.deps, TENANT, SMS)["id"]
    with pytest.raises(UnprocessableError) as refused:
        if call == "sync":
            templates.sync_templates(world.deps, TENANT, cid)
        elif call == "list":
            templates.list_templates(world.deps, TENANT, cid, None, 50, None)
        else:
            templates.get_template(world.deps, TENANT, cid, "1")
    assert refused.value.code == "templates_not_supported"


def test_another_tenants_channel_has_no_templates_to_show() -> None:
    # GIVEN tenant A's synced Cloud channel WHEN tenant B asks for its templates THEN 404
    world, provider = cloud_world()
    cid = channels.create_channel(world.deps, TENANT, CLOUD)["id"]
    provider.listed_templates = [tpl("1")]
    templates.sync_templates(world.deps, TENANT, cid)
    with pytest.raises(NotFoundError):
        templates.list_templates(world.deps, "tn_b", cid, None, 50, None)


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (ProviderRefusedError("the access token was rejected"), ProviderRefusedError),
        (ConnectionResetError("reset by peer"), ProviderUnavailableError),
    ],
)
def test_a_provider_that_does_not_list_leaves_the_stored_templates_as_they_were(
    failure: BaseException, expected: type[ServiceError]
) -> None:
    # GIVEN a synced channel whose provider then refuses (or fails) the listing
    world, provider = cloud_world()
    cid = channels.create_channel(world.deps, TENANT, CLOUD)["id"]
    provider.listed_templates = [tpl("1")]
    templates.sync_templates(world.deps, TENANT, cid)
    provider.listed_templates, provider.listing_error = [], failure
    # WHEN synced again THEN the error is a 422 (refused) or 503 (unavailable), never a 500
    with pytest.raises(expected) as raised:
        templates.sync_templates(world.deps, TENANT, cid)
    assert raised.value.status in (422, 503)
    # AND the stored templates are as they were
    assert [t["id"] for t in templates.list_templates(world.deps, TENANT, cid, None, 50, None)["items"]] == ["1"]


def test_deleting_a_channel_deletes_its_templates() -> None:
    # GIVEN a synced Cloud channel WHEN deleted THEN its templates are gone from the store too
    world, provider = cloud_world()
    cid = channels.create_channel(world.deps, TENANT, CLOUD)["id"]
    provider.listed_templates = [tpl("1"), tpl("2")]
    templates.sync_templates(world.deps, TENANT, cid)
    channels.delete_channel(world.deps, TENANT, cid)
    assert world.templates.templates == {}
