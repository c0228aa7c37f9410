"""The opt-out list's rules: which replies are opt-out or opt-in keywords, and an entry of the list. No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# The contract's keywords, matched on the whole message: any case, surrounding white space ignored, nothing else.
OPT_OUT_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN_KEYWORDS = frozenset({"START", "UNSTOP", "YES"})

SOURCE_KEYWORD = "keyword"
SOURCE_PROVIDER = "provider"
SOURCE_API = "api"
SOURCES = (SOURCE_KEYWORD, SOURCE_PROVIDER, SOURCE_API)

Keyword = Literal["out", "in"]


def keyword_of(body: str) -> Keyword | None:
    """Whether a message is exactly an opt-out (`out`) or opt-in (`in`) keyword; None for any other message.

    Surrounding white space of any kind (Unicode spaces, tabs, new lines) is ignored; the word is compared
    case-insensitively, in ASCII only (a look-alike letter, such as a Cyrillic С, spells no keyword).
    Punctuation is part of the message: "STOP!" or "stop." is not a keyword, nor is "stop it".
    """
    word = body.strip()
    if not word.isascii() or len(word) > 16:
        return None
    word = word.upper()
    if word in OPT_OUT_KEYWORDS:
        return "out"
    if word in OPT_IN_KEYWORDS:
        return "in"
    return None


@dataclass(frozen=True)
class OptOut:
    """A number's entry of a tenant's opt-out list (kept with `opted_out` false once it opted in again)."""

    tenant_id: str
    number: str
    opted_out: bool
    source: str
    at: str
    channel_id: str | None = None
    # When what made this change happened (epoch seconds: a message's first arrival, a provider's report time, the
    # API call): an older one, replayed late, never undoes a newer change.
    changed_at: float | None = None


@dataclass(frozen=True)
class OptOutPage:
    """One page of the numbers opted out now."""

    items: list[OptOut]
    next_cursor: str | None
