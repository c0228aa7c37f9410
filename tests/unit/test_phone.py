"""Unit tests for chalicelib.domain.phone."""

from __future__ import annotations

import json

import pytest

from chalicelib.domain.phone import (
    E164_RE,
    REASON_NOT_E164,
    REASON_NOT_STRING,
    REASON_NOT_VALID,
    NumberCheck,
    check_numbers,
    invalid_reason,
    is_valid_e164,
    mask,
)

VALID_NUMBERS = [
    "+41415084545",  # Switzerland, landline
    "+14155552671",  # USA
    "+447911123456",  # UK mobile
]

TWILIO_TEST_NUMBERS = [f"+1500555000{d}" for d in range(1, 10)]


@pytest.mark.parametrize("number", VALID_NUMBERS)
def test_valid_numbers_from_several_countries(number):
    # GIVEN a well-formed, real-world-valid E.164 number
    # WHEN it is checked
    # THEN it is valid and has no reason
    assert is_valid_e164(number) is True
    assert invalid_reason(number) is None


@pytest.mark.parametrize("number", TWILIO_TEST_NUMBERS)
def test_twilio_magic_test_numbers_are_valid(number):
    # GIVEN one of Twilio's magic test numbers (+15005550001..+15005550009, incl. +15005550006)
    # WHEN it is checked
    # THEN it is accepted, so test campaigns against Twilio's sandbox are not rejected up front
    assert is_valid_e164(number) is True


@pytest.mark.parametrize(
    "value",
    [
        "41415084545",  # no plus
        "+041415084545",  # leading zero after plus
        "+0",  # leading zero, too short
        "+1234567890123456",  # 16 digits: one over the E.164 maximum
        "+4141508454a",  # letter
        "+41ABCDEFGHI",  # letters
        "+41 41 508 45 45",  # spaces
        " +41415084545",  # leading whitespace
        "+41415084545\n",  # trailing newline ($ would accept this; fullmatch must not)
        "+41-41-508-45-45",  # dashes
        "+41(41)5084545",  # parentheses
        "+\u0664\u0661\u0664\u0661\u0665\u0660\u0668\u0664\u0665\u0664\u0665",  # Arabic-Indic "+٤١٤١٥٠٨٤٥٤٥"
        "+\uff14\uff11\uff14\uff11\uff15\uff10\uff18\uff14\uff15\uff14\uff15",  # full-width "+４１４１５０８４５４５"
        "\uff0b41415084545",  # full-width plus sign
        "+",  # plus only
        "+4",  # one digit: below the 2-digit minimum
        "",  # empty
    ],
)
def test_malformed_strings_are_not_e164(value):
    # GIVEN a string that is not strict E.164 (ASCII digits only, + then 2..15 digits, no leading 0)
    # WHEN it is checked
    # THEN it is invalid with the format reason
    assert is_valid_e164(value) is False
    assert invalid_reason(value) == REASON_NOT_E164


def test_regex_rejects_non_ascii_digits_that_backslash_d_would_accept():
    # GIVEN Arabic-Indic digits, which Python's \d matches
    arabic = "+\u0664\u0661\u0664\u0661\u0665\u0660\u0668\u0664\u0665\u0664\u0665"
    # WHEN matched against E164_RE
    # THEN there is no match (guards against someone "simplifying" [0-9] to \d)
    assert E164_RE.fullmatch(arabic) is None
    assert E164_RE.fullmatch("+41415084545") is not None


def test_fifteen_digits_is_the_format_maximum():
    # GIVEN a 15-digit and a 16-digit candidate
    # WHEN matched against the format regex alone
    # THEN 15 digits is well-formed and 16 is not
    assert E164_RE.fullmatch("+" + "1" * 15) is not None
    assert E164_RE.fullmatch("+" + "1" * 16) is None


@pytest.mark.parametrize("value", [None, 41415084545, 4.1415084545e10, True, ["+41415084545"], b"+41415084545", {}])
def test_non_strings_are_rejected(value):
    # GIVEN a value that is not a str (even if it looks like a number)
    # WHEN it is checked
    # THEN it is invalid with the "not a string" reason and nothing raises
    assert is_valid_e164(value) is False
    assert invalid_reason(value) == REASON_NOT_STRING


@pytest.mark.parametrize(
    "value",
    [
        "+4100000000",  # Swiss prefix, impossible number
        "+1234",  # well-formed but far too short for NANP
        "+15555555555",  # NANP with invalid area code 555
        "+999123456789",  # unassigned country code
        "+447911",  # UK mobile prefix, truncated
    ],
)
def test_well_formed_but_invalid_for_country(value):
    # GIVEN a string matching the E.164 shape that is not a real number for its country
    # WHEN it is checked
    # THEN it passes the regex but is rejected as not valid for its country
    assert E164_RE.fullmatch(value) is not None
    assert is_valid_e164(value) is False
    assert invalid_reason(value) == REASON_NOT_VALID


def test_check_numbers_keeps_first_occurrence_order_and_counts_duplicates():
    # GIVEN a list with valid numbers repeated and interleaved with invalid entries
    values = [
        "+447911123456",
        "+41415084545",
        "nope",
        "+447911123456",
        None,
        "+14155552671",
        "+41415084545",
        "+41415084545",
    ]
    # WHEN the batch is checked
    result = check_numbers(values)
    # THEN valid numbers are unique, in first-seen order, and the 3 repeats are counted
    assert result == NumberCheck(
        valid=["+447911123456", "+41415084545", "+14155552671"],
        invalid=[
            {"index": 2, "value": "nope", "reason": REASON_NOT_E164},
            {"index": 4, "value": None, "reason": REASON_NOT_STRING},
        ],
        duplicates=3,
    )


def test_check_numbers_reports_every_invalid_entry_with_its_index_and_reason():
    # GIVEN invalid entries of each kind, including repeated invalid ones
    values = ["+4100000000", 41415084545, "+41 41", "+4100000000", ["x"], object()]
    # WHEN the batch is checked
    result = check_numbers(values)
    # THEN nothing is valid, nothing counts as a duplicate, and each invalid entry is listed at its index
    assert result.valid == []
    assert result.duplicates == 0
    assert [entry["index"] for entry in result.invalid] == [0, 1, 2, 3, 4, 5]
    assert [entry["reason"] for entry in result.invalid] == [
        REASON_NOT_VALID,
        REASON_NOT_STRING,
        REASON_NOT_E164,
        REASON_NOT_VALID,
        REASON_NOT_STRING,
        REASON_NOT_STRING,
    ]
    # AND JSON scalars are kept as given while other values are stringified
    assert result.invalid[1]["value"] == 41415084545
    assert result.invalid[4]["value"] == "['x']"
    assert isinstance(result.invalid[5]["value"], str)
    # AND the whole report is JSON-serialisable
    json.dumps(result.invalid)


def test_check_numbers_accepts_any_iterable_and_empty_input():
    # GIVEN a generator and an empty list
    # WHEN each is checked
    from_generator = check_numbers(n for n in ["+41415084545", "+41415084545"])
    empty = check_numbers([])
    # THEN the generator is consumed once with dedup applied, and empty input yields an empty result
    assert from_generator == NumberCheck(valid=["+41415084545"], invalid=[], duplicates=1)
    assert empty == NumberCheck(valid=[], invalid=[], duplicates=0)


def test_number_check_is_frozen():
    # GIVEN a NumberCheck
    result = check_numbers(["+41415084545"])
    # WHEN a field is reassigned
    # THEN it raises (results are immutable values)
    with pytest.raises(AttributeError):
        result.duplicates = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("+41415084545", "+*******4545"),
        ("+447911123456", "+********3456"),
        ("+14155552671", "+*******2671"),
        ("41415084545", "*******4545"),  # no plus: nothing special kept at the front
        ("+12345", "+*2345"),  # 6 chars: + and last 4
        ("+1234", "***34"),  # 5 chars: all but the last 2
        ("1234", "**34"),
        ("12", "12"),
        ("", ""),
    ],
)
def test_mask(number, expected):
    # GIVEN a number (or short string)
    # WHEN masked for logging
    # THEN only the leading + and the tail are revealed, and the length is preserved
    assert mask(number) == expected
    assert len(mask(number)) == len(number)


def test_the_contract_s_whatsapp_sandbox_and_test_numbers_are_valid() -> None:
    # GIVEN the sandbox sender and the WhatsApp test numbers API.md names (+1 555 01x xxxx, Meta-style test numbers)
    # THEN they are accepted, while the rest of area code 555 stays invalid
    for number in ("+15550100001", "+15550199001", "+15550199002", "+15550199003"):
        assert invalid_reason(number) is None
    assert invalid_reason("+15555555555") is not None
    assert invalid_reason("+15550200001") is not None
