"""The documented operations of sessions and the opt-out list (operations.py adds them to the route table)."""

from __future__ import annotations

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
OPTOUT_OPERATIONS: tuple[Operation, ...] = ()
