"""The commands campaign use cases take, and the content a campaign carries: plain data, no I/O, no HTTP.

`chalicelib/api` builds these from its request models; a stored campaign's settings come back as the same types
(`settings_of`), so an edit or a send checks them again without going through the HTTP parser.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from chalicelib.domain.campaign import Campaign


@dataclass(frozen=True)
class PhonebookAudience:
    """A phonebook and the number type to take from it."""

    id: str
    number_type: str


@dataclass(frozen=True)
class RecipientsSpec:
    """Who gets a campaign: typed numbers (as typed: the service checks them), a CSV upload, or a phonebook."""

    numbers: tuple[Any, ...] | None = None
    upload_id: str | None = None
    phonebook: PhonebookAudience | None = None


@dataclass(frozen=True)
class TextContent:
    """An SMS."""

    text: str
    type: ClassVar[str] = "text"


@dataclass(frozen=True)
class FileContent:
    """An MMS: an uploaded media file, with or without text."""

    upload_id: str
    text: str | None = None
    type: ClassVar[str] = "file"


@dataclass(frozen=True)
class TemplateContent:
    """A WhatsApp template with its variables (a value, or {"column": name, "default"?: value} of the audience), and
    the media upload of its header when it has one."""

    template_id: str
    variables: Mapping[str, Any] = field(default_factory=dict)
    header_upload_id: str | None = None
    type: ClassVar[str] = "template"


Content = TextContent | FileContent | TemplateContent


@dataclass(frozen=True)
class SendNow:
    """Send at once."""

    type: ClassVar[str] = "now"


@dataclass(frozen=True)
class SendScheduled:
    """Send at a time (RFC 3339, as given: the service checks it)."""

    at: str
    type: ClassVar[str] = "scheduled"


@dataclass(frozen=True)
class SendDraft:
    """Keep as a draft."""

    type: ClassVar[str] = "draft"


SendTime = SendNow | SendScheduled | SendDraft


@dataclass(frozen=True)
class RoutingTarget:
    """Where reply sessions go."""

    type: str
    id: str


@dataclass(frozen=True)
class CampaignSettings:
    """Everything about a campaign that a create sets and an edit may change."""

    name: str
    channel_id: str
    sender: str
    recipients: RecipientsSpec
    content: Content
    send_mode: str = "direct"
    routing_target: RoutingTarget | None = None


@dataclass(frozen=True)
class CreateCampaign:
    """Create a campaign and send it now, schedule it, or keep it as a draft."""

    settings: CampaignSettings
    send_time: SendTime


@dataclass(frozen=True)
class PatchCampaign:
    """Edit a draft: each given setting replaces the stored one; None leaves it as it is."""

    name: str | None = None
    channel_id: str | None = None
    sender: str | None = None
    recipients: RecipientsSpec | None = None
    content: Content | None = None
    send_mode: str | None = None
    routing_target: RoutingTarget | None = None

    def apply(self, settings: CampaignSettings) -> CampaignSettings:
        """The settings with this edit's changes."""
        changes = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        changed = dataclasses.replace(settings, **{k: v for k, v in changes.items() if v is not None})
        if self.send_mode == "direct" and self.routing_target is None:
            # A target goes with `session` only: switching a draft to `direct` drops the one it had.
            changed = dataclasses.replace(changed, routing_target=None)
        return changed


@dataclass(frozen=True)
class SendCampaign:
    """Send a draft now, or schedule it."""

    send_time: SendNow | SendScheduled


def content_of(stored: Mapping[str, Any]) -> Content:
    """A campaign's stored content as a Content."""
    if stored.get("type") == "file":
        return FileContent(upload_id=str(stored["upload_id"]), text=stored.get("text"))
    if stored.get("type") == "template":
        return TemplateContent(
            template_id=str(stored["template_id"]),
            variables=dict(stored.get("variables") or {}),
            header_upload_id=stored.get("header_upload_id"),
        )
    return TextContent(text=str(stored.get("text", "")))


def settings_of(campaign: Campaign) -> CampaignSettings:
    """A stored campaign's settings, to check them again (an edit, a send)."""
    spec = campaign.audience or {}
    book = spec.get("phonebook")
    target = campaign.routing_target
    return CampaignSettings(
        name=campaign.name,
        channel_id=campaign.channel_id,
        sender=campaign.sender,
        recipients=RecipientsSpec(
            numbers=tuple(spec.get("numbers") or ()) or None,
            upload_id=spec.get("upload_id"),
            phonebook=PhonebookAudience(str(book["id"]), str(book["number_type"])) if book else None,
        ),
        content=content_of(campaign.content),
        send_mode=campaign.send_mode,
        routing_target=RoutingTarget(str(target["type"]), str(target["id"])) if target else None,
    )
