"""The tenant's own request and answer models (`GET|PATCH /v1/tenant`), each its OpenAPI component."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictStr, WithJsonSchema

from chalicelib.api.schemas import Strict, non_null
from chalicelib.domain.event_urls import MAX_LENGTH

_EVENT_URL = WithJsonSchema(
    {
        "anyOf": [
            {
                "type": "string",
                "format": "uri",
                "maxLength": MAX_LENGTH,
                "pattern": "^(https://[^/?#@]+|http://127\\.0\\.0\\.1(:[0-9]+)?([/?].*)?)$|^https://[^/?#@]+[/?].*$",
            },
            {"type": "null"},
        ]
    }
)


class TenantPatch(Strict):
    """Where the tenant's events go: an https URL (plain http only for 127.0.0.1 on the local stack), or null for
    nowhere. Not a URL EventBridge can call (user info, a fragment, no DNS name, over 2,048 characters):
    `422 invalid_event_url`."""

    event_url: Annotated[StrictStr | None, _EVENT_URL] = Field(
        description="The URL every event of the tenant is POSTed to, signed; null stops the deliveries."
    )


class Answer(BaseModel):
    """An answer: exactly these fields."""

    model_config = ConfigDict(extra="forbid")


class TenantAnswer(Answer):
    """The tenant (one PBX) and where its events go."""

    id: str
    name: str
    event_url: Annotated[str | None, WithJsonSchema({"anyOf": [{"type": "string", "format": "uri"}, {"type": "null"}]})]
    campaign_count: int = Field(ge=0, description="Campaigns the tenant holds (at most 1,000).")
    created_at: Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
    event_secret: str | None = Field(
        default=None,
        description=(
            "Only in the answer to the first PATCH that sets an event_url, and never again: the secret of the "
            "`X-Msgcampaigns-Signature: sha256=<hex HMAC-SHA256 of the body>` header on every event delivered."
        ),
        json_schema_extra=non_null,
    )


REQUEST_MODELS: tuple[type[BaseModel], ...] = (TenantPatch,)
ANSWER_MODELS: tuple[type[BaseModel], ...] = (TenantAnswer,)
