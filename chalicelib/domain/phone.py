"""Phone-number validation and masking (pure, no I/O)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers

# `[0-9]`, not `\d`: in Python `\d` also matches other scripts' digits (Arabic-Indic, full-width, ...).
E164_RE = re.compile(r"\+[1-9][0-9]{1,14}")

REASON_NOT_STRING = "not a string"
REASON_NOT_E164 = "not in E.164 format (+ then country code and number, digits only)"
REASON_NOT_VALID = "not a valid phone number for its country"

# Note on Twilio's magic test numbers (+15005550001..+15005550009, e.g. +15005550006): phonenumbers
# (checked with 9.0.43) accepts them as valid NANP numbers, so no special case is needed here.
# The contract's WhatsApp sandbox sender and test numbers (+15550100001, +15550199001..3) are +1 555 01x xxxx: Meta's
# test business numbers are +1 555 numbers, and phonenumbers calls area code 555 invalid. That one block is accepted.
WHATSAPP_TEST_RE = re.compile(r"\+155501[0-9]{5}")


def invalid_reason(value: object) -> str | None:
    """Return None if `value` is a valid E.164 number, else a short human-readable reason."""
    if not isinstance(value, str):
        return REASON_NOT_STRING
    if E164_RE.fullmatch(value) is None:
        return REASON_NOT_E164
    if WHATSAPP_TEST_RE.fullmatch(value):
        return None
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return REASON_NOT_VALID
    if not phonenumbers.is_valid_number(parsed):
        return REASON_NOT_VALID
    return None


def is_valid_e164(value: object) -> bool:
    """Return True only for a str in strict E.164 form that is a valid number for its country."""
    return invalid_reason(value) is None


@dataclass(frozen=True)
class NumberCheck:
    """Outcome of checking a batch of numbers: unique valid ones, invalid ones, duplicates dropped."""

    valid: list[str]
    invalid: list[dict]
    duplicates: int


def _json_safe(value: object) -> object:
    """Return `value` if it is a JSON scalar, else its str()."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def check_numbers(values: Iterable[object]) -> NumberCheck:
    """Split `values` into unique valid numbers (first-seen order), invalid entries and a duplicate count."""
    valid: list[str] = []
    seen: set[str] = set()
    invalid: list[dict] = []
    duplicates = 0
    for index, value in enumerate(values):
        reason = invalid_reason(value)
        if reason is not None:
            invalid.append({"index": index, "value": _json_safe(value), "reason": reason})
            continue
        assert isinstance(value, str)
        if value in seen:
            duplicates += 1
            continue
        seen.add(value)
        valid.append(value)
    return NumberCheck(valid=valid, invalid=invalid, duplicates=duplicates)


def mask(number: str) -> str:
    """Mask a number for logs: keep a leading '+' and the last 4 chars (last 2 if 5 chars or fewer)."""
    if len(number) <= 5:
        return "*" * max(len(number) - 2, 0) + number[-2:]
    if number.startswith("+"):
        return "+" + "*" * (len(number) - 5) + number[-4:]
    return "*" * (len(number) - 4) + number[-4:]
