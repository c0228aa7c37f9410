"""Contact CSV files for the benchmarks: distinct valid E.164 numbers and three variable columns, written lazily.

Two rows in three are Swiss mobiles (+4175..+4179 and seven digits, spread by a bijection so they are not sorted),
one in three a US number in a handful of area codes (+1 AAA NXX XXXX). Every number passes
`chalicelib.domain.phone.invalid_reason` (phonenumbers 9.0.43 was checked over these ranges), and no two rows
share a number, so an import finds every row valid and no duplicates.
"""

from __future__ import annotations

from pathlib import Path

HEADER = "Number,first_name,last_name,city\n"
_SWISS_PREFIXES = ("+4179", "+4178", "+4177", "+4176", "+4175")
_SWISS_SPACE = 10_000_000  # seven free digits per prefix
_SWISS_STEP = 7_654_321  # coprime with 10**7, so k -> (k * step + offset) % 10**7 is a bijection
_US_AREAS = (212, 213, 312, 415, 617, 646, 702, 718, 305, 404, 512, 206)
_FIRST = ("Anna", "Luca", "Sofia", "Noah", "Mia", "Elias", "Léa", "Jürg", "Chloé", "Matteo", "Emma", "Liam")
_LAST = ("Müller", "Meier", "Schmid", "Keller", "Weber", "Huber", "Smith", "Johnson", "Brown", "Rossi", "Dubois")
_CITY = ("Zürich", "Genève", "Basel", "Bern", "Lausanne", "Lugano", "New York", "Boston", "Chicago", "Austin")
MAX_ROWS = 3 * _SWISS_SPACE * len(_SWISS_PREFIXES) // 2


def number(row: int) -> str:
    """The number of the `row`-th contact (0-based); distinct for every row below MAX_ROWS."""
    if row % 3 == 2:
        j = row // 3
        rest = j // len(_US_AREAS)
        return f"+1{_US_AREAS[j % len(_US_AREAS)]}{200 + rest % 800}{(rest // 800) % 10_000:04d}"
    k = row - row // 3  # how many Swiss rows came before this one
    prefix = _SWISS_PREFIXES[(k // _SWISS_SPACE) % len(_SWISS_PREFIXES)]
    return f"{prefix}{(k * _SWISS_STEP + 1_234_567) % _SWISS_SPACE:07d}"


def line(row: int) -> str:
    """One CSV record (with its line end)."""
    return f"{number(row)},{_FIRST[row % 12]},{_LAST[row % 11]},{_CITY[row % 10]}\n"


def write_csv(path: Path, *, rows: int | None = None, target_bytes: int | None = None) -> tuple[int, int]:
    """Write a contact CSV of `rows` rows, or of as many rows as fit in `target_bytes`; returns (rows, bytes).

    Written in blocks of a few thousand rows, so memory stays small whatever the size.
    """
    if (rows is None) == (target_bytes is None):
        raise ValueError("give exactly one of rows and target_bytes")
    limit_rows = rows if rows is not None else MAX_ROWS
    limit_bytes = target_bytes if target_bytes is not None else 1 << 62
    header = HEADER.encode()
    written = len(header)
    count = 0
    with path.open("wb") as out:
        out.write(header)
        while count < limit_rows:
            block: list[bytes] = []
            for row in range(count, min(count + 4096, limit_rows)):
                data = line(row).encode()
                if written + len(data) > limit_bytes:
                    break
                block.append(data)
                written += len(data)
            if not block:
                break
            out.write(b"".join(block))
            count += len(block)
    if count > MAX_ROWS:
        raise ValueError(f"at most {MAX_ROWS} distinct rows")
    return count, written
