"""Answers about WhatsApp templates and Meta's webhook, as pydantic models (each its OpenAPI component), and the one
table of how each provider's template states map onto the contract's five.

The mapping itself is each provider module's (chalicelib/adapters/providers/whatsapp_cloud.py `TEMPLATE_STATES`
and the Twilio WhatsApp module's approval states, documented in their docstrings); `STATUS_MAPPING` is what the
document says of it, in one place.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.api.schemas import X
from chalicelib.domain.templates import TEMPLATE_STATUSES

TemplateStatus = Literal["approved", "pending", "rejected", "paused", "disabled"]
assert set(get_args(TemplateStatus)) == set(TEMPLATE_STATUSES)  # noqa: S101 - one list, checked at import

STATUS_MAPPING = (
    "One of five, whatever the provider's own word (kept in `provider_status`). Only `approved` can be sent "
    "(`422 template_not_approved`).\n\n"
    "| status | Meta (`whatsapp_cloud`: template `status`, webhook `event`) | Twilio (WhatsApp approval) |\n"
    "|---|---|---|\n"
    "| `approved` | `APPROVED`, `REINSTATED`, `FLAGGED` (low quality, still sendable) | `approved` |\n"
    "| `pending` | `PENDING`, `IN_APPEAL`, any state the provider adds later | `pending`, `received`, "
    "`unsubmitted` |\n"
    "| `rejected` | `REJECTED` | `rejected` |\n"
    "| `paused` | `PAUSED` | `paused` |\n"
    "| `disabled` | `DISABLED`, `DELETED`, `PENDING_DELETION`, `ARCHIVED`, `LIMIT_EXCEEDED` | `disabled` |\n\n"
    "A template that becomes `paused` or `disabled` (Meta's `message_template_status_update` webhook, or the next "
    "sync) stops every campaign sending it: `stopped` with `stop_reason.code` `template_paused` or "
    "`template_disabled`; `retry` resumes it once the template is approved again."
)


class Answer(BaseModel):
    """An answer: exactly these fields."""

    model_config = ConfigDict(extra="forbid")


class TemplateHeader(Answer):
    """A template's header: text (with its own parameters counted in `variables`) or a media placeholder."""

    model_config = ConfigDict(extra="allow")

    type: Literal["text", "image", "video", "document"] = Field(
        description="A media header needs `content.header_upload_id` in a campaign."
    )
    text: str | None = Field(default=None, description="A text header's text.")


class TemplateButton(Answer):
    """One of a template's buttons."""

    model_config = ConfigDict(extra="allow")

    type: Literal["quick_reply", "url", "phone_number"] = Field(
        description="A quick reply is sent with a payload naming the campaign and recipient."
    )
    text: str


class Template(Answer):
    """A channel's message template as last synced (or updated by the provider's webhook)."""

    id: str = Field(description="The provider's id: Meta's template id, or Twilio's Content SID (`HX...`).")
    name: str
    language: str = Field(description="As the provider spells it, e.g. `en_US`.")
    category: str | None = Field(description="`marketing`, `utility` or `authentication`, when the provider says.")
    status: TemplateStatus = Field(description=STATUS_MAPPING)
    body: str = Field(description="The body text with its placeholders (`{{1}}` or `{{first_name}}`).")
    variables: list[str] = Field(
        description="Every parameter a campaign must fill, in order: `1`, `2`, ... or names such as `first_name`."
    )
    parameter_format: Literal["positional", "named"]
    header: TemplateHeader | None
    buttons: list[TemplateButton]
    provider_status: str | None = Field(
        description="The provider's own word for its state (`APPROVED`, `IN_APPEAL`, `received`, ...).",
        json_schema_extra=X,
    )
    reason: str | None = Field(
        description="Why it was rejected, paused or disabled, when the provider says.", json_schema_extra=X
    )
    synced_at: str = Field(
        description="When the channel's templates were last synced.",
        json_schema_extra={"format": "date-time", **X},
    )
    updated_at: str = Field(
        description="When the provider last reported a change of its state (the sync's time if it never did).",
        json_schema_extra={"format": "date-time", **X},
    )


class TemplateList(Answer):
    """A page of a channel's templates, by id."""

    items: list[Template]
    next_cursor: str | None


class TemplateCounts(Answer):
    """How many of the synced templates have each status."""

    approved: int = Field(ge=0)
    pending: int = Field(ge=0)
    rejected: int = Field(ge=0)
    paused: int = Field(ge=0)
    disabled: int = Field(ge=0)


class TemplateSync(Answer):
    """What a sync stored: the first page of the channel's templates, and how many there are."""

    items: list[Template] = Field(description="The first page (50), by id; `next_cursor` goes on with the listing.")
    next_cursor: str | None
    total: int = Field(ge=0, description="How many templates the provider listed (and the channel now stores).")
    counts: TemplateCounts
    synced_at: str = Field(json_schema_extra={"format": "date-time"})


class WhatsAppReceived(Answer):
    """How many of each kind of item the webhook carried were recorded (a replay counts them again: recording is
    idempotent)."""

    statuses: int = Field(ge=0)
    messages: int = Field(ge=0)
    template_updates: int = Field(ge=0)
    preferences: int = Field(ge=0, description="Users' marketing stop/resume changes (`user_preferences`).")


class WhatsAppReceipt(Answer):
    """Meta's webhook, answered 200."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=X)

    received: WhatsAppReceived


class MetaWebhook(BaseModel):
    """Meta's webhook body (`object` `whatsapp_business_account`); any shape is accepted once signed, and only what
    Meta's shape carries is recorded: `entry[].changes[]` with `field` `messages` (`value.statuses[]`,
    `value.messages[]`) or `message_template_status_update`."""

    model_config = ConfigDict(extra="allow")

    object: str = Field(
        default="whatsapp_business_account", json_schema_extra={"examples": ["whatsapp_business_account"]}
    )
    entry: list[dict[str, Any]] = Field(default_factory=list)


MODELS: tuple[type[BaseModel], ...] = (
    TemplateHeader,
    TemplateButton,
    Template,
    TemplateList,
    TemplateCounts,
    TemplateSync,
    WhatsAppReceived,
    WhatsAppReceipt,
    MetaWebhook,
)
