"""The OpenAPI 3.1 document, assembled from the route table and the request and response models.

Nothing here repeats a model: the schemas are pydantic's JSON schemas of chalicelib/api/schemas.py and
chalicelib/api/responses.py, the operations come from chalicelib/api/operations.py, and this module adds what is
the document's own (the overview, shared parameters and error answers). Extensions to the contract are marked
`x-extension`. tests/unit/test_openapi.py checks the result; tests/conftest.py validates every functional test's
answers against it.
"""

from __future__ import annotations

import copy
import functools
import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema

from chalicelib.api import (
    channel_schemas,
    optout_schemas,
    responses,
    schemas,
    session_schemas,
    template_answers,
    tenant_schemas,
)
from chalicelib.api.operations import OPERATIONS, ErrorAnswer, Operation

_JSON = "application/json"
_FORM = "application/x-www-form-urlencoded"

INFO: dict[str, Any] = {
    "title": "Message Campaigns",
    "version": "1.0.0",
    "summary": "Bulk SMS and MMS campaigns for a PBX, sent through Twilio.",
    "description": (
        "The REST API a PBX calls under `/v1` with `Authorization: Bearer <api key>` (each key is one tenant; "
        "another tenant's id answers `404`), and the provider webhooks under `/webhooks` (authenticated by the "
        "provider's signature), which are served at the deployment's webhook base (`WEBHOOK_BASE_URL`: in AWS the "
        "`webhooks` function's URL), not at this document's server: configure the URLs of a channel's `webhooks` "
        "object at the provider. JSON in and out (`application/json; charset=utf-8`), times RFC 3339 in UTC, "
        "ids opaque strings, lists paged with `limit` (default 50, max 200) and `cursor`.\n\n"
        'Every error answers `{"error": {"code", "message", "details"}}` with a stable `code`. A 5xx is a '
        "bug (`500 internal_error`, logged).\n\n"
        "This document covers what this deployment implements: health, this document, channels, phonebooks, "
        "uploads (contact CSV files and MMS media), campaigns (create, list, read, edit, send, duplicate, retry, "
        "delete, recipients), WhatsApp channels (`whatsapp_cloud`, and `twilio` with `type` `whatsapp`) and their "
        "templates (sync, list, read), the Twilio webhooks and Meta's (`/webhooks/whatsapp/{channel_id}`: the "
        "verification handshake, statuses, messages and template status updates), sessions (External Chat "
        "Logs: `send_mode` `session` with a `routing_target`, `/v1/sessions`), the opt-out list, replies and "
        "the response rate, and the tenant's own settings (`/v1/tenant`: where its events go). "
        "Phone numbers are `format: e164`: E.164 and valid for their country's numbering plan.\n\n"
        "## Extensions to the contract (marked `x-extension: true`)\n"
        "- `result.read` and `result.skipped` in a campaign.\n"
        "- The channel's `webhooks` object: the URLs to configure at the provider.\n"
        "- `mps` defaults to 1 for `twilio` (80 for `whatsapp_cloud`); it must be from 0.01 to 1000 "
        "(`422 invalid_mps`).\n"
        "- A JSON body is at most 5 MB (5,242,880 bytes): `413 payload_too_large`. A missing Content-Type is "
        "taken as `application/json`.\n"
        "- A known path with a method it does not have: `405 method_not_allowed` with an `Allow` header.\n"
        "- `503 try_again`: a write kept losing a race (never expected); the request may be repeated.\n"
        "- `Idempotency-Key` on `POST /v1/campaigns`: a repeated create answers the first campaign "
        "(`Idempotent-Replayed: true`) instead of sending twice.\n"
        "- Campaign `status` values and the `status` filters (`400 invalid_request` for an unknown value).\n"
        "- A campaign answers `stop_reason` (why it is `stopped`), `audience_report` (what resolving its "
        "audience found) and, in single-campaign answers, `recipients` (its audience as given). Recipients "
        "are written when sending starts: until then `GET .../recipients` lists none and `result.total` "
        "(and `pending`) is the audience's size counted when the campaign was saved. A phonebook is read "
        "again when sending starts; if it is gone, or now has more recipients than allowed, or an upload's "
        "contacts are gone, the campaign ends `stopped` with `stop_reason.code` `phonebook_not_found`, "
        "`too_many_recipients` or `upload_not_found`.\n"
        "- A recipient's `variables`: its CSV columns (other than `Number`), or its phonebook contact's "
        "`name`.\n"
        "- `POST /v1/campaigns/{campaign_id}/retry` of a campaign that is not `completed` or `stopped`: "
        "`409 campaign_not_retryable`. A retry never resends to a number that opted out (Twilio error "
        "`21610`); a recipient's `attempts` counts its hand-overs to the provider.\n"
        "- Exactly once, when the provider's answer is lost (a timeout, a reset connection, a 5xx, a sender "
        "that died mid-call): the recipient stays `sending` (its `result` counts it `pending`, and the "
        "campaign does not complete) until the provider's status callback for that attempt settles it or, "
        "about 2 minutes later (the `SETTLE_SECONDS` setting, checked on the minute tick), the provider's own "
        "records do: found, it takes the provider's status and message id; provably absent, it is sent again "
        "as a new attempt, or after 3 attempts it is `failed` with the last error seen (`provider_timeout`, "
        "`provider_no_answer` or the provider's 5xx code, e.g. `20500`), which `retry` resends. Records that "
        "can't tell (unreadable, or holding another message to the number since the hand-over) are asked "
        "again on later ticks; after a day the recipient ends `failed` with `send_interrupted` (it may have "
        "gone out; `retry` does not resend it, a later provider report still settles it). Only a "
        "failure that provably happened before the request left (connection refused, DNS, TLS certificate) "
        "is tried again at once, as a new attempt (`provider_unreachable` after 3).\n"
        "- At most 10,000 typed `recipients.numbers` (`422 too_many_recipients`; larger lists go in a CSV "
        "upload); a `phonebook` cannot be combined with `numbers` or `upload_id` (`422 invalid_recipients`). "
        "An MMS on a Twilio channel must be at most 5 MB of media and text (`422 media_too_large`) of a "
        "content type Twilio accepts (`422 media_type_not_supported`); an upload a campaign names must be "
        "this tenant's, of the right kind and `ready` (`422 upload_not_found`, `upload_wrong_kind`, "
        "`upload_not_ready`, `upload_rejected`).\n"
        "- An upload answers `kind`, `filename`, `content_type`, `size`, `created_at`, `processed_at`, "
        "`error` (why it was rejected) and `stage` (`awaiting_file`, `importing`, `done`: what `processing` "
        "waits for). Any upload's filename is under 127 characters (`422 filename_too_long`), without "
        "slashes or control characters (`422 invalid_filename`); its `content_type` must be a media type, "
        "and one of a CSV's for a contact CSV (`422 invalid_content_type`). An inline CSV answers the "
        "import's outcome at once.\n"
        "- Twilio's status callback URL carries the recipient's attempt (`a`): a report about another "
        "attempt is ignored.\n"
        "- Features not available yet are refused with a clear `422`: content of type "
        "`template` on a channel that takes none (`template_not_supported`); a channel whose `type` and `provider` "
        "this deployment does not wire "
        "(`unsupported_channel`).\n"
        "- `GET /v1/channels/{channel_id}/templates/{template_id}` (one template), the `?status=` filter of the "
        "template listing, and a template's `provider_status`, `reason`, `synced_at` and `updated_at`; a sync "
        "answers the first page with `total` and `counts`. On a channel without templates (SMS) the template "
        "routes answer `422 templates_not_supported`; a provider that refuses the listing is "
        "`422 provider_refused`, one that cannot be reached `503 provider_unavailable`.\n"
        "- Meta's webhook is answered `200` with what it recorded; a signed body that is not Meta's shape records "
        "nothing and is answered `200` all the same (Meta would only send it again), and a batch some of whose "
        "items could not be recorded is answered `503 try_again` after recording the others, so that Meta sends it "
        "again (recording is idempotent). A status report that cannot be written now (its recipient's writes "
        "keep racing, the table keeps refusing the transaction) is kept on the send queue and applied from there: "
        "it is answered as recorded once kept, `503 try_again` only when it could not be kept either.\n"
        "- Ids in a body or path are at most 128 characters: a longer body id is `400 invalid_request`, a "
        "longer path id `404 not_found` (`403` on a webhook); a `cursor` is at most 512 characters.\n"
        "- Phonebook ids are the PBX's own, 1 to 128 characters of `A-Z a-z 0-9 . _ : ~ -`: `PUT` of another "
        "id is `400 invalid_request`, `GET` or `DELETE` of one `404 not_found`. A phonebook has at most 100,000 "
        "contacts; `PUT` answers `201` when it created the phonebook and `200` when it replaced it."
    ),
    "x-extension-codes": ["method_not_allowed", "try_again", "campaign_not_retryable"],
}

TAGS = [
    {"name": "meta", "description": "Health and this document."},
    {"name": "channels", "description": "Provider accounts and their sender numbers."},
    {"name": "templates", "description": "A WhatsApp channel's message templates, synced from the provider."},
    {"name": "phonebooks", "description": "The PBX's phonebooks, pushed whole; a campaign may use one."},
    {"name": "uploads", "description": "Contact CSV files and MMS media, put straight into storage."},
    {"name": "campaigns", "description": "Bulk messages and their per-recipient outcome."},
    {
        "name": "opt-outs",
        "description": "Numbers no campaign sends to: STOP replies, provider opt-outs, the PBX's own.",
    },
    {
        "name": "webhooks",
        "description": (
            "Called by the provider, authenticated by its signature, at the webhook base (the channel's `webhooks` "
            "URLs; in AWS the `webhooks` function's URL), not at this document's server."
        ),
    },
    {"name": "tenant", "description": "The tenant itself: where its events for the PBX go."},
]
SECURITY_SCHEMES: dict[str, Any] = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "The tenant's API key: `Authorization: Bearer <api key>`. Missing or wrong: `401`.",
    },
    "twilioSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Twilio-Signature",
        "description": (
            "Twilio's HMAC-SHA1 signature of the full URL (with its query) and the form fields, keyed by "
            "the channel's auth token. Missing or wrong, or an unknown channel: `403 invalid_signature`, "
            "and nothing changes."
        ),
    },
    "metaSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Hub-Signature-256",
        "description": (
            "Meta's `sha256=<hex>`: HMAC-SHA256 of the raw body, keyed by the channel's `app_secret`, compared in "
            "constant time. Missing, forged or over an altered body, or an unknown channel: `403 invalid_signature`, "
            "and nothing changes."
        ),
    },
    "metaVerifyToken": {
        "type": "apiKey",
        "in": "query",
        "name": "hub.verify_token",
        "description": (
            "Meta's verification handshake carries the `verify_token` typed into the app's webhook settings: it must "
            "be the channel's `credentials.verify_token` (else `403 invalid_signature`)."
        ),
    },
}

PARAMETERS: dict[str, Any] = {
    "idempotency_key": {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "x-extension": True,
        "description": (
            "Any unique string per intended campaign (1 to 255 printable ASCII characters, no spaces). A "
            "retry with the same key and the same body answers the campaign the first request created "
            "instead of creating (and sending) another; the same key with another body is "
            "`422 idempotency_key_reused`. Keys are remembered for 24 hours, per tenant; a request refused "
            "with 4xx does not use up its key."
        ),
        "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
    },
    "limit": {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": "Page size, a whole number from 1 to 200 (else `400 invalid_request`).",
        "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
    },
    "cursor": {
        "name": "cursor",
        "in": "query",
        "required": False,
        "description": (
            "The `next_cursor` of the previous page; one that is not (or not from this listing) is "
            "`400 invalid_request`."
        ),
        "schema": {"type": "string", "maxLength": 512},
    },
    "channel_id": {
        "name": "channel_id",
        "in": "path",
        "required": True,
        "description": "A channel id; another tenant's, or an unknown one, is `404 not_found`.",
        "schema": {"type": "string", "maxLength": 128},
    },
    "campaign_id": {
        "name": "campaign_id",
        "in": "path",
        "required": True,
        "description": "A campaign id; another tenant's, or an unknown one, is `404 not_found`.",
        "schema": {"type": "string", "maxLength": 128},
    },
    "phonebook_id": {
        "name": "phonebook_id",
        "in": "path",
        "required": True,
        "description": (
            "The PBX's own phonebook id, 1 to 128 characters of `A-Z a-z 0-9 . _ : ~ -`: another id is "
            "`400 invalid_request` on `PUT`, `404 not_found` otherwise. Another tenant's, or an unknown one, "
            "is `404 not_found`."
        ),
        "schema": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[A-Za-z0-9._:~-]+$"},
    },
    "upload_id": {
        "name": "upload_id",
        "in": "path",
        "required": True,
        "description": "An upload id; another tenant's, or an unknown one, is `404 not_found`.",
        "schema": {"type": "string", "maxLength": 128},
    },
    "template_id": {
        "name": "template_id",
        "in": "path",
        "required": True,
        "description": "A template's id as the provider gives it (`Template.id`); one not stored is `404 not_found`.",
        "schema": {"type": "string", "maxLength": 128},
    },
    "number": {
        "name": "number",
        "in": "path",
        "required": True,
        "description": (
            "A phone number in E.164, its `+` percent-encoded (`%2B41415084545`) or as it is; another is "
            "`422 invalid_phone_number`."
        ),
        "schema": {"type": "string", "maxLength": 128, "pattern": "^\\+[1-9][0-9]{1,14}$", "format": "e164"},
    },
    "session_id": {
        "name": "session_id",
        "in": "path",
        "required": True,
        "description": "A session id; another tenant's, or an unknown one, is `404 not_found`.",
        "schema": {"type": "string", "maxLength": 128},
    },
    "webhook_channel_id": {
        "name": "channel_id",
        "in": "path",
        "required": True,
        "description": "The channel whose provider calls; an unknown one is `403 invalid_signature`.",
        "schema": {"type": "string", "maxLength": 128},
    },
}


def _error(description: str, *codes: str, **extra: Any) -> dict[str, Any]:
    """An error answer whose `code` is one of `codes`."""
    code = {"properties": {"error": {"properties": {"code": {"enum": list(codes)}}}}}
    schema = {"allOf": [{"$ref": "#/components/schemas/Error"}, code]}
    return {"description": description, "content": {_JSON: {"schema": schema}}, **extra}


_X = {"x-extension": True}
SHARED_RESPONSES: dict[str, Any] = {
    "BadRequest": _error(
        "`invalid_request`: malformed JSON (or NaN, Infinity, a number out of range, an unpaired surrogate escape), "
        "not an object, an empty body, wrong types, unknown fields, bad `limit`, `cursor` or `status`; on a webhook, "
        "a form body that is not UTF-8, once its signature is good (the signature is checked first: an unsigned one "
        "is `403`). `details` lists each problem as `{field, message, type}`.",
        "invalid_request",
    ),
    "Unauthorized": _error(
        "`unauthorized`: no Authorization header, not `Bearer <api key>`, or an unknown key.", "unauthorized"
    ),
    "InvalidSignature": _error(
        "`invalid_signature`: no, or a wrong, `X-Twilio-Signature`, or an unknown channel, whatever the body (one "
        "that is not UTF-8 included: the signature is checked before the body is judged).",
        "invalid_signature",
    ),
    "NotFound": _error("`not_found`: no such resource for this tenant (another tenant's id included).", "not_found"),
    "MethodNotAllowed": _error(
        "`method_not_allowed`: the path exists but not with this method; the `Allow` header lists its methods.",
        "method_not_allowed",
        headers={"Allow": {"schema": {"type": "string"}, "description": "The path's methods."}},
        **_X,
    ),
    "PayloadTooLarge": _error(
        "`payload_too_large`: the body is over 5 MB (5,242,880 bytes); details give `size` and `max`.",
        "payload_too_large",
        **_X,
    ),
    "UnsupportedMediaType": _error(
        "`unsupported_media_type`: the Content-Type is not one this operation takes (`application/json`; also "
        "`text/csv` on `POST /v1/uploads`; `application/x-www-form-urlencoded` on a webhook; on `duplicate` and "
        "`retry`, which need no body, any of `application/json`, `application/x-www-form-urlencoded`, `text/plain`, "
        "`text/csv`, `multipart/form-data` or `application/octet-stream`).",
        "unsupported_media_type",
    ),
    "TryAgain": _error(
        "`try_again`: a conditional write kept losing its race (never expected); nothing was half-done and the "
        "request may be repeated.",
        "try_again",
        **_X,
    ),
}
_REF = schemas.REF
# Every model the document has a component for: the request bodies and the answers.
REQUEST_MODELS: tuple[type[BaseModel], ...] = (
    *schemas.REQUEST_MODELS,
    *channel_schemas.MODELS,
    *tenant_schemas.REQUEST_MODELS,
)
ANSWER_MODELS: tuple[type[BaseModel], ...] = (
    *responses.RESPONSE_MODELS,
    *template_answers.MODELS,
    *tenant_schemas.ANSWER_MODELS,
    *optout_schemas.MODELS,
    *session_schemas.MODELS,
)


class _Generator(GenerateJsonSchema):
    """Pydantic's JSON schema without the titles it derives from names (the component names say it)."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def handle_ref_overrides(self, json_schema: JsonSchemaValue) -> JsonSchemaValue:
        # A reference to a component the document adds itself (`Content`, `CampaignStatus`) is not pydantic's to
        # look up; its siblings (a description) stay as they are.
        try:
            return super().handle_ref_overrides(json_schema)
        except KeyError:
            return json_schema

    def generate(self, schema: Any, mode: Any = "validation") -> JsonSchemaValue:
        return _untitled(super().generate(schema, mode))

    def generate_definitions(self, inputs: Any) -> Any:
        keys, defs = super().generate_definitions(inputs)
        return keys, {name: _untitled(d) for name, d in defs.items()}


def _untitled(schema: dict[str, Any]) -> dict[str, Any]:
    schema.pop("title", None)
    if "\n" in schema.get("description", ""):  # a docstring's lines are one sentence
        schema["description"] = " ".join(schema["description"].split("\n"))
    return schema


def _component_schemas() -> dict[str, Any]:
    """Every model's JSON schema, named after its class, plus the document's own named unions and enumerations."""
    models: list[type[BaseModel]] = [*REQUEST_MODELS, *ANSWER_MODELS]
    _, top = models_json_schema([(m, "validation") for m in models], ref_template=_REF, schema_generator=_Generator)
    found = top.get("$defs", {})
    return {**found, **schemas.UNIONS, **responses.ENUMS}


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _errors(op: Operation) -> dict[str, Any]:
    """The operation's error answers: its own, and those every operation of its kind has."""
    answers: dict[int, ErrorAnswer] = {}
    public = op.path.startswith("/webhooks/") or not op.auth
    if op.body is not None and not public:
        answers |= {400: "BadRequest", 413: "PayloadTooLarge", 415: "UnsupportedMediaType"}
    if not public:
        answers[401] = "Unauthorized"
    # A PUT creates under the PBX's own id: it has nothing to find, so no 404.
    if "{" in op.path and op.path.startswith("/v1/") and op.method != "PUT":
        answers[404] = "NotFound"
    answers |= op.errors
    out: dict[str, Any] = {}
    for status, answer in sorted(answers.items()):
        out[str(status)] = _ref("responses", answer) if isinstance(answer, str) else _error(*answer)
    return out


def _parameters(op: Operation) -> list[dict[str, Any]]:
    return [_ref("parameters", p) if isinstance(p, str) else p for p in op.parameters]


def _path_parameters(path: str) -> list[dict[str, Any]]:
    names = re.findall(r"{([a-z_]+)}", path)
    return [_ref("parameters", "webhook_channel_id" if path.startswith("/webhooks/") else n) for n in names]


def _request_body(op: Operation) -> dict[str, Any] | None:
    if op.body is None:
        return None
    media = op.extra.get("media", _FORM if op.path.startswith("/webhooks/") else _JSON)
    content = {media: {"schema": _ref("schemas", op.body.__name__)}}
    if "text/csv" in op.extra:
        content["text/csv"] = op.extra["text/csv"]
    return {"required": True, "content": content}


def _answer(op: Operation, status: int, description: str, model: type[BaseModel] | None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description}
    if status == 201 and "headers" in op.extra:
        out["headers"] = op.extra["headers"]
    if "text/xml" in op.extra:
        out["content"] = {"text/xml": op.extra["text/xml"]}
    elif "text/plain" in op.extra:
        out["content"] = {"text/plain": op.extra["text/plain"]}
    elif model is not None:
        out["content"] = {_JSON: {"schema": op.extra.get("answer", _ref("schemas", model.__name__))}}
    elif op.id == "openapi":
        out["content"] = {_JSON: {"schema": {"type": "object"}}}
    return out


def _operation(op: Operation) -> dict[str, Any]:
    out: dict[str, Any] = {"operationId": op.id, "tags": [op.tag], "summary": op.summary}
    if op.description:
        out["description"] = op.description
    if not op.auth:
        out["security"] = (
            [{op.extra.get("security", "twilioSignature"): []}] if op.path.startswith("/webhooks/") else []
        )
    if op.parameters:
        out["parameters"] = _parameters(op)
    body = _request_body(op)
    if body:
        out["requestBody"] = body
    answers = {str(s): _answer(op, s, d, m) for s, (d, m) in op.answers.items()}
    out["responses"] = {**answers, **_errors(op)}
    return out


@functools.cache
def _document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for op in OPERATIONS:
        item = paths.setdefault(op.path, {})
        if "{" in op.path and "parameters" not in item:
            item["parameters"] = _path_parameters(op.path)
        item[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": INFO,
        "servers": [{"url": "/"}],
        "tags": TAGS,
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": SECURITY_SCHEMES,
            "parameters": PARAMETERS,
            "responses": SHARED_RESPONSES,
            "schemas": _component_schemas(),
        },
    }


def document(base_url: str) -> dict[str, Any]:
    """The OpenAPI document, with the deployment's base URL as its server."""
    doc = copy.deepcopy(_document())
    doc["servers"] = [{"url": base_url or "/", "description": "This deployment."}]
    return doc
