"""Answers of the opt-out list, as pydantic models; each is its OpenAPI component (chalicelib/api/openapi.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from chalicelib.api.responses import TIME, Answer
from chalicelib.api.schemas import E164


class OptOut(Answer):
    """A number on the tenant's opt-out list: campaigns skip it (`skipped`, `error.code` `opted_out`)."""

    number: str = Field(json_schema_extra=E164)
    source: Literal["keyword", "provider", "api"] = Field(
        description=(
            "What put it on the list: `keyword` (a reply that is exactly STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, "
            "QUIT, REVOKE or OPTOUT), `provider` (a send refused because the recipient opted out at the provider: "
            "Twilio 21610, Meta 131050; or Meta's marketing-stop `user_preferences`), `api` (`PUT`)."
        )
    )
    channel_id: str | None = Field(description="The channel the keyword or refusal came through; null for `api`.")
    at: TIME = Field(description="When it was put on the list.")


class OptOutList(Answer):
    """A page of the numbers opted out now, by number."""

    items: list[OptOut]
    next_cursor: str | None


MODELS: tuple[type[BaseModel], ...] = (OptOut, OptOutList)
