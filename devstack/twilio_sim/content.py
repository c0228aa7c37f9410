"""Twilio's Content API as the simulator plays it: content templates per account with their WhatsApp approval, the
``ContentAndApprovals`` list the SDK pages through, and how a ``ContentSid`` send is checked and rendered.

No I/O and no lock: the model (model.py) holds the contents and calls these under its lock.

What a send with a ``ContentSid`` meets here, as at Twilio:
- a sid that is not one of the account's contents: ``400`` 21655 "The ContentSid is Invalid";
- ``ContentVariables`` that are not a JSON object of strings: ``400`` 21656 "The ContentVariables Parameter is
  invalid";
- a variable the template does not have, or a placeholder with neither a value nor a default in the template's
  ``variables``: ``400`` 63028 "Number of parameters provided does not match the expected number of parameters";
- on WhatsApp, a template that is not approved: accepted, then ``failed`` in its status callback, as Meta refuses it
  after Twilio queued it: paused 63041, disabled 63042 (the codes Twilio's error dictionary gives these), any other
  state (pending, received, rejected, unsubmitted) 63016: Twilio sends such content as a free-form message, which
  outside the 24 h window fails with "outside the allowed window, use a Message Template".
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from devstack.twilio_sim.rules import TwilioApiError, first, iso8601, new_sid

CONTENT_BASE = "https://content.twilio.com"
LIST_PATH = "/v1/ContentAndApprovals"
APPROVAL_STATUSES = ("approved", "pending", "received", "rejected", "paused", "disabled", "unsubmitted")
CATEGORIES = ("UTILITY", "MARKETING", "AUTHENTICATION")
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")

UNKNOWN_CONTENT = 21655
INVALID_VARIABLES = 21656
VARIABLES_MISMATCH = 63028
OUTSIDE_WINDOW = 63016
# A WhatsApp send of a template in this approval state fails with this code (any other unapproved state: 63016).
NOT_APPROVED_CODES = {"paused": 63041, "disabled": 63042}


@dataclass
class Content:
    """One content template of an account and its WhatsApp approval."""

    sid: str
    account_sid: str
    friendly_name: str
    language: str
    types: dict[str, Any]
    status: str = "approved"
    category: str = "UTILITY"
    variables: dict[str, str] = field(default_factory=dict)  # defaults, as the template was created with
    rejection_reason: str = ""
    created_at: float = 0.0

    def placeholders(self) -> list[str]:
        """The template's placeholders, in the order they first appear."""
        found: list[str] = []
        for text in _texts(self.types):
            for name in PLACEHOLDER.findall(text):
                if name not in found:
                    found.append(name)
        return found

    def resource(self) -> dict[str, Any]:
        """The ContentAndApprovals item, shaped like Twilio's."""
        content_type = next(iter(self.types), "twilio/text")
        return {
            "date_created": iso8601(self.created_at),
            "date_updated": iso8601(self.created_at),
            "sid": self.sid,
            "account_sid": self.account_sid,
            "friendly_name": self.friendly_name,
            "language": self.language,
            "variables": dict(self.variables),
            "types": json.loads(json.dumps(self.types)),
            "approval_requests": {
                "name": self.friendly_name,
                "category": self.category,
                "content_type": content_type,
                "status": self.status,
                "rejection_reason": self.rejection_reason,
                "allow_category_change": True,
                "type": "whatsapp",
                "flows": None,
            },
        }


def new_content(account_sid: str, spec: Mapping[str, Any], now: float) -> Content:
    """A content template from what ``POST /sim/contents`` was given; ValueError for what Twilio would refuse."""
    name = spec.get("friendly_name")
    language = spec.get("language", "en")
    types = spec.get("types")
    status = spec.get("status", "approved")
    category = str(spec.get("category", "UTILITY")).upper()
    variables = spec.get("variables") or {}
    if not isinstance(name, str) or not name:
        raise ValueError("'friendly_name' must be a non-empty string")
    if not isinstance(language, str) or not language:
        raise ValueError("'language' must be a non-empty string")
    if not isinstance(types, dict) or not types or not all(str(k).startswith("twilio/") for k in types):
        raise ValueError("'types' must map content types (twilio/text, twilio/media, ...) to their definitions")
    if status not in APPROVAL_STATUSES:
        raise ValueError(f"'status' must be one of {', '.join(APPROVAL_STATUSES)}")
    if category not in CATEGORIES:
        raise ValueError(f"'category' must be one of {', '.join(CATEGORIES)}")
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        raise ValueError("'variables' must map placeholder names to default values (strings)")
    sid = spec.get("sid") or new_sid("HX")
    if not isinstance(sid, str) or not re.fullmatch(r"HX[0-9a-fA-F]{32}", sid):
        raise ValueError("'sid' must be HX followed by 32 hexadecimal digits")
    reason = spec.get("rejection_reason", "")
    return Content(sid, account_sid, name, language, types, status, category, dict(variables), str(reason), now)


def content_values(content: Content, raw: str | None) -> dict[str, str]:
    """The values a send fills the template with (its defaults under the given ContentVariables)."""
    given: Any = {}
    if raw:
        try:
            given = json.loads(raw)
        except ValueError:
            given = None
    if not isinstance(given, dict) or not all(isinstance(v, str | int | float) for v in given.values()):
        raise TwilioApiError(400, INVALID_VARIABLES, "The ContentVariables Parameter is invalid")
    wanted = content.placeholders()
    unknown = sorted(set(given) - set(wanted))
    values = {**content.variables, **{str(k): str(v) for k, v in given.items()}}
    missing = [name for name in wanted if not values.get(name)]
    if unknown or missing:
        raise TwilioApiError(
            400,
            VARIABLES_MISMATCH,
            "Number of parameters provided does not match the expected number of parameters",
        )
    return values


def render(content: Content, values: Mapping[str, str]) -> tuple[str, list[str]]:
    """The message body and media URLs a send of the template becomes."""

    def fill(text: str) -> str:
        return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)

    body, media = "", list[str]()
    for kind in ("twilio/quick-reply", "twilio/call-to-action", "twilio/media", "twilio/card", "twilio/text"):
        spec = content.types.get(kind)
        if not isinstance(spec, dict):
            continue
        text = spec.get("body") if kind != "twilio/card" else spec.get("title")
        if not body and isinstance(text, str):
            body = fill(text)
        if not media and isinstance(spec.get("media"), list):
            media = [fill(str(u)) for u in spec["media"]]
    return body, media


def list_page(contents: list[Content], query: Mapping[str, list[str]]) -> dict[str, Any]:
    """One page of the ``ContentAndApprovals`` list: ``PageSize`` (1-500, default 50), ``Page``, ``PageToken``."""
    try:
        page_size = max(1, min(500, int(first(query, "PageSize") or 50)))
        page = max(0, int(first(query, "Page") or 0))
    except ValueError:
        raise TwilioApiError(400, 20001, "PageSize and Page must be integers") from None
    rows = sorted(contents, key=lambda c: (c.created_at, c.sid))
    start = page * page_size
    token = first(query, "PageToken") or ""
    if token.startswith("PA"):
        after = next((pos for pos, c in enumerate(rows) if c.sid == token[2:]), None)
        if after is not None:
            start = after + 1
    found = rows[start : start + page_size]
    more = start + page_size < len(rows)

    def url(page_no: int, page_token: str | None = None) -> str:
        params = [("PageSize", str(page_size)), ("Page", str(page_no))]
        if page_token:
            params.append(("PageToken", page_token))
        return f"{CONTENT_BASE}{LIST_PATH}?{urlencode(params)}"

    return {
        "contents": [c.resource() for c in found],
        "meta": {
            "page": page,
            "page_size": page_size,
            "first_page_url": url(0),
            "previous_page_url": url(page - 1) if page > 0 else None,
            "url": url(page, token or None),
            "next_page_url": url(page + 1, f"PA{found[-1].sid}") if more and found else None,
            "key": "contents",
        },
    }


def _texts(value: Any) -> list[str]:
    """Every string in a content definition (bodies, titles, media URLs, button ids), depth first."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return []
