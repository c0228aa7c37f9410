"""Message templates (WhatsApp): what a provider lists, what we store per channel, what one send fills in. No I/O.

A template's `status` is one of ours (TEMPLATE_STATUSES); each provider module maps its own states onto them and
keeps its own word in `provider_status`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

APPROVED = "approved"
PENDING = "pending"
REJECTED = "rejected"
PAUSED = "paused"
DISABLED = "disabled"
TEMPLATE_STATUSES = (APPROVED, PENDING, REJECTED, PAUSED, DISABLED)
# A campaign whose template reaches one of these while it sends is stopped with that reason.
STOPPING_STATUSES = (PAUSED, DISABLED)


def stop_code(status: str | None) -> str:
    """The stop_reason code of a campaign whose template is in `status` (or gone, None) when it should be sending."""
    return {PAUSED: "template_paused", DISABLED: "template_disabled"}.get(str(status), "template_not_approved")


POSITIONAL = "positional"  # {{1}}, {{2}}
NAMED = "named"  # {{first_name}}
HEADER_MEDIA_TYPES = ("image", "video", "document")


@dataclass(frozen=True)
class Template:
    """A message template as the provider lists it (and as a channel stores it)."""

    id: str  # the provider's id (Meta's template id, Twilio's ContentSid HX...)
    name: str
    language: str  # as the provider spells it (en_US)
    status: str  # one of TEMPLATE_STATUSES
    body: str
    variables: tuple[str, ...] = ()  # the body's (and text header's) parameters in order: "1", "2" or "first_name"
    category: str | None = None  # marketing | utility | authentication (lower case), when the provider says
    parameter_format: str = POSITIONAL
    header: Mapping[str, Any] | None = None  # None or {"type": text | image | video | document, "text"?: ...}
    buttons: tuple[Mapping[str, Any], ...] = ()  # {"type": "quick_reply" | "url" | "phone_number", "text": ...}
    provider_status: str = ""  # the provider's own word for its state (APPROVED, PAUSED, approved, ...)
    reason: str | None = None  # why it was rejected, paused or disabled, when the provider says

    @property
    def media_header(self) -> str | None:
        """The header's media type (image, video, document), or None for no header or a text one."""
        kind = (self.header or {}).get("type")
        return str(kind) if kind in HEADER_MEDIA_TYPES else None

    @property
    def quick_replies(self) -> int:
        """How many quick-reply buttons it has (each is sent a payload)."""
        return sum(1 for b in self.buttons if b.get("type") == "quick_reply")


@dataclass(frozen=True)
class StoredTemplate:
    """A template as a channel keeps it: the provider's listing, and when it was last synced or updated."""

    tenant_id: str
    channel_id: str
    template: Template
    synced_at: str
    updated_at: str | None = None


@dataclass(frozen=True)
class TemplatePage:
    """One page of a channel's templates."""

    items: list[StoredTemplate]
    next_cursor: str | None


@dataclass(frozen=True)
class TemplateUpdate:
    """A provider's report that one template changed state (Meta's message_template_status_update)."""

    template_id: str
    status: str  # one of TEMPLATE_STATUSES
    provider_status: str = ""
    name: str | None = None
    language: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class TemplateMessage:
    """One template send: which template and every value filled in for this recipient."""

    template_id: str
    name: str
    language: str
    parameter_format: str = POSITIONAL
    variables: Mapping[str, str] = field(default_factory=dict)  # "1" -> "Ada" (or "first_name" -> "Ada")
    header_type: str | None = None  # image | video | document, when the template has a media header
    header_media_url: str | None = None  # where the provider fetches the header's file
    header_filename: str | None = None  # a document header's file name
    button_payloads: tuple[str, ...] = ()  # one per quick-reply button, in the template's order


def template_values(template: Template) -> dict[str, Any]:
    """A Template as plain stored values (None left out)."""
    values: dict[str, Any] = {
        "id": template.id,
        "name": template.name,
        "language": template.language,
        "status": template.status,
        "body": template.body,
        "variables": list(template.variables),
        "parameter_format": template.parameter_format,
        "buttons": [dict(b) for b in template.buttons],
        "provider_status": template.provider_status,
    }
    for name in ("category", "reason"):
        if getattr(template, name) is not None:
            values[name] = getattr(template, name)
    if template.header is not None:
        values["header"] = dict(template.header)
    return values


def template_from(values: Mapping[str, Any]) -> Template:
    """A Template from stored values."""
    return Template(
        id=str(values["id"]),
        name=str(values["name"]),
        language=str(values["language"]),
        status=str(values["status"]),
        body=str(values.get("body") or ""),
        variables=tuple(str(v) for v in values.get("variables") or ()),
        category=values.get("category"),
        parameter_format=str(values.get("parameter_format") or POSITIONAL),
        header=dict(values["header"]) if values.get("header") else None,
        buttons=tuple(dict(b) for b in values.get("buttons") or ()),
        provider_status=str(values.get("provider_status") or ""),
        reason=values.get("reason"),
    )


def updated(template: Template, update: TemplateUpdate) -> Template:
    """A template in the state an update reports."""
    return dataclasses.replace(
        template,
        status=update.status,
        provider_status=update.provider_status or template.provider_status,
        reason=update.reason,
    )


# A quick-reply button's payload names the campaign, the recipient and the button, so a press is attributed directly.
PAYLOAD_PREFIX = "mc1"


def button_payload(campaign_id: str, index: int, button: int) -> str:
    """The payload sent with a recipient's quick-reply button (`mc1:<campaign>:<recipient index>:<button index>`)."""
    return f"{PAYLOAD_PREFIX}:{campaign_id}:{index}:{button}"


def parse_button_payload(payload: str) -> tuple[str, int, int] | None:
    """The (campaign id, recipient index, button index) a payload of ours names; None for any other payload."""
    parts = payload.split(":")
    if len(parts) != 4 or parts[0] != PAYLOAD_PREFIX or not parts[1]:
        return None
    index, button = parts[2], parts[3]
    if not (index.isascii() and index.isdigit() and len(index) < 10 and button.isascii() and button.isdigit()):
        return None
    if len(button) > 2:
        return None
    return parts[1], int(index), int(button)


# ---------------------------------------------------------------------------------------------- per-contact values
# What Meta takes as one text parameter (132018 refuses new lines, tabs and more than 4 consecutive spaces; a body is
# at most 1,024 characters, so no parameter is longer). Literal values breaking these are refused at create; a CSV
# cell is cleaned instead (a stray new line in one cell must not stop the whole campaign with a template error).
MAX_PARAM_CHARS = 1024
MAX_CONSECUTIVE_SPACES = 4


def literal_problem(value: str) -> str | None:
    """Why a literal variable value could not be sent as a template parameter; None when it can."""
    if not value.strip():
        return "is blank"
    if len(value) > MAX_PARAM_CHARS:
        return f"has {len(value)} characters; at most {MAX_PARAM_CHARS} are allowed"
    if any(c in value for c in "\n\r\t"):
        return "has a new line or a tab, which WhatsApp does not take in a template parameter"
    if " " * (MAX_CONSECUTIVE_SPACES + 1) in value:
        return f"has more than {MAX_CONSECUTIVE_SPACES} spaces in a row, which WhatsApp does not take"
    return None


def clean_param(value: str) -> str:
    """A CSV cell as a template parameter: any run of white space (new lines, tabs) one space, cut to size."""
    return " ".join(value.split())[:MAX_PARAM_CHARS]


def resolve_values(spec: Mapping[str, Any], variables: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    """One recipient's template values from a campaign's spec: a literal, the recipient's column, else its default.

    Returns the values and the columns that were empty with no default (the recipient is then skipped)."""
    values: dict[str, str] = {}
    missing: list[str] = []
    for name, value in spec.items():
        if isinstance(value, Mapping):
            column = str(value.get("column"))
            cell = clean_param(str(variables.get(column) or ""))
            default = value.get("default")
            if cell:
                values[name] = cell
            elif default is not None and str(default).strip():
                values[name] = str(default)
            else:
                missing.append(column)
        else:
            values[name] = str(value)
    return values, missing


def quick_reply_payloads(campaign_id: str, index: int, count: int) -> tuple[str, ...]:
    """The payloads of a recipient's quick-reply buttons, one per button in the template's order."""
    return tuple(button_payload(campaign_id, index, button) for button in range(count))


def snapshot(template: Template) -> dict[str, Any]:
    """What a campaign keeps of its template when it is checked: what each send needs besides the values."""
    return {
        "name": template.name,
        "language": template.language,
        "parameter_format": template.parameter_format,
        "variables": list(template.variables),
        "header_type": template.media_header,
        "quick_replies": template.quick_replies,
    }
