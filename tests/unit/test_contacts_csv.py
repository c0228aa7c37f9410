"""Unit tests for chalicelib.domain.contacts_csv over a corpus of awkward files (tests/unit/csv_corpus/).

The corpus holds the text files (UTF-8, LF, no BOM). Variants that need exact bytes (BOM, CRLF and CR line
endings, invalid UTF-8, NUL, UTF-16) are generated here from them rather than trusted to an editor.
"""

from __future__ import annotations

import csv
import itertools
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.domain.contacts_csv import (
    MAX_CSV_BYTES,
    MAX_REPORTED_ERRORS,
    MAX_ROW_BYTES,
    CsvRejectedError,
    ImportReport,
    parse_contacts,
)
from chalicelib.domain.phone import REASON_NOT_E164, REASON_NOT_VALID

CORPUS = Path(__file__).parent / "csv_corpus"
BOM = b"\xef\xbb\xbf"

Contact = tuple[str, dict[str, str]]


def corpus(name: str) -> bytes:
    """The bytes of a corpus file."""
    return (CORPUS / name).read_bytes()


def chunked(data: bytes, size: int | None) -> list[bytes]:
    """`data` cut into chunks of `size` bytes (one chunk if size is None)."""
    if size is None:
        return [data]
    return [data[start : start + size] for start in range(0, len(data), size)]


def parse(data: bytes, chunk_size: int | None = None, **kwargs: Any) -> tuple[ImportReport, list[Contact]]:
    """Parse `data` fed in chunks of `chunk_size`; return the report and the contacts handed over, in order."""
    contacts: list[Contact] = []
    report = parse_contacts(
        chunked(data, chunk_size), lambda number, variables: contacts.append((number, variables)), **kwargs
    )
    return report, contacts


def reject(data: bytes, chunk_size: int | None = None, **kwargs: Any) -> CsvRejectedError:
    """Parse `data`, expecting it to be rejected; return the error."""
    with pytest.raises(CsvRejectedError) as excinfo:
        parse(data, chunk_size, **kwargs)
    return excinfo.value


def outcome(data: bytes, chunk_size: int | None = None) -> tuple[Any, ...]:
    """Everything observable about one parse, comparable between parses: report and contacts, or the error."""
    try:
        report, contacts = parse(data, chunk_size)
    except CsvRejectedError as exc:
        return ("rejected", exc.code, exc.message, exc.details)
    return ("parsed", report.as_dict(), report.number_column, contacts)


@dataclass(frozen=True)
class Expected:
    rows: int
    valid: int
    invalid: int
    duplicates: int
    columns: list[str]
    number_column: str
    errors: list[tuple[int, str, str]]  # (row, value, reason)
    contacts: list[Contact]


EXPECTED: dict[str, Expected] = {
    "comma.csv": Expected(
        rows=3,
        valid=3,
        invalid=0,
        duplicates=0,
        columns=["Number", "FirstName", "City"],
        number_column="Number",
        errors=[],
        contacts=[
            ("+41415084545", {"FirstName": "Anna", "City": "Zürich"}),
            ("+14155552671", {"FirstName": "Bob", "City": "San Francisco"}),
            ("+447911123456", {"FirstName": "Chloé", "City": "London"}),
        ],
    ),
    "semicolon_excel.csv": Expected(
        rows=2,
        valid=2,
        invalid=0,
        duplicates=0,
        columns=["Vorname", "Number", "Stadt"],
        number_column="Number",
        errors=[],
        contacts=[
            ("+41415084545", {"Vorname": "Anna", "Stadt": "Zürich"}),
            ("+4915112345678", {"Vorname": "Müller; Hans", "Stadt": "Köln"}),
        ],
    ),
    "tab.tsv": Expected(
        rows=2,
        valid=2,
        invalid=0,
        duplicates=0,
        columns=["Number", "Name", "Note"],
        number_column="Number",
        errors=[],
        contacts=[
            ("+41415084545", {"Name": "Anna", "Note": "comma, and; semicolon"}),
            ("+14155552671", {"Name": "Bob", "Note": ""}),
        ],
    ),
    "quoted.csv": Expected(
        rows=3,
        valid=3,
        invalid=0,
        duplicates=0,
        columns=["Number", "Name", "Note"],
        number_column="Number",
        errors=[],
        contacts=[
            ("+41415084545", {"Name": "Smith, Anna", "Note": 'She said "hi"'}),
            ("+14155552671", {"Name": "Bob", "Note": "line one\nline two"}),
            ("+447911123456", {"Name": '"Quoted" Chloé', "Note": "a,b;c\td"}),
        ],
    ),
    "row_numbering.csv": Expected(
        rows=4,
        valid=2,
        invalid=2,
        duplicates=0,
        columns=["Number", "Name"],
        number_column="Number",
        errors=[(4, "bad-1", REASON_NOT_E164), (8, "not-a-number", REASON_NOT_E164)],
        contacts=[("+41415084545", {"Name": "Anna"}), ("+14155552671", {"Name": "multi\nline"})],
    ),
    "invalid_numbers.csv": Expected(
        rows=7,
        valid=1,
        invalid=6,
        duplicates=0,
        columns=["Number", "Name"],
        number_column="Number",
        errors=[
            (2, "", "empty"),
            (3, "0041415084545", REASON_NOT_E164),
            (4, "+12345", REASON_NOT_VALID),
            (5, "+41 41 508 45 45", REASON_NOT_E164),
            (7, "+4141508454a", REASON_NOT_E164),
            (8, "+1234567890123456", REASON_NOT_E164),
        ],
        contacts=[("+41415084545", {"Name": "padded"})],
    ),
    "duplicates.csv": Expected(
        rows=6,
        valid=5,
        invalid=1,
        duplicates=3,
        columns=["Number", "Name"],
        number_column="Number",
        errors=[(7, "0041415084545", REASON_NOT_E164)],
        contacts=[("+41415084545", {"Name": "first"}), ("+14155552671", {"Name": "other"})],
    ),
    "ragged_rows.csv": Expected(
        rows=2,
        valid=2,
        invalid=0,
        duplicates=0,
        columns=["Number", "Name", "column_3", "Name", "City"],
        number_column="Number",
        errors=[],
        contacts=[
            ("+41415084545", {"Name": "Anna", "column_3": "x", "City": "Zürich"}),
            ("+14155552671", {"Name": "Bob", "column_3": "", "City": ""}),
        ],
    ),
    "unicode.csv": Expected(
        rows=3,
        valid=3,
        invalid=0,
        duplicates=0,
        columns=["Number", "Name", "Greeting"],
        number_column="Number",
        errors=[],
        contacts=[
            ("+41415084545", {"Name": "Zoë Ørsted", "Greeting": "Grüezi 👋"}),
            ("+819012345678", {"Name": "山田太郎", "Greeting": "こんにちは"}),
            ("+33612345678", {"Name": "Ελένη", "Greeting": "😀😃😄"}),
        ],
    ),
}

REJECTED: dict[str, tuple[str, str]] = {
    "missing_number.csv": ("missing_number_column", "the header has no Number column; found: Phone, Name, City"),
    "header_only.csv": ("no_rows", "the file has a header but no contact rows"),
    "blank_only.csv": ("empty_file", "the file is empty: expected a header row with a Number column"),
}

ALL_CORPUS_FILES = sorted(path.name for path in CORPUS.iterdir() if not path.name.startswith("."))


def test_every_corpus_file_has_an_expectation() -> None:
    # GIVEN the corpus directory
    # WHEN its files are listed
    # THEN each one is checked by a test below (a new file cannot sit there untested)
    assert set(ALL_CORPUS_FILES) == set(EXPECTED) | set(REJECTED)


def assert_matches(report: ImportReport, contacts: list[Contact], expected: Expected) -> None:
    assert (report.rows, report.valid, report.invalid, report.duplicates) == (
        expected.rows,
        expected.valid,
        expected.invalid,
        expected.duplicates,
    )
    assert report.rows == report.valid + report.invalid
    assert report.columns == expected.columns
    assert report.number_column == expected.number_column
    assert [(e["row"], e["value"], e["reason"]) for e in report.errors] == expected.errors
    assert contacts == expected.contacts


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file_gives_the_expected_report_and_contacts(name: str) -> None:
    # GIVEN a corpus file (delimiter, quoting, blank lines, bad numbers, duplicates, ragged rows, ...)
    # WHEN it is parsed
    # THEN the counts, header, row errors and contacts (in file order) are exactly the expected ones
    report, contacts = parse(corpus(name))
    assert_matches(report, contacts, EXPECTED[name])


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_corpus_file_that_cannot_be_imported_is_rejected_with_its_code(name: str) -> None:
    # GIVEN a corpus file with no usable header or no rows
    # WHEN it is parsed
    # THEN it is rejected as a whole with a stable code and a message saying why
    error = reject(corpus(name))
    assert (error.code, error.message) == REJECTED[name]
    assert str(error) == error.message


def test_missing_number_column_lists_the_headers_found_in_details() -> None:
    # GIVEN a header with no Number column
    # WHEN it is parsed
    # THEN the details carry the columns found, so the UI can show them
    error = reject(corpus("missing_number.csv"))
    assert error.details == [{"columns": ["Phone", "Name", "City"]}]


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 64])
@pytest.mark.parametrize("name", ALL_CORPUS_FILES)
def test_outcome_does_not_depend_on_chunk_boundaries(name: str, chunk_size: int) -> None:
    # GIVEN a corpus file, whose chunks may split a UTF-8 character, a CRLF pair or a quoted field
    # WHEN it is fed in chunks of a few bytes
    # THEN report and contacts (or the rejection) are identical to feeding it all at once
    data = corpus(name)
    assert outcome(data, chunk_size) == outcome(data)


@pytest.mark.parametrize("split", range(1, len("Number,Name,Greeting\n+41415084545,Zoë Ørsted,Grüezi 👋\n")))
def test_multibyte_character_split_between_two_chunks_is_not_an_encoding_error(split: int) -> None:
    # GIVEN a file with 2- and 4-byte UTF-8 characters, cut into two chunks at every possible byte
    data = "Number,Name,Greeting\n+41415084545,Zoë Ørsted,Grüezi 👋\n".encode()
    # WHEN it is parsed
    report, contacts = parse_contacts_in([data[:split], data[split:]])
    # THEN the characters come through whole
    assert report.valid == 1
    assert contacts == [("+41415084545", {"Name": "Zoë Ørsted", "Greeting": "Grüezi 👋"})]


def parse_contacts_in(chunks: list[bytes], **kwargs: Any) -> tuple[ImportReport, list[Contact]]:
    """Parse the given chunks as they are."""
    contacts: list[Contact] = []
    report = parse_contacts(chunks, lambda number, variables: contacts.append((number, variables)), **kwargs)
    return report, contacts


def normalise_newlines(contacts: list[Contact]) -> list[Contact]:
    return [
        (number, {k: v.replace("\r\n", "\n").replace("\r", "\n") for k, v in variables.items()})
        for number, variables in contacts
    ]


@pytest.mark.parametrize("ending", [b"\r\n", b"\r"], ids=["crlf", "cr"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_crlf_and_cr_line_endings_parse_like_lf(name: str, ending: bytes) -> None:
    # GIVEN a corpus file rewritten with CRLF (Windows) or CR-only (old Mac Excel) line endings
    data = corpus(name).replace(b"\n", ending)
    # WHEN it is parsed, whole and one byte at a time (a CRLF pair split between chunks)
    whole, contacts = parse(data)
    bytewise = outcome(data, 1)
    # THEN it gives the LF file's report; only newlines inside quoted fields keep the file's own ending
    expected = EXPECTED[name]
    assert_matches(whole, normalise_newlines(contacts), expected)
    assert bytewise == outcome(data)


def test_newline_inside_a_quoted_field_is_kept_as_written() -> None:
    # GIVEN a CRLF file with a quoted field spanning two lines
    data = corpus("quoted.csv").replace(b"\n", b"\r\n")
    # WHEN it is parsed
    _, contacts = parse(data)
    # THEN the field holds the CRLF it was written with, and the record is still one contact
    assert contacts[1] == ("+14155552671", {"Name": "Bob", "Note": "line one\r\nline two"})


@pytest.mark.parametrize("name", ALL_CORPUS_FILES)
def test_utf8_bom_is_ignored(name: str) -> None:
    # GIVEN a corpus file saved by Excel as "CSV UTF-8", i.e. with a byte order mark
    data = corpus(name)
    # WHEN it is parsed
    # THEN the outcome is that of the file without the BOM (the first header is not "\ufeffNumber")
    assert outcome(BOM + data) == outcome(data)
    assert outcome(BOM + data, 1) == outcome(data)


def test_bom_on_a_non_number_first_column_does_not_stick_to_its_name() -> None:
    # GIVEN a BOM before a first column that is not Number
    # WHEN it is parsed
    report, contacts = parse(BOM + corpus("semicolon_excel.csv"))
    # THEN the first column's name and variable key are clean
    assert report.columns[0] == "Vorname"
    assert contacts[0][1]["Vorname"] == "Anna"


@pytest.mark.parametrize(
    "data",
    [b"", BOM, BOM + BOM, BOM + b"\r\n \t\n", b"\n\n\n", b"   ", b",,,\r\n;;\n", b'""\n'],
    ids=[
        "zero-bytes",
        "bom-only",
        "double-bom",
        "bom-and-whitespace",
        "newlines",
        "spaces",
        "delimiters",
        "empty-quotes",
    ],
)
def test_file_with_nothing_in_it_is_empty_file(data: bytes) -> None:
    # GIVEN a file with no header at all: nothing, a BOM, whitespace, blank lines, empty fields
    # WHEN it is parsed
    # THEN it is rejected as empty_file (not as a missing Number column)
    assert reject(data).code == "empty_file"


def test_no_chunks_at_all_and_empty_chunks_are_an_empty_file() -> None:
    # GIVEN an upload stream that yields nothing, or only empty chunks
    # WHEN it is parsed
    # THEN both are empty files
    for chunks in ([], [b"", b"", b""]):
        with pytest.raises(CsvRejectedError) as excinfo:
            parse_contacts(chunks, lambda number, variables: None)
        assert excinfo.value.code == "empty_file"


def test_header_followed_only_by_blank_lines_has_no_rows() -> None:
    # GIVEN a header then blank lines
    # WHEN it is parsed
    error = reject(b"Number,Name\n\n,\n  ,  \n")
    # THEN it is no_rows: the blank lines are not rows
    assert error.code == "no_rows"
    assert error.details == [{"columns": ["Number", "Name"]}]


@pytest.mark.parametrize(
    ("data", "matched"),
    [
        (b"Number,Name\n+41415084545,Anna\n", "Number"),
        (b"number,Name\n+41415084545,Anna\n", "number"),
        (b"NUMBER,Name\n+41415084545,Anna\n", "NUMBER"),
        (b" number ,Name\n+41415084545,Anna\n", "number"),
        (b'"Number",Name\n+41415084545,Anna\n', "Number"),
        (b'Name, "NuMbEr" \nAnna, +41415084545\n', "NuMbEr"),
        (b"Name;  Number  \nAnna;+41415084545\n", "Number"),
    ],
)
def test_number_header_matches_any_case_and_surrounding_spaces(data: bytes, matched: str) -> None:
    # GIVEN a header spelling Number in another case, padded or quoted
    # WHEN it is parsed
    report, contacts = parse(data)
    # THEN that column is the number column, reported as written (stripped), and the other one is a variable
    assert report.number_column == matched
    assert contacts == [("+41415084545", {"Name": "Anna"})]


def test_first_of_several_number_columns_is_used() -> None:
    # GIVEN two columns named Number
    data = b"Number,Name,Number\n+41415084545,Anna,+14155552671\n"
    # WHEN it is parsed
    report, contacts = parse(data)
    # THEN the first one gives the number; the repeated name is not a variable
    assert report.columns == ["Number", "Name", "Number"]
    assert contacts == [("+41415084545", {"Name": "Anna"})]


@pytest.mark.parametrize(
    ("data", "contact"),
    [
        # Commas inside quotes do not outvote the two semicolons outside them.
        (
            b'"Name, first";Number;"a,b,c"\nAnna;+41415084545;x\n',
            ("+41415084545", {"Name, first": "Anna", "a,b,c": "x"}),
        ),
        # Two tabs outvote one (unquoted) comma in a header cell.
        (
            b"Number\tName, first\tCity\n+41415084545\tAnna, B\tBern\n",
            ("+41415084545", {"Name, first": "Anna, B", "City": "Bern"}),
        ),
        # A tie goes to the comma.
        (b"Number,Name;Note\n+41415084545,x;y\n", ("+41415084545", {"Name;Note": "x;y"})),
        # A single column means comma, so the extra cell is cut off, not glued to the number.
        (b"Number\n+41415084545,extra\n", ("+41415084545", {})),
        # A header cell with a quoted newline: its second line still counts for the delimiter.
        (b'"Full\nName";Number\nAnna;+41415084545\n', ("+41415084545", {"Full\nName": "Anna"})),
    ],
    ids=["semicolon-outside-quotes", "tab", "tie", "single-column", "multiline-header"],
)
def test_delimiter_is_the_one_used_most_outside_quotes_in_the_header(data: bytes, contact: Contact) -> None:
    # GIVEN a header whose delimiter must be detected
    # WHEN it is parsed
    _, contacts = parse(data)
    # THEN the fields are split on the right character
    assert contacts == [contact]


def test_row_numbers_count_blank_lines_before_the_header_too() -> None:
    # GIVEN blank lines above the header, as a spreadsheet may export them
    data = b"\r\n ,\r\n\r\nNumber\r\n+41415084545\r\nbad\r\n"
    # WHEN it is parsed
    report, _ = parse(data)
    # THEN the bad number is reported on row 6, where a spreadsheet shows it
    assert report.errors == [{"row": 6, "value": "bad", "reason": REASON_NOT_E164}]


def test_row_numbers_count_records_not_physical_lines() -> None:
    # GIVEN a row whose quoted field spans three physical lines, then a bad number (CR-only line endings)
    data = b'Number,Note\r+41415084545,"one\rtwo\rthree"\rbad,x\r'
    # WHEN it is parsed
    report, contacts = parse(data)
    # THEN the bad number is on spreadsheet row 3
    assert report.errors == [{"row": 3, "value": "bad", "reason": REASON_NOT_E164}]
    assert contacts == [("+41415084545", {"Note": "one\rtwo\rthree"})]


def test_only_the_first_errors_are_reported_but_all_are_counted() -> None:
    # GIVEN 250 rows with invalid numbers around one valid one
    rows = [f"bad{index}" for index in range(250)]
    rows.insert(120, "+41415084545")
    data = ("Number\n" + "\n".join(rows) + "\n").encode()
    # WHEN it is parsed
    report, contacts = parse(data)
    # THEN all 250 are counted, the first 100 reported (rows 2..101), and the valid one still goes through
    assert (report.rows, report.valid, report.invalid) == (251, 1, 250)
    assert len(report.errors) == MAX_REPORTED_ERRORS == 100
    assert [error["row"] for error in report.errors] == list(range(2, 102))
    assert contacts == [("+41415084545", {})]


def test_max_errors_caps_the_error_list() -> None:
    # GIVEN five invalid rows and max_errors=2
    # WHEN it is parsed
    report, _ = parse(b"Number\n1\n2\n3\n4\n5\n+41415084545\n", max_errors=2)
    # THEN two errors are listed and five counted
    assert [error["value"] for error in report.errors] == ["1", "2"]
    assert report.invalid == 5


def test_error_value_is_the_raw_cell_cut_to_64_characters() -> None:
    # GIVEN an absurdly long invalid number cell
    cell = "+41" + "9" * 200
    # WHEN it is parsed
    report, _ = parse(f"Number\n{cell}\n+41415084545\n".encode())
    # THEN the reported value is its first 64 characters
    assert report.errors == [{"row": 2, "value": cell[:64], "reason": REASON_NOT_E164}]


def test_report_as_dict_has_the_api_shape() -> None:
    # GIVEN a parsed file with an error
    report, _ = parse(corpus("duplicates.csv"))
    # WHEN it is turned into a dict
    # THEN it has exactly the documented keys and is detached from the report
    as_dict = report.as_dict()
    assert as_dict == {
        "rows": 6,
        "valid": 5,
        "invalid": 1,
        "duplicates": 3,
        "columns": ["Number", "Name"],
        "errors": [{"row": 7, "value": "0041415084545", "reason": REASON_NOT_E164}],
    }
    as_dict["errors"][0]["row"] = 99
    assert report.errors[0]["row"] == 7


# --- invalid encodings, NUL, sizes -----------------------------------------------------------------------


def test_utf16_file_is_rejected_as_not_utf8_at_its_first_byte() -> None:
    # GIVEN a file saved as "Unicode Text" (UTF-16 with a BOM)
    data = "Number,Name\n+41415084545,Anna\n".encode("utf-16")
    # WHEN it is parsed
    error = reject(data)
    # THEN it is invalid_encoding at byte 0 / row 1, with the save-as-UTF-8 hint
    assert error.code == "invalid_encoding"
    assert "not valid UTF-8 (near byte 0 / row 1)" in error.message
    assert "save it as UTF-8" in error.message
    assert error.details == [{"byte_offset": 0, "row": 1}]


@pytest.mark.parametrize("chunk_size", [None, 1, 7])
def test_latin1_byte_in_the_middle_is_reported_with_its_byte_and_row(chunk_size: int | None) -> None:
    # GIVEN a Latin-1 file whose fourth row holds an "ü"
    data = "Number,City\n+41415084545,Bern\n\n+14155552671,Zürich\n".encode("latin-1")
    offset = data.index(b"\xfc")
    # WHEN it is parsed, whole or in small chunks
    error = reject(data, chunk_size)
    # THEN the exact byte and the spreadsheet row are named
    assert error.code == "invalid_encoding"
    assert f"near byte {offset} / row 4" in error.message
    assert error.details == [{"byte_offset": offset, "row": 4}]


@pytest.mark.parametrize(
    "bad",
    [b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80", b"\x80"],
    ids=["truncated", "surrogate", "overlong", "above-u10ffff", "lone-continuation"],
)
def test_every_kind_of_invalid_utf8_is_rejected(bad: bytes) -> None:
    # GIVEN a file ending in an invalid UTF-8 sequence (no final newline: EOF must be checked too)
    data = b"Number,Name\n+41415084545,Anna" + bad
    # WHEN it is parsed
    # THEN it is invalid_encoding, never a decoding exception
    assert reject(data).code == "invalid_encoding"
    assert reject(data, 1).code == "invalid_encoding"


def test_utf16_without_bom_is_rejected_for_its_nul_bytes() -> None:
    # GIVEN UTF-16 without a BOM: valid UTF-8 bytes, but full of NULs
    data = "Number\n+41415084545\n".encode("utf-16-le")
    # WHEN it is parsed
    error = reject(data)
    # THEN it is invalid_csv naming the NUL, deterministically (csv.reader's own NUL handling varies)
    assert error.code == "invalid_csv"
    assert "NUL byte (near byte 1 / row 1)" in error.message


def test_nul_byte_in_a_data_row_is_reported_with_its_position() -> None:
    # GIVEN a NUL inside the third row
    data = b"Number,Name\n+41415084545,Anna\n+14155552671,B\x00b\n"
    # WHEN it is parsed
    error = reject(data, 3)
    # THEN invalid_csv with its byte and row
    assert error.code == "invalid_csv"
    assert error.details == [{"byte_offset": data.index(b"\x00"), "row": 3}]


def test_file_larger_than_max_bytes_is_payload_too_large() -> None:
    # GIVEN a valid file one byte over the limit
    data = corpus("comma.csv")
    # WHEN it is parsed with max_bytes one short of its size, and then exactly its size
    error = reject(data, 7, max_bytes=len(data) - 1)
    report, _ = parse(data, 7, max_bytes=len(data))
    # THEN the first is rejected as payload_too_large, the second accepted
    assert error.code == "payload_too_large"
    assert error.details == [{"max_bytes": len(data) - 1}]
    assert report.valid == 3


def test_endless_stream_stops_as_soon_as_the_limit_is_passed() -> None:
    # GIVEN an endless stream of valid rows
    pulled = 0

    def endless() -> Iterator[bytes]:
        nonlocal pulled
        yield b"Number\n"
        while True:
            pulled += 1
            yield b"+41415084545\n"

    # WHEN it is parsed with a 1000-byte limit
    with pytest.raises(CsvRejectedError) as excinfo:
        parse_contacts(endless(), lambda number, variables: None, max_bytes=1000)
    # THEN it is rejected with the first chunk past the limit, not read on
    assert excinfo.value.code == "payload_too_large"
    assert pulled == (1000 - len(b"Number\n")) // len(b"+41415084545\n") + 1


def test_default_limits_are_the_documented_ones() -> None:
    # GIVEN the module's limits
    # THEN they are 50 MiB per file, 100 reported errors and 1 MiB per row
    assert (MAX_CSV_BYTES, MAX_REPORTED_ERRORS, MAX_ROW_BYTES) == (50 * 1024 * 1024, 100, 1024 * 1024)


def test_field_over_one_mib_is_invalid_csv_with_its_row() -> None:
    # GIVEN a 1.5 MiB field on row 3
    data = b'Number,Note\n+41415084545,x\n+14155552671,"' + b"y" * (3 * MAX_ROW_BYTES // 2) + b'"\n'
    # WHEN it is parsed in 64 KiB chunks
    error = reject(data, 64 * 1024)
    # THEN it is invalid_csv naming row 3
    assert error.code == "invalid_csv"
    assert error.message.startswith("row 3 is larger than 1 MiB")


def test_unclosed_quote_is_invalid_csv_once_the_row_passes_one_mib() -> None:
    # GIVEN a quote opened on row 2 and never closed, followed by many lines
    data = b'Number,Note\n+41415084545,"oops\n' + b"+14155552671,x\n" * 100_000
    # WHEN it is parsed
    error = reject(data, 4096)
    # THEN it is invalid_csv on row 2, hinting at the open quote
    assert error.code == "invalid_csv"
    assert "row 2 is larger than 1 MiB" in error.message
    assert "quote" in error.message


def test_field_above_csv_default_limit_but_under_one_mib_is_accepted() -> None:
    # GIVEN a 300 000-character note: over csv's default field limit (131072), under 1 MiB
    note = "n" * 300_000
    # WHEN it is parsed
    _, contacts = parse(f"Number,Note\n+41415084545,{note}\n".encode())
    # THEN the contact comes through with the whole note
    assert contacts == [("+41415084545", {"Note": note})]


def test_csv_error_is_turned_into_invalid_csv_with_the_row() -> None:
    # GIVEN csv's process-wide field limit lowered by someone else below a field on row 3
    previous = csv.field_size_limit(13)
    try:
        # WHEN a file with a longer field is parsed
        error = reject(b"Number,Note\n+41415084545,short\n+14155552671,much_too_long_really\n")
    finally:
        csv.field_size_limit(previous)
    # THEN csv.Error comes out as invalid_csv naming the row
    assert error.code == "invalid_csv"
    assert error.message.startswith("row 3 is not valid CSV: field larger than field limit")


# --- properties ----------------------------------------------------------------------------------------

FRAGMENTS = [
    b",",
    b";",
    b"\t",
    b'"',
    b'""',
    b"\r",
    b"\n",
    b"\r\n",
    b" ",
    b"Number",
    b" number ",
    b"Name",
    b"+41415084545",
    b"+14155552671",
    b"+12345",
    b"x",
    BOM,
    "ü".encode(),
    "👋".encode(),
    b"\xc3",
    b"\xff",
    b"\x00",
]


@st.composite
def chunkings(draw: st.DrawFn, data_strategy: st.SearchStrategy[bytes]) -> tuple[bytes, list[bytes]]:
    """Some bytes and the same bytes cut at random points."""
    data = draw(data_strategy)
    cuts = sorted(draw(st.sets(st.integers(min_value=0, max_value=len(data)), max_size=12)))
    bounds = [0, *cuts, len(data)]
    return data, [data[start:end] for start, end in itertools.pairwise(bounds)]


def outcome_of_chunks(chunks: list[bytes]) -> tuple[Any, ...]:
    contacts: list[Contact] = []
    try:
        report = parse_contacts(chunks, lambda number, variables: contacts.append((number, variables)))
    except CsvRejectedError as exc:
        return ("rejected", exc.code, exc.message, exc.details)
    return ("parsed", report.as_dict(), report.number_column, contacts)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chunkings(st.binary(max_size=300)))
def test_arbitrary_bytes_parse_or_are_rejected_never_anything_else(case: tuple[bytes, list[bytes]]) -> None:
    # GIVEN any bytes at all, in arbitrary chunks
    _, chunks = case
    # WHEN they are parsed
    # THEN the result is a consistent report or a CsvRejectedError (any other exception fails the test)
    result = outcome_of_chunks(chunks)
    if result[0] == "parsed":
        report = result[1]
        assert report["rows"] == report["valid"] + report["invalid"] > 0
        assert report["duplicates"] <= report["valid"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chunkings(st.lists(st.sampled_from(FRAGMENTS), max_size=60).map(b"".join)))
def test_csv_like_bytes_give_the_same_outcome_whatever_the_chunking(case: tuple[bytes, list[bytes]]) -> None:
    # GIVEN CSV-like bytes (delimiters, quotes, line endings, numbers, BOM, multi-byte, invalid bytes, NUL)
    data, chunks = case
    # WHEN they are parsed in random chunks and all at once
    # THEN the outcomes (report and contacts, or the error with its message) are identical
    assert outcome_of_chunks(chunks) == outcome_of_chunks([data])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["+41415084545", "+14155552671", "+447911123456", "bad", ""]), min_size=1))
def test_each_distinct_valid_number_is_handed_over_once_in_first_seen_order(numbers: list[str]) -> None:
    # GIVEN a column of numbers with repeats, invalid and empty cells (each row has a Name, so none is blank)
    data = ("Number,Name\n" + "".join(f"{number},n{index}\n" for index, number in enumerate(numbers))).encode()
    # WHEN it is parsed
    report, contacts = parse(data)
    # THEN each valid number comes once, with the variables of its first row, and the counts add up
    valid = [n for n in numbers if n.startswith("+")]
    first_seen = list(dict.fromkeys(valid))
    assert [number for number, _ in contacts] == first_seen
    assert [variables["Name"] for _, variables in contacts] == [f"n{numbers.index(n)}" for n in first_seen]
    assert (report.rows, report.valid, report.duplicates) == (len(numbers), len(valid), len(valid) - len(first_seen))


# --- memory ---------------------------------------------------------------------------------------------


def peak_traced_memory(size: int) -> tuple[int, ImportReport]:
    """Peak traced memory while parsing a lazily generated file of about `size` bytes, every row the same number."""
    header = b"Number,Name,Street,City,Note\r\n"
    # Wide rows keep the row count (and tracemalloc's per-allocation cost) down: ~20 000 rows for 20 MiB.
    row = b"+41415084545,Anna Example,Somewhere Street 12,8000 Zurich," + b"n" * 1000 + b"\r\n"
    chunk = row * (64 * 1024 // len(row))

    def stream() -> Iterator[bytes]:
        yield header
        for _ in range(size // len(chunk)):
            yield chunk

    tracemalloc.start()
    try:
        report = parse_contacts(stream(), lambda number, variables: None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, report


def test_memory_does_not_grow_with_the_file() -> None:
    # GIVEN files of 2 MiB and 20 MiB produced lazily 64 KiB at a time, every row the same number (so the
    # de-duplication set stays at one entry and anything else that grew with the file would show)
    parse(corpus("comma.csv"))  # load phonenumbers' metadata before measuring
    # WHEN each is parsed under tracemalloc
    small_peak, _ = peak_traced_memory(2 * 1024 * 1024)
    peak, report = peak_traced_memory(20 * 1024 * 1024)
    # THEN every row was seen, the peak is a small fixed amount far below the file's size, and ten times the
    # file (18 000 more rows) costs no more than a few bytes per extra row
    assert report.duplicates == report.rows - 1 > 19_000
    assert peak < 512 * 1024, f"peak {peak} bytes"
    assert peak - small_peak < 64 * 1024, f"peak {small_peak} -> {peak} bytes"
