"""Streaming parser for contact CSV files as spreadsheets export them (pure, no I/O).

Bytes come in as chunks of any size; they are cut into physical lines at the byte level (CR, LF and CRLF
never occur inside a UTF-8 multi-byte sequence), each line is decoded on its own and handed to `csv.reader`,
which pulls lines only as it needs them. So an encoding error, a NUL byte or an oversized row is reported
with the exact byte offset and the spreadsheet row it is in, and memory stays bounded by one row (at most
MAX_ROW_BYTES) plus the de-duplication set, whatever the size of the file or of its chunks.

Streaming means that a defect late in the file is only found after `on_contact` has been called for the rows
before it: a caller must treat the contacts it received as provisional until `parse_contacts` returns.
"""

from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.phone import E164_RE, invalid_reason

MAX_CSV_BYTES = 50 * 1024 * 1024
MAX_REPORTED_ERRORS = 100

# A row (one CSV record, all its physical lines) larger than this is rejected: no contact needs it, and it
# bounds the memory one row can take. A field cannot be larger than its row, so this is also the field limit.
MAX_ROW_BYTES = 1024 * 1024
# The header's column names (UTF-8, empty ones as named) may take at most this: they are stored on the upload's
# DynamoDB item (twice for a file with no rows), which DynamoDB refuses over 400 KB.
MAX_HEADER_BYTES = 64 * 1024

MAX_ERROR_VALUE_CHARS = 64
NUMBER_HEADER = "number"
DELIMITERS = (",", ";", "\t")  # in tie-break order: comma wins a tie

# csv's own field limit (131072 characters by default) is process-wide state. Raise it once, never lower it,
# so that it cannot fire before MAX_ROW_BYTES does (a field's characters <= its UTF-8 bytes <= its row's bytes).
if csv.field_size_limit() <= MAX_ROW_BYTES:
    csv.field_size_limit(MAX_ROW_BYTES + 1)

# Large chunks are cut into windows of this size before being split into lines, so that a caller handing
# over the whole file as one chunk does not get a list of all its lines at once.
_WINDOW_BYTES = 64 * 1024
_UTF8_BOM = "\ufeff"
_BLANK_LINE_RE = re.compile(r"[\s,;]*")  # \s covers tab and every line terminator
_SAVE_AS_UTF8 = "save it as UTF-8 (in Excel: Save As > 'CSV UTF-8 (Comma delimited)') and upload it again"


class CsvRejectedError(Exception):
    """The file as a whole cannot be imported."""

    def __init__(self, code: str, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details: list[dict[str, Any]] = details or []


@dataclass
class ImportReport:
    """What a parse found: counts, the header, and the first row errors."""

    rows: int
    valid: int
    invalid: int
    duplicates: int
    columns: list[str]
    number_column: str
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-ready dict (the shape the API answers with)."""
        return {
            "rows": self.rows,
            "valid": self.valid,
            "invalid": self.invalid,
            "duplicates": self.duplicates,
            "columns": list(self.columns),
            "errors": [dict(error) for error in self.errors],
        }


class _Lines:
    """Decoded physical lines (terminator kept) from byte chunks, with the checks that need byte positions.

    `row` is the spreadsheet row of the record being read and `row_bytes` the bytes read for it so far; the
    parser updates both after each record, which is exact because csv.reader never reads ahead.
    """

    def __init__(self, chunks: Iterable[bytes], max_bytes: int) -> None:
        self._chunks = chunks
        self._max_bytes = max_bytes
        self.bytes_read = 0
        self.row = 1
        self.row_bytes = 0
        self._line_start = 0  # file offset of the next line to decode
        self._pending: list[bytes] = []  # pieces of an unfinished physical line
        self._pending_bytes = 0
        self._first = True

    def __iter__(self) -> Iterator[str]:
        for chunk in self._chunks:
            if not chunk:
                continue
            self.bytes_read += len(chunk)
            if self.bytes_read > self._max_bytes:
                raise CsvRejectedError(
                    "payload_too_large",
                    f"the file is larger than the limit of {_size(self._max_bytes)}",
                    [{"max_bytes": self._max_bytes}],
                )
            for start in range(0, len(chunk), _WINDOW_BYTES):
                yield from self._split(bytes(chunk[start : start + _WINDOW_BYTES]))
        if self._pending:
            yield self._flush()

    def _split(self, window: bytes) -> Iterator[str]:
        for piece in window.splitlines(keepends=True):
            if self._pending and self._pending[-1].endswith(b"\r"):
                # A held-back CR line: this piece is either its LF (CRLF split across windows) or a new line.
                if piece == b"\n":
                    self._add(piece)
                    yield self._flush()
                    continue
                yield self._flush()
            self._add(piece)
            # A line ending in CR is held back until the next byte shows whether an LF follows.
            if piece.endswith(b"\n"):
                yield self._flush()

    def _add(self, piece: bytes) -> None:
        self._pending.append(piece)
        self._pending_bytes += len(piece)
        if self.row_bytes + self._pending_bytes > MAX_ROW_BYTES:
            raise CsvRejectedError(
                "invalid_csv",
                f"row {self.row} is larger than {_size(MAX_ROW_BYTES)}: a field or a row that large is not a contact"
                " (is a quote left open?)",
                [{"row": self.row, "max_row_bytes": MAX_ROW_BYTES}],
            )

    def _flush(self) -> str:
        raw = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending = []
        self._pending_bytes = 0
        start = self._line_start
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            offset = start + exc.start
            raise CsvRejectedError(
                "invalid_encoding",
                f"the file is not valid UTF-8 (near byte {offset} / row {self.row}); {_SAVE_AS_UTF8}",
                [{"byte_offset": offset, "row": self.row}],
            ) from None
        if "\x00" in text:
            offset = start + len(text[: text.index("\x00")].encode("utf-8"))
            raise CsvRejectedError(
                "invalid_csv",
                f"the file contains a NUL byte (near byte {offset} / row {self.row}), so it is not a CSV text"
                f" file (UTF-16 or a spreadsheet's own format?); {_SAVE_AS_UTF8}",
                [{"byte_offset": offset, "row": self.row}],
            )
        if self._first:
            self._first = False
            text = text.lstrip(_UTF8_BOM)  # some tools write it twice
        self._line_start = start + len(raw)
        self.row_bytes += len(raw)
        return text


def _size(count: int) -> str:
    """`count` bytes for a message: in MiB when a whole number of them, else in bytes."""
    mib = 1024 * 1024
    return f"{count // mib} MiB" if count and count % mib == 0 else f"{count} bytes"


def _is_blank_line(line: str) -> bool:
    """True for a physical line that can only be a blank record, whatever the delimiter turns out to be."""
    return _BLANK_LINE_RE.fullmatch(line) is not None


def _scan_header(text: str, in_quotes: bool, at_field_start: bool, counts: dict[str, int]) -> tuple[bool, bool]:
    """Count candidate delimiters outside quotes in `text`, as csv.reader would see quotes; return the state."""
    index = 0
    length = len(text)
    while index < length:
        char = text[index]
        if in_quotes:
            if char == '"':
                if index + 1 < length and text[index + 1] == '"':
                    index += 2
                    continue
                in_quotes = False
        elif char in counts:
            counts[char] += 1
            at_field_start = True
        elif char == '"' and at_field_start:
            in_quotes = True
            at_field_start = False
        elif char in "\r\n":
            at_field_start = True
        elif char != " ":  # spaces before an opening quote are skipped (skipinitialspace)
            at_field_start = False
        index += 1
    return in_quotes, at_field_start


def _header_lines(lines: _Lines, line_iter: Iterator[str]) -> tuple[list[str], str]:
    """Skip blank lines, read the header's physical lines and detect its delimiter; ([], ",") if none."""
    for line in line_iter:
        if _is_blank_line(line):
            lines.row += 1
            lines.row_bytes = 0
            continue
        counts = dict.fromkeys(DELIMITERS, 0)
        header = [line]
        in_quotes, at_field_start = _scan_header(line, False, True, counts)
        while in_quotes:
            following = next(line_iter, None)
            if following is None:
                break
            header.append(following)
            in_quotes, at_field_start = _scan_header(following, in_quotes, at_field_start, counts)
        best = max(DELIMITERS, key=lambda delimiter: counts[delimiter])
        return header, best if counts[best] else ","
    return [], ","


def _column_names(header: list[str]) -> list[str]:
    """Header names stripped, an empty one named column_N (1-based position)."""
    return [name.strip() or f"column_{position}" for position, name in enumerate(header, start=1)]


def _is_blank_record(record: list[str]) -> bool:
    return all(not cell.strip() for cell in record)


def parse_contacts(
    chunks: Iterable[bytes],
    on_contact: Callable[[str, dict[str, str]], None],
    *,
    max_bytes: int = MAX_CSV_BYTES,
    max_errors: int = MAX_REPORTED_ERRORS,
) -> ImportReport:
    """Stream a contact CSV: call on_contact(number, variables) once per distinct valid number, in file order."""
    lines = _Lines(chunks, max_bytes)
    line_iter = iter(lines)
    header_lines, delimiter = _header_lines(lines, line_iter)
    if not header_lines:
        raise CsvRejectedError("empty_file", "the file is empty: expected a header row with a Number column")
    records = csv.reader(itertools.chain(header_lines, line_iter), delimiter=delimiter, skipinitialspace=True)

    columns: list[str] | None = None
    number_index = 0
    variable_columns: list[tuple[str, int]] = []
    seen: set[int] = set()  # distinct valid numbers as the int of their digits: ~75 bytes each, a str ~100
    errors: list[dict[str, Any]] = []
    rows = valid = invalid = duplicates = 0

    while True:
        try:
            record = next(records)
        except StopIteration:
            break
        except csv.Error as exc:
            raise CsvRejectedError(
                "invalid_csv", f"row {lines.row} is not valid CSV: {exc}", [{"row": lines.row}]
            ) from None
        row = lines.row
        lines.row += 1
        lines.row_bytes = 0

        if columns is None:
            if _is_blank_record(record):
                continue
            columns = _column_names(record)
            number_index = _number_column(columns)
            header_bytes = sum(len(name.encode("utf-8")) for name in columns)
            if header_bytes > MAX_HEADER_BYTES:
                raise CsvRejectedError(
                    "invalid_csv",
                    f"the header's {len(columns):,} column names take {header_bytes:,} bytes; at most"
                    f" {_size(MAX_HEADER_BYTES)} are accepted (is the first row really a header?)",
                    [{"row": row, "columns": len(columns), "header_bytes": header_bytes, "max": MAX_HEADER_BYTES}],
                )
            taken = {columns[number_index]}
            for index, name in enumerate(columns):
                if name not in taken:
                    taken.add(name)
                    variable_columns.append((name, index))
            continue

        cell = record[number_index] if number_index < len(record) else ""
        number = cell.strip()
        if not number and _is_blank_record(record):
            continue
        rows += 1
        if E164_RE.fullmatch(number) is not None and int(number[1:]) in seen:
            # Only valid numbers enter `seen`, so a repeat needs no second (slow) validation.
            valid += 1
            duplicates += 1
            continue
        reason = invalid_reason(number) if number else "empty"
        if reason is not None:
            invalid += 1
            if len(errors) < max_errors:
                errors.append({"row": row, "value": cell[:MAX_ERROR_VALUE_CHARS], "reason": reason})
            continue
        valid += 1
        seen.add(int(number[1:]))
        width = len(record)
        on_contact(number, {name: record[index].strip() if index < width else "" for name, index in variable_columns})

    if columns is None:
        raise CsvRejectedError("empty_file", "the file is empty: expected a header row with a Number column")
    if rows == 0:
        raise CsvRejectedError("no_rows", "the file has a header but no contact rows", [{"columns": columns}])
    return ImportReport(
        rows=rows,
        valid=valid,
        invalid=invalid,
        duplicates=duplicates,
        columns=columns,
        number_column=columns[number_index],
        errors=errors,
    )


def _number_column(columns: list[str]) -> int:
    """Index of the first column named Number (any case); CsvRejectedError if there is none."""
    for index, name in enumerate(columns):
        if name.lower() == NUMBER_HEADER:
            return index
    shown = ", ".join(name[:MAX_ERROR_VALUE_CHARS] for name in columns[:20]) + (", ..." if len(columns) > 20 else "")
    raise CsvRejectedError(
        "missing_number_column",
        f"the header has no Number column; found: {shown}",
        [{"columns": [name[:MAX_ERROR_VALUE_CHARS] for name in columns[:MAX_REPORTED_ERRORS]]}],
    )
