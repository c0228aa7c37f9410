"""Request models (api/schemas.py) into the domain's commands: the services never see an HTTP model."""

from __future__ import annotations

from chalicelib.api.schemas import ChannelIn, ChannelPatch, PhonebookIn, UploadIn
from chalicelib.domain.channels import CreateChannel, PatchChannel
from chalicelib.domain.phonebooks import Contact, PutPhonebook
from chalicelib.domain.uploads import CreateUpload


def create_channel(body: ChannelIn) -> CreateChannel:
    """POST /v1/channels as a command."""
    return CreateChannel(
        name=body.name,
        type=body.type,
        provider=body.provider,
        senders=tuple(body.senders),
        credentials=body.credentials.model_dump(),
        mps=body.mps,  # as sent: the service checks its range before it becomes a float (it may be a huge int)
    )


def patch_channel(body: ChannelPatch) -> PatchChannel:
    """PATCH /v1/channels/{id} as a command."""
    return PatchChannel(
        name=body.name,
        senders=tuple(body.senders) if body.senders is not None else None,
        credentials=body.credentials.model_dump() if body.credentials is not None else None,
        mps=body.mps,  # as sent: the service checks its range before it becomes a float (it may be a huge int)
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
