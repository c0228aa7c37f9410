"""A template campaign's content on the fakes: what create, edit, send, duplicate and retry check before anything is
sent, and what the campaign keeps and answers."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from chalicelib.domain.commands import (
    CampaignSettings,
    CreateCampaign,
    PatchCampaign,
    RecipientsSpec,
    SendCampaign,
    SendNow,
    TemplateContent,
    TextContent,
)
from chalicelib.domain.errors import UnprocessableError
from chalicelib.domain.phonebooks import Contact, PutPhonebook
from chalicelib.services import campaigns, phonebooks
from tests.fakes.provider import FAKE_WHATSAPP, FakeWhatsAppRules
from tests.unit.campaign_deps import CHANNEL, SENDER, TENANT, WA_CHANNEL, WA_SENDER, World, whatsapp_world
from tests.unit.template_world import (
    ORDER_UPDATE,
    create,
    csv_upload,
    media_upload,
    set_template_status,
    store_templates,
    template_settings,
)

ADA, BOB = "+14155550100", "+14155550101"


@pytest.fixture
def w() -> World:
    world = whatsapp_world()
    store_templates(world)
    return world


def refused(w: World, settings: CampaignSettings) -> UnprocessableError:
    with pytest.raises(UnprocessableError) as caught:
        create(w, settings)
    return caught.value


def test_a_template_campaign_keeps_its_spec_and_a_snapshot_and_answers_the_content_as_sent(w: World) -> None:
    # GIVEN a CSV with first_name and order columns
    csv_upload(w, "upl_csv", ["first_name", "order"], [(ADA, ["Ada", "A-1"]), (BOB, ["", "B-2"])])
    variables: dict[str, Any] = {"1": {"column": "first_name", "default": "there"}, "2": {"column": "order"}}
    # WHEN a campaign with order_update is created
    created = create(w, template_settings("tpl_order", variables, upload_id="upl_csv"))
    # THEN it is answered with the content as the PBX sent it, as one UTF-8 message
    assert created["content"] == {
        "type": "template",
        "template_id": "tpl_order",
        "variables": variables,
        "header_upload_id": None,
    }
    assert (created["segments"], created["encoding"]) == (1, "UTF-8")
    # AND the stored content keeps what each send needs of the template
    stored = w.campaigns.get(TENANT, created["id"])
    assert stored is not None and stored.content["template"] == {
        "name": "order_update",
        "language": "en",
        "parameter_format": "positional",
        "variables": ["1", "2"],
        "header_type": None,
        "quick_replies": 0,
    }


def test_a_template_not_stored_for_the_channel_is_refused_naming_it(w: World) -> None:
    # WHEN a campaign names a template the channel has not synced
    err = refused(w, template_settings("tpl_nope", {}, numbers=[ADA]))
    # THEN 422 template_not_found, saying to sync
    assert err.code == "template_not_found" and "sync" in str(err)
    assert err.details[0]["template_id"] == "tpl_nope"


@pytest.mark.parametrize(("template_id", "status"), [("tpl_pending", "pending"), ("tpl_paused", "paused")])
def test_only_an_approved_template_can_be_used(w: World, template_id: str, status: str) -> None:
    # WHEN a campaign uses a pending or paused template
    err = refused(w, template_settings(template_id, {}, numbers=[ADA]))
    # THEN 422 template_not_approved with its status
    assert err.code == "template_not_approved" and err.details[0]["status"] == status


def test_every_declared_variable_and_no_other_must_be_given(w: World) -> None:
    # WHEN order_update ({{1}}, {{2}}) gets 1 and 3
    err = refused(w, template_settings("tpl_order", {"1": "Ada", "3": "x"}, numbers=[ADA]))
    # THEN 422 template_variables_mismatch naming the missing and the unknown one
    assert err.code == "template_variables_mismatch"
    assert (err.details[0]["missing"], err.details[0]["unknown"]) == (["2"], ["3"])


def test_a_named_template_takes_its_names(w: World) -> None:
    # GIVEN welcome ({{first_name}})
    # WHEN it is given a positional 1 instead
    err = refused(w, template_settings("tpl_welcome", {"1": "Ada"}, numbers=[ADA]))
    # THEN the mismatch names first_name as missing
    assert err.code == "template_variables_mismatch" and err.details[0]["missing"] == ["first_name"]
    # AND with its name it is accepted
    assert create(w, template_settings("tpl_welcome", {"first_name": "Ada"}, numbers=[ADA]))["status"] == "executing"


def test_a_column_the_audience_lacks_is_refused(w: World) -> None:
    # GIVEN a CSV with a first_name column only
    csv_upload(w, "upl_csv", ["first_name"], [(ADA, ["Ada"])])
    # WHEN a variable takes the column order from it, or any column from typed numbers
    from_csv = refused(
        w,
        template_settings("tpl_order", {"1": {"column": "first_name"}, "2": {"column": "order"}}, upload_id="upl_csv"),
    )
    typed = refused(w, template_settings("tpl_order", {"1": {"column": "first_name"}, "2": "x"}, numbers=[ADA]))
    number = refused(w, template_settings("tpl_order", {"1": {"column": "Number"}, "2": "x"}, upload_id="upl_csv"))
    # THEN 422 unknown_column naming it (the Number column is the recipient's number, not a variable)
    assert from_csv.code == typed.code == number.code == "unknown_column"
    assert from_csv.details[0]["column"] == "order" and from_csv.details[0]["available"] == ["first_name"]
    assert typed.details[0]["column"] == "first_name"


def test_a_phonebook_audience_gives_the_name_column(w: World) -> None:
    # GIVEN a phonebook
    phonebooks.put_phonebook(
        w.deps, TENANT, "pb_1", PutPhonebook("Team", (Contact("Ada", {"mobile": ADA}), Contact(None, {"mobile": BOB})))
    )
    # WHEN a variable takes `name`, and another an unknown column
    ok = create(
        w, template_settings("tpl_welcome", {"first_name": {"column": "name", "default": "there"}}, phonebook="pb_1")
    )
    err = refused(w, template_settings("tpl_welcome", {"first_name": {"column": "first_name"}}, phonebook="pb_1"))
    # THEN name is accepted and first_name is not
    assert ok["status"] == "executing"
    assert err.code == "unknown_column" and err.details[0]["available"] == ["name"]


@pytest.mark.parametrize("value", ["  ", "two\nlines", "a\tb", "a     b", "x" * 1025])
def test_a_literal_value_whatsapp_would_refuse_is_refused_up_front(w: World, value: str) -> None:
    # GIVEN a CSV with a first_name column
    csv_upload(w, "upl_csv", ["first_name"], [(ADA, ["Ada"])])
    # WHEN a literal value, or a column's default, is blank, has a new line or tab, 5 spaces in a row, or is too long
    err = refused(w, template_settings("tpl_order", {"1": value, "2": "ok"}, numbers=[ADA]))
    default = refused(
        w,
        template_settings(
            "tpl_welcome", {"first_name": {"column": "first_name", "default": value}}, upload_id="upl_csv"
        ),
    )
    # THEN 422 invalid_variable_value naming the field
    assert err.code == default.code == "invalid_variable_value"
    assert err.details[0]["field"] == "content.variables.1"
    assert default.details[0]["field"] == "content.variables.first_name.default"


def test_a_media_header_needs_a_fitting_upload(w: World) -> None:
    # GIVEN spring_promo (image header), a JPEG, a PDF and a JPEG over the header's 5 MB
    media_upload(w, "upl_jpg")
    media_upload(w, "upl_pdf", "application/pdf")
    media_upload(w, "upl_big", "image/jpeg", 6 * 2**20)
    promo = {"1": "Spring is here"}
    # WHEN it is sent without a header upload, with the PDF, with the big one
    missing = refused(w, template_settings("tpl_promo", promo, numbers=[ADA]))
    wrong = refused(w, template_settings("tpl_promo", promo, numbers=[ADA], header_upload_id="upl_pdf"))
    big = refused(w, template_settings("tpl_promo", promo, numbers=[ADA], header_upload_id="upl_big"))
    nowhere = refused(
        w, template_settings("tpl_order", {"1": "a", "2": "b"}, numbers=[ADA], header_upload_id="upl_jpg")
    )
    # THEN each gets its 422, and a header upload for a template without one is refused too
    assert missing.code == "header_upload_required" and missing.details[0]["header_type"] == "image"
    assert wrong.code == "media_type_not_supported"
    assert big.code == "media_too_large"
    assert nowhere.code == "header_upload_not_allowed"
    # AND with the JPEG it is accepted, the pinned copy kept internally and never answered
    ok = create(w, template_settings("tpl_promo", promo, numbers=[ADA], header_upload_id="upl_jpg"))
    stored = w.campaigns.get(TENANT, ok["id"])
    assert stored is not None and stored.content["media_key"].startswith(f"media/{TENANT}/upl_jpg/")
    assert "media_key" not in ok["content"] and "template" not in ok["content"]
    assert stored.content["template"]["quick_replies"] == 1 and stored.content["template"]["header_type"] == "image"


def test_a_missing_header_upload_is_refused_as_for_mms(w: World) -> None:
    # WHEN the header upload does not exist
    err = refused(w, template_settings("tpl_promo", {"1": "x"}, numbers=[ADA], header_upload_id="upl_none"))
    # THEN the upload codes apply, on the header's field
    assert err.code == "upload_not_found" and err.details[0]["field"] == "content.header_upload_id"


def test_a_whatsapp_channel_sends_only_templates_and_sms_no_templates(w: World) -> None:
    # WHEN text goes to the WhatsApp channel, and a template to the SMS channel
    text = CampaignSettings(
        name="t",
        channel_id=WA_CHANNEL,
        sender=WA_SENDER,
        recipients=RecipientsSpec(numbers=(ADA,)),
        content=TextContent(text="Hello"),
    )
    template = CampaignSettings(
        name="t",
        channel_id=CHANNEL,
        sender=SENDER,
        recipients=RecipientsSpec(numbers=(ADA,)),
        content=TemplateContent(template_id="tpl_order", variables={"1": "a", "2": "b"}),
    )
    # THEN 422 template_required and template_not_supported
    assert refused(w, text).code == "template_required"
    assert refused(w, template).code == "template_not_supported"


def test_edit_send_duplicate_and_retry_check_the_template_again(w: World) -> None:
    # GIVEN a draft with order_update, and a completed campaign with it
    draft = create(w, template_settings("tpl_order", {"1": "Ada", "2": "A-1"}, numbers=[ADA]), draft=True)
    # WHEN the template is paused
    set_template_status(w, ORDER_UPDATE.id, "paused")
    # THEN editing, sending and duplicating the draft get 422 template_not_approved
    with pytest.raises(UnprocessableError) as edit:
        campaigns.update_campaign(w.deps, TENANT, draft["id"], PatchCampaign(name="renamed"))
    with pytest.raises(UnprocessableError) as send:
        campaigns.send_campaign(w.deps, TENANT, draft["id"], SendCampaign(SendNow()))
    with pytest.raises(UnprocessableError) as dup:
        campaigns.duplicate_campaign(w.deps, TENANT, draft["id"])
    assert edit.value.code == send.value.code == dup.value.code == "template_not_approved"
    # AND once approved again, the draft is sent
    set_template_status(w, ORDER_UPDATE.id, "approved")
    assert campaigns.send_campaign(w.deps, TENANT, draft["id"], SendCampaign(SendNow()))["status"] == "executing"


def test_an_idempotent_create_of_a_template_campaign_is_a_replay(w: World) -> None:
    # GIVEN a template campaign created with an Idempotency-Key
    settings = template_settings("tpl_order", {"1": "Ada", "2": "A-1"}, numbers=[ADA])
    key = campaigns.Idempotency("k1", "h1")
    first, _ = campaigns.create_campaign(w.deps, TENANT, CreateCampaign(settings, SendNow()), key)
    # WHEN the same request comes again
    again, replayed = campaigns.create_campaign(w.deps, TENANT, CreateCampaign(settings, SendNow()), key)
    # THEN it answers the same campaign
    assert replayed and again["id"] == first["id"] and again["content"] == first["content"]


def test_a_provider_whose_templates_hold_their_own_media_takes_no_header_upload(w: World) -> None:
    # GIVEN rules with no header media (Twilio: a Content template carries its own picture)
    class OwnMedia(FakeWhatsAppRules):
        limits = dataclasses.replace(FAKE_WHATSAPP.limits, header_media={})

    w.deps.rules_for = lambda provider, channel_type: OwnMedia()
    media_upload(w, "upl_jpg")
    # WHEN spring_promo (image header) is used without and with a header upload
    ok = create(w, template_settings("tpl_promo", {"1": "Spring!"}, numbers=[ADA]))
    err = refused(w, template_settings("tpl_promo", {"1": "Spring!"}, numbers=[ADA], header_upload_id="upl_jpg"))
    # THEN without one it is accepted, and one given is refused
    assert ok["status"] == "executing"
    assert err.code == "header_upload_not_allowed"
