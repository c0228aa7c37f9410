"""A fake of the Templates port."""

from __future__ import annotations

from collections.abc import Sequence

from chalicelib.domain.templates import StoredTemplate, Template, TemplateUpdate, updated
from tests.fakes.paging import FakePage, page


class FakeTemplates:
    """Each channel's templates in a dict."""

    def __init__(self) -> None:
        self.templates: dict[tuple[str, str, str], StoredTemplate] = {}

    def replace_all(self, tenant_id: str, channel_id: str, templates: Sequence[Template], now: str) -> None:
        """Store the provider's whole listing; the ones it no longer lists go."""
        for key in [k for k in self.templates if k[:2] == (tenant_id, channel_id)]:
            del self.templates[key]
        for t in templates:
            self.templates[(tenant_id, channel_id, t.id)] = StoredTemplate(tenant_id, channel_id, t, synced_at=now)

    def get(self, tenant_id: str, channel_id: str, template_id: str) -> StoredTemplate | None:
        """One stored template."""
        return self.templates.get((tenant_id, channel_id, template_id))

    def list(self, tenant_id: str, channel_id: str, limit: int, cursor: str | None) -> FakePage[StoredTemplate]:
        """A page of a channel's templates, by id."""
        mine = [s for k, s in self.templates.items() if k[:2] == (tenant_id, channel_id)]
        return page(mine, lambda s: s.template.id, f"TEMPLATE#{channel_id}#", limit, cursor)

    def apply_update(self, tenant_id: str, channel_id: str, update: TemplateUpdate, now: str) -> StoredTemplate | None:
        """Record a template's new state (None when the channel does not store it)."""
        old = self.templates.get((tenant_id, channel_id, update.template_id))
        if old is None:
            return None
        new = StoredTemplate(tenant_id, channel_id, updated(old.template, update), old.synced_at, updated_at=now)
        self.templates[(tenant_id, channel_id, update.template_id)] = new
        return new

    def delete_all(self, tenant_id: str, channel_id: str) -> None:
        """Remove a channel's templates."""
        for key in [k for k in self.templates if k[:2] == (tenant_id, channel_id)]:
            del self.templates[key]
