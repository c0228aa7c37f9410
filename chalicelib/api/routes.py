"""The REST API under /v1 and the provider webhooks: each handler parses, calls one service, shapes the answer."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from chalice import Blueprint, Response

from chalicelib import wiring
from chalicelib.api import commands, http
from chalicelib.api.channel_schemas import ChannelIn, ChannelPatch
from chalicelib.api.openapi import document
from chalicelib.api.schemas import (
    MAX_ID_CHARS,
    CampaignIn,
    CampaignPatch,
    PhonebookIn,
    SendIn,
    UploadIn,
    parse,
)
from chalicelib.domain.errors import (
    InvalidSignatureError,
    NotFoundError,
    ServiceError,
    UnauthorizedError,
)
from chalicelib.domain.model import CampaignStatus, RecipientStatus
from chalicelib.domain.templates import TEMPLATE_STATUSES
from chalicelib.services import (
    campaigns,
    channels,
    control,
    phonebooks,
    templates,
    tenants,
    uploads,
    views,
    webhooks,
    whatsapp_hooks,
)
from chalicelib.services.deps import Deps
from chalicelib.services.logs import log

api = Blueprint(__name__)
FORM = ["application/x-www-form-urlencoded"]
JSON_TYPES = ["application/json"]
ANY_TYPES = [
    "application/json",
    "application/x-www-form-urlencoded",
    "text/plain",
    "multipart/form-data",
    "application/octet-stream",
    "text/csv",
]
CAMPAIGN_STATUSES = frozenset(s.value for s in CampaignStatus)
RECIPIENT_STATUSES = frozenset(s.value for s in RecipientStatus)


def _impossible_id(value: Any) -> bool:
    """A path id no resource can have: too long, or not Unicode text (an unpaired surrogate).

    Looking such an id up would make DynamoDB refuse the key (partition keys at most 2048 bytes, sort keys 1024, UTF-8)
    with a 500 instead of our 404.
    """
    if not isinstance(value, str) or len(value) > MAX_ID_CHARS:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _authorization() -> str | None:
    """The Authorization header; an API key is ASCII, so anything else is refused here as a 401 (not a 500)."""
    header = api.current_request.headers.get("authorization")
    if header is not None and not header.isascii():
        raise UnauthorizedError("the Authorization header must be 'Bearer <api key>'")
    return header


def endpoint(
    path: str,
    methods: list[str],
    *,
    auth: bool = True,
    content_types: list[str] | None = None,
    status: int = 200,
    own_ids: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a route whose errors leave in the contract's shape; with `auth`, the tenant id comes first."""

    def wrap(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def handler(**params: Any) -> Response:
            try:
                deps = wiring.current()
                if auth:
                    tenant_id = tenants.authenticate(deps, _authorization())
                    # `own_ids`: the view checks its path ids itself (a PUT naming what it creates answers 400).
                    if not own_ids and any(_impossible_id(v) for v in params.values()):
                        raise NotFoundError("no such resource")
                    result = view(deps, tenant_id, **params)
                else:
                    if any(_impossible_id(v) for v in params.values()):
                        # Webhooks: an unknown channel cannot have signed the request.
                        raise InvalidSignatureError("the request is not signed by this channel's provider")
                    result = view(deps, **params)
            except ServiceError as err:
                return http.error_response(err)
            except Exception:  # noqa: BLE001 - a bug: log it, answer in shape
                log.exception("unhandled error", extra={"path": path})
                return http.error_response(ServiceError("an internal error occurred; it has been logged"))
            if isinstance(result, Response):
                return result
            return http.respond(result, status)

        # Chalice checks the content type only when a body could come; GETs and DELETEs take any.
        types = content_types or (JSON_TYPES if set(methods) & {"POST", "PUT", "PATCH"} else ANY_TYPES)
        api.route(path, methods=methods, content_types=types)(handler)
        return view

    return wrap


def _request() -> Any:
    return api.current_request


@endpoint("/v1/health", ["GET"], auth=False)
def health(deps: Deps) -> dict[str, Any]:
    return {"status": "ok"}


@endpoint("/v1/openapi.json", ["GET"])
def openapi(deps: Deps, tenant_id: str) -> dict[str, Any]:
    return document(deps.settings.public_base_url)


# ---------------------------------------------------------------------------------------------------- channels
@endpoint("/v1/channels", ["POST"], status=201)
def create_channel(deps: Deps, tenant_id: str) -> dict[str, Any]:
    return channels.create_channel(
        deps, tenant_id, commands.create_channel(parse(ChannelIn, http.json_body(_request())))
    )


@endpoint("/v1/channels", ["GET"])
def list_channels(deps: Deps, tenant_id: str) -> dict[str, Any]:
    limit, cursor = http.page_params(_request())
    return channels.list_channels(deps, tenant_id, limit, cursor)


@endpoint("/v1/channels/{channel_id}", ["GET"])
def get_channel(deps: Deps, tenant_id: str, channel_id: str) -> dict[str, Any]:
    return channels.view(deps, channels.get_channel(deps, tenant_id, channel_id))


@endpoint("/v1/channels/{channel_id}", ["PATCH"])
def update_channel(deps: Deps, tenant_id: str, channel_id: str) -> dict[str, Any]:
    command = commands.patch_channel(parse(ChannelPatch, http.json_body(_request())))
    return channels.update_channel(deps, tenant_id, channel_id, command)


@endpoint("/v1/channels/{channel_id}", ["DELETE"])
def delete_channel(deps: Deps, tenant_id: str, channel_id: str) -> Response:
    channels.delete_channel(deps, tenant_id, channel_id)
    return http.no_content()


# ---------------------------------------------------------------------------------------------------- templates
@endpoint("/v1/channels/{channel_id}/templates/sync", ["POST"], content_types=ANY_TYPES)
def sync_templates(deps: Deps, tenant_id: str, channel_id: str) -> dict[str, Any]:
    return templates.sync_templates(deps, tenant_id, channel_id)


@endpoint("/v1/channels/{channel_id}/templates", ["GET"])
def list_templates(deps: Deps, tenant_id: str, channel_id: str) -> dict[str, Any]:
    limit, cursor = http.page_params(_request())
    status = http.choice(_request(), "status", frozenset(TEMPLATE_STATUSES))
    return templates.list_templates(deps, tenant_id, channel_id, status, limit, cursor)


@endpoint("/v1/channels/{channel_id}/templates/{template_id}", ["GET"])
def get_template(deps: Deps, tenant_id: str, channel_id: str, template_id: str) -> dict[str, Any]:
    return templates.get_template(deps, tenant_id, channel_id, template_id)


# ---------------------------------------------------------------------------------------------------- phonebooks
@endpoint("/v1/phonebooks", ["GET"])
def list_phonebooks(deps: Deps, tenant_id: str) -> dict[str, Any]:
    limit, cursor = http.page_params(_request())
    return phonebooks.list_phonebooks(deps, tenant_id, limit, cursor)


@endpoint("/v1/phonebooks/{phonebook_id}", ["PUT"], own_ids=True)
def put_phonebook(deps: Deps, tenant_id: str, phonebook_id: str) -> Response:
    phonebooks.check_id(phonebook_id)  # before reading a body of up to 5 MB
    command = commands.put_phonebook(parse(PhonebookIn, http.json_body(_request())))
    phonebook, created = phonebooks.put_phonebook(deps, tenant_id, phonebook_id, command)
    return http.respond(phonebook, 201 if created else 200)


@endpoint("/v1/phonebooks/{phonebook_id}", ["GET"])
def get_phonebook(deps: Deps, tenant_id: str, phonebook_id: str) -> dict[str, Any]:
    return phonebooks.get_phonebook(deps, tenant_id, phonebook_id)


@endpoint("/v1/phonebooks/{phonebook_id}", ["DELETE"])
def delete_phonebook(deps: Deps, tenant_id: str, phonebook_id: str) -> Response:
    phonebooks.delete_phonebook(deps, tenant_id, phonebook_id)
    return http.no_content()


# ---------------------------------------------------------------------------------------------------- campaigns
@endpoint("/v1/campaigns", ["POST"], status=201)
def create_campaign(deps: Deps, tenant_id: str) -> Response:
    body = http.json_body(_request())
    campaign, replayed = campaigns.create_campaign(
        deps, tenant_id, commands.create_campaign(parse(CampaignIn, body)), http.idempotency(_request(), body)
    )
    return http.respond(campaign, 201, {"Idempotent-Replayed": "true"} if replayed else None)


@endpoint("/v1/campaigns", ["GET"])
def list_campaigns(deps: Deps, tenant_id: str) -> dict[str, Any]:
    limit, cursor = http.page_params(_request())
    status = http.choice(_request(), "status", CAMPAIGN_STATUSES)
    return views.list_campaigns(deps, tenant_id, status, limit, cursor)


@endpoint("/v1/campaigns/{campaign_id}", ["GET"])
def get_campaign(deps: Deps, tenant_id: str, campaign_id: str) -> dict[str, Any]:
    return views.get_campaign(deps, tenant_id, campaign_id)


@endpoint("/v1/campaigns/{campaign_id}/recipients", ["GET"])
def list_recipients(deps: Deps, tenant_id: str, campaign_id: str) -> dict[str, Any]:
    limit, cursor = http.page_params(_request())
    status = http.choice(_request(), "status", RECIPIENT_STATUSES)
    return views.list_recipients(deps, tenant_id, campaign_id, status, limit, cursor)


@endpoint("/v1/campaigns/{campaign_id}", ["PATCH"])
def update_campaign(deps: Deps, tenant_id: str, campaign_id: str) -> dict[str, Any]:
    return campaigns.update_campaign(
        deps, tenant_id, campaign_id, commands.patch_campaign(parse(CampaignPatch, http.json_body(_request())))
    )


@endpoint("/v1/campaigns/{campaign_id}", ["DELETE"])
def delete_campaign(deps: Deps, tenant_id: str, campaign_id: str) -> Response:
    campaigns.delete_campaign(deps, tenant_id, campaign_id)
    return http.no_content()


@endpoint("/v1/campaigns/{campaign_id}/send", ["POST"])
def send_campaign(deps: Deps, tenant_id: str, campaign_id: str) -> dict[str, Any]:
    return campaigns.send_campaign(
        deps, tenant_id, campaign_id, commands.send_campaign(parse(SendIn, http.json_body(_request())))
    )


@endpoint("/v1/campaigns/{campaign_id}/duplicate", ["POST"], status=201, content_types=ANY_TYPES)
def duplicate_campaign(deps: Deps, tenant_id: str, campaign_id: str) -> dict[str, Any]:
    return campaigns.duplicate_campaign(deps, tenant_id, campaign_id)


@endpoint("/v1/campaigns/{campaign_id}/retry", ["POST"], content_types=ANY_TYPES)
def retry_campaign(deps: Deps, tenant_id: str, campaign_id: str) -> dict[str, Any]:
    return campaigns.retry_campaign(deps, tenant_id, campaign_id)


@endpoint("/v1/campaigns/{campaign_id}/pause", ["POST"], content_types=ANY_TYPES)
def pause_campaign(deps: Deps, tenant_id: str, campaign_id: str) -> dict[str, Any]:
    return control.pause_campaign(deps, tenant_id, campaign_id)


@endpoint("/v1/campaigns/{campaign_id}/resume", ["POST"], content_types=ANY_TYPES)
def resume_campaign(deps: Deps, tenant_id: str, campaign_id: str) -> dict[str, Any]:
    return control.resume_campaign(deps, tenant_id, campaign_id)


@endpoint("/v1/campaigns/{campaign_id}/cancel", ["POST"], content_types=ANY_TYPES)
def cancel_campaign(deps: Deps, tenant_id: str, campaign_id: str) -> dict[str, Any]:
    return control.cancel_campaign(deps, tenant_id, campaign_id)


# ---------------------------------------------------------------------------------------------------- uploads
@endpoint("/v1/uploads", ["POST"], status=201, content_types=[*JSON_TYPES, "text/csv"])
def create_upload(deps: Deps, tenant_id: str) -> dict[str, Any]:
    request = _request()
    content_type = (request.headers.get("content-type") or "application/json").split(";")[0].strip().lower()
    if content_type == "text/csv":
        return uploads.create_inline_csv(
            deps, tenant_id, http.query(request), http.raw_bytes(request, checked_by_caller=True)
        )
    return uploads.create_upload(deps, tenant_id, commands.create_upload(parse(UploadIn, http.json_body(request))))


@endpoint("/v1/uploads/{upload_id}", ["GET"])
def get_upload(deps: Deps, tenant_id: str, upload_id: str) -> dict[str, Any]:
    return uploads.get_upload(deps, tenant_id, upload_id)


# ---------------------------------------------------------------------------------------------------- webhooks
def _form() -> tuple[dict[str, str], bytes, str]:
    """A Twilio webhook's query, raw body and signature: the service checks the signature before it judges the body."""
    request = _request()
    signature = request.headers.get("x-twilio-signature")
    if not signature:
        raise InvalidSignatureError("X-Twilio-Signature is missing")
    return http.query(request), http.raw_bytes(request), signature


@endpoint("/webhooks/twilio/{channel_id}/status", ["POST"], auth=False, content_types=FORM)
def twilio_status(deps: Deps, channel_id: str) -> Response:
    webhooks.record_status(deps, channel_id, *_form())
    return http.no_content()


@endpoint("/webhooks/twilio/{channel_id}/inbound", ["POST"], auth=False, content_types=FORM)
def twilio_inbound(deps: Deps, channel_id: str) -> Response:
    webhooks.record_inbound(deps, channel_id, *_form())
    # An empty TwiML answer: no automatic reply.
    return Response(
        body='<?xml version="1.0" encoding="UTF-8"?><Response></Response>',
        status_code=200,
        headers={"Content-Type": "text/xml"},
    )


@endpoint("/webhooks/whatsapp/{channel_id}", ["GET"], auth=False)
def whatsapp_verify(deps: Deps, channel_id: str) -> Response:
    challenge = whatsapp_hooks.whatsapp_handshake(deps, channel_id, http.query(_request()))
    return Response(body=challenge, status_code=200, headers={"Content-Type": "text/plain; charset=utf-8"})


@endpoint("/webhooks/whatsapp/{channel_id}", ["POST"], auth=False, content_types=JSON_TYPES)
def whatsapp_events(deps: Deps, channel_id: str) -> dict[str, Any]:
    request = _request()
    signature = request.headers.get("x-hub-signature-256")
    if not signature:
        raise InvalidSignatureError("X-Hub-Signature-256 is missing")
    return {
        "received": whatsapp_hooks.record_whatsapp(
            deps, channel_id, http.query(request), http.raw_bytes(request), signature
        )
    }
