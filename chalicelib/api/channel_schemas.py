"""Channel request bodies: a provider account's credentials and `provider_config`, and the channel around them.

Strict like every request shape (chalicelib/api/schemas.py); what the provider's rules check beyond the shape (the
credentials' and ids' patterns, one phone number id per sender) is said in the document through `doc(...)` and stays
a 422 from the service.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, WithJsonSchema
from pydantic.json_schema import JsonDict

from chalicelib.api.schemas import E164_STR, REF, RoutingTarget, Strict, WholeInt, X, doc


class Credentials(Strict):
    """Twilio account credentials (`provider` `twilio`); write-only, kept in the secret store, never answered."""

    model_config = ConfigDict(json_schema_extra={"writeOnly": True})

    account_sid: StrictStr = Field(
        description=(
            "The Twilio Account SID: `AC` and 32 hexadecimal digits (Twilio issues them in lower case; upper case is "
            "accepted too, as in Twilio's own API reference). Any other string is `422 invalid_credentials` with "
            "`field` `credentials.account_sid`."
        ),
        json_schema_extra=doc(pattern="^AC[0-9a-fA-F]{32}$", examples=["AC" + "0123456789abcdef" * 2]),
    )
    auth_token: StrictStr = Field(
        description=(
            "The account's auth token: 1 to 256 printable ASCII characters without spaces (what an HTTP header can "
            "carry; Twilio's are 32 hexadecimal digits). Anything else, such as a space, a control character or a "
            "non-ASCII letter, is `422 invalid_credentials` with `field` `credentials.auth_token`."
        ),
        json_schema_extra=doc(pattern="^[!-~]{1,256}$"),
    )


class CloudCredentials(Strict):
    """Meta WhatsApp Cloud API credentials (`provider` `whatsapp_cloud`); write-only, kept in the secret store, never
    answered."""

    model_config = ConfigDict(json_schema_extra={"writeOnly": True})

    access_token: StrictStr = Field(
        description=(
            "A system user's access token with `whatsapp_business_messaging` and `whatsapp_business_management`: "
            "sent as `Authorization: Bearer <token>`, so 16 to 2048 printable ASCII characters without spaces (else "
            "`422 invalid_credentials`, `field` `credentials.access_token`)."
        ),
        json_schema_extra=doc(pattern="^[!-~]{16,2048}$"),
    )
    app_secret: StrictStr = Field(
        description=(
            "The Meta app's secret, the key of `X-Hub-Signature-256` (HMAC-SHA256 of the raw body) on every webhook: "
            "16 to 128 printable ASCII characters (Meta's are 32 hexadecimal digits; else `422 invalid_credentials`, "
            "`field` `credentials.app_secret`)."
        ),
        json_schema_extra=doc(pattern="^[!-~]{16,128}$"),
    )
    verify_token: StrictStr = Field(
        description=(
            "Any secret string you choose and type into the app's webhook settings with the callback URL: Meta sends "
            "it back as `hub.verify_token` in the verification handshake (`GET /webhooks/whatsapp/{channel_id}`), "
            "which answers `hub.challenge` only when it matches. 1 to 256 printable ASCII characters without spaces "
            "(else `422 invalid_credentials`)."
        ),
        json_schema_extra=doc(pattern="^[!-~]{1,256}$"),
    )


# Which credentials a channel takes depends on its `provider`: the service checks that they are that provider's
# (`422 invalid_credentials` naming each missing field).
CREDENTIALS_DOC: JsonDict = {
    "oneOf": [{"$ref": REF.format(model="Credentials")}, {"$ref": REF.format(model="CloudCredentials")}],
    "description": (
        "`twilio`: `Credentials` (`account_sid`, `auth_token`); `whatsapp_cloud`: `CloudCredentials` (`access_token`, "
        "`app_secret`, `verify_token`). The other provider's set is `422 invalid_credentials`."
    ),
}
AnyCredentials = Annotated[Credentials | CloudCredentials, WithJsonSchema(CREDENTIALS_DOC)]


class ProviderConfig(Strict):
    """What a `whatsapp_cloud` channel needs besides its credentials; not secret, shown in answers. A `twilio`
    channel takes none (`422 invalid_provider_config`)."""

    waba_id: StrictStr = Field(
        description=(
            "The WhatsApp Business Account id, its decimal digits (else `422 invalid_provider_config`, `field` "
            "`provider_config.waba_id`): its message templates are the channel's templates."
        ),
        json_schema_extra=doc(pattern="^[0-9]{1,32}$", examples=["102290129340398"]),
    )
    phone_number_ids: dict[
        StrictStr, Annotated[StrictStr, WithJsonSchema({"type": "string", "pattern": "^[0-9]{1,32}$"})]
    ] = Field(
        description=(
            "Meta's phone number id (decimal digits) of each sender, by the sender's E.164 number: exactly one per "
            "sender (a sender without one, an id for a number that is not a sender, or an id that is not digits, is "
            "`422 invalid_provider_config` naming `provider_config.phone_number_ids.<number>`)."
        ),
        examples=[{"+15550100001": "106540352242922"}],
    )


_MPS: JsonDict = doc(minimum=0.01, maximum=1000)
_EXPIRE: JsonDict = doc(minimum=1, maximum=720)
_DEFAULT_TARGET = (
    "Where a session opened by an inbound message goes (a contact with no open session writes): an extension or a "
    "queue; null: such sessions are unassigned. A malformed one is `422 invalid_routing_target`."
)
_EXPIRE_HOURS = (
    "A session of this channel closes after this many hours without a message: a whole number from 1 to 720 (30 "
    "days; else `422 invalid_session_expire_hours`)."
)
_CLOUD_EXAMPLE: JsonDict = {
    "name": "WhatsApp",
    "type": "whatsapp",
    "provider": "whatsapp_cloud",
    "senders": ["+15550100001"],
    "credentials": {
        "access_token": "EAAG" + "x" * 28,
        "app_secret": "0123456789abcdef" * 2,
        "verify_token": "my-verify-token",
    },
    "provider_config": {"waba_id": "102290129340398", "phone_number_ids": {"+15550100001": "106540352242922"}},
}


class ChannelIn(Strict):
    """POST /v1/channels."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Promotions",
                    "type": "sms",
                    "provider": "twilio",
                    "senders": ["+15005550006"],
                    "credentials": {"account_sid": "AC" + "0123456789abcdef" * 2, "auth_token": "secret"},
                    "mps": 1,
                },
                _CLOUD_EXAMPLE,
            ]
        }
    )

    name: StrictStr = Field(min_length=1, max_length=200)
    type: Literal["sms", "whatsapp"] = Field(
        description=(
            "`sms` (SMS and MMS, provider `twilio`) or `whatsapp` (provider `twilio` or `whatsapp_cloud`). `sms` with "
            "`whatsapp_cloud`, or a kind this deployment does not wire, is `422 unsupported_channel`."
        ),
    )
    provider: Literal["twilio", "whatsapp_cloud"] = Field(
        description=(
            "`twilio` (SMS, MMS and WhatsApp: senders and recipients are plain E.164, the service adds Twilio's "
            "`whatsapp:` prefix) or `whatsapp_cloud` (Meta's WhatsApp Cloud API). A pair this deployment does not "
            "wire is `422 unsupported_channel`."
        ),
    )
    senders: list[E164_STR] = Field(
        min_length=1,
        max_length=100,
        description="E.164 numbers (else `422 invalid_phone_number`); duplicates are dropped.",
    )
    credentials: AnyCredentials
    provider_config: ProviderConfig | None = Field(
        default=None,
        description="Required for `whatsapp_cloud` (`422 invalid_provider_config` without it); none for `twilio`.",
    )
    mps: StrictInt | StrictFloat | None = Field(
        default=None,
        description=(
            "Messages per second per sender, from 0.01 (one message every 100 s) to 1000 (else `422 invalid_mps`). "
            "Absent or null: the provider's default, 1 for `twilio` SMS (a long code's rate), 80 for WhatsApp "
            "(Meta's default throughput per business number)."
        ),
        json_schema_extra={**_MPS, **X},
    )
    default_routing_target: RoutingTarget | None = Field(default=None, description=_DEFAULT_TARGET)
    session_expire_hours: WholeInt | None = Field(
        default=None, description=_EXPIRE_HOURS + " Absent or null: 24.", json_schema_extra=_EXPIRE
    )


class ChannelPatch(Strict):
    """PATCH /v1/channels/{channel_id}: any of these; absent or null leaves a field as it is."""

    name: StrictStr | None = Field(default=None, min_length=1, max_length=200)
    senders: list[E164_STR] | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description=(
            "Replaces the senders; E.164 numbers (else `422 invalid_phone_number`). On `whatsapp_cloud` each must "
            "have its id in `provider_config.phone_number_ids` (the stored one, or the one given with it)."
        ),
    )
    credentials: AnyCredentials | None = None
    provider_config: ProviderConfig | None = Field(
        default=None,
        description=(
            "Replaces the channel's `provider_config` whole (`whatsapp_cloud` only); checked against the senders as "
            "they are after this change (`422 invalid_provider_config`)."
        ),
    )
    mps: StrictInt | StrictFloat | None = Field(
        default=None, description="From 0.01 to 1000 (else `422 invalid_mps`).", json_schema_extra=_MPS
    )
    default_routing_target: RoutingTarget | None = Field(
        default=None, description=_DEFAULT_TARGET + " Here null removes the channel's target; absent keeps it."
    )
    session_expire_hours: WholeInt | None = Field(
        default=None, description=_EXPIRE_HOURS + " Applies to messages from now on.", json_schema_extra=_EXPIRE
    )


MODELS: tuple[type[BaseModel], ...] = (Credentials, CloudCredentials, ProviderConfig, ChannelIn, ChannelPatch)
