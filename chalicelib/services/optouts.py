"""The tenant's opt-out list: keywords, the providers' opt-out refusals and preferences, and the API.

Every change is a conditional write on the number's entry (adapters/dynamo/optouts.py): a repeat changes nothing,
so a STOP sent twice, a provider's replayed webhook or the same PUT again make no second event.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote

from chalicelib.domain.channels import Channel
from chalicelib.domain.errors import ConcurrencyError, OptOutUnchangedError, UnprocessableError
from chalicelib.domain.events import InboundMessage
from chalicelib.domain.model import utc_iso
from chalicelib.domain.optouts import SOURCE_API, SOURCE_KEYWORD, SOURCE_PROVIDER, OptOut, keyword_of
from chalicelib.domain.phone import invalid_reason, is_valid_e164, mask
from chalicelib.services.deps import Deps
from chalicelib.services.logs import log
from chalicelib.services.providers import rules_of

MAX_NUMBER_CHARS = 64  # a path segment longer than any E.164 number is refused before it is looked at


def opted_out(deps: Deps, tenant_id: str, numbers: Sequence[str]) -> set[str]:
    """Which of these numbers are on the tenant's opt-out list now (the sender asks at each chunk's start)."""
    if not numbers:
        return set()
    return deps.optouts.opted_out(tenant_id, numbers)


def change(
    deps: Deps,
    tenant_id: str,
    number: str,
    stop: bool,
    source: str,
    channel_id: str | None = None,
    at: float | None = None,
) -> OptOut | None:
    """Put a number on the list (`stop`) or take it off as of `at` (epoch seconds, default now); the entry as
    written, or None when it was so already (or a newer change stands)."""
    when = deps.clock.now() if at is None else at
    entry = OptOut(tenant_id, number, stop, source, utc_iso(deps.clock.utcnow()) or "", channel_id, when)
    try:
        if stop:
            deps.optouts.opt_out(entry)
        else:
            deps.optouts.opt_in(entry)
    except OptOutUnchangedError:
        return None
    log.info(
        "opted out" if stop else "opted in",
        extra={"tenant_id": tenant_id, "to": mask(number), "source": source, "channel_id": channel_id},
    )
    return entry


def provider_refused(deps: Deps, tenant_id: str, channel_id: str, number: str, code: str | None) -> None:
    """A send refused (at once, or by a later status report) with `code`: when the provider's code means the
    recipient opted out (Twilio 21610, Meta 131050), the number goes on the list (source `provider`)."""
    if not code:
        return
    channel = deps.channels.get(tenant_id, channel_id)
    if channel is None or not rules_of(deps, channel).error(str(code)).opted_out:
        return
    change(deps, tenant_id, number, True, SOURCE_PROVIDER, channel_id)


def on_inbound(
    deps: Deps, tenant_id: str, channel: Channel, message: InboundMessage, first_seen: float | None = None
) -> None:
    """An opt-out keyword puts the sender of the message on the list, an opt-in keyword takes it off, as of when the
    message first came (a provider's retry of an old STOP does not undo a later START)."""
    word = keyword_of(message.body)
    if word is None or not is_valid_e164(message.from_):
        return
    change(deps, tenant_id, message.from_, word == "out", SOURCE_KEYWORD, channel.channel_id, first_seen)


def preference(deps: Deps, tenant_id: str, channel_id: str, number: str, stop: bool, at: float | None = None) -> None:
    """Meta's `user_preferences` webhook: the contact stopped (`stop`) or resumed marketing messages; a stop puts the
    number on the list (source `provider`), a resume takes it off, as of when Meta says it happened (`at`: a replayed
    old stop does not undo a later resume)."""
    if is_valid_e164(number):
        change(deps, tenant_id, number, stop, SOURCE_PROVIDER, channel_id, at)


# ---------------------------------------------------------------------------------------------- the API
def path_number(raw: str) -> str:
    """The number a path names (`%2B41...` or `+41...`); 422 invalid_phone_number when it is not E.164."""
    number = unquote(raw) if "%" in raw else raw
    reason = invalid_reason(number) if len(number) <= MAX_NUMBER_CHARS else "not in E.164 format"
    if reason is not None:
        detail = {"field": "number", "reason": reason}
        if number.isascii() and number.isprintable() and len(number) <= MAX_NUMBER_CHARS:
            detail["value"] = number  # echoed only when it is plain and short
        raise UnprocessableError(
            "the number is not a valid E.164 phone number", details=[detail], code="invalid_phone_number"
        )
    return number


def entry_view(entry: OptOut) -> dict[str, Any]:
    """An entry as the API answers it."""
    return {"number": entry.number, "source": entry.source, "channel_id": entry.channel_id, "at": entry.at}


def list_optouts(deps: Deps, tenant_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    """A page of the numbers opted out now."""
    page = deps.optouts.page(tenant_id, limit, cursor)
    return {"items": [entry_view(e) for e in page.items], "next_cursor": page.next_cursor}


def put_optout(deps: Deps, tenant_id: str, raw_number: str) -> dict[str, Any]:
    """PUT /v1/opt-outs/{number}: the number is on the list (source `api`); an entry standing is answered as it is."""
    number = path_number(raw_number)
    for _ in range(3):
        written = change(deps, tenant_id, number, True, SOURCE_API)
        if written is not None:
            return entry_view(written)
        standing = deps.optouts.get(tenant_id, number)
        if standing is not None and standing.opted_out:
            return entry_view(standing)
        # Taken off again between the write and the read (a START, a DELETE): put it on once more.
    raise ConcurrencyError("the number's entry kept changing")


def delete_optout(deps: Deps, tenant_id: str, raw_number: str) -> None:
    """DELETE /v1/opt-outs/{number}: the number is off the list (source `api`); one not on it is left as it is."""
    change(deps, tenant_id, path_number(raw_number), False, SOURCE_API)
