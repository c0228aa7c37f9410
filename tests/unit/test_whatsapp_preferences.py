"""Meta's `user_preferences` webhook (a user stopped or resumed marketing messages), as the Cloud API dialect reads it
and as the webhook service records it; Twilio's rules have no such webhook. Pure: no network."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.adapters.providers.base import ProviderRules, WebhookRequest
from chalicelib.adapters.providers.twilio import TWILIO_SMS
from chalicelib.adapters.providers.twilio_whatsapp import TWILIO_WHATSAPP
from chalicelib.adapters.providers.whatsapp_cloud import WHATSAPP_CLOUD
from chalicelib.domain.errors import InvalidRequestError
from chalicelib.domain.events import PreferenceUpdate
from tests.fakes.whatsapp import envelope, preferences_change
from tests.unit.test_whatsapp_webhooks_service import cloud_world, post

RULES: ProviderRules = WHATSAPP_CLOUD
URL = "https://api.example.test/webhooks/whatsapp/ch_wa"


def req(body: Any) -> WebhookRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return WebhookRequest(url=URL, body=raw, signature=None)


def meta_body(*items: dict[str, Any]) -> dict[str, Any]:
    """A user_preferences webhook as Meta documents it (entry[].changes[] with field user_preferences)."""
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550100001", "phone_number_id": "106540352242922"},
        "contacts": [{"profile": {"name": "Ada"}, "wa_id": "41791234567"}],
        "user_preferences": list(items),
    }
    change = {"value": value, "field": "user_preferences"}
    return {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [change]}]}


def item(value: str = "stop", wa_id: Any = "41791234567", **extra: Any) -> dict[str, Any]:
    out = {
        "wa_id": wa_id,
        "detail": f"User requested to {value} marketing messages",
        "category": "marketing_messages",
        "value": value,
        "timestamp": 1796112000,
    }
    out.update(extra)
    return out


def test_a_stop_and_a_resume_are_read_with_the_number_the_sender_and_the_time() -> None:
    # GIVEN Meta's user_preferences webhook with a stop and a resume (the timestamp a number, as Meta documents it)
    body = meta_body(item("stop"), item("resume", wa_id="41791234568", timestamp="1796112060"))
    # WHEN parsed THEN each is a preference update of the contact in E.164, about our sender
    assert RULES.parse_preferences(req(body)) == [
        PreferenceUpdate(
            number="+41791234567",
            stop=True,
            sender="+15550100001",
            at=datetime.fromtimestamp(1796112000, tz=UTC),
        ),
        PreferenceUpdate(
            number="+41791234568",
            stop=False,
            sender="+15550100001",
            at=datetime.fromtimestamp(1796112060, tz=UTC),
        ),
    ]


def test_case_of_the_value_and_category_does_not_matter() -> None:
    # GIVEN values and category in upper case WHEN parsed THEN read all the same
    [update] = RULES.parse_preferences(req(meta_body(item("STOP", category="MARKETING_MESSAGES"))))
    assert (update.number, update.stop) == ("+41791234567", True)


@pytest.mark.parametrize(
    "bad",
    [
        item("pause"),  # a value Meta does not send
        item("stop", category="utility_messages"),  # another category: not an opt-out of everything
        item("stop", wa_id=None),
        item("stop", wa_id=""),
        item("stop", wa_id="not a number"),
        item("stop", wa_id="0123"),  # no country code can start with 0
        item("stop", wa_id="1" * 20),  # longer than E.164 allows
        item("stop", wa_id=["41791234567"]),
        item(None),  # type: ignore[arg-type]
    ],
)
def test_items_of_another_value_category_or_without_a_number_are_left_out(bad: dict[str, Any]) -> None:
    # GIVEN one good item and one that is not a marketing stop/resume of a number WHEN parsed THEN only the good one
    updates = RULES.parse_preferences(req(meta_body(bad, item("resume"))))
    assert [(u.number, u.stop) for u in updates] == [("+41791234567", False)]


def test_other_fields_carry_no_preferences_and_preferences_carry_no_messages() -> None:
    # GIVEN a messages webhook, and a user_preferences one
    messages = envelope({"field": "messages", "value": {"messages": [{"id": "wamid.X", "from": "1", "type": "text"}]}})
    prefs = meta_body(item("stop"))
    # THEN each is read only as what it is
    assert RULES.parse_preferences(req(messages)) == []
    assert RULES.parse_inbound(req(prefs)) == [] and RULES.parse_status(req(prefs)) == []
    assert RULES.parse_template_updates(req(prefs)) == []


@pytest.mark.parametrize("raw", [b"not json", b"\xff", b"[]", b"[" * 100_000])
def test_a_body_that_is_not_a_json_object_is_a_bad_request(raw: bytes) -> None:
    # GIVEN a signed body that is not a JSON object WHEN parsed THEN 400 (InvalidRequestError), nothing else
    with pytest.raises(InvalidRequestError):
        RULES.parse_preferences(req(raw))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=15,
)
KEYS = st.sampled_from(["wa_id", "value", "category", "timestamp", "detail", "metadata", "display_phone_number"])
ITEM = st.dictionaries(KEYS, JSON | st.sampled_from(["stop", "resume", "marketing_messages", "41791234567"]))
VALUE = st.fixed_dictionaries({}, optional={"user_preferences": st.lists(ITEM | JSON, max_size=3), "metadata": ITEM})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=VALUE | JSON)
def test_any_value_inside_meta_s_envelope_is_parsed_without_raising(value: Any) -> None:
    # GIVEN Meta's envelope around any user_preferences value WHEN parsed THEN a list of valid updates, never a raise
    body = {"entry": [{"changes": [{"field": "user_preferences", "value": value}]}]}
    for update in RULES.parse_preferences(req(body)):
        assert update.number.startswith("+") and isinstance(update.stop, bool)


@pytest.mark.parametrize("rules", [TWILIO_SMS, TWILIO_WHATSAPP])
def test_twilio_has_no_preference_webhook(rules: ProviderRules) -> None:
    # GIVEN Twilio's rules WHEN a body shaped like Meta's user_preferences is read THEN nothing: Twilio never sends it
    assert rules.parse_preferences(req(meta_body(item("stop")))) == []


def test_the_webhook_records_each_preference_and_the_others_of_its_batch() -> None:
    # GIVEN the Cloud channel, and one signed webhook with a stop, a resume, and an inbound message
    w = cloud_world()
    batch = envelope(
        preferences_change(("41791234567", "stop"), ("41791234568", "resume")),
        {
            "field": "messages",
            "value": {
                "metadata": {"display_phone_number": "14155238886"},
                "messages": [{"id": "wamid.IN1", "from": "41791234569", "type": "text", "text": {"body": "hi"}}],
            },
        },
    )
    # WHEN Meta posts it
    received = post(w, batch)
    # THEN both preferences are recorded (through optouts.preference), and the message beside them
    assert received == {"statuses": 0, "messages": 1, "template_updates": 0, "preferences": 2}
