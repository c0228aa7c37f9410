"""Request bodies: strict shapes (unknown fields and wrong types are a 400); values are checked by the services.

Each model is also its OpenAPI component (chalicelib/api/openapi.py generates the document from them). Where a
service checks more than the shape (a valid E.164 number, a bound, a pattern), the field's JSON schema says so
through `doc(...)` without changing the parser: such a value stays a 422 from the service, never a 400 from here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    WithJsonSchema,
)
from pydantic.json_schema import JsonDict

from chalicelib.domain.contacts_csv import MAX_CSV_BYTES
from chalicelib.domain.errors import InvalidRequestError
from chalicelib.domain.ids import MAX_ID_CHARS
from chalicelib.domain.phone import E164_RE

X: JsonDict = {"x-extension": True}
REF = "#/components/schemas/{model}"
# What the services take as a phone number (chalicelib/domain/phone.py): `+`, a country code and up to 15 digits, and
# (format `e164`) a number valid for its country's numbering plan.
E164: JsonDict = {"type": "string", "pattern": f"^{E164_RE.pattern}$", "format": "e164"}
E164_STR = Annotated[StrictStr, WithJsonSchema(E164)]
# Not blank: at least one character that is not white space (the services strip the text).
NOT_BLANK = r"\S"
# chalicelib/services/uploads.py `_check_filename`: not blank (U+0085 is blank to Python's strip, not to `\s`), no
# slash, backslash or control character.
FILENAME_PATTERN = r"^[^/\\\x00-\x1f\x7f]*[^\s\x85/\\\x00-\x1f\x7f][^/\\\x00-\x1f\x7f]*$"
# chalicelib/services/uploads.py `_MIME_RE`, parameters allowed after a `;`.
MEDIA_TYPE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}(;.*)?$"
CSV_TYPE_PATTERN = r"^(text/csv|text/plain|application/csv|application/vnd\.ms-excel|text/x-csv)(;.*)?$"
MAX_MEDIA_BYTES = 100 * 1024 * 1024
MAX_TEXT_CHARACTERS = 1600
# RFC 3339 with an offset (chalicelib/services/campaigns.py `parse_schedule`).
RFC3339 = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"


def doc(**keywords: Any) -> JsonDict:
    """JSON-schema keywords for a field's document only (`x_extension=True` becomes `x-extension`)."""
    return {k.replace("x_", "x-", 1) if k.startswith("x_") else k: v for k, v in keywords.items()}


def non_null(schema: JsonDict) -> None:
    """Document an optional field without `null`: a null is taken as absent, so the document need not offer it."""
    found = schema.pop("anyOf", [])
    options = [o for o in found if o != {"type": "null"}] if isinstance(found, list) else []
    if len(options) == 1 and isinstance(options[0], dict):
        schema.update(options[0])
    elif options:
        schema["anyOf"] = options
    schema.pop("default", None)


def _e164_non_null(schema: JsonDict) -> None:
    non_null(schema)
    schema.update(E164)


def _whole(value: Any) -> Any:
    """A JSON number without a fractional part (`1234.0`) is the integer JSON Schema says it is."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


# An integer field: strict (no "1", no true), but `1234.0` is 1234, as in the document's JSON Schema.
WholeInt = Annotated[StrictInt, BeforeValidator(_whole)]


class Strict(BaseModel):
    """Unknown fields are refused; no type coercion."""

    model_config = ConfigDict(extra="forbid", strict=True)


_E164_OR_NULL = Field(default=None, json_schema_extra={"anyOf": [E164, {"type": "null"}]})


class PhonebookNumbers(Strict):
    """A contact's numbers by type, each a valid E.164 number (else `422 invalid_phone_number`); an absent or null
    type is no number of that type. Another type is `400 invalid_request`."""

    business: StrictStr | None = _E164_OR_NULL
    business2: StrictStr | None = _E164_OR_NULL
    mobile: StrictStr | None = _E164_OR_NULL
    mobile2: StrictStr | None = _E164_OR_NULL
    home: StrictStr | None = _E164_OR_NULL
    home2: StrictStr | None = _E164_OR_NULL
    other: StrictStr | None = _E164_OR_NULL


class PhonebookContact(Strict):
    """One contact. As answered: `name` only when it has one, `numbers` only the types it has."""

    name: StrictStr | None = Field(default=None, max_length=200)
    numbers: PhonebookNumbers = Field(default_factory=PhonebookNumbers)


class PhonebookIn(Strict):
    """PUT /v1/phonebooks/{phonebook_id}: the whole phonebook, replacing the stored one."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"name": "Team", "contacts": [{"name": "Alice", "numbers": {"mobile": "+41791234567"}}]}]
        }
    )

    name: StrictStr = Field(min_length=1, max_length=200)
    contacts: list[PhonebookContact] = Field(
        max_length=100_000, description="In the PBX's order, which campaigns keep; may be empty."
    )


class PhonebookRef(Strict):
    """A phonebook and the number type to take from it."""

    id: StrictStr = Field(max_length=MAX_ID_CHARS)
    number_type: Literal["business", "business2", "mobile", "mobile2", "home", "home2", "other"]


# Recipients: at least one source (else `422 no_recipients`), and a phonebook alone (else `422 invalid_recipients`).
_ONE_SOURCE: JsonDict = {
    "anyOf": [
        {"required": ["numbers"], "properties": {"numbers": {"type": "array", "minItems": 1}}},
        {"required": ["upload_id"], "properties": {"upload_id": {"type": "string"}}},
        {"required": ["phonebook"], "properties": {"phonebook": {"type": "object"}}},
    ],
    "not": {
        "required": ["phonebook"],
        "properties": {"phonebook": {"type": "object"}},
        "anyOf": [
            {"required": ["numbers"], "properties": {"numbers": {"type": "array", "minItems": 1}}},
            {"required": ["upload_id"], "properties": {"upload_id": {"type": "string"}}},
        ],
    },
}


class Recipients(Strict):
    """Who gets the campaign: typed `numbers` and/or a contact CSV (`upload_id`), or a `phonebook` alone."""

    model_config = ConfigDict(json_schema_extra=_ONE_SOURCE)

    numbers: list[Annotated[Any, WithJsonSchema(E164)]] | None = Field(
        default=None,
        max_length=100_000,
        description=(
            "E.164 numbers, deduplicated. Any entry that is not a valid E.164 string fails the whole request with "
            "`422 invalid_phone_number` listing the offenders. At most 10,000 typed (`422 too_many_recipients`; "
            "x-extension): larger lists go in a CSV upload; at most 1,000 recipients after deduplication (a "
            "setting; `422 too_many_recipients`)."
        ),
        json_schema_extra=doc(maxItems=1000),
    )
    upload_id: StrictStr | None = Field(
        default=None,
        max_length=MAX_ID_CHARS,
        description=(
            "A `contacts_csv` upload that is `ready` (else `422 upload_not_found`, `upload_wrong_kind`, "
            "`upload_not_ready` or `upload_rejected`); its contacts come after the typed numbers, those repeating one "
            "left out. Its columns become each recipient's `variables`."
        ),
    )
    phonebook: PhonebookRef | None = Field(
        default=None,
        description=(
            "The phonebook's contacts that have a number of `number_type`, in the phonebook's order (duplicates "
            "removed), each with its `name` as a variable. Not with `numbers` or `upload_id` "
            "(`422 invalid_recipients`); no such phonebook: `422 phonebook_not_found`; no contact with such a "
            "number: `422 no_recipients`. It is read again when sending starts."
        ),
    )


class ColumnRef(Strict):
    """A template variable taken per contact from the audience: a CSV column of the upload, or `name` for a
    phonebook (`422 unknown_column` for one the audience does not have). A contact whose cell is empty gets
    `default`; without one it is `skipped` with `error.code` `missing_variable`. New lines, tabs and runs of spaces
    in a cell are sent as one space, and a cell is cut to 1,024 characters."""

    column: StrictStr = Field(min_length=1)
    default: StrictStr | None = Field(
        default=None,
        description="Not blank, at most 1,024 characters, no new line or tab, at most 4 spaces in a row "
        "(`422 invalid_variable_value`).",
    )


class TextContent(Strict):
    """An SMS: up to 1,600 characters, emoji allowed, not blank."""

    type: Literal["text"]
    text: StrictStr = Field(
        description="Not blank (`422 content_empty`), at most 1,600 characters (`422 content_too_long`).",
        json_schema_extra=doc(minLength=1, maxLength=MAX_TEXT_CHARACTERS, pattern=NOT_BLANK, examples=["Hello 👋"]),
    )


class FileContent(Strict):
    """An MMS: a `media` upload that is `ready` (else `422 upload_not_found`, `upload_wrong_kind`, `upload_not_ready`
    or `upload_rejected`) and an optional text of up to 1,600 characters (`422 content_too_long`). On a Twilio
    channel, media and text together at most 5 MB (5,242,880 bytes; `422 media_too_large`) and a content type Twilio
    accepts in an MMS (images, audio, video, vCard, PDF and a few others; `422 media_type_not_supported`). Sent as one
    message (`segments` 1). What is sent is the file as it was when its upload was processed, the one these checks
    describe."""

    type: Literal["file"]
    upload_id: StrictStr = Field(max_length=MAX_ID_CHARS)
    text: StrictStr | None = Field(
        default=None,
        description="Absent or null: the media alone; given, not blank (`422 content_empty`).",
        json_schema_extra={
            "anyOf": [
                {"type": "string", "minLength": 1, "maxLength": MAX_TEXT_CHARACTERS, "pattern": NOT_BLANK},
                {"type": "null"},
            ]
        },
    )


class TemplateContent(Strict):
    """A WhatsApp template (needs a WhatsApp channel, else `422 template_not_supported`), stored for the channel by
    a sync (`422 template_not_found`) and `approved` (`422 template_not_approved`). `variables` gives every variable
    the template declares and no other (`422 template_variables_mismatch`): a literal value (not blank, at most 1,024
    characters, no new line or tab, at most 4 spaces in a row: `422 invalid_variable_value`) or a column. A template
    with an image, video or document header needs `header_upload_id`, a `ready` media upload the provider accepts
    as that header (`422 header_upload_required`, `media_type_not_supported`, `media_too_large`); a template without
    one, or on Twilio (whose Content templates carry their own media), takes none (`422 header_upload_not_allowed`).
    Sent as one message (`segments` 1, `encoding` `UTF-8`)."""

    model_config = ConfigDict(json_schema_extra=X)

    type: Literal["template"]
    template_id: StrictStr = Field(max_length=MAX_ID_CHARS)
    variables: dict[str, StrictStr | ColumnRef] = Field(default_factory=dict)
    header_upload_id: StrictStr | None = Field(default=None, max_length=MAX_ID_CHARS)


def _union(*names: str) -> dict[str, Any]:
    """A discriminated union of components by their `type` constant, as the document spells it."""
    refs = {name: REF.format(model=name) for name in names}
    tags = {"TextContent": "text", "FileContent": "file", "TemplateContent": "template"}
    tags |= {"SendNow": "now", "SendScheduled": "scheduled", "SendDraft": "draft"}
    return {
        "oneOf": [{"$ref": ref} for ref in refs.values()],
        "discriminator": {"propertyName": "type", "mapping": {tags[n]: ref for n, ref in refs.items()}},
    }


CONTENT_DOC = _union("TextContent", "FileContent", "TemplateContent")
Content = Annotated[
    TextContent | FileContent | TemplateContent,
    Field(discriminator="type"),
    WithJsonSchema({"$ref": REF.format(model="Content")}),
]


class SendNow(Strict):
    """Send at once."""

    type: Literal["now"]


class SendScheduled(Strict):
    """Send at a time."""

    type: Literal["scheduled"]
    at: StrictStr = Field(
        description=(
            "RFC 3339 with any offset, e.g. `2026-12-01T09:00:00+01:00`; in the future and within a year (else "
            "`422 invalid_schedule`); stored and answered in UTC."
        ),
        json_schema_extra=doc(format="date-time", pattern=RFC3339, examples=["2026-12-01T09:00:00+01:00"]),
    )


class SendDraft(Strict):
    """Keep as a draft."""

    type: Literal["draft"]


SEND_TIME_DOC = _union("SendNow", "SendScheduled", "SendDraft")
SendTime = Annotated[
    SendNow | SendScheduled | SendDraft,
    Field(discriminator="type"),
    WithJsonSchema({"$ref": REF.format(model="SendTime")}),
]


class RoutingTarget(Strict):
    """Where a session goes in the PBX: an extension or a message queue, by its number."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"type": "queue", "id": "1001"}]})

    # Strings of any shape pass here: the service answers a malformed target `422 invalid_routing_target`.
    type: StrictStr = Field(
        description="`extension` or `queue` (another value: `422 invalid_routing_target`).",
        json_schema_extra=doc(enum=["extension", "queue"]),
    )
    id: StrictStr = Field(
        description=(
            "The extension's or queue's number: 1 to 16 ASCII digits 0-9 (anything else: `422 invalid_routing_target`)."
        ),
        json_schema_extra=doc(pattern="^[0-9]{1,16}$"),
    )


_SEND_MODE = (
    "`direct` (no session; these messages are not in the chat logs) or `session`: each recipient whose message the "
    "provider accepted gets a session assigned to `routing_target`, or keeps its open one (and its assignment)."
)
_ROUTING = (
    "Required with `send_mode` `session`, refused without it: a `session` campaign without one, a malformed one, or "
    "one given with `send_mode` `direct`, is `422 invalid_routing_target` (details name `routing_target`)."
)


# `session` needs a routing target and `direct` takes none (else `422 invalid_routing_target`), said in the schema so
# that a request valid by the document is accepted.
_TARGET_FOR_MODE: JsonDict = {
    "if": {"properties": {"send_mode": {"const": "session"}}, "required": ["send_mode"]},
    "then": {
        "properties": {"routing_target": {"$ref": REF.format(model="RoutingTarget")}},
        "required": ["routing_target"],
    },
    "else": {"properties": {"routing_target": {"type": "null"}}},
}


class CampaignIn(Strict):
    """POST /v1/campaigns."""

    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [_TARGET_FOR_MODE],
            "examples": [
                {
                    "name": "Spring promo",
                    "channel_id": "ch_0123456789abcdef",
                    "sender": "+15005550006",
                    "recipients": {"numbers": ["+41415084545"]},
                    "content": {"type": "text", "text": "Hello 👋"},
                    "send_time": {"type": "now"},
                    "send_mode": "direct",
                }
            ],
        }
    )

    name: StrictStr = Field(min_length=1, max_length=200)
    channel_id: StrictStr = Field(
        max_length=MAX_ID_CHARS, description="One of the tenant's channels (else `422 channel_not_found`)."
    )
    sender: StrictStr = Field(
        description="One of the channel's senders (else `422 invalid_sender`).", json_schema_extra=E164
    )
    recipients: Recipients
    content: Content
    send_time: SendTime
    send_mode: Literal["direct", "session"] = Field(default="direct", description=_SEND_MODE)
    routing_target: RoutingTarget | None = Field(default=None, description=_ROUTING)


class CampaignPatch(Strict):
    """PATCH /v1/campaigns/{campaign_id} (drafts only): any of a campaign's settings; an absent or null field is left
    as it is. `send_time` is not one of them (`400 invalid_request`): a draft goes out with `POST .../send`."""

    name: StrictStr | None = Field(default=None, min_length=1, max_length=200, json_schema_extra=non_null)
    channel_id: StrictStr | None = Field(default=None, max_length=MAX_ID_CHARS, json_schema_extra=non_null)
    sender: StrictStr | None = Field(default=None, json_schema_extra=_e164_non_null)
    recipients: Recipients | None = Field(
        default=None, description="Replaces the recipients whole.", json_schema_extra=non_null
    )
    content: Content | None = Field(default=None, description="Replaces the content whole.", json_schema_extra=non_null)
    send_mode: Literal["direct", "session"] | None = Field(
        default=None,
        description=_SEND_MODE + " Changed to `direct` without a `routing_target`, the draft's target is dropped.",
        json_schema_extra=non_null,
    )
    routing_target: RoutingTarget | None = Field(
        default=None, description=_ROUTING + " Absent or null: the draft's target is kept.", json_schema_extra=non_null
    )


class UploadIn(Strict):
    """POST /v1/uploads (JSON): announce a file, to be PUT to the answered URL."""

    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                {
                    "if": {"properties": {"kind": {"const": "contacts_csv"}}},
                    "then": {
                        "properties": {
                            "content_type": {"pattern": CSV_TYPE_PATTERN},
                            "size": {"maximum": MAX_CSV_BYTES},
                        }
                    },
                }
            ],
            "examples": [
                {"kind": "contacts_csv", "filename": "contacts.csv", "content_type": "text/csv", "size": 1234}
            ],
        }
    )

    kind: Literal["contacts_csv", "media"] = Field(
        description="`contacts_csv`: recipients for a campaign; `media`: an MMS's file."
    )
    filename: StrictStr = Field(
        min_length=1,
        max_length=1000,
        description=(
            "Under 127 characters (`422 filename_too_long`), not blank and without slashes or control characters "
            "(`422 invalid_filename`); surrounding spaces are dropped."
        ),
        json_schema_extra=doc(maxLength=126, pattern=FILENAME_PATTERN),
    )
    content_type: StrictStr = Field(
        min_length=1,
        max_length=255,
        description=(
            "The file's media type, which the PUT must send (`422 invalid_content_type`); for a contact CSV one of "
            "`text/csv`, `text/plain`, `application/csv`, `application/vnd.ms-excel`, `text/x-csv`."
        ),
        json_schema_extra=doc(pattern=MEDIA_TYPE_PATTERN),
    )
    size: WholeInt = Field(
        ge=1,
        description=(
            "The file's exact size in bytes: at most 50 MB for a contact CSV, 100 MB for media "
            "(`413 payload_too_large`)."
        ),
        json_schema_extra=doc(maximum=MAX_MEDIA_BYTES),
    )


class SendIn(Strict):
    """POST /v1/campaigns/{campaign_id}/send."""

    send_time: Annotated[
        SendNow | SendScheduled,
        Field(discriminator="type"),
        WithJsonSchema(_union("SendNow", "SendScheduled")),
    ]


# The channel bodies are in chalicelib/api/channel_schemas.py (its MODELS).
REQUEST_MODELS: tuple[type[BaseModel], ...] = (
    PhonebookNumbers,
    PhonebookContact,
    PhonebookIn,
    PhonebookRef,
    Recipients,
    ColumnRef,
    TextContent,
    FileContent,
    TemplateContent,
    SendNow,
    SendScheduled,
    SendDraft,
    RoutingTarget,
    CampaignIn,
    CampaignPatch,
    SendIn,
    UploadIn,
)
# Named unions pydantic writes inline: the document gives them their own components.
UNIONS = {"Content": CONTENT_DOC, "SendTime": SEND_TIME_DOC}

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
