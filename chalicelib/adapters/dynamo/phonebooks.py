"""Phonebook metadata (the contacts are an S3 object per version).

    TENANT#{tid}   PHONEBOOK#{pid}   phonebook: name, contact_count, number_types, version, object_key

A PUT replaces the item whole and is never refused, so no write here is conditional: ALL_OLD tells each of two
racing writers which version it replaced (or deleted), so each removes exactly that version's object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.adapters.dynamo.table import Table, from_item, phonebook_sk, tenant_pk, to_item, to_values
from chalicelib.domain.phonebooks import Phonebook, PhonebookVersion


def phonebook_from_item(item: Mapping[str, Any]) -> Phonebook:
    """A phonebook item as a Phonebook."""
    return Phonebook(
        tenant_id=str(item["tenant_id"]),
        phonebook_id=str(item["phonebook_id"]),
        name=str(item["name"]),
        contact_count=int(item["contact_count"]),
        number_types={str(k): int(v) for k, v in (item.get("number_types") or {}).items()},
        version=str(item.get("version", "")),
        object_key=str(item.get("object_key", "")),
        created_at=str(item["created_at"]),
        updated_at=str(item["updated_at"]),
    )


@dataclass(frozen=True)
class PhonebookPage:
    """One page of a tenant's phonebooks."""

    items: list[Phonebook]
    next_cursor: str | None


class PhonebookRepository:
    """Phonebook items over the table."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def put(self, tenant_id: str, phonebook_id: str, version: PhonebookVersion, now: str) -> Phonebook | None:
        """Create or replace a phonebook's item with `version`; the phonebook it replaced, or None when it created it.

        One UpdateItem rather than a PutItem so that `created_at` is kept from the replaced item atomically.
        """
        values = {
            "name": version.name,
            "contact_count": version.contact_count,
            "number_types": dict(version.number_types),
            "version": version.version,
            "object_key": version.object_key,
            "type": "phonebook",
            "tenant_id": tenant_id,
            "phonebook_id": phonebook_id,
        }
        names = {f"#f{i}": k for i, k in enumerate(values)}
        sets = [f"#f{i} = :v{i}" for i in range(len(values))]
        sets += ["created_at = if_not_exists(created_at, :now)", "updated_at = :now"]
        out = self.table.db.update_item(
            TableName=self.table.name,
            Key=to_item({"pk": tenant_pk(tenant_id), "sk": phonebook_sk(phonebook_id)}),
            UpdateExpression="SET " + ", ".join(sets),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=to_values({**{f":v{i}": v for i, v in enumerate(values.values())}, ":now": now}),
            ReturnValues="ALL_OLD",
        )
        old = out.get("Attributes")
        return phonebook_from_item(from_item(old)) if old else None

    def get(self, tenant_id: str, phonebook_id: str) -> Phonebook | None:
        """A tenant's phonebook (its metadata), read consistently."""
        item = self.table.get(tenant_pk(tenant_id), phonebook_sk(phonebook_id))
        return phonebook_from_item(item) if item else None

    def list(self, tenant_id: str, limit: int, cursor: str | None) -> PhonebookPage:
        """A page of the tenant's phonebooks, by id."""
        page = self.table.page(tenant_pk(tenant_id), "PHONEBOOK#", limit=limit, cursor=cursor, forward=True)
        return PhonebookPage([phonebook_from_item(i) for i in page.items], page.next_cursor)

    def delete(self, tenant_id: str, phonebook_id: str) -> Phonebook | None:
        """Delete a phonebook's item; the phonebook deleted, or None when there was none."""
        out = self.table.db.delete_item(
            TableName=self.table.name,
            Key=to_item({"pk": tenant_pk(tenant_id), "sk": phonebook_sk(phonebook_id)}),
            ReturnValues="ALL_OLD",
        )
        old = out.get("Attributes")
        return phonebook_from_item(from_item(old)) if old else None
