"""SMS segment counting as carriers (and Twilio) count it (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass

GSM7 = "GSM-7"
UCS2 = "UCS-2"

GSM7_SINGLE_SEGMENT_SEPTETS = 160
GSM7_CONCAT_SEGMENT_SEPTETS = 153
UCS2_SINGLE_SEGMENT_UNITS = 70
UCS2_CONCAT_SEGMENT_UNITS = 67

# GSM 03.38 default alphabet, basic table, positions 0x00-0x7F in order (8 or 16 per line).
# Position 0x1B is the escape to the extension table and is not a character: it is a placeholder here
# and removed below. Written with escapes where a glyph could be confused with a look-alike.
_GSM7_BASIC_TABLE = (
    "@\u00a3$\u00a5\u00e8\u00e9\u00f9\u00ec"  # 0x00: @ £ $ ¥ è é ù ì
    "\u00f2\u00c7\n\u00d8\u00f8\r\u00c5\u00e5"  # 0x08: ò Ç LF Ø ø CR Å å
    "\u0394_\u03a6\u0393\u039b\u03a9\u03a0\u03a8"  # 0x10: Δ _ Φ Γ Λ Ω Π Ψ
    "\u03a3\u0398\u039e\x1b\u00c6\u00e6\u00df\u00c9"  # 0x18: Σ Θ Ξ ESC Æ æ ß É
    " !\"#\u00a4%&'()*+,-./"  # 0x20: space ! " # ¤ % & ' ( ) * + , - . /
    "0123456789:;<=>?"  # 0x30
    "\u00a1ABCDEFGHIJKLMNO"  # 0x40: ¡ A-O
    "PQRSTUVWXYZ\u00c4\u00d6\u00d1\u00dc\u00a7"  # 0x50: P-Z Ä Ö Ñ Ü §
    "\u00bfabcdefghijklmno"  # 0x60: ¿ a-o
    "pqrstuvwxyz\u00e4\u00f6\u00f1\u00fc\u00e0"  # 0x70: p-z ä ö ñ ü à
)
assert len(_GSM7_BASIC_TABLE) == 128

# Characters that cost 1 septet (127: the basic table minus the ESC position).
GSM7_BASIC_CHARS = frozenset(_GSM7_BASIC_TABLE) - {"\x1b"}

# GSM 03.38 extension table: each costs 2 septets (ESC + code).
# 0x0A form feed, 0x14 ^, 0x28 {, 0x29 }, 0x2F \, 0x3C [, 0x3D ~, 0x3E ], 0x40 |, 0x65 €.
GSM7_EXTENSION_CHARS = frozenset("\f^{}\\[~]|\u20ac")


@dataclass(frozen=True)
class SegmentInfo:
    """Encoding and segment count of an SMS body."""

    encoding: str  # "GSM-7" or "UCS-2"
    segments: int
    characters: int  # Unicode code points
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2


def _gsm7_cost(char: str) -> int | None:
    """Return the septet cost of `char` in GSM-7, or None if it is not representable."""
    if char in GSM7_BASIC_CHARS:
        return 1
    if char in GSM7_EXTENSION_CHARS:
        return 2
    return None


def _utf16_cost(char: str) -> int:
    """Return the number of UTF-16 code units for `char` (2 outside the BMP)."""
    return 2 if ord(char) > 0xFFFF else 1


def _count_segments(costs: list[int], single: int, concat: int) -> int:
    """Count segments, filling greedily and never splitting a multi-unit character across segments."""
    total = sum(costs)
    if total == 0:
        return 0
    if total <= single:
        return 1
    segments = 1
    room = concat
    for cost in costs:
        if cost > room:
            segments += 1
            room = concat
        room -= cost
    return segments


def analyze(text: str) -> SegmentInfo:
    """Return the encoding, segment count, code-point count and unit count of an SMS body."""
    gsm_costs = [_gsm7_cost(char) for char in text]
    if all(cost is not None for cost in gsm_costs):
        costs = [cost for cost in gsm_costs if cost is not None]
        segments = _count_segments(costs, GSM7_SINGLE_SEGMENT_SEPTETS, GSM7_CONCAT_SEGMENT_SEPTETS)
        return SegmentInfo(encoding=GSM7, segments=segments, characters=len(text), units=sum(costs))
    costs = [_utf16_cost(char) for char in text]
    segments = _count_segments(costs, UCS2_SINGLE_SEGMENT_UNITS, UCS2_CONCAT_SEGMENT_UNITS)
    return SegmentInfo(encoding=UCS2, segments=segments, characters=len(text), units=sum(costs))
