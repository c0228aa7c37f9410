"""Schemathesis hooks for tests/e2e/test_schemathesis.py (loaded through SCHEMATHESIS_HOOKS).

The document says everything a request's shape must satisfy. What it cannot say is which ids exist and what time
it is: a schema-valid campaign naming a channel nobody created is rightly `422 channel_not_found`. So for requests
schemathesis generates as valid, these hooks point the references at resources the test created (its tenant's
channel and sender, a ready media file and contact CSV, a phonebook, a real page cursor), move a scheduled time into
the coming day, and make each Idempotency-Key unique. A new channel is made coherent the way the document says in
words and cannot say in its schema: a `type` and `provider` this deployment wires (the test probes which), that
provider's credentials, and for `whatsapp_cloud` a `provider_config` with one phone number id per sender; a change
to a channel carries its own provider's credentials and config (`after_call` notes the provider of each channel
created). A template listing's cursor is the sandbox WhatsApp channel's real one there, and none elsewhere
(schemathesis.toml accepts a template route's `422 templates_not_supported` on a channel without templates). Nothing
else is changed. Every value comes from
FUZZ_CONTEXT (JSON) that the test sets.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import phonenumbers
import schemathesis
from hypothesis import strategies as st
from hypothesis.internal import lambda_sources

CONTEXT: dict[str, Any] = json.loads(os.environ.get("FUZZ_CONTEXT", "{}"))
_describe = lambda_sources.lambda_description


def _lambda_description(f: Any) -> str:
    # CPython 3.11.7's ast.parse can raise "AST constructor recursion depth mismatch" deep in a stack (gh-106905,
    # fixed in 3.11.8); hypothesis only wants a name for a filter's repr here.
    try:
        return str(_describe(f))
    except SystemError:
        return "lambda"


lambda_sources.lambda_description = _lambda_description


def _valid(number: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(number, None))
    except phonenumbers.NumberParseException:
        return False


# `format: e164`: a number valid for its country's numbering plan (Swiss mobiles, US numbers and Twilio's test ones).
E164 = st.one_of(
    st.integers(0, 9_999_999).map(lambda n: f"+4179{n:07d}"),
    st.integers(0, 9_999).map(lambda n: f"+1415555{n:04d}"),
    st.sampled_from(["+15005550006", "+15005550001", "+15005550004", "+41415084545"]),
).filter(_valid)
schemathesis.openapi.format("e164", E164)


# The fields whose values the document gives `format: e164`. Schemathesis's coverage phase draws such values from
# the pattern alone (`+10`), which a numbering plan refuses; a valid request gets a valid number in their place.
_NUMBER_FIELDS = {
    "senders",
    "numbers",
    "sender",
    *("business", "business2", "mobile", "mobile2", "home", "home2", "other"),
}


def _numbers_valid(node: Any, key: str | None = None) -> Any:
    if isinstance(node, dict):
        return {k: _numbers_valid(v, k) for k, v in node.items()}
    if isinstance(node, list):
        return [_numbers_valid(v, key) for v in node]
    if key in _NUMBER_FIELDS and isinstance(node, str) and not _valid(node):
        return "+41791234567"
    return node


TWILIO_CREDS = {"account_sid": "AC" + "0" * 32, "auth_token": "fuzz-token"}
CLOUD_CREDS = {"access_token": "EAAfuzz" + "0" * 24, "app_secret": "0123456789abcdef" * 2, "verify_token": "fuzz"}


# The provider of each channel the stack has: those the test made, and those the run creates (after_call).
PROVIDERS: dict[str, str] = dict(CONTEXT.get("channel_providers", {}))
# The channel and sender of each campaign the run creates (after_call).
CAMPAIGNS: dict[str, tuple[str, str]] = {}
# The channel that has templates (the stack's WhatsApp sandbox), if any.
TEMPLATE_CHANNEL: str | None = CONTEXT.get("template_channel_id")


def _provider_parts(body: dict[str, Any], provider: str, senders: list[str] | None) -> None:
    """The provider's own credentials (when any are given) and, for Meta, a config naming each sender."""
    if provider == "whatsapp_cloud":
        if body.get("credentials") is not None:
            body["credentials"] = CLOUD_CREDS
        if senders is not None:
            ids = {sender: str(106540352242922 + i) for i, sender in enumerate(dict.fromkeys(senders))}
            body["provider_config"] = {"waba_id": "102290129340398", "phone_number_ids": ids}
        else:
            body.pop("provider_config", None)  # the stored one fits the stored senders
        return
    if body.get("credentials") is not None and set(body["credentials"]) != set(TWILIO_CREDS):
        body["credentials"] = TWILIO_CREDS
    body.pop("provider_config", None)


def _channel(body: dict[str, Any]) -> None:
    """A channel of a kind the stack wires, with its provider's credentials and (Meta) config for its senders."""
    kinds = [tuple(k) for k in CONTEXT.get("channel_kinds", [["twilio", "sms"]])]
    if (body.get("provider"), body.get("type")) not in kinds:
        same_provider = [k for k in kinds if k[0] == body.get("provider")]
        body["provider"], body["type"] = (same_provider or kinds)[0]
    body.setdefault("credentials", None)
    if body["credentials"] is None:
        body["credentials"] = TWILIO_CREDS
    senders = [s for s in body.get("senders") or [] if isinstance(s, str)]
    _provider_parts(body, str(body["provider"]), senders)


def _channel_patch(body: dict[str, Any], channel_id: Any) -> None:
    """A change to a channel in its own provider's terms (an unknown id is answered 404 whatever the body)."""
    provider = PROVIDERS.get(str(channel_id), "twilio")
    senders = body.get("senders")
    template = CONTEXT.get("template") or {}
    kept = [(CONTEXT.get("channel_id"), CONTEXT.get("sender")), (template.get("channel_id"), template.get("sender"))]
    for kept_channel, kept_sender in kept:
        if channel_id == kept_channel and isinstance(senders, list) and kept_sender not in senders:
            # The channel the campaigns are pointed at keeps the sender they are pointed at.
            body["senders"] = senders = [*senders[:99], kept_sender]
    _provider_parts(body, provider, [s for s in senders if isinstance(s, str)] if isinstance(senders, list) else None)


def _future() -> str:
    return (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _campaign_refs(body: dict[str, Any]) -> None:
    if isinstance(body.get("channel_id"), str):
        body["channel_id"] = CONTEXT["channel_id"]
    if isinstance(body.get("sender"), str):
        body["sender"] = CONTEXT["sender"]
    recipients = body.get("recipients")
    if isinstance(recipients, dict):
        if isinstance(recipients.get("upload_id"), str):
            recipients["upload_id"] = CONTEXT["csv_upload_id"]
        if isinstance(recipients.get("phonebook"), dict):
            recipients["phonebook"]["id"] = CONTEXT["phonebook_id"]
    content = body.get("content")
    if isinstance(content, dict) and content.get("type") == "file":
        content["upload_id"] = CONTEXT["media_upload_id"]
    template = CONTEXT.get("template")
    if isinstance(content, dict) and content.get("type") == "template" and template:
        # A template goes out on the WhatsApp sandbox channel, as its approved hello_world (no variables, no header).
        body["channel_id"], body["sender"] = template["channel_id"], template["sender"]
        content.update(template_id=template["template_id"], variables={}, header_upload_id=None)


def _mode_with_target(body: dict[str, Any]) -> None:
    """A draft edit names its send mode with a routing target: the draft's stored mode may be the other one (a direct
    draft given only a target, or a session draft switched to direct with one, is a rightful 422
    invalid_routing_target the document cannot tell from the request)."""
    if body.get("send_mode") == "session" or isinstance(body.get("routing_target"), dict):
        body["send_mode"] = "session"
        if not isinstance(body.get("routing_target"), dict):
            body["routing_target"] = {"type": "queue", "id": "1001"}


def _schedule(body: dict[str, Any]) -> None:
    when = body.get("send_time")
    if isinstance(when, dict) and when.get("type") == "scheduled":
        when["at"] = _future()


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """Point a schema-valid request's references at existing resources (see the module's docstring)."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return
    method, path = case.operation.method.upper(), case.operation.path
    if isinstance(case.body, dict):
        case.body = _numbers_valid(case.body)
    body = case.body if isinstance(case.body, dict) else None
    if body is not None and path == "/v1/channels" and method == "POST":
        _channel(body)
    if body is not None and path == "/v1/channels/{channel_id}" and method == "PATCH":
        _channel_patch(body, (case.path_parameters or {}).get("channel_id"))
    if body is not None and path.startswith("/v1/campaigns") and method in ("POST", "PATCH"):
        _campaign_refs(body)
        _schedule(body)
    if body is not None and path == "/v1/campaigns/{campaign_id}" and method == "PATCH" and "content" not in body:
        # A draft's channel changed alone must stay one its sender (and content) go with: the draft's own.
        made = CAMPAIGNS.get(str((case.path_parameters or {}).get("campaign_id")))
        if made is not None and "channel_id" in body:
            body["channel_id"] = made[0]
            if "sender" in body:
                body["sender"] = made[1]
    number = (case.path_parameters or {}).get("number")
    if path == "/v1/opt-outs/{number}" and not (isinstance(number, str) and _valid(number)):
        case.path_parameters["number"] = "+41791234599"  # drawn from the pattern alone: not in a numbering plan
    if body is not None and path == "/v1/campaigns/{campaign_id}" and method == "PATCH":
        _mode_with_target(body)
    if body is not None and path == "/v1/tenant" and method == "PATCH" and isinstance(body.get("event_url"), str):
        # The document cannot say "a public DNS name" (labels, no bare IP, no port 0): a URL drawn from its pattern
        # alone is a rightful 422 invalid_event_url. A positive case sets one EventBridge can call.
        body["event_url"] = "https://pbx.example.com/events"
    if case.headers and "Idempotency-Key" in case.headers:
        case.headers["Idempotency-Key"] = uuid.uuid4().hex
    query = case.query or {}
    listing_of = (case.path_parameters or {}).get("channel_id")
    if path == "/v1/channels/{channel_id}/templates" and listing_of != TEMPLATE_CHANNEL:
        query.pop("cursor", None)  # a cursor is one channel's: only the sandbox's listing has a real one to use
    if path.startswith("/v1/sessions") and path not in CONTEXT["cursors"]:
        query.pop("cursor", None)  # a session listing's cursor is one of its own pages: the fuzzer has none to use
    if isinstance(query.get("cursor"), str) and path in CONTEXT["cursors"]:
        query["cursor"] = CONTEXT["cursors"][path]
    if path == "/v1/uploads" and case.media_type == "text/csv" and not query.get("filename"):
        # The document cannot say "required with a text/csv body only": it offers `filename` as optional, and an
        # inline CSV without one is `400 invalid_request`, as its description says.
        case.query = {**query, "filename": "fuzz.csv"}


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    """Note the provider of each channel the run creates (a later change to it must speak that provider's terms), and
    the channel and sender of each campaign it creates (a later change of its channel alone keeps them together)."""
    if (
        case.operation.path in ("/v1/campaigns", "/v1/campaigns/{campaign_id}/duplicate")
        and case.operation.method.upper() == "POST"
        and response.status_code == 201
    ):
        made = response.json()
        CAMPAIGNS[str(made["id"])] = (str(made["channel_id"]), str(made["sender"]))
    if (
        case.operation.path == "/v1/channels"
        and case.operation.method.upper() == "POST"
        and response.status_code == 201
    ):
        created = response.json()
        PROVIDERS[str(created["id"])] = str(created["provider"])


@schemathesis.hook
def filter_case(context: Any, case: Any) -> bool:
    """Drop the cases that only break the inline upload's query parameters while sending a JSON announcement,
    which does not read them (`kind` and `filename` describe an inline CSV)."""
    if case.operation.path != "/v1/uploads" or case.media_type == "text/csv":
        return True
    meta = case.meta
    if meta is None or meta.generation.mode.is_positive:
        return True
    location = getattr(meta.phase.data, "parameter_location", None)
    return str(getattr(location, "value", location)).lower() != "query"
