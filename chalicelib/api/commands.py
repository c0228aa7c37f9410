"""Request models (api/schemas.py) into the domain's commands: the services never see an HTTP model."""

from __future__ import annotations

from chalicelib.api import schemas
from chalicelib.api.channel_schemas import ChannelIn, ChannelPatch
from chalicelib.api.schemas import PhonebookIn, UploadIn
from chalicelib.domain import commands as c
from chalicelib.domain.channels import CreateChannel, PatchChannel
from chalicelib.domain.phonebooks import Contact, PutPhonebook
from chalicelib.domain.uploads import CreateUpload


def content(body: schemas.TextContent | schemas.FileContent | schemas.TemplateContent) -> c.Content:
    """A request's content."""
    if isinstance(body, schemas.FileContent):
        return c.FileContent(upload_id=body.upload_id, text=body.text)
    if isinstance(body, schemas.TemplateContent):
        variables = {
            k: (v.model_dump(exclude_none=True) if isinstance(v, schemas.ColumnRef) else v)
            for k, v in body.variables.items()
        }
        return c.TemplateContent(
            template_id=body.template_id, variables=variables, header_upload_id=body.header_upload_id
        )
    return c.TextContent(text=body.text)


def recipients(body: schemas.Recipients) -> c.RecipientsSpec:
    """A request's audience."""
    book = body.phonebook
    return c.RecipientsSpec(
        numbers=tuple(body.numbers) if body.numbers is not None else None,
        upload_id=body.upload_id,
        phonebook=c.PhonebookAudience(book.id, book.number_type) if book is not None else None,
    )


def send_time(body: schemas.SendNow | schemas.SendScheduled | schemas.SendDraft) -> c.SendTime:
    """A request's send time."""
    if isinstance(body, schemas.SendScheduled):
        return c.SendScheduled(at=body.at)
    if isinstance(body, schemas.SendDraft):
        return c.SendDraft()
    return c.SendNow()


def routing_target(body: schemas.RoutingTarget | None) -> c.RoutingTarget | None:
    """A request's routing target."""
    return c.RoutingTarget(type=body.type, id=body.id) if body is not None else None


def create_campaign(body: schemas.CampaignIn) -> c.CreateCampaign:
    """POST /v1/campaigns as a command."""
    settings = c.CampaignSettings(
        name=body.name,
        channel_id=body.channel_id,
        sender=body.sender,
        recipients=recipients(body.recipients),
        content=content(body.content),
        send_mode=body.send_mode,
        routing_target=routing_target(body.routing_target),
    )
    return c.CreateCampaign(settings=settings, send_time=send_time(body.send_time))


def patch_campaign(body: schemas.CampaignPatch) -> c.PatchCampaign:
    """PATCH /v1/campaigns/{id} as a command (a null, like a missing field, leaves the setting as it is)."""
    return c.PatchCampaign(
        name=body.name,
        channel_id=body.channel_id,
        sender=body.sender,
        recipients=recipients(body.recipients) if body.recipients is not None else None,
        content=content(body.content) if body.content is not None else None,
        send_mode=body.send_mode,
        routing_target=routing_target(body.routing_target),
    )


def send_campaign(body: schemas.SendIn) -> c.SendCampaign:
    """POST /v1/campaigns/{id}/send as a command."""
    when = send_time(body.send_time)
    assert not isinstance(when, c.SendDraft)  # noqa: S101 - SendIn admits now or scheduled only
    return c.SendCampaign(send_time=when)


def create_channel(body: ChannelIn) -> CreateChannel:
    """POST /v1/channels as a command."""
    return CreateChannel(
        name=body.name,
        type=body.type,
        provider=body.provider,
        senders=tuple(body.senders),
        credentials=body.credentials.model_dump(),
        mps=body.mps,  # as sent: the service checks its range before it becomes a float (it may be a huge int)
        provider_config=body.provider_config.model_dump() if body.provider_config is not None else None,
        default_routing_target=_target(body.default_routing_target),
        session_expire_hours=body.session_expire_hours,
    )


def _target(body: schemas.RoutingTarget | None) -> dict[str, str] | None:
    return {"type": body.type, "id": body.id} if body is not None else None


def patch_channel(body: ChannelPatch) -> PatchChannel:
    """PATCH /v1/channels/{id} as a command."""
    return PatchChannel(
        name=body.name,
        senders=tuple(body.senders) if body.senders is not None else None,
        credentials=body.credentials.model_dump() if body.credentials is not None else None,
        mps=body.mps,  # as sent: the service checks its range before it becomes a float (it may be a huge int)
        provider_config=body.provider_config.model_dump() if body.provider_config is not None else None,
        default_routing_target=_target(body.default_routing_target),
        clear_default_routing_target=(
            "default_routing_target" in body.model_fields_set and body.default_routing_target is None
        ),
        session_expire_hours=body.session_expire_hours,
    )


def put_phonebook(body: PhonebookIn) -> PutPhonebook:
    """PUT /v1/phonebooks/{id} as a command."""
    return PutPhonebook(
        name=body.name,
        contacts=tuple(Contact(name=c.name, numbers=c.numbers.model_dump(exclude_none=True)) for c in body.contacts),
    )


def create_upload(body: UploadIn) -> CreateUpload:
    """POST /v1/uploads (JSON) as a command."""
    return CreateUpload(kind=body.kind, filename=body.filename, content_type=body.content_type, size=body.size)
