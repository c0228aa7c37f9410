"""WhatsApp message templates of a channel: synced from the provider, listed, read; webhooks keep their status.

The provider's listing is the truth: a sync replaces what the channel stores. Between syncs, Meta's
`message_template_status_update` webhook moves one template's status, and stops the campaigns sending a template
that becomes paused or disabled (services/webhooks.py `record_whatsapp`).
"""

from __future__ import annotations

from typing import Any

from chalicelib.domain.channels import Channel
from chalicelib.domain.errors import (
    ConcurrencyError,
    NotFoundError,
    ProviderUnavailableError,
    ServiceError,
    UnprocessableError,
)
from chalicelib.domain.model import utc_iso
from chalicelib.domain.templates import TEMPLATE_STATUSES, StoredTemplate, Template
from chalicelib.services.channels import get_channel
from chalicelib.services.deps import Deps
from chalicelib.services.logs import log
from chalicelib.services.providers import rules_of

# A sync answers the first page of what it stored (the rest: GET .../templates with its cursor).
SYNC_PAGE = 50
# A `?status=` listing reads pages of the repository until it has `limit` matches; at most this many reads per
# request (then it answers what it found, with a cursor to go on).
MAX_FILTER_READS = 20


def view(stored: StoredTemplate) -> dict[str, Any]:
    """A stored template as the API answers it."""
    t = stored.template
    return {
        "id": t.id,
        "name": t.name,
        "language": t.language,
        "category": t.category,
        "status": t.status,
        "body": t.body,
        "variables": list(t.variables),
        "parameter_format": t.parameter_format,
        "header": dict(t.header) if t.header is not None else None,
        "buttons": [dict(b) for b in t.buttons],
        "provider_status": t.provider_status or None,
        "reason": t.reason,
        "synced_at": stored.synced_at,
        "updated_at": stored.updated_at or stored.synced_at,
    }


def _template_channel(deps: Deps, tenant_id: str, channel_id: str) -> Channel:
    """The tenant's channel (404), which must be one whose provider has templates (422 templates_not_supported)."""
    channel = get_channel(deps, tenant_id, channel_id)
    if not rules_of(deps, channel).limits.templates:
        raise UnprocessableError(
            f"a channel of type {channel.type!r} has no message templates; only WhatsApp channels do",
            code="templates_not_supported",
            details=[{"channel_id": channel_id, "type": channel.type, "provider": channel.provider}],
        )
    return channel


def _listing(deps: Deps, channel: Channel) -> list[Template]:
    """The provider's whole listing of the channel's templates (4xx or 503 when the provider does not give it)."""
    creds = deps.secrets.get(channel.tenant_id, channel.channel_id)
    if creds is None:
        raise ConcurrencyError("the channel's credentials could not be read; try again")
    try:
        return list(deps.provider_for(channel, creds).templates())
    except ServiceError:
        raise  # the adapter's own answer: provider_refused (422) or provider_unavailable (503)
    except Exception as exc:  # noqa: BLE001 - any other failure of the provider call is the provider's, not a 500
        log.exception("template listing failed", extra={"channel_id": channel.channel_id})
        raise ProviderUnavailableError("the provider did not list the templates; try again later") from exc


def sync_templates(deps: Deps, tenant_id: str, channel_id: str) -> dict[str, Any]:
    """Pull every template of the channel's provider account, store them in place of the old ones, answer the first
    page and how many there are of each status."""
    channel = _template_channel(deps, tenant_id, channel_id)
    listed = _listing(deps, channel)
    now = utc_iso(deps.clock.utcnow()) or ""
    # A listing may name one id twice (pages that moved while read): the last word is kept.
    templates = list({t.id: t for t in listed}.values())
    deps.templates.replace_all(tenant_id, channel_id, templates, now)
    counts = dict.fromkeys(TEMPLATE_STATUSES, 0)
    for t in templates:
        if t.status in counts:  # always one of ours (the provider module maps its states); never a new key
            counts[t.status] += 1
    first = sorted(templates, key=lambda t: t.id)[:SYNC_PAGE]
    page = deps.templates.list(tenant_id, channel_id, SYNC_PAGE, None) if len(templates) > SYNC_PAGE else None
    log.info("templates synced", extra={"channel_id": channel_id, "count": len(templates)})
    return {
        "items": [view(StoredTemplate(tenant_id, channel_id, t, synced_at=now)) for t in first],
        "next_cursor": page.next_cursor if page is not None else None,
        "total": len(templates),
        "counts": counts,
        "synced_at": now,
    }


def list_templates(
    deps: Deps, tenant_id: str, channel_id: str, status: str | None, limit: int, cursor: str | None
) -> dict[str, Any]:
    """A page of the channel's stored templates, by id, optionally only those of one status."""
    _template_channel(deps, tenant_id, channel_id)
    if status is None:
        page = deps.templates.list(tenant_id, channel_id, limit, cursor)
        return {"items": [view(s) for s in page.items], "next_cursor": page.next_cursor}
    found: list[StoredTemplate] = []
    next_cursor = cursor
    for _ in range(MAX_FILTER_READS):
        # Read only as many as are still wanted, so the page's cursor is exactly after the last one answered.
        page = deps.templates.list(tenant_id, channel_id, limit - len(found), next_cursor)
        found += [s for s in page.items if s.template.status == status]
        next_cursor = page.next_cursor
        if len(found) >= limit or next_cursor is None:
            break
    return {"items": [view(s) for s in found], "next_cursor": next_cursor}


def get_template(deps: Deps, tenant_id: str, channel_id: str, template_id: str) -> dict[str, Any]:
    """One stored template of the channel, or 404."""
    _template_channel(deps, tenant_id, channel_id)
    stored = deps.templates.get(tenant_id, channel_id, template_id)
    if stored is None:
        raise NotFoundError("no such template on this channel (it lists synced templates: POST .../templates/sync)")
    return view(stored)
