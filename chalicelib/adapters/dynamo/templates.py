"""A channel's message templates, as last synced from the provider.

    TENANT#{tid}   TEMPLATE#{chid}#{template id}   template: the provider's listing of it, synced_at, updated_at

A sync replaces a channel's templates whole (a batch of puts, then deletes of those the provider no longer lists):
two syncs at once both write the provider's listing, so no write here needs a condition except the status update,
which must not bring back a template a sync removed meanwhile.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from chalicelib.adapters.dynamo.table import ConditionFailed, Page, Table, tenant_pk
from chalicelib.domain.templates import StoredTemplate, Template, TemplatePage, TemplateUpdate, template_from
from chalicelib.domain.templates import template_values as plain_values

# Named condition part: an update applies to a template that is stored (a sync may have removed it).
TEMPLATE_EXISTS = "attribute_exists(pk)"


def template_prefix(channel_id: str) -> str:
    """Sort-key prefix of a channel's templates in its tenant's partition."""
    return f"TEMPLATE#{channel_id}#"


def stored_from_item(item: Mapping[str, Any]) -> StoredTemplate:
    """A template item as a StoredTemplate."""
    return StoredTemplate(
        tenant_id=str(item["tenant_id"]),
        channel_id=str(item["channel_id"]),
        template=template_from(item["template"]),
        synced_at=str(item["synced_at"]),
        updated_at=str(item["updated_at"]) if item.get("updated_at") else None,
    )


class TemplateRepository:
    """Template items over the table."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def _key(self, tenant_id: str, channel_id: str, template_id: str) -> dict[str, str]:
        return {"pk": tenant_pk(tenant_id), "sk": template_prefix(channel_id) + template_id}

    def replace_all(self, tenant_id: str, channel_id: str, templates: Sequence[Template], now: str) -> None:
        """Store the provider's whole listing; the templates it no longer lists are removed."""
        listed = {t.id for t in templates}
        self.table.batch_put(
            {
                **self._key(tenant_id, channel_id, t.id),
                "type": "template",
                "tenant_id": tenant_id,
                "channel_id": channel_id,
                "template": plain_values(t),
                "synced_at": now,
            }
            for t in templates
        )
        gone = [
            {"pk": item["pk"], "sk": item["sk"]}
            for item in self.table.query_all(tenant_pk(tenant_id), template_prefix(channel_id))
            if str(item["sk"])[len(template_prefix(channel_id)) :] not in listed
        ]
        self.table.batch_delete(gone)

    def get(self, tenant_id: str, channel_id: str, template_id: str) -> StoredTemplate | None:
        """One stored template of a channel."""
        item = self.table.get(tenant_pk(tenant_id), template_prefix(channel_id) + template_id)
        return stored_from_item(item) if item else None

    def list(self, tenant_id: str, channel_id: str, limit: int, cursor: str | None) -> TemplatePage:
        """A page of a channel's templates, by id."""
        found: Page = self.table.page(
            tenant_pk(tenant_id), template_prefix(channel_id), limit=limit, cursor=cursor, forward=True
        )
        return TemplatePage([stored_from_item(i) for i in found.items], found.next_cursor)

    def apply_update(self, tenant_id: str, channel_id: str, update: TemplateUpdate, now: str) -> StoredTemplate | None:
        """Record a template's new state; None when the channel does not store it (never creates one)."""
        names = {"#t": "template", "#s": "status", "#p": "provider_status", "#r": "reason"}
        values: dict[str, Any] = {":s": update.status, ":p": update.provider_status, ":now": now}
        sets = ["#t.#s = :s", "#t.#p = :p", "updated_at = :now"]
        if update.reason is not None:
            values[":r"] = update.reason
            sets.append("#t.#r = :r")
            expression = "SET " + ", ".join(sets)
        else:
            expression = "SET " + ", ".join(sets) + " REMOVE #t.#r"
        try:
            new = self.table.update(
                self._key(tenant_id, channel_id, update.template_id),
                expression,
                TEMPLATE_EXISTS,
                values,
                names,
                want_new=True,
            )
        except ConditionFailed:
            return None
        return stored_from_item(new) if new else None

    def delete_all(self, tenant_id: str, channel_id: str) -> None:
        """Remove every template of a channel."""
        self.table.batch_delete(
            {"pk": item["pk"], "sk": item["sk"]}
            for item in self.table.query_all(tenant_pk(tenant_id), template_prefix(channel_id))
        )
