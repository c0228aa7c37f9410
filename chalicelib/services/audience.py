"""Who a campaign goes to: checked (and counted) when it is created, edited or sent; resolved when sending starts."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.commands import RecipientsSpec
from chalicelib.domain.errors import UnprocessableError
from chalicelib.domain.objects import BlobMissingError
from chalicelib.domain.phone import check_numbers
from chalicelib.services import phonebooks, uploads
from chalicelib.services.deps import Deps

# Numbers typed into a campaign are kept on its item; larger lists belong in a CSV upload.
MAX_TYPED_NUMBERS = 10_000


class AudienceGoneError(Exception):
    """What a campaign's audience refers to is gone or no longer fits (found when sending starts)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Audience:
    """Who a campaign goes to: the stored spec (resolved when sending starts) and its size now."""

    spec: dict[str, Any]
    total: int


def _too_many(deps: Deps, count: int) -> None:
    limit = deps.settings.max_recipients_per_campaign
    if count > limit:
        raise UnprocessableError(
            f"the campaign has {count} recipients after removing duplicates; at most {limit} are allowed",
            code="too_many_recipients",
            details=[{"field": "recipients", "count": count, "max": limit}],
        )


def check_audience(deps: Deps, tenant_id: str, rec: RecipientsSpec) -> Audience:
    """Check who a campaign goes to and count them (duplicates removed); the numbers are resolved at start."""
    typed: tuple[Any, ...] = rec.numbers or ()
    if len(typed) > MAX_TYPED_NUMBERS:
        raise UnprocessableError(
            f"{len(typed)} numbers were typed in; at most {MAX_TYPED_NUMBERS} are allowed (upload larger lists as CSV)",
            code="too_many_recipients",
            details=[{"field": "recipients.numbers", "count": len(typed), "max": MAX_TYPED_NUMBERS}],
        )
    check = check_numbers(typed)
    if check.invalid:
        shown = check.invalid[:100]
        raise UnprocessableError(
            f"{len(check.invalid)} recipient number(s) are not valid E.164 phone numbers",
            code="invalid_phone_number",
            details=[{"field": f"recipients.numbers.{i['index']}", **i} for i in shown],
        )
    if rec.phonebook is not None:
        if typed or rec.upload_id is not None:
            raise UnprocessableError(
                "a phonebook audience cannot be combined with numbers or an upload",
                code="invalid_recipients",
                details=[{"field": "recipients"}],
            )
        book = {"id": rec.phonebook.id, "number_type": rec.phonebook.number_type}
        try:
            entries, _ = _phonebook_entries(deps, tenant_id, book)
        except AudienceGoneError as exc:
            raise UnprocessableError(
                exc.message, code=exc.code, details=[{"field": "recipients.phonebook.id"}]
            ) from exc
        if not entries:
            raise UnprocessableError(
                f"no contact of phonebook {rec.phonebook.id!r} has a {rec.phonebook.number_type} number",
                code="no_recipients",
                details=[{"field": "recipients.phonebook.number_type"}],
            )
        _too_many(deps, len(entries))
        return Audience({"numbers": [], "upload_id": None, "phonebook": book}, len(entries))
    total = len(check.valid)
    if rec.upload_id is not None:
        upload = uploads.ready_upload(deps, tenant_id, rec.upload_id, uploads.CSV, "recipients.upload_id")
        distinct = upload.valid - upload.duplicates
        typed_only = set(check.valid)
        if typed_only:
            for number, _ in uploads.contacts(deps, tenant_id, rec.upload_id):
                typed_only.discard(number)
        total = distinct + len(typed_only)
    if total == 0:
        raise UnprocessableError(
            "the campaign has no recipients", code="no_recipients", details=[{"field": "recipients"}]
        )
    _too_many(deps, total)
    return Audience({"numbers": check.valid, "upload_id": rec.upload_id, "phonebook": None}, total)


def _phonebook_entries(
    deps: Deps, tenant_id: str, book: dict[str, Any]
) -> tuple[list[tuple[str, dict[str, str]]], dict[str, Any]]:
    try:
        found = phonebooks.audience(deps, tenant_id, str(book["id"]), str(book["number_type"]))
    except phonebooks.PhonebookMissingError as exc:
        raise AudienceGoneError("phonebook_not_found", f"no phonebook {book['id']!r} for this tenant") from exc
    seen: set[str] = set()
    entries = []
    for number, variables in found.entries:
        if number not in seen:
            seen.add(number)
            entries.append((number, variables))
    report = {
        "phonebook_contacts": found.contacts,
        "without_number_type": found.without_number_type,
        "duplicates": len(found.entries) - len(entries),
    }
    return entries, report


def resolve(deps: Deps, tenant_id: str, spec: Mapping[str, Any]) -> tuple[list[tuple[str, dict[str, str]]], dict]:
    """The campaign's recipients as of now: typed numbers first, then the upload's contacts (or the phonebook's)."""
    if spec.get("phonebook"):
        return _phonebook_entries(deps, tenant_id, spec["phonebook"])
    seen: set[str] = set()
    entries: list[tuple[str, dict[str, str]]] = []
    typed_at: dict[str, int] = {}
    for number in spec.get("numbers") or []:
        if number not in seen:
            seen.add(number)
            typed_at[number] = len(entries)
            entries.append((number, {}))
    duplicates = 0
    if spec.get("upload_id"):
        try:
            for number, variables in uploads.contacts(deps, tenant_id, spec["upload_id"]):
                if number in seen:
                    duplicates += 1
                    at = typed_at.pop(number, None)
                    if at is not None and variables:
                        entries[at] = (number, variables)  # typed and in the CSV: it keeps its CSV columns
                    continue
                seen.add(number)
                entries.append((number, variables))
        except BlobMissingError as exc:
            raise AudienceGoneError("upload_not_found", f"the upload {spec['upload_id']!r} is gone") from exc
    return entries, {"duplicates": duplicates}


def resolve_stream(
    deps: Deps, tenant_id: str, spec: Mapping[str, Any], limit: int
) -> tuple[Iterator[tuple[str, dict[str, str]]], dict[str, Any], int]:
    """The campaign's recipients as `resolve` gives them, streamed where that is safe: (the entries, the report, how
    many there are). An upload alone is read as its recipients are written (its processed list holds distinct valid
    contacts, as many as the upload counted), so the first chunk can go out before the rest of a large list is even
    read. Typed numbers beside an upload, a phonebook, or an upload counted beyond `limit` are resolved whole first
    (a typed number later found in the CSV takes its columns; the limit is judged on the real count)."""
    upload_id = spec.get("upload_id")
    upload = deps.uploads.get(tenant_id, str(upload_id)) if upload_id and not spec.get("phonebook") else None
    count = int(upload.valid or 0) - int(upload.duplicates or 0) if upload is not None else 0
    if upload is None or spec.get("numbers") or count > limit:
        entries, report = resolve(deps, tenant_id, spec)
        return iter(entries), report, len(entries)
    stream = uploads.contacts(deps, tenant_id, str(upload_id))
    try:
        first = next(stream, None)  # a gone list is found here, before anything is written
    except BlobMissingError as exc:
        raise AudienceGoneError("upload_not_found", f"the upload {upload_id!r} is gone") from exc
    if first is None:
        return iter(()), {"duplicates": 0}, 0
    return itertools.chain([first], stream), {"duplicates": 0}, count
