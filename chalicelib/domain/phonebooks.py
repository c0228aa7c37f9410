"""Phonebooks the PBX pushes whole: the stored metadata, contacts, and the command that replaces one. No I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# The number types a contact may have, in the order the API shows them.
NUMBER_TYPES: tuple[str, ...] = ("business", "business2", "mobile", "mobile2", "home", "home2", "other")


@dataclass(frozen=True)
class Contact:
    """One contact: an optional name and its numbers by type (only the types it has)."""

    name: str | None
    numbers: Mapping[str, str]

    def stored(self) -> dict[str, object]:
        """The contact as stored and answered: `name` only when given, `numbers` only the types given."""
        out: dict[str, object] = {} if self.name is None else {"name": self.name}
        out["numbers"] = dict(self.numbers)
        return out


@dataclass(frozen=True)
class PutPhonebook:
    """Command: create or replace a whole phonebook."""

    name: str
    contacts: tuple[Contact, ...]


@dataclass(frozen=True)
class Phonebook:
    """A phonebook's metadata as stored; its contacts are one object per version (`object_key`)."""

    tenant_id: str
    phonebook_id: str
    name: str
    contact_count: int
    number_types: Mapping[str, int]
    version: str
    object_key: str
    created_at: str
    updated_at: str

    def count_of(self, number_type: str) -> int:
        """How many contacts have a number of `number_type`."""
        return int(self.number_types.get(number_type, 0))


@dataclass(frozen=True)
class PhonebookVersion:
    """What one PUT writes: the fields of the new version (the repository stamps the times)."""

    name: str
    contact_count: int
    number_types: Mapping[str, int] = field(default_factory=dict)
    version: str = ""
    object_key: str = ""


def number_type_counts(contacts: list[Contact] | tuple[Contact, ...]) -> dict[str, int]:
    """How many contacts have a number of each type."""
    counts = dict.fromkeys(NUMBER_TYPES, 0)
    for contact in contacts:
        for kind in contact.numbers:
            counts[kind] += 1
    return counts
