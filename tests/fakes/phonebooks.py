"""A fake of the Phonebooks port."""

from __future__ import annotations

from chalicelib.domain.phonebooks import Phonebook, PhonebookVersion
from tests.fakes.paging import FakePage, page


class FakePhonebooks:
    """Phonebook metadata in a dict."""

    def __init__(self) -> None:
        self.phonebooks: dict[tuple[str, str], Phonebook] = {}

    def put(self, tenant_id: str, phonebook_id: str, version: PhonebookVersion, now: str) -> Phonebook | None:
        """Create or replace (keeping created_at); the phonebook replaced, or None."""
        old = self.phonebooks.get((tenant_id, phonebook_id))
        self.phonebooks[(tenant_id, phonebook_id)] = Phonebook(
            tenant_id=tenant_id,
            phonebook_id=phonebook_id,
            name=version.name,
            contact_count=version.contact_count,
            number_types=dict(version.number_types),
            version=version.version,
            object_key=version.object_key,
            created_at=old.created_at if old is not None else now,
            updated_at=now,
        )
        return old

    def get(self, tenant_id: str, phonebook_id: str) -> Phonebook | None:
        """A tenant's phonebook."""
        return self.phonebooks.get((tenant_id, phonebook_id))

    def list(self, tenant_id: str, limit: int, cursor: str | None) -> FakePage[Phonebook]:
        """A page of the tenant's phonebooks, by id."""
        mine = [p for (tid, _), p in self.phonebooks.items() if tid == tenant_id]
        return page(mine, lambda p: p.phonebook_id, "PHONEBOOK#", limit, cursor)

    def delete(self, tenant_id: str, phonebook_id: str) -> Phonebook | None:
        """Delete; the phonebook deleted, or None."""
        return self.phonebooks.pop((tenant_id, phonebook_id), None)
