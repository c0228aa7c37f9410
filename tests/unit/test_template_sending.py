"""A template campaign's sending on the fakes: each contact's values, the skip of an empty cell, the header and the
buttons, the stops for a template paused before a chunk or refused by the provider, the retries that resume them,
the 24-hour gate of a "not now" failure, and the pair gap between two campaigns to the same contact."""

from __future__ import annotations

from collections import Counter

import pytest

from chalicelib.adapters.providers.base import Limits, Outcome, SendResult
from chalicelib.domain.errors import ConflictError, UnprocessableError
from chalicelib.domain.model import RecipientStatus
from chalicelib.domain.templates import button_payload, parse_button_payload
from chalicelib.services import campaigns, views
from tests.fakes.provider import FAKE_WHATSAPP, FakeWhatsAppRules
from tests.unit.campaign_deps import TENANT, WA_SENDER, World, whatsapp_world
from tests.unit.template_world import (
    ORDER_UPDATE,
    SPRING_PROMO,
    create,
    csv_upload,
    media_upload,
    set_template_status,
    store_templates,
    template_settings,
)
from tests.unit.test_campaign_life import recipient, send_queued, status

ADA, BOB, CY, DEE = "+14155550100", "+14155550101", "+14155550102", "+14155550103"
ORDER_VARS = {"1": {"column": "first_name", "default": "there"}, "2": {"column": "order"}}


@pytest.fixture
def w() -> World:
    world = whatsapp_world()
    store_templates(world)
    return world


def order_campaign(w: World, rows: list[tuple[str, list[str]]]) -> dict:
    """An order_update campaign sent now to a CSV of (number, [first_name, order])."""
    upload_id = csv_upload(w, f"upl_{len(w.deps.uploads.uploads)}", ["first_name", "order"], rows)  # type: ignore[attr-defined]
    return create(w, template_settings("tpl_order", ORDER_VARS, upload_id=upload_id))


def result(w: World, campaign_id: str) -> dict:
    return views.get_campaign(w.deps, TENANT, campaign_id)


def test_each_contact_gets_its_own_values_the_default_for_an_empty_cell_and_a_skip_for_a_missing_one(w: World) -> None:
    # GIVEN a CSV where Ada has both cells, Bob no first name (it has a default), Cy no order (no default)
    created = order_campaign(w, [(ADA, ["Ada", "A-1"]), (BOB, ["", "B-2"]), (CY, ["Cy", ""])])
    # WHEN it is sent
    send_queued(w)
    # THEN Ada and Bob got order_update with their values (Bob the default), as a template with no text
    ada, bob = w.provider.sent_to(ADA)[0], w.provider.sent_to(BOB)[0]
    assert ada.template is not None and bob.template is not None
    assert (ada.template.name, ada.template.language, ada.text) == ("order_update", "en", None)
    assert dict(ada.template.variables) == {"1": "Ada", "2": "A-1"}
    assert dict(bob.template.variables) == {"1": "there", "2": "B-2"}
    # AND Cy was never handed over: skipped with missing_variable naming the column, counted as skipped
    assert CY not in w.provider.calls
    cy = recipient(w, created["id"], 2)
    assert (cy.status, cy.error_code, cy.attempts) == (RecipientStatus.SKIPPED, "missing_variable", 0)
    assert "'order'" in str(cy.error_message)
    got = result(w, created["id"])
    assert got["status"] == "completed"
    assert (got["result"]["sent"], got["result"]["skipped"], got["result"]["failed"]) == (2, 1, 0)


def test_a_media_header_is_sent_from_its_pinned_copy_and_each_quick_reply_carries_its_recipient(w: World) -> None:
    # GIVEN spring_promo (image header, one quick reply) to two numbers
    media_upload(w, "upl_jpg")
    created = create(
        w, template_settings("tpl_promo", {"1": "Spring!"}, numbers=[ADA, BOB], header_upload_id="upl_jpg")
    )
    # WHEN it is sent
    send_queued(w)
    # THEN each message names the header's pinned file and its own button payload
    stored = w.campaigns.get(TENANT, created["id"])
    assert stored is not None
    for index, number in enumerate([ADA, BOB]):
        message = w.provider.sent_to(number)[0].template
        assert message is not None and message.header_type == "image"
        assert message.header_media_url is not None and stored.content["media_key"] in message.header_media_url
        assert message.button_payloads == (button_payload(created["id"], index, 0),)
        assert parse_button_payload(message.button_payloads[0]) == (created["id"], index, 0)
    assert SPRING_PROMO.quick_replies == 1


def test_a_template_paused_before_a_chunk_stops_the_campaign_and_retry_resumes_it_once_approved(w: World) -> None:
    # GIVEN a campaign with order_update whose chunk is queued
    created = order_campaign(w, [(ADA, ["Ada", "A-1"]), (BOB, ["Bob", "B-2"])])
    # WHEN the template is paused before the chunk is worked
    set_template_status(w, ORDER_UPDATE.id, "paused")
    send_queued(w)
    # THEN nothing was sent and the campaign stopped with template_paused
    assert w.provider.calls == []
    got = result(w, created["id"])
    assert got["status"] == "stopped" and got["stop_reason"]["code"] == "template_paused"
    # AND a retry is refused while it is paused
    with pytest.raises(UnprocessableError) as refused:
        campaigns.retry_campaign(w.deps, TENANT, created["id"])
    assert refused.value.code == "template_not_approved" and refused.value.details[0]["status"] == "paused"
    # WHEN it is approved again and the campaign retried
    set_template_status(w, ORDER_UPDATE.id, "approved")
    assert campaigns.retry_campaign(w.deps, TENANT, created["id"])["status"] == "retrying"
    send_queued(w)
    # THEN each number got its message once and the campaign completed
    assert Counter(w.provider.calls) == Counter([ADA, BOB])
    assert result(w, created["id"])["status"] == "completed"


@pytest.mark.parametrize(
    ("status_now", "code"), [("disabled", "template_disabled"), ("rejected", "template_not_approved")]
)
def test_a_template_disabled_or_otherwise_unapproved_stops_with_its_reason(
    w: World, status_now: str, code: str
) -> None:
    # GIVEN a queued campaign whose template then leaves approved
    created = order_campaign(w, [(ADA, ["Ada", "A-1"])])
    set_template_status(w, ORDER_UPDATE.id, status_now)
    # WHEN the chunk is worked
    send_queued(w)
    # THEN it stopped with that reason, nothing sent
    assert result(w, created["id"])["stop_reason"]["code"] == code and w.provider.calls == []


def test_a_template_gone_from_the_channel_stops_the_campaign(w: World) -> None:
    # GIVEN a queued campaign whose template a later sync no longer lists
    created = order_campaign(w, [(ADA, ["Ada", "A-1"])])
    store_templates(w, [SPRING_PROMO])
    # WHEN the chunk is worked
    send_queued(w)
    # THEN it stopped with template_not_approved
    assert result(w, created["id"])["stop_reason"]["code"] == "template_not_approved"


def test_a_template_refusal_stops_the_campaign_and_leaves_the_recipient_queued_for_the_retry(w: World) -> None:
    # GIVEN a provider that refuses the second contact's message as a paused template (132015)
    w.provider.script(BOB, SendResult.refused(Outcome.TEMPLATE, "132015", "template is paused"))
    created = order_campaign(w, [(ADA, ["Ada", "A-1"]), (BOB, ["Bob", "B-2"]), (CY, ["Cy", "C-3"])])
    # WHEN it is sent
    send_queued(w)
    # THEN the campaign stopped with the code's stop reason, and Bob is queued again, not failed
    got = result(w, created["id"])
    assert got["status"] == "stopped" and got["stop_reason"]["code"] == "template_paused"
    bob = recipient(w, created["id"], 1)
    assert (bob.status, bob.error_code) == (RecipientStatus.QUEUED, None)
    # WHEN it is retried (the stored template is still approved)
    campaigns.retry_campaign(w.deps, TENANT, created["id"])
    send_queued(w)
    # THEN every contact has exactly one message, nothing already accepted sent again
    assert Counter(m.to for m in w.provider.messages) == Counter([ADA, BOB, CY])
    assert result(w, created["id"])["status"] == "completed"


def test_an_account_refusal_stops_with_the_rules_stop_reason(w: World) -> None:
    # GIVEN a provider that refuses the token (190)
    w.provider.script(ADA, SendResult.refused(Outcome.ACCOUNT, "190", "token expired"))
    created = order_campaign(w, [(ADA, ["Ada", "A-1"])])
    # WHEN it is sent
    send_queued(w)
    # THEN it stopped with credentials_rejected (the code's stop_reason), Ada queued for the retry
    assert result(w, created["id"])["stop_reason"]["code"] == "credentials_rejected"
    assert recipient(w, created["id"], 0).status == RecipientStatus.QUEUED


def test_a_not_now_failure_is_retried_only_after_its_wait(w: World) -> None:
    # GIVEN Bob refused with 131049 (retry only after 24 h) and Cy with 131050 (opted out of marketing)
    w.provider.script(BOB, SendResult.refused(Outcome.PERMANENT, "131049", "ecosystem"))
    w.provider.script(CY, SendResult.refused(Outcome.PERMANENT, "131050", "stopped marketing"))
    created = order_campaign(w, [(ADA, ["Ada", "A-1"]), (BOB, ["Bob", "B-2"]), (CY, ["Cy", "C-3"])])
    send_queued(w)
    assert result(w, created["id"])["result"]["failed"] == 2
    # WHEN it is retried within the day
    with pytest.raises(ConflictError) as early:
        campaigns.retry_campaign(w.deps, TENANT, created["id"])
    # THEN 409 nothing_to_retry saying from when
    assert early.value.code == "nothing_to_retry" and "retry_from" in early.value.details[0]
    # WHEN a day has passed
    w.advance(FAKE_WHATSAPP.error("131049").retry_after_seconds or 0)
    campaigns.retry_campaign(w.deps, TENANT, created["id"])
    send_queued(w)
    # THEN Bob was sent again (and accepted), Cy never again
    assert Counter(w.provider.calls) == Counter([ADA, BOB, BOB, CY])
    assert recipient(w, created["id"], 1).status == RecipientStatus.SENT


def test_a_contact_in_two_consecutive_campaigns_is_not_refused_for_the_pair_rate(w: World) -> None:
    # GIVEN a provider that refuses a second message to a contact within 6 s (Meta's pair rate)
    w.provider.pair_gap = 6.0
    first = order_campaign(w, [(ADA, ["Ada", "A-1"]), (BOB, ["Bob", "B-2"])])
    second = order_campaign(w, [(ADA, ["Ada", "A-9"])])
    assert second["status"] == "pending"
    # WHEN both are sent, the second as soon as the first finishes
    send_queued(w)
    # THEN Ada got both messages, 6 s or more apart, and nothing was refused
    assert (status(w, first["id"]), status(w, second["id"])) == ("completed", "completed")
    one, two = w.provider.sent_to(ADA)
    assert two.at - one.at >= 6.0
    assert w.provider.pair_refusals == []


def test_a_pair_rate_refusal_that_still_happens_is_waited_out_not_failed(w: World) -> None:
    # GIVEN rules that do not know the pair gap (so the sender does not wait), and a provider that enforces it
    class NoGap(FakeWhatsAppRules):
        limits = Limits(**{**FAKE_WHATSAPP.limits.__dict__, "pair_gap_seconds": 0.0})

    w.deps.rules_for = lambda provider, channel_type: NoGap()
    w.provider.pair_gap = 6.0
    first = order_campaign(w, [(ADA, ["Ada", "A-1"])])
    second = order_campaign(w, [(ADA, ["Ada", "A-9"])])
    # WHEN both are sent
    send_queued(w)
    # THEN the second was refused with 131056 (throttled), tried again after its wait and accepted
    assert w.provider.pair_refusals == [ADA]
    assert len(w.provider.sent_to(ADA)) == 2
    assert recipient(w, second["id"], 0).status == RecipientStatus.SENT
    assert status(w, first["id"]) == status(w, second["id"]) == "completed"
    assert w.provider.sent_to(ADA)[1].sender == WA_SENDER


def test_a_template_refusal_without_a_stop_reason_of_its_own_stops_as_provider_code(w: World) -> None:
    # GIVEN a provider that refuses the parameters (132000, which names no stop reason of its own)
    w.provider.script(ADA, SendResult.refused(Outcome.TEMPLATE, "132000", "parameters do not match"))
    created = order_campaign(w, [(ADA, ["Ada", "A-1"])])
    # WHEN it is sent
    send_queued(w)
    # THEN it stopped with provider_132000 and the provider's words
    reason = result(w, created["id"])["stop_reason"]
    assert reason == {"code": "provider_132000", "message": "parameters do not match"}


def test_a_document_header_is_sent_with_its_file_name(w: World) -> None:
    # GIVEN invoice (document header) with a PDF
    media_upload(w, "upl_pdf", "application/pdf")
    create(w, template_settings("tpl_invoice", {}, numbers=[ADA], header_upload_id="upl_pdf"))
    # WHEN it is sent
    send_queued(w)
    # THEN the message is a document header named as the upload, with no buttons and no variables
    message = w.provider.sent_to(ADA)[0].template
    assert message is not None
    assert (message.header_type, message.header_filename) == ("document", "invoice.pdf")
    assert (dict(message.variables), message.button_payloads) == ({}, ())
