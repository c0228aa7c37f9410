"""Answers: the JSON the API sends, as pydantic models; each is its OpenAPI component (see chalicelib/api/openapi.py).

The handlers build their answers as plain dicts (the services' views); tests/conftest.py validates every answer the
functional tests see against these schemas, through the generated document.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.json_schema import JsonDict

from chalicelib.api.schemas import REF, PhonebookContact, PhonebookRef, RoutingTarget, X, doc, non_null

TIME = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
TIME_OR_NULL = Annotated[
    str | None, WithJsonSchema({"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]})
]
URI = Annotated[str, WithJsonSchema({"type": "string", "format": "uri"})]
COUNT = Annotated[int, Field(ge=0)]


def ref(name: str, *, nullable: bool = False) -> Any:
    """A field type documented as a reference to a named component (optionally or null)."""
    target = {"$ref": REF.format(model=name)}
    return WithJsonSchema({"anyOf": [target, {"type": "null"}]} if nullable else target)


def _no_default(schema: JsonDict) -> None:
    schema.pop("default", None)


def _time_no_default(schema: JsonDict) -> None:
    schema.pop("default", None)
    schema["format"] = "date-time"


def _one_of(schema: JsonDict) -> None:
    schema["oneOf"] = schema.pop("anyOf")


def _extension_non_null(schema: JsonDict) -> None:
    non_null(schema)
    schema.update(X)


class Answer(BaseModel):
    """An answer: exactly these fields."""

    model_config = ConfigDict(extra="forbid")


class ErrorBody(Answer):
    """The error itself."""

    code: str = Field(
        description="Stable and machine-readable, e.g. `invalid_phone_number`.",
        json_schema_extra=doc(pattern="^[a-z][a-z0-9_]*$"),
    )
    message: str = Field(min_length=1, description="A human sentence.")
    details: list[Any] = Field(description="What the code is about, e.g. `{field, ...}` per problem; may be empty.")


class Error(Answer):
    """Every error answer."""

    error: ErrorBody


class Health(Answer):
    """Liveness."""

    status: Literal["ok"]


# ------------------------------------------------------------------------------------------------------ channels
class Webhooks(Answer):
    """The URLs to configure at the provider, at the deployment's webhook base (`WEBHOOK_BASE_URL`: in AWS the
    `webhooks` function's URL, not the API's server). For `whatsapp_cloud` both are the same URL,
    `/webhooks/whatsapp/{channel_id}`: Meta's app webhook "Callback URL" (fields `messages` and
    `message_template_status_update`), whose "Verify token" is the channel's `credentials.verify_token`."""

    model_config = ConfigDict(json_schema_extra=X)

    status_callback_url: URI = Field(description="Where the provider reports what became of each message.")
    inbound_url: URI = Field(description="Where the provider posts the messages contacts send to the senders.")


class ProviderConfigAnswer(Answer):
    """A `whatsapp_cloud` channel's `provider_config`, as given."""

    waba_id: str
    phone_number_ids: dict[str, str] = Field(description="Meta's phone number id of each sender, by E.164 number.")


class Channel(Answer):
    """A channel as answered (never with its credentials)."""

    id: str
    name: str
    type: Literal["sms", "whatsapp"]
    provider: Literal["twilio", "whatsapp_cloud"]
    senders: list[str]
    mps: float = Field(description="Messages per second per sender.")
    provider_config: ProviderConfigAnswer | None = Field(
        default=None,
        description="`whatsapp_cloud`: its WhatsApp Business Account and phone number ids; absent for `twilio`.",
        json_schema_extra=non_null,
    )
    default_routing_target: RoutingTarget | None = Field(
        description="Where a session opened by an inbound message goes; null: unassigned."
    )
    session_expire_hours: int = Field(description="Hours without a message after which a session closes.")
    webhooks: Annotated[Webhooks, WithJsonSchema({"$ref": REF.format(model="Webhooks"), **X})]
    created_at: TIME
    updated_at: TIME


class ChannelList(Answer):
    """A page of channels."""

    items: list[Channel]
    next_cursor: str | None


# ---------------------------------------------------------------------------------------------------- phonebooks
class PhonebookNumberTypes(Answer):
    """For each number type, how many contacts have a number of that type."""

    business: COUNT
    business2: COUNT
    mobile: COUNT
    mobile2: COUNT
    home: COUNT
    home2: COUNT
    other: COUNT


class PhonebookSummary(Answer):
    """A phonebook without its contacts, as listed."""

    id: str
    name: str
    contact_count: COUNT
    number_types: PhonebookNumberTypes
    created_at: TIME
    updated_at: TIME = Field(description="The last PUT.")


class Phonebook(PhonebookSummary):
    """A phonebook with its contacts, as stored."""

    contacts: list[PhonebookContact]


class PhonebookList(Answer):
    """A page of phonebooks."""

    items: list[PhonebookSummary]
    next_cursor: str | None


# ----------------------------------------------------------------------------------------------------- campaigns
CAMPAIGN_STATUS: JsonDict = {
    "type": "string",
    "enum": ["draft", "scheduled", "pending", "executing", "paused", "completed", "stopped", "retrying"],
    "description": (
        "`draft`: saved, will not be sent. `scheduled`: will start at `scheduled_at`. `pending`: waiting because "
        "another campaign of the tenant is sending (they start in the order they became pending). `executing`: "
        "sending (at most one campaign per tenant is `executing` or `retrying`). `completed`: every recipient has a "
        "final outcome. `stopped`: stopped by a system problem (provider credentials rejected, out of credit, worker "
        "lost); nothing already sent is sent again. `retrying`: resending failed messages (`POST .../retry`). "
        "`paused`: an admin paused it (`POST .../pause`); it hands nothing more over until `POST .../resume`."
    ),
    "x-extension": True,
}
RECIPIENT_STATUS: JsonDict = {
    "type": "string",
    "description": (
        "`sending`: being handed to the provider, or handed over without an answer (uncertain) until the provider's "
        "callback or records settle it; never sent again blindly."
    ),
    "enum": ["queued", "sending", "sent", "delivered", "read", "undelivered", "failed", "skipped"],
}


class CampaignResult(Answer):
    """A campaign's figures."""

    total: COUNT = Field(description="Recipients after deduplication.")
    sent: COUNT = Field(description="Accepted by the provider (or further).")
    delivered: COUNT = Field(description="Delivered (or read).")
    read: COUNT = Field(description="Read (WhatsApp).", json_schema_extra=X)
    failed: COUNT = Field(description="Failed or undelivered.")
    pending: COUNT = Field(description="No outcome yet.")
    skipped: COUNT = Field(description="Not sent because the number opted out.", json_schema_extra=X)


class TextContentAnswer(Answer):
    """An SMS as answered."""

    type: Literal["text"]
    text: str


class FileContentAnswer(Answer):
    """An MMS; `text` only when one was given."""

    type: Literal["file"]
    upload_id: str
    text: str = Field(default="", json_schema_extra=_no_default)


class ColumnRefAnswer(Answer):
    """A template variable taken per contact from an audience column."""

    column: str
    default: str = Field(default="", json_schema_extra=_no_default)


class TemplateContentAnswer(Answer):
    """A WhatsApp template campaign's content, as it was given."""

    type: Literal["template"]
    template_id: str
    variables: dict[str, str | ColumnRefAnswer]
    header_upload_id: str | None


class SendTimeAnswer(Answer):
    """When the campaign was asked to go out."""

    type: Literal["now", "scheduled", "draft"]
    at: str = Field(
        default="",
        description="In UTC.",
        json_schema_extra=_time_no_default,
    )


class StopReason(Answer):
    """Why a campaign is `stopped`."""

    code: str = Field(
        description=(
            "`phonebook_not_found`, `upload_not_found` or `too_many_recipients`: the audience could not be resolved "
            "when sending started; `channel_missing`: the channel or its credentials are gone; `provider_<code>`: the "
            "provider refused the account (e.g. `provider_20003`, credentials rejected)."
        )
    )
    message: str


class AudienceReport(Answer):
    """What resolving the audience found."""

    duplicates: COUNT = Field(
        description=(
            "Numbers left out because an earlier recipient has them: an upload's contacts repeating a typed number, "
            "or phonebook contacts sharing a number."
        )
    )
    phonebook_contacts: COUNT = Field(
        default=0, description="A phonebook audience: the phonebook's contacts.", json_schema_extra=_no_default
    )
    without_number_type: COUNT = Field(
        default=0,
        description="A phonebook audience: contacts with no number of `number_type`, left out.",
        json_schema_extra=_no_default,
    )


class CampaignAudience(Answer):
    """A campaign's audience as it was given."""

    numbers: list[str]
    upload_id: str | None
    phonebook: PhonebookRef | None


class Campaign(Answer):
    """A campaign as answered. Until sending starts (a `draft`, `scheduled` or not yet started `pending` campaign),
    `result.total` and `result.pending` are the audience's size counted when it was saved; from then on, its written
    recipients' outcomes."""

    id: str
    name: str
    status: Annotated[str, ref("CampaignStatus")]
    channel_id: str
    sender: str
    content: TextContentAnswer | FileContentAnswer | TemplateContentAnswer = Field(
        json_schema_extra=lambda s: s.update(oneOf=s.pop("anyOf"))
    )
    send_time: SendTimeAnswer
    send_mode: Literal["direct", "session"]
    routing_target: RoutingTarget | None
    result: CampaignResult
    responded: COUNT = Field(
        description=(
            "Recipients who replied: an inbound message from the recipient's number to the campaign's sender on its "
            "channel within the attribution window (7 days by default, a setting) after the provider accepted the "
            "campaign's message. A WhatsApp reply quoting that message (`context.id`) or pressing one of its buttons "
            "is attributed to it; any other reply to the latest campaign message of that sender to the contact. Each "
            "recipient counts once (`responded_at` is its first reply); `direct` campaigns count too."
        )
    )
    response_rate: float = Field(
        ge=0,
        le=1,
        description=(
            "`responded` over the messages the provider accepted (`sent` + `delivered` + `read` + `undelivered`); "
            "0 while none was."
        ),
    )
    segments: COUNT = Field(description="SMS segments per message (1 for MMS and WhatsApp templates).")
    encoding: Literal["GSM-7", "UCS-2", "UTF-8"] = Field(
        description="The SMS text's encoding; `UTF-8` for a WhatsApp template, which is not billed in segments."
    )
    created_at: TIME
    scheduled_at: TIME_OR_NULL
    started_at: TIME_OR_NULL
    completed_at: TIME_OR_NULL
    stop_reason: StopReason | None = Field(
        description="Why the campaign is `stopped`; null otherwise (a retry clears it).", json_schema_extra=X
    )
    paused_at: TIME_OR_NULL = Field(
        default=None, description="When it was last paused; null if it never was.", json_schema_extra=X
    )
    cancel_requested_at: TIME_OR_NULL = Field(
        default=None,
        description=(
            "When a cancel was asked for; null if none was. From then on nothing more is handed to the provider, and "
            "the campaign is `completed` once the hand-overs in flight have ended (within seconds)."
        ),
        json_schema_extra=X,
    )
    audience_report: AudienceReport | None = Field(
        description="What resolving the audience found when sending started; null until then.", json_schema_extra=X
    )
    recipients: CampaignAudience | None = Field(
        default=None,
        description=(
            "The audience as given (typed numbers deduplicated); in single-campaign answers only, not in lists."
        ),
        json_schema_extra=_extension_non_null,
    )


class CampaignList(Answer):
    """A page of campaigns."""

    items: list[Campaign]
    next_cursor: str | None


class RecipientError(Answer):
    """Why a recipient failed."""

    code: str = Field(description="The provider's code, e.g. `21211`.")
    message: str


class Recipient(Answer):
    """One recipient's details."""

    number: str
    status: Annotated[str, ref("RecipientStatus")]
    error: RecipientError | None
    attempts: COUNT = Field(
        description=(
            "How many times the message was handed to the provider: a retry adds one, and so does a resend after the "
            "provider's records proved an uncertain hand-over absent, or after a connection that provably never "
            "reached it."
        )
    )
    provider_message_id: str | None
    sent_at: TIME_OR_NULL
    delivered_at: TIME_OR_NULL
    read_at: TIME_OR_NULL
    responded_at: TIME_OR_NULL
    session_id: str | None
    variables: dict[str, str] = Field(
        description=(
            "Per-contact values: a CSV upload's non-empty columns other than `Number`, or a phonebook contact's "
            "`name` (when it has one); empty for typed numbers."
        ),
        json_schema_extra=X,
    )


class RecipientList(Answer):
    """A page of recipients."""

    items: list[Recipient]
    next_cursor: str | None


# ------------------------------------------------------------------------------------------------------- uploads
UPLOAD_ERROR_CODES = (
    "invalid_encoding",
    "empty_file",
    "no_rows",
    "missing_number_column",
    "invalid_csv",
    "payload_too_large",
    "invalid_phone_number",
    "upload_expired",
    "file_missing",
    "contact_too_large",
    "file_changing",
)


class UploadError(Answer):
    """Why an upload was rejected."""

    code: str = Field(
        description=(
            "`invalid_encoding`: not UTF-8 (details give the byte offset and row); `empty_file`: no header row; "
            "`no_rows`: a header but no contact rows; `missing_number_column`: no `Number` column (details list the "
            "columns); `invalid_csv`: not CSV text (a NUL byte, an unclosed quote, a row over 1 MB); "
            "`payload_too_large`: over 50 MB (a contact CSV) or 100 MB (media); `invalid_phone_number`: rows whose "
            "number is not E.164 (every number must be; details are the first 100 `errors`); `upload_expired`: no "
            "file was put before the URL expired; `file_missing`: the file is not in storage; `contact_too_large`: a "
            "contact's other columns (its variables) hold more than 32 KB; `invalid_csv` also when the header's "
            "column names take more than 64 KB; `file_changing`: media was put again and again while it was being "
            "checked (put it once)."
        ),
        json_schema_extra=doc(enum=list(UPLOAD_ERROR_CODES)),
    )
    message: str
    details: list[Any]


class RowError(Answer):
    """A contact CSV row whose number is not valid."""

    row: int = Field(ge=1, description="The spreadsheet row (the header is row 1).")
    value: str = Field(description="The cell, cut to 64 characters.")
    reason: str


_CSV_REPORT = ["rows", "valid", "invalid", "duplicates", "columns", "errors"]
# A contact CSV's import report is answered for every contact CSV (zeros until imported), never for media.
_CSV_REPORT_RULE: dict[str, Any] = {
    "if": {"properties": {"kind": {"const": "contacts_csv"}}},
    "then": {"required": _CSV_REPORT},
    "else": {"not": {"anyOf": [{"required": [field]} for field in _CSV_REPORT]}},
}


def _report(description: str, **keywords: Any) -> Any:
    """A field of a contact CSV's import report: absent for media."""

    def schema(s: JsonDict) -> None:
        non_null(s)
        s.update(keywords)

    return Field(default=None, description=description, json_schema_extra=schema)


class Upload(Answer):
    """An upload. A contact CSV also answers its import report (`rows`, `valid`, `invalid`, `duplicates`, `columns`,
    `errors`; zeros and empty lists until it is imported)."""

    model_config = ConfigDict(json_schema_extra=_CSV_REPORT_RULE)

    id: str
    kind: Literal["contacts_csv", "media"]
    filename: str
    content_type: str = Field(description="As announced; once media is processed, as stored (what the PUT sent).")
    size: COUNT = Field(description="Bytes: as announced; once media is processed, as stored; an inline CSV's body.")
    status: Literal["processing", "ready", "rejected"] = Field(
        description="`ready`: a campaign may use it; `rejected`: see `error`."
    )
    stage: Literal["awaiting_file", "importing", "done"] = Field(
        description=(
            "What `processing` waits for: `awaiting_file` (the PUT), `importing` (the file arrived and is being "
            "processed); `done` once `ready` or `rejected`."
        ),
        json_schema_extra=X,
    )
    created_at: TIME
    expires_at: TIME_OR_NULL = Field(
        description="When the upload URL expires (an hour after the announcement); null for an inline CSV."
    )
    processed_at: TIME_OR_NULL = Field(
        description="When processing finished; null before, and for an upload whose file never came.",
        json_schema_extra=X,
    )
    error: UploadError | None = Field(
        description="Why the upload was rejected (not an HTTP error); null otherwise.", json_schema_extra=X
    )
    rows: COUNT = _report("Contact CSV: non-blank rows after the header.", type="integer")
    valid: COUNT = _report("Contact CSV: rows with an E.164 number.", type="integer")
    invalid: COUNT = _report("Contact CSV: rows with another number.", type="integer")
    duplicates: COUNT = _report(
        "Contact CSV: valid rows repeating an earlier row's number (counted in `valid`, used once).", type="integer"
    )
    columns: list[str] = _report("Contact CSV: the header's names.")
    errors: list[RowError] | None = Field(
        default=None,
        max_length=100,
        description="Contact CSV: the first 100 rows whose number is not valid.",
        json_schema_extra=non_null,
    )


class UploadTicket(Upload):
    """The answer to an announced upload: the upload, and how to PUT its file."""

    upload_url: URI = Field(description="A presigned object-storage URL, valid until `expires_at`.")
    upload_method: Literal["PUT"]
    upload_headers: dict[str, str] = Field(
        description="Headers the PUT must send (the URL is signed for them): `Content-Type`."
    )


# ------------------------------------------------------------------------------------------------------ webhooks
_FORM = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": {"type": "string"}})


class TwilioStatusForm(BaseModel):
    """Twilio's status callback fields (others are accepted and covered by the signature)."""

    model_config = _FORM

    MessageSid: str = Field(default="", json_schema_extra=_no_default)
    MessageStatus: str = Field(
        default="",
        description=(
            "`sent`, `delivered`, `read`, `undelivered` and `failed` are recorded; `queued`, `accepted`, `sending` "
            "and the others are accepted and ignored."
        ),
        json_schema_extra=_no_default,
    )
    SmsSid: str = Field(default="", json_schema_extra=_no_default)
    SmsStatus: str = Field(default="", json_schema_extra=_no_default)
    ErrorCode: str = Field(
        default="", description="Twilio's delivery error code, e.g. `30003`.", json_schema_extra=_no_default
    )


class TwilioInboundForm(BaseModel):
    """Twilio's incoming message fields (others are accepted and covered by the signature)."""

    model_config = _FORM

    MessageSid: str = Field(default="", json_schema_extra=_no_default)
    From: str = Field(default="", json_schema_extra=_no_default)
    To: str = Field(default="", json_schema_extra=_no_default)
    Body: str = Field(default="", json_schema_extra=_no_default)
    NumMedia: str = Field(default="", json_schema_extra=_no_default)


RESPONSE_MODELS: tuple[type[BaseModel], ...] = (
    Error,
    Health,
    ProviderConfigAnswer,
    Channel,
    ChannelList,
    PhonebookNumberTypes,
    PhonebookSummary,
    Phonebook,
    PhonebookList,
    CampaignResult,
    Campaign,
    CampaignList,
    Recipient,
    RecipientList,
    Upload,
    UploadTicket,
    TwilioStatusForm,
    TwilioInboundForm,
)
# Enumerations the document names (the services keep their values in chalicelib/domain/model.py).
ENUMS = {"CampaignStatus": CAMPAIGN_STATUS, "RecipientStatus": RECIPIENT_STATUS}
