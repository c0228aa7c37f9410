"""Request bodies: strict shapes (unknown fields and wrong types are a 400); values are checked by the services."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, ValidationError

from chalicelib.domain.errors import InvalidRequestError

# Ids are opaque; ours are ~30 characters. The bound keeps a looked-up id within DynamoDB's key size (a sort key is at
# most 1024 bytes): a longer one would be refused by DynamoDB as a 500 instead of by us as a 400.
MAX_ID_CHARS = 128


class Strict(BaseModel):
    """Unknown fields are refused; no type coercion."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Credentials(Strict):
    """Twilio account credentials (write-only); their shape is the provider's rule, a 422 from the channel service."""

    account_sid: StrictStr
    auth_token: StrictStr


class ChannelIn(Strict):
    """POST /v1/channels."""

    name: StrictStr = Field(min_length=1, max_length=200)
    type: Literal["sms", "whatsapp"]
    provider: Literal["twilio", "whatsapp_cloud"]
    senders: list[StrictStr] = Field(min_length=1, max_length=100)
    credentials: Credentials
    mps: StrictInt | StrictFloat | None = None


class ChannelPatch(Strict):
    """PATCH /v1/channels/{id}: any of these."""

    name: StrictStr | None = Field(default=None, min_length=1, max_length=200)
    senders: list[StrictStr] | None = Field(default=None, min_length=1, max_length=100)
    credentials: Credentials | None = None
    mps: StrictInt | StrictFloat | None = None


class PhonebookNumbers(Strict):
    """A contact's numbers by type (the fields are the number types, in order); absent or null: none of that type."""

    business: StrictStr | None = None
    business2: StrictStr | None = None
    mobile: StrictStr | None = None
    mobile2: StrictStr | None = None
    home: StrictStr | None = None
    home2: StrictStr | None = None
    other: StrictStr | None = None


class PhonebookContact(Strict):
    """One contact of a phonebook."""

    name: StrictStr | None = Field(default=None, max_length=200)
    numbers: PhonebookNumbers = Field(default_factory=PhonebookNumbers)


class PhonebookIn(Strict):
    """PUT /v1/phonebooks/{id}: the whole phonebook, replacing the stored one."""

    name: StrictStr = Field(min_length=1, max_length=200)
    contacts: list[PhonebookContact] = Field(max_length=100_000)


class PhonebookRef(Strict):
    """A phonebook and the number type to take from it."""

    id: StrictStr = Field(max_length=MAX_ID_CHARS)
    number_type: Literal["business", "business2", "mobile", "mobile2", "home", "home2", "other"]


class Recipients(Strict):
    """Who gets the campaign."""

    numbers: list[Any] | None = Field(default=None, max_length=100_000)
    upload_id: StrictStr | None = Field(default=None, max_length=MAX_ID_CHARS)
    phonebook: PhonebookRef | None = None


class ColumnRef(Strict):
    """A template variable taken from a CSV column."""

    column: StrictStr


class TextContent(Strict):
    """An SMS."""

    type: Literal["text"]
    text: StrictStr


class FileContent(Strict):
    """An MMS."""

    type: Literal["file"]
    upload_id: StrictStr = Field(max_length=MAX_ID_CHARS)
    text: StrictStr | None = None


class TemplateContent(Strict):
    """A WhatsApp template."""

    type: Literal["template"]
    template_id: StrictStr = Field(max_length=MAX_ID_CHARS)
    variables: dict[str, StrictStr | ColumnRef] = Field(default_factory=dict)


Content = Annotated[TextContent | FileContent | TemplateContent, Field(discriminator="type")]


class SendNow(Strict):
    """Send at once."""

    type: Literal["now"]


class SendScheduled(Strict):
    """Send at a time."""

    type: Literal["scheduled"]
    at: StrictStr


class SendDraft(Strict):
    """Keep as a draft."""

    type: Literal["draft"]


SendTime = Annotated[SendNow | SendScheduled | SendDraft, Field(discriminator="type")]


class RoutingTarget(Strict):
    """Where reply sessions go."""

    type: Literal["extension", "queue"]
    id: StrictStr = Field(min_length=1, max_length=64)


class CampaignIn(Strict):
    """POST /v1/campaigns."""

    name: StrictStr = Field(min_length=1, max_length=200)
    channel_id: StrictStr = Field(max_length=MAX_ID_CHARS)
    sender: StrictStr
    recipients: Recipients
    content: Content
    send_time: SendTime
    send_mode: Literal["direct", "session"] = "direct"
    routing_target: RoutingTarget | None = None


class CampaignPatch(Strict):
    """PATCH /v1/campaigns/{id} (drafts only): any of a campaign's settings; `send_time` goes through /send."""

    name: StrictStr | None = Field(default=None, min_length=1, max_length=200)
    channel_id: StrictStr | None = Field(default=None, max_length=MAX_ID_CHARS)
    sender: StrictStr | None = None
    recipients: Recipients | None = None
    content: Content | None = None
    send_mode: Literal["direct", "session"] | None = None
    routing_target: RoutingTarget | None = None


class UploadIn(Strict):
    """POST /v1/uploads (JSON): announce a file to be PUT to the answered URL."""

    kind: Literal["contacts_csv", "media"]
    filename: StrictStr = Field(min_length=1, max_length=1000)
    content_type: StrictStr = Field(min_length=1, max_length=255)
    size: StrictInt = Field(ge=1)


class SendIn(Strict):
    """POST /v1/campaigns/{id}/send."""

    send_time: Annotated[SendNow | SendScheduled, Field(discriminator="type")]


_ = StrictBool  # re-exported for later shapes


def parse(model: type[Strict], data: Any) -> Any:
    """Validate a decoded JSON body against a shape; a mismatch is a 400 listing each problem."""
    if not isinstance(data, dict):
        raise InvalidRequestError("the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = []
        for err in exc.errors(include_url=False, include_input=False):
            loc = ".".join(str(p) for p in err.get("loc", ()) if not str(p).startswith("function-"))
            details.append({"field": loc, "message": err.get("msg", "invalid"), "type": err.get("type", "")})
        first = details[0] if details else {"field": "", "message": "invalid"}
        raise InvalidRequestError(f"{first['field'] or 'body'}: {first['message']}", details=details) from None
