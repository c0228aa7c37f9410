"""A WhatsApp Cloud-shaped provider for the service and API tests: Meta's webhook JSON (statuses with
`biz_opaque_callback_data`, messages with `context` and button replies, `message_template_status_update`), its
`X-Hub-Signature-256` and its verification handshake, and builders of such webhooks.

It stands in for the real adapter (chalicelib/adapters/providers/whatsapp_cloud.py) so the services can be tested on
their own; the adapter's own tests hold it to Meta's documents.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from chalicelib.adapters.providers.base import ErrorInfo, Limits, Outcome, WebhookKind, WebhookRequest
from chalicelib.domain.events import InboundMessage, PreferenceUpdate, StatusEvent
from chalicelib.domain.model import RecipientStatus
from chalicelib.domain.templates import Template, TemplateUpdate

APP_SECRET = "fake-app-secret-0123456789abcdef"
VERIFY_TOKEN = "fake-verify-token"
CREDS = {"access_token": "EAAfake0123456789abcdef", "app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN}
WABA = "102290129340398"
STATES = {"APPROVED": "approved", "PENDING": "pending", "REJECTED": "rejected", "PAUSED": "paused"}
STATES |= {"DISABLED": "disabled", "IN_APPEAL": "pending"}
_STATUSES = {"sent": RecipientStatus.SENT, "delivered": RecipientStatus.DELIVERED, "read": RecipientStatus.READ}
_STATUSES |= {"failed": RecipientStatus.FAILED}


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    """Meta's X-Hub-Signature-256 of a body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _values(request: WebhookRequest, field_name: str) -> list[dict[str, Any]]:
    data = json.loads(request.body)  # a test's body: garbage raises, as the service must survive
    return [
        change["value"]
        for entry in data.get("entry", [])
        for change in entry.get("changes", [])
        if change.get("field") == field_name
    ]


class FakeCloudRules:
    """Meta's rules as far as the services see them."""

    name = "whatsapp_cloud"
    title = "WhatsApp Cloud (fake)"
    limits = Limits(
        media_types=frozenset({"image/jpeg", "image/png"}),
        max_media_bytes=5 * 1024 * 1024,
        max_media_count=1,
        max_text_chars=4096,
        segmented=False,
        default_mps=80.0,
        templates=True,
        pair_gap_seconds=6.0,
    )

    def credential_problems(self, credentials: Mapping[str, str]) -> list[tuple[str, str]]:
        """Each of the three must be there."""
        return [(k, "required") for k in ("access_token", "app_secret", "verify_token") if not credentials.get(k)]

    def error(self, code: str) -> ErrorInfo:
        """Every code is a permanent refusal here."""
        return ErrorInfo(code, Outcome.PERMANENT, f"WhatsApp error {code}")

    def webhook_path(self, channel_id: str, kind: WebhookKind) -> str:
        """One URL for everything."""
        return f"/webhooks/whatsapp/{channel_id}"

    def parse_status(self, request: WebhookRequest) -> list[StatusEvent]:
        """value.statuses[], the reference from biz_opaque_callback_data."""
        events = []
        for value in _values(request, "messages"):
            for s in value.get("statuses", []):
                errors = s.get("errors") or [{}]
                code = errors[0].get("code")
                ref = dict(parse_qsl(s["biz_opaque_callback_data"])) if s.get("biz_opaque_callback_data") else None
                events.append(
                    StatusEvent(
                        message_id=s["id"],
                        status=_STATUSES[s["status"]],
                        error_code=str(code) if code is not None else None,
                        error_message=errors[0].get("title"),
                        ref=ref,
                    )
                )
        return events

    def parse_inbound(self, request: WebhookRequest) -> list[InboundMessage]:
        """value.messages[] with context and a button's payload."""
        found = []
        for value in _values(request, "messages"):
            to = "+" + value.get("metadata", {}).get("display_phone_number", "")
            for m in value.get("messages", []):
                button = m.get("button") or {}
                found.append(
                    InboundMessage(
                        message_id=m["id"],
                        from_="+" + m["from"],
                        to=to,
                        body=(m.get("text") or {}).get("body") or button.get("text") or "",
                        context_id=(m.get("context") or {}).get("id"),
                        button_payload=button.get("payload"),
                    )
                )
        return found

    def parse_template_updates(self, request: WebhookRequest) -> list[TemplateUpdate]:
        """message_template_status_update changes."""
        return [
            TemplateUpdate(
                template_id=str(v["message_template_id"]),
                status=STATES.get(v["event"], "pending"),
                provider_status=v["event"],
                reason=v.get("reason"),
            )
            for v in _values(request, "message_template_status_update")
        ]

    def parse_preferences(self, request: WebhookRequest) -> list[PreferenceUpdate]:
        """user_preferences changes: marketing_messages stop or resume."""
        return [
            PreferenceUpdate(number="+" + p["wa_id"], stop=p["value"] == "stop")
            for v in _values(request, "user_preferences")
            for p in v.get("user_preferences", [])
            if p.get("category") == "marketing_messages" and p.get("value") in ("stop", "resume")
        ]

    def config_problems(self, config: Mapping[str, object] | None, senders: Sequence[str]) -> list[tuple[str, str]]:
        """waba_id and one phone number id per sender."""
        if not config:
            return [("provider_config", "required")]
        ids = config.get("phone_number_ids")
        ids = ids if isinstance(ids, Mapping) else {}
        problems = [(f"provider_config.phone_number_ids.{s}", "missing") for s in senders if s not in ids]
        problems += [(f"provider_config.phone_number_ids.{n}", "not a sender") for n in ids if n not in senders]
        return problems

    def handshake(self, query: Mapping[str, str], credentials: Mapping[str, str]) -> str | None:
        """hub.challenge for the channel's verify token."""
        token = credentials.get("verify_token", "")
        if query.get("hub.mode") != "subscribe" or "hub.challenge" not in query:
            return None
        if not hmac.compare_digest(query.get("hub.verify_token", "").encode(), token.encode()):
            return None
        return query["hub.challenge"]


FAKE_CLOUD = FakeCloudRules()


@dataclass(frozen=True)
class HubSignature:
    """Checks X-Hub-Signature-256 with one app secret."""

    app_secret: str

    def valid(self, request: WebhookRequest) -> bool:
        """The signature of the raw body, compared in constant time."""
        return bool(request.signature) and hmac.compare_digest(
            str(request.signature), sign(request.body, self.app_secret)
        )


@dataclass
class FakeCloudAccount(FakeCloudRules):
    """One account: lists `listed` (or raises `listing_fails`), checks signatures; sends nothing."""

    app_secret: str = APP_SECRET
    listed: list[Template] = field(default_factory=list)
    listing_fails: BaseException | None = None

    def templates(self) -> list[Template]:
        """The account's templates."""
        if self.listing_fails is not None:
            raise self.listing_fails
        return list(self.listed)

    def valid(self, request: WebhookRequest) -> bool:
        """Meta's signature."""
        return HubSignature(self.app_secret).valid(request)


# ------------------------------------------------------------------------------------------ webhook builders
def envelope(*changes: dict[str, Any]) -> dict[str, Any]:
    """Meta's webhook around some changes."""
    return {"object": "whatsapp_business_account", "entry": [{"id": WABA, "changes": list(changes)}]}


def statuses_change(*statuses: dict[str, Any], sender_digits: str = "15550100001") -> dict[str, Any]:
    """A `messages` change carrying statuses."""
    metadata = {"display_phone_number": sender_digits, "phone_number_id": "106540352242922"}
    value = {"messaging_product": "whatsapp", "metadata": metadata, "statuses": list(statuses)}
    return {"field": "messages", "value": value}


def status(message_id: str, state: str, ref: str | None, to: str = "14155550100", **extra: Any) -> dict[str, Any]:
    """One status as Meta reports it (with conversation and pricing, as for a sent template)."""
    out: dict[str, Any] = {"id": message_id, "status": state, "timestamp": "1796112000", "recipient_id": to}
    if ref is not None:
        out["biz_opaque_callback_data"] = ref
    if state != "failed":
        out["conversation"] = {"id": "conv1", "origin": {"type": "marketing"}}
        out["pricing"] = {"billable": True, "pricing_model": "CBP", "category": "marketing"}
    return {**out, **extra}


def messages_change(*messages: dict[str, Any], sender_digits: str = "15550100001") -> dict[str, Any]:
    """A `messages` change carrying inbound messages."""
    metadata = {"display_phone_number": sender_digits, "phone_number_id": "106540352242922"}
    value = {"messaging_product": "whatsapp", "metadata": metadata, "messages": list(messages)}
    return {"field": "messages", "value": value}


def preferences_change(*wa_ids_values: tuple[str, str], sender_digits: str = "15550100001") -> dict[str, Any]:
    """A `user_preferences` change: each (wa_id, "stop" | "resume") a user's marketing preference."""
    metadata = {"display_phone_number": sender_digits, "phone_number_id": "106540352242922"}
    items = [
        {"wa_id": w, "detail": f"User requested to {v} marketing messages", "category": "marketing_messages",
         "value": v, "timestamp": 1796112000}
        for w, v in wa_ids_values
    ]  # fmt: skip
    contacts = [{"profile": {"name": "User"}, "wa_id": w} for w, _ in wa_ids_values]
    value = {"messaging_product": "whatsapp", "metadata": metadata, "contacts": contacts, "user_preferences": items}
    return {"field": "user_preferences", "value": value}


def template_change(template_id: str, event: str, reason: str | None = None) -> dict[str, Any]:
    """A message_template_status_update change."""
    value: dict[str, Any] = {"event": event, "message_template_id": int(template_id), "message_template_name": "x"}
    value |= {"message_template_language": "en", "reason": reason}
    return {"field": "message_template_status_update", "value": value}
