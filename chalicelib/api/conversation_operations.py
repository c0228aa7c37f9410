"""The documented operations of sessions and the opt-out list (operations.py adds them to the route table)."""

from __future__ import annotations

from chalicelib.api import optout_schemas as optout
from chalicelib.api import session_schemas as ses
from chalicelib.api.operation import PAGE, Operation, query_param

_CLOSED = ("`session_closed`: the session is closed already (by the API, or it expired).", "session_closed")

SESSION_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "GET", "/v1/sessions", "listSessions", "sessions",
        "The tenant's sessions (External Chat Logs), oldest first, filtered by contact, status and campaign.",
        {200: ("A page of sessions.", ses.SessionList)},
        {400: "BadRequest"},
        description=(
            "A session is open until `POST .../close`, or until its channel's `session_expire_hours` pass without a "
            "message: it answers `closed` from then on, with `closed_at` the time it expired."
        ),
        parameters=(
            query_param(
                "contact",
                "Only sessions with this contact: E.164, its `+` written `%2B` (a `+` the query string turned into a "
                "space is read as one). Another value is `400 invalid_request`.",
                {"type": "string", "format": "e164", "maxLength": 32},
            ),
            query_param(
                "status",
                "Only `open` or only `closed` sessions (another value: `400 invalid_request`).",
                {"type": "string", "enum": ["open", "closed"]},
            ),
            query_param(
                "campaign_id",
                "Only sessions with a message of this campaign in their log (the one that opened the session, or a "
                "later one that reused it). 1 to 200 characters, else `400 invalid_request`.",
                {"type": "string", "minLength": 1, "maxLength": 200},
            ),
            *PAGE,
        ),
    ),
    Operation(
        "GET", "/v1/sessions/{session_id}", "getSession", "sessions", "One session.",
        {200: ("The session.", ses.Session)},
    ),
    Operation(
        "GET", "/v1/sessions/{session_id}/messages", "listSessionMessages", "sessions",
        "A session's chat log, oldest first: the campaign messages (text, or template and values), replies and "
        "other inbound messages, each campaign message with its latest status. Messages of `direct` campaigns are "
        "never here.",
        {200: ("A page of the chat log.", ses.SessionMessageList)},
        {400: "BadRequest"},
        parameters=PAGE,
    ),
    Operation(
        "POST", "/v1/sessions/{session_id}/close", "closeSession", "sessions",
        "Close an open session: the contact's next message (or session campaign) opens a new one.",
        {200: ("The session, closed.", ses.Session)},
        {409: _CLOSED, 415: "UnsupportedMediaType"},
    ),
)  # fmt: skip


_INVALID_NUMBER = (
    "`invalid_phone_number`: the path's number is not a valid E.164 number (`+` percent-encoded as `%2B`, or as it "
    "is); `details` give `{field: number, reason}` (and the `value` when it is short plain text). Nothing changes.",
    "invalid_phone_number",
)
_SKIPPED = (
    "Campaigns skip a number on the list: its recipient is `skipped` with `error.code` `opted_out`, counted in "
    "`result.skipped`, never handed to the provider and never retried. The list is read when each chunk of a "
    "campaign is sent, so a number opted out while a long campaign sends is skipped from its next chunk on."
)

OPTOUT_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "GET", "/v1/opt-outs", "listOptOuts", "opt-outs",
        "The numbers on the tenant's opt-out list now, by number.",
        {200: ("A page of opted-out numbers.", optout.OptOutList)}, {400: "BadRequest"},
        description=(
            "A reply that is exactly one of the keywords STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE or "
            "OPTOUT (any case; white space around it, Unicode spaces included, is ignored; anything else in the "
            "message, punctuation included, makes it no keyword: `STOP!` and `stop it` are not), on any channel, "
            "puts its sender on the list (`keyword`); START, UNSTOP or YES alone takes it off. So do a send refused "
            "because the recipient opted out at the provider (Twilio 21610, Meta 131050) and Meta's marketing "
            "`user_preferences` stop (`provider`; a resume takes it off). A number taken off is not listed. "
            + _SKIPPED
        ),
        parameters=PAGE,
    ),
    Operation(
        "PUT", "/v1/opt-outs/{number}", "putOptOut", "opt-outs",
        "Put a number on the opt-out list (source `api`).",
        {200: ("The number's entry: the one written, or the one that stands (source and time kept).", optout.OptOut)},
        {415: "UnsupportedMediaType", 422: _INVALID_NUMBER, 503: "TryAgain"},
        description="Idempotent: a number on the list already stays as it is (no second event). No body is needed. "
        + _SKIPPED,
    ),
    Operation(
        "DELETE", "/v1/opt-outs/{number}", "deleteOptOut", "opt-outs",
        "Take a number off the opt-out list (source `api`).",
        {204: ("The number is not on the list (now, or already: a number never on it also answers `204`).", None)},
        {422: _INVALID_NUMBER},
        description="Idempotent: later campaigns send to the number again; what was skipped stays skipped.",
    ),
)  # fmt: skip
