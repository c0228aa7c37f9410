"""Meta's WhatsApp Cloud API dialect of the provider port, on the payloads Meta posts (statuses with conversation and
pricing, messages, template updates), its signature, handshake, credentials, provider_config and error codes.
Pure: no network."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.adapters.providers.base import Outcome, ProviderRules, WebhookRequest
from chalicelib.adapters.providers.whatsapp_cloud import WHATSAPP_CLOUD, HubSignature
from chalicelib.adapters.providers.whatsapp_cloud_api import message_body, template_of
from chalicelib.domain.errors import InvalidRequestError
from chalicelib.domain.events import Media
from chalicelib.domain.model import RecipientStatus
from chalicelib.domain.templates import TemplateMessage

RULES: ProviderRules = WHATSAPP_CLOUD
SECRET = "0123456789abcdef0123456789abcdef"
URL = "https://api.example.test/webhooks/whatsapp/ch_wa"
WABA = "102290129340398"
PHONE_ID = "106540352242922"
REF = "a=1&c=cmp_1&r=3&s=2"


def envelope(value: dict[str, Any], field: str = "messages") -> dict[str, Any]:
    """The wrapper every Meta webhook has: object, entry[] (the WABA), changes[] with field and value."""
    changes = [{"value": value, "field": field}]
    return {"object": "whatsapp_business_account", "entry": [{"id": WABA, "changes": changes}]}


def metadata() -> dict[str, Any]:
    return {"display_phone_number": "15550100001", "phone_number_id": PHONE_ID}


def status(state: str, wamid: str = "wamid.HBgLMTU1NTAxMjM0NTYVAgARGBI", **extra: Any) -> dict[str, Any]:
    """One statuses[] item as Meta posts it, with conversation and pricing as on billable statuses."""
    item: dict[str, Any] = {
        "id": wamid,
        "status": state,
        "timestamp": "1764662400",
        "recipient_id": "15550123456",
        "biz_opaque_callback_data": REF,
        "conversation": {
            "id": "CONVERSATION_ID",
            "expiration_timestamp": "1764748800",
            "origin": {"type": "marketing"},
        },
        "pricing": {"billable": True, "pricing_model": "PMP", "category": "marketing", "type": "regular"},
    }
    item.update(extra)
    return item


def req(body: dict[str, Any] | bytes, secret: str = SECRET) -> WebhookRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    signature = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return WebhookRequest(url=URL, body=raw, signature=signature)


def statuses(*items: dict[str, Any]) -> WebhookRequest:
    return req(envelope({"messaging_product": "whatsapp", "metadata": metadata(), "statuses": list(items)}))


# ------------------------------------------------------------------------------------------------ statuses
def test_a_delivered_status_carries_its_id_time_and_the_reference_we_handed_over() -> None:
    # GIVEN a delivered status with conversation and pricing, and our biz_opaque_callback_data
    # WHEN it is parsed
    [event] = RULES.parse_status(statuses(status("delivered")))
    # THEN it names the message, the time Meta gives, and our reference as a dict
    assert event.message_id == "wamid.HBgLMTU1NTAxMjM0NTYVAgARGBI"
    assert event.status == RecipientStatus.DELIVERED
    assert event.at == datetime.fromtimestamp(1764662400, tz=UTC)
    assert event.ref == {"a": "1", "c": "cmp_1", "r": "3", "s": "2"}
    assert event.error_code is None


def test_a_batch_out_of_order_keeps_every_status_in_the_order_meta_sent_them() -> None:
    # GIVEN read before sent (Meta skips delivered and sends out of order), for two messages, in one POST
    body = statuses(status("read", "wamid.A"), status("sent", "wamid.A"), status("delivered", "wamid.B"))
    # WHEN parsed
    events = RULES.parse_status(body)
    # THEN each is an event; ordering the recipient forward is the service's job
    assert [(e.message_id, e.status) for e in events] == [
        ("wamid.A", RecipientStatus.READ),
        ("wamid.A", RecipientStatus.SENT),
        ("wamid.B", RecipientStatus.DELIVERED),
    ]


def test_a_failed_status_carries_the_first_error_code_and_title() -> None:
    # GIVEN a failed status as Meta reports 131026 (conversation and pricing absent on failures)
    item = status("failed", errors=[{"code": 131026, "title": "Message undeliverable", "message": "Undeliverable"}])
    del item["pricing"], item["conversation"]
    # WHEN parsed
    [event] = RULES.parse_status(statuses(item))
    # THEN the code is a string, and the title its words
    assert (event.status, event.error_code, event.error_message) == (
        RecipientStatus.FAILED,
        "131026",
        "Message undeliverable",
    )


def test_statuses_that_move_no_recipient_and_a_missing_reference_are_handled() -> None:
    # GIVEN deleted and warning statuses, and a sent one without biz_opaque_callback_data
    plain = status("sent", "wamid.C")
    del plain["biz_opaque_callback_data"]
    # WHEN parsed
    events = RULES.parse_status(statuses(status("deleted"), status("warning"), plain))
    # THEN only the sent one is an event, with no reference
    assert [(e.message_id, e.ref) for e in events] == [("wamid.C", None)]


def test_a_messages_webhook_without_statuses_and_other_fields_give_no_status() -> None:
    # GIVEN an inbound message webhook, and an account_update webhook
    inbound = envelope({"metadata": metadata(), "messages": [{"id": "wamid.X", "from": "1", "type": "text"}]})
    other = envelope({"phone_number": "15550100001", "event": "VERIFIED_ACCOUNT"}, field="account_update")
    # THEN neither has a status
    assert RULES.parse_status(req(inbound)) == []
    assert RULES.parse_status(req(other)) == []


@pytest.mark.parametrize(
    "raw",
    [b"not json", b"\xff\xfe", b"[]", b'"text"', b"[" * 100_000, b'{"entry": ' + b"[" * 100_000],
)
def test_a_body_that_is_not_a_json_object_is_a_bad_request(raw: bytes) -> None:
    # GIVEN a signed body that is not a JSON object
    # WHEN parsed, THEN a 400 (InvalidRequestError), never anything else
    with pytest.raises(InvalidRequestError):
        RULES.parse_status(req(raw))
    with pytest.raises(InvalidRequestError):
        RULES.parse_inbound(req(raw))
    with pytest.raises(InvalidRequestError):
        RULES.parse_template_updates(req(raw))


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"entry": "x"},
        {"entry": [1, None, {"changes": "x"}]},
        {"entry": [{"changes": [{"field": "messages", "value": []}]}]},
        {"entry": [{"changes": [{"field": "messages", "value": {"statuses": [1, "x", {"status": 5}]}}]}]},
        {"entry": [{"changes": [{"field": "messages", "value": {"messages": [{"id": 5, "type": []}, {}]}}]}]},
        {"entry": [{"changes": [{"field": "message_template_status_update", "value": {"event": None}}]}]},
    ],
)
def test_a_json_object_of_the_wrong_shape_gives_nothing_and_never_raises(body: dict[str, Any]) -> None:
    # GIVEN JSON objects with missing or mistyped parts
    # WHEN parsed, THEN nothing comes out of them, and nothing is raised
    RULES.parse_status(req(body))
    RULES.parse_template_updates(req(body))
    for message in RULES.parse_inbound(req(body)):
        assert isinstance(message.body, str)


# ------------------------------------------------------------------------------------------------ inbound
def inbound(*messages: dict[str, Any]) -> WebhookRequest:
    value = {
        "messaging_product": "whatsapp",
        "metadata": metadata(),
        "contacts": [{"profile": {"name": "Ada"}, "wa_id": "41791234567"}],
        "messages": list(messages),
    }
    return req(envelope(value))


def test_a_text_reply_quoting_our_message_names_the_context() -> None:
    # GIVEN a text message that replies to one of ours
    item = {
        "from": "41791234567",
        "id": "wamid.IN1",
        "timestamp": "1764662401",
        "type": "text",
        "text": {"body": "Yes please"},
        "context": {"from": "15550100001", "id": "wamid.OURS"},
    }
    # WHEN parsed
    [message] = RULES.parse_inbound(inbound(item))
    # THEN numbers are E.164, the sender is the channel's, the context is the quoted message
    assert (message.message_id, message.from_, message.to, message.body) == (
        "wamid.IN1",
        "+41791234567",
        "+15550100001",
        "Yes please",
    )
    assert message.context_id == "wamid.OURS"
    assert message.at == datetime.fromtimestamp(1764662401, tz=UTC)
    assert message.button_payload is None


def test_a_quick_reply_press_and_an_interactive_reply_carry_their_payloads() -> None:
    # GIVEN a template quick-reply press and an interactive button reply
    button = {
        "from": "41791234567",
        "id": "wamid.B1",
        "timestamp": "1764662402",
        "type": "button",
        "button": {"payload": "mc1:cmp_1:3:0", "text": "Stop promotions"},
        "context": {"from": "15550100001", "id": "wamid.OURS"},
    }
    reply = {
        "from": "41791234567",
        "id": "wamid.B2",
        "timestamp": "1764662403",
        "type": "interactive",
        "interactive": {"type": "button_reply", "button_reply": {"id": "yes-1", "title": "Yes"}},
    }
    # WHEN parsed
    first, second = RULES.parse_inbound(inbound(button, reply))
    # THEN the payload and the button's text come out
    assert (first.body, first.button_payload, first.context_id) == ("Stop promotions", "mc1:cmp_1:3:0", "wamid.OURS")
    assert (second.body, second.button_payload) == ("Yes", "yes-1")


def test_media_and_location_messages() -> None:
    # GIVEN an image with a caption, and a location
    image = {
        "from": "41791234567",
        "id": "wamid.M1",
        "timestamp": "1764662404",
        "type": "image",
        "image": {"caption": "my receipt", "mime_type": "image/jpeg", "sha256": "abc", "id": "1479537139650973"},
    }
    place = {
        "from": "41791234567",
        "id": "wamid.L1",
        "timestamp": "1764662405",
        "type": "location",
        "location": {"latitude": 47.37, "longitude": 8.54, "name": "HQ", "address": "Zurich"},
    }
    # WHEN parsed
    photo, where = RULES.parse_inbound(inbound(image, place))
    # THEN the media id is kept (fetched later with the token) and the location is text
    assert photo.body == "my receipt"
    assert photo.media == (Media(url="1479537139650973", content_type="image/jpeg"),)
    assert where.body == "47.37,8.54 HQ Zurich"


# -------------------------------------------------------------------------------------- template updates
def test_a_template_paused_update_maps_to_paused_with_meta_s_word_and_reason() -> None:
    # GIVEN Meta's message_template_status_update for a first pause
    value = {
        "event": "PAUSED",
        "message_template_id": 1689556908129832,
        "message_template_name": "old_offer",
        "message_template_language": "en",
        "reason": None,
        "other_info": {"title": "FIRST_PAUSE", "description": "Your template has been paused for 3 hours."},
    }
    # WHEN parsed
    [update] = RULES.parse_template_updates(req(envelope(value, field="message_template_status_update")))
    # THEN the id is a string, the status ours, Meta's kept
    assert (update.template_id, update.status, update.provider_status) == ("1689556908129832", "paused", "PAUSED")
    assert (update.name, update.language) == ("old_offer", "en")
    assert update.reason == "Your template has been paused for 3 hours."


@pytest.mark.parametrize(
    ("event", "ours"),
    [
        ("APPROVED", "approved"),
        ("REINSTATED", "approved"),
        ("FLAGGED", "approved"),
        ("PENDING", "pending"),
        ("IN_APPEAL", "pending"),
        ("REJECTED", "rejected"),
        ("PAUSED", "paused"),
        ("DISABLED", "disabled"),
        ("DELETED", "disabled"),
        ("PENDING_DELETION", "disabled"),
        ("ARCHIVED", "disabled"),
        ("LIMIT_EXCEEDED", "disabled"),
        ("SOMETHING_NEW", "pending"),
    ],
)
def test_every_template_state_maps_onto_ours(event: str, ours: str) -> None:
    # GIVEN an update with this event and reason NONE
    value = {"event": event, "message_template_id": 7, "reason": "NONE"}
    # WHEN parsed
    [update] = RULES.parse_template_updates(req(envelope(value, field="message_template_status_update")))
    # THEN it is ours, with no reason
    assert (update.status, update.reason) == (ours, None)


def test_a_listed_template_becomes_ours_with_header_buttons_and_variables_in_order() -> None:
    # GIVEN a message_templates item as the Graph API lists it
    item = {
        "name": "spring_promo",
        "parameter_format": "POSITIONAL",
        "components": [
            {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["4::aW..."]}},
            {"type": "BODY", "text": "{{2}} and {{1}}, then {{2}} again"},
            {"type": "FOOTER", "text": "Reply STOP"},
            {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Stop promotions"}]},
        ],
        "language": "en",
        "status": "APPROVED",
        "category": "MARKETING",
        "id": "1192339204654487",
    }
    # WHEN mapped
    template = template_of(item)
    # THEN every part is ours
    assert template is not None
    assert (template.id, template.status, template.category, template.parameter_format) == (
        "1192339204654487",
        "approved",
        "marketing",
        "positional",
    )
    assert template.variables == ("2", "1")
    assert template.header == {"type": "image"}
    assert template.buttons == ({"type": "quick_reply", "text": "Stop promotions"},)


def test_named_parameters_are_inferred_when_the_format_is_not_given() -> None:
    # GIVEN a template whose body has named parameters and no parameter_format, rejected with a reason
    item = {
        "id": 5,
        "name": "n",
        "language": "en_US",
        "status": "REJECTED",
        "rejected_reason": "INVALID_FORMAT",
        "components": [{"type": "HEADER", "format": "TEXT", "text": "Hi"}, {"type": "BODY", "text": "{{first_name}}"}],
    }
    template = template_of(item)
    assert template is not None
    assert (template.parameter_format, template.variables, template.status, template.reason) == (
        "named",
        ("first_name",),
        "rejected",
        "INVALID_FORMAT",
    )
    assert template.header == {"type": "text", "text": "Hi"}


@pytest.mark.parametrize(
    "item",
    [
        {"id": 1},
        {"name": "x"},
        {"id": [], "name": "x"},
        {"id": 1, "name": "x", "components": 5},
        {"id": 1, "name": "x", "components": [{"type": "BUTTONS", "buttons": 7}, {"type": "HEADER", "format": 3}]},
        {"id": 1, "name": "x", "status": None, "category": 4, "parameter_format": [], "rejected_reason": {}},
    ],
)
def test_a_listed_item_of_the_wrong_shape_is_skipped_or_mapped_never_raises(item: dict[str, Any]) -> None:
    # GIVEN a message_templates item with missing or mistyped fields WHEN mapped THEN None or a Template
    template = template_of(item)
    assert template is None or template.name == "x"


# -------------------------------------------------------------------------------------------- send bodies
def test_a_template_send_body_has_header_media_body_parameters_buttons_and_our_reference() -> None:
    # GIVEN a positional template with an image header and a quick-reply payload
    message = TemplateMessage(
        template_id="1",
        name="spring_promo",
        language="en",
        variables={"2": "B", "1": "A"},
        header_type="image",
        header_media_url="https://media.example.test/x.jpg",
        button_payloads=("mc1:cmp_1:3:0",),
    )
    # WHEN the body is built
    body = message_body("+41791234567", None, f"https://api.example.test/webhooks/whatsapp/ch?{REF}", message)
    # THEN it is Meta's shape, parameters in number order, the callback URL's query as biz_opaque_callback_data
    assert body["to"] == "41791234567"
    assert body["type"] == "template"
    assert body["biz_opaque_callback_data"] == REF
    header, params, button = body["template"]["components"]
    assert header == {"type": "header", "parameters": [{"type": "image", "image": {"link": message.header_media_url}}]}
    assert params == {"type": "body", "parameters": [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}]}
    assert button == {
        "type": "button",
        "sub_type": "quick_reply",
        "index": "0",
        "parameters": [{"type": "payload", "payload": "mc1:cmp_1:3:0"}],
    }
    assert body["template"]["language"] == {"code": "en"}


def test_named_parameters_are_sent_with_their_names() -> None:
    message = TemplateMessage(template_id="1", name="n", language="en", parameter_format="named", variables={"x": "1"})
    body = message_body("+41791234567", None, "https://h/w", message)
    assert body["template"]["components"] == [
        {"type": "body", "parameters": [{"type": "text", "parameter_name": "x", "text": "1"}]}
    ]
    assert "biz_opaque_callback_data" not in body


# --------------------------------------------------------------------------------------------- signature
def test_the_signature_is_the_app_secret_s_hmac_of_the_raw_body() -> None:
    # GIVEN a body signed as Meta signs it
    good = statuses(status("sent"))
    verifier = HubSignature(SECRET)
    # THEN it is valid; altered, forged, missing or malformed it is not
    assert verifier.valid(good)
    assert not verifier.valid(WebhookRequest(URL, good.body + b" ", good.signature))
    assert not verifier.valid(req(good.body, secret="another-secret-of-32-characters!"))
    assert not verifier.valid(WebhookRequest(URL, good.body, None))
    assert not verifier.valid(WebhookRequest(URL, good.body, ""))
    assert not verifier.valid(WebhookRequest(URL, good.body, (good.signature or "")[7:]))  # no sha256= prefix
    assert not verifier.valid(WebhookRequest(URL, good.body, "sha256=ü" + "0" * 63))
    assert not verifier.valid(WebhookRequest(URL, good.body, "sha1=" + hashlib.sha1(good.body).hexdigest()))  # noqa: S324


# --------------------------------------------------------------------------------------------- handshake
CREDS = {"access_token": "EAAG" + "x" * 100, "app_secret": SECRET, "verify_token": "my-verify-token"}


def test_the_handshake_echoes_the_challenge_only_for_the_channel_s_token() -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": "my-verify-token", "hub.challenge": "1158201444"}
    assert RULES.handshake(query, CREDS) == "1158201444"
    assert RULES.handshake({**query, "hub.verify_token": "wrong"}, CREDS) is None
    assert RULES.handshake({**query, "hub.mode": "unsubscribe"}, CREDS) is None
    assert RULES.handshake({k: v for k, v in query.items() if k != "hub.verify_token"}, CREDS) is None
    assert RULES.handshake(query, {**CREDS, "verify_token": ""}) is None
    assert RULES.handshake({**query, "hub.verify_token": "ü"}, CREDS) is None
    assert RULES.handshake({**query, "hub.verify_token": "\udcff"}, CREDS) is None  # a lone surrogate from a bad query


def test_one_webhook_path_for_both_kinds() -> None:
    assert RULES.webhook_path("ch_1", "status") == RULES.webhook_path("ch_1", "inbound") == "/webhooks/whatsapp/ch_1"


# ---------------------------------------------------------------------------------- credentials and config
def test_credentials_of_the_right_shape_have_no_problems_and_wrong_ones_are_named_without_values() -> None:
    assert RULES.credential_problems(CREDS) == []
    bad = {"access_token": "has space " * 3, "app_secret": "short"}
    problems = RULES.credential_problems(bad)
    assert [field for field, _ in problems] == ["access_token", "app_secret", "verify_token"]
    assert all("has space" not in why and "short" not in why for _, why in problems)
    assert [f for f, _ in RULES.credential_problems({**CREDS, "verify_token": "tab\there"})] == ["verify_token"]


def test_provider_config_needs_the_waba_and_one_id_per_sender() -> None:
    senders = ["+15550100001", "+15550100002"]
    good = {"waba_id": WABA, "phone_number_ids": {"+15550100001": PHONE_ID, "+15550100002": "106540352242923"}}
    assert RULES.config_problems(good, senders) == []
    assert [f for f, _ in RULES.config_problems(None, senders)] == ["provider_config"]
    wrong = {"waba_id": "abc", "phone_number_ids": {"+15550100001": "12x", "+15550100009": "1"}}
    assert [f for f, _ in RULES.config_problems(wrong, senders)] == [
        "provider_config.waba_id",
        "provider_config.phone_number_ids.+15550100002",
        "provider_config.phone_number_ids.+15550100001",
        "provider_config.phone_number_ids.+15550100009",
    ]
    assert [f for f, _ in RULES.config_problems({"waba_id": WABA}, senders)] == ["provider_config.phone_number_ids"]
    assert [f for f, _ in RULES.config_problems({**good, "x": 1}, senders)] == ["provider_config"]
    twice = {"waba_id": WABA, "phone_number_ids": {"+15550100001": PHONE_ID, "+15550100002": PHONE_ID}}
    assert [f for f, _ in RULES.config_problems(twice, senders)] == ["provider_config.phone_number_ids.+15550100002"]


# ------------------------------------------------------------------------------------------------- limits
def test_limits_are_meta_s() -> None:
    limits = RULES.limits
    assert (limits.templates, limits.segmented, limits.default_mps, limits.pair_gap_seconds) == (True, False, 80, 6)
    assert limits.max_text_chars == 1024
    assert limits.header_media["image"] == (frozenset({"image/jpeg", "image/png"}), 5 * 1024 * 1024)
    assert limits.header_media["video"] == (frozenset({"video/mp4", "video/3gpp"}), 16 * 1024 * 1024)
    types, size = limits.header_media["document"]
    assert "application/pdf" in types and size == 100 * 1024 * 1024


# ------------------------------------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        ("130429", Outcome.THROTTLED),
        ("131056", Outcome.THROTTLED),
        ("4", Outcome.THROTTLED),
        ("80007", Outcome.THROTTLED),
        ("2", Outcome.THROTTLED),
        ("131016", Outcome.THROTTLED),
        ("131057", Outcome.THROTTLED),
        ("131026", Outcome.PERMANENT),
        ("131049", Outcome.PERMANENT),
        ("131050", Outcome.PERMANENT),
        ("131047", Outcome.PERMANENT),
        ("131000", Outcome.PERMANENT),
        ("131008", Outcome.PERMANENT),
        ("131009", Outcome.PERMANENT),
        ("131021", Outcome.PERMANENT),
        ("131051", Outcome.PERMANENT),
        ("131053", Outcome.PERMANENT),
        ("132005", Outcome.PERMANENT),
        ("132000", Outcome.TEMPLATE),
        ("132001", Outcome.TEMPLATE),
        ("132012", Outcome.TEMPLATE),
        ("132015", Outcome.TEMPLATE),
        ("132016", Outcome.TEMPLATE),
        ("368", Outcome.ACCOUNT),
        ("131031", Outcome.ACCOUNT),
        ("190", Outcome.ACCOUNT),
        ("10", Outcome.ACCOUNT),
        ("131005", Outcome.ACCOUNT),
        ("131042", Outcome.ACCOUNT),
        ("133010", Outcome.ACCOUNT),
        ("250", Outcome.ACCOUNT),
        ("999999", Outcome.PERMANENT),
        ("not-a-code", Outcome.PERMANENT),
    ],
)
def test_every_classified_code(code: str, outcome: Outcome) -> None:
    info = RULES.error(code)
    assert (info.code, info.outcome) == (code, outcome)
    assert info.message


def test_the_codes_with_more_to_say() -> None:
    # 131049: not now, a retry after 24 h; 131050: opted out, never retried; the template codes' stop reasons
    assert RULES.error("131049").retry_after_seconds == 86400
    assert RULES.error("131056").retry_after_seconds == 6
    assert RULES.error("131050").opted_out and not RULES.error("131026").opted_out
    assert RULES.error("132015").stop_reason == "template_paused"
    assert RULES.error("132016").stop_reason == "template_disabled"
    assert RULES.error("132000").stop_reason == RULES.error("132001").stop_reason == "template_rejected_by_provider"
    assert RULES.error("190").stop_reason is None  # provider_190


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
KEYS = st.sampled_from(
    ["entry", "changes", "value", "field", "messages", "statuses", "id", "status", "type", "errors", "code", "event"]
)
SHAPED = st.recursive(
    JSON,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(KEYS, children, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=SHAPED)
def test_any_json_is_parsed_or_refused_as_a_bad_request_never_anything_else(body: Any) -> None:
    # GIVEN any JSON value, shaped around Meta's keys WHEN each parser reads it
    # THEN it returns lists of events, or raises InvalidRequestError (400), never another exception
    request = req(json.dumps(body).encode())
    for parse in (RULES.parse_status, RULES.parse_inbound, RULES.parse_template_updates):
        try:
            assert isinstance(parse(request), list)
        except InvalidRequestError:
            assert not isinstance(body, dict)


ITEM_KEYS = st.sampled_from(
    ["id", "status", "timestamp", "errors", "code", "title", "biz_opaque_callback_data", "from", "type", "text",
     "button", "interactive", "button_reply", "payload", "context", "image", "location", "body", "metadata",
     "display_phone_number", "event", "message_template_id", "reason", "other_info", "description"]
)  # fmt: skip
ITEM = st.dictionaries(ITEM_KEYS, SHAPED | st.dictionaries(ITEM_KEYS, SHAPED, max_size=3), max_size=6)
VALUE = st.fixed_dictionaries(
    {},
    optional={"statuses": st.lists(ITEM, max_size=3), "messages": st.lists(ITEM, max_size=3), "metadata": ITEM},
).flatmap(lambda v: st.just(v) | ITEM.map(lambda extra: {**extra, **v}))
WRAPPED = st.builds(
    lambda field, value: {"entry": [{"changes": [{"field": field, "value": value}]}]},
    st.sampled_from(["messages", "message_template_status_update"]),
    VALUE,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=WRAPPED)
def test_any_value_inside_meta_s_envelope_is_parsed_without_raising(body: dict[str, Any]) -> None:
    # GIVEN Meta's envelope around any statuses, messages and template fields WHEN parsed THEN lists, never a raise
    request = req(json.dumps(body).encode())
    assert isinstance(RULES.parse_status(request), list)
    assert isinstance(RULES.parse_inbound(request), list)
    assert isinstance(RULES.parse_template_updates(request), list)
