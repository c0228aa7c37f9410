"""Phonebooks the PBX pushes whole: metadata in the table, the contacts in S3 as one object per version.

A PUT writes a new object `phonebooks/{tenant}/{phonebook}/{version}.json`, then points the item at it, then deletes
the object of the version it replaced: a reader that has the item finds its object, or (when a PUT or DELETE got in
between) reads the item again.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.errors import ConcurrencyError, InvalidRequestError, NotFoundError, UnprocessableError
from chalicelib.domain.model import utc_iso
from chalicelib.domain.objects import BlobMissingError
from chalicelib.domain.phone import invalid_reason
from chalicelib.domain.phonebooks import NUMBER_TYPES, Phonebook, PhonebookVersion, PutPhonebook, number_type_counts
from chalicelib.services.deps import Deps

# The PBX names its phonebooks: characters safe in a URL path segment, a DynamoDB key and an S3 key.
ID_RE = re.compile(r"[A-Za-z0-9._:~-]{1,128}")
ID_RULE = "1 to 128 characters of A-Z a-z 0-9 . _ : ~ -"
MAX_INVALID_DETAILS = 100
# One read of the item and its object, and one more when a PUT or DELETE removed the object in between.
MAX_READS = 2


class PhonebookMissingError(LookupError):
    """No such phonebook for this tenant (or it was deleted while being read)."""


@dataclass(frozen=True)
class PhonebookAudience:
    """A phonebook's numbers of one type, for a campaign."""

    contacts: int  # contacts in the phonebook
    without_number_type: int  # contacts that have no number of the requested type (left out)
    entries: list[tuple[str, dict[str, str]]]  # (number, {"name": ...} or {}) in phonebook order, not de-duplicated


def object_key(tenant_id: str, phonebook_id: str, version: str) -> str:
    """Where one version of a phonebook's contacts is kept."""
    return f"phonebooks/{tenant_id}/{phonebook_id}/{version}.json"


def valid_id(phonebook_id: object) -> bool:
    """True for an id a phonebook can have."""
    return isinstance(phonebook_id, str) and ID_RE.fullmatch(phonebook_id) is not None


def check_id(phonebook_id: object) -> None:
    """Refuse (400) an id the PBX may not give a phonebook."""
    if not valid_id(phonebook_id):
        raise InvalidRequestError(
            f"the phonebook id must be {ID_RULE}",
            details=[{"field": "phonebook_id", "message": f"must be {ID_RULE}", "type": "string_pattern_mismatch"}],
        )


def _check_type(number_type: str) -> None:
    if number_type not in NUMBER_TYPES:
        raise ValueError(f"unknown number type {number_type!r}")


def _check_numbers(command: PutPhonebook) -> None:
    """422 invalid_phone_number listing the first offenders when any number is not valid E.164."""
    invalid: list[dict[str, Any]] = []
    count = 0
    for index, contact in enumerate(command.contacts):
        for kind, number in contact.numbers.items():
            reason = invalid_reason(number)
            if reason is None:
                continue
            count += 1
            if len(invalid) < MAX_INVALID_DETAILS:
                invalid.append({"field": f"contacts.{index}.numbers.{kind}", "value": number, "reason": reason})
    if invalid:
        raise UnprocessableError(
            f"{count} number(s) are not valid E.164 phone numbers; nothing was stored",
            code="invalid_phone_number",
            details=invalid,
        )


def view(phonebook: Phonebook, contacts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A phonebook as the API answers it; with its contacts when given (a list item has none)."""
    out: dict[str, Any] = {
        "id": phonebook.phonebook_id,
        "name": phonebook.name,
        "contact_count": phonebook.contact_count,
        "number_types": {kind: phonebook.count_of(kind) for kind in NUMBER_TYPES},
        "created_at": phonebook.created_at,
        "updated_at": phonebook.updated_at,
    }
    if contacts is not None:
        out["contacts"] = contacts
    return out


def put_phonebook(deps: Deps, tenant_id: str, phonebook_id: str, command: PutPhonebook) -> tuple[dict[str, Any], bool]:
    """Create or replace a whole phonebook; the answer and whether it was created (else replaced)."""
    check_id(phonebook_id)
    _check_numbers(command)
    contacts = [contact.stored() for contact in command.contacts]
    now = utc_iso(deps.clock.utcnow()) or ""
    version_id = deps.ids.new("v")
    key = object_key(tenant_id, phonebook_id, version_id)
    data = json.dumps({"contacts": contacts}, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    deps.blobs.put_bytes(key, data, "application/json")
    version = PhonebookVersion(
        name=command.name,
        contact_count=len(contacts),
        number_types=number_type_counts(command.contacts),
        version=version_id,
        object_key=key,
    )
    try:
        old = deps.phonebooks.put(tenant_id, phonebook_id, version, now)
    except Exception:
        deps.blobs.delete(key)
        raise
    if old is not None and old.object_key and old.object_key != key:
        deps.blobs.delete(old.object_key)
    stored = Phonebook(
        tenant_id=tenant_id,
        phonebook_id=phonebook_id,
        name=version.name,
        contact_count=version.contact_count,
        number_types=version.number_types,
        version=version_id,
        object_key=key,
        created_at=old.created_at if old is not None else now,
        updated_at=now,
    )
    return view(stored, contacts), old is None


def _load(deps: Deps, tenant_id: str, phonebook_id: str) -> tuple[Phonebook, list[dict[str, Any]]]:
    """The phonebook's item and its contacts, read as one version; PhonebookMissingError when there is none."""
    if not valid_id(phonebook_id):
        raise PhonebookMissingError(phonebook_id)
    for _ in range(MAX_READS):
        item = deps.phonebooks.get(tenant_id, phonebook_id)
        if item is None:
            raise PhonebookMissingError(phonebook_id)
        try:
            data = deps.blobs.get_bytes(item.object_key)
        except BlobMissingError:
            continue  # a PUT replaced the version we read (and deleted its object), or a DELETE removed it
        contacts: list[dict[str, Any]] = json.loads(data)["contacts"]
        return item, contacts
    raise ConcurrencyError("the phonebook kept changing while it was read; try again")


def get_phonebook(deps: Deps, tenant_id: str, phonebook_id: str) -> dict[str, Any]:
    """One phonebook with its contacts, or 404."""
    try:
        item, contacts = _load(deps, tenant_id, phonebook_id)
    except PhonebookMissingError:
        raise NotFoundError("no such phonebook") from None
    return view(item, contacts)


def list_phonebooks(deps: Deps, tenant_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    """A page of phonebooks, by id, without their contacts."""
    page = deps.phonebooks.list(tenant_id, limit, cursor)
    return {"items": [view(item) for item in page.items], "next_cursor": page.next_cursor}


def delete_phonebook(deps: Deps, tenant_id: str, phonebook_id: str) -> None:
    """Delete a phonebook and its contacts (campaigns that name it find it missing when they start), or 404."""
    old = deps.phonebooks.delete(tenant_id, phonebook_id) if valid_id(phonebook_id) else None
    if old is None:
        raise NotFoundError("no such phonebook")
    if old.object_key:
        deps.blobs.delete(old.object_key)


def audience(deps: Deps, tenant_id: str, phonebook_id: str, number_type: str) -> PhonebookAudience:
    """The phonebook's numbers of `number_type` with each contact's name; PhonebookMissingError when there is none."""
    _check_type(number_type)
    _, contacts = _load(deps, tenant_id, phonebook_id)
    entries: list[tuple[str, dict[str, str]]] = []
    for contact in contacts:
        number = contact.get("numbers", {}).get(number_type)
        if number is not None:
            entries.append((number, {"name": contact["name"]} if contact.get("name") else {}))
    return PhonebookAudience(contacts=len(contacts), without_number_type=len(contacts) - len(entries), entries=entries)


def count_for(deps: Deps, tenant_id: str, phonebook_id: str, number_type: str) -> int | None:
    """How many contacts have a number of `number_type` (from the item, no S3 read); None when no such phonebook."""
    _check_type(number_type)
    item = deps.phonebooks.get(tenant_id, phonebook_id) if valid_id(phonebook_id) else None
    if item is None:
        return None
    return item.count_of(number_type)
