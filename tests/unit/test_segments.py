"""Unit tests for chalicelib.domain.segments."""

from __future__ import annotations

import pytest

from chalicelib.domain.segments import (
    GSM7_BASIC_CHARS,
    GSM7_EXTENSION_CHARS,
    SegmentInfo,
    analyze,
)

# The GSM 03.38 basic table written out independently of the implementation (by code point),
# so a typo in either place makes the table tests fail.
EXPECTED_BASIC_CODEPOINTS = (
    [0x40, 0xA3, 0x24, 0xA5, 0xE8, 0xE9, 0xF9, 0xEC, 0xF2, 0xC7, 0x0A, 0xD8, 0xF8, 0x0D, 0xC5, 0xE5]
    + [0x394, 0x5F, 0x3A6, 0x393, 0x39B, 0x3A9, 0x3A0, 0x3A8, 0x3A3, 0x398, 0x39E, 0xC6, 0xE6, 0xDF, 0xC9]
    + [0x20, 0x21, 0x22, 0x23, 0xA4]
    + list(range(0x25, 0x40))
    + [0xA1]
    + list(range(0x41, 0x5B))
    + [0xC4, 0xD6, 0xD1, 0xDC, 0xA7, 0xBF]
    + list(range(0x61, 0x7B))
    + [0xE4, 0xF6, 0xF1, 0xFC, 0xE0]
)
EXPECTED_EXTENSION = "\f^{}\\[~]|\u20ac"

UCS2_CHAR = "\u00e7"  # 'ç': lowercase c-cedilla is not in the GSM basic table, so it forces UCS-2
EMOJI = "\U0001f44b"  # 👋, outside the BMP: a surrogate pair, 2 UTF-16 code units


def test_basic_table_is_exactly_gsm_03_38():
    # GIVEN the 127 GSM 03.38 basic characters (128 positions minus ESC)
    expected = {chr(cp) for cp in EXPECTED_BASIC_CODEPOINTS}
    # WHEN compared to the module's table
    # THEN they match exactly
    assert len(EXPECTED_BASIC_CODEPOINTS) == 127
    assert expected == GSM7_BASIC_CHARS
    assert "\x1b" not in GSM7_BASIC_CHARS


def test_extension_table_is_exactly_gsm_03_38():
    # GIVEN the 10 GSM 03.38 extension characters
    # WHEN compared to the module's table
    # THEN they match and do not overlap the basic table
    assert set(EXPECTED_EXTENSION) == GSM7_EXTENSION_CHARS
    assert not GSM7_EXTENSION_CHARS & GSM7_BASIC_CHARS


def test_every_basic_character_costs_one_septet():
    # GIVEN a text made of every basic-table character once
    text = "".join(chr(cp) for cp in EXPECTED_BASIC_CODEPOINTS)
    # WHEN analyzed
    info = analyze(text)
    # THEN it is GSM-7 at one septet per character
    assert info.encoding == "GSM-7"
    assert info.characters == 127
    assert info.units == 127


@pytest.mark.parametrize("char", list(EXPECTED_EXTENSION))
def test_each_extension_character_costs_two_septets(char):
    # GIVEN text with one extension character
    # WHEN analyzed
    info = analyze("a" + char)
    # THEN it stays GSM-7 and the extension character costs 2 septets
    assert info == SegmentInfo(encoding="GSM-7", segments=1, characters=2, units=3)


@pytest.mark.parametrize(
    ("length", "segments"),
    [(1, 1), (159, 1), (160, 1), (161, 2), (305, 2), (306, 2), (307, 3), (459, 3), (460, 4), (1600, 11)],
)
def test_gsm7_segment_boundaries(length, segments):
    # GIVEN plain GSM text of a given length (160 single / 153 per concatenated segment)
    # WHEN analyzed
    info = analyze("a" * length)
    # THEN the segment count follows the carrier limits
    assert info == SegmentInfo(encoding="GSM-7", segments=segments, characters=length, units=length)


def test_1600_characters_of_realistic_plain_text_is_11_segments():
    # GIVEN 1,600 characters of ordinary GSM text (letters, digits, punctuation, newlines)
    text = ("Hello 123, see you @ 5pm! Reply STOP to opt out.\n" * 40)[:1600]
    # WHEN analyzed
    info = analyze(text)
    # THEN ceil(1600 / 153) = 11 segments
    assert len(text) == 1600
    assert info == SegmentInfo(encoding="GSM-7", segments=11, characters=1600, units=1600)


@pytest.mark.parametrize(("count", "segments"), [(80, 1), (81, 2)])
def test_extension_characters_count_double_against_the_single_segment_limit(count, segments):
    # GIVEN text made only of '€' (2 septets each)
    # WHEN analyzed
    info = analyze("\u20ac" * count)
    # THEN 80 of them fill one 160-septet segment and 81 need two
    assert info == SegmentInfo(encoding="GSM-7", segments=segments, characters=count, units=count * 2)


def test_escape_pair_is_not_split_across_a_153_septet_boundary():
    # GIVEN 152 'a', then '€' (2 septets), then 152 'a': 306 septets, which would fit 2 segments if split
    text = "a" * 152 + "\u20ac" + "a" * 152
    # WHEN analyzed
    info = analyze(text)
    # THEN the escape pair moves to segment 2 (leaving 1 septet unused), and the tail spills into segment 3
    assert info == SegmentInfo(encoding="GSM-7", segments=3, characters=305, units=306)


def test_escape_pair_that_exactly_fills_a_segment_does_not_move():
    # GIVEN 151 'a' + '€' (fills segment 1 to exactly 153) + 153 'a' (fills segment 2 exactly)
    text = "a" * 151 + "\u20ac" + "a" * 153
    # WHEN analyzed
    info = analyze(text)
    # THEN exactly 2 segments are used
    assert info == SegmentInfo(encoding="GSM-7", segments=2, characters=305, units=306)


def test_lf_and_cr_are_gsm_characters():
    # GIVEN text with line feeds and carriage returns
    # WHEN analyzed
    info = analyze("Line 1\r\nLine 2\n")
    # THEN it stays GSM-7 and each counts one septet
    assert info == SegmentInfo(encoding="GSM-7", segments=1, characters=15, units=15)


def test_capital_c_cedilla_is_gsm_but_lowercase_is_not():
    # GIVEN 'Ç' (GSM basic 0x09) and 'ç' (not in the basic table)
    # WHEN each is analyzed
    # THEN 'Ç' stays GSM-7 and 'ç' forces UCS-2 for the whole message
    assert analyze("Ça va").encoding == "GSM-7"
    assert analyze("\u00e7a va").encoding == "UCS-2"


@pytest.mark.parametrize(
    "char",
    [
        "`",  # backtick: ASCII but not GSM
        "\t",  # tab
        "\u2019",  # right single quotation mark (smart quote)
        "\u201c",  # left double quotation mark
        "\u00e1",  # á
        "\u0391",  # Greek capital Alpha (looks like 'A', not in the table)
        "\u2126",  # OHM SIGN (looks like Ω, which is GREEK CAPITAL LETTER OMEGA in the table)
        "\u00a0",  # no-break space
        "\u00c8",  # È (è is GSM, È is not)
    ],
)
def test_non_gsm_characters_force_ucs2(char):
    # GIVEN otherwise-GSM text containing one non-GSM character
    # WHEN analyzed
    info = analyze("Hello " + char)
    # THEN the whole message is UCS-2
    assert info.encoding == "UCS-2"
    assert info.units == 7


@pytest.mark.parametrize(("length", "segments"), [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)])
def test_ucs2_segment_boundaries(length, segments):
    # GIVEN UCS-2 text of a given length (70 single / 67 per concatenated segment)
    # WHEN analyzed
    info = analyze(UCS2_CHAR * length)
    # THEN the segment count follows the carrier limits
    assert info == SegmentInfo(encoding="UCS-2", segments=segments, characters=length, units=length)


def test_one_non_gsm_character_switches_the_limits_to_ucs2():
    # GIVEN 70 characters that would be a single GSM segment, plus one 'ç'
    info = analyze("a" * 70 + UCS2_CHAR)
    # WHEN analyzed
    # THEN the 71 code units exceed the 70-unit UCS-2 single-segment limit
    assert info == SegmentInfo(encoding="UCS-2", segments=2, characters=71, units=71)


def test_emoji_is_ucs2_and_counts_two_code_units():
    # GIVEN a short greeting with an emoji
    # WHEN analyzed
    info = analyze("Hello " + EMOJI)
    # THEN it is UCS-2 with 7 code points but 8 UTF-16 code units, in 1 segment
    assert info == SegmentInfo(encoding="UCS-2", segments=1, characters=7, units=8)


def test_emoji_count_against_single_segment_limit():
    # GIVEN 35 emoji (70 units) and 36 emoji (72 units)
    # WHEN analyzed
    # THEN the limit applies to code units, not code points
    assert analyze(EMOJI * 35).segments == 1
    assert analyze(EMOJI * 36) == SegmentInfo(encoding="UCS-2", segments=2, characters=36, units=72)


def test_surrogate_pair_is_not_split_across_a_67_unit_boundary():
    # GIVEN 66 units of UCS-2 text, an emoji (2 units), then 66 more units: 134 units, 2 segments if split
    text = UCS2_CHAR + "x" * 65 + EMOJI + "x" * 66
    # WHEN analyzed
    info = analyze(text)
    # THEN the emoji moves to segment 2 and the last unit spills into segment 3
    assert info == SegmentInfo(encoding="UCS-2", segments=3, characters=133, units=134)


def test_surrogate_pair_that_exactly_fills_a_segment_does_not_move():
    # GIVEN 65 units + emoji (exactly 67) + 67 units
    text = UCS2_CHAR + "x" * 64 + EMOJI + "x" * 67
    # WHEN analyzed
    info = analyze(text)
    # THEN exactly 2 segments are used
    assert info == SegmentInfo(encoding="UCS-2", segments=2, characters=133, units=134)


def test_empty_text_is_zero_segments():
    # GIVEN an empty body (non-emptiness is validated by the API, not here)
    # WHEN analyzed
    # THEN it reports zero segments rather than one
    assert analyze("") == SegmentInfo(encoding="GSM-7", segments=0, characters=0, units=0)


def test_segment_info_is_frozen():
    # GIVEN a SegmentInfo
    info = analyze("hi")
    # WHEN a field is reassigned
    # THEN it raises
    with pytest.raises(AttributeError):
        info.segments = 9  # type: ignore[misc]
