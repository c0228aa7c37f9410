"""The values of the webhooks the simulated Meta posts (inside `entry[].changes[].value`), as Meta documents them:
a message's status with conversation and pricing (or its errors), a user's message, a user's marketing preference."""

from __future__ import annotations

from typing import Any

from devstack.meta_sim.records import PhoneNumber, SentMessage
from devstack.meta_sim.rules import OTHER_FAILURES, TEST_NUMBER_FAILURES

# What `POST /sim/meta/user_preferences` takes, and the detail Meta gives with it.
PREFERENCE_DETAILS = {
    "stop": "User requested to stop marketing messages",
    "resume": "User requested to resume marketing messages",
}


def metadata(number: PhoneNumber) -> dict[str, str]:
    """The business number a webhook concerns."""
    return {"display_phone_number": number.display, "phone_number_id": number.phone_number_id}


def status_value(message: SentMessage, number: PhoneNumber, status: str, code: int | None, now: int) -> dict[str, Any]:
    """A `messages` value with one status of a message we sent: its errors when failed, else conversation and
    pricing (the conversation's expiry on `sent` only), and our biz_opaque_callback_data echoed."""
    item: dict[str, Any] = {"id": message.wamid, "status": status, "timestamp": str(now), "recipient_id": message.to}
    if message.opaque:
        item["biz_opaque_callback_data"] = message.opaque
    if code is not None:
        title, details = OTHER_FAILURES.get(code, ("Failed", ""))
        if message.to in TEST_NUMBER_FAILURES:
            _, title, details = TEST_NUMBER_FAILURES[message.to]
        item["errors"] = [
            {
                "code": code,
                "title": title,
                "message": title,
                "error_data": {"details": details},
                "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
            }
        ]
    else:
        conversation: dict[str, Any] = {"id": "c" + message.wamid[-24:], "origin": {"type": message.category}}
        if status == "sent":
            conversation["expiration_timestamp"] = str(now + 24 * 3600)
        item["conversation"] = conversation
        item["pricing"] = {
            "billable": message.category != "service",
            "pricing_model": "PMP",
            "category": message.category,
            "type": "regular",
        }
    return {"messaging_product": "whatsapp", "metadata": metadata(number), "statuses": [item]}


def message_value(
    number: PhoneNumber, user: str, wamid: str, body: str, context_id: str | None, button: str | None, now: int
) -> dict[str, Any]:
    """A `messages` value with a user's message: text, or a quick-reply button press; quoting `context_id` (the
    business's message it replies to) when given."""
    message: dict[str, Any] = {"from": user, "id": wamid, "timestamp": str(now)}
    if context_id:
        message["context"] = {"from": number.display, "id": context_id}
    if button is not None:
        message.update(type="button", button={"payload": button, "text": body or button})
    else:
        message.update(type="text", text={"body": body})
    return {
        "messaging_product": "whatsapp",
        "metadata": metadata(number),
        "contacts": [{"profile": {"name": "Sim User"}, "wa_id": user}],
        "messages": [message],
    }


def preference_value(number: PhoneNumber, user: str, value: str, now: int) -> dict[str, Any]:
    """A `user_preferences` value: the user stopped or resumed marketing messages from the business number."""
    return {
        "messaging_product": "whatsapp",
        "metadata": metadata(number),
        "contacts": [{"profile": {"name": "Sim User"}, "wa_id": user}],
        "user_preferences": [
            {
                "wa_id": user,
                "detail": PREFERENCE_DETAILS[value],
                "category": "marketing_messages",
                "value": value,
                "timestamp": now,
            }
        ],
    }
